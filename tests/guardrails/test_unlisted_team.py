"""A team vended at run time (not in layout.yaml) gets a team policy from its records: its regions and tag values."""

from __future__ import annotations

from typing import Any

from scps.evaluate import Request, denying_statements
from scps.render import FULL_AWS_ACCESS, render
from vending.guardrails.intent import account_policies, build_intent, layout_for_records
from vending.layout import load_layout
from vending.lifecycle import RequestRecord, Status

TEAM = "team-search"  # not in the packaged layout
ROLE = "arn:aws:iam::444455556666:role/TeamCIRole"


def _record(stage: str, account_id: str, **overrides: Any) -> RequestRecord:
    body = {
        "team": TEAM,
        "stage": stage,
        "owner_email": "search@example.com",
        "cost_center": "CC-2001",
        "gpu_tier": "none",
        "regions": ["eu-west-1"],
        "stacks": ["bootstrap"],
        "repository": "example-org/team-search-infra",
        **overrides,
    }
    return RequestRecord(
        request_id=f"{TEAM}-{stage}", team=TEAM, stage=stage, status=Status.READY, request=body, account_id=account_id
    )


def _denials(action: str, context: dict[str, Any]) -> list[str]:
    layout = load_layout()
    assert layout.team(TEAM) is None
    records = [_record("staging", "444455556666")]
    rendered = render(layout_for_records(layout, records))
    intent = build_intent(layout, records).get("444455556666")
    assert intent is not None
    names = {n for n in rendered.governing(intent.ou_path, intent.tier) if n != FULL_AWS_ACCESS}
    names |= account_policies(rendered, intent) - {FULL_AWS_ACCESS}
    docs = [rendered.policies[n].document for n in sorted(names)]
    return denying_statements(docs, Request(action, "*", ROLE, context))


def test_unlisted_team_gets_a_team_policy_attached_to_its_accounts() -> None:
    # GIVEN a READY record of a team the layout does not list WHEN the layout is built for the records
    layout = layout_for_records(load_layout(), [_record("staging", "444455556666")])
    rendered = render(layout)
    # THEN the team has its own policy with its regions, and the account's intent attaches it
    assert (TEAM, "staging") in rendered.team_policies
    intent = build_intent(load_layout(), [_record("staging", "444455556666")]).get("444455556666")
    assert intent is not None and rendered.team_policies[(TEAM, "staging")] in account_policies(rendered, intent)


def test_unlisted_team_region_fence_and_own_tags() -> None:
    tags = {"aws:RequestTag/team": TEAM, "aws:RequestTag/stage": "staging", "aws:RequestTag/cost-center": "CC-2001"}
    # GIVEN its own region and tags THEN an ordinary create is allowed
    assert _denials("rds:CreateDBInstance", {"aws:RequestedRegion": "eu-west-1", **tags}) == []
    # WHEN it works in an org-allowed region outside its own THEN its team policy denies
    assert _denials("ec2:DescribeInstances", {"aws:RequestedRegion": "us-east-1"}) == ["DenyOutsideTeamRegions"]
    # WHEN it tags with another team's name or cost center THEN its own-tag rules deny
    other = {**tags, "aws:RequestTag/team": "team-mlops"}
    assert _denials("rds:CreateDBInstance", {"aws:RequestedRegion": "eu-west-1", **other}) == ["RequireOwnTeamTag"]
    cost = {**tags, "aws:RequestTag/cost-center": "CC-1003"}
    assert _denials("rds:CreateDBInstance", {"aws:RequestedRegion": "eu-west-1", **cost}) == ["RequireOwnCostCenterTag"]


def test_unlisted_team_without_regions_gets_no_policy() -> None:
    # GIVEN a record that names no allowed region THEN no team is made up for it (the intent reports the record)
    layout = layout_for_records(load_layout(), [_record("staging", "444455556666", regions=["ap-south-1"])])
    assert layout.team(TEAM) is None
