locals {
  tags = merge(var.tags, { "vend:module" = "ecs" })
  gpu  = var.enable_gpu_capacity ? 1 : 0
}

data "aws_partition" "current" {}

# The provider's default_tags never reach an Auto Scaling group (nor, through it, what it launches); the group carries
# them as tag blocks, so its cost tags are the account's like every other resource's.
data "aws_default_tags" "current" {}

data "aws_ssm_parameter" "gpu_ami" {
  count = local.gpu

  name = "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
}

resource "aws_ecs_cluster" "this" {
  name = var.cluster_name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = local.tags
}

resource "aws_iam_role" "instance" {
  count = local.gpu

  permissions_boundary = var.permissions_boundary_arn
  name                 = "${var.cluster_name}-gpu-instance"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "instance" {
  for_each = var.enable_gpu_capacity ? toset(["service-role/AmazonEC2ContainerServiceforEC2Role", "AmazonSSMManagedInstanceCore"]) : toset([])

  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.key}"
}

resource "aws_iam_instance_profile" "instance" {
  count = local.gpu

  name = "${var.cluster_name}-gpu-instance"
  role = aws_iam_role.instance[0].name
  tags = local.tags
}

resource "aws_launch_template" "gpu" {
  count = local.gpu

  name_prefix   = "${var.cluster_name}-gpu-"
  image_id      = data.aws_ssm_parameter.gpu_ami[0].value
  instance_type = var.gpu_instance_type
  user_data     = base64encode("#!/bin/bash\necho ECS_CLUSTER=${aws_ecs_cluster.this.name} >> /etc/ecs/ecs.config\necho ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config\n")

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance[0].arn
  }

  vpc_security_group_ids = var.security_group_ids

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1 # tasks use the ECS agent for credentials, never IMDS
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 100
      volume_type = "gp3"
      encrypted   = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = local.tags
  }

  tags = local.tags
}

resource "aws_autoscaling_group" "gpu" {
  count = local.gpu

  name_prefix           = "${var.cluster_name}-gpu-"
  min_size              = var.gpu_min_size
  max_size              = var.gpu_max_size
  vpc_zone_identifier   = var.subnet_ids
  protect_from_scale_in = true

  launch_template {
    id      = aws_launch_template.gpu[0].id
    version = "$Latest"
  }

  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  dynamic "tag" {
    for_each = merge(data.aws_default_tags.current.tags, local.tags)
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

resource "aws_ecs_capacity_provider" "gpu" {
  count = local.gpu

  name = "${var.cluster_name}-gpu"

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.gpu[0].arn
    managed_termination_protection = "ENABLED"

    managed_scaling {
      status          = "ENABLED"
      target_capacity = 100
    }
  }

  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = concat(["FARGATE", "FARGATE_SPOT"], aws_ecs_capacity_provider.gpu[*].name)

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}
