"""`vend github configure <request-id>`: set up the team's repository for its vended account (vending.github_setup)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vending.cli.args import request_id_arg
from vending.cli.changes import session, stores
from vending.cli.output import print_json
from vending.github_setup import GitHubAppSettings, configure_for_record
from vending.layout import cached_layout


def cmd_configure(args: argparse.Namespace) -> int:
    s = session()
    store, _ = stores(s)
    record = store.require(args.request_id)
    settings = GitHubAppSettings.from_env()
    result = configure_for_record(
        record,
        layout=cached_layout(),
        settings=settings,
        secretsmanager=s.client("secretsmanager"),
        dry_run=args.dry_run,
    )
    if args.json:
        print_json(result.as_dict())
        return 0
    verb = "would write" if result.dry_run else "wrote"
    print(f"{result.repository}: {result.reads} reads, {verb} {len(result.writes)} ({settings.api_url})")
    for call in result.writes:
        print(f"  {call.method} {call.path}" + (f" {json.dumps(call.body, sort_keys=True)}" if call.body else ""))
    if not result.writes:
        print("  nothing to change")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("github", help="the team repository's GitHub set up (OIDC subject, environments)")
    sub = parser.add_subparsers(dest="github_command", required=True)
    configure = sub.add_parser(
        "configure",
        help="OIDC subject template, plan and apply environments (reviewers, main only) and their variables",
    )
    configure.add_argument("request_id", type=request_id_arg)
    configure.add_argument("--dry-run", action="store_true", help="read, then print the writes without sending them")
    configure.add_argument("--json", action="store_true")
    configure.set_defaults(func=cmd_configure)
