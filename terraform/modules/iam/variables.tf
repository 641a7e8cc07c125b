variable "name_prefix" {
  description = "Prefix of every IAM name this module creates (usually the team slug)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9+=,.@_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 2-41 IAM-name characters starting with a letter."
  }
}

variable "create_permissions_boundary" {
  description = "Create the team permissions boundary policy. When false, permissions_boundary_arn must be set."
  type        = bool
  default     = true
}

variable "permissions_boundary_arn" {
  description = "An existing permissions boundary to attach to every role (used when create_permissions_boundary is false)."
  type        = string
  default     = null
}

variable "boundary_allowed_services" {
  description = "Service prefixes the boundary lets roles use at all (everything else is out of reach)."
  type        = list(string)
  default     = ["s3", "kms", "logs", "cloudwatch", "ssm", "ecr", "eks", "ecs", "lambda", "sagemaker", "bedrock", "glue", "athena", "sts", "ec2", "elasticloadbalancing", "autoscaling", "sqs", "events", "xray", "secretsmanager"]

  validation {
    condition     = alltrue([for s in var.boundary_allowed_services : can(regex("^[a-z0-9-]+$", s))]) && !contains(var.boundary_allowed_services, "organizations")
    error_message = "Service prefixes are lowercase (e.g. s3, bedrock); organizations is never allowed."
  }
}

variable "roles" {
  description = <<-EOT
    Roles to create, by short name. trust: AWS principals (ARNs) and/or an OIDC provider (IRSA: issuer host path and
    subjects such as system:serviceaccount:<namespace>:<sa>, or GitHub: token.actions.githubusercontent.com and
    repo:<org>/<repo>:environment:<env>). Every role gets the permissions boundary.
  EOT
  type = map(object({
    description          = optional(string, "")
    aws_principals       = optional(list(string), [])
    service_principals   = optional(list(string), [])
    max_session_duration = optional(number, 3600)
    oidc = optional(object({
      provider_arn = string
      issuer       = string
      subjects     = list(string)
      audience     = optional(string, "sts.amazonaws.com")
    }))
    managed_policy_arns = optional(list(string), [])
    inline_policy_json  = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for k, r in var.roles : length(r.aws_principals) + length(r.service_principals) > 0 || r.oidc != null])
    error_message = "Every role needs at least one trusted principal (aws_principals, service_principals or oidc)."
  }

  validation {
    condition     = alltrue([for k, r in var.roles : r.oidc == null || alltrue([for s in try(r.oidc.subjects, []) : !can(regex("^\\*$", s))])])
    error_message = "An OIDC trust must name its subjects; a bare '*' would let any workload assume the role."
  }

  validation {
    condition     = alltrue([for k, r in var.roles : r.max_session_duration >= 3600 && r.max_session_duration <= 43200])
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
