# One aliased provider per region of the organization's allow-list: Terraform cannot for_each over providers, so a
# stack that builds something in every region of the account declares them all and switches modules on with count.

provider "aws" {
  alias               = "us_east_1"
  region              = "us-east-1"
  allowed_account_ids = [var.account_id]
  s3_use_path_style   = var.s3_use_path_style

  default_tags {
    tags = { team = var.team, stage = var.stage, stack = local.stack, "cost-center" = var.cost_center, "managed-by" = "terraform" }
  }
}

provider "aws" {
  alias               = "us_west_2"
  region              = "us-west-2"
  allowed_account_ids = [var.account_id]
  s3_use_path_style   = var.s3_use_path_style

  default_tags {
    tags = { team = var.team, stage = var.stage, stack = local.stack, "cost-center" = var.cost_center, "managed-by" = "terraform" }
  }
}

provider "aws" {
  alias               = "eu_west_1"
  region              = "eu-west-1"
  allowed_account_ids = [var.account_id]
  s3_use_path_style   = var.s3_use_path_style

  default_tags {
    tags = { team = var.team, stage = var.stage, stack = local.stack, "cost-center" = var.cost_center, "managed-by" = "terraform" }
  }
}

provider "aws" {
  alias               = "eu_central_1"
  region              = "eu-central-1"
  allowed_account_ids = [var.account_id]
  s3_use_path_style   = var.s3_use_path_style

  default_tags {
    tags = { team = var.team, stage = var.stage, stack = local.stack, "cost-center" = var.cost_center, "managed-by" = "terraform" }
  }
}
