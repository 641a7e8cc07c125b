"""`vend team docs <request-id>`: the team's own first-day guide."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import boto3

from vending.cli.args import request_id_arg
from vending.layout import cached_layout
from vending.lifecycle import RequestStore
from vending.settings import Settings
from vending.team_docs import team_guide


def cmd_docs(args: argparse.Namespace) -> int:
    session = boto3.Session(region_name=os.environ.get("AWS_REGION") or "us-east-1")
    record = RequestStore(session.client("dynamodb"), Settings.from_env().requests_table).require(args.request_id)
    text = team_guide(record, cached_layout())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0


def register(subparsers: Any) -> None:
    team = subparsers.add_parser("team", help="what a team needs to know about its account")
    sub = team.add_subparsers(dest="team_command", required=True)
    docs = sub.add_parser("docs", help="write the team's guide (account, guardrails, roles, state, templates)")
    docs.add_argument("request_id", type=request_id_arg)
    docs.add_argument("--output", help="a file to write (default: print)")
    docs.set_defaults(func=cmd_docs)
