"""`vend guardrails render|apply`: the SCPs rendered from the layout and their reconcile into the organization."""

from __future__ import annotations

import argparse
import os
from typing import Any

import boto3

from scps.bedrock import allowance
from scps.lint import lint
from scps.render import render
from vending.cli.output import console, print_json, print_table
from vending.layout import Layout, load_layout
from vending.lifecycle import RequestStore
from vending.settings import Settings


def _org() -> Any:
    # boto3 reads AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL itself.
    return boto3.Session(region_name=os.environ.get("AWS_REGION") or "us-east-1").client("organizations")


def bedrock_by_tier(layout: Layout) -> list[dict[str, Any]]:
    """Per tier, what a team may invoke on Bedrock and the ARNs the tier SCP allows for it."""
    out = []
    for name, tier in layout.gpu_tiers.items():
        allowed = allowance(layout, tier)
        out.append(
            {
                "tier": name,
                "models": list(allowed.models),
                "inference_profiles": {p: list(r) for p, r in allowed.profiles.items()},
                "customization": allowed.customization,
                "allowed_arns": list(allowed.arns),
            }
        )
    return out


def cmd_render(args: argparse.Namespace) -> int:
    layout = load_layout(args.layout)
    rendered = render(layout)
    lints = {r.policy: r for r in lint(rendered)}
    budgets = rendered.budgets(layout)
    if args.json:
        print_json(
            {
                "limits": layout.organization.scp_limits.model_dump(),
                "policies": [
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "chars": p.chars,
                        "headroom_chars": rendered.max_policy_chars - p.chars,
                        "statements": [s.sid for s in p.statements],
                        "lint": lints[p.name].to_dict(),
                        "content": p.document,
                    }
                    for p in rendered.policies.values()
                ],
                "targets": [b.to_dict() for b in budgets],
                "bedrock": bedrock_by_tier(layout),
            }
        )
        return 0 if all(r.ok for r in lints.values()) else 1
    for p in rendered.policies.values():
        console.rule(f"{p.name} ({p.chars}/{rendered.max_policy_chars} chars)")
        console.print_json(p.content)
    print_table(
        "SCPs",
        ["policy", "kind", "chars", "headroom", "statements", "lint"],
        [
            (
                p.name,
                p.kind,
                p.chars,
                rendered.max_policy_chars - p.chars,
                len(p.statements),
                "ok"
                if lints[p.name].ok
                else f"{len(lints[p.name].findings)} findings"
                + (f" ({len(lints[p.name].suppressed)} known false positives)" if lints[p.name].suppressed else ""),
            )
            for p in rendered.policies.values()
        ],
    )
    print_table(
        "Per target (FullAWSAccess counted)",
        ["target", "attached", "slots left", "chars left", "policies"],
        [
            (
                b.target,
                f"{b.attached}/{b.max_policies}",
                b.slots_left,
                b.chars_left,
                ", ".join((["FullAWSAccess"] if b.full_aws_access else []) + list(b.policies)),
            )
            for b in budgets
        ],
    )
    print_table(
        "Bedrock by tier (InvokeModel*/Converse* allowed only on these; profiles route to the regions listed)",
        ["tier", "models", "inference profiles -> destination regions", "provisioned/customize/import"],
        [
            (
                t["tier"],
                "\n".join(t["models"]) or "(none)",
                "\n".join(f"{p} -> {', '.join(r)}" for p, r in t["inference_profiles"].items()) or "(none)",
                "allowed" if t["customization"] else "denied",
            )
            for t in bedrock_by_tier(layout)
        ],
    )
    for r in lints.values():
        for f in r.findings:
            console.print(f"[red]lint {r.policy}: {f['issue']} {f['detail']}[/red]")
    return 0 if all(r.ok for r in lints.values()) else 1


def cmd_apply(args: argparse.Namespace) -> int:
    from vending.guardrails.reconcile import reconcile_organization
    from vending.spend.freezes import FreezeStore

    settings = Settings.from_env()
    # Accounts are reconciled against their vending records (intent), never against their own tags.
    session = boto3.Session(region_name=os.environ.get("AWS_REGION") or "us-east-1")
    records = RequestStore(session.client("dynamodb"), settings.requests_table).list()
    frozen = FreezeStore(session.client("dynamodb"), settings.freezes_table).frozen_or_none()
    plan = reconcile_organization(
        _org(), load_layout(args.layout), dry_run=args.dry_run, records=records, frozen=frozen
    )
    if args.json:
        print_json(plan.to_dict())
        return 0
    verb = "would change" if args.dry_run else "changed"
    print_table(
        f"Guardrails: {plan.changes} {verb}",
        ["#", "action", "policy", "target", "detail"],
        [
            (i, a.kind, a.policy, a.target, " ".join(f"{k}={v}" for k, v in a.data))
            for i, a in enumerate(plan.actions, 1)
        ],
    )
    for problem in plan.unfixable:
        console.print(f"[yellow]cannot fix: {problem}[/yellow]")
    return 0


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("guardrails", help="SCPs rendered from the layout").add_subparsers(
        dest="guardrails_command", required=True
    )
    render_p = group.add_parser("render", help="print the SCPs, their sizes, lint and headroom per target")
    render_p.add_argument("--json", action="store_true")
    render_p.add_argument("--layout", help="layout file (default: $VEND_LAYOUT_FILE or the packaged one)")
    render_p.set_defaults(func=cmd_render)
    apply_p = group.add_parser("apply", help="reconcile SCPs into the organization (idempotent)")
    apply_p.add_argument("--dry-run", action="store_true", help="print the plan of changes, change nothing")
    apply_p.add_argument("--json", action="store_true")
    apply_p.add_argument("--layout")
    apply_p.set_defaults(func=cmd_apply)
