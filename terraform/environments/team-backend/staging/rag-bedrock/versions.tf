terraform {
  # S3-native state locking (backend use_lockfile) needs Terraform 1.10 or later.
  required_version = ">= 1.10, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.100.0"
    }
  }
}
