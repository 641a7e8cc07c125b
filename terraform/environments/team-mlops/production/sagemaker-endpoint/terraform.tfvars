# Rendered from terraform/templates/workloads/sagemaker-endpoint for team-mlops (production, GPU tier training).
autoscaling        = { min_capacity = 2, max_capacity = 6, target_invocations_per_instance = 10 }
az_count           = 2
create_endpoint    = false
enable_nat_gateway = false
image_uri          = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04"
instance_type      = "ml.g5.12xlarge"
model_key          = "models/llm/model.tar.gz"
vpc_cidr           = "10.21.64.0/18"
