"""Runtime faults on a whole vend: a Lambda killed at its timeout mid-step, a pipeline worker that dies, an execution
stopped from outside. Each ends READY with one account and nothing orphaned, resumed (if at all) as an operator
would (`vend request resume` = vending.service.submit_request)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from landing_zone.local import faults, orphans, runtime
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.pipeline import orchestration
from vending.request import VendingRequest
from vending.service import Outcome, submit_request
from vending.settings import Settings

HEARTBEAT_SECONDS = 4  # CheckPipelines' HeartbeatSeconds, and the lease after which a silent run is lost


@pytest.fixture(scope="module")
def service() -> Iterator[dict[str, Any]]:
    from benchmarks.vend_throughput import skip_pipelines

    patch = pytest.MonkeyPatch()
    patch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    settings = {**runtime.FAST_WORKFLOW, "pipeline_heartbeat_seconds": HEARTBEAT_SECONDS}
    patch.setenv("VEND_WORKFLOW_SETTINGS", json.dumps(settings))
    patch.setattr(orchestration.LocalThreadLauncher, "launch", orchestration.LocalThreadLauncher.launch)
    try:
        with runtime.Emulator():
            deployment = runtime.deploy()
            skip_pipelines()
            yield {
                "arn": deployment.state_machine_arn,
                "sfn": boto3.client("stepfunctions"),
                "org": boto3.client("organizations"),
                "store": RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table),
                "runs": orchestration.RunStore(boto3.client("dynamodb"), Settings.from_env().pipeline_runs_table),
            }
    finally:
        patch.undo()


def _request(team: str) -> VendingRequest:
    from benchmarks.vend_throughput import request

    return request(0).model_copy(update={"team": team, "owner_email": f"{team}@example.com"})


def _vend(service: dict[str, Any], req: VendingRequest, *, max_resumes: int = 3) -> tuple[RequestRecord, list[str]]:
    """Submit, then resume what ends without READY, as an operator would; the final record and each ended status."""
    sfn, store = service["sfn"], service["store"]
    arn = submit_request(sfn, store, service["arn"], req).execution_arn
    ended: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status == "RUNNING":
            continue
        record = store.get(req.request_id)
        if record is not None and record.status == Status.READY and status == "SUCCEEDED":
            return record, ended
        ended.append(status)
        assert len(ended) <= max_resumes, (ended, record)
        result = submit_request(sfn, store, service["arn"], req)
        assert result.outcome == Outcome.RESUMED, result
        arn = result.execution_arn
    raise AssertionError(f"{req.request_id} not READY in time: {store.get(req.request_id)}")


def _nothing_orphaned(service: dict[str, Any], record: RequestRecord) -> None:
    email = cached_layout().account_email(record.team, record.stage)
    accounts = [a for p in service["org"].get_paginator("list_accounts").paginate() for a in p["Accounts"]]
    assert [a["Id"] for a in accounts if a["Email"] == email] == [record.account_id]
    report = orphans.orphan_report(
        {record.request_id: record},
        sts=boto3.client("sts"),
        org=service["org"],
        access_role_name=cached_layout().organization.access_role_name,
    )
    assert report["count"] == 0, report


def _rule(**rule: Any) -> faults.FaultConfig:
    return faults.FaultConfig.model_validate({"seed": 15, "rules": [{"rate": 1.0, "limit": 1, **rule}]})


@pytest.mark.parametrize(
    ("function", "cut", "detail"),
    [
        ("Reserve", 1, "answer lost"),  # the reservation was written, its answer never came
        ("CreateAccount", 1, "cut off before"),
        ("CreateAccount", 3, "cut off before"),
        ("Bootstrap", 2, "cut off before"),  # after CreateKey, before EnableKeyRotation and CreateAlias
        ("Bootstrap", 9, "cut off before"),
        ("StartPipelines", 2, "cut off before"),
        ("RecordReady", 1, "cut off before"),
    ],
)
def test_runtime_faults_lambda_killed_at_its_timeout_is_retried_to_one_result(
    service: dict[str, Any], function: str, cut: int, detail: str
) -> None:
    # GIVEN the first invocation of `function` is killed at its timeout after `cut` of its AWS calls took effect
    req = _request(f"tmo-{function.lower()[:8]}-{cut}")
    with faults.injecting(_rule(**{"lambda": function}, faults=["timeout"], cut_after_calls=cut)) as injector:
        # WHEN the team is vended
        record, ended = _vend(service, req)
    # THEN Step Functions saw Sandbox.Timedout, retried the step (no resume) and the partial effect converged
    assert injector is not None
    [hit] = [r for r in injector.records if r.fault == "timeout"]
    assert hit.operation == function and hit.detail.startswith(detail), hit
    assert ended == []
    _nothing_orphaned(service, record)


def test_runtime_faults_worker_dies_run_is_lost_at_the_heartbeat_and_relaunched_on_resume(
    service: dict[str, Any],
) -> None:
    # GIVEN the pipeline worker of the team's first run dies right after marking its run RUNNING
    req = _request("worker-dies")
    with faults.injecting(_rule(worker="*", faults=["dies"])) as injector:
        # WHEN the team is vended, and resumed by the operator when the execution fails
        record, ended = _vend(service, req)
    # THEN the heartbeat ended the lost wait (FAILED at CheckPipelines), the resume relaunched the run as attempt 2
    assert injector is not None and [(r.target, r.fault) for r in injector.records] == [("worker", "dies")]
    assert ended == ["FAILED"]
    runs = service["runs"].runs_of(req.request_id, list(req.stacks))
    assert {s: (r.status, r.attempt) for s, r in runs.items() if r} == {
        s: (orchestration.RunStatus.SUCCEEDED, 2) for s in req.stacks
    }
    history = [t.step for t in record.history]
    assert "RecordFailed" in history
    _nothing_orphaned(service, record)


def test_runtime_faults_execution_stopped_after_bootstrap_is_resumed_without_duplicates(
    service: dict[str, Any],
) -> None:
    # GIVEN an operator stops the execution right after Bootstrap did its work, before StartPipelines
    req = _request("stopped-ext")
    with faults.injecting(_rule(**{"lambda": "Bootstrap"}, faults=["stop_execution"])) as injector:
        # WHEN the team is vended and the operator resumes the request left BOOTSTRAPPING under an ABORTED execution
        record, ended = _vend(service, req)
    # THEN the stop is logged with the execution it hit, one resume finishes the job, nothing is made twice
    assert injector is not None
    [hit] = injector.records
    assert (hit.operation, hit.fault) == ("Bootstrap", "stop_execution") and ":execution:" in hit.detail
    assert ended == ["ABORTED"]
    assert record.attempts == 2
    _nothing_orphaned(service, record)


def test_runtime_faults_onboarding_event_whose_start_from_event_crashed_is_delivered_again(
    service: dict[str, Any],
) -> None:
    # GIVEN the first StartFromEvent invocation crashes (moto never polled the queue again: the event was lost)
    from vending.onboarding import onboarding_entry

    req = _request("event-crash")
    with faults.injecting(_rule(**{"lambda": "StartFromEvent"}, faults=["crash"])) as injector:
        # WHEN the onboarding event is sent
        sent = boto3.client("events").put_events(Entries=[onboarding_entry(req.model_dump(mode="json"))])
        assert sent["FailedEntryCount"] == 0
        deadline, record = time.monotonic() + 60, None
        while time.monotonic() < deadline and (record is None or record.status != Status.READY):
            time.sleep(0.5)
            record = service["store"].get(req.request_id)
    # THEN the queue delivered it again, as Lambda's poller does, and the team was vended once
    assert injector is not None and [(r.operation, r.fault) for r in injector.records] == [("StartFromEvent", "crash")]
    assert record is not None and record.status == Status.READY, record
    _nothing_orphaned(service, record)
