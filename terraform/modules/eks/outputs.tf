output "cluster_name" {
  description = "Name of the cluster."
  value       = try(aws_eks_cluster.this.name, null)
}

output "cluster_arn" {
  description = "ARN of the cluster."
  value       = try(aws_eks_cluster.this.arn, null)
}

output "cluster_endpoint" {
  description = "Private API server endpoint."
  value       = try(aws_eks_cluster.this.endpoint, null)
}

output "oidc_provider_arn" {
  description = "IRSA OIDC provider ARN (for iam module roles with an oidc trust)."
  value       = try(aws_iam_openid_connect_provider.this.arn, null)
}

output "oidc_issuer" {
  description = "OIDC issuer host path (the condition key prefix in IRSA trust policies)."
  value       = try(local.oidc_host, null)
}

output "node_role_arn" {
  description = "Node IAM role (also the role Karpenter's EC2NodeClass uses)."
  value       = try(aws_iam_role.node.arn, null)
}

output "karpenter_role_arn" {
  description = "IRSA role of the Karpenter controller."
  value       = try(aws_iam_role.karpenter[0].arn, null)
}

output "karpenter_queue_name" {
  description = "Interruption queue for Karpenter's settings.interruptionQueue."
  value       = try(aws_sqs_queue.karpenter[0].name, null)
}

output "node_group_names" {
  description = "Managed node group names."
  value       = try(keys(aws_eks_node_group.this), [])
}
