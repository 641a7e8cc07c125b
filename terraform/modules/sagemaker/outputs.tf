output "endpoint_name" {
  description = "Name of the endpoint (null when create_endpoint is false)."
  value       = try(aws_sagemaker_endpoint.this[0].name, null)
}

output "endpoint_config_name" {
  description = "Name of the endpoint configuration."
  value       = try(aws_sagemaker_endpoint_configuration.this.name, null)
}

output "execution_role_arn" {
  description = "Execution role of the model."
  value       = try(aws_iam_role.execution.arn, null)
}

output "security_group_id" {
  description = "The endpoint's own security group (null when create_security_group is false)."
  value       = try(aws_security_group.this[0].id, null)
}

output "endpoint_arn" {
  description = "ARN of the endpoint (grant sagemaker:InvokeEndpoint on it)."
  value       = try(aws_sagemaker_endpoint.this[0].arn, null)
}
