provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "sagemaker" {
  source = "../.."

  name               = "team-example-llm"
  gpu_tier           = "inference"
  instance_type      = "ml.g5.2xlarge"
  image_uri          = "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm-serving:latest"
  model_data_url     = "s3://team-example-staging-artifacts-123456789012/models/llm/model.tar.gz"
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids = ["sg-0123456789abcdef0"]
}

output "endpoint_name" {
  value = module.sagemaker.endpoint_name
}
