"""compare() on a snapshot built by hand: an organization exactly as rendered plans nothing, and each kind of account
drift is one finding, whole (type, target, detail, whether it can be fixed), with exactly the actions that fix it."""

from __future__ import annotations

from typing import Any

import pytest

from scps.render import FULL_AWS_ACCESS, GuardrailSet, render
from tests.guardrails.conftest import record_for
from vending.guardrails.intent import account_policies, build_intent
from vending.guardrails.reconcile import Action, Finding, compare
from vending.guardrails.snapshot import Account, OrgSnapshot, Policy
from vending.layout import Layout

ROOT, MANAGEMENT = "r-root", "999999999999"
A, B, C, D, E = "111111111111", "222222222222", "333333333333", "444444444444", "555555555555"


def _layout(layout: Layout) -> Layout:
    """The packaged layout with a fourth mandatory tag, which no vending record carries a value for."""
    organization = layout.organization.model_copy(
        update={"mandatory_tags": [*layout.organization.mandatory_tags, "data-class"]}
    )
    return layout.model_copy(update={"organization": organization})


def _ou(path: str) -> str:
    return "ou-" + path.lower().replace("/", "-")


def _records(layout: Layout) -> list[Any]:
    return [
        record_for(layout, "team-frontend", "staging", A),
        record_for(layout, "team-backend", "staging", B),
        record_for(layout, "team-mlops", "staging", C, status="CREATING"),  # still being vended
        record_for(layout, "team-mlops", "production", D),
        record_for(layout, "team-backend", "production", D),  # two records claim D
    ]


def _as_rendered(layout: Layout, r: GuardrailSet) -> OrgSnapshot:
    """Every OU, policy, attachment and account tag where the layout and the records put them."""
    intent = build_intent(layout, _records(layout))
    ou_paths = {ROOT: "", **{_ou(ou.path): ou.path for ou in layout.ous}}
    policies = {name: Policy(f"p-{name}", name, False, p.content) for name, p in r.policies.items()}
    policies[FULL_AWS_ACCESS] = Policy("p-FullAWSAccess", FULL_AWS_ACCESS, True, None, {ROOT})
    for ou in layout.ous:
        for name in r.ou_policies.get(ou.path, ()):
            policies[name].targets.add(_ou(ou.path))
        if ou.path not in r.no_full_aws_access:
            policies[FULL_AWS_ACCESS].targets.add(_ou(ou.path))
    accounts = {}
    for account_id in (A, B, C, D):
        known = intent.get(account_id)
        assert known is not None
        path = known.ou_path or "Workloads/Production"
        tags = {**known.tags, "data-class": "internal"}
        accounts[account_id] = Account(account_id, account_id, f"{account_id}@x", _ou(path), tags)
        for name in account_policies(r, known) if not known.problem else {FULL_AWS_ACCESS}:
            policies[name].targets.add(account_id)
    return OrgSnapshot(ROOT, MANAGEMENT, True, ou_paths, accounts, policies)


def _drifting(layout: Layout) -> tuple[Layout, GuardrailSet, OrgSnapshot]:
    """The test layout, its rendering, and an organization as rendered, for a test to plant drift in."""
    layout = _layout(layout)
    r = render(layout)
    return layout, r, _as_rendered(layout, r)


def _spec(layout: Layout, team: str) -> Any:
    spec = layout.team(team)
    assert spec is not None
    return spec


def _elsewhere(snap: OrgSnapshot, account_id: str, email: str = "") -> None:
    """An account no record names, in an OU outside the layout."""
    snap.ou_paths["ou-elsewhere"] = "Elsewhere"
    snap.accounts[account_id] = Account(account_id, "e" if email else account_id, email, "ou-elsewhere", {})


def _plan(layout: Layout, snap: OrgSnapshot, r: GuardrailSet) -> Any:
    return compare(layout, snap, r, build_intent(layout, _records(layout)))


def test_an_organization_as_rendered_plans_nothing_but_what_no_one_can_fix(layout: Layout) -> None:
    layout = _layout(layout)
    r = render(layout)
    plan = _plan(layout, _as_rendered(layout, r), r)
    # Only the account two records claim is reported (never acted on); the one being vended is left to its vend
    conflict = build_intent(layout, _records(layout)).get(D)
    assert conflict is not None and conflict.problem
    assert plan.findings == [Finding("intent_conflict", f"account:{D}", conflict.problem, False)]
    assert plan.actions == []
    assert plan.unfixable == [
        f"account:{C}: vending in progress (record:team-mlops-staging); the state machine owns it until "
        "ApplyGuardrails is done",
        f"account:{D}: {conflict.problem}",
    ]


def test_each_account_drift_is_one_finding_with_the_actions_that_fix_it(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    # GIVEN SCPs switched off; A moved to the production OU; B without its cost-center and data-class tags and with
    # its team and stage tags rewritten; C (still being vended) in the wrong OU; E unknown, at the root; FullAWSAccess
    # off B
    snap.scp_enabled = False
    snap.accounts[A].parent_id = _ou("Workloads/Production")
    b = snap.accounts[B]
    del b.tags["cost-center"], b.tags["data-class"]
    b.tags.update({"team": "team-mlops", "stage": "production"})
    snap.accounts[C].parent_id = _ou("Workloads/Production")
    snap.accounts[E] = Account(E, "e", "", ROOT, {})
    snap.policies[FULL_AWS_ACCESS].targets.discard(B)
    snap.policies[FULL_AWS_ACCESS].targets.add(E)

    plan = _plan(layout, snap, r)

    conflict = build_intent(layout, _records(layout)).get(D)
    assert conflict is not None
    assert plan.findings == [
        Finding(
            "account_in_wrong_ou",
            f"account:{A}",
            "in OU Workloads/Production; record:team-frontend-staging puts it in Workloads/Staging",
            True,
        ),
        Finding("missing_account_tags", f"account:{B}", "data-class: absent; no record value to restore", False),
        Finding("missing_account_tags", f"account:{B}", "missing: cost-center", True),
        Finding(
            "tag_drift",
            f"account:{B}",
            "team='team-mlops' (record:team-backend-staging says 'team-backend'); "
            "stage='production' (record:team-backend-staging says 'staging')",
            True,
        ),
        Finding(
            "account_in_wrong_ou",
            f"account:{C}",
            "in OU Workloads/Production; record:team-mlops-staging puts it in Workloads/Staging",
            False,
        ),
        Finding("intent_conflict", f"account:{D}", conflict.problem, False),
        Finding(
            "unknown_account", f"account:{E}", "in the root with no vending record and not a platform account", False
        ),
        Finding("missing_attachment", f"account:{B}", FULL_AWS_ACCESS),
    ]
    # (in their phases: policies, deny attachments, moves, the allow, tags, detaches, deletes)
    assert plan.actions == [
        Action("enable_policy_type", "root", data=(("type", "SERVICE_CONTROL_POLICY"),)),
        Action("move_account", f"account:{A}", data=(("from", "Workloads/Production"), ("to", "Workloads/Staging"))),
        Action("attach", f"account:{B}", FULL_AWS_ACCESS),
        Action(
            "tag_account",
            f"account:{B}",
            data=(
                ("team", "team-backend"),
                ("stage", "staging"),
                ("cost-center", str(_spec(layout, "team-backend").cost_center)),
            ),
        ),
    ]
    assert plan.unfixable == [
        f"account:{B}: no value for tag data-class in record:team-backend-staging",
        f"account:{C}: vending in progress (record:team-mlops-staging); the state machine owns it until "
        "ApplyGuardrails is done",
        f"account:{D}: {conflict.problem}",
        f"account:{E}: unknown account outside the managed OUs; adopt it (a vending record) or move it to a managed OU "
        "to be quarantined",
    ]


def test_an_unknown_account_in_a_managed_ou_is_quarantined_from_where_it_is(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    snap.accounts[E] = Account(E, "e", "e@x", _ou("Workloads/Staging"), {"team": "team-mlops"})
    snap.policies[FULL_AWS_ACCESS].targets.add(E)
    plan = _plan(layout, snap, r)
    assert [f for f in plan.findings if f.target == f"account:{E}"] == [
        Finding(
            "unknown_account",
            f"account:{E}",
            "in OU Workloads/Staging with no vending record and not a platform account (e-mail e@x, tags "
            "{'team': 'team-mlops'}); quarantine in Suspended",
            True,
        )
    ]
    assert [a for a in plan.actions if a.target == f"account:{E}"] == [
        Action("move_account", f"account:{E}", data=(("from", "Workloads/Staging"), ("to", "Suspended")))
    ]


def test_without_records_accounts_are_not_compared(layout: Layout) -> None:
    r = render(layout)
    snap = _as_rendered(_layout(layout), render(_layout(layout)))
    plan = compare(layout, snap, r)
    assert plan.notes == ["accounts not compared: no vending records were given"]
    assert not any(f.target.startswith("account:") for f in plan.findings)


@pytest.mark.parametrize(
    ("account", "record", "fixable", "actions"),
    [
        # a team account is moved from the root
        (A, "team-frontend-staging", True, [(("from", "root"), ("to", "Workloads/Staging"))]),
        # an account still being vended is reported, not moved (the state machine owns it)
        (C, "team-mlops-staging", False, []),
    ],
    ids=["team-account-moved", "being-vended-reported"],
)
def test_an_account_found_at_the_root(layout: Layout, account: str, record: str, fixable: bool, actions: list) -> None:
    layout, r, snap = _drifting(layout)
    snap.accounts[account].parent_id = ROOT
    plan = _plan(layout, snap, r)
    assert [f for f in plan.findings if f.target == f"account:{account}"] == [
        Finding(
            "account_outside_managed_ou",
            f"account:{account}",
            f"in the root; record:{record} puts it in Workloads/Staging",
            fixable,
        )
    ]
    assert [a for a in plan.actions if a.target == f"account:{account}"] == [
        Action("move_account", f"account:{account}", data=d) for d in actions
    ]


def test_each_policy_and_ou_drift_is_one_finding_with_the_actions_that_fix_it(layout: Layout) -> None:
    # GIVEN a layout that forbids FullAWSAccess on Suspended, and an organization as rendered but for: the Suspended OU
    # missing; a policy edited; another missing; a stale managed policy on Workloads, on an account no record or
    # layout names (beside another SCP) and on a target that has it alone; a customer's policy on the Staging OU;
    # FullAWSAccess on Platform, which then forbids it too; and a READY record whose account is not in the org
    guardrails = layout.guardrails.model_copy(update={"deny_full_aws_access": ("Suspended", "Platform")})
    layout = _layout(layout).model_copy(update={"guardrails": guardrails})
    r = render(layout)
    snap = _as_rendered(layout, r)
    snap.policies[FULL_AWS_ACCESS].targets.add(_ou("Platform"))
    del snap.ou_paths[_ou("Suspended")]
    for p in snap.policies.values():
        p.targets.discard(_ou("Suspended"))
    edited, missing = sorted(r.tier_policies.values())[:2]
    snap.policies[edited].content = '{"Version":"2012-10-17","Statement":[]}'
    del snap.policies[missing]
    _elsewhere(snap, E, "e@x")
    snap.policies["vend-legacy"] = Policy("p-legacy", "vend-legacy", False, "{}", {_ou("Workloads"), E, "ou-alone"})
    snap.policies[FULL_AWS_ACCESS].targets.add(E)
    snap.policies["customer-own"] = Policy("p-own", "customer-own", False, "{}", {_ou("Workloads/Staging")})
    snap.policies["customer-own"].targets.add(_ou("Platform"))  # beside the FullAWSAccess Platform forbids
    records = [*_records(layout), record_for(layout, "team-frontend", "production", "666666666666")]

    plan = compare(layout, snap, r, build_intent(layout, records))

    suspended = sorted(r.ou_policies["Suspended"])
    assert plan.findings == [
        Finding("ou_missing", "ou:Suspended", "declared in the layout, absent from the organization"),
        Finding("policy_drift", f"policy:{edited}", "content differs from the rendered policy"),
        Finding("policy_missing", f"policy:{missing}", f"rendered ({r.policies[missing].chars} chars), not in the org"),
        Finding("intent_conflict", f"account:{D}", build_intent(layout, records).get(D).problem, False),  # type: ignore[union-attr]
        Finding(
            "unknown_account",
            f"account:{E}",
            "in OU Elsewhere with no vending record and not a platform account",
            False,
        ),
        Finding(
            "vended_account_missing",
            "account:666666666666",
            "record:team-frontend-production names it, the organization has no such active member account",
            False,
        ),
        Finding("full_aws_access_misplaced", "ou:Platform", "FullAWSAccess attached where the layout forbids it"),
        Finding("unexpected_attachment", "ou:Platform", "customer-own"),
        Finding("unexpected_attachment", "ou:Workloads/Staging", "customer-own"),
        Finding("missing_attachment", f"account:{A}", missing),
        Finding(
            "unrendered_policy",
            "policy:vend-legacy",
            "managed prefix 'vend-' but not rendered from the layout; attached to "
            f"['account:{E}', 'account:ou-alone', 'ou:Workloads']",
        ),
    ]
    assert plan.actions == [
        Action("create_ou", "ou:Suspended"),
        Action("update_policy", f"policy:{edited}", edited),
        Action("create_policy", f"policy:{missing}", missing),
        *(Action("attach", "ou:Suspended", name) for name in suspended),
        Action("attach", f"account:{A}", missing),
        Action("detach", "ou:Platform", FULL_AWS_ACCESS),
        Action("detach", "ou:Platform", "customer-own"),
        Action("detach", "ou:Suspended", FULL_AWS_ACCESS),
        Action("detach", "ou:Workloads", "vend-legacy"),
        Action("detach", "ou:Workloads/Staging", "customer-own"),
        Action("detach", f"account:{E}", "vend-legacy"),
    ]
    assert plan.unfixable[-2:] == [
        "account:666666666666: vended (record:team-frontend-production) but not an active member",
        "account:ou-alone: vend-legacy is its only SCP; not replaced blindly",
    ]


def test_the_root_and_ous_come_before_accounts_and_an_ou_with_no_scp_of_its_own_is_judged(layout: Layout) -> None:
    import dataclasses

    # GIVEN a rendering that gives Platform no SCP of its own, and FullAWSAccess gone from the root, Workloads and A
    layout = _layout(layout)
    full = render(layout)
    r = dataclasses.replace(full, ou_policies={k: v for k, v in full.ou_policies.items() if k != "Platform"})
    snap = _as_rendered(layout, full)
    for name in full.ou_policies["Platform"]:
        snap.policies[name].targets.discard(_ou("Platform"))
    snap.policies[FULL_AWS_ACCESS].targets -= {ROOT, _ou("Workloads"), A}
    # WHEN compared (the rendering computed here when none is given equals the one passed)
    plan = compare(layout, snap, r, build_intent(layout, _records(layout)))
    # THEN the organization's targets are planned before the accounts, and Platform needs nothing but FullAWSAccess
    assert [a for a in plan.actions if a.kind == "attach"] == [
        Action("attach", "ou:Workloads", FULL_AWS_ACCESS),
        Action("attach", "root", FULL_AWS_ACCESS),
        Action("attach", f"account:{A}", FULL_AWS_ACCESS),
    ]
    assert [f.target for f in plan.findings if f.type == "missing_attachment"] == [
        "ou:Workloads",
        "root",
        f"account:{A}",
    ]
    assert compare(layout, _as_rendered(layout, full), intent=build_intent(layout, _records(layout))).actions == []


def test_drift_on_an_account_being_vended_is_reported_not_fixed(layout: Layout) -> None:
    # GIVEN the account still being vended with its team tag rewritten, and B without a value-less tag and with its
    # GPU tier tag rewritten
    layout, r, snap = _drifting(layout)
    snap.accounts[C].tags["team"] = "team-frontend"
    del snap.accounts[B].tags["data-class"]
    snap.accounts[B].tags["gpu-tier"] = "none"
    plan = _plan(layout, snap, r)
    # THEN C's drift is a finding that cannot be fixed yet; B's tier tag is judged after the tag with no record value
    assert [f for f in plan.findings if f.type == "tag_drift"] == [
        Finding(
            "tag_drift",
            f"account:{B}",
            f"gpu-tier='none' (record:team-backend-staging says {_spec(layout, 'team-backend').gpu_tier!r})",
            True,
        ),
        Finding(
            "tag_drift", f"account:{C}", "team='team-frontend' (record:team-mlops-staging says 'team-mlops')", False
        ),
    ]
    assert [a.target for a in plan.actions] == [f"account:{B}"]


def test_a_team_account_with_no_scp_at_all_is_given_its_own(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    for p in snap.policies.values():
        p.targets.discard(A)
    plan = _plan(layout, snap, r)
    known = build_intent(layout, _records(layout)).get(A)
    assert known is not None
    assert {a.policy for a in plan.actions if a.target == f"account:{A}"} == account_policies(r, known)


def test_a_tier_swap_on_a_full_account_fails_closed_in_the_org_wide_plan(layout: Layout) -> None:
    # GIVEN A at the quota (FullAWSAccess, its tier and team policies, two of the customer's) carrying another tier
    layout, r, snap = _drifting(layout)
    known = build_intent(layout, _records(layout)).get(A)
    assert known is not None and known.tier
    right = r.tier_policies[known.tier]
    wrong = next(p for t, p in sorted(r.tier_policies.items()) if t != known.tier)
    snap.policies[right].targets.discard(A)
    snap.policies[wrong].targets.add(A)
    for name in ("customer-1", "customer-2"):
        snap.policies[name] = Policy(f"p-{name}", name, False, "{}", {A})
    assert len(snap.attached(A)) == r.max_policies_per_target
    plan = _plan(layout, snap, r)
    # THEN the allow comes off first and goes back only once the right tier's deny is on (room made from the
    # unexpected policies, which the org-wide plan removes); the rest is detached last
    assert [a for a in plan.actions if a.target == f"account:{A}"] == [
        Action("detach", f"account:{A}", FULL_AWS_ACCESS),
        Action("attach", f"account:{A}", right),
        Action("detach", f"account:{A}", "customer-1"),
        Action("attach", f"account:{A}", FULL_AWS_ACCESS),
        Action("detach", f"account:{A}", "customer-2"),
        Action("detach", f"account:{A}", wrong),
    ]


def test_what_an_account_being_vended_shows_is_never_fixable(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    snap.accounts[C].parent_id = _ou("Suspended")
    del snap.accounts[C].tags["cost-center"]
    plan = _plan(layout, snap, r)
    assert [(f.type, f.fixable) for f in plan.findings if f.target == f"account:{C}"] == [
        ("team_account_outside_workloads", False),
        ("missing_account_tags", False),
    ]


def test_texts_for_what_has_no_value(layout: Layout) -> None:
    # An unknown account in a managed OU with no e-mail, a stale managed policy attached nowhere, and an AWS-managed
    # policy with the managed prefix (never ours to judge)
    layout, r, snap = _drifting(layout)
    snap.accounts[E] = Account(E, "e", "", _ou("Workloads"), {})
    snap.policies[FULL_AWS_ACCESS].targets.add(E)
    snap.policies["vend-legacy"] = Policy("p-legacy", "vend-legacy", False, "{}")
    snap.policies["vend-aws"] = Policy("p-aws", "vend-aws", True, None, {_ou("Workloads")})
    plan = _plan(layout, snap, r)
    details = {f.target: f.detail for f in plan.findings if f.type in ("unknown_account", "unrendered_policy")}
    assert details == {
        f"account:{E}": "in OU Workloads with no vending record and not a platform account (e-mail ?, tags {}); "
        "quarantine in Suspended",
        "policy:vend-legacy": "managed prefix 'vend-' but not rendered from the layout; attached to nothing",
    }
    assert Finding("unexpected_attachment", "ou:Workloads", "vend-aws") in plan.findings
    assert Action("delete_policy", "policy:vend-legacy", "vend-legacy") in plan.actions


def test_enable_policy_type_already_enabled_is_not_a_change() -> None:
    from botocore.exceptions import ClientError

    from vending.guardrails.orgapi import Backoff
    from vending.guardrails.reconcile import enable_policy_type

    class Enabled:
        def enable_policy_type(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "PolicyTypeAlreadyEnabledException", "Message": "x"}}, "E")

    class Refused:
        def enable_policy_type(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "x"}}, "E")

    assert enable_policy_type(Enabled(), ROOT, Backoff(attempts=1), "TAG_POLICY") is False
    with pytest.raises(ClientError):
        enable_policy_type(Refused(), ROOT, Backoff(attempts=1), "TAG_POLICY")


def test_an_unknown_account_already_in_the_quarantine_ou_is_a_note_not_a_finding(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    snap.accounts[E] = Account(E, "e", "e@x", _ou("Suspended"), {})
    for name in r.ou_policies.get("Suspended", ()):
        snap.policies[name].targets.add(E)
    plan = _plan(layout, snap, r)
    assert f"account:{E}: unknown account, quarantined in Suspended" in plan.notes
    assert not [f for f in plan.findings if f.target == f"account:{E}"]
    assert not [a for a in plan.actions if a.target == f"account:{E}"]


def test_a_freeze_is_kept_when_the_freezes_were_not_read_and_lifted_when_they_say_so(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    snap.policies[r.freeze_policy].targets.add(A)
    # WHEN compared without the freezes table (frozen=None): the freeze on A stays, never thawed on a guess
    assert not [a for a in _plan(layout, snap, r).actions if a.target == f"account:{A}"]
    # AND with the table read and A not in it (the control): the freeze comes off
    thawed = compare(layout, snap, r, build_intent(layout, _records(layout), frozen=[]))
    assert [a for a in thawed.actions if a.target == f"account:{A}"] == [
        Action("detach", f"account:{A}", r.freeze_policy)
    ]


def test_an_unrendered_policy_is_detached_from_every_target_then_deleted(layout: Layout) -> None:
    # GIVEN a stale managed policy on A (a managed account, sorted first) and on E (unknown, with FullAWSAccess too)
    layout, r, snap = _drifting(layout)
    _elsewhere(snap, E, "e@x")
    snap.policies[FULL_AWS_ACCESS].targets.add(E)
    snap.policies["vend-legacy"] = Policy("p-legacy", "vend-legacy", False, "{}", {A, E})
    plan = _plan(layout, snap, r)
    # THEN both detaches are planned (A's with its own attachments, E's after it), then the delete: other targets'
    # unfixable entries (C, D) do not hold it back
    assert [a for a in plan.actions if a.policy == "vend-legacy"] == [
        Action("detach", f"account:{A}", "vend-legacy"),
        Action("detach", f"account:{E}", "vend-legacy"),
        Action("delete_policy", "policy:vend-legacy", "vend-legacy"),
    ]
    assert plan.unfixable and not any("vend-legacy" in u for u in plan.unfixable)


def test_a_target_that_would_lose_its_only_scp_holds_the_delete_but_not_the_other_detaches(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    lone, other = "300000000000", E  # sorted: the stuck one first
    for account_id in (lone, other):
        _elsewhere(snap, account_id)
    snap.policies[FULL_AWS_ACCESS].targets.add(other)
    snap.policies["vend-legacy"] = Policy("p-legacy", "vend-legacy", False, "{}", {lone, other})
    plan = _plan(layout, snap, r)
    assert [a for a in plan.actions if a.policy == "vend-legacy"] == [
        Action("detach", f"account:{other}", "vend-legacy")
    ]
    assert f"account:{lone}: vend-legacy is its only SCP; not replaced blindly" in plan.unfixable


def test_missing_tags_are_named_together_in_one_finding(layout: Layout) -> None:
    layout, r, snap = _drifting(layout)
    del snap.accounts[A].tags["cost-center"], snap.accounts[A].tags["team"]
    plan = _plan(layout, snap, r)
    assert [f for f in plan.findings if f.target == f"account:{A}"] == [
        Finding("missing_account_tags", f"account:{A}", "missing: team, cost-center", True)
    ]
