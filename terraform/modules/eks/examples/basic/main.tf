provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "eks" {
  source = "../.."

  cluster_name = "team-example-staging"
  vpc_id       = "vpc-0123456789abcdef0"
  subnet_ids   = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  node_groups = {
    system    = { instance_types = ["m6i.large"], min_size = 2, desired_size = 2 }
    inference = { instance_types = ["g5.2xlarge"], min_size = 0, desired_size = 0, max_size = 4, gpu = true }
  }
}

output "oidc_provider_arn" {
  value = module.eks.oidc_provider_arn
}
