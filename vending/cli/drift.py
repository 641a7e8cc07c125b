"""`vend drift [--check] [--all] [--json]`: stacks whose account differs from their code and state.

The checks are plan-only passes of every applied stack as its read-only plan role (vending.pipeline.drift), run by
the StackDrift function on a daily schedule; `--check` invokes it now (as the schedule does) and waits for them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import boto3

from vending.cli.output import console, print_json, print_table
from vending.exceptions import DriftCheckFailed, NotConfigured
from vending.functions import by_key
from vending.lifecycle import RequestStore
from vending.pipeline.drift import IN_PROGRESS, DriftCheck, DriftStatus, current_checks, scan_table
from vending.settings import Settings

PROBLEMS = frozenset({DriftStatus.DRIFTED, DriftStatus.FAILED})


def _session() -> boto3.Session:
    return boto3.Session(region_name=os.environ.get("AWS_REGION") or "us-east-1")


def read_checks(session: boto3.Session, settings: Settings, request_ids: list[str]) -> list[DriftCheck]:
    records = list(RequestStore(session.client("dynamodb"), settings.requests_table).list())
    runs, checks = scan_table(session.client("dynamodb"), settings.pipeline_runs_table)
    found = current_checks(runs, checks, records)
    return [c for c in found if not request_ids or c.request_id in request_ids]


def start_checks(session: boto3.Session, request_ids: list[str]) -> dict[str, Any]:
    """Invoke the StackDrift function as its schedule does (so the checks run as builds under the pipeline's role)."""
    reply = session.client("lambda").invoke(
        FunctionName=by_key("StackDrift").name,
        InvocationType="RequestResponse",
        Payload=json.dumps({"detail": {"requests": request_ids}}).encode(),
    )
    body = json.loads(reply["Payload"].read() or b"{}")
    if reply.get("FunctionError"):
        raise DriftCheckFailed(f"the StackDrift function failed: {body.get('errorMessage') or body}")
    return dict(body)


def wait_for_checks(session: boto3.Session, settings: Settings, started: list[str], timeout: float) -> list[DriftCheck]:
    deadline = time.monotonic() + timeout
    while True:
        checks = {c.stack_run: c for c in read_checks(session, settings, [])}
        pending = [r for r in started if r not in checks or checks[r].status in IN_PROGRESS]
        if not pending:
            return [checks[r] for r in started]
        if time.monotonic() > deadline:
            raise DriftCheckFailed(f"drift checks still running after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(2)


def rows(checks: list[DriftCheck]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for c in checks:
        if not c.resources:
            out.append((c.stack_path, c.account_id, c.status, c.checked_at, "", "", "", c.message))
        for r in c.resources:
            shown = [
                f"{p}: {json.dumps(r.values[p][0])} -> {json.dumps(r.values[p][1])}" if p in r.values else p
                for p in r.attributes
            ]
            out.append(
                (
                    c.stack_path,
                    c.account_id,
                    c.status,
                    c.checked_at,
                    r.address,
                    "outside Terraform" if r.source == "resource_drift" else "plan",
                    "/".join(r.actions),
                    "; ".join(shown) or "(the whole resource)",
                )
            )
    return out


def cmd_drift(args: argparse.Namespace) -> int:
    session, settings = _session(), Settings.from_env()
    request_ids = list(args.request or [])
    if args.check:
        try:
            started = list(start_checks(session, request_ids).get("checks", {}))
        except session.client("lambda").exceptions.ResourceNotFoundException as e:
            raise NotConfigured(f"no {by_key('StackDrift').name} function deployed: {e}") from e
        checks = wait_for_checks(session, settings, started, args.timeout)
    else:
        checks = read_checks(session, settings, request_ids)
    shown = checks if args.all else [c for c in checks if c.status in PROBLEMS]
    if args.json:
        print_json({"checks": len(checks), "stacks": [c.model_dump(mode="json") for c in shown]})
    else:
        drifted = sum(c.status == DriftStatus.DRIFTED for c in checks)
        print_table(
            f"Stack drift: {drifted} of {len(checks)} checked stacks drifted",
            ["stack", "account", "status", "checked", "resource", "seen", "actions", "attributes"],
            rows(shown),
        )
        if not checks:
            console.print("no drift checks yet: the StackDrift schedule runs daily, or run `vend drift --check`")
    return 1 if any(c.status in PROBLEMS for c in checks) else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "drift", help="stacks whose account differs from their code and state (plan-only checks as the plan role)"
    )
    p.add_argument("--check", action="store_true", help="run the checks now (invokes the StackDrift function) and wait")
    p.add_argument("--request", action="append", metavar="REQUEST_ID", help="only this request's stacks; repeat")
    p.add_argument("--timeout", type=float, default=1800.0, help="with --check: seconds to wait for the checks")
    p.add_argument("--all", action="store_true", help="list clean and running checks too")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_drift)
