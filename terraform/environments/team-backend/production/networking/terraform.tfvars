az_count                          = 3
enable_bedrock_runtime_endpoint   = true
enable_sagemaker_runtime_endpoint = true
vpc_cidrs = {
  us-east-1    = "10.100.0.0/16"
  us-west-2    = "10.101.0.0/16"
  eu-west-1    = "10.102.0.0/16"
  eu-central-1 = "10.103.0.0/16"
}
