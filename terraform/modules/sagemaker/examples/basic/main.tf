provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "sagemaker" {
  source = "../.."

  name                     = "team-example-llm"
  gpu_tier                 = "inference"
  instance_type            = "ml.g5.2xlarge"
  image_uri                = "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm-serving:latest"
  model_data_url           = "s3://team-example-staging-artifacts-123456789012/models/llm/model.tar.gz"
  subnet_ids               = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  vpc_id                   = "vpc-0123456789abcdef0"
  vpc_cidr_block           = "10.20.64.0/18"
  model_bucket_arn         = "arn:aws:s3:::team-example-staging-artifacts-123456789012"
  data_capture_s3_uri      = "s3://team-example-staging-artifacts-123456789012/data-capture/"
  autoscaling              = { min_capacity = 1, max_capacity = 4, target_invocations_per_instance = 20 }
  permissions_boundary_arn = "arn:aws:iam::123456789012:policy/VendingCIBoundary"
}

output "endpoint_name" {
  value = module.sagemaker.endpoint_name
}
