"""vending.guardrails.intent whole: each account's intent built from records and the layout (never from the account),
every problem named, and the layout each team's policies are rendered from."""

from __future__ import annotations

from typing import Any

import pytest

from scps.render import FULL_AWS_ACCESS, render
from tests.guardrails.conftest import record_for
from vending.guardrails.intent import (
    AccountIntent,
    OrgIntent,
    account_policies,
    build_intent,
    layout_for_records,
    quarantine_ou,
    team_layout,
    workload_ous,
)
from vending.layout import Layout
from vending.lifecycle import RequestRecord

A, B, C = "111111111111", "222222222222", "333333333333"


def test_quarantine_and_workload_ous_come_from_the_layout(layout: Layout) -> None:
    assert quarantine_ou(layout) == "Suspended"
    assert workload_ous(layout) == frozenset({"Workloads", "Workloads/Staging", "Workloads/Production"})
    groups = {p: g for p, g in layout.guardrails.ou_guardrails.items() if "quarantine" not in g}
    without = layout.model_copy(update={"guardrails": layout.guardrails.model_copy(update={"ou_guardrails": groups})})
    assert quarantine_ou(without) is None


def test_a_team_record_is_its_account_s_whole_intent(layout: Layout) -> None:
    mlops = layout.team("team-mlops")
    assert mlops is not None
    cost_center = mlops.cost_center
    record = record_for(layout, "team-mlops", "production", A, status="GUARDRAILS", regions=["us-west-2", "us-east-1"])

    intent = build_intent(layout, [record])

    assert intent == OrgIntent(
        {
            A: AccountIntent(
                A,
                "team",
                "Workloads/Production",
                "record:team-mlops-production",
                "training",
                {"team": "team-mlops", "stage": "production", "cost-center": cost_center, "gpu-tier": "training"},
                ("us-west-2", "us-east-1"),
                in_flight=True,
                team="team-mlops",
                stage="production",
            )
        },
        records_read=True,
        frozen=None,
    )
    assert intent.get(A) is intent.accounts[A] and intent.get(B) is None and intent.accounts[A].team_account


@pytest.mark.parametrize("status", ["PENDING", "CREATING", "PLACING", "GUARDRAILS"])
def test_in_flight_until_guardrails_are_applied(layout: Layout, status: str) -> None:
    assert (
        build_intent(layout, [record_for(layout, "team-frontend", "staging", A, status=status)]).accounts[A].in_flight
    )


@pytest.mark.parametrize("status", ["BOOTSTRAPPING", "PIPELINES", "READY", "FAILED", "UPDATING"])
def test_not_in_flight_once_guardrails_are_applied(layout: Layout, status: str) -> None:
    intent = build_intent(layout, [record_for(layout, "team-frontend", "staging", A, status=status)]).accounts[A]
    assert not intent.in_flight and intent.kind == "team"


def test_tags_the_layout_does_not_ask_for_are_not_intended(layout: Layout) -> None:
    keys = tuple(k for k in layout.organization.mandatory_tags if k != "cost-center")
    narrower = layout.model_copy(
        update={"organization": layout.organization.model_copy(update={"mandatory_tags": keys})}
    )
    intent = build_intent(narrower, [record_for(layout, "team-frontend", "staging", A)]).accounts[A]
    assert "cost-center" not in intent.tags and intent.tags["team"] == "team-frontend"
    assert set(intent.tags) == set(narrower.tag_keys())


def test_every_problem_of_a_record_is_named_and_nothing_else_is_intended(layout: Layout) -> None:
    record = record_for(layout, "team-frontend", "qa", A, gpu_tier="gold", cost_center="")

    intent = build_intent(layout, [record]).accounts[A]

    assert intent == AccountIntent(
        A,
        "team",
        "",
        "record:team-frontend-qa",
        problem="record:team-frontend-qa: stage 'qa' has no OU in the layout; GPU tier 'gold' is not in the layout; "
        "no cost center",
    )


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ({"gpu_tier": None}, "GPU tier None is not in the layout"),
        ({"cost_center": None}, "no cost center"),
    ],
)
def test_one_problem_alone(layout: Layout, update: dict[str, Any], problem: str) -> None:
    intent = build_intent(layout, [record_for(layout, "team-frontend", "staging", A, **update)]).accounts[A]
    assert intent.problem == f"record:team-frontend-staging: {problem}" and intent.tier is None and intent.tags == {}


@pytest.mark.parametrize("status", ["RETIRING", "SUSPENDED", "CLOSED"])
def test_a_retired_record_intends_the_quarantine_ou(layout: Layout, status: str) -> None:
    record = record_for(layout, "team-frontend", "staging", A, status=status)
    assert build_intent(layout, [record]).accounts[A] == AccountIntent(
        A, "retired", "Suspended", "record:team-frontend-staging"
    )


def test_a_retired_record_without_a_quarantine_ou_is_a_problem(layout: Layout) -> None:
    groups = {p: g for p, g in layout.guardrails.ou_guardrails.items() if "quarantine" not in g}
    without = layout.model_copy(update={"guardrails": layout.guardrails.model_copy(update={"ou_guardrails": groups})})
    record = record_for(layout, "team-frontend", "staging", A, status="SUSPENDED")
    assert build_intent(without, [record]).accounts[A] == AccountIntent(
        A,
        "retired",
        "",
        "record:team-frontend-staging",
        problem="record:team-frontend-staging: retired, but no OU carries the quarantine guardrails",
    )


def test_platform_accounts_and_double_claims(layout: Layout) -> None:
    platform = layout.model_copy(
        update={
            "guardrails": layout.guardrails.model_copy(update={"platform_accounts": {A: "Platform", B: "Platform"}})
        }
    )
    records = [
        record_for(layout, "team-frontend", "staging", B),
        record_for(layout, "team-backend", "staging", C),
        record_for(layout, "team-mlops", "staging", C),
        record_for(layout, "team-mlops", "production", None),  # no account yet: claims nothing
    ]

    intent = build_intent(platform, records)

    assert intent.accounts[A] == AccountIntent(A, "platform", "Platform", "layout:platform_accounts")
    sources_b = "layout:platform_accounts, record:team-frontend-staging"
    assert intent.accounts[B] == AccountIntent(
        B, "platform", "", sources_b, problem=f"claimed by 2 sources: {sources_b}"
    )
    sources_c = "record:team-backend-staging, record:team-mlops-staging"
    assert intent.accounts[C] == AccountIntent(C, "team", "", sources_c, problem=f"claimed by 2 sources: {sources_c}")
    assert set(intent.accounts) == {A, B, C}


def test_frozen_accounts_and_the_unread_freezes_table(layout: Layout) -> None:
    records = [
        record_for(layout, "team-frontend", "staging", A),
        record_for(layout, "team-frontend", "qa", B),  # a problem record is never marked frozen
        record_for(layout, "team-backend", "staging", C, status="SUSPENDED"),
    ]
    read = build_intent(layout, records, frozen=[A, B, C])
    assert read.frozen == frozenset({A, B, C})
    assert (read.accounts[A].frozen, read.accounts[B].frozen, read.accounts[C].frozen) == (True, False, False)
    unread = build_intent(layout, records)
    assert unread.frozen is None and not any(i.frozen for i in unread.accounts.values())
    assert build_intent(layout, records, frozen=[]).frozen == frozenset()
    assert build_intent(layout, None) == OrgIntent({}, records_read=False)


def test_account_policies_per_kind_of_account(layout: Layout) -> None:
    rendered = render(layout)
    team = build_intent(layout, [record_for(layout, "team-backend", "production", A)]).accounts[A]
    assert account_policies(rendered, team) == {
        FULL_AWS_ACCESS,
        "vend-gpu-inference",
        "vend-team-team-backend-production",
    }
    frozen = build_intent(layout, [record_for(layout, "team-backend", "production", A)], frozen=[A]).accounts[A]
    assert account_policies(rendered, frozen) == {
        FULL_AWS_ACCESS,
        "vend-gpu-inference",
        "vend-team-team-backend-production",
        "vend-freeze",
    }
    # a team the render does not know has no team policy; a platform or retired account has FullAWSAccess only, even
    # when marked frozen (the freeze fences team accounts)
    stranger = AccountIntent(A, "team", "Workloads/Staging", "x", "none", team="team-unknown", stage="staging")
    assert account_policies(rendered, stranger) == {FULL_AWS_ACCESS, "vend-gpu-none"}
    platform = AccountIntent(A, "platform", "Platform", "layout:platform_accounts", frozen=True)
    assert account_policies(rendered, platform) == {FULL_AWS_ACCESS}
    no_freeze = type(rendered)(**{**rendered.__dict__, "freeze_policy": ""})
    assert account_policies(no_freeze, frozen) == {
        FULL_AWS_ACCESS,
        "vend-gpu-inference",
        "vend-team-team-backend-production",
    }


def test_layout_for_records_takes_each_stage_s_regions_from_its_own_record(layout: Layout) -> None:
    allowed = layout.organization.allowed_regions
    assert len(allowed) >= 2
    first, second = allowed[0], allowed[1]
    records = [
        # asked out of the allow-list's order: kept in the allow-list's order
        record_for(layout, "team-frontend", "staging", A, regions=[second, first]),
        record_for(layout, "team-frontend", "production", B, regions=[second]),
        # not counted: retired, no account, no regions
        record_for(layout, "team-backend", "staging", C, status="CLOSED", regions=[second]),
        record_for(layout, "team-backend", "production", None, regions=[second]),
        record_for(layout, "team-mlops", "staging", "444444444444", regions=[]),
    ]

    moved = layout_for_records(layout, records)

    frontend = moved.team("team-frontend")
    assert frontend is not None
    assert frontend.regions_for("staging") == (first, second) and frontend.regions_for("production") == (second,)
    for team in ("team-backend", "team-mlops"):
        assert moved.team(team) == layout.team(team)


def test_layout_for_records_unchanged_is_the_same_layout(layout: Layout) -> None:
    spec = layout.team("team-frontend")
    assert spec is not None
    same = [record_for(layout, "team-frontend", s, A, regions=list(spec.regions_for(s))) for s in layout.stage_ous]
    assert layout_for_records(layout, []) is layout
    assert layout_for_records(layout, same).teams == layout.teams


def _unlisted(layout: Layout, team: str = "team-vended", **request: Any) -> RequestRecord:
    record = record_for(layout, "team-frontend", "staging", A, **request)
    body = {**record.request, "team": team}
    return record.model_copy(update={"team": team, "request_id": f"{team}-staging", "request": body})


def test_a_team_the_layout_does_not_list_gets_a_team_from_its_record(layout: Layout) -> None:
    region = layout.organization.allowed_regions[0]
    record = _unlisted(
        layout,
        regions=[region],
        cost_center="CC-9999",
        gpu_tier="inference",
        owner_email="lead@example.com",
        repository="org/vended",
    )

    moved = layout_for_records(layout, [record])

    spec = moved.team("team-vended")
    assert spec is not None
    assert (spec.slug, spec.owner_email, spec.cost_center, spec.gpu_tier, spec.regions, spec.repository) == (
        "team-vended",
        "lead@example.com",
        "CC-9999",
        "inference",
        (region,),
        "org/vended",
    )
    assert [t.slug for t in moved.teams] == [*(t.slug for t in layout.teams), "team-vended"]


def test_an_unlisted_team_without_an_owner_or_repository_takes_the_placeholders(layout: Layout) -> None:
    region = layout.organization.allowed_regions[0]
    record = _unlisted(layout, regions=[region], owner_email=None, repository=None)
    spec = layout_for_records(layout, [record]).team("team-vended")
    assert spec is not None and (spec.owner_email, spec.repository) == ("unknown@example.com", "")


@pytest.mark.parametrize(
    "update",
    [{"gpu_tier": "gold"}, {"cost_center": ""}, {"regions": ["xx-nowhere-1"]}, {"team": "Not_A_Slug"}],
    ids=["tier", "cost-center", "regions", "invalid-slug"],
)
def test_an_unlisted_team_lacking_what_a_policy_needs_gets_no_team(layout: Layout, update: dict[str, Any]) -> None:
    record = _unlisted(layout, **update)
    moved = layout_for_records(layout, [record])
    assert moved.team(record.team) is None and [t.slug for t in moved.teams] == [t.slug for t in layout.teams]


def test_team_layout_reads_each_stage_s_record_of_the_team(layout: Layout) -> None:
    class Store:
        def __init__(self, records: list[RequestRecord]) -> None:
            self.by_id = {r.request_id: r for r in records}
            self.asked: list[str] = []

        def get(self, request_id: str) -> RequestRecord | None:
            self.asked.append(request_id)
            return self.by_id.get(request_id)

    second = layout.organization.allowed_regions[1]
    store = Store([record_for(layout, "team-frontend", "production", A, regions=[second])])

    moved = team_layout(layout, store, "team-frontend")  # type: ignore[arg-type]

    assert store.asked == ["team-frontend-staging", "team-frontend-production"]
    spec = moved.team("team-frontend")
    assert spec is not None and spec.regions_for("production") == (second,)


def test_a_record_without_an_account_does_not_stop_the_ones_after_it(layout: Layout) -> None:
    records = [
        record_for(layout, "team-mlops", "production", None),
        record_for(layout, "team-frontend", "staging", A),
    ]
    assert set(build_intent(layout, records).accounts) == {A}


def test_team_policies_follow_team_accounts_only(layout: Layout) -> None:
    rendered = render(layout)
    retired = AccountIntent(A, "retired", "Suspended", "x", team="team-frontend", stage="staging")
    assert account_policies(rendered, retired) == {FULL_AWS_ACCESS}


def test_a_record_back_on_the_team_s_default_regions_replaces_the_layout_s_stage_regions(layout: Layout) -> None:
    # GIVEN the layout giving team-frontend's staging its own region, and a staging record asking for the defaults
    team = layout.team("team-frontend")
    assert team is not None
    only = layout.organization.allowed_regions[-1]
    assert (only,) != team.regions
    moved = team.model_copy(update={"stage_regions": {"staging": (only,)}})
    seeded = layout.model_copy(update={"teams": tuple(moved if t.slug == team.slug else t for t in layout.teams)})
    record = record_for(layout, "team-frontend", "staging", A, regions=list(team.regions))
    # THEN the record is the intent: staging's fence is the defaults again
    spec = layout_for_records(seeded, [record]).team("team-frontend")
    assert spec is not None and spec.regions_for("staging") == team.regions
