"""The audit finds every kind of drift and nothing else; remediation leaves zero findings."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from tests.guardrails.conftest import ou_id, policy_id, record_for, vend_with_record
from tests.organization_pages import all_policies
from vending.guardrails import reconcile_organization
from vending.guardrails.audit import ALERT_DETAIL_TYPE, audit_organization, publish
from vending.guardrails.inventory import RunningInstance, StaticInventory
from vending.guardrails.reconcile import FINDING_TYPES
from vending.guardrails.snapshot import normalise
from vending.layout import Layout
from vending.lifecycle import RequestRecord

FOREIGN = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}'
# Found by the audit alone and fixed by --remediate; the rest need an operator (or are detective only).
FIXABLE_TYPES = tuple(
    t
    for t in FINDING_TYPES
    if t
    not in {
        "intent_conflict",
        "vended_account_missing",
        "gpu_outside_tier",
        # a consequence of the injected drifts, checked on its own: tests/guardrails/test_effective_audit.py
        "effective_permissions",
        # inside the member accounts: tests/guardrails/test_budget_audit.py
        "budget_missing",
        "budget_drift",
        "budget_unreadable",
        # the Budgets backstop's action, read in the management account: tests/vending/test_backstop_audit.py
        "backstop_unreadable",
        # Bedrock's invocation logging, inside the member accounts: tests/guardrails/test_invocation_logging.py
        "invocation_logging_off",
        "invocation_logging_drift",
        "invocation_logging_unreadable",
        # the live meter's usage forwarding, inside the member accounts: tests/guardrails/test_usage_forwarding.py
        "usage_forwarding_off",
        "usage_forwarding_drift",
        "usage_forwarding_unreadable",
        # the type switched off detaches every tag policy: tests/guardrails/test_tag_policy_audit.py
        "tag_policies_disabled",
        # the stacks' plan-only checks: tests/vending/test_drift.py and tests/e2e/test_vending_state_machine.py
        "stack_drift",
        "drift_unchecked",
    }
)
TEAMS = (
    ("frontend-staging", "team-frontend", "staging"),
    ("frontend-production", "team-frontend", "production"),
    ("mlops-staging", "team-mlops", "staging"),
    ("mlops-production", "team-mlops", "production"),
    ("backend-staging", "team-backend", "staging"),
    ("backend-production", "team-backend", "production"),
)


def _clean_org(org: Any, layout: Layout) -> tuple[dict[str, str], list[RequestRecord]]:
    accounts, records = {}, []
    for name, team, stage in TEAMS:
        accounts[name], record = vend_with_record(org, layout, team, stage)
        records.append(record)
    reconcile_organization(org, layout, dry_run=False, records=records)
    return accounts, records


def _inject_every_drift(org: Any, accounts: dict[str, str]) -> dict[str, str]:
    """One finding of each fixable type; returns type -> the target the audit must name."""
    root = org.list_roots()["Roots"][0]["Id"]
    staging, production = ou_id(org, "Workloads/Staging"), ou_id(org, "Workloads/Production")
    # ou_missing: an empty declared OU is gone
    org.detach_policy(PolicyId=policy_id(org, "vend-platform-1"), TargetId=ou_id(org, "Platform"))
    org.delete_organizational_unit(OrganizationalUnitId=ou_id(org, "Platform"))
    # policy_missing: a rendered policy nobody uses yet was deleted
    org.delete_policy(PolicyId=policy_id(org, "vend-gpu-training"))  # unused: see _without_training
    # policy_drift: someone edited a tier policy by hand
    org.update_policy(PolicyId=policy_id(org, "vend-gpu-none"), Content=FOREIGN)
    # missing_attachment: one of Workloads' policies detached
    org.detach_policy(PolicyId=policy_id(org, "vend-workloads-2"), TargetId=ou_id(org, "Workloads"))
    # unexpected_attachment: a hand-made policy on the staging OU
    legacy = org.create_policy(Name="legacy-deny", Description="", Type="SERVICE_CONTROL_POLICY", Content=FOREIGN)[
        "Policy"
    ]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=legacy, TargetId=staging)
    # unrendered_policy: a vend- policy the layout does not render, on the production OU
    stale = org.create_policy(Name="vend-legacy", Description="", Type="SERVICE_CONTROL_POLICY", Content=FOREIGN)[
        "Policy"
    ]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=stale, TargetId=production)
    # (full_aws_access_misplaced cannot happen with the packaged layout: no OU forbids FullAWSAccess any more, the
    # quarantine is a Deny that exempts the platform's roles; tests/guardrails/test_reconcile.py covers the mechanism)
    # account_outside_managed_ou: an account moved to the root
    org.move_account(AccountId=accounts["frontend-production"], SourceParentId=production, DestinationParentId=root)
    # account_in_wrong_ou: a production account in the staging OU
    org.move_account(AccountId=accounts["backend-production"], SourceParentId=production, DestinationParentId=staging)
    # team_account_outside_workloads: a team account parked in Suspended
    org.move_account(
        AccountId=accounts["frontend-staging"], SourceParentId=staging, DestinationParentId=ou_id(org, "Suspended")
    )
    # missing_account_tags: the cost center tag removed
    org.untag_resource(ResourceId=accounts["backend-staging"], TagKeys=["cost-center"])
    # tag_drift: a team account claims another team
    org.tag_resource(ResourceId=accounts["frontend-staging"], Tags=[{"Key": "team", "Value": "team-backend"}])
    # unknown_account: no record, self-asserted tags, in a workload OU
    rogue = org.create_account(
        Email="someone@elsewhere.example",
        AccountName="rogue",
        Tags=[{"Key": "team", "Value": "team-mlops"}, {"Key": "gpu-tier", "Value": "training"}],
    )["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=rogue, SourceParentId=root, DestinationParentId=staging)
    return {
        "ou_missing": "ou:Platform",
        "policy_missing": "policy:vend-gpu-training",
        "policy_drift": "policy:vend-gpu-none",
        "unrendered_policy": "policy:vend-legacy",
        "missing_attachment": "ou:Workloads",
        "unexpected_attachment": "ou:Workloads/Staging",
        "account_outside_managed_ou": f"account:{accounts['frontend-production']}",
        "account_in_wrong_ou": f"account:{accounts['backend-production']}",
        "team_account_outside_workloads": f"account:{accounts['frontend-staging']}",
        "missing_account_tags": f"account:{accounts['backend-staging']}",
        "tag_drift": f"account:{accounts['frontend-staging']}",
        "unknown_account": f"account:{rogue}",
    }


def _inject_tag_policy_drift(org: Any, accounts: dict[str, str]) -> list[tuple[str, str]]:
    """One or more findings of each fixable tag-policy type; returns (type, target) pairs the audit must name."""
    tag_id = {p["Name"]: p["Id"] for p in all_policies(org, "TAG_POLICY")}
    # tag_policy_drift: the org-wide tag policy edited by hand
    org.update_policy(PolicyId=tag_id["vend-tags"], Content='{"tags":{"team":{"tag_key":{"@@assign":"Team"}}}}')
    # tag_policy_missing: a team's tag policy detached from its accounts and deleted (each account then misses it)
    mlops = [accounts["mlops-staging"], accounts["mlops-production"]]
    for account in mlops:
        org.detach_policy(PolicyId=tag_id["vend-tags-team-mlops"], TargetId=account)
    org.delete_policy(PolicyId=tag_id["vend-tags-team-mlops"])
    # tag_policy_unexpected_attachment: a team account carries another team's tag policy (its values)
    org.attach_policy(PolicyId=tag_id["vend-tags-team-backend"], TargetId=accounts["frontend-production"])
    # unrendered_tag_policy: a vend- tag policy the layout does not render, on the production OU
    stale = org.create_policy(Name="vend-tags-legacy", Description="", Type="TAG_POLICY", Content='{"tags":{}}')[
        "Policy"
    ]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=stale, TargetId=ou_id(org, "Workloads/Production"))
    return [
        ("tag_policy_drift", "policy:vend-tags"),
        ("tag_policy_missing", "policy:vend-tags-team-mlops"),
        *(("tag_policy_missing_attachment", f"account:{a}") for a in mlops),
        ("tag_policy_unexpected_attachment", f"account:{accounts['frontend-production']}"),
        ("unrendered_tag_policy", "policy:vend-tags-legacy"),
    ]


def _without_training(org: Any, layout: Layout) -> tuple[dict[str, str], list[RequestRecord]]:
    """A clean org where no account uses the training tier, so its policy can go missing without other drift."""
    accounts, records = _clean_org(org, layout)
    for name in ("mlops-staging", "mlops-production"):
        org.attach_policy(PolicyId=policy_id(org, "vend-gpu-inference"), TargetId=accounts[name])
        org.detach_policy(PolicyId=policy_id(org, "vend-gpu-training"), TargetId=accounts[name])
        org.tag_resource(ResourceId=accounts[name], Tags=[{"Key": "gpu-tier", "Value": "inference"}])
    records = [
        r.model_copy(update={"request": {**r.request, "gpu_tier": "inference"}}) if r.team == "team-mlops" else r
        for r in records
    ]
    return accounts, records


def test_audit_clean_org_has_no_findings(org: Any, layout: Layout) -> None:
    _accounts, records = _clean_org(org, layout)
    report = audit_organization(org, layout, records=records)
    assert report.findings == [] and report.records == len(TEAMS)
    assert report.headroom["targets"]["ou:Workloads"]["slots_left"] == 1
    assert report.api_calls["by_operation"].get("ListParents", 0) == 0


def test_audit_finds_every_injected_drift_then_remediates(org: Any, layout: Layout) -> None:
    # GIVEN a reconciled org with one injected drift of every fixable finding type
    accounts, records = _without_training(org, layout)
    tag_drift = _inject_tag_policy_drift(org, accounts)
    expected = _inject_every_drift(org, accounts)
    # (every fixable type but full_aws_access_misplaced, which the packaged layout cannot produce: see above)
    assert set(expected) | {t for t, _ in tag_drift} == set(FIXABLE_TYPES) - {"full_aws_access_misplaced"}
    # WHEN audited
    report = audit_organization(org, layout, records=records)
    # THEN each injected finding is found, once, on the right target, and nothing else
    weakened = {f.target: f.detail for f in report.findings if f.type == "effective_permissions"}
    found = [(f.type, f.target) for f in report.findings if f.type != "effective_permissions"]
    assert sorted(found) == sorted([*expected.items(), *tag_drift])
    # AND each misplaced account's finding says where it is and where its record puts it
    placement = ("account_outside_managed_ou", "account_in_wrong_ou", "team_account_outside_workloads")
    assert {f.type: f.detail for f in report.findings if f.type in placement} == {
        "account_outside_managed_ou": "in the root; record:team-frontend-production puts it in Workloads/Production",
        "account_in_wrong_ou": (
            "in OU Workloads/Staging; record:team-backend-production puts it in Workloads/Production"
        ),
        "team_account_outside_workloads": "in OU Suspended; record:team-frontend-staging puts it in Workloads/Staging",
    }
    assert Counter(report.counts()) == Counter(
        {t: 0 for t in FINDING_TYPES}
        | Counter(t for t, _ in [*expected.items(), *tag_drift])
        | {"effective_permissions": len(weakened)}
    )
    # AND every account whose path lost a deny says what it now lets through: the baseline detached from Workloads
    # opens the platform's roles, state and trail to the accounts under it; the one moved to the root loses the rest
    # of the baseline too; the one parked in Suspended is only more fenced
    assert set(weakened) == {
        f"account:{accounts[n]}"
        for n in ("frontend-production", "mlops-staging", "mlops-production", "backend-staging", "backend-production")
    }
    assert all("delete platform role" in d and "stop cloudtrail" in d for d in weakened.values())
    assert "leave organization" in weakened[f"account:{accounts['frontend-production']}"]
    # WHEN remediated THEN everything was fixable and a second audit is clean
    fixed = audit_organization(org, layout, records=records, remediate=True)
    assert fixed.remediation is not None and fixed.remediation["unfixable"] == []
    again = audit_organization(org, layout, records=records)
    assert again.findings == []
    assert again.notes == [f"{expected['unknown_account']}: unknown account, quarantined in Suspended"]
    assert reconcile_organization(org, layout, dry_run=True, records=records).changes == 0
    assert "vend-legacy" not in {p["Name"] for p in all_policies(org, "SERVICE_CONTROL_POLICY")}


def test_audit_reports_what_it_cannot_fix(org: Any, layout: Layout) -> None:
    # GIVEN a stray account at the root, two records claiming one account, a record whose account is gone,
    # and a GPU instance running outside its tier (launched by a service-linked role, say)
    accounts, records = _clean_org(org, layout)
    stray = org.create_account(Email="someone@example.com", AccountName="stray")["CreateAccountStatus"]["AccountId"]
    twin = record_for(layout, "team-mlops", "production", accounts["frontend-staging"])
    gone = record_for(layout, "team-backend", "staging", "999999999999").model_copy(update={"request_id": "x"})
    inventory = StaticInventory(
        [
            RunningInstance(accounts["backend-staging"], "i-0abc", "AWS::EC2::Instance", "p5.48xlarge", "us-east-1"),
            RunningInstance(accounts["backend-staging"], "i-0def", "AWS::EC2::Instance", "g5.xlarge", "us-east-1"),
        ]
    )
    # WHEN audited with remediation
    report = audit_organization(org, layout, records=[*records, twin, gone], inventory=inventory, remediate=True)
    # THEN each is a finding marked unfixable, with the reason in the remediation; the allowed g5 is not reported
    assert sorted((f.type, f.target) for f in report.findings) == sorted(
        [
            ("unknown_account", f"account:{stray}"),
            ("intent_conflict", f"account:{accounts['frontend-staging']}"),
            ("vended_account_missing", "account:999999999999"),
            ("gpu_outside_tier", f"account:{accounts['backend-staging']}"),
        ]
    )
    assert not any(f.fixable for f in report.findings)
    assert report.remediation is not None and len(report.remediation["unfixable"]) == 4
    assert report.inventory == {"resources": 2, "outside_tier": 1}


def test_audit_without_records_compares_no_account(org: Any, layout: Layout) -> None:
    # GIVEN vended accounts with their tags rewritten, audited without the vending records
    accounts, _records = _clean_org(org, layout)
    org.tag_resource(ResourceId=accounts["frontend-staging"], Tags=[{"Key": "gpu-tier", "Value": "training"}])
    # WHEN audited with remediation THEN no account is judged (nor changed) from its own tags, and the report says so
    report = audit_organization(org, layout, remediate=True)
    assert report.findings == [] and report.records is None
    assert report.notes == ["accounts not compared: no vending records were given"]
    assert _direct(org, accounts["frontend-staging"]) == {
        "FullAWSAccess",
        "vend-gpu-none",
        "vend-team-team-frontend-staging",
    }


def _direct(org: Any, target: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


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
    events.meta.events.register(
        "before-parameter-build.events.PutEvents", lambda params, **_: sent.extend(params["Entries"])
    )
    report = audit_organization(org, layout)
    # WHEN published
    publish(report, s3=s3, events=events, bucket="reports", event_bus="default", source="platform.vending")
    # THEN the JSON report is in S3 and one alert event went out
    assert report.report_uri and report.report_uri.startswith("s3://reports/guardrail-audit/")
    key = report.report_uri.removeprefix("s3://reports/")
    stored = json.loads(s3.get_object(Bucket="reports", Key=key)["Body"].read())
    assert stored["findings"] and stored["by_type"]["policy_missing"] > 0
    assert [e["DetailType"] for e in sent] == [ALERT_DETAIL_TYPE]


def test_audit_report_summary_and_dict_are_whole() -> None:
    from vending.guardrails.audit import FINDING_TYPES, AuditReport
    from vending.guardrails.reconcile import Finding

    # GIVEN a report with two findings of one type, one of another, and every optional section set
    findings = [
        Finding(FINDING_TYPES[0], "account:1", "a", True),
        Finding(FINDING_TYPES[0], "account:2", "b", False),
        Finding(FINDING_TYPES[1], "ou:Workloads", "c"),
    ]
    sections = {k: {"k": k} for k in ("inventory", "budgets", "drift", "invocation_logging", "usage_forwarding")}
    report = AuditReport(
        "2026-12-06T00:00:00+00:00",
        3,
        4,
        findings,
        {"root": {"slots_left": 4}},
        api_calls={"total": 17, "by_operation": {"ListRoots": 1}},
        seconds=1.23456,
        remediation={"executed": [], "unfixable": ["x"]},
        report_uri="s3://b/k",
        notes=["n"],
        records=2,
        **sections,
    )
    # THEN the summary names only the types found, and the API calls' total
    assert report.summary() == {
        "generated_at": "2026-12-06T00:00:00+00:00",
        "accounts": 3,
        "findings": 3,
        "by_type": {FINDING_TYPES[0]: 2, FINDING_TYPES[1]: 1},
        "report_uri": "s3://b/k",
        "api_calls": 17,
    }
    # AND the whole report every type (zeros included), each finding whole and every section as given
    assert report.to_dict() == {
        "generated_at": "2026-12-06T00:00:00+00:00",
        "accounts": 3,
        "findings": [f.to_dict() for f in findings],
        "by_type": {t: {FINDING_TYPES[0]: 2, FINDING_TYPES[1]: 1}.get(t, 0) for t in FINDING_TYPES},
        "report_uri": "s3://b/k",
        "api_calls": {"total": 17, "by_operation": {"ListRoots": 1}},
        "ous": 4,
        "seconds": 1.235,
        "records": 2,
        "notes": ["n"],
        "headroom": {"root": {"slots_left": 4}},
        **sections,
        "remediation": {"executed": [], "unfixable": ["x"]},
    }
    assert list(report.counts()) == list(FINDING_TYPES)
    # AND without API calls counted the summary says 0
    assert AuditReport("t", 0, 0, [], {}).summary()["api_calls"] == 0


def test_gpu_findings_whole_per_kind_of_account() -> None:
    from types import SimpleNamespace

    from vending.guardrails.audit import gpu_findings
    from vending.guardrails.intent import AccountIntent, OrgIntent
    from vending.guardrails.inventory import RunningInstance, StaticInventory
    from vending.layout import load_layout

    intent = OrgIntent(
        {
            "200000000000": AccountIntent("200000000000", "platform", "Platform", "layout:platform_accounts"),
            "300000000000": AccountIntent("300000000000", "team", "Workloads/Staging", "record:a", tier="none"),
            "400000000000": AccountIntent("400000000000", "team", "Workloads/Staging", "record:b", tier="training"),
            "500000000000": AccountIntent("500000000000", "retired", "Suspended", "record:c"),
        }
    )

    def p5(account: str, region: str = "us-east-1") -> RunningInstance:
        return RunningInstance(account, f"i-{account[:3]}", "AWS::EC2::Instance", "p5.48xlarge", region)

    # GIVEN p5s in the management account and a platform account (skipped, first: the rest is still read), in a
    # tier-none account, a training account (allowed), an account with no record (no region known) and a retired one
    inventory = StaticInventory(
        [
            p5("100000000000"),
            p5("200000000000"),
            p5("300000000000"),
            p5("400000000000"),
            p5("600000000000", ""),
            p5("500000000000"),
        ]
    )
    snap = SimpleNamespace(management_account_id="100000000000")
    findings, summary = gpu_findings(load_layout(), intent, snap, inventory)  # type: ignore[arg-type]
    # THEN one finding per account outside its allowance, whole, naming why
    assert [f.to_dict() for f in findings] == [
        {
            "type": "gpu_outside_tier",
            "target": f"account:{account}",
            "detail": f"AWS::EC2::Instance i-{account[:3]} ({region}) runs p5.48xlarge; {who} does not allow it",
            "fixable": False,
        }
        for account, region, who in (
            ("300000000000", "us-east-1", "tier none"),
            ("600000000000", "?", "no vending record"),
            ("500000000000", "us-east-1", "a retired account"),
        )
    ]
    assert summary == {"resources": 6, "outside_tier": 3}


def test_publish_stores_the_report_emits_each_count_and_alerts_with_the_summary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time as time_module
    from datetime import UTC, datetime

    from aws_lambda_powertools.metrics import MetricUnit

    from vending.guardrails.audit import ALERT_DETAIL_TYPE, FINDING_TYPES, AuditReport, publish
    from vending.guardrails.reconcile import Finding

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, dict[str, Any]]] = []

        def __getattr__(self, name: str) -> Any:
            return lambda **kwargs: self.calls.append((name, kwargs))

    # GIVEN a machine whose local time is not UTC (the key is UTC's date and time)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time_module.tzset()
    try:
        report = AuditReport("t", 2, 1, [Finding(FINDING_TYPES[0], "account:1", "d")], {}, api_calls={"total": 9})
        s3, events, metrics = Recorder(), Recorder(), Recorder()
        before, body = datetime.now(UTC), json.dumps(report.to_dict(), indent=1).encode()  # before it has a URI
        publish(report, s3=s3, events=events, bucket="reports", event_bus="bus", source="vend.audit", metrics=metrics)
    finally:
        monkeypatch.delenv("TZ")
        time_module.tzset()
    # THEN the whole report is stored as indented JSON under the UTC date and time, and the report knows where
    ((name, stored),) = s3.calls
    key = stored["Key"]
    assert name == "put_object" and stored["Bucket"] == "reports" and stored["ContentType"] == "application/json"
    assert key.startswith(f"guardrail-audit/{before:%Y/%m/%d}/{before:%H}") and key.endswith(".json"), key
    assert stored["Body"] == body
    assert report.report_uri == f"s3://reports/{key}"
    # AND one count per finding type, the total and the API calls, each a Count
    assert metrics.calls == [
        (
            "add_metric",
            {"name": f"GuardrailFindings.{t}", "unit": MetricUnit.Count, "value": int(t == FINDING_TYPES[0])},
        )
        for t in FINDING_TYPES
    ] + [
        ("add_metric", {"name": "GuardrailFindings", "unit": MetricUnit.Count, "value": 1}),
        ("add_metric", {"name": "OrganizationsApiCalls", "unit": MetricUnit.Count, "value": 9}),
    ]
    # AND one alert carrying the summary
    assert events.calls == [
        (
            "put_events",
            {
                "Entries": [
                    {
                        "Source": "vend.audit",
                        "DetailType": ALERT_DETAIL_TYPE,
                        "EventBusName": "bus",
                        "Detail": json.dumps(report.summary()),
                    }
                ]
            },
        )
    ]
    # AND without API calls counted the metric says 0; without findings there is no alert
    quiet, metrics = Recorder(), Recorder()
    publish(
        AuditReport("t", 0, 0, [], {}),
        s3=Recorder(),
        events=quiet,
        bucket="",
        event_bus="b",
        source="s",
        metrics=metrics,
    )
    assert metrics.calls[-1] == ("add_metric", {"name": "OrganizationsApiCalls", "unit": MetricUnit.Count, "value": 0})
    assert quiet.calls == []
