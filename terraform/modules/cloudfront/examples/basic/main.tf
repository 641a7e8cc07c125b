provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "cloudfront" {
  source = "../.."

  name               = "team-example-web"
  origin_bucket_name = "team-example-staging-web-123456789012"
}

output "distribution_domain_name" {
  value = module.cloudfront.distribution_domain_name
}
