data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition   = data.aws_partition.current.partition
  account_id  = data.aws_caller_identity.current.account_id
  region      = data.aws_region.current.name
  kms_key_arn = var.kms_key_arn == null ? aws_kms_key.this[0].arn : var.kms_key_arn
  tags        = merge(var.tags, { "vend:module" = "bedrock" })
  model_arns  = [for m in var.allowed_model_ids : "arn:${local.partition}:bedrock:${local.region}::foundation-model/${m}"]
  # A cross-region inference profile (us.anthropic..., eu.meta...) routes to the foundation model in any region of its
  # geography, so the caller needs InvokeModel on the profile and on the model in those regions.
  # https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html
  profile_arns         = [for p in var.inference_profile_ids : "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${p}"]
  profile_model_arns   = [for p in var.inference_profile_ids : "arn:${local.partition}:bedrock:*::foundation-model/${join(".", slice(split(".", p), 1, length(split(".", p))))}"]
  invoke_resource_arns = distinct(concat(local.model_arns, local.profile_arns, local.profile_model_arns))
  filters              = ["HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"]
  pii                  = ["EMAIL", "PHONE", "NAME", "ADDRESS", "CREDIT_DEBIT_CARD_NUMBER", "US_SOCIAL_SECURITY_NUMBER", "AWS_ACCESS_KEY", "AWS_SECRET_KEY"]
}

resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name}: Bedrock guardrail and invocation logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/bedrock/${var.name}/*" }
        }
      },
    ]
  })
  tags = local.tags
}

resource "aws_cloudwatch_log_group" "this" {
  count = var.invocation_logging ? 1 : 0

  name              = "/bedrock/${var.name}/invocations"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_iam_role" "logging" {
  count = var.invocation_logging ? 1 : 0

  name                 = "${var.name}-bedrock-logging"
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "bedrock.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:*" }
      }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "logging" {
  count = var.invocation_logging ? 1 : 0

  name = "write-invocation-logs"
  role = aws_iam_role.logging[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.this[0].arn}:log-stream:*"
    }]
  })
}

# One per account and region: Bedrock keeps a single invocation logging configuration.
resource "aws_bedrock_model_invocation_logging_configuration" "this" {
  count = var.invocation_logging ? 1 : 0

  logging_config {
    text_data_delivery_enabled      = true
    embedding_data_delivery_enabled = false
    image_data_delivery_enabled     = false

    cloudwatch_config {
      log_group_name = aws_cloudwatch_log_group.this[0].name
      role_arn       = aws_iam_role.logging[0].arn
    }
  }

  depends_on = [aws_iam_role_policy.logging]
}

resource "aws_bedrock_guardrail" "this" {
  name                      = "${var.name}-guardrail"
  description               = "Default guardrail of ${var.name}"
  blocked_input_messaging   = "This request is not allowed by the platform's guardrail."
  blocked_outputs_messaging = "The response was blocked by the platform's guardrail."
  kms_key_arn               = local.kms_key_arn

  content_policy_config {
    dynamic "filters_config" {
      for_each = local.filters
      content {
        type            = filters_config.value
        input_strength  = var.content_filter_strength
        output_strength = var.content_filter_strength
      }
    }
    filters_config {
      type            = "PROMPT_ATTACK"
      input_strength  = var.content_filter_strength
      output_strength = "NONE"
    }
  }

  sensitive_information_policy_config {
    dynamic "pii_entities_config" {
      for_each = local.pii
      content {
        type   = pii_entities_config.value
        action = startswith(pii_entities_config.value, "AWS_") ? "BLOCK" : var.pii_action
      }
    }
  }

  dynamic "topic_policy_config" {
    for_each = length(var.denied_topics) > 0 ? [1] : []
    content {
      dynamic "topics_config" {
        for_each = var.denied_topics
        content {
          name       = topics_config.key
          definition = topics_config.value.definition
          examples   = topics_config.value.examples
          type       = "DENY"
        }
      }
    }
  }

  tags = local.tags
}

resource "aws_bedrock_guardrail_version" "this" {
  guardrail_arn = aws_bedrock_guardrail.this.guardrail_arn
  description   = "Managed by Terraform"
}

resource "aws_iam_policy" "invoke" {
  count = length(var.allowed_model_ids) + length(var.inference_profile_ids) > 0 ? 1 : 0

  name        = "${var.name}-bedrock-invoke"
  description = "Invoke only the allowed models and inference profiles${var.require_guardrail ? ", through the guardrail" : ""}."
  # The Converse API has no IAM actions of its own: Converse and ConverseStream are authorized as bedrock:InvokeModel
  # and bedrock:InvokeModelWithResponseStream. https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      merge({
        Sid      = "InvokeAllowedModels"
        Effect   = "Allow"
        Action   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource = local.invoke_resource_arns
        }, var.require_guardrail ? {
        Condition = { StringEquals = { "bedrock:GuardrailIdentifier" = "${aws_bedrock_guardrail.this.guardrail_arn}:${aws_bedrock_guardrail_version.this.version}" } }
      } : {}),
      {
        Sid      = "ApplyGuardrail"
        Effect   = "Allow"
        Action   = "bedrock:ApplyGuardrail"
        Resource = aws_bedrock_guardrail.this.guardrail_arn
      },
      ], length(var.knowledge_base_arns) == 0 ? [] : [
      {
        Sid      = "RetrieveFromKnowledgeBases"
        Effect   = "Allow"
        Action   = ["bedrock:Retrieve", "bedrock:RetrieveAndGenerate"]
        Resource = var.knowledge_base_arns
      },
    ])
  })
  tags = local.tags
}
