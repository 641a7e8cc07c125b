provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "bedrock" {
  source = "../.."

  name                     = "team-example-staging"
  allowed_model_ids        = ["amazon.titan-embed-text-v2:0"]
  inference_profile_ids    = ["us.anthropic.claude-3-5-sonnet-20240620-v1:0"]
  permissions_boundary_arn = "arn:aws:iam::123456789012:policy/VendingCIBoundary"
  denied_topics = {
    investment-advice = { definition = "Recommendations about buying or selling financial products.", examples = ["Which stock should I buy?"] }
  }
}

output "invoke_policy_arn" {
  value = module.bedrock.invoke_policy_arn
}
