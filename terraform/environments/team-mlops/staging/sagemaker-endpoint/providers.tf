locals {
  stack = basename(abspath(path.root))
}

provider "aws" {
  region              = var.regions[0]
  allowed_account_ids = [var.account_id]
  s3_use_path_style   = var.s3_use_path_style

  default_tags {
    tags = {
      team          = var.team
      stage         = var.stage
      stack         = local.stack
      "cost-center" = var.cost_center
      "managed-by"  = "terraform"
    }
  }
}
