# What a team application calling the endpoint needs.

output "endpoint_name" {
  description = "Endpoint to call with sagemaker-runtime InvokeEndpoint (null until create_endpoint is true)."
  value       = module.endpoint.endpoint_name
}

output "endpoint_arn" {
  description = "Endpoint ARN to grant sagemaker:InvokeEndpoint on."
  value       = module.endpoint.endpoint_arn
}

output "model_bucket" {
  description = "Bucket for the model artefact (upload it at var.model_key) and the captured data (data-capture/)."
  value       = module.models.bucket_id
}

output "vpc_id" {
  description = "The endpoint's VPC (callers inside it reach sagemaker.runtime through its interface endpoint)."
  value       = module.network.vpc_id
}

output "security_group_id" {
  description = "The endpoint's own security group."
  value       = module.endpoint.security_group_id
}
