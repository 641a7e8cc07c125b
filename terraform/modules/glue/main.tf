data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  tags        = merge(var.tags, { "vend:module" = "glue" })
  crawler     = length(var.crawler_s3_paths) > 0 ? 1 : 0
  kms_key_arn = var.kms_key_arn == null ? aws_kms_key.this[0].arn : var.kms_key_arn
  partition   = data.aws_partition.current.partition
}

resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.database_name}: Glue crawler logs and bookmarks"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      },
    ]
  })
  tags = local.tags
}

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = var.description
  tags        = local.tags
}

resource "aws_glue_security_configuration" "this" {
  count = local.crawler

  name = "${var.database_name}-crawler"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = local.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = local.kms_key_arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = local.kms_key_arn
    }
  }
}

resource "aws_iam_role" "crawler" {
  count = local.crawler

  permissions_boundary = var.permissions_boundary_arn
  name                 = "${replace(var.database_name, "_", "-")}-crawler"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "glue.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "crawler" {
  count = local.crawler

  role       = aws_iam_role.crawler[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSGlueServiceRole"
}

resource "aws_iam_role_policy" "crawler" {
  count = local.crawler

  name = "read-data"
  role = aws_iam_role.crawler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:GetObject", "s3:ListBucket"], Resource = flatten([for b in var.data_bucket_arns : [b, "${b}/*"]]) },
      { Effect = "Allow", Action = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], Resource = local.kms_key_arn },
    ]
  })
}

resource "aws_glue_crawler" "this" {
  count = local.crawler

  name                   = "${var.database_name}-crawler"
  database_name          = aws_glue_catalog_database.this.name
  role                   = aws_iam_role.crawler[0].arn
  schedule               = var.crawler_schedule
  security_configuration = aws_glue_security_configuration.this[0].name

  dynamic "s3_target" {
    for_each = var.crawler_s3_paths
    content {
      path = s3_target.value
    }
  }

  schema_change_policy {
    update_behavior = "UPDATE_IN_DATABASE"
    delete_behavior = "LOG"
  }

  tags = local.tags
}
