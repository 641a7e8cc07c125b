provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "glue" {
  source = "../.."

  database_name    = "team_example_datasets"
  crawler_s3_paths = ["s3://team-example-staging-data-123456789012/datasets/"]
  data_bucket_arns = ["arn:aws:s3:::team-example-staging-data-123456789012"]
  crawler_schedule = "cron(0 3 * * ? *)"
}

output "crawler_name" {
  value = module.glue.crawler_name
}
