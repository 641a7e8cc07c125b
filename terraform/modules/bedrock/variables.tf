variable "name" {
  description = "Prefix of the guardrail, log group and policy names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits and hyphens."
  }
}

variable "allowed_model_ids" {
  description = "Foundation model IDs the invoke policy allows (e.g. anthropic.claude-3-5-sonnet-20240620-v1:0)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.allowed_model_ids : can(regex("^[a-z0-9-]+\\.[a-zA-Z0-9.:-]+$", m))])
    error_message = "allowed_model_ids must be Bedrock model IDs of the form <provider>.<model>[:<version>]."
  }
}

variable "inference_profile_ids" {
  description = "Cross-region inference profile IDs the invoke policy allows (e.g. us.anthropic.claude-3-5-sonnet-20240620-v1:0)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.inference_profile_ids : can(regex("^(us|eu|apac|us-gov)\\.[a-z0-9-]+\\.[a-zA-Z0-9.:-]+$", p))])
    error_message = "inference_profile_ids must be system inference profile IDs of the form <geo>.<provider>.<model>[:<version>]."
  }
}

variable "knowledge_base_arns" {
  description = "Knowledge bases the invoke policy lets callers query (bedrock:Retrieve, bedrock:RetrieveAndGenerate)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.knowledge_base_arns : can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:knowledge-base/[A-Za-z0-9]+$", a))])
    error_message = "knowledge_base_arns must be Bedrock knowledge base ARNs."
  }
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

variable "invocation_logging" {
  description = "Log model invocations (prompts and responses) to CloudWatch Logs."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the invocation log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "content_filter_strength" {
  description = "Strength of the guardrail's content filters (hate, insults, sexual, violence, misconduct, prompt attack)."
  type        = string
  default     = "HIGH"

  validation {
    condition     = contains(["NONE", "LOW", "MEDIUM", "HIGH"], var.content_filter_strength)
    error_message = "content_filter_strength must be NONE, LOW, MEDIUM or HIGH."
  }
}

variable "denied_topics" {
  description = "Topics the guardrail refuses, by name: a definition and example phrases."
  type = map(object({
    definition = string
    examples   = optional(list(string), [])
  }))
  default = {}
}

variable "pii_action" {
  description = "What the guardrail does with common PII in prompts and responses."
  type        = string
  default     = "ANONYMIZE"

  validation {
    condition     = contains(["BLOCK", "ANONYMIZE"], var.pii_action)
    error_message = "pii_action must be BLOCK or ANONYMIZE."
  }
}

variable "require_guardrail" {
  description = "The invoke policy only allows calls that name this module's guardrail."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key for the guardrail and the log group. Null creates one."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
