# Rendered from terraform/templates/workloads/eks-gpu-serving for team-mlops (staging, GPU tier training).
az_count           = 3
enable_nat_gateway = false
kubernetes_version = "1.33"
metadata_hop_limit = 1
vpc_cidr           = "10.20.128.0/18"
node_groups = {
  system = { instance_types = ["m6i.large"], min_size = 2, max_size = 4, desired_size = 2 }
  nvidia = { instance_types = ["g5.2xlarge", "g6.2xlarge"], min_size = 0, max_size = 2, desired_size = 0, disk_size = 200 }
  neuron = { instance_types = ["inf2.xlarge"], min_size = 0, max_size = 2, desired_size = 0, disk_size = 200 }
}
