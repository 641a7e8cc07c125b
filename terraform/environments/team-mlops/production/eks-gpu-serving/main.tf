# An EKS cluster for GPU inference in its own private VPC (network; CIDR from the team's block in
# landing_zone/layout.yaml; the endpoints nodes need instead of egress; subnets tagged for internal load balancers and
# Karpenter discovery) and the cluster (eks): node groups per accelerator family, core add-ons, Pod Identity,
# secrets encryption, private endpoint. Node instance types are checked against the team's GPU tier by the policy stage.

module "network" {
  source = "../../../../modules/networking"

  name                     = "${trim(substr(var.team, 0, 36), "-")}-gpu"
  cidr_block               = var.vpc_cidr
  az_count                 = var.az_count
  subnet_newbits           = 2
  interface_endpoints      = ["ec2", "eks", "eks-auth", "ssm", "ssmmessages", "ec2messages", "sqs", "elasticloadbalancing", "sts", "ecr.api", "ecr.dkr", "logs"]
  enable_nat_gateway       = var.enable_nat_gateway
  subnet_tags              = { "kubernetes.io/role/internal-elb" = "1", "karpenter.sh/discovery" = "${var.team}-${var.stage}-gpu" }
  permissions_boundary_arn = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}

module "eks" {
  source = "../../../../modules/eks"

  cluster_name             = "${var.team}-${var.stage}-gpu"
  kubernetes_version       = var.kubernetes_version
  vpc_id                   = module.network.vpc_id
  subnet_ids               = module.network.private_subnet_ids
  node_groups              = var.node_groups
  access_entries           = var.access_entries
  pod_identities           = var.pod_identities
  metadata_hop_limit       = var.metadata_hop_limit
  enable_karpenter         = true
  permissions_boundary_arn = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")

  # What the EBS CSI driver and Karpenter create carries the mandatory tags (the tag-on-create guardrail denies it
  # otherwise); default_tags only reach what Terraform itself creates.
  component_tags = { team = var.team, stage = var.stage, "cost-center" = var.cost_center }
}
