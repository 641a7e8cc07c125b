# Inputs every stack takes; the vending workflow passes them (PipelineSpec.variables).

variable "account_id" {
  description = "The vended account this stack may touch (the provider's allowed_account_ids)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "team" {
  description = "Team slug (landing_zone/layout.yaml)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.team))
    error_message = "team must be a slug: lowercase letters, digits and hyphens, 3-40 characters."
  }
}

variable "stage" {
  description = "Deployment stage; must match the stage folder."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.stage)
    error_message = "stage must be staging or production."
  }
}

variable "cost_center" {
  description = "Cost center for the cost-center tag."
  type        = string

  validation {
    condition     = length(trimspace(var.cost_center)) > 0
    error_message = "cost_center must not be empty."
  }
}

variable "gpu_tier" {
  description = "GPU tier of the team (none, inference or training)."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "inference", "training"], var.gpu_tier)
    error_message = "gpu_tier must be none, inference or training."
  }
}

variable "regions" {
  description = "Regions of the account; the first is the home region."
  type        = list(string)
  default     = ["us-east-1"]

  validation {
    condition     = length(var.regions) > 0 && alltrue([for r in var.regions : contains(["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"], r)])
    error_message = "regions must be a non-empty subset of the organization's allow-list (us-east-1, us-west-2, eu-west-1, eu-central-1)."
  }
}

variable "s3_use_path_style" {
  description = "Path-style S3 addressing; only for an emulator endpoint (the runner sets TF_VAR_s3_use_path_style there)."
  type        = bool
  default     = false
}

variable "permissions_boundary_arn" {
  description = "Boundary every IAM role of the stack carries: the CI role may only create roles with it. Null: the account's VendingCIBoundary (made by the vending bootstrap)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}
