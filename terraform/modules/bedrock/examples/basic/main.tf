provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "bedrock" {
  source = "../.."

  name              = "team-example-staging"
  allowed_model_ids = ["anthropic.claude-3-5-sonnet-20240620-v1:0", "amazon.titan-embed-text-v2:0"]
  denied_topics = {
    investment-advice = { definition = "Recommendations about buying or selling financial products.", examples = ["Which stock should I buy?"] }
  }
}

output "invoke_policy_arn" {
  value = module.bedrock.invoke_policy_arn
}
