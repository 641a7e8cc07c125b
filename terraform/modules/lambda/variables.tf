variable "function_name" {
  description = "Name of the function."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-_]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens and underscores."
  }
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13", "nodejs20.x", "nodejs22.x", "java21", "provided.al2023"], var.runtime)
    error_message = "runtime must be a supported, non-deprecated runtime (python3.11-3.13, nodejs20.x/22.x, java21, provided.al2023)."
  }
}

variable "handler" {
  description = "Entry point (module.function for Python)."
  type        = string
  default     = "app.handler"
}

variable "s3_bucket" {
  description = "Bucket holding the deployment package."
  type        = string
}

variable "s3_key" {
  description = "Key of the deployment package (zip)."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (caps spend and protects downstream model endpoints)."
  type        = number
  default     = 10
}

variable "environment" {
  description = "Environment variables (encrypted with the function's KMS key)."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Private subnets of the function."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the function."
  type        = list(string)
}

variable "policy_json" {
  description = "Inline policy of the execution role (beyond logs, VPC access and the dead-letter queue)."
  type        = string
  default     = null
}

variable "code_signing_config_arn" {
  description = "Code signing configuration (recommended for production)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "kms_key_arn" {
  description = "KMS key for environment variables, logs and the dead-letter queue. Null creates one."
  type        = string
  default     = null
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
