provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "networking" {
  source = "../.."

  name                            = "team-example-staging"
  cidr_block                      = "10.20.0.0/16"
  az_count                        = 3
  enable_bedrock_runtime_endpoint = true
  subnet_tags                     = { "kubernetes.io/role/internal-elb" = "1" }
}

output "private_subnet_ids" {
  value = module.networking.private_subnet_ids
}
