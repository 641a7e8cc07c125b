"""`vend platform preflight`: is the organization ready for the first deploy (vending.preflight)? One line a check."""

from __future__ import annotations

import argparse
from typing import Any

from vending.cli.changes import session
from vending.cli.output import console, print_json
from vending.layout import cached_layout
from vending.preflight import DEFAULT_QUALIFIER, PreflightClients, Status, failed, run_preflight

MARKS = {Status.PASS: "[green]PASS[/]", Status.WARN: "[yellow]WARN[/]", Status.FAIL: "[red]FAIL[/]"}


def cmd_preflight(args: argparse.Namespace) -> int:
    s = session()
    clients = PreflightClients(
        organizations=s.client("organizations"),
        service_quotas=s.client("service-quotas"),
        ce=s.client("ce", region_name="us-east-1"),  # Cost Explorer has one endpoint, in us-east-1
        cloudformation=s.client("cloudformation"),
        ssm=s.client("ssm"),
        sts=s.client("sts"),
    )
    results = run_preflight(clients, cached_layout(), region=s.region_name or "us-east-1", qualifier=args.qualifier)
    if args.json:
        print_json({"ok": not failed(results), "checks": [r.to_dict() for r in results]})
    else:
        for r in results:
            console.print(f"{MARKS[r.status]} {r.check:<22} {r.detail}", highlight=False, markup=True, soft_wrap=True)
            if r.fix:
                console.print(f"     {'':<22} fix: {r.fix}", highlight=False, markup=False, soft_wrap=True)
    return 1 if failed(results) else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("platform", help="the platform's own deployment")
    commands = parser.add_subparsers(dest="platform_command", required=True)
    preflight = commands.add_parser(
        "preflight", help="check the organization before the first deploy (read-only; run in the management account)"
    )
    preflight.add_argument("--json", action="store_true")
    preflight.add_argument("--qualifier", default=DEFAULT_QUALIFIER, help="the CDK bootstrap qualifier")
    preflight.set_defaults(func=cmd_preflight)
