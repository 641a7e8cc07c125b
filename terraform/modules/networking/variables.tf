variable "name" {
  description = "Name of the VPC and prefix of its resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits and hyphens."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC (/16 to /24)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 24
    error_message = "cidr_block must be an IPv4 CIDR between /16 and /24."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread private subnets across."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6."
  }
}

variable "availability_zone_suffixes" {
  description = "Zone letters the VPC may use (<region><letter>); the first az_count available ones are taken."
  type        = list(string)
  default     = ["a", "b", "c", "d", "e", "f"]

  validation {
    condition     = length(var.availability_zone_suffixes) > 0 && alltrue([for s in var.availability_zone_suffixes : can(regex("^[a-z]$", s))])
    error_message = "availability_zone_suffixes must be single lowercase letters."
  }
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix for each private subnet (4 on a /16 gives /20 subnets)."
  type        = number
  default     = 4

  validation {
    condition     = var.subnet_newbits >= 2 && var.subnet_newbits <= 8
    error_message = "subnet_newbits must be between 2 and 8."
  }
}

variable "interface_endpoints" {
  description = "Interface endpoints (service suffixes) every private subnet reaches without internet egress."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "sts"]

  validation {
    condition = alltrue([for s in var.interface_endpoints : contains([
      "ecr.api", "ecr.dkr", "logs", "sts", "ssm", "ssmmessages", "ec2messages", "kms", "secretsmanager",
      "bedrock-runtime", "bedrock", "bedrock-agent-runtime", "sagemaker.runtime", "sagemaker.api", "eks", "eks-auth",
      "elasticloadbalancing", "autoscaling", "ec2", "sqs", "aoss", "monitoring",
    ], s)])
    error_message = "interface_endpoints may only name services the platform supports (see README)."
  }
}

variable "enable_bedrock_runtime_endpoint" {
  description = "Add the bedrock-runtime interface endpoint (LLM inference through Bedrock without internet)."
  type        = bool
  default     = false
}

variable "enable_sagemaker_runtime_endpoint" {
  description = "Add the sagemaker.runtime interface endpoint (invoking SageMaker endpoints privately)."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a value CloudWatch Logs accepts."
  }
}

variable "flow_log_traffic_type" {
  description = "Which traffic the flow log records."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "enable_nat_gateway" {
  description = "Internet egress through one NAT gateway (public subnet in the first AZ). Off: private subnets reach only the VPC endpoints."
  type        = bool
  default     = false
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of the IAM roles this module creates (the vended CI role may only create roles that carry it)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "subnet_tags" {
  description = "Extra tags on the private subnets (e.g. kubernetes.io/role/internal-elb, karpenter.sh/discovery)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags merged onto every resource."
  type        = map(string)
  default     = {}
}
