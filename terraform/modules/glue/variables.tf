variable "database_name" {
  description = "Glue Data Catalog database name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.database_name))
    error_message = "database_name must be lowercase letters, digits and underscores (Athena-compatible)."
  }
}

variable "description" {
  description = "Description of the database."
  type        = string
  default     = ""
}

variable "crawler_s3_paths" {
  description = "S3 URLs the crawler catalogs (e.g. s3://bucket/datasets/). Empty creates no crawler."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.crawler_s3_paths : can(regex("^s3://[a-z0-9.-]+(/.*)?$", p))])
    error_message = "crawler_s3_paths must be s3:// URLs."
  }
}

variable "crawler_schedule" {
  description = "Cron schedule of the crawler (Glue cron syntax); null runs it on demand only."
  type        = string
  default     = null

  validation {
    condition     = var.crawler_schedule == null || can(regex("^cron\\(.+\\)$", var.crawler_schedule))
    error_message = "crawler_schedule must look like cron(0 3 * * ? *)."
  }
}

variable "data_bucket_arns" {
  description = "Buckets the crawler may read."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key for the crawler's logs and bookmarks. Null creates one."
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
