provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "lambda" {
  source = "../.."

  function_name      = "team-example-prompt-router"
  s3_bucket          = "team-example-staging-artifacts-123456789012"
  s3_key             = "lambda/prompt-router.zip"
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids = ["sg-0123456789abcdef0"]
  environment        = { MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0" }
}

output "function_arn" {
  value = module.lambda.function_arn
}
