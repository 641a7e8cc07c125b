node_groups = {
  system = { instance_types = ["m6i.large"], min_size = 2, max_size = 4, desired_size = 2 }
  gpu    = { instance_types = ["g5.2xlarge"], min_size = 0, max_size = 2, desired_size = 0, disk_size = 200 }
}
