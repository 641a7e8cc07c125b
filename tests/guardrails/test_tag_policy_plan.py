"""compare_tag_policies on a snapshot built by hand: each finding and each action whole, in the phase it belongs to
(policies made or updated first, attachments with the attaches, detaches late, deletes last)."""

from __future__ import annotations

import json

from scps.render import render
from tests.guardrails.conftest import record_for
from vending.guardrails.intent import build_intent
from vending.guardrails.reconcile import Action, Finding, Plan, _Phases
from vending.guardrails.snapshot import Account, OrgSnapshot, Policy
from vending.guardrails.tag_policies import compare_tag_policies, desired_tag_attachments
from vending.layout import Layout

A, B, C, D = "111111111111", "222222222222", "333333333333", "444444444444"
OUS = {
    "r-root": "",
    "ou-w": "Workloads",
    "ou-s": "Workloads/Staging",
    "ou-p": "Workloads/Production",
    "ou-x": "Suspended",
}


def _snapshot(layout: Layout, tag_policies: dict[str, Policy], *, enabled: bool = True) -> OrgSnapshot:
    accounts = {
        A: Account(A, "a", "a@x", "ou-s"),  # team-frontend staging, READY
        B: Account(B, "b", "b@x", "ou-p"),  # team-backend production, in flight
        C: Account(C, "c", "c@x", "ou-x"),  # retired
        D: Account(D, "d", "d@x", "ou-s"),  # no record: unknown
    }
    return OrgSnapshot("r-root", "999999999999", True, dict(OUS), accounts, {}, True, enabled, tag_policies)


def _intent(layout: Layout) -> object:
    return build_intent(
        layout,
        [
            record_for(layout, "team-frontend", "staging", A),
            record_for(layout, "team-backend", "production", B, status="CREATING"),
            record_for(layout, "team-mlops", "staging", C, status="CLOSED"),
        ],
    )


def _plan(layout: Layout, snap: OrgSnapshot) -> tuple[list[Finding], _Phases]:
    plan, phases = Plan(), _Phases()
    compare_tag_policies(layout, snap, render(layout), _intent(layout), plan, phases)  # type: ignore[arg-type]
    return plan.findings, phases


def _as_written(layout: Layout) -> dict[str, Policy]:
    rendered = render(layout)
    return {n: Policy(f"p-{n}", n, False, content) for n, content in rendered.tag_policies.items()}


def test_who_must_carry_which_tag_policy(layout: Layout) -> None:
    snap = _snapshot(layout, {})
    desired = desired_tag_attachments(layout, snap, render(layout), _intent(layout))  # type: ignore[arg-type]
    assert desired == {
        "root": set(),
        "ou:Workloads": set(),
        "ou:Workloads/Staging": {"vend-tags"},
        "ou:Workloads/Production": {"vend-tags"},
        "ou:Platform": set(),
        "ou:Suspended": set(),
        f"account:{A}": {"vend-tags-team-frontend"},
    } | {f"ou:{ou.path}": set() for ou in layout.ous if ou.path not in {"Workloads/Staging", "Workloads/Production"}}


def test_an_organization_as_rendered_has_no_finding(layout: Layout) -> None:
    policies = _as_written(layout)
    policies["vend-tags"].targets = {"ou-s", "ou-p"}
    policies["vend-tags-team-frontend"].targets = {A}
    findings, phases = _plan(layout, _snapshot(layout, policies))
    assert findings == [] and phases.all() == []


def test_every_kind_of_tag_policy_drift_is_one_finding_and_its_action(layout: Layout) -> None:
    # GIVEN the type switched off; vend-tags missing; frontend's edited by hand and off its account; backend's on the
    # frontend account; a stale managed one on two targets (one of them unknown to the snapshot); a customer's own;
    # an AWS-managed one with the prefix
    policies = _as_written(layout)
    del policies["vend-tags"]
    policies["vend-tags-team-frontend"].content = json.dumps({"tags": {}})
    policies["vend-tags-team-backend"].targets = {A}
    policies["vend-tags-old"] = Policy("p-old", "vend-tags-old", False, "{}", {"ou-w", "ou-gone"})
    policies["finance-tags"] = Policy("p-fin", "finance-tags", False, "{}", {"ou-s"})
    policies["vend-aws"] = Policy("p-aws", "vend-aws", True, "{}", {"ou-s"})
    snap = _snapshot(layout, policies, enabled=False)
    rendered = render(layout)

    findings, phases = _plan(layout, snap)

    assert findings == [
        Finding("tag_policies_disabled", "root", "the TAG_POLICY policy type is not enabled at the root"),
        Finding(
            "tag_policy_missing",
            "policy:vend-tags",
            f"rendered ({len(rendered.tag_policies['vend-tags'])} chars), not in the org",
        ),
        Finding("tag_policy_drift", "policy:vend-tags-team-frontend", "content differs from the rendered tag policy"),
        Finding("tag_policy_missing_attachment", f"account:{A}", "vend-tags-team-frontend"),
        Finding("tag_policy_unexpected_attachment", f"account:{A}", "vend-tags-team-backend"),
        Finding("tag_policy_missing_attachment", "ou:Workloads/Production", "vend-tags"),
        Finding("tag_policy_missing_attachment", "ou:Workloads/Staging", "vend-tags"),
        Finding(
            "unrendered_tag_policy",
            "policy:vend-tags-old",
            "managed prefix 'vend-' but not rendered from the layout; attached to ['account:ou-gone', 'ou:Workloads']",
        ),
    ]
    assert phases.policies == [
        Action("enable_policy_type", "root", data=(("type", "TAG_POLICY"),)),
        Action("create_tag_policy", "policy:vend-tags", "vend-tags"),
        Action("update_tag_policy", "policy:vend-tags-team-frontend", "vend-tags-team-frontend"),
    ]
    assert phases.attach == [
        Action("attach_tag_policy", f"account:{A}", "vend-tags-team-frontend"),
        Action("attach_tag_policy", "ou:Workloads/Production", "vend-tags"),
        Action("attach_tag_policy", "ou:Workloads/Staging", "vend-tags"),
    ]
    assert phases.detach == [
        Action("detach_tag_policy", f"account:{A}", "vend-tags-team-backend"),
        Action("detach_tag_policy", "ou:Workloads", "vend-tags-old"),  # judged with the OU's attachments
        Action("detach_tag_policy", "account:ou-gone", "vend-tags-old"),  # the rest of its targets
    ]
    assert phases.delete == [Action("delete_tag_policy", "policy:vend-tags-old", "vend-tags-old")]
    assert phases.moves == phases.allow == phases.tags == []


def test_a_stale_policy_attached_nowhere_is_deleted_and_says_so(layout: Layout) -> None:
    policies = _as_written(layout)
    policies["vend-tags"].targets = {"ou-s", "ou-p"}
    policies["vend-tags-team-frontend"].targets = {A}
    policies["vend-tags-team-gone"] = Policy("p-gone", "vend-tags-team-gone", False, "{}")
    findings, phases = _plan(layout, _snapshot(layout, policies))
    assert findings == [
        Finding(
            "unrendered_tag_policy",
            "policy:vend-tags-team-gone",
            "managed prefix 'vend-' but not rendered from the layout; attached to nothing",
        )
    ]
    assert phases.all() == [Action("delete_tag_policy", "policy:vend-tags-team-gone", "vend-tags-team-gone")]


def test_two_stale_policies_on_a_target_the_snapshot_does_not_know_are_both_detached(layout: Layout) -> None:
    policies = _as_written(layout)
    policies["vend-tags"].targets = {"ou-s", "ou-p"}
    policies["vend-tags-team-frontend"].targets = {A}
    for name in ("vend-tags-old-1", "vend-tags-old-2"):
        policies[name] = Policy(f"p-{name}", name, False, "{}", {"ou-gone"})
    _, phases = _plan(layout, _snapshot(layout, policies))
    assert phases.detach == [
        Action("detach_tag_policy", "account:ou-gone", "vend-tags-old-1"),
        Action("detach_tag_policy", "account:ou-gone", "vend-tags-old-2"),
    ]


def test_accounts_not_judged_do_not_stop_the_ones_after_them(layout: Layout) -> None:
    e = "555555555555"
    snap = _snapshot(layout, {})
    snap.accounts[e] = Account(e, "e", "e@x", "ou-s")  # after the in-flight, retired and unknown ones
    intent = build_intent(
        layout,
        [
            record_for(layout, "team-backend", "production", B, status="CREATING"),
            record_for(layout, "team-mlops", "staging", C, status="CLOSED"),
            record_for(layout, "team-backend", "staging", e),
        ],
    )
    desired = desired_tag_attachments(layout, snap, render(layout), intent)
    assert desired[f"account:{e}"] == {"vend-tags-team-backend"}
    assert not {f"account:{x}" for x in (A, B, C, D)} & set(desired)


def test_a_managed_tag_policy_on_the_root_is_judged_there(layout: Layout) -> None:
    # The root must carry no managed tag policy: one attached there is named at "root" and detached from it
    policies = _as_written(layout)
    policies["vend-tags"].targets = {"ou-s", "ou-p", "r-root"}
    policies["vend-tags-team-frontend"].targets = {A}
    findings, phases = _plan(layout, _snapshot(layout, policies))
    assert findings == [Finding("tag_policy_unexpected_attachment", "root", "vend-tags")]
    assert phases.detach == [Action("detach_tag_policy", "root", "vend-tags")]


def test_a_team_account_whose_team_renders_no_tag_policy_must_carry_none(layout: Layout) -> None:
    # GIVEN a READY team account whose record names a team the layout renders no tag policy for
    rendered = render(layout)
    assert "team-unlisted" not in rendered.team_tag_policies
    listed = record_for(layout, "team-frontend", "staging", A)
    unlisted = listed.model_copy(
        update={"team": "team-unlisted", "request": {**listed.request, "team": "team-unlisted"}}
    )
    intent = build_intent(layout, [unlisted])
    known = intent.get(A)
    assert known is not None and known.team == "team-unlisted" and known.team_account
    snap = _snapshot(layout, _as_written(layout))
    # THEN it must carry no managed tag policy (not a policy named None), and none is planned for it
    desired = desired_tag_attachments(layout, snap, rendered, intent)
    assert desired[f"account:{A}"] == set()
    plan, phases = Plan(), _Phases()
    compare_tag_policies(layout, snap, rendered, intent, plan, phases)
    assert [f for f in plan.findings if f.target == f"account:{A}"] == []
    assert [a for a in phases.all() if a.target == f"account:{A}"] == []
