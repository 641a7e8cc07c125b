provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = { team = "team-example", stage = "staging", stack = "example", "cost-center" = "CC-0000" }
  }
}

module "eks" {
  source = "../.."

  cluster_name             = "team-example-staging"
  vpc_id                   = "vpc-0123456789abcdef0"
  subnet_ids               = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  permissions_boundary_arn = "arn:aws:iam::123456789012:policy/VendingCIBoundary"
  node_groups = {
    system   = { instance_types = ["m6i.large"], min_size = 2, desired_size = 2 }
    nvidia   = { instance_types = ["g5.2xlarge", "g6.2xlarge"], min_size = 0, desired_size = 0, max_size = 4, disk_size = 200 }
    neuron   = { instance_types = ["inf2.xlarge"], min_size = 0, desired_size = 0, max_size = 2 }
    training = { instance_types = ["p5.48xlarge"], min_size = 0, desired_size = 0, max_size = 2, efa = true, disk_size = 1000 }
  }
  access_entries = {
    platform-admins = { principal_arn = "arn:aws:iam::123456789012:role/PlatformAdmin", policy = "AmazonEKSClusterAdminPolicy" }
    ml-engineers    = { principal_arn = "arn:aws:iam::123456789012:role/MlEngineer", policy = "AmazonEKSEditPolicy", namespaces = ["serving"] }
  }
  pod_identities = {
    model-server = {
      namespace       = "serving"
      service_account = "model-server"
      policy_arns     = ["arn:aws:iam::123456789012:policy/team-example-bedrock-invoke"]
    }
  }
}

output "cluster_name" {
  value = module.eks.cluster_name
}

output "node_group_ami_types" {
  value = module.eks.node_group_ami_types
}
