# The team's baseline in its vended account: published metadata and a log group (baseline), a versioned, KMS-encrypted
# artifacts bucket (s3) and the team's workload role under the CI permissions boundary (iam).

module "baseline" {
  source = "../../../../modules/baseline"

  team               = var.team
  stage              = var.stage
  cost_center        = var.cost_center
  gpu_tier           = var.gpu_tier
  regions            = var.regions
  log_retention_days = var.log_retention_days
}

module "artifacts" {
  source = "../../../../modules/s3"

  name                               = "${var.team}-${var.stage}-artifacts-${var.account_id}"
  noncurrent_version_expiration_days = var.artifacts_noncurrent_days
  tags                               = { purpose = "artifacts" }
}

module "iam" {
  source = "../../../../modules/iam"

  name_prefix = var.team
  # The CI role may only create roles that carry its boundary (VendingCIBoundary), so the workload role uses it too.
  create_permissions_boundary = false
  permissions_boundary_arn    = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
  roles = {
    workload = {
      description        = "Workloads of ${var.team} (${var.stage}); assumable by the compute services that run them."
      service_principals = ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "ec2.amazonaws.com"]
      inline_policy_json = jsonencode({
        Version = "2012-10-17"
        Statement = [
          {
            Sid      = "Artifacts"
            Effect   = "Allow"
            Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
            Resource = [module.artifacts.bucket_arn, "${module.artifacts.bucket_arn}/*"]
          },
          {
            Sid      = "ArtifactsKey"
            Effect   = "Allow"
            Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
            Resource = [module.artifacts.kms_key_arn]
          },
        ]
      })
    }
  }
}
