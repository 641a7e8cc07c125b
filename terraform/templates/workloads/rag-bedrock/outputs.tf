# What the team's RAG application needs.

output "app_role_arn" {
  description = "Role the application runs as (Bedrock through the guardrail, knowledge base retrieval)."
  value       = module.app_role.role_arns["app"]
}

output "documents_bucket" {
  description = "Bucket whose prefixes the knowledge base ingests."
  value       = module.documents.bucket_id
}

output "knowledge_base_id" {
  description = "Knowledge base ID for Retrieve/RetrieveAndGenerate (null until create_knowledge_base is true)."
  value       = module.knowledge_base.knowledge_base_id
}

output "data_source_id" {
  description = "Data source ID for StartIngestionJob (null until create_knowledge_base is true)."
  value       = module.knowledge_base.data_source_id
}

output "collection_endpoint" {
  description = "OpenSearch Serverless endpoint where the vector index is created."
  value       = module.knowledge_base.collection_endpoint
}

output "guardrail_id" {
  description = "Guardrail every model call must name (guardrailIdentifier)."
  value       = module.bedrock.guardrail_id
}

output "guardrail_version" {
  description = "Guardrail version every model call must name (guardrailVersion)."
  value       = module.bedrock.guardrail_version
}
