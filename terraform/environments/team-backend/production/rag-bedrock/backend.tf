terraform {
  # bucket and region are the vended account's state bucket, given at `terraform init -backend-config=...`.
  # The key is this folder's path under terraform/environments; the pipeline runner passes the same value.
  backend "s3" {
    key          = "team-backend/production/rag-bedrock/terraform.tfstate"
    use_lockfile = true
    encrypt      = true
  }
}
