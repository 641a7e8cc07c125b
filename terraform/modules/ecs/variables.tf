variable "cluster_name" {
  description = "Name of the ECS cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.cluster_name))
    error_message = "cluster_name must be 1-255 letters, digits, hyphens and underscores."
  }
}

variable "container_insights" {
  description = "Container Insights level."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced", "disabled"], var.container_insights)
    error_message = "container_insights must be enabled, enhanced or disabled."
  }
}

variable "enable_gpu_capacity" {
  description = "Add an EC2 Auto Scaling capacity provider of GPU instances (ECS GPU-optimized AMI) for model serving."
  type        = bool
  default     = false
}

variable "gpu_instance_type" {
  description = "Instance type of the GPU capacity provider; must be in the team's GPU tier (checked by the pipeline)."
  type        = string
  default     = "g5.xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.gpu_instance_type))
    error_message = "gpu_instance_type must be an EC2 instance type."
  }
}

variable "gpu_min_size" {
  description = "Minimum GPU instances."
  type        = number
  default     = 0
}

variable "gpu_max_size" {
  description = "Maximum GPU instances."
  type        = number
  default     = 2

  validation {
    condition     = var.gpu_max_size >= 1 && var.gpu_max_size <= 100
    error_message = "gpu_max_size must be between 1 and 100."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the GPU instances."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the GPU instances."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the IAM roles this module creates (the vended CI role may only create roles that carry it)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}
