"""Vending throughput at Organizations' own pace: N teams through the real state machine on the emulator.

    python benchmarks/vend_throughput.py --teams 50 --creation-seconds 10 [--json]
    python benchmarks/vend_throughput.py --teams 7 --creation-seconds 3 --plant-sixth-creation   # negative control

Account creation takes `--creation-seconds` (printed with the figures: throughput depends on it) and AWS allows at
most 5 creations in progress: the emulator layer (landing_zone.local.organizations.slow_account_creation) refuses a
6th CreateAccount with TooManyRequestsException as AWS does, and counts the most ever in flight and its refusals.
The product must never ask for a 6th: its own limiter (vending.accounts.CreationSlots, one lease per creation) is
sampled while the run goes, and the run FAILS (exit 1, `verdict` names why) when
  - the emulator refused any CreateAccount (quota_refusals > 0: the product asked for a 6th),
  - more than 5 creations were ever in flight, by the emulator's count or by the product's own leases,
  - a vend did not reach READY, or took a path other than the happy path: 15 states entered, plus 3 per status
    poll of the account (WaitForAccount, CheckAccountStatus, AccountReady?) and 3 per pipeline wait; one poll
    is the 19 transitions per vend of the demo.
`--plant-sixth-creation` gives the product's limiter a 6th slot: the run must then fail (the negative control).
Pipelines are left out on purpose: each stack's run is recorded SUCCEEDED at launch without Terraform
(`pipelines: "skipped"` in the output), so request -> READY measures the vending itself: validation, the creation
limiter, Organizations, guardrails, bootstrap and the callback.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Before the handlers are imported: their loggers read the level once, and --json must print nothing but JSON.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import boto3

from landing_zone.local.execution_history import whole_history
from landing_zone.local.organizations import slow_account_creation
from landing_zone.local.runtime import Emulator, deploy
from vending import accounts
from vending.aws.dynamo import unmarshal
from vending.lifecycle import RequestStore, Status
from vending.pipeline import orchestration
from vending.request import VendingRequest, parse_request
from vending.settings import Settings
from vending.workflow import WorkflowSettings, execution_input


def skipped_launch(self: Any, run_id: str) -> None:
    """LocalThreadLauncher.launch without Terraform: the run is recorded SUCCEEDED at launch, and the waiting task
    settled as a worker would."""
    session = boto3.Session()
    store = orchestration.RunStore(session.client("dynamodb"), self._runs_table)
    run = store.get(run_id)
    assert run is not None
    skipped = {"status": orchestration.RunStatus.SUCCEEDED, "message": "benchmark: pipeline skipped"}
    store.put(run.model_copy(update=skipped))
    orchestration.settle(store, session.client("stepfunctions"), run.request_id)


def skip_pipelines() -> None:
    """Every pipeline run of this process is skipped (skipped_launch)."""
    orchestration.LocalThreadLauncher.launch = skipped_launch  # type: ignore[method-assign]


MAX_CREATIONS_IN_FLIGHT = (
    5  # AWS's quota: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
)
# The states a vend that goes straight to READY enters once each, and the loops it may repeat.
HAPPY_PATH = (
    "Validate",
    "Reserve",
    "AlreadyReady?",
    "CreateAccount",
    "AccountReady?",
    "PlaceInOu",
    "TagAccount",
    "ApplyGuardrails",
    "Bootstrap",
    "RequestQuotas",
    "StartPipelines",
    "CheckPipelines",
    "PipelinesDone?",
    "RecordReady",
    "NotifyReady",
    "Done",
)
ACCOUNT_POLL = ("WaitForAccount", "CheckAccountStatus", "AccountReady?")
PIPELINE_WAIT = ("WaitForApproval", "CheckPipelines", "PipelinesDone?")


def path_problem(entered: list[str]) -> str | None:
    """Why `entered` (the states a READY vend entered, in order) is not the happy path, or None when it is."""
    polls, waits = entered.count("WaitForAccount"), entered.count("WaitForApproval")
    expected = (
        Counter(HAPPY_PATH) + Counter({s: polls for s in ACCOUNT_POLL}) + Counter({s: waits for s in PIPELINE_WAIT})
    )
    if Counter(entered) != expected:
        extra, missing = Counter(entered) - expected, expected - Counter(entered)
        return f"states entered off the happy path: extra {dict(extra)}, missing {dict(missing)}"
    if len(entered) != len(HAPPY_PATH) + 3 * polls + 3 * waits:
        return f"{len(entered)} transitions, expected {len(HAPPY_PATH)} + 3 x {polls} polls + 3 x {waits} waits"
    return None


class LeaseSampler:
    """The product's own count of creations in flight: the leases held in its CreationSlots table, sampled."""

    def __init__(self, table: str, interval: float = 0.1) -> None:
        self._ddb, self._table, self._interval = boto3.client("dynamodb"), table, interval
        self.peak, self.samples = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def held(self) -> int:
        now = int(time.time())
        items = self._ddb.scan(TableName=self._table, ConsistentRead=True)["Items"]
        return sum(1 for item in items if int(unmarshal(item).get("expires_at", 0)) > now)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak, self.samples = max(self.peak, self.held()), self.samples + 1
            self._stop.wait(self._interval)

    def __enter__(self) -> LeaseSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def plant_sixth_creation() -> None:
    """The negative control: the product's limiter hands out a 6th slot, so it asks Organizations for a 6th."""
    original = accounts.CreationSlots.__init__

    def six_slots(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.size = MAX_CREATIONS_IN_FLIGHT + 1

    accounts.CreationSlots.__init__ = six_slots  # type: ignore[method-assign]


def verdict(result: dict[str, Any]) -> list[str]:
    """Each reason the run fails; empty when every vend reached READY the way the product promises."""
    problems = []
    if result["ready"] != result["teams"]:
        problems.append(f"{result['teams'] - result['ready']} of {result['teams']} vends did not reach READY")
    if result["quota_refusals"]:
        problems.append(f"Organizations refused {result['quota_refusals']} CreateAccount (the product asked for a 6th)")
    for who in ("max_creations_in_flight", "product_max_creation_leases"):
        if result[who] > MAX_CREATIONS_IN_FLIGHT:
            problems.append(f"{who} = {result[who]} > {MAX_CREATIONS_IN_FLIGHT}")
    problems += [f"{team}: {why}" for team, why in result["path_problems"].items()]
    return problems


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


def run(teams: int, creation_seconds: float, timeout: float, plant_sixth: bool = False) -> dict[str, Any]:
    with Emulator() as _emulator, slow_account_creation(creation_seconds, MAX_CREATIONS_IN_FLIGHT) as quota:
        deployment = deploy()
        skip_pipelines()
        if plant_sixth:
            plant_sixth_creation()
        sfn = boto3.client("stepfunctions")
        settings = Settings.from_env()
        store = RequestStore(boto3.client("dynamodb"), settings.requests_table)
        leases = LeaseSampler(settings.creation_slots_table).__enter__()
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
        leases.__exit__()
        statuses: dict[str, int] = {}
        transitions, to_ready, off_path = [], [], {}
        for i, arn in enumerate(arns):
            status = sfn.describe_execution(executionArn=arn)["status"]
            statuses[status] = statuses.get(status, 0) + 1
            events = whole_history(sfn, arn)
            entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
            transitions.append(len(entered))
            record = store.get(request(i).request_id)
            if record and record.status == Status.READY:
                stamps = {t.status: datetime.fromisoformat(t.at) for t in record.history}
                to_ready.append((stamps[Status.READY] - stamps[Status.PENDING]).total_seconds())
                if problem := path_problem(entered):
                    off_path[request(i).team] = problem
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
            "product_max_creation_leases": leases.peak,
            "product_lease_samples": leases.samples,
            "quota_refusals": quota.rejected,
            "planted_sixth_creation": plant_sixth,
            "transitions_per_vend": {
                "mean": round(statistics.mean(transitions), 1),
                "max": max(transitions),
                "min": min(transitions),
                "with_one_status_poll": len(HAPPY_PATH) + len(ACCOUNT_POLL),
            },
            "path_problems": off_path,
            "request_to_ready_seconds": {"p50": percentile(to_ready, 0.5), "p95": percentile(to_ready, 0.95)}
            if to_ready
            else {},
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, required=True, help="how many teams to vend at once")
    parser.add_argument("--creation-seconds", type=float, required=True, help="how long one CreateAccount takes")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--plant-sixth-creation", action="store_true", help="negative control: the run must fail")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.teams < 1 or args.creation_seconds < 0:
        parser.error("--teams must be >= 1 and --creation-seconds >= 0")
    result = run(args.teams, args.creation_seconds, args.timeout, args.plant_sixth_creation)
    result["verdict"] = verdict(result) or "pass"
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
    return 0 if result["verdict"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
