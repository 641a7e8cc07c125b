output "vpc_id" {
  description = "ID of the VPC."
  value       = try(aws_vpc.this.id, null)
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC."
  value       = try(aws_vpc.this.cidr_block, null)
}

output "private_subnet_ids" {
  description = "Private subnet IDs, one per availability zone."
  value       = try(aws_subnet.private[*].id, [])
}

output "availability_zones" {
  description = "Availability zones the subnets are in."
  value       = try(local.azs, [])
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = try(aws_security_group.endpoints.id, null)
}

output "interface_endpoint_ids" {
  description = "Interface endpoint IDs by service."
  value       = try({ for k, e in aws_vpc_endpoint.interface : k => e.id }, {})
}

output "flow_log_group_name" {
  description = "Log group receiving the VPC flow logs."
  value       = try(aws_cloudwatch_log_group.flow_logs.name, null)
}

output "private_route_table_id" {
  description = "Route table of the private subnets."
  value       = try(aws_route_table.private.id, null)
}

output "nat_gateway_id" {
  description = "NAT gateway ID (null when enable_nat_gateway is false)."
  value       = try(aws_nat_gateway.this[0].id, null)
}

output "flow_logs_role_arn" {
  description = "Role VPC flow logs deliver with."
  value       = try(aws_iam_role.flow_logs.arn, null)
}
