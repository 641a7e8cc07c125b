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

output "karpenter_node_class" {
  description = "Karpenter's EC2NodeClass (YAML) with the node role, discovery selectors and component_tags; apply it with Karpenter."
  value       = try(var.enable_karpenter ? yamlencode(local.karpenter_node_class) : null, null)
}

output "node_group_names" {
  description = "Managed node group names."
  value       = try(keys(aws_eks_node_group.this), [])
}

output "cluster_security_group_id" {
  description = "Security group EKS created for the cluster (tagged for Karpenter discovery)."
  value       = try(aws_eks_cluster.this.vpc_config[0].cluster_security_group_id, null)
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server (for kubeconfig)."
  value       = try(aws_eks_cluster.this.certificate_authority[0].data, null)
}

output "kms_key_arn" {
  description = "Key encrypting Kubernetes secrets and the control plane log group."
  value       = try(aws_kms_key.this.arn, null)
}

output "node_group_ami_types" {
  description = "AMI type chosen for each node group from its accelerator family."
  value       = try({ for k, g in aws_eks_node_group.this : k => g.ami_type }, {})
}

output "addon_versions" {
  description = "Installed version of each managed add-on."
  value       = try({ for k, a in aws_eks_addon.this : k => a.addon_version }, {})
}

output "pod_identity_role_arns" {
  description = "Pod Identity role ARN by name (ebs-csi plus var.pod_identities)."
  value       = try({ for k, r in aws_iam_role.pod_identity : k => r.arn }, {})
}
