"""The pipeline policy corpora (issue 20): Terraform stacks, violating and compliant, one per case, each planned for
real (`terraform plan` + `terraform show -json` against the hashicorp/aws provider from the mirror, no AWS calls) into
tests/pipeline/corpus/plans/<name>.json by `benchmarks/policy_corpus.py --regenerate`.

Every case names its class (the issue's item), the team's tier and regions, and for a violating case the rule that
must stop it. The stacks are written as a team would write them; several carry a `# checkov:skip` for the control
they break, which the policy stage must not honour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLASSES = {
    "controls": "controls a team cannot waive (open admin ports, public EKS endpoint, CloudTrail/GuardDuty off)",
    "gpu": "GPU and commitments by meaning (CodeBuild, AppStream, WorkSpaces, hosts, attribute-based selection, "
    "CloudFormation)",
    "tags": "tags: ASG tag blocks, the account's own team/stage/cost center",
    "regions": "regions: provider configurations and resource regions against the team's allow-list",
    "rules": "the rules themselves: crashes, false positives, unknown-at-plan values, condition values",
}


@dataclass(frozen=True)
class CorpusCase:
    name: str
    cls: str
    hcl: str
    rule: str | None = None  # the rule that must stop it; None = compliant
    tier: str = "none"
    team: str = "team-mlops"
    regions: tuple[str, ...] = ("us-east-1", "us-west-2")
    files: dict[str, str] = field(default_factory=dict)  # extra files (local modules), path -> text

    @property
    def violating(self) -> bool:
        return self.rule is not None


STAGE = "staging"
COST_CENTERS = {"team-mlops": "CC-1003", "team-backend": "CC-1002", "team-frontend": "CC-1001"}


def header(case: CorpusCase) -> str:
    """The stack's providers.tf as the templates write it: region from var.regions, default_tags from the run."""
    regions = ", ".join(f'"{r}"' for r in case.regions)
    return f"""terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws", version = "5.100.0" }}
  }}
}}

variable "regions" {{
  type    = list(string)
  default = [{regions}]
}}

provider "aws" {{
  region                      = var.regions[0]
  access_key                  = "corpus"
  secret_key                  = "corpus"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  default_tags {{
    tags = {{
      team          = "{case.team}"
      stage         = "{STAGE}"
      "cost-center" = "{COST_CENTERS[case.team]}"
    }}
  }}
}}
"""


ROLE = "arn:aws:iam::123456789012:role/service"
SUBNETS = '["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]'
T3_TEMPLATE = """
resource "aws_launch_template" "t3" {
  name_prefix   = "web-"
  image_id      = "ami-0123456789abcdef0"
  instance_type = "t3.micro"
}
"""
ASG_TAGS = """
  tag {
    key                 = "team"
    value               = "team-mlops"
    propagate_at_launch = true
  }
  tag {
    key                 = "stage"
    value               = "staging"
    propagate_at_launch = true
  }
  tag {
    key                 = "cost-center"
    value               = "CC-1003"
    propagate_at_launch = true
  }
"""
EKS_ROLE_AND_SUBNETS = f"""
  role_arn = "{ROLE}"
"""


def _sg(ingress: str, skip: str = "") -> str:
    return f"""
resource "aws_security_group" "admin" {{
  {skip}
  name        = "admin"
  description = "admin access"
  vpc_id      = "vpc-0123456789abcdef0"
  ingress {{
    description = "admin"
{ingress}
  }}
}}
"""


def _eks(vpc: str) -> str:
    return f"""
resource "aws_eks_cluster" "this" {{
  name     = "llm"
  role_arn = "{ROLE}"
  vpc_config {{
    subnet_ids = {SUBNETS}
{vpc}
  }}
}}
"""


def _codebuild(env_type: str, compute: str = "BUILD_GENERAL1_LARGE") -> str:
    return f"""
resource "aws_codebuild_project" "build" {{
  name         = "build"
  service_role = "{ROLE}"
  artifacts {{
    type = "NO_ARTIFACTS"
  }}
  environment {{
    compute_type = "{compute}"
    image        = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
    type         = "{env_type}"
  }}
  source {{
    type     = "GITHUB"
    location = "https://github.com/example-org/repo.git"
  }}
}}
"""


def _bucket_policy(condition: str) -> str:
    return f"""
resource "aws_s3_bucket" "site" {{
  bucket = "corpus-site"
}}

resource "aws_s3_bucket_policy" "site" {{
  bucket = aws_s3_bucket.site.id
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Sid       = "Public"
      Effect    = "Allow"
      Principal = "*"
      Action    = "s3:GetObject"
      Resource  = "arn:aws:s3:::corpus-site/*"
      Condition = {condition}
    }}]
  }})
}}

resource "aws_s3_bucket_public_access_block" "site" {{
  bucket                  = aws_s3_bucket.site.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}}
"""


def _lt_requirements(requirements: str, name: str = "abs") -> str:
    return f"""
resource "aws_launch_template" "{name}" {{
  name_prefix = "{name}-"
  image_id    = "ami-0123456789abcdef0"
  instance_requirements {{
    vcpu_count {{
      min = 4
    }}
    memory_mib {{
      min = 8192
    }}
{requirements}
  }}
}}
"""


def violating() -> list[CorpusCase]:
    c = "controls"
    cases = [
        CorpusCase(
            "open-ssh-with-checkov-skip",
            c,
            _sg(
                '    from_port   = 22\n    to_port     = 22\n    protocol    = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]',
                skip="# checkov:skip=CKV_AWS_24:bastion access for the team",
            ),
            "no-open-admin-ingress",
        ),
        CorpusCase(
            "rdp-ingress-rule-ipv6",
            c,
            """
resource "aws_vpc_security_group_ingress_rule" "rdp" {
  # checkov:skip=CKV_AWS_25:windows jump host
  security_group_id = "sg-0123456789abcdef0"
  cidr_ipv6         = "::/0"
  from_port         = 3389
  to_port           = 3389
  ip_protocol       = "tcp"
}
""",
            "no-open-admin-ingress",
        ),
        CorpusCase(
            "all-traffic-rule-split-internet",
            c,
            """
resource "aws_security_group_rule" "all" {
  type              = "ingress"
  security_group_id = "sg-0123456789abcdef0"
  from_port         = 0
  to_port           = 0
  protocol          = "-1"
  cidr_blocks       = ["0.0.0.0/1", "128.0.0.0/1"]
}
""",
            "no-open-admin-ingress",
        ),
        CorpusCase(
            "nacl-ssh-open",
            c,
            """
resource "aws_network_acl_rule" "ssh" {
  network_acl_id = "acl-0123456789abcdef0"
  rule_number    = 100
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 0
  to_port        = 1024
}
""",
            "no-open-admin-ingress",
        ),
        CorpusCase(
            "eks-endpoint-public-by-default",
            c,
            "# checkov:skip=CKV_AWS_39:needed from laptops\n" + _eks(""),
            "no-public-eks-endpoint",
        ),
        CorpusCase(
            "eks-endpoint-public-everywhere",
            c,
            _eks(
                "    endpoint_private_access = true\n    endpoint_public_access  = true\n"
                '    public_access_cidrs     = ["0.0.0.0/0"]'
            ),
            "no-public-eks-endpoint",
        ),
        CorpusCase(
            "cloudtrail-logging-off",
            c,
            """
resource "aws_cloudtrail" "trail" {
  # checkov:skip=CKV_AWS_67:noisy
  name           = "trail"
  s3_bucket_name = "corpus-trail"
  enable_logging = false
}
""",
            "audit-and-detection-on",
        ),
        CorpusCase(
            "guardduty-detector-off",
            c,
            """
resource "aws_guardduty_detector" "this" {
  enable = false
}
""",
            "audit-and-detection-on",
        ),
        CorpusCase(
            "guardduty-archive-filter",
            c,
            """
resource "aws_guardduty_filter" "mute" {
  name        = "mute"
  detector_id = "12abc34d567e8fa901bc2d34e56789f0"
  rank        = 1
  action      = "ARCHIVE"
  finding_criteria {
    criterion {
      field  = "severity"
      equals = ["8"]
    }
  }
}
""",
            "audit-and-detection-on",
        ),
        CorpusCase(
            "access-analyzer-archive-rule",
            c,
            """
resource "aws_accessanalyzer_archive_rule" "hide" {
  analyzer_name = "account"
  rule_name     = "hide-public"
  filter {
    criteria = "isPublic"
    eq       = ["true"]
  }
}
""",
            "audit-and-detection-on",
        ),
    ]
    g = "gpu"
    cases += [
        CorpusCase(
            "codebuild-gpu-project", g, _codebuild("LINUX_GPU_CONTAINER"), "gpu-instance-tier", tier="inference"
        ),
        CorpusCase(
            "codebuild-gpu-fleet",
            g,
            """
resource "aws_codebuild_fleet" "gpu" {
  name             = "gpu"
  base_capacity    = 1
  compute_type     = "BUILD_GENERAL1_LARGE"
  environment_type = "LINUX_GPU_CONTAINER"
}
""",
            "gpu-instance-tier",
        ),
        CorpusCase(
            "appstream-graphics-fleet",
            g,
            """
resource "aws_appstream_fleet" "desktops" {
  name          = "desktops"
  instance_type = "stream.graphics.g5.xlarge"
  image_name    = "AppStream-WinServer2019-01-01-2024"
  compute_capacity {
    desired_instances = 1
  }
}
""",
            "gpu-instance-tier",
        ),
        CorpusCase(
            "appstream-graphics-pro-image-builder",
            g,
            """
resource "aws_appstream_image_builder" "builder" {
  name          = "builder"
  instance_type = "stream.graphics-pro.4xlarge"
  image_name    = "AppStream-WinServer2019-01-01-2024"
}
""",
            "gpu-instance-tier",
            tier="training",
        ),
        CorpusCase(
            "workspaces-graphics",
            g,
            """
resource "aws_workspaces_workspace" "cad" {
  directory_id = "d-1234567890"
  bundle_id    = "wsb-0123456789"
  user_name    = "designer"
  workspace_properties {
    compute_type_name = "GRAPHICS_G4DN"
  }
}
""",
            "gpu-instance-tier",
            tier="inference",
        ),
        CorpusCase(
            "workspaces-bundle-only",
            g,
            """
resource "aws_workspaces_workspace" "any" {
  directory_id = "d-1234567890"
  bundle_id    = "wsb-0123456789"
  user_name    = "someone"
}
""",
            "gpu-instance-tier",
        ),
        CorpusCase(
            "dedicated-host-p5-family",
            g,
            """
resource "aws_ec2_host" "gpu" {
  availability_zone = "us-east-1a"
  instance_family   = "p5"
}
""",
            "gpu-instance-tier",
            tier="inference",
        ),
        CorpusCase(
            "lt-requirements-accelerators",
            g,
            _lt_requirements('    accelerator_count {\n      min = 1\n    }\n    accelerator_types = ["gpu"]'),
            "gpu-instance-tier",
            tier="inference",
        ),
        CorpusCase(
            "asg-mixed-requirements-unbounded",
            g,
            T3_TEMPLATE
            + """
resource "aws_autoscaling_group" "abs" {
  min_size            = 0
  max_size            = 4
  vpc_zone_identifier = ["subnet-0123456789abcdef0"]
  mixed_instances_policy {
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.t3.id
      }
      override {
        instance_requirements {
          vcpu_count {
            min = 8
          }
          memory_mib {
            min = 32768
          }
        }
      }
    }
  }
"""
            + ASG_TAGS
            + "}\n",
            "gpu-instance-tier",
        ),
        CorpusCase(
            "lt-requirements-wildcard-outside-tier",
            g,
            _lt_requirements('    allowed_instance_types = ["g*"]'),
            "gpu-instance-tier",
            tier="inference",
        ),
        CorpusCase(
            "sagemaker-space-gpu",
            g,
            """
resource "aws_sagemaker_space" "lab" {
  domain_id  = "d-0123456789ab"
  space_name = "lab"
  space_settings {
    jupyter_lab_app_settings {
      default_resource_spec {
        instance_type = "ml.g5.2xlarge"
      }
    }
  }
}
""",
            "gpu-instance-tier",
        ),
        CorpusCase(
            "batch-family-p4d",
            g,
            f"""
resource "aws_batch_compute_environment" "train" {{
  compute_environment_name = "train"
  type                     = "MANAGED"
  service_role             = "{ROLE}"
  compute_resources {{
    type               = "EC2"
    max_vcpus          = 96
    instance_type      = ["p4d"]
    instance_role      = "arn:aws:iam::123456789012:instance-profile/ecs"
    security_group_ids = ["sg-0123456789abcdef0"]
    subnets            = {SUBNETS}
  }}
}}
""",
            "gpu-instance-tier",
            tier="inference",
        ),
        CorpusCase(
            "cloud9-gpu",
            g,
            """
resource "aws_cloud9_environment_ec2" "ide" {
  name          = "ide"
  instance_type = "g4dn.xlarge"
  image_id      = "amazonlinux-2023-x86_64"
}
""",
            "gpu-instance-tier",
        ),
        CorpusCase(
            "capacity-block-purchase",
            g,
            """
resource "aws_ec2_capacity_block_reservation" "block" {
  capacity_block_offering_id = "cbr-0123456789abcdef0"
  instance_platform          = "Linux/UNIX"
}
""",
            "no-commitment-purchase",
            tier="training",
        ),
        CorpusCase(
            "cloudformation-stack-gpu-instance",
            g,
            """
resource "aws_cloudformation_stack" "side_door" {
  name = "side-door"
  template_body = jsonencode({
    Resources = {
      Trainer = {
        Type = "AWS::EC2::Instance"
        Properties = {
          ImageId      = "ami-0123456789abcdef0"
          InstanceType = "p5.48xlarge"
        }
      }
    }
  })
}
""",
            "gpu-instance-tier",
            tier="inference",
        ),
        CorpusCase(
            "rds-reserved-instance",
            g,
            """
resource "aws_rds_reserved_instance" "db" {
  offering_id    = "438012d3-4052-4cc7-b2e3-8d3372e0e706"
  instance_count = 3
}
""",
            "no-commitment-purchase",
        ),
        CorpusCase(
            "bedrock-throughput-commitment",
            g,
            """
resource "aws_bedrock_provisioned_model_throughput" "llm" {
  provisioned_model_name = "llm"
  model_arn              = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2"
  model_units            = 1
  commitment_duration    = "SixMonths"
}
""",
            "no-commitment-purchase",
            tier="training",
        ),
    ]
    t = "tags"
    cases += [
        CorpusCase(
            "asg-tag-blocks-without-cost-tags",
            t,
            T3_TEMPLATE
            + """
resource "aws_autoscaling_group" "web" {
  min_size            = 1
  max_size            = 2
  vpc_zone_identifier = ["subnet-0123456789abcdef0"]
  launch_template {
    id = aws_launch_template.t3.id
  }
  tag {
    key                 = "Name"
    value               = "web"
    propagate_at_launch = true
  }
}
""",
            "required-cost-tags",
        ),
        CorpusCase(
            "asg-tag-blocks-other-team",
            t,
            T3_TEMPLATE
            + """
resource "aws_autoscaling_group" "web" {
  min_size            = 1
  max_size            = 2
  vpc_zone_identifier = ["subnet-0123456789abcdef0"]
  launch_template {
    id = aws_launch_template.t3.id
  }
"""
            + ASG_TAGS.replace('"team-mlops"', '"team-frontend"')
            + "}\n",
            "required-cost-tags",
        ),
        CorpusCase(
            "msk-cluster-other-cost-center",
            t,
            """
resource "aws_msk_serverless_cluster" "events" {
  cluster_name = "events"
  vpc_config {
    subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  }
  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }
  tags = {
    "cost-center" = "CC-1001"
  }
}
""",
            "required-cost-tags",
        ),
        CorpusCase(
            "glue-job-production-stage",
            t,
            f"""
resource "aws_glue_job" "etl" {{
  name     = "etl"
  role_arn = "{ROLE}"
  command {{
    script_location = "s3://corpus-scripts/etl.py"
  }}
  tags = {{
    stage = "production"
  }}
}}
""",
            "required-cost-tags",
        ),
    ]
    r = "regions"
    cases += [
        CorpusCase(
            "provider-alias-foreign-region",
            r,
            """
provider "aws" {
  alias                       = "far"
  region                      = "ap-south-1"
  access_key                  = "corpus"
  secret_key                  = "corpus"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

resource "aws_sqs_queue" "far" {
  provider = aws.far
  name     = "far"
  tags = {
    team          = "team-mlops"
    stage         = "staging"
    "cost-center" = "CC-1003"
  }
}
""",
            "allowed-regions",
        ),
        CorpusCase(
            "provider-alias-org-region-not-the-teams",
            r,
            """
variable "dr_region" {
  type    = string
  default = "eu-west-1"
}

provider "aws" {
  alias                       = "dr"
  region                      = var.dr_region
  access_key                  = "corpus"
  secret_key                  = "corpus"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

resource "aws_sns_topic" "dr" {
  provider = aws.dr
  name     = "dr"
  tags = {
    team          = "team-mlops"
    stage         = "staging"
    "cost-center" = "CC-1003"
  }
}
""",
            "allowed-regions",
        ),
        CorpusCase(
            "dynamodb-replica-foreign-region",
            r,
            """
resource "aws_dynamodb_table" "sessions" {
  name             = "sessions"
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "id"
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"
  attribute {
    name = "id"
    type = "S"
  }
  replica {
    region_name = "sa-east-1"
  }
}
""",
            "allowed-regions",
        ),
    ]
    u = "rules"
    cases += [
        CorpusCase(
            "s3-policy-source-ip-everyone",
            u,
            _bucket_policy('{ IpAddress = { "aws:SourceIp" = "0.0.0.0/0" } }'),
            "no-public-s3",
        ),
        CorpusCase(
            "s3-policy-source-arn-wildcard",
            u,
            _bucket_policy('{ StringLike = { "aws:SourceArn" = "arn:aws:*" } }'),
            "no-public-s3",
        ),
        CorpusCase(
            "s3-policy-negated-condition",
            u,
            _bucket_policy('{ NotIpAddress = { "aws:SourceIp" = "10.0.0.0/8" } }'),
            "no-public-s3",
        ),
        CorpusCase(
            "gpu-beside-unset-requirements",
            u,
            _lt_requirements("")
            + """
resource "aws_instance" "gpu" {
  ami           = "ami-0123456789abcdef0"
  instance_type = "p5.48xlarge"
}
""",
            "gpu-instance-tier",
            tier="inference",
        ),
        CorpusCase(
            "instance-from-external-gpu-template",
            u,
            """
variable "template_id" {
  type    = string
  default = "lt-0123456789abcdef0"
}

resource "aws_instance" "worker" {
  launch_template {
    id = var.template_id
  }
}
""",
            "gpu-instance-tier",
        ),
    ]
    return cases


def compliant() -> list[CorpusCase]:
    c = "controls"
    cases = [
        CorpusCase(
            "ssh-from-private-https-from-anywhere",
            c,
            _sg('    from_port   = 22\n    to_port     = 22\n    protocol    = "tcp"\n    cidr_blocks = ["10.0.0.0/8"]')
            + """
resource "aws_vpc_security_group_ingress_rule" "https" {
  security_group_id = "sg-0123456789abcdef0"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}
""",
        ),
        CorpusCase(
            "eks-private-endpoint",
            c,
            _eks("    endpoint_private_access = true\n    endpoint_public_access  = false"),
        ),
        CorpusCase(
            "eks-public-endpoint-office-only",
            c,
            _eks(
                "    endpoint_private_access = true\n    endpoint_public_access  = true\n"
                '    public_access_cidrs     = ["203.0.113.0/24"]'
            ),
        ),
        CorpusCase(
            "cloudtrail-and-guardduty-on",
            c,
            """
resource "aws_cloudtrail" "trail" {
  name                       = "trail"
  s3_bucket_name             = "corpus-trail"
  enable_logging             = true
  is_multi_region_trail      = true
  enable_log_file_validation = true
}

resource "aws_guardduty_detector" "this" {
  enable = true
}
""",
        ),
    ]
    g = "gpu"
    cases += [
        CorpusCase("codebuild-cpu-project", g, _codebuild("LINUX_CONTAINER", "BUILD_GENERAL1_SMALL")),
        CorpusCase(
            "appstream-graphics-in-inference",
            g,
            """
resource "aws_appstream_fleet" "desktops" {
  name          = "desktops"
  instance_type = "stream.graphics.g5.xlarge"
  image_name    = "AppStream-WinServer2019-01-01-2024"
  compute_capacity {
    desired_instances = 1
  }
}
""",
            tier="inference",
        ),
        CorpusCase(
            "workspaces-standard",
            g,
            """
resource "aws_workspaces_workspace" "dev" {
  directory_id = "d-1234567890"
  bundle_id    = "wsb-0123456789"
  user_name    = "dev"
  workspace_properties {
    compute_type_name = "STANDARD"
  }
}
""",
        ),
        CorpusCase(
            "lt-requirements-no-accelerators",
            g,
            _lt_requirements("    accelerator_count {\n      max = 0\n    }"),
        ),
        CorpusCase(
            "inference-tier-own-g5-patterns",
            g,
            _lt_requirements('    allowed_instance_types = ["g5.*", "g6.*"]')
            + """
resource "aws_eks_node_group" "gpu" {
  cluster_name    = "llm"
  node_group_name = "gpu"
  node_role_arn   = "arn:aws:iam::123456789012:role/node"
  subnet_ids      = ["subnet-0123456789abcdef0"]
  instance_types  = ["g5.2xlarge", "g6e.xlarge"]
  ami_type        = "AL2_x86_64_GPU"
  scaling_config {
    desired_size = 1
    max_size     = 2
    min_size     = 0
  }
}
""",
            tier="inference",
        ),
        CorpusCase(
            "spot-persistent-t3",
            g,
            """
resource "aws_instance" "spot" {
  ami           = "ami-0123456789abcdef0"
  instance_type = "t3.large"
  instance_market_options {
    market_type = "spot"
    spot_options {
      spot_instance_type             = "persistent"
      instance_interruption_behavior = "stop"
    }
  }
}
""",
        ),
        CorpusCase(
            "training-capacity-reservation-p5",
            g,
            """
resource "aws_ec2_capacity_reservation" "p5" {
  instance_type     = "p5.48xlarge"
  instance_platform = "Linux/UNIX"
  availability_zone = "us-east-1a"
  instance_count    = 1
}
""",
            tier="training",
        ),
    ]
    t = "tags"
    cases += [
        CorpusCase(
            "asg-from-t3-template-tag-blocks",
            t,
            T3_TEMPLATE
            + """
resource "aws_autoscaling_group" "web" {
  min_size            = 1
  max_size            = 2
  vpc_zone_identifier = ["subnet-0123456789abcdef0"]
  launch_template {
    id = aws_launch_template.t3.id
  }
"""
            + ASG_TAGS
            + "}\n",
        ),
        CorpusCase(
            "billable-creates-with-default-tags",
            t,
            f"""
resource "aws_glue_job" "etl" {{
  name     = "etl"
  role_arn = "{ROLE}"
  command {{
    script_location = "s3://corpus-scripts/etl.py"
  }}
}}

resource "aws_msk_serverless_cluster" "events" {{
  cluster_name = "events"
  vpc_config {{
    subnet_ids = {SUBNETS}
  }}
  client_authentication {{
    sasl {{
      iam {{
        enabled = true
      }}
    }}
  }}
}}
""",
        ),
    ]
    r = "regions"
    cases += [
        CorpusCase(
            "provider-alias-team-second-region",
            r,
            """
provider "aws" {
  alias                       = "second"
  region                      = var.regions[1]
  access_key                  = "corpus"
  secret_key                  = "corpus"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

resource "aws_sqs_queue" "second" {
  provider = aws.second
  name     = "second"
  tags = {
    team          = "team-mlops"
    stage         = "staging"
    "cost-center" = "CC-1003"
  }
}
""",
        ),
        CorpusCase(
            "dynamodb-replica-team-region",
            r,
            """
resource "aws_dynamodb_table" "sessions" {
  name             = "sessions"
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "id"
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"
  attribute {
    name = "id"
    type = "S"
  }
  replica {
    region_name = "us-west-2"
  }
}
""",
        ),
    ]
    u = "rules"
    cases += [
        CorpusCase(
            "instance-from-t3-template",
            u,
            T3_TEMPLATE
            + """
resource "aws_instance" "web" {
  launch_template {
    id = aws_launch_template.t3.id
  }
}
""",
        ),
        CorpusCase(
            "instance-from-template-module-output",
            u,
            """
module "lt" {
  source = "./lt"
}

resource "aws_instance" "web" {
  launch_template {
    id = module.lt.id
  }
}
""",
            files={
                "lt/main.tf": T3_TEMPLATE + '\noutput "id" {\n  value = aws_launch_template.t3.id\n}\n',
            },
        ),
        CorpusCase(
            "s3-policy-office-ip",
            u,
            _bucket_policy('{ IpAddress = { "aws:SourceIp" = "203.0.113.0/24" } }'),
        ),
        CorpusCase(
            "s3-policy-cloudfront-source-arn",
            u,
            _bucket_policy(
                '{ StringEquals = { "aws:SourceArn" = '
                '"arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE" } }'
            ),
        ),
    ]
    return cases


def all_cases() -> list[CorpusCase]:
    return violating() + compliant()
