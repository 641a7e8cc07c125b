# Rendered from terraform/templates/workloads/rag-bedrock for team-backend (production, GPU tier inference).
app_service_principals = ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]
create_knowledge_base  = false
embedding_model_id     = "amazon.titan-embed-text-v2:0"
inference_profile_ids  = ["us.anthropic.claude-3-5-sonnet-20240620-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0"]
log_retention_days     = 365
source_prefixes        = ["docs/"]
standby_replicas       = true
