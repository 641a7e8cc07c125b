terraform {
  # bucket and region are the vended account's state bucket, given at `terraform init -backend-config=...`.
  # The key is this folder's path under terraform/environments; the pipeline runner passes the same value.
  # kms_key_id: the account's state key (encrypt = true alone writes SSE-S3, which the state bucket refuses).
  backend "s3" {
    key          = "team-mlops/staging/networking/terraform.tfstate"
    use_lockfile = true
    encrypt      = true
    kms_key_id   = "alias/terraform-state"
  }
}
