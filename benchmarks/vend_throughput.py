"""Vending throughput at Organizations' own pace: N teams through the real state machine on the emulator.

    python benchmarks/vend_throughput.py --teams 50 --creation-seconds 10 [--json]

Account creation takes `--creation-seconds` and at most 5 creations may be in progress (both enforced by the
emulator layer: landing_zone.local.organizations.slow_account_creation, which refuses a 6th CreateAccount with
TooManyRequestsException and counts the most ever in flight). Pipelines are left out on purpose: each stack's run is
recorded SUCCEEDED at launch without Terraform (`pipelines: "skipped"` in the output), so request -> READY measures
the vending itself: validation, the creation limiter, Organizations, guardrails, bootstrap and the callback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Before the handlers are imported: their loggers read the level once, and --json must print nothing but JSON.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import boto3

from landing_zone.local.organizations import slow_account_creation
from landing_zone.local.runtime import Emulator, deploy
from vending.lifecycle import RequestStore, Status
from vending.pipeline import orchestration
from vending.request import VendingRequest, parse_request
from vending.settings import Settings
from vending.workflow import WorkflowSettings, execution_input


def skip_pipelines() -> None:
    """Each run is recorded SUCCEEDED at launch (no Terraform), and the waiting task settled as a worker would."""

    def launch(self: Any, run_id: str) -> None:
        session = boto3.Session()
        store = orchestration.RunStore(session.client("dynamodb"), self._runs_table)
        run = store.get(run_id)
        assert run is not None
        skipped = {"status": orchestration.RunStatus.SUCCEEDED, "message": "benchmark: pipeline skipped"}
        store.put(run.model_copy(update=skipped))
        orchestration.settle(store, session.client("stepfunctions"), run.request_id)

    orchestration.LocalThreadLauncher.launch = launch  # type: ignore[method-assign]


def request(i: int) -> VendingRequest:
    return parse_request(
        {
            "team": f"bench-{i:03d}",
            "stage": "staging",
            "owner_email": f"bench-{i:03d}@example.com",
            "cost_center": "CC-9000",
            "gpu_tier": "none",
            "regions": ["us-east-1"],
            "stacks": ["bootstrap"],
            "repository": "example/bench",
        }
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))], 2)


def run(teams: int, creation_seconds: float, timeout: float) -> dict[str, Any]:
    with Emulator() as _emulator, slow_account_creation(creation_seconds) as quota:
        deployment = deploy()
        skip_pipelines()
        sfn = boto3.client("stepfunctions")
        store = RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table)
        fast = WorkflowSettings.model_validate(json.loads(os.environ["VEND_WORKFLOW_SETTINGS"]))
        started = time.monotonic()
        arns = []
        for i in range(teams):
            req = request(i)
            name = f"vend-{req.request_id}-a1"
            arns.append(
                sfn.start_execution(
                    stateMachineArn=deployment.state_machine_arn,
                    name=name,
                    input=json.dumps(execution_input(req, name, fast)),
                )["executionArn"]
            )
        pending = set(arns)
        while pending and time.monotonic() - started < timeout:
            for arn in list(pending):
                if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                    pending.discard(arn)
            time.sleep(1.0)
        wall = time.monotonic() - started
        statuses, transitions, to_ready = {}, [], []
        for i, arn in enumerate(arns):
            status = sfn.describe_execution(executionArn=arn)["status"]
            statuses[status] = statuses.get(status, 0) + 1
            events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            transitions.append(sum(1 for e in events if e["type"].endswith("StateEntered")))
            record = store.get(request(i).request_id)
            if record and record.status == Status.READY:
                stamps = {t.status: datetime.fromisoformat(t.at) for t in record.history}
                to_ready.append((stamps[Status.READY] - stamps[Status.PENDING]).total_seconds())
        ready = len(to_ready)
        ceiling = 5 * 60 / creation_seconds if creation_seconds else None
        return {
            "teams": teams,
            "creation_seconds": creation_seconds,
            "pipelines": "skipped (each run recorded SUCCEEDED at launch; no Terraform)",
            "executions": statuses,
            "ready": ready,
            "wall_seconds": round(wall, 2),
            "teams_per_minute": round(ready / wall * 60, 2) if wall else 0.0,
            "quota_ceiling_teams_per_minute": round(ceiling, 2) if ceiling else None,
            "max_creations_in_flight": quota.peak_in_flight,
            "quota_refusals": quota.rejected,
            "transitions_per_vend": {
                "mean": round(statistics.mean(transitions), 1),
                "max": max(transitions),
                "min": min(transitions),
            },
            "request_to_ready_seconds": {"p50": percentile(to_ready, 0.5), "p95": percentile(to_ready, 0.95)}
            if to_ready
            else {},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, required=True, help="how many teams to vend at once")
    parser.add_argument("--creation-seconds", type=float, required=True, help="how long one CreateAccount takes")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.teams < 1 or args.creation_seconds < 0:
        parser.error("--teams must be >= 1 and --creation-seconds >= 0")
    result = run(args.teams, args.creation_seconds, args.timeout)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
    return 0 if result["ready"] == args.teams and result["max_creations_in_flight"] <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
