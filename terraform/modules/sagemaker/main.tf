data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_prefix_list" "s3" {
  name = "com.amazonaws.${data.aws_region.current.name}.s3"
}

locals {
  tags        = merge(var.tags, { "vend:module" = "sagemaker" })
  kms_key_arn = var.kms_key_arn == null ? aws_kms_key.this[0].arn : var.kms_key_arn
  # Mirrors landing_zone/layout.yaml gpu_tiers (the source of truth, also enforced by the SCPs and the pipeline's
  # policy stage); checked here so a wrong type fails at plan time with a clear message.
  tier_prefixes = {
    none      = []
    inference = ["ml.g5.", "ml.g6.", "ml.g6e.", "ml.inf2."]
    training  = ["ml.g5.", "ml.g6.", "ml.g6e.", "ml.inf2.", "ml.p4d.", "ml.p5.", "ml.trn1.", "ml.trn1n."]
  }
  accelerated = can(regex("^ml\\.(p|g|trn|inf|dl)[0-9]", var.instance_type))
  allowed     = !local.accelerated || anytrue([for p in local.tier_prefixes[var.gpu_tier] : startswith(var.instance_type, p)])

  # Pull access to the image's own repository only (an AWS deep learning container lives in an AWS account).
  image_repo     = regex("^(?P<account>[0-9]{12})\\.dkr\\.ecr\\.(?P<region>[a-z0-9-]+)\\.amazonaws\\.com/(?P<repo>[^:@]+)", var.image_uri)
  image_repo_arn = "arn:${data.aws_partition.current.partition}:ecr:${local.image_repo.region}:${local.image_repo.account}:repository/${local.image_repo.repo}"
  capture_bucket = var.data_capture_s3_uri == null ? null : split("/", trimprefix(var.data_capture_s3_uri, "s3://"))[0]
}

# The endpoint's own security group: no inbound (SageMaker invokes the container through its own network path),
# outbound HTTPS to the VPC only (the interface endpoints and the S3 gateway).
resource "aws_security_group" "this" {
  # checkov:skip=CKV2_AWS_5:Attached to the model's vpc_config; checkov's connection list for this check has no aws_sagemaker_model.
  count = var.create_security_group ? 1 : 0

  name        = "${var.name}-sagemaker"
  description = "SageMaker endpoint ${var.name}: HTTPS to the VPC endpoints only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-sagemaker" })
}

resource "aws_vpc_security_group_egress_rule" "this" {
  count = var.create_security_group ? 1 : 0

  security_group_id = aws_security_group.this[0].id
  description       = "HTTPS to the VPC endpoints"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  count = var.create_security_group ? 1 : 0

  security_group_id = aws_security_group.this[0].id
  description       = "HTTPS to S3 through the gateway endpoint (model artefacts, data capture)"
  prefix_list_id    = data.aws_prefix_list.s3.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
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
  name                 = "${var.name}-sagemaker-execution"
  permissions_boundary = var.permissions_boundary_arn
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
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource = local.image_repo_arn
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
        }], local.capture_bucket == null ? [] : [{
        Effect   = "Allow"
        Action   = "s3:PutObject"
        Resource = "arn:${data.aws_partition.current.partition}:s3:::${local.capture_bucket}/*"
        }], length(var.bucket_kms_key_arns) == 0 ? [] : [{
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.bucket_kms_key_arns
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
    security_group_ids = concat(var.security_group_ids, aws_security_group.this[*].id)
  }

  tags = local.tags
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  # checkov:skip=CKV_AWS_98:kms_key_arn is always set (local.kms_key_arn); the plan scan cannot see a key created in the same apply.
  name        = var.name
  kms_key_arn = local.kms_key_arn

  production_variants {
    variant_name           = "primary"
    model_name             = aws_sagemaker_model.this.name
    instance_type          = var.instance_type
    initial_instance_count = var.initial_instance_count
  }

  dynamic "data_capture_config" {
    for_each = var.data_capture_s3_uri == null ? [] : [1]
    content {
      enable_capture              = true
      initial_sampling_percentage = var.data_capture_sampling_percentage
      destination_s3_uri          = var.data_capture_s3_uri
      kms_key_id                  = local.kms_key_arn

      capture_options {
        capture_mode = "Input"
      }
      capture_options {
        capture_mode = "Output"
      }

      capture_content_type_header {
        json_content_types = ["application/json"]
      }
    }
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

# Scale the variant on invocations per instance (the metric SageMaker publishes per variant).
# https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-code-define.html
resource "aws_appautoscaling_target" "this" {
  count = var.create_endpoint && var.autoscaling != null ? 1 : 0

  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this[0].name}/variant/primary"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity
  tags               = local.tags
}

resource "aws_appautoscaling_policy" "this" {
  count = var.create_endpoint && var.autoscaling != null ? 1 : 0

  name               = "${var.name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.target_invocations_per_instance
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
    scale_out_cooldown = var.autoscaling.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
