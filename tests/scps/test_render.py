"""The SCPs rendered from the layout: exemptions, GPU tiers, tag conditions, lock-out safety and quotas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scps import catalog
from scps.evaluate import Request, denying_statements, is_denied
from scps.lint import lint
from scps.render import render
from vending.exceptions import GuardrailLimitExceeded
from vending.layout import DEFAULT_GLOBAL_SERVICE_EXEMPTIONS, Layout, load_layout

GLOBAL_SERVICES = (
    "iam:*",
    "organizations:*",
    "route53:*",
    "cloudfront:*",
    "sts:*",
    "support:*",
    "budgets:*",
    "ce:*",
    "health:*",
    "globalaccelerator:*",
    "waf:*",
    "importexport:*",
)


def _layout(**limits: int) -> Layout:
    data = load_layout().model_dump(mode="json")
    data["organization"]["scp_limits"].update(limits)
    return Layout.model_validate(data)


def _statements(layout: Layout) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for p in render(layout).policies.values() for s in p.document["Statement"]}


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _tier_denies(layout: Layout, tier: str, request: Request) -> bool:
    r = render(layout)
    return is_denied([r.policies[r.tier_policies[tier]].document], request)


def test_region_deny_keeps_global_exemptions() -> None:
    # GIVEN the packaged layout
    layout = load_layout()
    # WHEN the region statement is rendered
    stmt = _statements(layout)["DenyOutsideAllowedRegions"]
    # THEN it denies by NotAction with AWS's global-service exemptions and the allow-list as StringNotEquals
    assert stmt["Effect"] == "Deny" and "Action" not in stmt
    assert set(GLOBAL_SERVICES) <= set(stmt["NotAction"])
    # AND Bedrock invocations are left to their own region statement (it lets profile-routed calls through)
    assert tuple(stmt["NotAction"]) == (*DEFAULT_GLOBAL_SERVICE_EXEMPTIONS, *catalog.BEDROCK_INVOKE)
    assert stmt["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == list(layout.organization.allowed_regions)
    invoke = _statements(layout)["DenyInvokeOutsideAllowedRegions"]
    assert invoke["Action"] == list(catalog.BEDROCK_INVOKE)
    assert invoke["Condition"]["StringNotEquals"] == stmt["Condition"]["StringNotEquals"]


def test_region_deny_exempts_platform_roles() -> None:
    layout = load_layout()
    stmt = _statements(layout)["DenyOutsideAllowedRegions"]
    assert stmt["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::*:role/{n}" for n in layout.organization.platform_role_names
    ]


@pytest.mark.parametrize(
    ("tier", "allowed", "denied"),
    [
        ("none", [], ["g5.xlarge", "p5.48xlarge", "trn1.32xlarge", "inf2.xlarge", "dl1.24xlarge", "g4dn.xlarge"]),
        (
            "inference",
            ["g5.xlarge", "g6.2xlarge", "g6e.xlarge", "inf2.xlarge"],
            ["p4d.24xlarge", "p5.48xlarge", "trn1.32xlarge", "g4dn.xlarge", "dl1.24xlarge", "inf1.xlarge"],
        ),
        (
            "training",
            ["g5.xlarge", "p4d.24xlarge", "p5.48xlarge", "trn1.32xlarge", "trn1n.32xlarge", "inf2.xlarge"],
            ["p3.2xlarge", "g4dn.xlarge", "dl1.24xlarge", "trn2.48xlarge"],
        ),
    ],
)
def test_gpu_tier_allows_exactly_its_families(tier: str, allowed: list[str], denied: list[str]) -> None:
    # GIVEN a tier's rendered policy WHEN RunInstances names an instance type on the instance resource
    layout = load_layout()

    def run(t: str) -> bool:
        return _tier_denies(
            layout,
            tier,
            Request("ec2:RunInstances", "arn:aws:ec2:us-east-1:1:instance/i-1", context={"ec2:InstanceType": t}),
        )

    # THEN the tier's families and CPU types pass and every other accelerated type is denied
    assert not any(run(t) for t in [*allowed, "m7i.large", "c7g.xlarge", "t3.micro"])
    assert all(run(t) for t in [*denied, "f1.2xlarge", "vt1.3xlarge", "cg1.4xlarge"])


@pytest.mark.parametrize(
    ("tier", "requested", "denied"),
    [
        ("none", ["ml.g5.xlarge"], True),
        ("none", ["ml.m5.large"], False),
        ("inference", ["ml.g5.xlarge"], False),
        ("inference", ["ml.m5.large", "ml.g5.xlarge"], False),  # multi-variant endpoint config: CPU + allowed GPU
        ("inference", ["ml.m5.large", "ml.p5.48xlarge"], True),
        ("inference", ["ml.trn1.32xlarge"], True),
        ("training", ["ml.p5.48xlarge", "ml.trn1.32xlarge"], False),
        ("training", ["ml.p3.2xlarge"], True),
        ("inference", ["ml.g6e.xlarge"], False),
        ("training", ["ml.trn1n.32xlarge"], False),
        ("inference", ["ml.m5.large", "ml.i3en.xlarge", "ml.g5.xlarge"], False),
    ],
)
def test_gpu_tier_sagemaker_instance_types(tier: str, requested: list[str], denied: bool) -> None:
    layout = load_layout()
    for action in ("sagemaker:CreateTrainingJob", "sagemaker:UpdateTrainingJob", "sagemaker:CreateMonitoringSchedule"):
        request = Request(action, context={"sagemaker:InstanceTypes": requested})
        assert _tier_denies(layout, tier, request) is denied, action


def test_cost_tags_one_condition_per_key_absent_or_empty() -> None:
    # GIVEN the mandatory tags of the layout
    layout = load_layout()
    stmts = [s for s in _statements(layout).values() if s["Sid"].startswith("RequireTag")]
    # THEN every key has its own statements, each denying an absent or empty aws:RequestTag/<key>
    keys = sorted(next(iter(s["Condition"]["StringNotLike"])) for s in stmts)
    assert keys == sorted(f"aws:RequestTag/{k}" for k in layout.organization.mandatory_tags for _ in range(2))
    for s in stmts:
        assert set(s["Condition"]) == {"StringNotLike", "ArnNotLike"}
        assert list(s["Condition"]["StringNotLike"].values()) == ["?*"]
    run = [s for s in stmts if s["Action"] == "ec2:RunInstances"]
    assert all(s["Resource"] == ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:volume/*"] for s in run)
    create = [s for s in stmts if s["Action"] != "ec2:RunInstances"]
    assert all(
        {
            "eks:CreateCluster",
            "sagemaker:CreateTrainingJob",
            "ecs:CreateService",
            "rds:CreateDBInstance",
            "ec2:CreateNatGateway",
        }
        <= set(s["Action"])
        for s in create
    )
    assert all("s3:CreateBucket" not in s["Action"] for s in create)


def test_render_platform_roles_exempt_from_every_lockout_statement() -> None:
    # GIVEN every rendered statement
    layout = load_layout()
    arns = [f"arn:aws:iam::*:role/{n}" for n in layout.organization.platform_role_names]
    # Statements that cannot stop the platform operating an account, and why (see scps/render.py).
    not_lockout = {"DenyLeaveOrganization", "DenyRootUser"}
    for sid, stmt in _statements(layout).items():
        if sid in not_lockout:
            continue
        # THEN each one that could lock the platform out carries the exemption (the team region fence also exempts
        # the usage forwarding's role: its PutEvents go to the platform's region, vending.usage_forwarding)
        extra = ["arn:aws:iam::*:role/VendUsageForwarding"] if sid == "DenyOutsideTeamRegions" else []
        assert stmt["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == arns + extra, sid


def test_render_baseline_protects_roles_bucket_trail() -> None:
    stmts = _statements(load_layout())
    assert stmts["ProtectStateBuckets"]["Resource"] == ["arn:aws:s3:::tfstate-*", "arn:aws:s3:::tfstate-*/*"]
    assert {"s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteObjectVersion"} <= set(
        stmts["ProtectStateBuckets"]["Action"]
    )
    assert {"cloudtrail:StopLogging", "cloudtrail:DeleteTrail"} <= set(stmts["ProtectActivityLogs"]["Action"])
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
        assert rendered.ou_policies["Workloads"] == ("vend-workloads-1", "vend-workloads-2")  # packed into two


def test_render_limit_per_target_fails_precisely() -> None:
    # GIVEN a quota of 2 SCPs per target WHEN Workloads needs FullAWSAccess + 2 rendered policies
    with pytest.raises(GuardrailLimitExceeded) as e:
        render(_layout(max_policies_per_target=2))
    # THEN the error names the target, the limit and the overage
    assert "OU Workloads" in str(e.value) and "max_policies_per_target is 2" in str(e.value)
    assert "needs 4 SCPs attached" in str(e.value) and "over by 2" in str(e.value)


def test_render_statement_too_large_fails_precisely() -> None:
    # GIVEN a 1,024-character quota WHEN the largest statement alone is larger
    with pytest.raises(GuardrailLimitExceeded) as e:
        render(_layout(max_policy_chars=1024))
    message = str(e.value)
    # THEN the error names the largest statement of the first OU, its exact size and the overage
    from scps.render import GROUPS

    layout = _layout(max_policy_chars=1024)
    path, groups = next(iter(layout.guardrails.ou_guardrails.items()))
    largest = max((s for g in groups for s in GROUPS[g](layout)), key=lambda s: (s.chars, s.sid))
    alone = len('{"Version":"2012-10-17","Statement":[]}') + largest.chars
    assert f"OU {path}: statement {largest.sid} " in message and f"renders to {alone} characters" in message
    assert "max_policy_chars is 1024" in message and f"over by {alone - 1024}" in message


def test_lint_clean_with_known_false_positives_only() -> None:
    # GIVEN every rendered policy WHEN linted with parliament THEN nothing is left after the documented filters
    results = lint(render(load_layout()))
    assert [r.to_dict() for r in results if not r.ok] == []
    assert all(s["reason"] for r in results for s in r.suppressed)


def test_region_exemptions_are_aws_example_minus_regional_services() -> None:
    from vending.layout import AWS_REGION_DENY_EXAMPLE, REGIONAL_IN_AWS_EXAMPLE

    # GIVEN AWS's published example list THEN the exemption is exactly it without the regional services named
    assert set(REGIONAL_IN_AWS_EXAMPLE) <= set(AWS_REGION_DENY_EXAMPLE)
    assert (
        tuple(a for a in AWS_REGION_DENY_EXAMPLE if a not in REGIONAL_IN_AWS_EXAMPLE)
        == DEFAULT_GLOBAL_SERVICE_EXEMPTIONS
    )
    assert {"wafv2:*", "chime:*"} <= set(REGIONAL_IN_AWS_EXAMPLE)
    assert not {"wafv2:*", "chime:*", "kms:*"} & set(DEFAULT_GLOBAL_SERVICE_EXEMPTIONS)


@pytest.mark.parametrize(("stage", "other"), [("staging", "production"), ("production", "staging")])
def test_render_stage_ou_pins_its_own_stage(stage: str, other: str) -> None:
    # GIVEN the stage OU's policies WHEN a request tags the other stage THEN only the stage pin denies it
    layout = load_layout()
    r = render(layout)
    docs = [r.policies[n].document for n in r.ou_policies[layout.ou_for_stage(stage)]]
    tags = {"aws:RequestTag/team": "t", "aws:RequestTag/cost-center": "CC-1", "aws:RequestedRegion": "us-east-1"}
    wrong = Request(
        "rds:CreateDBInstance", "*", "arn:aws:iam::111122223333:role/x", {**tags, "aws:RequestTag/stage": other}
    )
    right = Request(
        "rds:CreateDBInstance", "*", "arn:aws:iam::111122223333:role/x", {**tags, "aws:RequestTag/stage": stage}
    )
    assert denying_statements(docs, wrong) == ["RequireOwnStageTag"]
    assert denying_statements(docs, right) == []
