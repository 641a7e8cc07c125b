"""The plan rules (policies/rego, evaluated in-process by regorus) on the policy corpus in tests/pipeline/plans.py,
and the policy stage's refusal to pass when the engine cannot answer."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.corpus.cases import violating as corpus_violating
from tests.pipeline.plans import Case, change, compliant_cases, plan, violating_cases
from vending.exceptions import InvalidRequest
from vending.layout import load_layout
from vending.pipeline import policy as policy_module
from vending.pipeline.policy import (
    RULES,
    PolicyContext,
    PolicyEngineUnavailable,
    Violation,
    evaluate_plan,
    evaluate_plan_document,
)
from vending.pipeline.runner import policy_check

VIOLATING = violating_cases()
COMPLIANT = compliant_cases()


@pytest.fixture(scope="module")
def layout():
    return load_layout()


def context(layout, case: Case) -> PolicyContext:
    return PolicyContext.from_layout(
        layout, case.tier, team=case.team, stage="staging", cost_center="CC-1003" if case.team == "team-mlops" else None
    )


def test_corpus_is_large_enough_and_covers_every_rule():
    # The corpus must keep at least 20 violating plans; with the pipeline corpus (real plans, tests/pipeline/corpus),
    # every rule is represented.
    assert len(VIOLATING) >= 20 and len(COMPLIANT) >= 5
    here = {rule for case in VIOLATING for rule, _, _ in case.expected}
    assert here | {c.rule for c in corpus_violating()} == set(RULES)
    assert len({c.name for c in VIOLATING + COMPLIANT}) == len(VIOLATING) + len(COMPLIANT)


@pytest.mark.parametrize("case", VIOLATING, ids=lambda c: c.name)
def test_policy_violating_plan_is_stopped_naming_address_rule_and_value(layout, case: Case):
    # GIVEN a plan that breaks a rule, WHEN evaluated
    report = evaluate_plan_document(case.doc, context(layout, case))
    # THEN it is stopped with exactly the expected violations, each message naming address, rule and offending value
    assert not report.ok
    found = {(v.rule, v.address) for v in report.violations}
    assert found == {(rule, address) for rule, address, _ in case.expected}, [str(v) for v in report.violations]
    for rule, address, fragment in case.expected:
        messages = [str(v) for v in report.violations if (v.rule, v.address) == (rule, address)]
        assert any(m.startswith(f"{address}: {rule}: ") and fragment in m for m in messages), (fragment, messages)


@pytest.mark.parametrize("case", COMPLIANT, ids=lambda c: c.name)
def test_policy_compliant_plan_passes(layout, case: Case):
    # GIVEN a plan within every rule, WHEN evaluated, THEN nothing is stopped (no false positive)
    report = evaluate_plan_document(case.doc, context(layout, case))
    assert report.ok, [str(v) for v in report.violations]


def test_gpu_message_has_the_documented_shape(layout):
    # GIVEN a team without GPUs launching a p5, THEN the message reads address: rule: attribute "value" ... tier
    doc = plan(
        change(
            "aws_instance.gpu",
            "aws_instance",
            {
                "instance_type": "p5.48xlarge",
                "tags_all": {"team": "team-mlops", "stage": "staging", "cost-center": "CC-1003"},
            },
        )
    )
    [violation] = evaluate_plan_document(doc, PolicyContext.from_layout(layout, "none")).violations
    assert str(violation).startswith(
        'aws_instance.gpu: gpu-instance-tier: instance_type "p5.48xlarge" is not in tier "none"'
    )
    assert violation.value == "p5.48xlarge"


def test_gpu_tier_follows_the_layout_accelerated_families(layout):
    # GIVEN the layout's accelerated families (f1, FPGA, is one since the families come from data)
    ctx = PolicyContext.from_layout(layout, "training")
    doc = plan(change("aws_instance.fpga", "aws_instance", {"instance_type": "f1.2xlarge"}))
    # WHEN an f1 instance is planned in the widest tier, THEN it is stopped: no tier grants FPGA
    assert [v.rule for v in evaluate_plan_document(doc, ctx).violations] == ["gpu-instance-tier"]
    # AND a layout whose families did not list it would let it through: the rule reads the families from the data
    narrowed = PolicyContext(
        **{**ctx.__dict__, "accelerated_ec2": tuple(f for f in ctx.accelerated_ec2 if not f.startswith("f"))}
    )
    assert evaluate_plan_document(doc, narrowed).ok


def test_policy_context_boundary_is_the_ci_boundary_bootstrap_creates(layout):
    from vending.bootstrap import BOUNDARY_NAME

    ctx = PolicyContext.from_layout(layout, "none", team="team-mlops", account_id="123456789012")
    assert ctx.to_data()["vend_context"]["boundary_arn_patterns"] == [
        f"arn:aws*:iam::123456789012:policy/{BOUNDARY_NAME}"
    ]


def test_policy_context_unknown_tier_is_rejected(layout):
    # GIVEN a tier the layout does not define, WHEN a context is built, THEN it is refused
    with pytest.raises(InvalidRequest, match="unknown GPU tier"):
        PolicyContext.from_layout(layout, "quantum")


def test_policy_context_data_is_what_conftest_reads(layout):
    data = PolicyContext.from_layout(
        layout, "inference", team="team-backend", stage="staging", cost_center="CC-1002"
    ).to_data()["vend_context"]
    assert data["expected_tags"] == {"team": "team-backend", "stage": "staging", "cost-center": "CC-1002"}
    assert "g5.*" in data["allowed_instance_types"] and "ml.p*" in data["accelerated_families"]
    assert data["team_stack"] is True
    assert PolicyContext.from_layout(layout, "none", team="shared").team_stack is False


# --- fail closed ------------------------------------------------------------------------------------------------------


def test_evaluate_without_regorus_is_refused(layout, monkeypatch):
    # GIVEN the engine cannot be imported, WHEN evaluated, THEN the rules are reported not evaluated (never a pass)
    monkeypatch.setitem(sys.modules, "regorus", None)
    with pytest.raises(PolicyEngineUnavailable, match="Rego engine is not installed"):
        evaluate_plan_document(plan(), PolicyContext.from_layout(layout, "none"))


def test_evaluate_with_broken_rule_file_is_refused(layout, tmp_path):
    # GIVEN a rule directory where one file does not parse
    rules = tmp_path / "rego"
    shutil.copytree(policy_module.REGO_DIR, rules)
    (rules / "gpu_instance_tier.rego").write_text("package vend.gpu_instance_tier\ndeny contains if {\n")
    with pytest.raises(PolicyEngineUnavailable, match=r"gpu_instance_tier\.rego does not load"):
        evaluate_plan_document(plan(), PolicyContext.from_layout(layout, "none"), rego_dir=rules)


def test_rule_error_names_rule_and_address_and_keeps_every_other_finding(layout, tmp_path):
    # GIVEN a rule that crashes on one resource (count(null), as gpu_instance_tier.rego did on instance_requirements)
    rules = tmp_path / "rego"
    shutil.copytree(policy_module.REGO_DIR, rules)
    path = rules / "gpu_instance_tier.rego"
    path.write_text(
        path.read_text()
        + '\ndeny contains v if {\n\tsome rc in plan.resources\n\trc.type == "aws_boom"\n'
        + '\tcount(plan.after(rc).types) > 0\n\tv := plan.violation(rule, rc, "x", "boom")\n}\n'
    )
    doc = plan(
        change("aws_boom.a", "aws_boom", {"types": None, "tags_all": {}}),
        change("aws_instance.gpu", "aws_instance", {"instance_type": "p5.48xlarge", "tags_all": {}}),
    )
    report = evaluate_plan_document(doc, PolicyContext.from_layout(layout, "none", team="team-mlops"), rego_dir=rules)
    # THEN the error names the rule and the address, the same rule's finding on the other resource is kept, and so
    # are the other rules' findings; the stage cannot pass
    assert [(e.rule, e.address) for e in report.errors] == [("gpu-instance-tier", "aws_boom.a")]
    assert "count" in report.errors[0].message and "backtrace" not in report.errors[0].message
    found = {(v.rule, v.address) for v in report.violations}
    assert ("gpu-instance-tier", "aws_instance.gpu") in found and ("required-cost-tags", "aws_boom.a") in found
    assert not report.ok


def test_evaluate_with_missing_rule_package_is_refused(layout, tmp_path):
    # GIVEN a rule directory without the boundary rule, THEN evaluation refuses instead of skipping the rule
    rules = tmp_path / "rego"
    shutil.copytree(policy_module.REGO_DIR, rules)
    (rules / "iam_role_boundary.rego").unlink()
    with pytest.raises(PolicyEngineUnavailable, match="iam_role_boundary"):
        evaluate_plan_document(plan(), PolicyContext.from_layout(layout, "none"), rego_dir=rules)


@pytest.mark.parametrize("doc", [[], {"resource_changes": []}, {"format_version": "1.2", "resource_changes": {}}])
def test_evaluate_not_a_plan_is_refused(layout, doc):
    with pytest.raises(PolicyEngineUnavailable):
        evaluate_plan_document(doc, PolicyContext.from_layout(layout, "none"))


def test_evaluate_plan_unreadable_file_is_refused(layout, tmp_path):
    (tmp_path / "plan.json").write_text("{not json")
    with pytest.raises(PolicyEngineUnavailable, match="not readable JSON"):
        evaluate_plan(tmp_path / "plan.json", PolicyContext.from_layout(layout, "none"))


def test_policy_check_engine_failure_fails_the_stage(layout, tmp_path, monkeypatch):
    # GIVEN checkov passing but the Rego engine gone, WHEN the stage checks a plan, THEN the stage fails and says why
    monkeypatch.setitem(sys.modules, "regorus", None)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan()))
    ok, summary, _, record = policy_check(
        plan_file, PolicyContext.from_layout(layout, "none"), lambda: (True, "checkov ok", "", [])
    )
    assert not ok and summary.startswith("policy rules not evaluated") and record["ok"] is False


def test_policy_check_violation_fails_the_stage_with_every_message(layout, tmp_path):
    case = next(c for c in VIOLATING if c.name == "no-tags-at-all")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(case.doc))
    ok, summary, tail, record = policy_check(plan_file, context(layout, case), None)
    assert not ok and summary.startswith("policy violation: aws_kms_key.k: required-cost-tags: ")
    assert "(+2 more)" in summary and len(tail.splitlines()) == 3 and len(record["violations"]) == 3


def test_violation_str_names_address_rule_message():
    assert (
        str(Violation("no-public-s3", "aws_s3_bucket_acl.a", 'acl "public-read" is public'))
        == 'aws_s3_bucket_acl.a: no-public-s3: acl "public-read" is public'
    )


def test_rego_files_declare_conftest_compatible_deny_sets():
    # conftest reads `deny` rules whose values are strings or objects with `msg`: every rule package has one.
    for path in Path(policy_module.REGO_DIR).glob("*.rego"):
        text = path.read_text()
        assert "deny contains v if" in text and "plan.violation(rule" in text, path.name


FRONTEND_TAGS = {"team": "team-frontend", "stage": "staging", "cost-center": "CC-1001"}


def _regional_stack(*planned: str) -> dict[str, Any]:
    """One aliased provider per organization region and one module per region behind it (the networking template's
    shape); `planned` names the modules whose count is 1, i.e. that have resource changes."""
    regions = {"us_east_1": "us-east-1", "eu_central_1": "eu-central-1"}
    provider_config = {"aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws"}} | {
        f"aws.{alias}": {
            "name": "aws",
            "full_name": "registry.terraform.io/hashicorp/aws",
            "alias": alias,
            "expressions": {"region": {"constant_value": region}},
        }
        for alias, region in regions.items()
    }
    module_calls = {
        f"vpc_{alias}": {
            "source": "../../../../modules/networking",
            "module": {
                "resources": [
                    {
                        "address": "aws_vpc.this",
                        "mode": "managed",
                        "type": "aws_vpc",
                        "name": "this",
                        "provider_config_key": f"aws.{alias}",
                    },
                    {  # an expression named like a module's resource list (a policy statement's `resources`)
                        "address": "data.aws_iam_policy_document.this",
                        "mode": "data",
                        "type": "aws_iam_policy_document",
                        "name": "this",
                        "provider_config_key": f"aws.{alias}",
                        "expressions": {"statement": [{"resources": {"references": ["aws_vpc.this.arn"]}}]},
                    },
                ]
            },
        }
        for alias in regions
    }
    changes = [
        change(
            f"module.vpc_{alias}[0].aws_vpc.this",
            "aws_vpc",
            {
                "cidr_block": "10.0.0.0/16",
                "tags_all": {"team": "team-frontend", "stage": "staging", "cost-center": "CC-1001"},
            },
            module=f"module.vpc_{alias}[0]",
        )
        for alias in planned
    ]
    return plan(
        *changes, configuration={"provider_config": provider_config, "root_module": {"module_calls": module_calls}}
    )


def test_allowed_regions_judges_the_provider_configurations_planned_resources_use(layout):
    """GIVEN a provider per organization region, modules switched on by count for the team's regions only WHEN the
    team's region (us-east-1) is planned THEN the unused eu-central-1 provider is no finding; WHEN the eu-central-1
    module is planned too THEN its provider is stopped (the negative control)."""
    ctx = PolicyContext.from_layout(layout, "none", team="team-frontend", stage="staging", regions=("us-east-1",))
    assert [str(v) for v in evaluate_plan_document(_regional_stack("us_east_1"), ctx).violations] == []
    found = evaluate_plan_document(_regional_stack("us_east_1", "eu_central_1"), ctx).violations
    assert [(v.rule, v.address) for v in found] == [("allowed-regions", 'provider["aws.eu_central_1"]')]
