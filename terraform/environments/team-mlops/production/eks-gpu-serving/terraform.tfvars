# Rendered from terraform/templates/workloads/eks-gpu-serving for team-mlops (production, GPU tier training).
az_count           = 3
enable_nat_gateway = false
kubernetes_version = "1.33"
metadata_hop_limit = 1
vpc_cidr           = "10.21.128.0/18"
node_groups = {
  system   = { instance_types = ["m6i.xlarge"], min_size = 3, max_size = 6, desired_size = 3 }
  nvidia   = { instance_types = ["g5.12xlarge", "g6e.12xlarge"], min_size = 0, max_size = 8, desired_size = 0, disk_size = 500 }
  neuron   = { instance_types = ["inf2.8xlarge"], min_size = 0, max_size = 4, desired_size = 0, disk_size = 500 }
  p4d      = { instance_types = ["p4d.24xlarge"], min_size = 0, max_size = 2, desired_size = 0, disk_size = 1000, efa = true }
  trainium = { instance_types = ["trn1.32xlarge"], min_size = 0, max_size = 2, desired_size = 0, disk_size = 1000, efa = true }
}
