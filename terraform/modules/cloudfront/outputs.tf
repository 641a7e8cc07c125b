output "distribution_id" {
  description = "ID of the distribution."
  value       = try(aws_cloudfront_distribution.this.id, null)
}

output "distribution_domain_name" {
  description = "The *.cloudfront.net domain name."
  value       = try(aws_cloudfront_distribution.this.domain_name, null)
}

output "origin_bucket_id" {
  description = "The private origin bucket (deploy the site's files here)."
  value       = try(module.origin.bucket_id, null)
}
