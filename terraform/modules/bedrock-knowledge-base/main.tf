data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition           = data.aws_partition.current.partition
  account_id          = data.aws_caller_identity.current.account_id
  region              = data.aws_region.current.name
  tags                = merge(var.tags, { "vend:module" = "bedrock-knowledge-base" })
  embedding_model_arn = "arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.embedding_model_id}"
  collection_arn      = aws_opensearchserverless_collection.this.arn
}

# OpenSearch Serverless needs its encryption policy before the collection exists, and the network and data access
# policies before anyone can reach it.
resource "aws_opensearchserverless_security_policy" "encryption" {
  name        = "${var.collection_name}-enc"
  type        = "encryption"
  description = "Encryption of ${var.collection_name}"
  policy = jsonencode(merge(
    { Rules = [{ ResourceType = "collection", Resource = ["collection/${var.collection_name}"] }] },
    var.kms_key_arn == null ? { AWSOwnedKey = true } : { AWSOwnedKey = false, KmsARN = var.kms_key_arn },
  ))
}

# Private collection: reachable from Bedrock (SourceServices) and from the given VPC endpoints only.
resource "aws_opensearchserverless_security_policy" "network" {
  name        = "${var.collection_name}-net"
  type        = "network"
  description = "Private access to ${var.collection_name}"
  policy = jsonencode([merge({
    Rules = [
      { ResourceType = "collection", Resource = ["collection/${var.collection_name}"] },
    ]
    AllowFromPublic = false
    SourceServices  = ["bedrock.amazonaws.com"]
  }, length(var.source_vpc_endpoint_ids) > 0 ? { SourceVPCEs = var.source_vpc_endpoint_ids } : {})])
}

resource "aws_opensearchserverless_access_policy" "this" {
  name        = "${var.collection_name}-data"
  type        = "data"
  description = "The knowledge base role reads and writes vectors; index admins create the vector index."
  policy = jsonencode([{
    Rules = [
      {
        ResourceType = "collection"
        Resource     = ["collection/${var.collection_name}"]
        Permission   = ["aoss:DescribeCollectionItems", "aoss:CreateCollectionItems", "aoss:UpdateCollectionItems"]
      },
      {
        ResourceType = "index"
        Resource     = ["index/${var.collection_name}/*"]
        Permission   = ["aoss:DescribeIndex", "aoss:ReadDocument", "aoss:WriteDocument", "aoss:CreateIndex", "aoss:UpdateIndex"]
      },
    ]
    Principal = concat([aws_iam_role.this.arn], var.index_admin_principal_arns)
  }])
}

resource "aws_opensearchserverless_collection" "this" {
  name             = var.collection_name
  type             = "VECTORSEARCH"
  description      = "Vector store of the ${var.name} knowledge base"
  standby_replicas = var.standby_replicas ? "ENABLED" : "DISABLED"
  tags             = local.tags

  depends_on = [aws_opensearchserverless_security_policy.encryption, aws_opensearchserverless_security_policy.network]
}

resource "aws_iam_role" "this" {
  name                 = "${var.name}-knowledge-base"
  permissions_boundary = var.permissions_boundary_arn
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "bedrock.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:knowledge-base/*" }
      }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "this" {
  name = "knowledge-base"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "Embed"
        Effect   = "Allow"
        Action   = "bedrock:InvokeModel"
        Resource = local.embedding_model_arn
      },
      {
        Sid      = "VectorStore"
        Effect   = "Allow"
        Action   = "aoss:APIAccessAll"
        Resource = local.collection_arn
      },
      {
        Sid      = "ListSource"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = var.source_bucket_arn
        Condition = {
          StringEquals = { "aws:ResourceAccount" = local.account_id }
        }
      },
      {
        Sid      = "ReadSource"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = length(var.source_prefixes) == 0 ? ["${var.source_bucket_arn}/*"] : [for p in var.source_prefixes : "${var.source_bucket_arn}/${p}*"]
        Condition = {
          StringEquals = { "aws:ResourceAccount" = local.account_id }
        }
      },
      ], var.source_kms_key_arn == null ? [] : [{
        Sid      = "DecryptSource"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.source_kms_key_arn
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${local.region}.amazonaws.com" }
        }
    }])
  })
}

# The vector index must exist in the collection before the knowledge base is created, and the AWS provider cannot
# create one (that needs the opensearch provider or an API call). create_knowledge_base stays false until it exists.
resource "aws_bedrockagent_knowledge_base" "this" {
  count = var.create_knowledge_base ? 1 : 0

  name        = var.name
  description = "Knowledge base ${var.name} over s3 source ${var.source_bucket_arn}"
  role_arn    = aws_iam_role.this.arn

  knowledge_base_configuration {
    type = "VECTOR"
    vector_knowledge_base_configuration {
      embedding_model_arn = local.embedding_model_arn
    }
  }

  storage_configuration {
    type = "OPENSEARCH_SERVERLESS"
    opensearch_serverless_configuration {
      collection_arn    = local.collection_arn
      vector_index_name = var.vector_index_name
      field_mapping {
        vector_field   = var.vector_field
        text_field     = "AMAZON_BEDROCK_TEXT_CHUNK"
        metadata_field = "AMAZON_BEDROCK_METADATA"
      }
    }
  }

  tags       = local.tags
  depends_on = [aws_iam_role_policy.this, aws_opensearchserverless_access_policy.this]
}

resource "aws_bedrockagent_data_source" "this" {
  count = var.create_knowledge_base ? 1 : 0

  knowledge_base_id    = aws_bedrockagent_knowledge_base.this[0].id
  name                 = "${var.name}-s3"
  data_deletion_policy = "DELETE"

  data_source_configuration {
    type = "S3"
    s3_configuration {
      bucket_arn         = var.source_bucket_arn
      inclusion_prefixes = length(var.source_prefixes) == 0 ? null : var.source_prefixes
    }
  }

  dynamic "server_side_encryption_configuration" {
    for_each = var.source_kms_key_arn == null ? [] : [1]
    content {
      kms_key_arn = var.source_kms_key_arn
    }
  }

  vector_ingestion_configuration {
    chunking_configuration {
      chunking_strategy = "FIXED_SIZE"
      fixed_size_chunking_configuration {
        max_tokens         = var.chunk_max_tokens
        overlap_percentage = var.chunk_overlap_percentage
      }
    }
  }
}
