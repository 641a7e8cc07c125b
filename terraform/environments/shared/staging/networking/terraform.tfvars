az_count = 2
vpc_cidrs = {
  us-east-1    = "10.0.0.0/16"
  us-west-2    = "10.1.0.0/16"
  eu-west-1    = "10.2.0.0/16"
  eu-central-1 = "10.3.0.0/16"
}
