"""Chaos soak: N teams vended on the emulator while AWS and Lambda misbehave; an operator resumes what fails.

    python benchmarks/chaos_soak.py --teams 10 --fault-rate 0.1 --seed 1 [--json]

Every AWS call the service's functions make (Organizations, STS, IAM, S3, KMS, DynamoDB, Step Functions, EventBridge,
SQS) draws a fault with probability `--fault-rate` per attempt: throttling, 500, 503, connect timeout, read timeout
after the call was carried out, or a slow answer (landing_zone/local/faults.py). Each Lambda invocation draws, at
half that rate, a runtime fault: a Lambda service error or a runtime crash before the handler runs, a timeout that
kills the handler after a seeded number of its AWS calls (all three retried by the state machine), or an operator's
StopExecution once the step is done (the request is left in flight under an ABORTED execution: resumed). Each
pipeline run's worker dies at the fault rate (its run is left RUNNING and silent: the CheckPipelines heartbeat,
`--heartbeat-seconds`, ends the wait, and the resumed request relaunches the lost run). The operator's own calls
(submit, status, resume) are not faulted.
FAILED requests are resumed the way `vend request resume` does (vending.service.submit_request) until every team is
READY or a bound is hit (`--max-resumes` per team, `--timeout` wall seconds).

Pipelines are left out as in vend_throughput.py: each stack's run is recorded SUCCEEDED at launch without Terraform
(`pipelines: "skipped"` in the output); the worker that would record it can still die.

Orphans are counted by kind (landing_zone/local/orphans.py): accounts no READY record owns, records not READY,
executions still running, pipeline runs left QUEUED/RUNNING, new SCPs attached to nothing, and inside every READY
team's account each bucket, IAM role, policy, user, OIDC provider, live KMS key, alias, table, budget and SCP
attachment beyond the request's own.

Day 2 under the same faults (benchmarks/chaos_day2.py, `--no-day2` to leave it out): every READY team asks for the
inference tier, PlatformApprover approves it, every `--retire-every`-th team is decommissioned and the closure queue
drained, all through the CLI; failed or stalled requests are resumed. Judged: each change applied exactly once, the
tier policy swapped, each retired account CLOSED with exactly one CloseAccount call, no lifecycle execution left
running; a retired account owned by its CLOSED record is no orphan.

Exit status 0 only when every team is READY, accounts created == teams, nothing is orphaned and day 2 has no problem.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Before the service's modules build their powertools loggers: the handlers' INFO lines would bury the result.
os.environ["POWERTOOLS_LOG_LEVEL"] = "CRITICAL"
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

import boto3

from benchmarks.chaos_day2 import CloseAccountCounter, run_day2
from benchmarks.vend_throughput import request, skip_pipelines
from landing_zone.local import faults, orphans
from landing_zone.local.authorization.middleware import DECISIONS
from landing_zone.local.execution_history import whole_history
from landing_zone.local.organizations import slow_account_creation
from landing_zone.local.runtime import FAST_WORKFLOW, Emulator, deploy
from vending.layout import cached_layout
from vending.lifecycle import RequestStore, Status
from vending.pipeline.orchestration import IN_PROGRESS, RunStore
from vending.service import Outcome, submit_request
from vending.settings import Settings

SERVICES = ("organizations", "sts", "iam", "s3", "kms", "dynamodb", "sfn", "eventbridge", "sqs")
FAILURE_EVENTS = {
    "TaskFailed",
    "TaskTimedOut",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
    "TaskSubmitFailed",
}
SCHEDULED_EVENTS = {"TaskScheduled", "LambdaFunctionScheduled"}


def fault_config(rate: float, seed: int, log_file: str | None, slow_seconds: float) -> faults.FaultConfig:
    rules: list[dict[str, Any]] = [
        {"service": s, "operation": "*", "rate": rate, "faults": list(faults.AWS_FAULTS), "slow_seconds": slow_seconds}
        for s in SERVICES
    ]
    rules.append({"lambda": "*", "rate": rate / 2, "faults": list(faults.RUNTIME_FAULTS)})
    rules.append({"worker": "*", "rate": rate, "faults": list(faults.WORKER_FAULTS)})
    return faults.FaultConfig.model_validate({"seed": seed, "log_file": log_file, "rules": rules})


def retries_absorbed(events: list[dict[str, Any]]) -> int:
    """Failed task attempts the state machine retried: a failure event followed by the same state's next attempt
    being scheduled (a Catch leaves the state first, so it does not count)."""
    absorbed, pending = 0, False
    for event in events:
        kind = event["type"]
        if kind in FAILURE_EVENTS:
            pending = True
        elif kind in SCHEDULED_EVENTS and pending:
            absorbed, pending = absorbed + 1, False
        elif kind.endswith("StateExited"):
            pending = False
    return absorbed


def run(
    teams: int,
    rate: float,
    seed: int,
    *,
    max_resumes: int,
    timeout: float,
    creation_seconds: float,
    slow_seconds: float,
    log_file: str | None,
    heartbeat_seconds: int = 20,
    retire_every: int = 2,
    day2: bool = True,
) -> dict[str, Any]:
    config = fault_config(rate, seed, log_file, slow_seconds)
    # A dead worker is found by the heartbeat; skipped pipelines finish at launch, so a short one costs nothing else.
    workflow = {**FAST_WORKFLOW, "pipeline_heartbeat_seconds": heartbeat_seconds}
    os.environ["VEND_WORKFLOW_SETTINGS"] = json.dumps(workflow)
    with Emulator() as _emulator, slow_account_creation(creation_seconds):
        deployment = deploy()
        DECISIONS.reset()  # the soak's own calls, not the deployment's
        skip_pipelines()
        _pipelines_outside_the_service()
        sfn, org = boto3.client("stepfunctions"), boto3.client("organizations")
        store = RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table)
        arn = deployment.state_machine_arn
        accounts_before = {a["Id"] for a in _accounts(org)}
        scps_before = orphans.scp_policy_ids(org)
        ou_attachments_before = orphans.ou_scp_attachments(org)
        requests = [request(i) for i in range(teams)]
        resumes: Counter[str] = Counter()
        why: Counter[str] = Counter()  # what each resumed attempt failed on: the soak's findings
        gave_up: list[str] = []
        with faults.injecting(config) as injector:
            assert injector is not None
            started = time.monotonic()
            executions = {r.request_id: submit_request(sfn, store, arn, r).execution_arn for r in requests}
            pending = {r.request_id: r for r in requests}
            while pending and time.monotonic() - started < timeout:
                time.sleep(1.0)
                for request_id, req in list(pending.items()):
                    record = store.get(request_id)
                    if record and record.status == Status.READY:
                        del pending[request_id]
                        continue
                    current = executions.get(request_id)
                    if current and sfn.describe_execution(executionArn=current)["status"] == "RUNNING":
                        continue
                    if resumes[request_id] >= max_resumes:
                        gave_up.append(request_id)
                        del pending[request_id]
                        continue
                    # What an operator does with a FAILED (or silently ended) request: `vend request resume`.
                    why[_reason(record)] += 1
                    result = submit_request(sfn, store, arn, req)
                    if result.outcome in (Outcome.STARTED, Outcome.RESUMED):
                        resumes[request_id] += 1
                    executions[request_id] = result.execution_arn
            # READY is recorded before Notify: let the executions finish before anything is counted as left running.
            while time.monotonic() - started < timeout + 60 and any(
                e["status"] == "RUNNING" for e in _executions(sfn, arn)
            ):
                time.sleep(1.0)
            wall = time.monotonic() - started
            # Day 2 under the same faults: changes approved, retirements, closures (benchmarks/chaos_day2.py).
            ready_ids = [
                r.request_id for r in requests if (rec := store.get(r.request_id)) and rec.status == Status.READY
            ]
            day2_result = None
            if day2:
                before = len(injector.records)
                with CloseAccountCounter().counting() as closures:
                    day2_result = run_day2(
                        ready_ids,
                        retire_every=retire_every,
                        timeout=timeout,
                        max_resumes=max_resumes,
                        closures=closures,
                    )
                hits = injector.records[before:]
                day2_result["faults_injected"] = {
                    "total": len(hits),
                    "by_kind": dict(Counter(r.fault for r in hits)),
                    "by_target": dict(Counter(r.target for r in hits)),
                }
        retired_ids = set(day2_result["close_account_calls"]) if day2_result else set()
        records = {r.request_id: store.get(r.request_id) for r in requests}
        ready = {rid: rec for rid, rec in records.items() if rec and rec.status == Status.READY}
        # A retired account is owned by its CLOSED record (chaos_day2 judges its closure); it is no orphan.
        closed = {
            rid: rec for rid, rec in records.items() if rid in retired_ids and rec and rec.status == Status.CLOSED
        }
        owned = {rec.account_id for rec in (*ready.values(), *closed.values())}
        created = {a["Id"] for a in _accounts(org)} - accounts_before
        all_executions = _executions(sfn, arn)
        running = [e["name"] for e in all_executions if e["status"] == "RUNNING"]
        left = orphans.orphan_report(
            ready,
            sts=boto3.client("sts"),
            org=org,
            access_role_name=cached_layout().organization.access_role_name,
            extra={
                "account": sorted(created - owned),
                "record_not_ready": sorted(rid for rid in records if rid not in ready and rid not in closed),
                "execution_running": running,
                "pipeline_run_unfinished": _unfinished_runs(boto3.client("dynamodb")),
                "scp_policy": orphans.unattached_new_scps(org, scps_before),
                "scp_ou_attachment": orphans.new_ou_scp_attachments(org, ou_attachments_before),
                # A READY account keeps its backstop; a retired one's must be gone with it.
                "backstop_budget": orphans.orphan_backstops(
                    boto3.client("budgets"),
                    boto3.client("sts").get_caller_identity()["Account"],
                    {rec.account_id for rec in ready.values() if rec.account_id},
                ),
            },
        )
        statuses = Counter(e["status"] for e in all_executions)
        absorbed = sum(retries_absorbed(whole_history(sfn, e["executionArn"])) for e in all_executions)
        by_target = Counter(f"{r.target}:{r.fault}" for r in injector.records)
        runtime_hits = [
            f"{r.operation}: {r.fault}" + (f" ({r.detail})" if r.detail else "")
            for r in injector.records
            if r.target in ("lambda", "worker")
        ]
        failed_reasons = Counter(
            f"{rec.failed_step}: {(rec.failure_reason or '')[:120]}"
            for rec in records.values()
            if rec and rec.status != Status.READY
        )
        return {
            "teams": teams,
            "fault_rate": rate,
            "seed": seed,
            "pipelines": "skipped (each run recorded SUCCEEDED at launch; no Terraform)",
            "teams_ready": len(ready),
            "accounts_created": len(created),
            "orphan_count": left["count"],
            "orphans_by_kind": left["by_kind"],
            "orphans": {**{k: v for k, v in left["listed"].items() if v}, **left["by_account"]},
            "faults_injected": {
                "total": len(injector.records),
                "by_kind": injector.counts(),
                "by_target": dict(sorted(by_target.items())),
                "runtime": runtime_hits,
            },
            "retries_absorbed_by_state_machine": absorbed,
            "executions": dict(statuses),
            "resumes_needed": sum(resumes.values()),
            "resumes_by_team": {rid: n for rid, n in sorted(resumes.items()) if n},
            "resumed_after": dict(why.most_common()),
            "gave_up": gave_up,
            "not_ready_reasons": dict(failed_reasons),
            "wall_seconds": round(wall, 2),
            "day2": day2_result,
            "fault_log": log_file,
            # Every call decided as AWS decides it: a denial or a fault of the emulator's own fails the soak.
            "authorization": {
                **DECISIONS.snapshot(),
                "denied": [
                    f"{d.caller}: {d.action} on {d.resource} ({d.why}, {d.reason})" for d in DECISIONS.denials[:20]
                ],
            },
        }


def _pipelines_outside_the_service() -> None:
    """The skipped pipeline stands in for a worker (CodeBuild, or a worker thread locally): it reports from outside
    the StartPipelines invocation, so the fault rules on the service's calls do not apply to it."""
    from vending.pipeline import orchestration

    launch = orchestration.LocalThreadLauncher.launch

    def outside(self: Any, run_id: str) -> None:
        contextvars.Context().run(launch, self, run_id)

    orchestration.LocalThreadLauncher.launch = outside  # type: ignore[method-assign]


def _unfinished_runs(ddb: Any) -> list[str]:
    """Pipeline runs still QUEUED or RUNNING once every execution ended: a worker nobody will hear from again."""
    table = Settings.from_env().pipeline_runs_table
    store = RunStore(ddb, table)
    run_ids = [
        item["run_id"]["S"]
        for page in ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="run_id")
        for item in page["Items"]
        if "#" not in item["run_id"]["S"]  # callback items sit beside the runs
    ]
    return sorted(rid for rid in run_ids if (run := store.get(rid)) is not None and run.status in IN_PROGRESS)


def _reason(record: Any) -> str:
    if record is None:
        return "no record (the execution ended before Reserve)"
    if record.status != Status.FAILED:
        return f"{record.status} under an ended execution (no RecordFailed)"
    reason = (record.failure_reason or "").replace("\n", " ")
    return f"{record.failed_step}: {reason[:160]}"


def _accounts(org: Any) -> list[dict[str, Any]]:
    return [a for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]]


def _executions(sfn: Any, arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
    return [e for page in pages for e in page["executions"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, required=True)
    parser.add_argument("--fault-rate", type=float, required=True, help="chance of a fault per AWS call attempt")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-resumes", type=int, default=10, help="per team, before the operator gives up")
    parser.add_argument("--timeout", type=float, default=900.0, help="wall-time bound in seconds")
    parser.add_argument("--creation-seconds", type=float, default=1.0, help="how long one CreateAccount takes")
    parser.add_argument("--slow-seconds", type=float, default=0.5, help="how late a `slow` fault answers")
    parser.add_argument("--heartbeat-seconds", type=int, default=20, help="CheckPipelines' HeartbeatSeconds")
    parser.add_argument("--fault-log", help="one JSON line per injected fault (default .vend/chaos-<seed>.log)")
    parser.add_argument("--retire-every", type=int, default=2, help="day 2: decommission every N-th team (0: none)")
    parser.add_argument("--no-day2", action="store_true", help="vend only: no changes, retirements or closures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.teams < 1 or not 0.0 <= args.fault_rate <= 1.0 or args.max_resumes < 0:
        parser.error("--teams must be >= 1, --fault-rate within [0, 1], --max-resumes >= 0")
    log_file = args.fault_log or str(Path(__file__).resolve().parent.parent / ".vend" / f"chaos-{args.seed}.log")
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    Path(log_file).write_text("", encoding="utf-8")
    result = run(
        args.teams,
        args.fault_rate,
        args.seed,
        max_resumes=args.max_resumes,
        timeout=args.timeout,
        creation_seconds=args.creation_seconds,
        slow_seconds=args.slow_seconds,
        log_file=log_file,
        heartbeat_seconds=args.heartbeat_seconds,
        retire_every=args.retire_every,
        day2=not args.no_day2,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>34}: {value}")
    closed = result["day2"]["closed"] if result["day2"] else 0  # retired on day 2: CLOSED, no longer READY
    ok = result["teams_ready"] + closed == args.teams and result["accounts_created"] == args.teams
    authorized = result["authorization"]["denials"] == 0 and result["authorization"]["errors"] == 0
    day2_ok = result["day2"] is None or (result["day2"]["problems"] == [] and not result["day2"]["lifecycle_running"])
    return 0 if ok and authorized and day2_ok and result["orphan_count"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
