variable "vpc_cidrs" {
  description = "VPC CIDR per region (non-overlapping, so regions and stages can be peered later)."
  type        = map(string)
  default = {
    us-east-1    = "10.0.0.0/16"
    us-west-2    = "10.1.0.0/16"
    eu-west-1    = "10.2.0.0/16"
    eu-central-1 = "10.3.0.0/16"
  }

  validation {
    condition     = alltrue([for r in ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"] : can(cidrhost(var.vpc_cidrs[r], 0))])
    error_message = "vpc_cidrs needs a CIDR for each allowed region."
  }
}

variable "az_count" {
  description = "Availability zones per VPC."
  type        = number
  default     = 2
}

variable "enable_bedrock_runtime_endpoint" {
  description = "Add the bedrock-runtime interface endpoint."
  type        = bool
  default     = false
}

variable "enable_sagemaker_runtime_endpoint" {
  description = "Add the sagemaker.runtime interface endpoint."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Retention of the flow log groups."
  type        = number
  default     = 365
}
