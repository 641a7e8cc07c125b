az_count                          = 3
enable_bedrock_runtime_endpoint   = true
enable_sagemaker_runtime_endpoint = true
vpc_cidrs = {
  us-east-1    = "10.19.0.0/20"
  us-west-2    = "10.19.16.0/20"
  eu-west-1    = "10.19.32.0/20"
  eu-central-1 = "10.19.48.0/20"
}
