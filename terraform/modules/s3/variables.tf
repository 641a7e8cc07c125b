variable "name" {
  description = "Bucket name (globally unique, 3-63 lowercase characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name)) && !can(regex("\\.\\.|^xn--|-s3alias$", var.name))
    error_message = "Bucket names are 3-63 lowercase letters, digits, dots and hyphens, without '..', 'xn--' or '-s3alias'."
  }
}

variable "kms_key_arn" {
  description = "KMS key for default encryption. Null creates a dedicated key with rotation enabled."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key or alias ARN."
  }
}

variable "versioning" {
  description = "Keep object versions (required for Terraform state and for data that must be recoverable)."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which non-current object versions are deleted."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650
    error_message = "noncurrent_version_expiration_days must be between 1 and 3650."
  }
}

variable "access_log_bucket" {
  description = "Bucket receiving server access logs. Null disables access logging."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow Terraform to delete a non-empty bucket (only for throwaway environments)."
  type        = bool
  default     = false
}

variable "policy_statements" {
  description = "Extra bucket policy statements (IAM JSON statement objects), merged after the TLS-only deny. Public principals are rejected by the pipeline's policy stage."
  type        = any
  default     = []
}

variable "tags" {
  description = "Tags merged onto every resource (cost tags come from the provider's default_tags)."
  type        = map(string)
  default     = {}
}
