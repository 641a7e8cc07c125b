# The EKS cluster in the home region (first of var.regions), in the private subnets the networking stack made there
# (looked up by its vend:network tag, so apply networking first). Karpenter-ready; IRSA through the OIDC provider.

module "eks" {
  source = "../../../../modules/eks"

  cluster_name       = "${var.team}-${var.stage}"
  kubernetes_version = var.kubernetes_version
  network_name       = "${var.team}-${var.stage}-${var.regions[0]}"
  node_groups        = var.node_groups
  enable_karpenter   = true

  permissions_boundary_arn = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}
