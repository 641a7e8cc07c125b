output "knowledge_base_id" {
  description = "ID of the knowledge base (null until create_knowledge_base is true)."
  value       = try(aws_bedrockagent_knowledge_base.this[0].id, null)
}

output "knowledge_base_arn" {
  description = "ARN of the knowledge base (null until create_knowledge_base is true)."
  value       = try(aws_bedrockagent_knowledge_base.this[0].arn, null)
}

output "data_source_id" {
  description = "ID of the S3 data source (start ingestion jobs with it)."
  value       = try(aws_bedrockagent_data_source.this[0].data_source_id, null)
}

output "collection_arn" {
  description = "ARN of the OpenSearch Serverless collection."
  value       = try(aws_opensearchserverless_collection.this.arn, null)
}

output "collection_endpoint" {
  description = "Endpoint of the collection (create the vector index here)."
  value       = try(aws_opensearchserverless_collection.this.collection_endpoint, null)
}

output "role_arn" {
  description = "Role the knowledge base runs as."
  value       = try(aws_iam_role.this.arn, null)
}
