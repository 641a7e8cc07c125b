# Retrieval-augmented generation on Bedrock: documents in S3 (documents), embedded into an OpenSearch Serverless
# vector store by a knowledge base (knowledge_base), a guardrail (bedrock), and the role
# the team's application runs as (app_role): invoke the allowed inference profiles through the guardrail, retrieve
# from the knowledge base, nothing else. Every role carries the CI permissions boundary.

module "documents" {
  source = "../../../../modules/s3"

  name = "${var.team}-rag-${var.account_id}"
  tags = { purpose = "rag-documents" }
}

module "knowledge_base" {
  source = "../../../../modules/bedrock-knowledge-base"

  name                       = "${trim(substr(var.team, 0, 36), "-")}-rag"
  collection_name            = "${trim(substr(var.team, 0, 24), "-")}-kb"
  source_bucket_arn          = module.documents.bucket_arn
  source_kms_key_arn         = module.documents.kms_key_arn
  source_prefixes            = var.source_prefixes
  embedding_model_id         = var.embedding_model_id
  create_knowledge_base      = var.create_knowledge_base
  standby_replicas           = var.standby_replicas
  index_admin_principal_arns = var.index_admin_principal_arns
  permissions_boundary_arn   = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}

module "bedrock" {
  source = "../../../../modules/bedrock"

  name                  = "${trim(substr(var.team, 0, 36), "-")}-rag"
  inference_profile_ids = var.inference_profile_ids
  knowledge_base_arns   = compact([module.knowledge_base.knowledge_base_arn])
  # The account's model-invocation logging is the platform's (the SCP baseline's ProtectModelInvocationLogging denies
  # the team's roles changing it): a team stack does not configure it.
  invocation_logging       = false
  log_retention_days       = var.log_retention_days
  permissions_boundary_arn = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}

module "app_role" {
  source = "../../../../modules/iam"

  name_prefix                 = "${var.team}-rag"
  create_permissions_boundary = false
  permissions_boundary_arn    = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
  roles = {
    app = {
      description         = "The RAG application of ${var.team} (${var.stage}): Bedrock through the guardrail, knowledge base retrieval."
      service_principals  = var.app_service_principals
      managed_policy_arns = [module.bedrock.invoke_policy_arn]
    }
  }
}
