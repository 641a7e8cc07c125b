variable "name" {
  description = "Name of the model, endpoint configuration and endpoint."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,40}$", var.name))
    error_message = "name must be letters, digits and hyphens (max 41), as SageMaker requires."
  }
}

variable "gpu_tier" {
  description = "The team's GPU tier; instance types outside it are refused before any API call."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "inference", "training"], var.gpu_tier)
    error_message = "gpu_tier must be none, inference or training."
  }
}

variable "image_uri" {
  description = "Inference container image (ECR URI)."
  type        = string
}

variable "model_data_url" {
  description = "S3 URL of the model artifacts (null for images that bundle the model)."
  type        = string
  default     = null

  validation {
    condition     = var.model_data_url == null || can(regex("^s3://", var.model_data_url))
    error_message = "model_data_url must be an s3:// URL."
  }
}

variable "instance_type" {
  description = "Instance type of the production variant (ml.*)."
  type        = string
  default     = "ml.m5.xlarge"

  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be a SageMaker instance type such as ml.g5.2xlarge."
  }
}

variable "initial_instance_count" {
  description = "Instances behind the endpoint."
  type        = number
  default     = 1

  validation {
    condition     = var.initial_instance_count >= 1 && var.initial_instance_count <= 20
    error_message = "initial_instance_count must be between 1 and 20."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the model containers."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the model containers."
  type        = list(string)
}

variable "model_bucket_arn" {
  description = "Bucket holding the model artifacts (read access for the execution role)."
  type        = string
  default     = null
}

variable "create_endpoint" {
  description = "Create the endpoint as well as its configuration."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key for the endpoint's storage volumes. Null creates one."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
