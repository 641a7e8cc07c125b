output "permissions_boundary_arn" {
  description = "ARN of the permissions boundary attached to every role."
  value       = try(local.boundary_arn, null)
}

output "role_arns" {
  description = "Role ARNs by short name."
  value       = try({ for k, r in aws_iam_role.this : k => r.arn }, {})
}

output "role_names" {
  description = "Role names by short name."
  value       = try({ for k, r in aws_iam_role.this : k => r.name }, {})
}
