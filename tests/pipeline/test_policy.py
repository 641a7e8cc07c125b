"""Our plan-JSON policy rules (GPU tier, cost tags, public S3) as checkov custom policies.

checkov takes a few seconds per run, so the cases are batched: one plan per GPU tier / scenario, each scanned once
(module-scoped fixtures), and the tests assert on the resources of that plan."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.plans import COST_TAGS, change, plan, secure_bucket_plan
from vending.exceptions import InvalidRequest
from vending.layout import load_layout
from vending.pipeline.policy import (
    PolicyContext,
    PolicyEngineUnavailable,
    PolicyReport,
    evaluate_plan,
    forbidden_instance_type_regex,
    render_policies,
)


def _checkov() -> str | None:
    beside = Path(sys.executable).with_name("checkov")
    return str(beside) if beside.exists() else shutil.which("checkov")


CHECKOV = _checkov()
needs_checkov = pytest.mark.skipif(CHECKOV is None, reason="checkov is not installed (run scripts/setup.sh)")


@pytest.fixture(scope="module")
def layout():
    return load_layout()


def ctx(layout, tier: str) -> PolicyContext:
    return PolicyContext.from_layout(layout, tier)


def as_terraform_plan(doc: dict[str, Any]) -> dict[str, Any]:
    """Complete a test plan the way `terraform show -json` shapes it: terraform_version, change.before, and
    planned_values (what checkov reads) holding every resource that is not being deleted."""
    doc = json.loads(json.dumps(doc))
    doc.setdefault("terraform_version", "1.9.8")
    root: dict[str, Any] = {"resources": [], "child_modules": []}
    modules: dict[str, dict[str, Any]] = {}
    for rc in doc["resource_changes"]:
        rc["change"].setdefault("before", None)
        if rc["change"]["actions"] == ["delete"]:
            continue
        resource = {"address": rc["address"], "mode": "managed", "type": rc["type"], "name": rc["name"],
                    "provider_name": "registry.terraform.io/hashicorp/aws", "values": rc["change"]["after"]}
        module = rc.get("module_address")
        if module:
            modules.setdefault(module, {"address": module, "resources": []})["resources"].append(resource)
        else:
            root["resources"].append(resource)
    root["child_modules"] = list(modules.values())
    doc["planned_values"] = {"root_module": root}
    return doc


def scan(tmp_path_factory, doc: dict[str, Any], context: PolicyContext) -> PolicyReport:
    work = tmp_path_factory.mktemp("policy")
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(as_terraform_plan(doc)), encoding="utf-8")
    return evaluate_plan(plan_file, context, binary=CHECKOV, work_dir=work)


def found(report: PolicyReport) -> set[tuple[str, str]]:
    return {(v.rule, v.address) for v in report.violations}


def node_group(address: str, instance_types: list[str]) -> dict:
    return change(address, "aws_eks_node_group", {"instance_types": instance_types, "tags_all": COST_TAGS},
                  module="module.eks")


# --- one scan per scenario -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tier_none_report(layout, tmp_path_factory):
    # A team without GPUs: a g5 instance, an ml.g5 endpoint variant (nested), a deleted p5 node group; untagged, unknown
    # tags and a log group missing cost tags; a bucket without public access block, public ACL and open policy.
    doc = secure_bucket_plan()
    doc["resource_changes"][1]["change"]["after"]["block_public_policy"] = False
    doc["resource_changes"] += [
        change("aws_instance.this", "aws_instance", {"instance_type": "g5.xlarge", "tags_all": COST_TAGS}),
        change("module.llm.aws_sagemaker_endpoint_configuration.this", "aws_sagemaker_endpoint_configuration",
               {"production_variants": [{"instance_type": "ml.g5.2xlarge"}], "tags_all": COST_TAGS},
               module="module.llm"),
        change("aws_eks_node_group.old", "aws_eks_node_group", {}, actions=("delete",)),
        change("aws_instance.cpu", "aws_instance", {"instance_type": "m6i.large", "tags_all": COST_TAGS}),
        change("module.baseline.aws_cloudwatch_log_group.this", "aws_cloudwatch_log_group",
               {"name": "/x", "tags_all": {"team": "team-mlops", "stage": ""}}, module="module.baseline"),
        change("aws_iam_role_policy.this", "aws_iam_role_policy", {"name": "x"}),
        change("aws_kms_key.this", "aws_kms_key", {"description": "k"}, after_unknown={"tags_all": True}),
        change("aws_s3_bucket.site", "aws_s3_bucket", {"bucket": "site", "tags_all": COST_TAGS}),
        change("aws_s3_bucket_acl.open", "aws_s3_bucket_acl", {"acl": "public-read"}),
        change("aws_s3_bucket_acl.private", "aws_s3_bucket_acl", {"acl": "private"}),
        change("aws_s3_bucket_policy.open", "aws_s3_bucket_policy", {"policy": (
            '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}')}),
        change("module.artifacts.aws_s3_bucket_policy.this", "aws_s3_bucket_policy", {"policy": (
            '{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",'
            '"Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Allow","Principal":'
            '{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"*",'
            '"Condition":{"StringEquals":{"AWS:SourceArn":"arn"}}}]}')}, module="module.artifacts"),
    ]
    return scan(tmp_path_factory, doc, ctx(layout, "none"))


@pytest.fixture(scope="module")
def tier_inference_report(layout, tmp_path_factory):
    # An inference team: a p5 node group (training), and a compliant secure bucket + g5 node group + CPU mix.
    doc = secure_bucket_plan()
    doc["resource_changes"] += [
        node_group('module.eks.aws_eks_node_group.this["train"]', ["g5.2xlarge", "p5.48xlarge"]),
        node_group('module.eks.aws_eks_node_group.this["gpu"]', ["g5.2xlarge"]),
        node_group('module.eks.aws_eks_node_group.this["cpu"]', ["m6i.large", "c7i.xlarge"]),
    ]
    return scan(tmp_path_factory, doc, ctx(layout, "inference"))


@pytest.fixture(scope="module")
def tier_training_report(layout, tmp_path_factory):
    # A compliant training plan: launch template on p4d, SageMaker ml.p4d variant and notebook, CPU node group.
    doc = secure_bucket_plan()
    doc["resource_changes"] += [
        change("aws_launch_template.gpu", "aws_launch_template", {"instance_type": "p4d.24xlarge",
                                                                  "tags_all": COST_TAGS}),
        change("aws_sagemaker_endpoint_configuration.this", "aws_sagemaker_endpoint_configuration",
               {"production_variants": [{"instance_type": "ml.p4d.24xlarge"}], "tags_all": COST_TAGS}),
        change("aws_sagemaker_notebook_instance.this", "aws_sagemaker_notebook_instance",
               {"instance_type": "ml.g5.xlarge", "tags_all": COST_TAGS}),
        node_group('module.eks.aws_eks_node_group.this["cpu"]', ["m6i.large"]),
    ]
    return scan(tmp_path_factory, doc, ctx(layout, "training"))


# --- gpu-instance-tier ---------------------------------------------------------------------------------------------

@needs_checkov
def test_gpu_instance_tier_node_group_outside_tier_is_stopped(tier_inference_report):
    # GIVEN an inference-tier team whose plan adds a node group with a p5 (training) type beside g5
    # WHEN the plan is scanned, THEN only that node group is stopped, naming the rule, the address and the tier
    [violation] = tier_inference_report.violations
    assert violation.rule == "gpu-instance-tier"
    assert violation.check_id == "CKV2_VEND_1"
    assert violation.address == 'module.eks.aws_eks_node_group.this["train"]'
    assert "inference" in violation.message and "g5.*" in violation.message
    assert str(violation).startswith('[gpu-instance-tier] module.eks.aws_eks_node_group.this["train"]: ')


@needs_checkov
def test_gpu_instance_tier_none_tier_refuses_any_gpu_and_ignores_deletes(tier_none_report):
    # GIVEN a team without GPUs launching g5 (EC2) and ml.g5 (nested SageMaker variant), deleting a node group
    # THEN both launches are stopped; the CPU instance and the deleted node group are not
    gpu = {v.address for v in tier_none_report.violations if v.rule == "gpu-instance-tier"}
    assert gpu == {"aws_instance.this", "module.llm.aws_sagemaker_endpoint_configuration.this"}


@needs_checkov
def test_gpu_instance_tier_allowed_and_cpu_types_pass_and_compliant_plan_passes(tier_training_report):
    # GIVEN a compliant training plan, THEN nothing is stopped and the report says what was checked
    assert tier_training_report.ok, tier_training_report.violations
    assert tier_training_report.to_dict()["rules"] == ["gpu-instance-tier", "required-cost-tags", "no-public-s3"]
    assert tier_training_report.resources_checked == 6


def test_forbidden_instance_type_regex_follows_the_layout(layout):
    # GIVEN the layout's tiers, WHEN the regex is rendered, THEN it matches exactly accelerated types outside the tier
    import re
    inference = re.compile(forbidden_instance_type_regex(ctx(layout, "inference")))
    assert inference.match("p5.48xlarge") and inference.match("ml.p4d.24xlarge") and inference.match("dl1.24xlarge")
    assert not any(inference.match(t) for t in ("g5.xlarge", "ml.g5.2xlarge", "inf2.xlarge", "m6i.large",
                                                "ml.m5.large", "c7g.large"))
    none = re.compile(forbidden_instance_type_regex(ctx(layout, "none")))
    assert none.match("g5.xlarge") and none.match("ml.inf2.xlarge") and not none.match("t3.micro")


def test_render_policies_writes_the_tier_policy(layout, tmp_path):
    # GIVEN the inference tier, WHEN rendered, THEN the checkov policy files name the tier and the mandatory tags
    out = render_policies(ctx(layout, "inference"), tmp_path / "p")
    gpu = (out / "gpu_instance_tier.yaml").read_text()
    tags = (out / "required_cost_tags.yaml").read_text()
    assert "CKV2_VEND_1" in gpu and "'inference'" in gpu and "jsonpath_not_regex_match" in gpu
    assert "CKV2_VEND_2" in tags and all(f"tags_all.{t}" in tags for t in ("team", "stage", "cost-center"))


# --- required-cost-tags --------------------------------------------------------------------------------------------

@needs_checkov
def test_required_cost_tags_missing_tags_are_stopped_untaggable_and_unknown_skipped(tier_none_report):
    # GIVEN a log group whose tags_all lacks cost-center and has an empty stage, an untaggable IAM policy and a KMS
    # key whose tags_all is known only after apply; THEN only the log group is stopped
    tags = [v for v in tier_none_report.violations if v.rule == "required-cost-tags"]
    [violation] = tags
    assert violation.address == "module.baseline.aws_cloudwatch_log_group.this"
    assert "stage" in violation.message and "cost-center" in violation.message


# --- no-public-s3 --------------------------------------------------------------------------------------------------

@needs_checkov
def test_no_public_s3_violations_are_stopped_and_secure_parts_pass(tier_none_report):
    # GIVEN a public access block with block_public_policy off, a bucket without a public access block, a public-read
    # ACL, a policy open to everyone, and the s3 module's TLS-deny / CloudFront policy and a private ACL
    s3 = {(v.address, v.check_id) for v in tier_none_report.violations if v.rule == "no-public-s3"}
    # THEN exactly the public parts are stopped
    assert s3 == {
        ("module.artifacts.aws_s3_bucket_public_access_block.this", "CKV2_VEND_4"),
        ("aws_s3_bucket.site", "CKV2_VEND_5"),
        ("aws_s3_bucket_acl.open", "CKV2_VEND_3"),
        ("aws_s3_bucket_policy.open", "CKV_AWS_70"),
    }
    flags = next(v for v in tier_none_report.violations if v.check_id == "CKV2_VEND_4")
    assert "block_public_policy" in flags.message


# --- context and engine ----------------------------------------------------------------------------------------------

def test_policy_context_unknown_tier_is_rejected(layout):
    # GIVEN a tier the layout does not define, WHEN a context is built, THEN it is refused
    with pytest.raises(InvalidRequest, match="unknown GPU tier"):
        PolicyContext.from_layout(layout, "quantum")


def test_evaluate_plan_without_checkov_is_refused(layout, tmp_path):
    # GIVEN no checkov binary, WHEN evaluated, THEN the engine is reported unavailable (never a silent pass)
    with pytest.raises(PolicyEngineUnavailable, match="checkov is not installed"):
        evaluate_plan(tmp_path / "plan.json", ctx(layout, "none"), binary=None, work_dir=tmp_path)


@needs_checkov
def test_evaluate_plan_unrecognised_plan_is_refused(layout, tmp_path):
    # GIVEN a file checkov does not take for a plan (no terraform_version / planned_values) that plans a resource
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan(change("aws_instance.a", "aws_instance", {"instance_type": "p5.48xlarge"}))))
    # WHEN evaluated, THEN it is refused rather than passed with nothing checked
    with pytest.raises(PolicyEngineUnavailable, match="scanned no resources"):
        evaluate_plan(plan_file, ctx(layout, "none"), binary=CHECKOV, work_dir=tmp_path)


def test_plan_helper_is_a_terraform_plan():
    # The helper's output is what checkov recognises as a plan (terraform_version + planned_values).
    doc = as_terraform_plan(plan(change("aws_instance.a", "aws_instance", {"instance_type": "t3.micro"})))
    assert doc["terraform_version"] and doc["planned_values"]["root_module"]["resources"][0]["address"] == \
        "aws_instance.a"
