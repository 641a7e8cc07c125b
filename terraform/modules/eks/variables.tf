variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and use letters, digits and hyphens (max 100)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.(3[1-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be an EKS-supported minor version (1.31 or later), such as 1.33."
  }
}

variable "network_name" {
  description = "Name of a VPC made by the networking module (tag vend:network); used when vpc_id is null."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the cluster. Null looks the VPC and its private subnets up by network_name."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets for the control plane ENIs and the nodes (used with vpc_id)."
  type        = list(string)
  default     = []
}

variable "endpoint_public_access" {
  description = "Expose the API server endpoint publicly. The platform keeps it private."
  type        = bool
  default     = false

  validation {
    condition     = var.endpoint_public_access == false
    error_message = "The API server endpoint stays private; reach it through the VPC."
  }
}

variable "enabled_log_types" {
  description = "Control plane log types sent to CloudWatch Logs."
  type        = list(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  validation {
    condition     = alltrue([for t in var.enabled_log_types : contains(["api", "audit", "authenticator", "controllerManager", "scheduler"], t)])
    error_message = "enabled_log_types may contain api, audit, authenticator, controllerManager and scheduler."
  }
}

variable "log_retention_days" {
  description = "Retention of the control plane log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "node_groups" {
  description = <<-EOT
    Managed node groups by name. gpu = true selects the NVIDIA AMI and taints the nodes (nvidia.com/gpu=true:NoSchedule)
    so only pods that tolerate it land there. The pipeline's policy stage checks instance_types against the team's GPU tier.
  EOT
  type = map(object({
    instance_types = list(string)
    min_size       = optional(number, 1)
    max_size       = optional(number, 3)
    desired_size   = optional(number, 1)
    capacity_type  = optional(string, "ON_DEMAND")
    gpu            = optional(bool, false)
    disk_size      = optional(number, 100)
    labels         = optional(map(string), {})
  }))
  default = {
    system = { instance_types = ["m6i.large"], min_size = 2, max_size = 4, desired_size = 2 }
  }

  validation {
    condition     = alltrue([for k, g in var.node_groups : contains(["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"], g.capacity_type)])
    error_message = "capacity_type must be ON_DEMAND, SPOT or CAPACITY_BLOCK."
  }

  validation {
    condition     = alltrue([for k, g in var.node_groups : g.min_size >= 0 && g.min_size <= g.desired_size && g.desired_size <= g.max_size && g.max_size >= 1])
    error_message = "Each node group needs 0 <= min_size <= desired_size <= max_size and max_size >= 1."
  }

  validation {
    condition     = alltrue([for k, g in var.node_groups : length(g.instance_types) > 0 && alltrue([for t in g.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])])
    error_message = "instance_types must be EC2 instance type names such as m6i.large or g5.2xlarge."
  }
}

variable "enable_karpenter" {
  description = "Create what Karpenter needs: discovery tags, the controller's IRSA role and the interruption queue."
  type        = bool
  default     = true
}

variable "karpenter_namespace" {
  description = "Namespace of the Karpenter controller service account."
  type        = string
  default     = "kube-system"
}

variable "oidc_thumbprints" {
  description = "Thumbprints for the IRSA OIDC provider. Empty lets IAM use its trusted root CAs for the EKS issuer."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
