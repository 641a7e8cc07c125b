"""The audit finds every kind of drift and nothing else; remediation leaves zero findings."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3

from tests.guardrails.conftest import ou_id, policy_id, vend_account
from vending.guardrails import reconcile_organization
from vending.guardrails.audit import ALERT_DETAIL_TYPE, audit_organization, publish
from vending.guardrails.reconcile import FINDING_TYPES
from vending.guardrails.snapshot import normalise
from vending.layout import Layout

FOREIGN = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}'


def _clean_org(org: Any, layout: Layout) -> dict[str, str]:
    accounts = {
        "frontend-staging": vend_account(org, layout, "team-frontend", "staging"),
        "frontend-production": vend_account(org, layout, "team-frontend", "production"),
        "mlops-staging": vend_account(org, layout, "team-mlops", "staging"),
        "mlops-production": vend_account(org, layout, "team-mlops", "production"),
    }
    reconcile_organization(org, layout, dry_run=False)
    return accounts


def _inject_every_drift(org: Any, accounts: dict[str, str]) -> dict[str, str]:
    """One finding of each type; returns type -> the target the audit must name."""
    root = org.list_roots()["Roots"][0]["Id"]
    staging, production = ou_id(org, "Workloads/Staging"), ou_id(org, "Workloads/Production")
    # ou_missing: an empty declared OU is gone
    org.detach_policy(PolicyId=policy_id(org, "vend-platform-1"), TargetId=ou_id(org, "Platform"))
    org.delete_organizational_unit(OrganizationalUnitId=ou_id(org, "Platform"))
    # policy_missing: a rendered policy nobody uses yet was deleted
    org.delete_policy(PolicyId=policy_id(org, "vend-gpu-inference"))
    # policy_drift: someone edited a tier policy by hand
    org.update_policy(PolicyId=policy_id(org, "vend-gpu-none"), Content=FOREIGN)
    # missing_attachment: one of Workloads' policies detached
    org.detach_policy(PolicyId=policy_id(org, "vend-workloads-2"), TargetId=ou_id(org, "Workloads"))
    # unexpected_attachment: a hand-made policy on the staging OU
    legacy = org.create_policy(Name="legacy-deny", Description="", Type="SERVICE_CONTROL_POLICY",
                               Content=FOREIGN)["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=legacy, TargetId=staging)
    # full_aws_access_misplaced: FullAWSAccess back on Suspended
    org.attach_policy(PolicyId="p-FullAWSAccess", TargetId=ou_id(org, "Suspended"))
    # account_outside_managed_ou: an account moved to the root
    org.move_account(AccountId=accounts["frontend-production"], SourceParentId=production, DestinationParentId=root)
    # account_in_wrong_ou: a production account in the staging OU
    org.move_account(AccountId=accounts["mlops-production"], SourceParentId=production, DestinationParentId=staging)
    # missing_account_tags: the cost center tag removed
    org.untag_resource(ResourceId=accounts["mlops-staging"], TagKeys=["cost-center"])
    return {
        "ou_missing": "ou:Platform",
        "policy_missing": "policy:vend-gpu-inference",
        "policy_drift": "policy:vend-gpu-none",
        "missing_attachment": "ou:Workloads",
        "unexpected_attachment": "ou:Workloads/Staging",
        "full_aws_access_misplaced": "ou:Suspended",
        "account_outside_managed_ou": f"account:{accounts['frontend-production']}",
        "account_in_wrong_ou": f"account:{accounts['mlops-production']}",
        "missing_account_tags": f"account:{accounts['mlops-staging']}",
    }


def test_audit_clean_org_has_no_findings(org: Any, layout: Layout) -> None:
    _clean_org(org, layout)
    report = audit_organization(org, layout)
    assert report.findings == []
    assert report.headroom["targets"]["ou:Workloads"]["slots_left"] == 2
    assert report.api_calls["by_operation"].get("ListParents", 0) == 0


def test_audit_finds_every_injected_drift_then_remediates(org: Any, layout: Layout) -> None:
    # GIVEN a reconciled org with one injected drift of every finding type
    expected = _inject_every_drift(org, _clean_org(org, layout))
    assert set(expected) == set(FINDING_TYPES)
    # WHEN audited
    report = audit_organization(org, layout)
    # THEN each injected finding is found, once, on the right target, and nothing else
    assert sorted((f.type, f.target) for f in report.findings) == sorted(expected.items())
    assert Counter(report.counts()) == Counter(dict.fromkeys(FINDING_TYPES, 1))
    # WHEN remediated THEN everything was fixable and a second audit is clean
    fixed = audit_organization(org, layout, remediate=True)
    assert fixed.remediation is not None and fixed.remediation["unfixable"] == []
    assert audit_organization(org, layout).findings == []
    assert reconcile_organization(org, layout, dry_run=True).changes == 0


def test_audit_reports_what_it_cannot_fix(org: Any, layout: Layout) -> None:
    # GIVEN an account at the root with no tags and an e-mail that says nothing about team or stage
    org.create_account(Email="someone@example.com", AccountName="stray")
    reconcile_organization(org, layout, dry_run=False)
    # WHEN audited with remediation
    report = audit_organization(org, layout, remediate=True)
    # THEN the findings are marked unfixable and the remediation says why
    assert {f.type for f in report.findings if not f.fixable} == {"account_outside_managed_ou",
                                                                  "missing_account_tags"}
    assert report.remediation is not None and len(report.remediation["unfixable"]) == 2


def test_audit_drift_ignores_whitespace_and_ordering() -> None:
    a = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["b:B","a:A"],"Resource":"*"}]}'
    b = '{ "Statement": {"Resource": ["*"], "Action": ["a:A", "b:B"], "Effect": "Deny"},\n "Version": "2012-10-17"}'
    assert normalise(a) == normalise(b)
    assert normalise(a) != normalise(a.replace("b:B", "c:C"))


def test_audit_publish_stores_report_and_alerts(org: Any, layout: Layout) -> None:
    # GIVEN findings (nothing reconciled yet) and a reports bucket
    s3, events = boto3.client("s3", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    s3.create_bucket(Bucket="reports")
    sent: list[dict[str, Any]] = []
    events.meta.events.register("before-parameter-build.events.PutEvents",
                                lambda params, **_: sent.extend(params["Entries"]))
    report = audit_organization(org, layout)
    # WHEN published
    publish(report, s3=s3, events=events, bucket="reports", event_bus="default", source="platform.vending")
    # THEN the JSON report is in S3 and one alert event went out
    assert report.report_uri and report.report_uri.startswith("s3://reports/guardrail-audit/")
    key = report.report_uri.removeprefix("s3://reports/")
    stored = json.loads(s3.get_object(Bucket="reports", Key=key)["Body"].read())
    assert stored["findings"] and stored["by_type"]["policy_missing"] > 0
    assert [e["DetailType"] for e in sent] == [ALERT_DETAIL_TYPE]
