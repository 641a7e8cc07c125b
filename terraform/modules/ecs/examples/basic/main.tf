provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "ecs" {
  source = "../.."

  cluster_name        = "team-example-llm"
  enable_gpu_capacity = true
  gpu_instance_type   = "g5.xlarge"
  subnet_ids          = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids  = ["sg-0123456789abcdef0"]
}

output "cluster_arn" {
  value = module.ecs.cluster_arn
}
