"""The SCPs rendered from the layout: exemptions, GPU tiers, tag conditions, lock-out safety and quotas."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest

from scps.lint import lint
from scps.render import render
from vending.exceptions import GuardrailLimitExceeded
from vending.layout import DEFAULT_GLOBAL_SERVICE_EXEMPTIONS, Layout, load_layout

GLOBAL_SERVICES = ("iam:*", "organizations:*", "route53:*", "cloudfront:*", "sts:*", "support:*", "budgets:*",
                   "ce:*", "health:*", "globalaccelerator:*", "waf:*", "importexport:*")


def _layout(**limits: int) -> Layout:
    data = load_layout().model_dump(mode="json")
    data["organization"]["scp_limits"].update(limits)
    return Layout.model_validate(data)


def _statements(layout: Layout) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for p in render(layout).policies.values() for s in p.document["Statement"]}


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _ec2_denied(statement: dict[str, Any], instance_type: str) -> bool:
    cond = statement["Condition"]
    like = any(fnmatchcase(instance_type, p) for p in cond["StringLike"]["ec2:InstanceType"])
    not_like = all(not fnmatchcase(instance_type, p) for p in cond.get("StringNotLike", {}).get("ec2:InstanceType", []))
    return like and not_like


def _sagemaker_denied(statement: dict[str, Any], requested: list[str]) -> bool:
    cond = statement["Condition"]
    families = cond["ForAnyValue:StringLike"]["sagemaker:InstanceTypes"]
    any_accel = any(fnmatchcase(t, p) for t in requested for p in families)
    allowed = cond.get("ForAnyValue:StringNotLike", {}).get("sagemaker:InstanceTypes")
    if allowed is None:
        return any_accel
    return any_accel and any(all(not fnmatchcase(t, p) for p in allowed) for t in requested)


def test_region_deny_keeps_global_exemptions() -> None:
    # GIVEN the packaged layout
    layout = load_layout()
    # WHEN the region statement is rendered
    stmt = _statements(layout)["DenyOutsideAllowedRegions"]
    # THEN it denies by NotAction with AWS's global-service exemptions and the allow-list as StringNotEquals
    assert stmt["Effect"] == "Deny" and "Action" not in stmt
    assert set(GLOBAL_SERVICES) <= set(stmt["NotAction"])
    assert tuple(stmt["NotAction"]) == DEFAULT_GLOBAL_SERVICE_EXEMPTIONS
    assert stmt["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == list(layout.organization.allowed_regions)


def test_region_deny_exempts_platform_roles() -> None:
    layout = load_layout()
    stmt = _statements(layout)["DenyOutsideAllowedRegions"]
    assert stmt["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::*:role/{n}" for n in layout.organization.platform_role_names]


@pytest.mark.parametrize(("tier", "allowed", "denied"), [
    ("none", [], ["g5.xlarge", "p5.48xlarge", "trn1.32xlarge", "inf2.xlarge", "dl1.24xlarge", "g4dn.xlarge"]),
    ("inference", ["g5.xlarge", "g6.2xlarge", "g6e.xlarge", "inf2.xlarge"],
     ["p4d.24xlarge", "p5.48xlarge", "trn1.32xlarge", "g4dn.xlarge", "dl1.24xlarge", "inf1.xlarge"]),
    ("training", ["g5.xlarge", "p4d.24xlarge", "p5.48xlarge", "trn1.32xlarge", "trn1n.32xlarge", "inf2.xlarge"],
     ["p3.2xlarge", "g4dn.xlarge", "dl1.24xlarge", "trn2.48xlarge"]),
])
def test_gpu_tier_allows_exactly_its_families(tier: str, allowed: list[str], denied: list[str]) -> None:
    # GIVEN a tier's rendered policy
    layout = load_layout()
    slug = "".join(p.capitalize() for p in tier.split("-"))
    ec2 = _statements(layout)[f"GpuTier{slug}Ec2"]
    # THEN the allowance is exactly the tier's list, CPU types pass and other accelerated types are denied
    assert ec2["Action"] == "ec2:RunInstances" and ec2["Resource"] == "arn:aws:ec2:*:*:instance/*"
    assert ec2["Condition"].get("StringNotLike", {}).get("ec2:InstanceType", []) == list(
        layout.gpu_tiers[tier].ec2_instance_types)
    assert not any(_ec2_denied(ec2, t) for t in [*allowed, "m7i.large", "c7g.xlarge", "t3.micro"])
    assert all(_ec2_denied(ec2, t) for t in denied)


@pytest.mark.parametrize(("tier", "requested", "denied"), [
    ("none", ["ml.g5.xlarge"], True),
    ("none", ["ml.m5.large"], False),
    ("inference", ["ml.g5.xlarge"], False),
    ("inference", ["ml.m5.large", "ml.g5.xlarge"], False),  # multi-variant endpoint config: CPU + allowed GPU
    ("inference", ["ml.m5.large", "ml.p5.48xlarge"], True),
    ("inference", ["ml.trn1.32xlarge"], True),
    ("training", ["ml.p5.48xlarge", "ml.trn1.32xlarge"], False),
    ("training", ["ml.p3.2xlarge"], True),
])
def test_gpu_tier_sagemaker_instance_types(tier: str, requested: list[str], denied: bool) -> None:
    stmt = _statements(load_layout())[f"GpuTier{tier.capitalize()}SageMaker"]
    assert "sagemaker:CreateTrainingJob" in stmt["Action"]
    assert _sagemaker_denied(stmt, requested) is denied


def test_cost_tags_one_null_condition_per_key() -> None:
    # GIVEN the mandatory tags of the layout
    layout = load_layout()
    stmts = [s for s in _statements(layout).values() if s["Sid"].startswith("RequireTag")]
    # THEN every key has its own statements, each with a single Null condition on aws:RequestTag/<key>
    keys = sorted(next(iter(s["Condition"]["Null"])) for s in stmts)
    assert keys == sorted(f"aws:RequestTag/{k}" for k in layout.organization.mandatory_tags for _ in range(2))
    for s in stmts:
        assert list(s["Condition"]) == ["Null"] and list(s["Condition"]["Null"].values()) == ["true"]
    run = [s for s in stmts if s["Action"] == "ec2:RunInstances"]
    assert all(s["Resource"] == ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:volume/*"] for s in run)
    create = [s for s in stmts if s["Action"] != "ec2:RunInstances"]
    assert all({"eks:CreateCluster", "sagemaker:CreateTrainingJob", "ecs:CreateService"} <= set(s["Action"])
               for s in create)
    assert all("s3:CreateBucket" not in s["Action"] for s in create)


def test_render_platform_roles_exempt_from_every_lockout_statement() -> None:
    # GIVEN every rendered statement
    layout = load_layout()
    arns = [f"arn:aws:iam::*:role/{n}" for n in layout.organization.platform_role_names]
    # Statements that cannot stop the platform operating an account, and why (see scps/render.py).
    not_lockout = {"DenyLeaveOrganization", "DenyRootUser", "QuarantineReadOnly"}
    for sid, stmt in _statements(layout).items():
        if sid in not_lockout or sid.startswith(("GpuTier", "RequireTag")):
            continue
        # THEN each one that could lock the platform out carries the exemption
        assert stmt["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == arns, sid


def test_render_baseline_protects_roles_bucket_trail() -> None:
    stmts = _statements(load_layout())
    assert stmts["ProtectStateBuckets"]["Resource"] == ["arn:aws:s3:::tfstate-*", "arn:aws:s3:::tfstate-*/*"]
    assert {"s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteObjectVersion"} <= set(
        stmts["ProtectStateBuckets"]["Action"])
    assert {"cloudtrail:StopLogging", "cloudtrail:DeleteTrail"} <= set(stmts["ProtectCloudTrail"]["Action"])
    assert stmts["DenyRootUser"]["Condition"] == {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}
    assert stmts["DenyLeaveOrganization"]["Action"] == "organizations:LeaveOrganization"


@pytest.mark.parametrize(("chars", "per_target"), [(5120, 5), (10240, 10)])
def test_render_minified_within_quotas(chars: int, per_target: int) -> None:
    # GIVEN both quota levels WHEN rendered THEN every policy is minified and under the character quota
    layout = _layout(max_policy_chars=chars, max_policies_per_target=per_target)
    rendered = render(layout)
    for policy in rendered.policies.values():
        assert policy.content == json.dumps(json.loads(policy.content), separators=(",", ":"))
        assert policy.chars <= chars
    assert all(b.slots_left >= 0 for b in rendered.budgets(layout))
    if chars == 10240:
        assert rendered.ou_policies["Workloads"] == ("vend-workloads-1",)  # packed into one


def test_render_limit_per_target_fails_precisely() -> None:
    # GIVEN a quota of 2 SCPs per target WHEN Workloads needs FullAWSAccess + 2 rendered policies
    with pytest.raises(GuardrailLimitExceeded) as e:
        render(_layout(max_policies_per_target=2))
    # THEN the error names the target, the limit and the overage
    assert "OU Workloads" in str(e.value) and "max_policies_per_target is 2" in str(e.value)
    assert "over by 1" in str(e.value)


def test_render_statement_too_large_fails_precisely() -> None:
    # GIVEN a 1,024-character quota WHEN the region statement alone is larger
    with pytest.raises(GuardrailLimitExceeded) as e:
        render(_layout(max_policy_chars=1024))
    message = str(e.value)
    assert "DenyOutsideAllowedRegions" in message and "max_policy_chars is 1024" in message and "over by" in message


def test_lint_clean_with_known_false_positives_only() -> None:
    # GIVEN every rendered policy WHEN linted with parliament THEN nothing is left after the documented filters
    results = lint(render(load_layout()))
    assert [r.to_dict() for r in results if not r.ok] == []
    assert all(s["reason"] for r in results for s in r.suppressed)
