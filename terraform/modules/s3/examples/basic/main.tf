provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "bucket" {
  source = "../.."

  name = "team-example-staging-data-123456789012"
  tags = { purpose = "training-data" }
}

output "bucket_arn" {
  value = module.bucket.bucket_arn
}
