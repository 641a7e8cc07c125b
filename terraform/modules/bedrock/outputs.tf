output "guardrail_id" {
  description = "ID of the guardrail."
  value       = try(aws_bedrock_guardrail.this.guardrail_id, null)
}

output "guardrail_arn" {
  description = "ARN of the guardrail."
  value       = try(aws_bedrock_guardrail.this.guardrail_arn, null)
}

output "guardrail_version" {
  description = "Published guardrail version the invoke policy requires."
  value       = try(aws_bedrock_guardrail_version.this.version, null)
}

output "invoke_policy_arn" {
  description = "Managed policy allowing the allowed models, inference profiles and knowledge bases only (attach to workload roles)."
  value       = try(aws_iam_policy.invoke[0].arn, null)
}

output "invocation_log_group_name" {
  description = "Log group receiving model invocation logs."
  value       = try(aws_cloudwatch_log_group.this[0].name, null)
}

output "logging_role_arn" {
  description = "Role Bedrock delivers invocation logs with."
  value       = try(aws_iam_role.logging[0].arn, null)
}
