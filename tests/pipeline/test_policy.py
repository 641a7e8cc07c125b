"""The plan-JSON policy rules: GPU tier, cost tags, public S3."""

from __future__ import annotations

import pytest

from landing_zone.config import load_layout
from tests.pipeline.plans import COST_TAGS, change, plan, secure_bucket_plan
from vending.pipeline.policy import PolicyContext, evaluate_plan


@pytest.fixture(scope="module")
def layout():
    return load_layout()


def ctx(layout, tier: str) -> PolicyContext:
    return PolicyContext.from_layout(layout, tier)


def node_group(instance_types: list[str], tags: dict[str, str] | None = None) -> dict:
    return change("module.eks.aws_eks_node_group.this[\"gpu\"]", "aws_eks_node_group",
                  {"instance_types": instance_types, "tags_all": COST_TAGS if tags is None else tags},
                  module="module.eks")


def test_gpu_instance_tier_node_group_outside_tier_is_stopped(layout):
    # GIVEN an inference-tier team whose plan adds a p5 (training) node group
    doc = plan(node_group(["p5.48xlarge"]))
    # WHEN the plan is evaluated
    report = evaluate_plan(doc, ctx(layout, "inference"))
    # THEN the violation names the rule and the resource address
    assert not report.ok
    [violation] = report.violations
    assert violation.rule == "gpu-instance-tier"
    assert violation.address == 'module.eks.aws_eks_node_group.this["gpu"]'
    assert "p5.48xlarge" in violation.message and "inference" in violation.message


def test_gpu_instance_tier_none_tier_refuses_any_gpu(layout):
    # GIVEN a team without GPUs launching a g5 instance and a SageMaker ml.g5 endpoint variant (nested attribute)
    doc = plan(
        change("aws_instance.this", "aws_instance", {"instance_type": "g5.xlarge", "tags_all": COST_TAGS}),
        change("module.llm.aws_sagemaker_endpoint_configuration.this", "aws_sagemaker_endpoint_configuration",
               {"production_variants": [{"instance_type": "ml.g5.2xlarge"}], "tags_all": COST_TAGS},
               module="module.llm"),
    )
    # WHEN evaluated for tier none
    report = evaluate_plan(doc, ctx(layout, "none"))
    # THEN both are stopped
    assert [(v.rule, v.address) for v in report.violations] == [
        ("gpu-instance-tier", "aws_instance.this"),
        ("gpu-instance-tier", "module.llm.aws_sagemaker_endpoint_configuration.this"),
    ]


def test_gpu_instance_tier_allowed_and_cpu_types_pass(layout):
    # GIVEN a training team with a launch template on p4d, a SageMaker ml.p4d variant and CPU instances
    doc = plan(
        change("aws_launch_template.gpu", "aws_launch_template",
               {"instance_type": "p4d.24xlarge", "tags_all": COST_TAGS}),
        change("aws_sagemaker_endpoint_configuration.this", "aws_sagemaker_endpoint_configuration",
               {"production_variants": [{"instance_type": "ml.p4d.24xlarge"}], "tags_all": COST_TAGS}),
        node_group(["m6i.large", "c7i.xlarge"]),
    )
    # WHEN evaluated for tier training
    # THEN nothing is stopped
    assert evaluate_plan(doc, ctx(layout, "training")).ok


def test_gpu_instance_tier_deleted_resources_are_ignored(layout):
    # GIVEN a plan that removes an old p5 node group
    doc = plan(change("aws_eks_node_group.old", "aws_eks_node_group", {}, actions=("delete",)))
    # WHEN evaluated for tier none, THEN removing it is fine
    assert evaluate_plan(doc, ctx(layout, "none")).ok


def test_required_cost_tags_missing_tags_are_stopped(layout):
    # GIVEN a log group whose tags_all lacks cost-center and has an empty stage
    doc = plan(change("module.baseline.aws_cloudwatch_log_group.this", "aws_cloudwatch_log_group",
                      {"name": "/x", "tags_all": {"team": "team-mlops", "stage": ""}}, module="module.baseline"))
    # WHEN evaluated
    report = evaluate_plan(doc, ctx(layout, "none"))
    # THEN the violation names the resource, the rule and the missing tags
    [violation] = report.violations
    assert violation.rule == "required-cost-tags"
    assert violation.address == "module.baseline.aws_cloudwatch_log_group.this"
    assert "stage" in violation.message and "cost-center" in violation.message


def test_required_cost_tags_untaggable_and_unknown_are_skipped(layout):
    # GIVEN an untaggable resource (no tags_all at all) and one whose tags_all is only known after apply
    doc = plan(
        change("aws_iam_role_policy.this", "aws_iam_role_policy", {"name": "x"}),
        change("aws_kms_key.this", "aws_kms_key", {"description": "k"}, after_unknown={"tags_all": True}),
    )
    # WHEN evaluated, THEN neither is reported
    assert evaluate_plan(doc, ctx(layout, "none")).ok


def test_no_public_s3_public_access_block_off_is_stopped(layout):
    # GIVEN a bucket whose public access block leaves block_public_policy off
    doc = secure_bucket_plan()
    doc["resource_changes"][1]["change"]["after"]["block_public_policy"] = False
    # WHEN evaluated
    report = evaluate_plan(doc, ctx(layout, "none"))
    # THEN it is stopped, naming the flag
    [violation] = report.violations
    assert (violation.rule, violation.address) == ("no-public-s3",
                                                   "module.artifacts.aws_s3_bucket_public_access_block.this")
    assert "block_public_policy" in violation.message


def test_no_public_s3_bucket_without_access_block_is_stopped(layout):
    # GIVEN a bucket created with no public access block in its module
    doc = plan(change("aws_s3_bucket.site", "aws_s3_bucket", {"bucket": "site", "tags_all": COST_TAGS}))
    # WHEN evaluated, THEN the bucket itself is named
    [violation] = evaluate_plan(doc, ctx(layout, "none")).violations
    assert (violation.rule, violation.address) == ("no-public-s3", "aws_s3_bucket.site")


def test_no_public_s3_public_acl_and_policy_are_stopped(layout):
    # GIVEN a secure bucket plus a public-read ACL and a bucket policy open to everyone
    doc = secure_bucket_plan()
    doc["resource_changes"] += [
        change("aws_s3_bucket_acl.open", "aws_s3_bucket_acl", {"acl": "public-read"}),
        change("aws_s3_bucket_policy.open", "aws_s3_bucket_policy", {"policy": (
            '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}')}),
    ]
    # WHEN evaluated
    report = evaluate_plan(doc, ctx(layout, "none"))
    # THEN both are stopped
    assert {(v.rule, v.address) for v in report.violations} == {
        ("no-public-s3", "aws_s3_bucket_acl.open"), ("no-public-s3", "aws_s3_bucket_policy.open")}


def test_no_public_s3_tls_deny_and_service_principal_pass(layout):
    # GIVEN the s3 module's policy: a Deny for "*" without TLS and a CloudFront service principal with a condition
    doc = secure_bucket_plan()
    doc["resource_changes"].append(change("module.artifacts.aws_s3_bucket_policy.this", "aws_s3_bucket_policy", {
        "policy": ('{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",'
                   '"Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Allow","Principal":'
                   '{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"*",'
                   '"Condition":{"StringEquals":{"AWS:SourceArn":"arn"}}}]}')}, module="module.artifacts"))
    # WHEN evaluated, THEN it passes
    assert evaluate_plan(doc, ctx(layout, "none")).ok


def test_evaluate_plan_compliant_plan_passes(layout):
    # GIVEN a compliant plan: secure bucket, tagged inference node group on g5 for an inference team
    doc = secure_bucket_plan()
    doc["resource_changes"].append(node_group(["g5.2xlarge"]))
    # WHEN evaluated
    report = evaluate_plan(doc, ctx(layout, "inference"))
    # THEN it passes, and the report says what was checked
    assert report.ok
    assert report.to_dict()["rules"] == ["gpu-instance-tier", "required-cost-tags", "no-public-s3"]
    assert report.resources_checked == 3


def test_policy_context_unknown_tier_is_rejected(layout):
    # GIVEN a tier the layout does not define, WHEN a context is built, THEN it is refused
    with pytest.raises(ValueError, match="unknown GPU tier"):
        PolicyContext.from_layout(layout, "quantum")
