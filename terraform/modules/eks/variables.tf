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
  description = "Name of a VPC made by the networking module (tag vend:network) to look up with its private subnets. Null: use vpc_id and subnet_ids."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "VPC of the cluster when network_name is null."
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
  description = <<-EOF
    Managed node groups by name. The accelerator family of instance_types picks the AMI (AL2023 NVIDIA for g*/p*,
    AL2023 Neuron for inf*/trn*, standard otherwise) and taints accelerated nodes (nvidia.com/gpu or
    aws.amazon.com/neuron, NoSchedule) so only pods that tolerate it land there. efa = true adds an EFA interface and
    a cluster placement group (one AZ). The pipeline's policy stage checks instance_types against the team's GPU tier.
  EOF
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

  validation {
    # One AMI per node group: all its instance types must be of one accelerator kind (NVIDIA, Neuron or none).
    condition = alltrue([for k, g in var.node_groups : length(distinct([
      for t in g.instance_types : can(regex("^(g|p)[0-9]", t)) ? "nvidia" : can(regex("^(inf|trn)[0-9]", t)) ? "neuron" : "none"
    ])) == 1])
    error_message = "A node group cannot mix NVIDIA (g*, p*), Neuron (inf*, trn*) and non-accelerated instance types: they need different AMIs."
  }

  validation {
    condition     = alltrue([for k, g in var.node_groups : g.disk_size >= 20 && g.disk_size <= 16384])
    error_message = "disk_size must be between 20 and 16384 GiB."
  }
}

variable "addons" {
  description = "EKS managed add-ons by name; version null takes the default version for the cluster's Kubernetes version."
  type = map(object({
    version              = optional(string)
    configuration_values = optional(string)
  }))
  default = {
    vpc-cni                = {}
    coredns                = {}
    kube-proxy             = {}
    eks-pod-identity-agent = {}
    aws-ebs-csi-driver     = {}
  }

  validation {
    condition = alltrue([for name in keys(var.addons) : contains([
      "vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver", "aws-efs-csi-driver",
      "amazon-cloudwatch-observability", "aws-guardduty-agent", "eks-node-monitoring-agent", "snapshot-controller",
    ], name)])
    error_message = "addons may only name add-ons the platform supports (see README)."
  }

  validation {
    condition     = alltrue([for name in ["vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"] : contains(keys(var.addons), name)])
    error_message = "addons must keep the core add-ons: vpc-cni, coredns, kube-proxy and eks-pod-identity-agent."
  }
}

variable "access_entries" {
  description = "Cluster access by name: an IAM principal and the EKS access policy it gets, cluster-wide or in namespaces."
  type = map(object({
    principal_arn = string
    policy        = optional(string, "AmazonEKSViewPolicy")
    namespaces    = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for k, e in var.access_entries : contains(["AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy"], e.policy)])
    error_message = "policy must be AmazonEKSClusterAdminPolicy, AmazonEKSAdminPolicy, AmazonEKSEditPolicy or AmazonEKSViewPolicy."
  }

  validation {
    condition     = alltrue([for k, e in var.access_entries : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", e.principal_arn))])
    error_message = "principal_arn must be an IAM role ARN."
  }
}

variable "pod_identities" {
  description = "EKS Pod Identity roles by name: the service account that gets the role and the policies the role carries."
  type = map(object({
    namespace          = string
    service_account    = string
    policy_arns        = optional(list(string), [])
    inline_policy_json = optional(string)
  }))
  default = {}

  validation {
    condition     = !contains(keys(var.pod_identities), "ebs-csi")
    error_message = "ebs-csi is the name of the EBS CSI driver's own role; pick another name."
  }
}

variable "metadata_hop_limit" {
  description = "IMDSv2 response hop limit of the nodes: 1 keeps pods off the node role (they use Pod Identity), 2 lets pods read instance metadata."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2], var.metadata_hop_limit)
    error_message = "metadata_hop_limit must be 1 or 2."
  }
}

variable "ebs_kms_key_arn" {
  description = "KMS key of the nodes' root volumes. Null uses the account's default EBS key."
  type        = string
  default     = null
}

variable "cluster_creator_admin" {
  description = "Give the identity that creates the cluster (the CI role) a cluster-admin access entry."
  type        = bool
  default     = true
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of every IAM role this module creates (the vended CI role may only create roles that carry it)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
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

variable "component_tags" {
  description = "Tags the cluster's components put on what they create in the account: EBS CSI driver volumes (controller.extraVolumeTags) and Karpenter's instances, volumes, fleets and launch templates (EC2NodeClass spec.tags). They are not Terraform resources, so default_tags never reach them; the organization's tag-on-create guardrail requires team, stage and cost-center."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.component_tags) == 0 || alltrue([for key in ["team", "stage", "cost-center"] : length(trimspace(lookup(var.component_tags, key, ""))) > 0])
    error_message = "component_tags must carry non-empty team, stage and cost-center (the tag-on-create guardrail denies creates without them)."
  }
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
