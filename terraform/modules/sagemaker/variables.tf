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
  description = "Inference container image (ECR URI), e.g. an AWS deep learning container for LLM serving."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[a-z0-9._/-]+[:@][A-Za-z0-9._:-]+$", var.image_uri))
    error_message = "image_uri must be an ECR image URI with a tag or digest (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)."
  }
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

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "The endpoint runs VPC-only: give at least one private subnet."
  }
}

variable "create_security_group" {
  description = "Create the endpoint's own security group in vpc_id: no inbound, HTTPS out to vpc_cidr_block and the S3 gateway only."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "VPC of the subnets (for the own security group)."
  type        = string
  default     = null

  validation {
    condition     = !var.create_security_group || var.vpc_id != null
    error_message = "vpc_id is required when create_security_group is true."
  }
}

variable "vpc_cidr_block" {
  description = "CIDR the own security group may reach on 443 (the VPC, where the interface endpoints are)."
  type        = string
  default     = "10.0.0.0/8"

  validation {
    condition     = can(cidrhost(var.vpc_cidr_block, 0))
    error_message = "vpc_cidr_block must be an IPv4 CIDR."
  }
}

variable "security_group_ids" {
  description = "Extra security groups of the model containers (besides the module's own when create_security_group is true)."
  type        = list(string)
  default     = []
}

variable "model_bucket_arn" {
  description = "Bucket holding the model artifacts (read access for the execution role)."
  type        = string
  default     = null
}

variable "bucket_kms_key_arns" {
  description = "KMS keys of the model and data capture buckets (decrypt and data key access for the execution role)."
  type        = list(string)
  default     = []
}

variable "data_capture_s3_uri" {
  description = "s3:// prefix receiving captured requests and responses (model monitoring). Null disables data capture."
  type        = string
  default     = null

  validation {
    condition     = var.data_capture_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", var.data_capture_s3_uri))
    error_message = "data_capture_s3_uri must be an s3:// URI."
  }
}

variable "data_capture_sampling_percentage" {
  description = "Share of requests captured, in percent."
  type        = number
  default     = 20

  validation {
    condition     = var.data_capture_sampling_percentage >= 1 && var.data_capture_sampling_percentage <= 100
    error_message = "data_capture_sampling_percentage must be between 1 and 100."
  }
}

variable "autoscaling" {
  description = "Target tracking on SageMakerVariantInvocationsPerInstance. Null keeps initial_instance_count fixed."
  type = object({
    min_capacity                    = optional(number, 1)
    max_capacity                    = optional(number, 2)
    target_invocations_per_instance = optional(number, 10)
    scale_in_cooldown               = optional(number, 600)
    scale_out_cooldown              = optional(number, 120)
  })
  default = null

  validation {
    condition     = var.autoscaling == null || try(var.autoscaling.min_capacity >= 1 && var.autoscaling.min_capacity <= var.autoscaling.max_capacity && var.autoscaling.max_capacity <= 20, false)
    error_message = "autoscaling needs 1 <= min_capacity <= max_capacity <= 20."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the execution role (the vended CI role may only create roles that carry it)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
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
