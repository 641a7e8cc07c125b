variable "team" {
  description = "Team slug (as in landing_zone/layout.yaml)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.team))
    error_message = "team must be a slug: lowercase letters, digits and hyphens, 3-40 characters."
  }
}

variable "stage" {
  description = "Deployment stage."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.stage)
    error_message = "stage must be staging or production."
  }
}

variable "cost_center" {
  description = "Cost center charged for the account."
  type        = string

  validation {
    condition     = length(trimspace(var.cost_center)) > 0
    error_message = "cost_center must not be empty."
  }
}

variable "gpu_tier" {
  description = "GPU tier granted to the team."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "inference", "training"], var.gpu_tier)
    error_message = "gpu_tier must be none, inference or training."
  }
}

variable "regions" {
  description = "Regions the team may use."
  type        = list(string)
  default     = ["us-east-1"]

  validation {
    condition     = length(var.regions) > 0 && alltrue([for r in var.regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", r))])
    error_message = "regions must be a non-empty list of AWS region names."
  }
}

variable "log_retention_days" {
  description = "Retention of the team's application log group (a CloudWatch Logs retention value)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ... 3653)."
  }
}

variable "parameter_prefix" {
  description = "SSM path under which the account's platform metadata is published."
  type        = string
  default     = "/platform"

  validation {
    condition     = can(regex("^/[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$", var.parameter_prefix))
    error_message = "parameter_prefix must be an absolute SSM path without a trailing slash."
  }
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
