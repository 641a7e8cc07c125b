"""vending/guardrails/effective.py part by part, on small hand-made organizations: which documents each level of an
account's path holds (actual and intended), what a probe carries to the decision, which probes count as weakened, and
the findings and notes of a whole audit pass. Each result is compared whole (the mutation run's survivors asked for
this: the audit tests reach these functions only through whole audits of the layout)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scps.render import FULL_AWS_ACCESS, GuardrailSet, RenderedPolicy, Statement
from tests.guardrails.conftest import snapshot_of
from vending.guardrails import effective as eff
from vending.guardrails.intent import AccountIntent, OrgIntent
from vending.guardrails.reconcile import Finding
from vending.guardrails.snapshot import OrgSnapshot, Policy

FULL = eff.FULL_ACCESS_DOC
ACCOUNT = "111111111111"
P5 = "run p5.48xlarge"


def _doc(sid: str, effect: str = "Deny", **extra: Any) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": effect, "Action": "ec2:RunInstances", "Resource": "*", **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _text(sid: str) -> str:
    return json.dumps(_doc(sid))


# --- snapshot_levels: the actual path ------------------------------------------------------------------------------


def _snapshot(policies: list[Policy], parent: str = "ou-stage") -> OrgSnapshot:
    return snapshot_of(
        {"r-1": "", "ou-work": "Workloads", "ou-stage": "Workloads/Staging"}, {ACCOUNT: parent}, policies
    )


def _path_policies() -> list[Policy]:
    everywhere = {"r-1", "ou-work", "ou-stage", ACCOUNT}
    return [
        # AWS's FullAWSAccess: its content is never read (the canonical document stands for it)
        Policy("p-full", FULL_AWS_ACCESS, aws_managed=True, content=None, targets=set(everywhere)),
        Policy("p-root", "RootDeny", aws_managed=False, content=_text("Root"), targets={"r-1"}),
        Policy("p-work", "WorkDeny", aws_managed=False, content=_text("Work"), targets={"ou-work"}),
        Policy("p-stage", "StageDeny", aws_managed=False, content=_text("Stage"), targets={"ou-stage"}),
        # on the account: an AWS-managed policy other than FullAWSAccess is read by its content, and names sort
        Policy("p-b", "BAccount", aws_managed=True, content=_text("B"), targets={ACCOUNT}),
        Policy("p-a", "AAccount", aws_managed=False, content=_text("A"), targets={ACCOUNT}),
        Policy("p-other", "Elsewhere", aws_managed=False, content=_text("Other"), targets={"ou-other"}),
    ]


def test_snapshot_levels_are_root_each_ou_from_the_top_then_the_account() -> None:
    snap = _snapshot(_path_policies())
    assert eff.snapshot_levels(snap, ACCOUNT) == [
        [FULL, _text("Root")],
        [FULL, _text("Work")],
        [FULL, _text("Stage")],
        [_text("A"), _text("B"), FULL],
    ]


def test_snapshot_levels_of_an_account_at_the_root_have_no_ou_level() -> None:
    snap = _snapshot(_path_policies(), parent="r-1")
    assert eff.snapshot_levels(snap, ACCOUNT) == [[FULL, _text("Root")], [_text("A"), _text("B"), FULL]]


def test_snapshot_levels_read_a_customer_policy_named_full_aws_access_by_its_content() -> None:
    # GIVEN a customer policy that took FullAWSAccess's name (AWS's own is not attached)
    impostor = Policy("p-x", FULL_AWS_ACCESS, aws_managed=False, content=_text("Impostor"), targets={"r-1", ACCOUNT})
    snap = _snapshot([impostor], parent="r-1")
    # THEN its content is what the path holds, never the canonical full access
    assert eff.snapshot_levels(snap, ACCOUNT) == [[_text("Impostor")], [_text("Impostor")]]


def test_snapshot_levels_of_an_ou_with_nothing_attached_are_empty() -> None:
    policies = [p for p in _path_policies() if p.name != "WorkDeny"]
    policies[0] = Policy("p-full", FULL_AWS_ACCESS, aws_managed=True, targets={"r-1", "ou-stage", ACCOUNT})
    assert eff.snapshot_levels(_snapshot(policies), ACCOUNT) == [
        [FULL, _text("Root")],
        [],
        [FULL, _text("Stage")],
        [_text("A"), _text("B"), FULL],
    ]


@pytest.mark.parametrize(
    "change",
    ["content not read", "parent unknown"],
)
def test_snapshot_levels_are_none_when_the_path_cannot_be_read(change: str) -> None:
    policies = _path_policies()
    if change == "content not read":
        policies[2] = Policy("p-work", "WorkDeny", aws_managed=False, content=None, targets={"ou-work"})
    snap = _snapshot(policies, parent="ou-gone" if change == "parent unknown" else "ou-stage")
    assert eff.snapshot_levels(snap, ACCOUNT) is None


# --- intended_levels: the layout's path for the account's intent ---------------------------------------------------


def _rendered() -> GuardrailSet:
    def policy(name: str) -> RenderedPolicy:
        return RenderedPolicy(name, name, "ou", ())

    names = ["W", "S2", "S1", "Tier", "Team", "Freeze", "RootOnly"]
    return GuardrailSet(
        policies={n: policy(n) for n in names},
        ou_policies={"": ("RootOnly",), "Workloads": ("W",), "Workloads/Staging": ("S2", "S1")},
        tier_policies={"inference": "Tier"},
        no_full_aws_access=frozenset({"Workloads/Staging"}),
        max_policy_chars=5120,
        max_policies_per_target=5,
        prefix="",
        team_policies={("team-x", "staging"): "Team"},
        freeze_policy="Freeze",
    )


def _docs(*names: str) -> list[Any]:
    rendered = _rendered()
    return [FULL if n == FULL_AWS_ACCESS else rendered.policies[n].document for n in names]


def test_intended_levels_follow_the_intended_ou_path_level_by_level() -> None:
    intent = AccountIntent(
        ACCOUNT, "team", "Workloads/Staging", "record:r", tier="inference", team="team-x", stage="staging"
    )
    assert eff.intended_levels(_rendered(), intent) == [
        _docs(FULL_AWS_ACCESS),  # the root: FullAWSAccess only (what the layout attaches there is not per account)
        _docs(FULL_AWS_ACCESS, "W"),
        _docs("S1", "S2"),  # an OU without FullAWSAccess
        _docs(FULL_AWS_ACCESS, "Team", "Tier"),
    ]


def test_intended_levels_of_an_account_intended_at_the_root() -> None:
    intent = AccountIntent(ACCOUNT, "platform", "", "layout:platform_accounts")
    assert eff.intended_levels(_rendered(), intent) == [_docs(FULL_AWS_ACCESS), _docs(FULL_AWS_ACCESS)]


def test_intended_levels_of_an_ou_the_layout_attaches_nothing_to_hold_full_aws_access_only() -> None:
    intent = AccountIntent(ACCOUNT, "platform", "Platform", "layout:platform_accounts")
    assert eff.intended_levels(_rendered(), intent) == [_docs(FULL_AWS_ACCESS)] * 3


# --- what reaches the decision -------------------------------------------------------------------------------------


def test_own_tags_are_the_stage_and_cost_center_the_intent_pins() -> None:
    def intent(tags: dict[str, str]) -> AccountIntent:
        return AccountIntent(ACCOUNT, "team", "Workloads/Staging", "record:r", tags=tags)

    assert eff.own_tags(intent({"stage": "production", "cost-center": "CC-9", "team": "team-x"})) == {
        "stage": "production",
        "cost_center": "CC-9",
    }
    assert eff.own_tags(intent({"stage": "staging"})) == {"stage": "staging"}
    assert eff.own_tags(intent({"cost-center": "CC-2", "stage": ""})) == {"cost_center": "CC-2"}
    assert eff.own_tags(intent({})) == {}


def test_allowed_passes_the_principal_and_list_valued_keys_to_the_decision() -> None:
    # GIVEN a deny for every principal outside the account, and one on SageMaker's p5 instance types
    outsiders = _doc("Outsiders", Condition={"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}})
    p5s = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "sagemaker:CreateEndpointConfig",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringLike": {"sagemaker:InstanceTypes": ["ml.p5*"]}},
            }
        ],
    }
    levels = [[FULL, outsiders, p5s]]
    probes = {p.name: p for p in eff.PROBES}
    # THEN the account's own role launches, and the SageMaker fence reads the probe's list of instance types
    assert eff.allowed(levels, probes[P5], ACCOUNT)
    assert not eff.allowed(levels, probes["sagemaker ml.p5.48xlarge"], ACCOUNT)
    assert eff.allowed(levels, probes["sagemaker ml.g5.xlarge"], ACCOUNT)


def _fenced() -> list[list[Any]]:
    """Denies every p5 launch except account ACCOUNT's, tagged for team-x and production."""
    only = {
        "Sid": "OnlyTeamX",
        "Effect": "Deny",
        "Action": "ec2:RunInstances",
        "NotResource": f"arn:aws:ec2:*:{ACCOUNT}:instance/*",
        "Condition": {"StringEquals": {"ec2:InstanceType": "p5.48xlarge"}},
    }
    tagged = {
        "Sid": "TaggedTeamX",
        "Effect": "Deny",
        "Action": "ec2:RunInstances",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"ec2:InstanceType": "p5.48xlarge"},
            "StringNotEquals": {"aws:RequestTag/team": "team-x"},
        },
    }
    production = {
        **tagged,
        "Sid": "Production",
        "Condition": {
            "StringEquals": {"ec2:InstanceType": "p5.48xlarge"},
            "StringNotEquals": {"aws:RequestTag/stage": "production"},
        },
    }
    return [[FULL, {"Version": "2012-10-17", "Statement": [only, tagged, production]}]]


def _p5_only_for(account: str, team: str, stage: str) -> list[list[Any]]:
    """Denies the p5 launch of exactly that account, team and stage."""
    statement = {
        "Effect": "Deny",
        "Action": "ec2:RunInstances",
        "Resource": f"arn:aws:ec2:*:{account}:instance/*",
        "Condition": {
            "StringEquals": {
                "ec2:InstanceType": "p5.48xlarge",
                "aws:RequestTag/team": team,
                "aws:RequestTag/stage": stage,
            }
        },
    }
    return [[FULL, {"Version": "2012-10-17", "Statement": [statement]}]]


def test_weakened_is_what_the_actual_path_allows_and_the_intended_denies_for_that_account_team_and_stage() -> None:
    own = {"stage": "production"}
    # GIVEN actual SCPs that let only this account's team-x production launch a p5, intended ones that deny exactly it
    actual, intended = _fenced(), _p5_only_for(ACCOUNT, "team-x", "production")
    # THEN the p5 launch is the one weakened probe
    assert eff.weakened(actual, intended, ACCOUNT, "team-x", own) == [P5]
    # AND for another account, team or stage the actual SCPs deny it too: nothing is weakened
    assert eff.weakened(actual, intended, "222222222222", "team-x", own) == []
    assert eff.weakened(actual, intended, ACCOUNT, "team-y", own) == []
    assert eff.weakened(actual, intended, ACCOUNT, "team-x", {"stage": "staging"}) == []
    # AND with the intended SCPs in force nothing is weakened (the order of the comparison matters)
    assert eff.weakened(intended, actual, ACCOUNT, "team-x", own) == []


def test_more_permissive_than_lists_probes_allowed_and_denies_lacking() -> None:
    strict = eff.Effective(frozenset({"a"}), frozenset({"deny-1", "deny-2"}))
    loose = eff.Effective(frozenset({"a", "c", "b"}), frozenset({"deny-2", "deny-3"}))
    assert loose.more_permissive_than(strict) == ["allows b", "allows c", "lacks deny deny-1"]
    assert strict.more_permissive_than(loose) == ["lacks deny deny-3"]
    long = eff.Effective(frozenset(), frozenset({"x" * 100}))
    assert eff.Effective(frozenset(), frozenset()).more_permissive_than(long) == ["lacks deny " + "x" * 80]


# --- effective_findings: one audit pass ----------------------------------------------------------------------------


def test_effective_findings_compare_each_settled_account_and_note_the_unread() -> None:
    # GIVEN team-x's intended account policy: no p5 launch tagged for team-x in production, from a 12-digit account
    fence = _p5_only_for("*", "team-x", "production")[0][1]["Statement"][0]
    fence["Condition"]["StringEquals"]["ec2:InstanceType"] = ["p5.48xlarge", "p4d.24xlarge"]
    fence["Condition"]["StringLike"] = {"aws:PrincipalAccount": "?" * 12}
    rendered = _rendered()
    rendered.policies["Team"] = RenderedPolicy("Team", "team", "team", (Statement("team", fence, True),))
    # AND accounts in the Workloads OU: two with FullAWSAccess only (weakened), one that also has the fence (as
    # intended), one whose OU the snapshot does not know (not read), and three the pass leaves alone (a problem,
    # being vended, no intent at all)
    # (in account order the skipped and the unread come first: the pass goes on past each of them)
    ids = [str(n) * 12 for n in range(1, 8)]
    problem, flight, _no_intent, unread, weak, stuck, fine = ids
    snap = snapshot_of(
        {"r-1": "", "ou-work": "Workloads"},
        {i: "ou-gone" if i == unread else "ou-work" for i in ids},
        [
            Policy("p-full", FULL_AWS_ACCESS, True, None, {"r-1", "ou-work", *ids}),
            Policy("p-fence", "Fence", False, json.dumps({"Statement": [fence]}), {fine}),
        ],
    )

    def team(account: str, **extra: Any) -> AccountIntent:
        tags = {"stage": "production", "cost-center": "CC-1"}
        return AccountIntent(
            account, "team", "Workloads", "record:r", team="team-x", stage="staging", tags=tags, **extra
        )

    intent = OrgIntent(
        {i: team(i) for i in (weak, stuck, fine, unread)}
        | {problem: team(problem, problem="two records"), flight: team(flight, in_flight=True)}
    )
    # WHEN the pass runs, with one account's findings known to be unfixable
    findings, notes = eff.effective_findings(snap, rendered, intent, unfixable=[f"account:{stuck}: moved: by hand"])
    # THEN one finding per weakened account, in account order, fixable unless listed as unfixable
    detail = f"allowed by the SCPs on its path, denied by the intended ones: run p4d.24xlarge, {P5}"
    assert findings == [
        Finding(eff.FINDING, f"account:{weak}", detail, True),
        Finding(eff.FINDING, f"account:{stuck}", detail, False),
    ]
    # AND the account whose path was not read is noted, not guessed
    assert notes == [f"account:{unread}: effective permissions not compared (policy content not read)"]
