output "kms_key_arn" {
  description = "The baseline KMS key (metadata parameters and team logs)."
  value       = try(aws_kms_key.this.arn, null)
}

output "log_group_name" {
  description = "The team's application log group."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}

output "parameter_names" {
  description = "SSM parameter names of the published account metadata, by key."
  value       = try({ for k, p in aws_ssm_parameter.this : k => p.name }, {})
}
