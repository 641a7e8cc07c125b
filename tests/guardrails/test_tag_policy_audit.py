"""Tag policies are audited and remediated like the SCPs: the type switched off, a team swapping in another team's
values, a customer's own tag policy (not ours to judge), and an account still being vended (not judged yet)."""

from __future__ import annotations

from typing import Any

from tests.guardrails.conftest import ou_id, vend_with_record
from tests.organization_pages import all_policies
from vending.guardrails import reconcile_organization
from vending.guardrails.audit import audit_organization
from vending.layout import Layout
from vending.lifecycle import RequestRecord, Status


def _vended(org: Any, layout: Layout, *, reconciled: bool = True) -> tuple[dict[str, str], list[RequestRecord]]:
    """Two accounts through ApplyGuardrails, then (by default) the org-wide reconcile, which creates what no account
    uses yet (team-mlops' policies)."""
    accounts, records = {}, []
    for team, stage in (("team-frontend", "staging"), ("team-backend", "production")):
        accounts[team], record = vend_with_record(org, layout, team, stage)
        records.append(record)
    if reconciled:
        reconcile_organization(org, layout, dry_run=False, records=records)
    return accounts, records


def _tag_findings(report: Any) -> list[tuple[str, str, str]]:
    return sorted((f.type, f.target, f.detail) for f in report.findings if "tag_polic" in f.type)


def test_vended_accounts_carry_their_tag_policies_from_apply_guardrails(org: Any, layout: Layout) -> None:
    # GIVEN accounts vended by ApplyGuardrails alone (no org-wide reconcile)
    accounts, records = _vended(org, layout, reconciled=False)

    # THEN each stage OU used carries the org-wide tag policy and each account its team's
    def on(target: str) -> list[str]:
        return [p["Name"] for p in org.list_policies_for_target(TargetId=target, Filter="TAG_POLICY")["Policies"]]

    assert on(ou_id(org, "Workloads/Staging")) == on(ou_id(org, "Workloads/Production")) == ["vend-tags"]
    assert {team: on(a) for team, a in accounts.items()} == {t: [f"vend-tags-{t}"] for t in accounts}
    # AND the audit names only what no vended account needed yet (the unused team's policy, as for its SCP)
    report = audit_organization(org, layout, records=records)
    assert [(t, target) for t, target, _ in _tag_findings(report)] == [
        ("tag_policy_missing", "policy:vend-tags-team-mlops")
    ]


def test_tag_policy_type_switched_off_is_found_and_remediated(org: Any, layout: Layout) -> None:
    accounts, records = _vended(org, layout)
    root = org.list_roots()["Roots"][0]["Id"]
    # GIVEN someone in the management account disables tag policies (AWS detaches every tag policy with it)
    org.disable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    # WHEN audited THEN the type, each stage OU and each team account are named
    report = audit_organization(org, layout, records=records)
    assert [(t, target) for t, target, _ in _tag_findings(report)] == sorted(
        [
            ("tag_policies_disabled", "root"),
            *(("tag_policy_missing_attachment", f"ou:{path}") for path in layout.stage_ous.values()),
            *(("tag_policy_missing_attachment", f"account:{a}") for a in accounts.values()),
        ]
    )
    # WHEN remediated THEN the type is back on, everything is attached again and a second audit is clean
    fixed = audit_organization(org, layout, records=records, remediate=True)
    assert fixed.remediation is not None and fixed.remediation["unfixable"] == []
    assert _tag_findings(audit_organization(org, layout, records=records)) == []
    assert reconcile_organization(org, layout, dry_run=True, records=records).changes == 0


def test_another_teams_tag_policy_on_an_account_is_swapped_back(org: Any, layout: Layout) -> None:
    accounts, records = _vended(org, layout)
    ids = {p["Name"]: p["Id"] for p in all_policies(org, "TAG_POLICY")}
    frontend = accounts["team-frontend"]
    # GIVEN the frontend account's tag policy replaced by backend's (its tags would then comply as team-backend)
    org.attach_policy(PolicyId=ids["vend-tags-team-backend"], TargetId=frontend)
    org.detach_policy(PolicyId=ids["vend-tags-team-frontend"], TargetId=frontend)
    # WHEN audited THEN both halves of the swap are named on that account, and nothing else
    report = audit_organization(org, layout, records=records)
    assert _tag_findings(report) == [
        ("tag_policy_missing_attachment", f"account:{frontend}", "vend-tags-team-frontend"),
        ("tag_policy_unexpected_attachment", f"account:{frontend}", "vend-tags-team-backend"),
    ]
    # WHEN remediated THEN the account carries its own team's again
    audit_organization(org, layout, records=records, remediate=True)
    on = org.list_policies_for_target(TargetId=frontend, Filter="TAG_POLICY")["Policies"]
    assert [p["Name"] for p in on] == ["vend-tags-team-frontend"]


def test_a_customers_own_tag_policy_and_an_account_in_flight_are_not_judged(org: Any, layout: Layout) -> None:
    accounts, records = _vended(org, layout)
    # GIVEN a tag policy outside the managed prefix on the staging OU (the customer's own)
    own = org.create_policy(Name="finance-tags", Description="", Type="TAG_POLICY", Content='{"tags":{}}')["Policy"][
        "PolicySummary"
    ]["Id"]
    org.attach_policy(PolicyId=own, TargetId=ou_id(org, "Workloads/Staging"))
    # AND the backend account still being vended, its team tag policy not attached yet
    ids = {p["Name"]: p["Id"] for p in all_policies(org, "TAG_POLICY")}
    org.detach_policy(PolicyId=ids["vend-tags-team-backend"], TargetId=accounts["team-backend"])
    in_flight = [r.model_copy(update={"status": Status.GUARDRAILS}) if r.team == "team-backend" else r for r in records]
    # WHEN audited THEN neither is a tag-policy finding
    assert _tag_findings(audit_organization(org, layout, records=in_flight)) == []
    # AND the negative control: the same detach once the account is READY is found
    report = audit_organization(org, layout, records=records)
    assert [(t, target) for t, target, _ in _tag_findings(report)] == [
        ("tag_policy_missing_attachment", f"account:{accounts['team-backend']}")
    ]
