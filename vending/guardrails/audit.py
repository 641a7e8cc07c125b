"""The guardrail audit: intended vs actual for the whole organization, a report, metrics and an alert."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from scps.render import FULL_AWS_ACCESS, GuardrailSet, render
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.budgets import BUDGET_NAME, backstop_action, check_budget
from vending.exceptions import VendingError
from vending.guardrails.effective import effective_findings
from vending.guardrails.intent import OrgIntent, build_intent, layout_for_records
from vending.guardrails.inventory import InstanceInventory, allowed_by_tier
from vending.guardrails.orgapi import ApiCallCounter, Backoff
from vending.guardrails.reconcile import FINDING_TYPES, Executor, Finding, compare
from vending.guardrails.snapshot import OrgSnapshot, read_snapshot
from vending.invocation_logging import check_invocation_logging
from vending.layout import Layout
from vending.lifecycle import RequestRecord
from vending.usage_forwarding import check_usage_forwarding

ALERT_DETAIL_TYPE = "Guardrail Audit Findings"
TIGHT_SLOTS = 1  # accounts with this many free SCP slots or fewer are listed in the headroom section
# Bootstrap creates the budget; from then on (pipelines, ready, a change running) the account must carry it. Retired
# accounts expect none (quarantined, about to close); a FAILED vend is reported by its own failure path.
EXPECTS_BUDGET = frozenset({"PIPELINES", "READY", "UPDATING"})
BUDGETS_REGION = "us-east-1"  # Budgets has one endpoint
# The drift pass runs daily before the audit: a check still unfinished two days after it was queued lost its worker.
DRIFT_STALE_SECONDS = 2 * 24 * 3600

# account id -> a Budgets client with that account's credentials (a budget is only visible inside its account)
BudgetsFor = Callable[[str], Any]
# account id -> a boto3 Session inside that account (its access role): invocation logging is per account and region
SessionFor = Callable[[str], Any]
# account id -> the Budgets backstop's freeze action on it (vending.budgets.backstop_action), None when it has none
BackstopFor = Callable[[str], dict[str, Any] | None]
# The backstop action's statuses once Budgets is attaching or has attached vend-freeze: the fence's interval adopts a
# SUCCESS; one still IN_PROGRESS (the SCP may already be on the account) is not undone either.
BACKSTOP_EXECUTED = frozenset({"EXECUTION_IN_PROGRESS", "EXECUTION_SUCCESS"})
BACKSTOP_NOTE = "vend-freeze attached by the Budgets backstop; the fence adopts it at its next interval"


@dataclass
class AuditReport:
    generated_at: str
    accounts: int
    ous: int
    findings: list[Finding]
    headroom: dict[str, Any]
    api_calls: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    remediation: dict[str, Any] | None = None
    report_uri: str | None = None
    notes: list[str] = field(default_factory=list)
    records: int | None = None  # vending records the intent came from (None: not given, accounts not compared)
    inventory: dict[str, Any] | None = None
    budgets: dict[str, Any] | None = None  # the spend-fence check (None: not run, no member-account access given)
    drift: dict[str, Any] | None = None  # the stacks' last drift checks (None: not given)
    invocation_logging: dict[str, Any] | None = None  # Bedrock's invocation logging (None: no member access given)
    usage_forwarding: dict[str, Any] | None = None  # the live meter's forwarding (None: no member access or bus given)

    def counts(self) -> dict[str, int]:
        found = Counter(f.type for f in self.findings)
        return {t: found.get(t, 0) for t in FINDING_TYPES}

    def summary(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "accounts": self.accounts,
            "findings": len(self.findings),
            "by_type": {k: v for k, v in self.counts().items() if v},
            "report_uri": self.report_uri,
            "api_calls": self.api_calls.get("total", 0),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "by_type": self.counts(),
            "ous": self.ous,
            "seconds": round(self.seconds, 3),
            "records": self.records,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
            "headroom": self.headroom,
            "inventory": self.inventory,
            "budgets": self.budgets,
            "drift": self.drift,
            "invocation_logging": self.invocation_logging,
            "usage_forwarding": self.usage_forwarding,
            "api_calls": self.api_calls,
            "remediation": self.remediation,
        }


def headroom(layout: Layout, snap: OrgSnapshot, r: GuardrailSet) -> dict[str, Any]:
    """Slots and characters left on each target, from what is attached now (not what is intended)."""
    attachments = snap.attachments()
    by_name = snap.policies
    max_n, max_c = r.max_policies_per_target, r.max_policy_chars

    def room(target_id: str) -> dict[str, Any]:
        names = sorted(attachments.get(target_id, set()))
        chars = {n: len(by_name[n].content or "") for n in names if n != FULL_AWS_ACCESS and by_name[n].content}
        slots = max_n - len(names)
        return {
            "attached": names,
            "slots_left": slots,
            "policy_chars": chars,
            "chars_left": sum(max_c - c for c in chars.values()) + max(slots, 0) * max_c,
        }

    targets = {"root": room(snap.root_id)}
    ou_ids = snap.ou_ids
    for ou in layout.ous:
        if ou.path in ou_ids:
            targets[f"ou:{ou.path}"] = room(ou_ids[ou.path])
    account_slots = {a: max_n - len(attachments.get(a, set())) for a in snap.accounts}
    tight = sorted(a for a, s in account_slots.items() if s <= TIGHT_SLOTS)
    return {
        "limits": {"max_policies_per_target": max_n, "max_policy_chars": max_c},
        "targets": targets,
        "accounts": {
            "min_slots_left": min(account_slots.values(), default=max_n),
            "tight": tight[:50],
            "tight_count": len(tight),
        },
    }


def gpu_findings(
    layout: Layout, intent: OrgIntent, snap: OrgSnapshot, inventory: InstanceInventory
) -> tuple[list[Finding], dict[str, Any]]:
    """Accelerated instance types running outside the intended tier (a launch an SCP could not stop)."""
    findings, seen = [], 0
    for item in inventory.instances():
        seen += 1
        if item.account_id == snap.management_account_id:
            continue
        known = intent.get(item.account_id)
        if known is not None and known.kind == "platform":
            continue  # platform accounts carry no GPU tier
        tier = known.tier if known is not None else None  # unknown or retired: no allowance at all
        if allowed_by_tier(layout, tier, item):
            continue
        who = f"tier {tier}" if tier else ("no vending record" if known is None else f"a {known.kind} account")
        findings.append(
            Finding(
                "gpu_outside_tier",
                f"account:{item.account_id}",
                f"{item.resource_type} {item.resource_id} ({item.region or '?'}) runs "
                f"{item.instance_type}; {who} does not allow it",
                False,
            )
        )
    return findings, {"resources": seen, "outside_tier": len(findings)}


def member_budgets(sts: Any, role_name: str, session_name: str = "vending-audit-budgets") -> BudgetsFor:
    """Budgets clients through each account's access role: the audit reads, the role is the platform's own."""

    def for_account(account_id: str) -> Any:
        session = assume_role_session(sts, access_role_arn(account_id, role_name), session_name, BUDGETS_REGION)
        return session.client("budgets", region_name=BUDGETS_REGION)

    return for_account


def management_backstop(budgets: Any, management_account_id: str) -> BackstopFor:
    """The backstop actions in the management account's Budgets (where SCP actions live): one
    DescribeBudgetActionsForBudget (paged) per account asked about, on that account's vend-backstop budget only."""

    def for_account(account_id: str) -> dict[str, Any] | None:
        return backstop_action(budgets, management_account_id, account_id)

    return for_account


def backstop_freezes(
    snap: OrgSnapshot,
    rendered: GuardrailSet,
    records: Iterable[RequestRecord],
    frozen: frozenset[str],
    backstop_for: BackstopFor,
) -> tuple[set[str], list[str], list[Finding]]:
    """The accounts carrying `vend-freeze` without a freeze record whose backstop action Budgets executed: the freeze
    is intended there (the fence records it at its next interval; detaching it would undo the backstop). Only such
    accounts are read (bounded: one paged read each, none when every freeze has its record). An attachment whose
    action did not execute (STANDBY, none) is left to compare() as planted. An action that cannot be read is a
    finding and the freeze is kept: no account is thawed on a guess."""
    if not rendered.freeze_policy:
        return set(), [], []
    attachments = snap.attachments()
    candidates = sorted(
        {
            r.account_id
            for r in records
            if r.account_id
            and r.account_id not in frozen
            and rendered.freeze_policy in attachments.get(r.account_id, set())
        }
    )
    adopted: set[str] = set()
    notes: list[str] = []
    findings: list[Finding] = []
    for account_id in candidates:
        try:
            action = backstop_for(account_id)
        except (ClientError, VendingError) as e:
            adopted.add(account_id)
            findings.append(
                Finding(
                    "backstop_unreadable",
                    f"account:{account_id}",
                    f"{rendered.freeze_policy} attached without a freeze record and its Budgets backstop action "
                    f"cannot be read ({e}); left in place",
                    False,
                )
            )
            continue
        if action is not None and action.get("Status") in BACKSTOP_EXECUTED:
            adopted.add(account_id)
            notes.append(f"account:{account_id}: {BACKSTOP_NOTE} (action {action.get('ActionId')})")
    return adopted, notes, findings


def budget_findings(
    layout: Layout, records: Iterable[RequestRecord], budgets_for: BudgetsFor
) -> tuple[list[Finding], dict[str, Any]]:
    """Every vended, non-retired account carries its monthly budget: the amount of its tier (or the team's override)
    and the 80 % actual / 100 % forecast alerts (vending.budgets). An account that cannot be read is a finding too:
    an unchecked fence is not a clean one."""
    findings: list[Finding] = []
    checked = 0
    for record in sorted(records, key=lambda r: r.request_id):
        if not record.account_id or record.status.value not in EXPECTS_BUDGET:
            continue
        key = f"account:{record.account_id}"
        tier = record.request.get("gpu_tier")
        if tier not in layout.gpu_tiers:
            continue  # no intended amount: compare() reports the record as an intent_conflict
        amount = layout.monthly_budget(record.team, str(tier))
        try:
            problems = check_budget(budgets_for(record.account_id), record.account_id, amount=amount)
        except (ClientError, VendingError) as e:
            findings.append(Finding("budget_unreadable", key, f"cannot read budget {BUDGET_NAME}: {e}", False))
            continue
        checked += 1
        missing = f"{record.account_id}: no budget {BUDGET_NAME}"
        for problem in problems:
            kind = "budget_missing" if problem == missing else "budget_drift"
            # Not fixable by the audit (it never writes into member accounts): `vend request resume` or a change
            # converges it through the workflow's ensure_budget.
            findings.append(Finding(kind, key, f"{problem} ({record.request_id})", False))
    return findings, {"checked": checked, "findings": len(findings)}


def member_sessions(sts: Any, role_name: str, session_name: str = "vending-audit-logging") -> SessionFor:
    """Sessions inside each account through its access role (the audit reads; the role is the platform's own)."""

    def for_account(account_id: str) -> Any:
        return assume_role_session(sts, access_role_arn(account_id, role_name), session_name, BUDGETS_REGION)

    return for_account


# One check inside a member account: (session, account id, the account's regions) -> problems by kind.
MemberCheck = Callable[[Any, str, list[str]], dict[str, list[str]]]


def _member_findings(
    records: Iterable[RequestRecord], session_for: SessionFor, prefix: str, what: str, check: MemberCheck
) -> tuple[list[Finding], dict[str, Any]]:
    """`check` in every bootstrapped, non-retired account: a `<prefix>_<kind>` finding per problem, and
    `<prefix>_unreadable` where the account cannot be read. Detective only (the audit never writes into member
    accounts): Bootstrap, a resumed vend or the account's next change converges it back."""
    findings: list[Finding] = []
    checked = 0
    for record in sorted(records, key=lambda r: r.request_id):
        if not record.account_id or record.status.value not in EXPECTS_BUDGET:
            continue
        key = f"account:{record.account_id}"
        regions = [str(r) for r in record.request.get("regions") or ()]
        try:
            found = check(session_for(record.account_id), record.account_id, regions)
        except (ClientError, VendingError) as e:
            findings.append(Finding(f"{prefix}_unreadable", key, f"cannot read {what}: {e}", False))
            continue
        checked += 1
        for kind, problems in found.items():
            findings += [Finding(f"{prefix}_{kind}", key, f"{p} ({record.request_id})", False) for p in problems]
    return findings, {"checked": checked, "findings": len(findings)}


def invocation_logging_findings(
    records: Iterable[RequestRecord], session_for: SessionFor
) -> tuple[list[Finding], dict[str, Any]]:
    """Every bootstrapped, non-retired account logs Bedrock invocations in each of its regions as
    vending.invocation_logging intends."""
    return _member_findings(records, session_for, "invocation_logging", "invocation logging", check_invocation_logging)


def usage_forwarding_findings(
    records: Iterable[RequestRecord], session_for: SessionFor, target_bus_arn: str
) -> tuple[list[Finding], dict[str, Any]]:
    """Every bootstrapped, non-retired account forwards its instance state changes to the platform's bus (the live
    meter's only view of it) in each of its regions, as vending.usage_forwarding intends: the rule enabled, its pattern,
    its one target (the platform's bus, as the forwarding role), the role's trust and policy."""

    def check(session: Any, account_id: str, regions: list[str]) -> dict[str, list[str]]:
        def events_in(region: str) -> Any:
            return session.client("events", region_name=region)

        return check_usage_forwarding(events_in, session.client("iam"), account_id, regions, target_bus_arn)

    return _member_findings(records, session_for, "usage_forwarding", "usage forwarding", check)


def _changed(resource: Mapping[str, Any]) -> str:
    what = ", ".join(resource.get("attributes") or []) or "the whole resource"
    return f"{resource.get('address')} ({'/'.join(resource.get('actions') or [])}: {what})"


def drift_findings(
    checks: Iterable[Mapping[str, Any]], *, stale_after_seconds: int = DRIFT_STALE_SECONDS
) -> tuple[list[Finding], dict[str, Any]]:
    """The last drift check of each applied stack (vending.pipeline.drift.DriftCheck, dumped): DRIFTED is a
    `stack_drift` finding naming the resources and attributes that differ; FAILED, or a check still unfinished
    long after it was queued, is `drift_unchecked`. Detective only: the fix is the stack's own pipeline."""
    findings: list[Finding] = []
    counts: Counter[str] = Counter()
    now = datetime.now(UTC)
    for check in sorted(checks, key=lambda c: str(c.get("run_id"))):
        status = str(check.get("status"))
        counts[status] += 1
        target = f"stack:{check.get('stack_path')}"
        where = f"account {check.get('account_id')}, checked {check.get('checked_at') or 'never'}"
        if status == "DRIFTED":
            changed = [r for r in check.get("resources") or [] if r.get("source") == "resource_changes"]
            outside = [r for r in check.get("resources") or [] if r.get("source") == "resource_drift"]
            detail = "; ".join(_changed(r) for r in (outside or changed)[:10]) or str(check.get("message"))
            more = len(outside or changed) - 10
            findings.append(
                Finding("stack_drift", target, f"{detail}{f' (+{more} more)' if more > 0 else ''} ({where})", False)
            )
        elif status == "FAILED":
            findings.append(Finding("drift_unchecked", target, f"{check.get('message')} ({where})", False))
        elif status in {"QUEUED", "RUNNING"}:
            queued = str(check.get("queued_at") or "")
            if queued and (now - datetime.fromisoformat(queued)).total_seconds() > stale_after_seconds:
                findings.append(
                    Finding("drift_unchecked", target, f"the check queued at {queued} never finished ({where})", False)
                )
    return findings, {"checked": sum(counts.values()), "by_status": dict(sorted(counts.items()))}


def audit_organization(
    org: Any,
    layout: Layout,
    *,
    records: Iterable[RequestRecord] | None = None,
    inventory: InstanceInventory | None = None,
    budgets_for: BudgetsFor | None = None,
    stack_checks: Iterable[Mapping[str, Any]] | None = None,
    remediate: bool = False,
    backoff: Backoff | None = None,
    sessions_for: SessionFor | None = None,
    counter: ApiCallCounter | None = None,
    frozen: Iterable[str] | None = None,
    usage_bus_arn: str | None = None,
    backstop_for: BackstopFor | None = None,
) -> AuditReport:
    """Read the org once (policy-centric), compare with the layout and the vending records, optionally fix what
    reconcile can fix. Without records accounts are not compared (see compare()); the scheduled audit and the CLI
    always pass them, and the frozen account ids (the freezes table): `vend-freeze` is intended exactly there, and
    where the Budgets backstop attached it and the fence has not recorded it yet (`backstop_for`, when the backstop is
    configured: a note, never a finding, never detached)."""
    started = time.perf_counter()
    b = backoff or Backoff()
    calls = counter or ApiCallCounter().attach(org)
    record_list = list(records) if records is not None else None
    # Team region fences follow the records (a change request moves them), the rest follows the layout.
    rendered = render(layout_for_records(layout, record_list) if record_list is not None else layout)
    snap = read_snapshot(org, backoff=b, concurrency=layout.guardrails.audit_concurrency)
    frozen_ids = frozenset(frozen) if frozen is not None else None
    backstop_notes: list[str] = []
    backstop_problems: list[Finding] = []
    if frozen_ids is not None and backstop_for is not None and record_list is not None:
        fired, backstop_notes, backstop_problems = backstop_freezes(
            snap, rendered, record_list, frozen_ids, backstop_for
        )
        frozen_ids |= fired
    intent = build_intent(layout, record_list, frozen_ids)
    plan = compare(layout, snap, rendered, intent)
    plan.notes += backstop_notes
    findings = list(plan.findings) + backstop_problems
    plan.unfixable += [f"{f.target}: {f.detail}" for f in backstop_problems]
    # Names and contents can match while what the path allows does not (or the other way round): decide the probes.
    weakened, effective_notes = effective_findings(snap, rendered, intent, plan.unfixable)
    findings += weakened
    plan.notes += effective_notes
    inventory_summary = None
    if inventory is not None:
        gpu, inventory_summary = gpu_findings(layout, intent, snap, inventory)
        findings += gpu
        plan.unfixable += [f"{f.target}: {f.detail} (detective only: stop it in the account)" for f in gpu]
    budgets_summary = None
    if budgets_for is not None and record_list is not None:
        fences, budgets_summary = budget_findings(layout, record_list, budgets_for)
        findings += fences
        plan.unfixable += [f"{f.target}: {f.detail}" for f in fences]
    logging_summary = None
    if sessions_for is not None and record_list is not None:
        logging, logging_summary = invocation_logging_findings(record_list, sessions_for)
        findings += logging
        plan.unfixable += [f"{f.target}: {f.detail}" for f in logging]
    forwarding_summary = None
    if sessions_for is not None and record_list is not None and usage_bus_arn:
        forwarding, forwarding_summary = usage_forwarding_findings(record_list, sessions_for, usage_bus_arn)
        findings += forwarding
        plan.unfixable += [f"{f.target}: {f.detail}" for f in forwarding]
    drift_summary = None
    if stack_checks is not None:
        drifted, drift_summary = drift_findings(stack_checks)
        findings += drifted
        plan.unfixable += [f"{f.target}: {f.detail}" for f in drifted]
    report = AuditReport(
        datetime.now(UTC).isoformat(timespec="seconds"),
        len(snap.accounts),
        len(snap.ou_paths) - 1,
        findings,
        headroom(layout, snap, rendered),
        notes=plan.notes,
        records=len(record_list) if record_list is not None else None,
        inventory=inventory_summary,
        budgets=budgets_summary,
        drift=drift_summary,
        invocation_logging=logging_summary,
        usage_forwarding=forwarding_summary,
    )
    if remediate:
        done = Executor(org, layout, snap, rendered, b).run(plan.actions) if plan.actions else []
        report.remediation = {"executed": done, "unfixable": plan.unfixable}
    report.api_calls = {
        **calls.to_dict(),
        "throttled": b.throttled,
        "per_account": round(calls.total / max(len(snap.accounts), 1), 3),
    }
    report.seconds = time.perf_counter() - started
    return report


def publish(
    report: AuditReport, *, s3: Any, events: Any, bucket: str, event_bus: str, source: str, metrics: Any = None
) -> None:
    """Store the JSON report, emit one metric per finding type and alert when anything was found."""
    if bucket:
        stamp = datetime.now(UTC)
        key = f"guardrail-audit/{stamp:%Y/%m/%d}/{stamp:%H%M%S}.json"
        s3.put_object(
            Bucket=bucket, Key=key, Body=json.dumps(report.to_dict(), indent=1).encode(), ContentType="application/json"
        )
        report.report_uri = f"s3://{bucket}/{key}"
    if metrics is not None:
        from aws_lambda_powertools.metrics import MetricUnit

        for kind, count in report.counts().items():
            metrics.add_metric(name=f"GuardrailFindings.{kind}", unit=MetricUnit.Count, value=count)
        metrics.add_metric(name="GuardrailFindings", unit=MetricUnit.Count, value=len(report.findings))
        metrics.add_metric(name="OrganizationsApiCalls", unit=MetricUnit.Count, value=report.api_calls.get("total", 0))
    if report.findings:
        events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": ALERT_DETAIL_TYPE,
                    "EventBusName": event_bus,
                    "Detail": json.dumps(report.summary()),
                }
            ]
        )


def run_scheduled_audit(
    *,
    org: Any,
    s3: Any,
    events: Any,
    layout: Layout,
    records: Iterable[RequestRecord],
    bucket: str,
    event_bus: str,
    source: str,
    metrics: Any = None,
    inventory: InstanceInventory | None = None,
    budgets_for: BudgetsFor | None = None,
    stack_checks: Iterable[Mapping[str, Any]] | None = None,
    remediate: bool = False,
    sessions_for: SessionFor | None = None,
    frozen: Iterable[str] | None = None,
    usage_bus_arn: str | None = None,
    backstop_for: BackstopFor | None = None,
) -> dict[str, Any]:
    """The one call the scheduled Lambda makes."""
    report = audit_organization(
        org,
        layout,
        records=records,
        frozen=frozen,
        inventory=inventory,
        budgets_for=budgets_for,
        stack_checks=stack_checks,
        remediate=remediate,
        sessions_for=sessions_for,
        usage_bus_arn=usage_bus_arn,
        backstop_for=backstop_for,
    )
    publish(report, s3=s3, events=events, bucket=bucket, event_bus=event_bus, source=source, metrics=metrics)
    return report.summary()
