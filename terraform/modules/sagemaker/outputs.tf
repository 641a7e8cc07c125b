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
