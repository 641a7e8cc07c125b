"""The spend freeze is part of the guardrail intent: the audit expects `vend-freeze` exactly on the frozen accounts
(the freezes table), re-attaches one detached by hand, reports (and remediation detaches) one planted elsewhere, and
nothing else that converges an account's SCPs takes a freeze off."""

from __future__ import annotations

from typing import Any

from tests.guardrails.conftest import policy_id, vend_with_record
from vending.guardrails import apply_account_guardrails
from vending.guardrails.audit import audit_organization
from vending.guardrails.reconcile import reconcile_organization
from vending.layout import Layout
from vending.lifecycle import RequestRecord


def _names(org: Any, target: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def _two_accounts(org: Any, layout: Layout) -> tuple[str, str, list[RequestRecord]]:
    """team-mlops staging (to be frozen) and team-backend staging (not), reconciled clean."""
    frozen, r1 = vend_with_record(org, layout, "team-mlops", "staging")
    other, r2 = vend_with_record(org, layout, "team-backend", "staging")
    records = [r1, r2]
    reconcile_organization(org, layout, dry_run=False, records=records, frozen=())
    return frozen, other, records


def _freeze_by_hand(org: Any, account: str) -> None:
    org.attach_policy(PolicyId=policy_id(org, "vend-freeze"), TargetId=account)


def _found(report: Any) -> list[tuple[str, str, str]]:
    return sorted((f.type, f.target, f.detail) for f in report.findings if f.type != "effective_permissions")


def test_audit_expects_the_freeze_on_a_frozen_account_and_keeps_it(org: Any, layout: Layout) -> None:
    # GIVEN a frozen account (its record in the freezes table, vend-freeze attached as the fence attaches it)
    frozen, _other, records = _two_accounts(org, layout)
    _freeze_by_hand(org, frozen)
    # WHEN audited and remediated with the freezes read THEN nothing is found and the freeze stays
    report = audit_organization(org, layout, records=records, frozen={frozen}, remediate=True)
    assert _found(report) == []
    assert report.remediation is not None and report.remediation["executed"] == []
    assert "vend-freeze" in _names(org, frozen)
    # AND its effective permissions are the intended ones (the freeze is intended, not a drift either way)
    assert [f for f in report.findings if f.type == "effective_permissions"] == []


def test_audit_reports_a_freeze_detached_by_hand_and_remediation_reattaches_it(org: Any, layout: Layout) -> None:
    # GIVEN a frozen account whose vend-freeze someone detached by hand
    frozen, _other, records = _two_accounts(org, layout)
    _freeze_by_hand(org, frozen)
    org.detach_policy(PolicyId=policy_id(org, "vend-freeze"), TargetId=frozen)
    # WHEN audited THEN the missing freeze is reported on that account, and what it lets through again
    report = audit_organization(org, layout, records=records, frozen={frozen})
    assert _found(report) == [("missing_attachment", f"account:{frozen}", "vend-freeze")]
    # WHEN remediated THEN it is attached again and a second audit is clean
    audit_organization(org, layout, records=records, frozen={frozen}, remediate=True)
    assert "vend-freeze" in _names(org, frozen)
    assert _found(audit_organization(org, layout, records=records, frozen={frozen})) == []


def test_audit_reports_a_freeze_planted_on_an_account_that_is_not_frozen(org: Any, layout: Layout) -> None:
    # GIVEN vend-freeze attached to an account the freezes table does not list (planted, or left by a crashed thaw)
    frozen, other, records = _two_accounts(org, layout)
    _freeze_by_hand(org, frozen)
    _freeze_by_hand(org, other)
    # WHEN audited THEN the stray freeze is reported, the intended one is not
    report = audit_organization(org, layout, records=records, frozen={frozen})
    assert _found(report) == [("unexpected_attachment", f"account:{other}", "vend-freeze")]
    # WHEN remediated THEN only the stray one is detached
    audit_organization(org, layout, records=records, frozen={frozen}, remediate=True)
    assert "vend-freeze" not in _names(org, other) and "vend-freeze" in _names(org, frozen)


def test_audit_without_the_freezes_leaves_every_freeze_as_it_is(org: Any, layout: Layout) -> None:
    # GIVEN a frozen account WHEN the audit runs without the freezes table (a caller that did not read it)
    frozen, _other, records = _two_accounts(org, layout)
    _freeze_by_hand(org, frozen)
    report = audit_organization(org, layout, records=records, remediate=True)
    # THEN the freeze is neither reported nor detached: no account is thawed on a guess
    assert _found(report) == [] and "vend-freeze" in _names(org, frozen)
    # AND the negative control: told the account is not frozen, the same audit does report it
    assert _found(audit_organization(org, layout, records=records, frozen=())) == [
        ("unexpected_attachment", f"account:{frozen}", "vend-freeze")
    ]


def test_apply_guardrails_again_keeps_the_freeze(org: Any, layout: Layout) -> None:
    # GIVEN a frozen account WHEN ApplyGuardrails converges it again (a resumed vend, a tier change)
    frozen, _other, _records = _two_accounts(org, layout)
    _freeze_by_hand(org, frozen)
    result = apply_account_guardrails(
        org, layout, account_id=frozen, team="team-mlops", stage="staging", gpu_tier="inference"
    )
    # THEN the tier policy is swapped (5 of 5 SCPs at the swap, within the quota) and the freeze stays
    assert _names(org, frozen) == {"FullAWSAccess", "vend-gpu-inference", "vend-team-team-mlops-staging", "vend-freeze"}
    assert not any("vend-freeze" in c for c in result.changes)
