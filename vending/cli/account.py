"""`vend account decommission|closures`: retire a team account (vending.retirement)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vending.cli.args import request_id_arg
from vending.cli.changes import lifecycle_arn, session, stores, wait_for_execution
from vending.cli.output import print_json, print_table
from vending.decommission import check_decommission, start_decommission
from vending.exceptions import InvalidRequest
from vending.retirement import CLOSE_ONCE, ClosureQueue, drain_closures
from vending.service import settings_from_env
from vending.settings import Settings


def cmd_decommission(args: argparse.Namespace) -> int:
    s = session()
    store, changes = stores(s)
    record = store.require(args.request_id)
    arn = lifecycle_arn(s)
    # Asked before the prompt; decided again by start_decommission's conditional write.
    check_decommission(record, sfn=s.client("stepfunctions"), state_machine_arn=arn)
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidRequest(
                f"--yes: decommissioning closes account {record.account_id}; confirm with --yes when not interactive"
            )
        destroy = f", destroy its stacks {record.request.get('stacks')}" if args.destroy_stacks else ""
        answer = input(f"Quarantine{destroy} and close account {record.account_id} of {record.request_id}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            return 1
    name, _ = start_decommission(
        store,
        changes,
        args.request_id,
        sfn=s.client("stepfunctions"),
        state_machine_arn=arn,
        settings=settings_from_env(),
        destroy_stacks=args.destroy_stacks,
    )
    status = wait_for_execution(s, arn, name) if args.wait else "RUNNING"
    after = store.require(args.request_id)
    out = {
        "request_id": after.request_id,
        "execution_name": name,
        "execution_status": status,
        "status": after.status.value,
        "account_id": after.account_id,
        "ou_path": after.ou_path,
    }
    if args.json:
        print_json(out)
    else:
        print_table(f"Decommission {after.request_id}", list(out), [tuple(out.values())])
    return 0


def cmd_closures(args: argparse.Namespace) -> int:
    s = session()
    store, _ = stores(s)
    queue = ClosureQueue(s.client("dynamodb"), Settings.from_env().closures_table)
    report = drain_closures(s.client("organizations", config=CLOSE_ONCE), queue, store) if args.drain else None
    items = queue.all()
    if args.json:
        print_json(
            {
                "drain": report.model_dump() if report else None,
                "backlog": [i.account_id for i in items if i.status == "QUEUED"],
                "items": [i.model_dump() for i in items],
            }
        )
        return 0
    print_table(
        "Closure queue",
        ["account", "request", "status", "attempts", "last error", "enqueued"],
        [(i.account_id, i.request_id, i.status.value, i.attempts, i.last_error or "", i.enqueued_at) for i in items],
    )
    if report and report.stopped_by:
        print(f"drain stopped: {report.stopped_by}; {len(report.backlog)} account(s) wait for the quota")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("account", help="retire team accounts")
    sub = parser.add_subparsers(dest="account_command", required=True)
    dec = sub.add_parser("decommission", help="quarantine, park in Suspended, archive state, close")
    dec.add_argument("request_id", type=request_id_arg)
    dec.add_argument(
        "--destroy-stacks",
        action="store_true",
        help="destroy every stack through the pipeline first (each destroy plan waits for `vend pipeline approve`)",
    )
    dec.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    dec.add_argument("--wait", action="store_true")
    dec.add_argument("--json", action="store_true")
    dec.set_defaults(func=cmd_decommission)
    closures = sub.add_parser("closures", help="the closure queue and its backlog")
    closures.add_argument("--drain", action="store_true", help="close what the quota allows now")
    closures.add_argument("--json", action="store_true")
    closures.set_defaults(func=cmd_closures)
