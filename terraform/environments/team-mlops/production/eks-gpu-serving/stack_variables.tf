variable "vpc_cidr" {
  description = "CIDR of this stack's VPC: its slot of the team's block (landing_zone/layout.yaml network.allocations)."
  type        = string
}

variable "az_count" {
  description = "Availability zones of the VPC."
  type        = number
  default     = 3
}

variable "enable_nat_gateway" {
  description = "Internet egress through a NAT gateway (off: AWS APIs through the VPC endpoints only)."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "Kubernetes minor version."
  type        = string
  default     = "1.33"
}

variable "metadata_hop_limit" {
  description = "IMDSv2 hop limit of the nodes (1: pods use Pod Identity, not the node role)."
  type        = number
  default     = 1
}

variable "node_groups" {
  description = "Managed node groups (see modules/eks); instance types must be in the team's GPU tier."
  type = map(object({
    instance_types = list(string)
    min_size       = optional(number, 1)
    max_size       = optional(number, 3)
    desired_size   = optional(number, 1)
    capacity_type  = optional(string, "ON_DEMAND")
    disk_size      = optional(number, 100)
    efa            = optional(bool, false)
    labels         = optional(map(string), {})
  }))
}

variable "access_entries" {
  description = "Cluster access for IAM roles (see modules/eks)."
  type = map(object({
    principal_arn = string
    policy        = optional(string, "AmazonEKSViewPolicy")
    namespaces    = optional(list(string), [])
  }))
  default = {}
}

variable "pod_identities" {
  description = "Pod Identity roles for the team's service accounts (see modules/eks)."
  type = map(object({
    namespace          = string
    service_account    = string
    policy_arns        = optional(list(string), [])
    inline_policy_json = optional(string)
  }))
  default = {}
}
