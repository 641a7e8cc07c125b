# A real-time LLM endpoint: its own private VPC (network; CIDR from the team's block in landing_zone/layout.yaml,
# interface endpoints instead of egress), a bucket for the model artefact and captured data (models), and the
# endpoint (endpoint) in the private subnets behind its own security group, scaled on invocations per instance.
# The instance type is checked against the team's GPU tier here (module precondition) and in the policy stage.

module "network" {
  source = "../../../../modules/networking"

  name                              = "${trim(substr(var.team, 0, 36), "-")}-llm"
  cidr_block                        = var.vpc_cidr
  az_count                          = var.az_count
  interface_endpoints               = ["sagemaker.api", "ecr.api", "ecr.dkr", "logs", "sts", "kms", "monitoring"]
  enable_sagemaker_runtime_endpoint = true
  enable_nat_gateway                = var.enable_nat_gateway
  permissions_boundary_arn          = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}

module "models" {
  source = "../../../../modules/s3"

  name = "${var.team}-llm-${var.account_id}"
  tags = { purpose = "model-artefacts" }
}

module "endpoint" {
  source = "../../../../modules/sagemaker"

  name                     = "${trim(substr(var.team, 0, 36), "-")}-llm"
  gpu_tier                 = var.gpu_tier
  image_uri                = var.image_uri
  model_data_url           = "s3://${module.models.bucket_id}/${var.model_key}"
  instance_type            = var.instance_type
  subnet_ids               = module.network.private_subnet_ids
  vpc_id                   = module.network.vpc_id
  vpc_cidr_block           = var.vpc_cidr
  model_bucket_arn         = module.models.bucket_arn
  bucket_kms_key_arns      = [module.models.kms_key_arn]
  data_capture_s3_uri      = "s3://${module.models.bucket_id}/data-capture/"
  autoscaling              = var.autoscaling
  create_endpoint          = var.create_endpoint
  permissions_boundary_arn = coalesce(var.permissions_boundary_arn, "arn:aws:iam::${var.account_id}:policy/VendingCIBoundary")
}
