"""`vend account decommission|closures`: retire a team account (vending.retirement)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vending.changes import lifecycle_input
from vending.cli.changes import lifecycle_arn, session, stores, wait_for_execution
from vending.cli.output import print_json, print_table
from vending.exceptions import ChangeNotAllowed, InvalidRequest, NotConfigured
from vending.lifecycle import RETIRED, Status
from vending.request import parse_request
from vending.retirement import RETIRABLE, ClosureQueue, drain_closures
from vending.service import settings_from_env
from vending.settings import Settings


def start_decommission(
    sfn: Any, state_machine_arn: str, record: Any, *, attempt: int = 1, destroy_stacks: bool = False
) -> str:
    if not state_machine_arn:
        raise NotConfigured("no lifecycle state machine configured (VEND_LIFECYCLE_STATE_MACHINE_ARN)")
    name = f"retire-{record.request_id}-g{record.generation}-a{attempt}"[:80]
    request = parse_request(record.request)
    payload = lifecycle_input(
        "decommission",
        request,
        execution=name,
        settings=settings_from_env(),
        # Every stack of the team, destroyed through the pipeline before the account is suspended.
        destroy_stacks=list(request.stacks) if destroy_stacks else [],
    )
    sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
    return name


def cmd_decommission(args: argparse.Namespace) -> int:
    s = session()
    store, _ = stores(s)
    record = store.require(args.request_id)
    if record.status not in RETIRABLE | (RETIRED - {Status.PENDING_CLOSURE, Status.CLOSED}) or not record.account_id:
        raise ChangeNotAllowed(
            f"request: {record.request_id} is {record.status.value}"
            f"{'' if record.account_id else ' without an account'}; nothing to decommission"
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidRequest(
                f"--yes: decommissioning closes account {record.account_id}; confirm with --yes when not interactive"
            )
        destroy = f", destroy its stacks {record.request.get('stacks')}" if args.destroy_stacks else ""
        answer = input(f"Quarantine{destroy} and close account {record.account_id} of {record.request_id}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            return 1
    arn = lifecycle_arn(s)
    sfn = s.client("stepfunctions")
    attempt = sum(1 for t in record.history if t.step == "Quarantine" and t.status == Status.RETIRING) + 1
    name = start_decommission(sfn, arn, record, attempt=attempt, destroy_stacks=args.destroy_stacks)
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
    report = drain_closures(s.client("organizations"), queue, store) if args.drain else None
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
    dec.add_argument("request_id")
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
