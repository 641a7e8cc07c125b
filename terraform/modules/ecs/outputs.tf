output "cluster_arn" {
  description = "ARN of the cluster."
  value       = try(aws_ecs_cluster.this.arn, null)
}

output "cluster_name" {
  description = "Name of the cluster."
  value       = try(aws_ecs_cluster.this.name, null)
}

output "gpu_capacity_provider_name" {
  description = "GPU capacity provider (null when disabled); use it in the service's capacity_provider_strategy."
  value       = try(aws_ecs_capacity_provider.gpu[0].name, null)
}
