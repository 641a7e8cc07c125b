variable "inference_profile_ids" {
  description = "Cross-region inference profiles the application may invoke (through the guardrail)."
  type        = list(string)
}

variable "embedding_model_id" {
  description = "Embedding model of the knowledge base."
  type        = string
  default     = "amazon.titan-embed-text-v2:0"
}

variable "source_prefixes" {
  description = "Prefixes of the document bucket the knowledge base ingests."
  type        = list(string)
  default     = ["docs/"]
}

variable "create_knowledge_base" {
  description = "Create the knowledge base and its data source; set true once the vector index exists in the collection."
  type        = bool
  default     = false
}

variable "standby_replicas" {
  description = "OpenSearch Serverless standby replicas (a second AZ)."
  type        = bool
  default     = true
}

variable "index_admin_principal_arns" {
  description = "Principals that may create the vector index in the collection (e.g. the team's CI role)."
  type        = list(string)
  default     = []
}

variable "app_service_principals" {
  description = "Services that run the RAG application and assume its role."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]
}

variable "log_retention_days" {
  description = "Retention of the model-invocation log group."
  type        = number
  default     = 365
}
