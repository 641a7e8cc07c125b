data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  tags        = merge(var.tags, { "vend:module" = "sagemaker" })
  kms_key_arn = var.kms_key_arn == null ? aws_kms_key.this[0].arn : var.kms_key_arn
  # Mirrors landing_zone/layout.yaml gpu_tiers (the source of truth, also enforced by the SCPs and the pipeline's
  # policy stage); checked here so a wrong type fails at plan time with a clear message.
  tier_prefixes = {
    none      = []
    inference = ["ml.g5.", "ml.g6.", "ml.inf2."]
    training  = ["ml.g5.", "ml.g6.", "ml.inf2.", "ml.p4d.", "ml.p5.", "ml.trn1."]
  }
  accelerated = can(regex("^ml\\.(p|g|trn|inf|dl)[0-9]", var.instance_type))
  allowed     = !local.accelerated || anytrue([for p in local.tier_prefixes[var.gpu_tier] : startswith(var.instance_type, p)])
}

resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name}: SageMaker endpoint volumes"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = local.tags
}

resource "aws_iam_role" "execution" {
  name = "${var.name}-sagemaker-execution"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "sagemaker.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "execution" {
  # checkov:skip=CKV_AWS_355:ECR GetAuthorizationToken and CloudWatch metric writes have no resource-level permissions.
  name = "model-runtime"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"]
        Resource = "*"
      },
      {
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = "arn:${data.aws_partition.current.partition}:ecr:*:${data.aws_caller_identity.current.account_id}:repository/*"
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "arn:${data.aws_partition.current.partition}:logs:*:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/*"
      },
      {
        Effect   = "Allow"
        Action   = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions", "ec2:CreateNetworkInterfacePermission"]
        Resource = "*"
      },
      ], var.model_bucket_arn == null ? [] : [{
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:ListBucket"]
        Resource = [var.model_bucket_arn, "${var.model_bucket_arn}/*"]
    }])
  })
}

resource "aws_sagemaker_model" "this" {
  name                     = var.name
  execution_role_arn       = aws_iam_role.execution.arn
  enable_network_isolation = true

  primary_container {
    image          = var.image_uri
    model_data_url = var.model_data_url
  }

  vpc_config {
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tags = local.tags
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  name        = var.name
  kms_key_arn = local.kms_key_arn

  production_variants {
    variant_name           = "primary"
    model_name             = aws_sagemaker_model.this.name
    instance_type          = var.instance_type
    initial_instance_count = var.initial_instance_count
  }

  lifecycle {
    precondition {
      condition     = local.allowed
      error_message = "instance_type ${var.instance_type} is not allowed for GPU tier ${var.gpu_tier}."
    }
  }

  tags = local.tags
}

resource "aws_sagemaker_endpoint" "this" {
  count = var.create_endpoint ? 1 : 0

  name                 = var.name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name
  tags                 = local.tags
}
