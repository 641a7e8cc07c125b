provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "knowledge_base" {
  source = "../.."

  name                       = "team-example-rag"
  collection_name            = "team-example-kb"
  source_bucket_arn          = "arn:aws:s3:::team-example-rag-123456789012"
  source_prefixes            = ["docs/"]
  create_knowledge_base      = true
  standby_replicas           = false
  index_admin_principal_arns = ["arn:aws:iam::123456789012:role/TeamCIRole"]
  permissions_boundary_arn   = "arn:aws:iam::123456789012:policy/VendingCIBoundary"
}

output "knowledge_base_arn" {
  value = module.knowledge_base.knowledge_base_arn
}
