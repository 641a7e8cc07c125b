# A private-only VPC in every region of the account (module calls switched on by var.regions), with the VPC
# endpoints workloads need instead of internet egress, and flow logs.

module "us_east_1" {
  source    = "../../../../modules/networking"
  count     = contains(var.regions, "us-east-1") ? 1 : 0
  providers = { aws = aws.us_east_1 }

  name                              = "${var.team}-${var.stage}-us-east-1"
  cidr_block                        = var.vpc_cidrs["us-east-1"]
  az_count                          = var.az_count
  enable_bedrock_runtime_endpoint   = var.enable_bedrock_runtime_endpoint
  enable_sagemaker_runtime_endpoint = var.enable_sagemaker_runtime_endpoint
  flow_log_retention_days           = var.flow_log_retention_days
  subnet_tags                       = { "kubernetes.io/role/internal-elb" = "1", "karpenter.sh/discovery" = "${var.team}-${var.stage}" }
  permissions_boundary_arn          = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}

module "us_west_2" {
  source    = "../../../../modules/networking"
  count     = contains(var.regions, "us-west-2") ? 1 : 0
  providers = { aws = aws.us_west_2 }

  name                              = "${var.team}-${var.stage}-us-west-2"
  cidr_block                        = var.vpc_cidrs["us-west-2"]
  az_count                          = var.az_count
  enable_bedrock_runtime_endpoint   = var.enable_bedrock_runtime_endpoint
  enable_sagemaker_runtime_endpoint = var.enable_sagemaker_runtime_endpoint
  flow_log_retention_days           = var.flow_log_retention_days
  subnet_tags                       = { "kubernetes.io/role/internal-elb" = "1", "karpenter.sh/discovery" = "${var.team}-${var.stage}" }
  permissions_boundary_arn          = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}

module "eu_west_1" {
  source    = "../../../../modules/networking"
  count     = contains(var.regions, "eu-west-1") ? 1 : 0
  providers = { aws = aws.eu_west_1 }

  name                              = "${var.team}-${var.stage}-eu-west-1"
  cidr_block                        = var.vpc_cidrs["eu-west-1"]
  az_count                          = var.az_count
  enable_bedrock_runtime_endpoint   = var.enable_bedrock_runtime_endpoint
  enable_sagemaker_runtime_endpoint = var.enable_sagemaker_runtime_endpoint
  flow_log_retention_days           = var.flow_log_retention_days
  subnet_tags                       = { "kubernetes.io/role/internal-elb" = "1", "karpenter.sh/discovery" = "${var.team}-${var.stage}" }
  permissions_boundary_arn          = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}

module "eu_central_1" {
  source    = "../../../../modules/networking"
  count     = contains(var.regions, "eu-central-1") ? 1 : 0
  providers = { aws = aws.eu_central_1 }

  name                              = "${var.team}-${var.stage}-eu-central-1"
  cidr_block                        = var.vpc_cidrs["eu-central-1"]
  az_count                          = var.az_count
  enable_bedrock_runtime_endpoint   = var.enable_bedrock_runtime_endpoint
  enable_sagemaker_runtime_endpoint = var.enable_sagemaker_runtime_endpoint
  flow_log_retention_days           = var.flow_log_retention_days
  subnet_tags                       = { "kubernetes.io/role/internal-elb" = "1", "karpenter.sh/discovery" = "${var.team}-${var.stage}" }
  permissions_boundary_arn          = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}
