variable "vpc_cidr" {
  description = "CIDR of this stack's VPC: its slot of the team's block (landing_zone/layout.yaml network.allocations)."
  type        = string
}

variable "az_count" {
  description = "Availability zones of the VPC."
  type        = number
  default     = 2
}

variable "enable_nat_gateway" {
  description = "Internet egress through a NAT gateway (off: AWS APIs through the VPC endpoints only)."
  type        = bool
  default     = false
}

variable "image_uri" {
  description = "Inference container image (ECR URI with tag or digest)."
  type        = string
}

variable "model_key" {
  description = "Key of the model artefact (model.tar.gz) in the stack's model bucket."
  type        = string
  default     = "models/llm/model.tar.gz"
}

variable "instance_type" {
  description = "SageMaker instance type; must be in the team's GPU tier."
  type        = string
}

variable "create_endpoint" {
  description = "Create the endpoint (the model artefact must be uploaded first); false keeps the model and endpoint configuration."
  type        = bool
  default     = false
}

variable "autoscaling" {
  description = "Target tracking on invocations per instance (see modules/sagemaker)."
  type = object({
    min_capacity                    = optional(number, 1)
    max_capacity                    = optional(number, 2)
    target_invocations_per_instance = optional(number, 10)
  })
  default = {}
}
