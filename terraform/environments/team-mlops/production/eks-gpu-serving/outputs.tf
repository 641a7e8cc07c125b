# What a team needs to deploy onto the cluster (kubeconfig, Karpenter settings, Pod Identity roles).

output "cluster_name" {
  description = "Cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Private API server endpoint (reachable from inside the VPC)."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server."
  value       = module.eks.cluster_certificate_authority_data
}

output "node_group_ami_types" {
  description = "AMI type of each node group (NVIDIA, Neuron or standard)."
  value       = module.eks.node_group_ami_types
}

output "karpenter_role_arn" {
  description = "Karpenter controller role (IRSA)."
  value       = module.eks.karpenter_role_arn
}

output "karpenter_queue_name" {
  description = "Karpenter interruption queue (settings.interruptionQueue)."
  value       = module.eks.karpenter_queue_name
}

output "karpenter_node_class" {
  description = "Karpenter's EC2NodeClass (YAML) carrying the team, stage and cost-center tags; apply it with Karpenter."
  value       = module.eks.karpenter_node_class
}

output "node_role_arn" {
  description = "Node role for Karpenter's EC2NodeClass."
  value       = module.eks.node_role_arn
}

output "pod_identity_role_arns" {
  description = "Pod Identity role ARNs by name."
  value       = module.eks.pod_identity_role_arns
}

output "vpc_id" {
  description = "The cluster's VPC."
  value       = module.network.vpc_id
}
