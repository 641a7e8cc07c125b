provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "baseline" {
  source = "../.."

  team        = "team-example"
  stage       = "staging"
  cost_center = "CC-0000"
  gpu_tier    = "inference"
  regions     = ["us-east-1", "us-west-2"]
}

output "log_group_name" {
  value = module.baseline.log_group_name
}
