variable "log_retention_days" {
  description = "Retention of the team's application log group."
  type        = number
  default     = 365
}

variable "artifacts_noncurrent_days" {
  description = "Days non-current artifact versions are kept."
  type        = number
  default     = 30
}
