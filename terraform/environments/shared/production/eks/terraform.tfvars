node_groups = {
  system = { instance_types = ["m6i.xlarge"], min_size = 3, max_size = 6, desired_size = 3 }
}
