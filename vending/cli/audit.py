"""`vend audit [--json] [--remediate]`: the guardrail audit of the whole organization, from a terminal."""

from __future__ import annotations

import argparse
import os
from typing import Any

import boto3

from vending.cli.output import console, print_json, print_table
from vending.guardrails.audit import (
    AuditReport,
    audit_organization,
    management_backstop,
    member_budgets,
    member_sessions,
    publish,
)
from vending.guardrails.inventory import ConfigAggregatorInventory
from vending.layout import load_layout
from vending.lifecycle import RequestStore
from vending.pipeline.drift import checks_for_audit
from vending.settings import Settings
from vending.spend.freezes import FreezeStore
from vending.usage_forwarding import platform_bus_arn


def render_report(report: AuditReport) -> None:
    print_table(
        f"Guardrail audit: {len(report.findings)} findings over {report.accounts} accounts",
        ["type", "target", "detail", "fixable"],
        [(f.type, f.target, f.detail, "yes" if f.fixable else "no") for f in report.findings],
    )
    print_table(
        "Headroom (attached now)",
        ["target", "slots left", "chars left", "attached"],
        [
            (t, h["slots_left"], h["chars_left"], ", ".join(h["attached"]))
            for t, h in report.headroom["targets"].items()
        ],
    )
    acc = report.headroom["accounts"]
    console.print(
        f"accounts: min slots left {acc['min_slots_left']}, {acc['tight_count']} with <= 1 slot; "
        f"Organizations API calls {report.api_calls.get('total')} "
        f"({report.api_calls.get('per_account')} per account) in {report.seconds:.1f}s"
    )
    if report.budgets is not None:
        console.print(f"budgets: {report.budgets['checked']} accounts checked, {report.budgets['findings']} findings")
    else:
        console.print("budgets: not checked (--skip-budgets)")
    if report.invocation_logging is not None:
        done = report.invocation_logging
        console.print(f"invocation logging: {done['checked']} accounts checked, {done['findings']} findings")
    if report.usage_forwarding is not None:
        done = report.usage_forwarding
        console.print(f"usage forwarding: {done['checked']} accounts checked, {done['findings']} findings")
    if report.drift is not None:
        console.print(f"stack drift: {report.drift['checked']} stacks' last checks, {report.drift['by_status']}")
    for note in report.notes:
        console.print(f"note: {note}")
    if report.remediation is not None:
        console.print(f"remediated: {len(report.remediation['executed'])} changes")
        for problem in report.remediation["unfixable"]:
            console.print(f"[yellow]cannot fix: {problem}[/yellow]")


def cmd_audit(args: argparse.Namespace) -> int:
    session = boto3.Session(region_name=os.environ.get("AWS_REGION") or "us-east-1")
    settings = Settings.from_env()
    # Intent comes from the vending records (one Scan of the requests table), never from the accounts' tags.
    records = list(RequestStore(session.client("dynamodb"), settings.requests_table).list())
    aggregator = args.config_aggregator or os.environ.get("VEND_CONFIG_AGGREGATOR", "")
    inventory = ConfigAggregatorInventory(session.client("config"), aggregator) if aggregator else None
    layout = load_layout(args.layout)
    report = audit_organization(
        session.client("organizations"),
        layout,
        records=records,
        frozen=FreezeStore(session.client("dynamodb"), settings.freezes_table).frozen_or_none(),
        # vend-freeze the Budgets backstop attached before the fence's next interval recorded it: a note, kept.
        backstop_for=(
            management_backstop(session.client("budgets", region_name="us-east-1"), settings.platform_account_id)
            if settings.backstop_role_arn and settings.platform_account_id
            else None
        ),
        inventory=inventory,
        budgets_for=(
            None if args.skip_budgets else member_budgets(session.client("sts"), layout.organization.access_role_name)
        ),
        sessions_for=(
            None
            if args.skip_invocation_logging
            else member_sessions(session.client("sts"), layout.organization.access_role_name)
        ),
        usage_bus_arn=(
            None
            if args.skip_invocation_logging
            else platform_bus_arn(
                session.region_name,
                settings.platform_account_id or session.client("sts").get_caller_identity()["Account"],
                settings.event_bus_name,
            )
        ),
        # The stacks' last drift checks (`vend drift`), read beside their runs.
        stack_checks=checks_for_audit(session.client("dynamodb"), settings.pipeline_runs_table, records),
        remediate=args.remediate,
    )
    if args.publish:
        publish(
            report,
            s3=session.client("s3"),
            events=session.client("events"),
            bucket=settings.reports_bucket,
            event_bus=settings.event_bus_name,
            source=settings.event_source,
        )
    if args.json:
        print_json(report.to_dict())
    else:
        render_report(report)
    unresolved = report.findings and not (report.remediation and not report.remediation["unfixable"])
    return 1 if unresolved else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="audit SCPs, OUs and account tags against the layout")
    p.add_argument("--json", action="store_true")
    p.add_argument("--remediate", action="store_true", help="fix what reconcile can fix, report the rest")
    p.add_argument(
        "--publish",
        action="store_true",
        help="store the report in $VEND_REPORTS_BUCKET and send the alert event when findings exist",
    )
    p.add_argument("--layout")
    p.add_argument(
        "--skip-budgets",
        action="store_true",
        help="do not read each vended account's budget (that needs the access role in every account)",
    )
    p.add_argument(
        "--skip-invocation-logging",
        action="store_true",
        help="do not read each vended account's Bedrock invocation logging and usage forwarding (the access role, in "
        "each of its regions)",
    )
    p.add_argument(
        "--config-aggregator",
        default="",
        help="AWS Config aggregator for the running-instance check ($VEND_CONFIG_AGGREGATOR)",
    )
    p.set_defaults(func=cmd_audit)
