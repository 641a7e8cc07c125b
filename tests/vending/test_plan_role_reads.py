"""The plan role can refresh every resource the Terraform code declares (a PR plan after the first apply reads them).

Derived from the HCL: every `resource "aws_*"` and `data "aws_*"` block under terraform/ (modules, templates,
environments) maps to the IAM read actions the AWS provider calls to refresh it. A new resource type that is not in
the table fails the test, so the table (and the plan role with it) is kept in step with the code.
"""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest

from scps.evaluate import Request, is_denied, statement_applies
from vending.bootstrap import boundary_policy, plan_policy
from vending.settings import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"
ACCOUNT = "111122223333"

# Resource (and data source) type -> the read actions the provider calls to refresh it (Read functions of
# hashicorp/terraform-provider-aws). () : no AWS API is called.
REFRESH_ACTIONS: dict[str, tuple[str, ...]] = {
    # application-autoscaling (the SageMaker endpoint's scaling)
    "aws_appautoscaling_policy": ("application-autoscaling:DescribeScalingPolicies",),
    "aws_appautoscaling_target": (
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:ListTagsForResource",
    ),
    # autoscaling
    "aws_autoscaling_group": ("autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLifecycleHooks"),
    # bedrock (the knowledge-base APIs are bedrock:* too)
    "aws_bedrock_guardrail": ("bedrock:GetGuardrail", "bedrock:ListTagsForResource"),
    "aws_bedrock_guardrail_version": ("bedrock:GetGuardrail",),
    "aws_bedrock_model_invocation_logging_configuration": ("bedrock:GetModelInvocationLoggingConfiguration",),
    "aws_bedrockagent_data_source": ("bedrock:GetDataSource",),
    "aws_bedrockagent_knowledge_base": ("bedrock:GetKnowledgeBase", "bedrock:ListTagsForResource"),
    # cloudfront
    "aws_cloudfront_distribution": ("cloudfront:GetDistribution", "cloudfront:ListTagsForResource"),
    "aws_cloudfront_origin_access_control": ("cloudfront:GetOriginAccessControl",),
    # events (EventBridge: the Karpenter interruption rule)
    "aws_cloudwatch_event_rule": ("events:DescribeRule", "events:ListTagsForResource"),
    "aws_cloudwatch_event_target": ("events:ListTargetsByRule",),
    # logs
    "aws_cloudwatch_log_group": ("logs:DescribeLogGroups", "logs:ListTagsForResource"),
    # ec2
    "aws_default_security_group": ("ec2:DescribeSecurityGroups",),
    "aws_ec2_tag": ("ec2:DescribeTags",),
    "aws_eip": ("ec2:DescribeAddresses",),
    "aws_flow_log": ("ec2:DescribeFlowLogs",),
    "aws_internet_gateway": ("ec2:DescribeInternetGateways",),
    "aws_launch_template": ("ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions"),
    "aws_nat_gateway": ("ec2:DescribeNatGateways",),
    "aws_placement_group": ("ec2:DescribePlacementGroups",),
    "aws_route": ("ec2:DescribeRouteTables",),
    "aws_route_table": ("ec2:DescribeRouteTables",),
    "aws_route_table_association": ("ec2:DescribeRouteTables",),
    "aws_security_group": ("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"),
    "aws_subnet": ("ec2:DescribeSubnets",),
    "aws_vpc": ("ec2:DescribeVpcs", "ec2:DescribeVpcAttribute"),
    "aws_vpc_endpoint": ("ec2:DescribeVpcEndpoints", "ec2:DescribePrefixLists"),
    "aws_vpc_security_group_egress_rule": ("ec2:DescribeSecurityGroupRules",),
    "aws_vpc_security_group_ingress_rule": ("ec2:DescribeSecurityGroupRules",),
    "aws_availability_zones": ("ec2:DescribeAvailabilityZones",),
    "aws_prefix_list": ("ec2:DescribePrefixLists",),
    "aws_subnets": ("ec2:DescribeSubnets",),
    # ecs
    "aws_ecs_capacity_provider": ("ecs:DescribeCapacityProviders",),
    "aws_ecs_cluster": ("ecs:DescribeClusters",),
    "aws_ecs_cluster_capacity_providers": ("ecs:DescribeClusters",),
    # eks
    "aws_eks_access_entry": ("eks:DescribeAccessEntry",),
    "aws_eks_access_policy_association": ("eks:ListAssociatedAccessPolicies",),
    "aws_eks_addon": ("eks:DescribeAddon",),
    "aws_eks_cluster": ("eks:DescribeCluster",),
    "aws_eks_node_group": ("eks:DescribeNodegroup",),
    "aws_eks_pod_identity_association": ("eks:DescribePodIdentityAssociation",),
    # glue
    "aws_glue_catalog_database": ("glue:GetDatabase", "glue:GetTags"),
    "aws_glue_crawler": ("glue:GetCrawler", "glue:GetTags"),
    "aws_glue_security_configuration": ("glue:GetSecurityConfiguration",),
    # iam
    "aws_iam_instance_profile": ("iam:GetInstanceProfile",),
    "aws_iam_openid_connect_provider": ("iam:GetOpenIDConnectProvider",),
    "aws_iam_policy": ("iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyTags"),
    "aws_iam_role": ("iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"),
    "aws_iam_role_policy": ("iam:GetRolePolicy",),
    "aws_iam_role_policy_attachment": ("iam:ListAttachedRolePolicies",),
    # kms
    "aws_kms_alias": ("kms:ListAliases",),
    "aws_kms_key": ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
    # lambda
    "aws_lambda_function": ("lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig"),
    # aoss (OpenSearch Serverless: the RAG vector store)
    "aws_opensearchserverless_access_policy": ("aoss:GetAccessPolicy",),
    "aws_opensearchserverless_collection": ("aoss:BatchGetCollection", "aoss:ListTagsForResource"),
    "aws_opensearchserverless_security_policy": ("aoss:GetSecurityPolicy",),
    # s3
    "aws_s3_bucket": ("s3:ListBucket", "s3:GetBucketPolicy", "s3:GetBucketTagging", "s3:GetLifecycleConfiguration"),
    "aws_s3_bucket_lifecycle_configuration": ("s3:GetLifecycleConfiguration",),
    "aws_s3_bucket_logging": ("s3:GetBucketLogging",),
    "aws_s3_bucket_ownership_controls": ("s3:GetBucketOwnershipControls",),
    "aws_s3_bucket_policy": ("s3:GetBucketPolicy",),
    "aws_s3_bucket_public_access_block": ("s3:GetBucketPublicAccessBlock",),
    "aws_s3_bucket_server_side_encryption_configuration": ("s3:GetEncryptionConfiguration",),
    "aws_s3_bucket_versioning": ("s3:GetBucketVersioning",),
    # sagemaker
    "aws_sagemaker_endpoint": ("sagemaker:DescribeEndpoint", "sagemaker:ListTags"),
    "aws_sagemaker_endpoint_configuration": ("sagemaker:DescribeEndpointConfig",),
    "aws_sagemaker_model": ("sagemaker:DescribeModel",),
    # sqs
    "aws_sqs_queue": ("sqs:GetQueueAttributes", "sqs:ListQueueTags"),
    "aws_sqs_queue_policy": ("sqs:GetQueueAttributes",),
    # ssm
    "aws_ssm_parameter": ("ssm:GetParameter", "ssm:DescribeParameters", "ssm:ListTagsForResource"),
    # sts and computed-only data sources
    "aws_caller_identity": ("sts:GetCallerIdentity",),
    "aws_iam_policy_document": (),
    "aws_default_tags": (),  # the provider's own default_tags block
    "aws_partition": (),
    "aws_region": (),
}


def _declared_types() -> dict[str, set[Path]]:
    """Every aws_* resource and data-source type declared under terraform/ (skipping provider caches)."""
    found: dict[str, set[Path]] = {}
    for path in sorted(TERRAFORM.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        parsed = hcl2.loads(path.read_text(encoding="utf-8"))
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_name in block:
                    if type_name.startswith("aws_"):
                        found.setdefault(type_name, set()).add(path.relative_to(REPO_ROOT))
    return found


DECLARED = _declared_types()


def _allowed_by(document: dict, action: str) -> bool:
    request = Request(action=action, resource="*", principal_arn=f"arn:aws:iam::{ACCOUNT}:role/TeamCIPlanRole")
    allows = any(s["Effect"] == "Allow" and statement_applies(s, request) for s in document["Statement"])
    return allows and not is_denied([document], request)


def test_plan_reads_the_three_llm_templates_are_among_the_declared_types() -> None:
    # GIVEN the HCL walk THEN it sees the resources of rag-bedrock, eks-gpu-serving and sagemaker-endpoint
    assert {
        "aws_opensearchserverless_collection",
        "aws_cloudwatch_event_rule",
        "aws_appautoscaling_target",
    } <= DECLARED.keys()


def test_plan_reads_every_declared_resource_type_is_mapped() -> None:
    # GIVEN every aws_* type the Terraform code declares THEN the table says which reads refresh it
    unmapped = {t: sorted(map(str, paths)) for t, paths in DECLARED.items() if t not in REFRESH_ACTIONS}
    assert not unmapped, f"map these resource types to the read actions that refresh them: {unmapped}"


@pytest.mark.parametrize("resource_type", sorted(DECLARED))
def test_plan_reads_plan_role_and_boundary_allow_the_refresh_of(resource_type: str) -> None:
    # GIVEN the plan role's policy and the permissions boundary it carries
    policy = plan_policy(state_bucket="tfstate-111122223333", kms_key_arn="arn:aws:kms:us-east-1:111122223333:key/k")
    boundary = boundary_policy(ACCOUNT, "tfstate-111122223333")
    # WHEN the plan refreshes a resource of this type THEN both allow every read action the provider calls
    actions = REFRESH_ACTIONS.get(resource_type, ())
    assert [a for a in actions if not _allowed_by(policy, a)] == [], f"plan role cannot refresh {resource_type}"
    assert [a for a in actions if not _allowed_by(boundary, a)] == [], f"boundary blocks refreshing {resource_type}"


def test_plan_reads_plan_role_stays_read_only() -> None:
    # GIVEN the plan role's account reads THEN each is a read verb (List/Describe/Get/BatchGet) or the caller identity
    policy = plan_policy(state_bucket="b", kms_key_arn="k")
    (reads,) = [s for s in policy["Statement"] if s["Sid"] == "ReadTheAccount"]
    verbs = ("Describe", "Get", "List", "BatchGet")
    assert all(a.split(":", 1)[1].startswith(verbs) for a in reads["Action"]), reads["Action"]
    assert not _allowed_by(policy, "aoss:CreateCollection")
    assert not _allowed_by(policy, "events:PutRule")
    assert not _allowed_by(policy, "application-autoscaling:RegisterScalableTarget")
