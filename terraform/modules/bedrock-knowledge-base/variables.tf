variable "name" {
  description = "Name of the knowledge base and prefix of its role."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits and hyphens."
  }
}

variable "collection_name" {
  description = "OpenSearch Serverless collection holding the vectors (3-28 characters, so its policy names stay within 32)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.collection_name))
    error_message = "collection_name must be 3-28 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "source_bucket_arn" {
  description = "S3 bucket holding the documents the knowledge base ingests."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.source_bucket_arn))
    error_message = "source_bucket_arn must be an S3 bucket ARN."
  }
}

variable "source_prefixes" {
  description = "Key prefixes ingested from the source bucket (empty: the whole bucket)."
  type        = list(string)
  default     = []
}

variable "source_kms_key_arn" {
  description = "KMS key encrypting the source bucket (decrypt access for the knowledge base role). Null: not KMS-encrypted."
  type        = string
  default     = null
}

variable "embedding_model_id" {
  description = "Bedrock embedding model the knowledge base embeds documents and queries with."
  type        = string
  default     = "amazon.titan-embed-text-v2:0"

  validation {
    condition     = contains(["amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v1", "cohere.embed-english-v3", "cohere.embed-multilingual-v3"], var.embedding_model_id)
    error_message = "embedding_model_id must be an embedding model Bedrock knowledge bases support (titan-embed-text v1/v2, cohere.embed v3)."
  }
}

variable "vector_index_name" {
  description = "Vector index in the collection (created outside this module, see README)."
  type        = string
  default     = "bedrock-knowledge-base-index"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]{0,254}$", var.vector_index_name))
    error_message = "vector_index_name must be a lowercase OpenSearch index name."
  }
}

variable "vector_field" {
  description = "knn_vector field of the index."
  type        = string
  default     = "bedrock-knowledge-base-default-vector"
}

variable "create_knowledge_base" {
  description = "Create the knowledge base and its S3 data source. Needs the vector index to exist in the collection first."
  type        = bool
  default     = false
}

variable "index_admin_principal_arns" {
  description = "IAM principals allowed to create and manage the vector index (data access policy)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.index_admin_principal_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$", a))])
    error_message = "index_admin_principal_arns must be IAM principal ARNs."
  }
}

variable "source_vpc_endpoint_ids" {
  description = "OpenSearch Serverless VPC endpoints (vpce-...) that may reach the collection besides Bedrock."
  type        = list(string)
  default     = []
}

variable "standby_replicas" {
  description = "Standby replicas in a second AZ (production); off halves the minimum OCUs for staging."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer managed key for the collection. Null uses an AWS owned key."
  type        = string
  default     = null
}

variable "chunk_max_tokens" {
  description = "Maximum tokens per chunk (fixed-size chunking)."
  type        = number
  default     = 300

  validation {
    condition     = var.chunk_max_tokens >= 20 && var.chunk_max_tokens <= 8192
    error_message = "chunk_max_tokens must be between 20 and 8192."
  }
}

variable "chunk_overlap_percentage" {
  description = "Overlap between consecutive chunks, in percent."
  type        = number
  default     = 20

  validation {
    condition     = var.chunk_overlap_percentage >= 1 && var.chunk_overlap_percentage <= 99
    error_message = "chunk_overlap_percentage must be between 1 and 99."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the IAM role this module creates (the vended CI role may only create roles that carry it)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
