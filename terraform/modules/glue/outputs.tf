output "database_name" {
  description = "Name of the catalog database."
  value       = try(aws_glue_catalog_database.this.name, null)
}

output "database_arn" {
  description = "ARN of the catalog database."
  value       = try(aws_glue_catalog_database.this.arn, null)
}

output "crawler_name" {
  description = "Name of the crawler (null when no paths are given)."
  value       = try(aws_glue_crawler.this[0].name, null)
}
