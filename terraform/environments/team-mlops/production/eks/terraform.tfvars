node_groups = {
  system   = { instance_types = ["m6i.xlarge"], min_size = 3, max_size = 6, desired_size = 3 }
  gpu      = { instance_types = ["g5.12xlarge"], min_size = 0, max_size = 8, desired_size = 0, disk_size = 500 }
  training = { instance_types = ["p4d.24xlarge"], min_size = 0, max_size = 2, desired_size = 0, disk_size = 1000 }
}
