data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# Look-ups are switched on by network_name (known at plan time), not by vpc_id, which is unknown when the VPC is made
# in the same apply.
data "aws_vpc" "network" {
  count = var.network_name == null ? 0 : 1

  tags = { "vend:network" = var.network_name }
}

data "aws_subnets" "private" {
  count = var.network_name == null ? 0 : 1

  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.network[0].id]
  }

  tags = { "vend:tier" = "private" }
}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  vpc_id     = var.network_name == null ? var.vpc_id : data.aws_vpc.network[0].id
  subnet_ids = var.network_name == null ? var.subnet_ids : sort(data.aws_subnets.private[0].ids)
  tags       = merge(var.tags, { "vend:module" = "eks" }, var.enable_karpenter ? { "karpenter.sh/discovery" = var.cluster_name } : {})
  policy     = "arn:${data.aws_partition.current.partition}:iam::aws:policy"
  oidc_host  = replace(try(aws_eks_cluster.this.identity[0].oidc[0].issuer, ""), "https://", "")

  # The accelerator family of a node group decides its AMI: NVIDIA drivers for g*/p*, the Neuron SDK for inf*/trn*.
  # https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html#AmazonEKS-Type-Nodegroup-amiType
  accelerator = {
    for name, group in var.node_groups : name => (
      can(regex("^(g|p)[0-9]", group.instance_types[0])) ? "nvidia" : can(regex("^(inf|trn)[0-9]", group.instance_types[0])) ? "neuron" : "none"
    )
  }
  ami_type = { nvidia = "AL2023_x86_64_NVIDIA", neuron = "AL2023_x86_64_NEURON", none = "AL2023_x86_64_STANDARD" }
  # Accelerated nodes only take pods that ask for the device (the device plugins' resource names).
  taint = { nvidia = "nvidia.com/gpu", neuron = "aws.amazon.com/neuron" }

  # The EBS CSI driver sends component_tags on every CreateVolume (controller.extraVolumeTags), merged into whatever
  # configuration the caller gives the add-on. https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/tagging.md
  addon_configuration = {
    for name, addon in var.addons : name => (
      name == "aws-ebs-csi-driver" && length(var.component_tags) > 0 ? jsonencode(merge(
        try(jsondecode(addon.configuration_values), {}),
        {
          controller = merge(
            try(jsondecode(addon.configuration_values).controller, {}),
            { extraVolumeTags = merge(try(jsondecode(addon.configuration_values).controller.extraVolumeTags, {}), var.component_tags) },
          )
        },
      )) : addon.configuration_values
    )
  }

  # Karpenter's EC2NodeClass: spec.tags go on the instances, volumes, fleets, launch templates and instance profiles it
  # creates (https://karpenter.sh/docs/concepts/nodeclasses/#spectags). Applied to the cluster with Karpenter's chart.
  karpenter_node_class = {
    apiVersion = "karpenter.k8s.aws/v1"
    kind       = "EC2NodeClass"
    metadata   = { name = "default" }
    spec = {
      role                       = aws_iam_role.node.name
      amiSelectorTerms           = [{ alias = "al2023@latest" }]
      subnetSelectorTerms        = [{ tags = { "karpenter.sh/discovery" = var.cluster_name } }]
      securityGroupSelectorTerms = [{ tags = { "karpenter.sh/discovery" = var.cluster_name } }]
      metadataOptions            = { httpTokens = "required", httpPutResponseHopLimit = var.metadata_hop_limit }
      tags                       = var.component_tags
    }
  }

  # Pod Identity roles: the EBS CSI driver's own, plus the caller's.
  pod_identities = merge(
    contains(keys(var.addons), "aws-ebs-csi-driver") ? {
      ebs-csi = { namespace = "kube-system", service_account = "ebs-csi-controller-sa", policy_arns = ["${local.policy}/service-role/AmazonEBSCSIDriverPolicy"], inline_policy_json = null }
    } : {},
    var.pod_identities,
  )
  pod_identity_policies = merge([
    for role, spec in local.pod_identities : { for arn in spec.policy_arns : "${role}|${arn}" => { role = role, arn = arn } }
  ]...)
  access_policy_prefix = "arn:${local.partition}:eks::aws:cluster-access-policy"
}

resource "aws_kms_key" "this" {
  description             = "${var.cluster_name}: Kubernetes secrets envelope encryption and control plane logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # CloudWatch Logs encrypts the control plane log group with this key; without this grant CreateLogGroup is
        # refused. https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/eks/${var.cluster_name}/cluster" }
        }
      },
    ]
  })
  tags = local.tags
}

resource "aws_cloudwatch_log_group" "this" {
  # EKS writes to this exact name; creating it first sets retention and encryption.
  name              = "/aws/eks/${var.cluster_name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

resource "aws_iam_role" "cluster" {
  name                 = "${var.cluster_name}-cluster"
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "eks.amazonaws.com" }, Action = ["sts:AssumeRole", "sts:TagSession"] }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  for_each = toset(["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"])

  role       = aws_iam_role.cluster.name
  policy_arn = "${local.policy}/${each.key}"
}

resource "aws_eks_cluster" "this" {
  # checkov:skip=CKV_AWS_339:The installed checkov's supported-version list ends at 1.28; var.kubernetes_version is validated against current EKS minors instead.
  name                      = var.cluster_name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = var.enabled_log_types

  vpc_config {
    subnet_ids              = local.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.this.arn
    }
  }

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = var.cluster_creator_admin
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.this]
}

# Karpenter finds the security group of its nodes by this tag; EKS creates the cluster security group itself.
resource "aws_ec2_tag" "karpenter_discovery" {
  count = var.enable_karpenter ? 1 : 0

  resource_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  key         = "karpenter.sh/discovery"
  value       = var.cluster_name
}

resource "aws_iam_openid_connect_provider" "this" {
  url             = try(aws_eks_cluster.this.identity[0].oidc[0].issuer, "")
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.oidc_thumbprints
  tags            = local.tags
}

resource "aws_eks_access_entry" "this" {
  for_each = var.access_entries

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value.principal_arn
  type          = "STANDARD"
  tags          = local.tags
}

resource "aws_eks_access_policy_association" "this" {
  for_each = var.access_entries

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.this[each.key].principal_arn
  policy_arn    = "${local.access_policy_prefix}/${each.value.policy}"

  access_scope {
    type       = length(each.value.namespaces) > 0 ? "namespace" : "cluster"
    namespaces = length(each.value.namespaces) > 0 ? each.value.namespaces : null
  }
}

resource "aws_iam_role" "node" {
  name                 = "${var.cluster_name}-node"
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"])

  role       = aws_iam_role.node.name
  policy_arn = "${local.policy}/${each.key}"
}

# EFA node groups sit in one AZ, packed into a cluster placement group (EFA traffic does not cross AZs).
resource "aws_placement_group" "efa" {
  for_each = { for name, group in var.node_groups : name => group if group.efa }

  name     = "${var.cluster_name}-${each.key}"
  strategy = "cluster"
  tags     = local.tags
}

resource "aws_launch_template" "node" {
  for_each = var.node_groups

  name_prefix            = "${var.cluster_name}-${each.key}-"
  description            = "Nodes of ${var.cluster_name}/${each.key}: IMDSv2 only, encrypted gp3 root volume"
  update_default_version = true

  # Hop limit 1 keeps pods (one hop further, behind the node's network namespace) away from the node role's
  # credentials; pods get their own through Pod Identity. 2 is for workloads that must read instance metadata.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.metadata_hop_limit
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = each.value.disk_size
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  dynamic "network_interfaces" {
    for_each = each.value.efa ? [1] : []
    content {
      device_index          = 0
      interface_type        = "efa"
      delete_on_termination = true
      security_groups       = [aws_eks_cluster.this.vpc_config[0].cluster_security_group_id]
    }
  }

  dynamic "placement" {
    for_each = each.value.efa ? [1] : []
    content {
      group_name = aws_placement_group.efa[each.key].name
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { "vend:node-group" = each.key })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.tags, { "vend:node-group" = each.key })
  }

  tags = merge(local.tags, { "vend:node-group" = each.key })
}

resource "aws_eks_node_group" "this" {
  for_each = var.node_groups

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = each.value.efa ? [local.subnet_ids[0]] : local.subnet_ids
  instance_types  = each.value.instance_types
  capacity_type   = each.value.capacity_type
  ami_type        = local.ami_type[local.accelerator[each.key]]
  labels = merge(each.value.labels, { "vend/accelerator" = local.accelerator[each.key] },
    local.accelerator[each.key] == "nvidia" ? { "nvidia.com/gpu.present" = "true" } : {},
  local.accelerator[each.key] == "neuron" ? { "aws.amazon.com/neuron.present" = "true" } : {})

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  scaling_config {
    min_size     = each.value.min_size
    max_size     = each.value.max_size
    desired_size = each.value.desired_size
  }

  dynamic "taint" {
    for_each = local.accelerator[each.key] == "none" ? [] : [local.taint[local.accelerator[each.key]]]
    content {
      key    = taint.value
      value  = "true"
      effect = "NO_SCHEDULE"
    }
  }

  update_config {
    max_unavailable = 1
  }

  # The cluster autoscaler or Karpenter moves desired_size; do not fight it.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  tags       = merge(local.tags, { "vend:node-group" = each.key })
  depends_on = [aws_iam_role_policy_attachment.node]
}

resource "aws_iam_role" "pod_identity" {
  for_each = local.pod_identities

  name                 = "${var.cluster_name}-${each.key}"
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "pods.eks.amazonaws.com" }
      Action    = ["sts:AssumeRole", "sts:TagSession"]
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnEquals    = { "aws:SourceArn" = aws_eks_cluster.this.arn }
      }
    }]
  })
  tags = merge(local.tags, { "vend:pod-identity" = "${each.value.namespace}/${each.value.service_account}" })
}

resource "aws_iam_role_policy_attachment" "pod_identity" {
  for_each = local.pod_identity_policies

  role       = aws_iam_role.pod_identity[each.value.role].name
  policy_arn = each.value.arn
}

resource "aws_iam_role_policy" "pod_identity" {
  for_each = { for k, r in local.pod_identities : k => r if r.inline_policy_json != null }

  name   = each.key
  role   = aws_iam_role.pod_identity[each.key].id
  policy = each.value.inline_policy_json
}

resource "aws_eks_pod_identity_association" "this" {
  for_each = { for k, r in local.pod_identities : k => r if k != "ebs-csi" }

  cluster_name    = aws_eks_cluster.this.name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.pod_identity[each.key].arn
  tags            = local.tags

  depends_on = [aws_eks_addon.this]
}

# Managed add-ons after the nodes: coredns and the EBS CSI controller need somewhere to run to become ACTIVE.
resource "aws_eks_addon" "this" {
  for_each = var.addons

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.version
  configuration_values        = local.addon_configuration[each.key]
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"

  dynamic "pod_identity_association" {
    for_each = each.key == "aws-ebs-csi-driver" ? [1] : []
    content {
      role_arn        = aws_iam_role.pod_identity["ebs-csi"].arn
      service_account = "ebs-csi-controller-sa"
    }
  }

  tags       = local.tags
  depends_on = [aws_eks_node_group.this, aws_iam_role_policy_attachment.pod_identity]
}

# Karpenter: interruption queue (spot interruptions, rebalance, health events) and the controller's IRSA role.
resource "aws_sqs_queue" "karpenter" {
  count = var.enable_karpenter ? 1 : 0

  name                      = "${var.cluster_name}-karpenter"
  message_retention_seconds = 300
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue_policy" "karpenter" {
  count = var.enable_karpenter ? 1 : 0

  queue_url = aws_sqs_queue.karpenter[0].url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeDelivers"
      Effect    = "Allow"
      Principal = { Service = ["events.amazonaws.com", "sqs.amazonaws.com"] }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.karpenter[0].arn
    }]
  })
}

resource "aws_cloudwatch_event_rule" "karpenter" {
  for_each = var.enable_karpenter ? {
    spot-interruption = { source = ["aws.ec2"], detail-type = ["EC2 Spot Instance Interruption Warning"] }
    rebalance         = { source = ["aws.ec2"], detail-type = ["EC2 Instance Rebalance Recommendation"] }
    state-change      = { source = ["aws.ec2"], detail-type = ["EC2 Instance State-change Notification"] }
    health            = { source = ["aws.health"], detail-type = ["AWS Health Event"] }
  } : {}

  name          = "${var.cluster_name}-karpenter-${each.key}"
  event_pattern = jsonencode(each.value)
  tags          = local.tags
}

resource "aws_cloudwatch_event_target" "karpenter" {
  for_each = aws_cloudwatch_event_rule.karpenter

  rule = each.value.name
  arn  = aws_sqs_queue.karpenter[0].arn
}

resource "aws_iam_role" "karpenter" {
  count = var.enable_karpenter ? 1 : 0

  name                 = "${var.cluster_name}-karpenter-controller"
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.this.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_host}:aud" = "sts.amazonaws.com"
          "${local.oidc_host}:sub" = "system:serviceaccount:${var.karpenter_namespace}:karpenter"
        }
      }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "karpenter" {
  # checkov:skip=CKV_AWS_355:Karpenter launches instances from any launch template/AMI it discovers; resources are scoped by the karpenter.sh/discovery tag conditions where EC2 supports them.
  # checkov:skip=CKV_AWS_290:Same reason: RunInstances/CreateFleet cannot be scoped to resource ARNs known in advance.
  count = var.enable_karpenter ? 1 : 0

  name = "karpenter-controller"
  role = aws_iam_role.karpenter[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "Provisioning"
        Effect = "Allow"
        Action = ["ec2:CreateFleet", "ec2:RunInstances", "ec2:CreateLaunchTemplate", "ec2:CreateTags", "ec2:Describe*",
        "pricing:GetProducts"]
        Resource = "*"
      },
      {
        # Only the public AMI parameters (Karpenter resolves EKS-optimised AMIs through them).
        Sid      = "AmiParameters"
        Effect   = "Allow"
        Action   = "ssm:GetParameter"
        Resource = "arn:${local.partition}:ssm:${data.aws_region.current.name}::parameter/aws/service/*"
      },
      {
        Sid       = "TerminateOwnNodes"
        Effect    = "Allow"
        Action    = ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:ResourceTag/karpenter.sh/discovery" = var.cluster_name } }
      },
      {
        Sid      = "PassNodeRole"
        Effect   = "Allow"
        Action   = "iam:PassRole"
        Resource = aws_iam_role.node.arn
      },
      {
        Sid      = "InstanceProfiles"
        Effect   = "Allow"
        Action   = ["iam:CreateInstanceProfile", "iam:TagInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile"]
        Resource = "arn:${local.partition}:iam::${local.account_id}:instance-profile/*"
      },
      {
        Sid      = "Interruptions"
        Effect   = "Allow"
        Action   = ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
        Resource = aws_sqs_queue.karpenter[0].arn
      },
      {
        Sid      = "Cluster"
        Effect   = "Allow"
        Action   = "eks:DescribeCluster"
        Resource = aws_eks_cluster.this.arn
      },
    ]
  })
}
