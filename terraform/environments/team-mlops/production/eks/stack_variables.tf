variable "kubernetes_version" {
  description = "Kubernetes minor version."
  type        = string
  default     = "1.33"
}

variable "node_groups" {
  description = "Managed node groups (see modules/eks); GPU instance types must be in the team GPU tier."
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
  default = {
    system = { instance_types = ["m6i.large"], min_size = 2, max_size = 4, desired_size = 2 }
  }
}
