output "bucket_id" {
  description = "Name of the bucket."
  value       = try(aws_s3_bucket.this.id, null)
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = try(aws_s3_bucket.this.arn, null)
}

output "bucket_regional_domain_name" {
  description = "Regional domain name (for CloudFront origins)."
  value       = try(aws_s3_bucket.this.bucket_regional_domain_name, null)
}

output "kms_key_arn" {
  description = "KMS key encrypting the bucket."
  value       = try(local.kms_key_arn, null)
}
