"""Day 2 under the chaos soak's faults: the AccountLifecycle machine runs changes, approvals, retirements and closures
while the service's AWS calls and Lambda invocations misbehave (benchmarks/chaos_soak.py sets the faults up).

Driven from outside, as an operator does, through the CLI only (`vend request update|approve|resume`, `vend account
decommission|closures`), in this process, signed as the emulator's platform roles:
1. every READY team asks for the inference tier (an upgrade: it waits for an approval) as PlatformAdmin;
2. PlatformApprover (another principal) approves each;
3. every `retire_every`-th team is then decommissioned, and the closure queue drained until each is CLOSED;
4. a request that ends FAILED (or under an ended execution) is resumed with `vend request resume`, as in the vend
   phase; a retirement that ends short of PENDING_CLOSURE is decommissioned again.

Invariants reported (and judged by chaos_soak.main): each change applied exactly once (one APPLIED change per team,
the inference tier policy attached and the none tier's gone), each retired account closed with exactly one
CloseAccount call, no lifecycle execution left running.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3

from vending.changes import ChangeStore
from vending.lifecycle import RequestStore, Status
from vending.settings import Settings

LIFECYCLE_NAME = "AccountLifecycle"
TARGET_TIER = "inference"


def vend_as(role: str, session_name: str, argv: list[str]) -> tuple[int, Any]:
    """`vend …` in another process signed as another platform role of the emulator (an approver is never the
    requester), as an approver in their own shell. Never by switching this process's credentials: the soak's pipeline
    workers are threads of this process, and one that made a client meanwhile would act as the approver."""
    sts = boto3.client("sts")
    account = sts.get_caller_identity()["Account"]
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session_name)[
        "Credentials"
    ]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
    cli = "import sys; from landing_zone.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", cli, *argv], env=env, capture_output=True, text=True, check=False)
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        return done.returncode, done.stderr.strip()[-300:]


def vend(argv: list[str]) -> tuple[int, Any]:
    """`vend …` in this process; (exit code, its --json output or its stderr text)."""
    from vending.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    try:
        return code, json.loads(out.getvalue())
    except ValueError:
        return code, err.getvalue().strip()[-300:]


class CloseAccountCounter:
    """CloseAccount calls that reached the organization, per account (the emulator runs in this process)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @contextlib.contextmanager
    def counting(self) -> Iterator[CloseAccountCounter]:
        from moto.organizations.models import OrganizationsBackend

        original = OrganizationsBackend.close_account

        def close_account(backend: Any, **kwargs: Any) -> Any:
            result = original(backend, **kwargs)
            self.calls[kwargs["AccountId"]] += 1  # counted once carried out (a refused call closes nothing)
            return result

        OrganizationsBackend.close_account = close_account  # type: ignore[method-assign]
        try:
            yield self
        finally:
            OrganizationsBackend.close_account = original  # type: ignore[method-assign]


def _lifecycle_executions(sfn: Any) -> list[dict[str, Any]]:
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == LIFECYCLE_NAME)
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
    return [e for page in pages for e in page["executions"]]


def run_day2(
    request_ids: list[str], *, retire_every: int, timeout: float, max_resumes: int, closures: CloseAccountCounter
) -> dict[str, Any]:
    settings = Settings.from_env()
    ddb, sfn, org = boto3.client("dynamodb"), boto3.client("stepfunctions"), boto3.client("organizations")
    store, changes = RequestStore(ddb, settings.requests_table), ChangeStore(ddb, settings.changes_table)
    retire = {rid for i, rid in enumerate(request_ids) if retire_every and i % retire_every == 0}
    refused: list[str] = []
    resumes: Counter[str] = Counter()
    started = time.monotonic()
    # 1-2. The upgrade, filed by the admin and approved by the approver role.
    for rid in request_ids:
        code, out = vend(["request", "update", rid, "--gpu-tier", TARGET_TIER, "--json"])
        if code != 0 or out.get("status") != "AWAITING_APPROVAL":
            refused.append(f"update {rid}: {code} {out}")
            continue
        code, out = vend_as("PlatformApprover", "soak-approver", ["request", "approve", rid, "--json"])
        if code != 0:
            refused.append(f"approve {rid}: {code} {out}")
    changed = _settle(store, request_ids, _changed, resumes, started, timeout, max_resumes)
    # 3. Retirements, then the closure queue until every retired account is CLOSED.
    for rid in sorted(retire):
        code, out = vend(["account", "decommission", rid, "--yes", "--json"])
        if code != 0:
            refused.append(f"decommission {rid}: {code} {out}")
    retired = _settle(store, sorted(retire), _retired, resumes, started, timeout, max_resumes, decommission=True)
    drains, last_drain = 0, (0, None)
    while time.monotonic() - started < timeout and any(
        (r := store.get(rid)) is None or r.status != Status.CLOSED for rid in retire
    ):
        last_drain = vend(["account", "closures", "--drain", "--json"])
        drains += 1
        time.sleep(1.0)
    while time.monotonic() - started < timeout + 60 and any(
        e["status"] == "RUNNING" for e in _lifecycle_executions(sfn)
    ):
        time.sleep(1.0)
    records = {rid: store.get(rid) for rid in request_ids}
    applied = Counter(rid for rid in request_ids for c in changes.for_request(rid) if c.status.value == "APPLIED")
    tiers = {}
    for rid, record in records.items():
        if record is None or not record.account_id or rid in retire:
            continue
        names = {
            p["Name"]
            for p in org.list_policies_for_target(TargetId=record.account_id, Filter="SERVICE_CONTROL_POLICY")[
                "Policies"
            ]
        }
        tiers[rid] = sorted(n for n in names if "-gpu-" in n)
    closed = {rid for rid in retire if (r := records[rid]) is not None and r.status == Status.CLOSED}
    close_calls = {
        rid: closures.calls.get(str(records[rid].account_id), 0) for rid in sorted(retire) if records[rid] is not None
    }
    problems = [
        *refused,
        *(f"{rid}: change applied {applied[rid]} times" for rid in request_ids if applied[rid] != 1),
        *(f"{rid}: tier policies {t}" for rid, t in tiers.items() if t != [f"vend-gpu-{TARGET_TIER}"]),
        *(
            f"{rid}: not CLOSED ({_why(records[rid])}; {_last_failures(sfn, rid)}; closure item "
            f"{_closure_item(records[rid])}; last drain {_drain_summary(last_drain)})"
            for rid in sorted(retire - closed)
        ),
        *(f"{rid}: CloseAccount called {n} times" for rid, n in close_calls.items() if n != 1),
        *(f"{rid}: not READY after its change" for rid in request_ids if rid not in retire and rid not in changed),
        *(f"{rid}: retirement did not reach closure" for rid in retire if rid not in retired),
    ]
    executions = _lifecycle_executions(sfn)
    return {
        "changes_applied": sum(1 for rid in request_ids if applied[rid] == 1),
        "retired": len(retire),
        "closed": len(closed),
        "close_account_calls": close_calls,
        "resumes": dict(sorted(resumes.items())),
        "closure_drains": drains,
        "lifecycle_executions": dict(Counter(e["status"] for e in executions)),
        "lifecycle_running": [e["name"] for e in executions if e["status"] == "RUNNING"],
        "problems": problems,
        "wall_seconds": round(time.monotonic() - started, 2),
    }


def _last_failures(sfn: Any, request_id: str) -> list[str]:
    """Each ended lifecycle execution of the request: its status and, if it failed, the error it failed with."""
    out = []
    for e in _lifecycle_executions(sfn):
        if request_id not in e["name"] or e["status"] == "SUCCEEDED":
            continue
        events = sfn.get_execution_history(executionArn=e["executionArn"], reverseOrder=True, maxResults=20)["events"]
        failed = next((ev for ev in events if ev["type"].endswith("Failed")), {})
        detail = next((v for k, v in failed.items() if k.endswith("EventDetails")), {})
        out.append(f"{e['name']} {e['status']} {failed.get('type', '')} {str(detail)[:200]}")
    return out


def _closure_item(record: Any) -> str:
    from vending.retirement import ClosureQueue

    if record is None or not record.account_id:
        return "none"
    item = ClosureQueue(boto3.client("dynamodb"), Settings.from_env().closures_table).get(record.account_id)
    return "none" if item is None else f"{item.status.value} {[h.split()[-1] for h in item.history]} {item.last_error}"


def _drain_summary(result: tuple[int, Any]) -> str:
    code, out = result
    if isinstance(out, dict):
        return f"exit {code}, report {str(out.get('drain'))[:300]}"
    return f"exit {code}: {str(out)[:300]}"


def _why(record: Any) -> str:
    if record is None:
        return "no record"
    return f"{record.status}; failed at {record.failed_step}: {(record.failure_reason or '')[:300]}"


def _changed(record: Any) -> bool:
    return record.status == Status.READY and record.request.get("gpu_tier") == TARGET_TIER


def _retired(record: Any) -> bool:
    return record.status in {Status.PENDING_CLOSURE, Status.CLOSED}  # SUSPENDED: the closure was never requested


def _settle(
    store: RequestStore,
    request_ids: list[str],
    done: Any,
    resumes: Counter[str],
    started: float,
    timeout: float,
    max_resumes: int,
    *,
    decommission: bool = False,
) -> set[str]:
    """Wait until each record is done; what an operator does with one that failed or stalled: resume it (a vend or a
    change: `vend request resume`) or decommission it again (a retirement)."""
    sfn = boto3.client("stepfunctions")
    vending = Settings.from_env().state_machine_arn or next(
        m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "AccountVending"
    )
    pending, finished = set(request_ids), set()
    while pending and time.monotonic() - started < timeout:
        time.sleep(1.0)
        running = [e["name"] for e in _lifecycle_executions(sfn) if e["status"] == "RUNNING"]
        running += [
            e["name"]
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=vending, statusFilter="RUNNING")
            for e in page["executions"]
        ]
        for rid in sorted(pending):
            record = store.get(rid)
            if record is not None and done(record):
                pending.discard(rid)
                finished.add(rid)
                continue
            if any(rid in name for name in running):
                continue
            if resumes[rid] >= max_resumes:
                pending.discard(rid)
                continue
            resumes[rid] += 1
            vend(["account", "decommission", rid, "--yes", "--json"] if decommission else ["request", "resume", rid])
    return finished
