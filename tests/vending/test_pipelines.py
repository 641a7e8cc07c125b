"""vending.pipeline.orchestration: one run per stack, kept or relaunched by status; the task token is completed
by whoever sees the runs end (CheckPipelines itself, the last worker, or the CodeBuild rule)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from vending.exceptions import PipelineFailed
from vending.pipeline.orchestration import (
    CodeBuildLauncher,
    PipelineRun,
    RunStatus,
    RunStore,
    check_pipelines,
    destroy_preview,
    heartbeat,
    on_build_finished,
    settle,
    start_destroys,
    start_pipelines,
)
from vending.request import VendingRequest

ACCOUNT = "111122223333"


class FakeLauncher:
    def __init__(self) -> None:
        self.launched: list[str] = []

    def launch(self, run_id: str) -> None:
        self.launched.append(run_id)


@pytest.fixture
def launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def three_stacks(make_request: Callable[..., VendingRequest]) -> VendingRequest:
    return make_request(stacks=["networking", "eks", "bootstrap"])


def _start(
    run_store: RunStore, launcher: FakeLauncher, request: VendingRequest, account_id: str = ACCOUNT
) -> dict[str, str]:
    return start_pipelines(
        run_store,
        launcher,
        request,
        account_id=account_id,
        state_bucket=f"tfstate-{account_id}-us-east-1",
        state_region="us-east-1",
        access_role_name="OrganizationAccountAccessRole",
    )


def _set(run_store: RunStore, run_id: str, status: str, message: str = "") -> None:
    run = run_store.get(run_id)
    assert run is not None
    run_store.put(run.model_copy(update={"status": status, "message": message}))


def test_start_pipelines_one_run_per_stack(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN a request for three stacks and no runs yet
    # WHEN the pipelines start
    started = _start(run_store, launcher, three_stacks)
    # THEN one QUEUED run per stack is written and launched, bootstrap first
    assert started == {"bootstrap": "QUEUED", "networking": "QUEUED", "eks": "QUEUED"}
    assert launcher.launched == [
        "team-mlops-staging/bootstrap",
        "team-mlops-staging/networking",
        "team-mlops-staging/eks",
    ]
    run = run_store.get("team-mlops-staging/networking")
    assert run is not None
    assert (run.stack_path, run.account_id, run.state_bucket, run.gate, run.attempt) == (
        "team-mlops/staging/networking",
        ACCOUNT,
        f"tfstate-{ACCOUNT}-us-east-1",
        "auto",
        1,
    )
    assert run.variables == {
        "account_id": ACCOUNT,
        "team": "team-mlops",
        "stage": "staging",
        "cost_center": "CC-1003",
        "gpu_tier": "training",
        "regions": ["us-east-1", "us-west-2"],
    }


def test_start_pipelines_production_is_gated(
    run_store: RunStore, launcher: FakeLauncher, make_request: Callable[..., VendingRequest]
) -> None:
    # GIVEN a production request
    # WHEN the pipelines start
    _start(run_store, launcher, make_request(stage="production"))
    # THEN its run waits for a manual approval
    run = run_store.get("team-mlops-production/bootstrap")
    assert run is not None and run.gate == "manual"


def test_start_pipelines_skips_succeeded_and_relaunches_failed(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN an earlier attempt where bootstrap succeeded, networking failed and eks is still running
    _start(run_store, launcher, three_stacks)
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    _set(run_store, "team-mlops-staging/networking", "FAILED", "apply: quota")
    _set(run_store, "team-mlops-staging/eks", "RUNNING")
    launcher.launched.clear()
    # WHEN the pipelines start again for the same account (a resumed request)
    started = _start(run_store, launcher, three_stacks)
    # THEN only the failed stack is relaunched, as attempt 2; the others are kept
    assert launcher.launched == ["team-mlops-staging/networking"]
    assert started == {"bootstrap": "SUCCEEDED", "networking": "QUEUED", "eks": "RUNNING"}
    relaunched = run_store.get("team-mlops-staging/networking")
    assert relaunched is not None
    assert (relaunched.attempt, relaunched.status, relaunched.message) == (2, "QUEUED", "")


def test_start_pipelines_reruns_applied_stacks_whose_variables_changed(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN every stack applied (bootstrap and networking SUCCEEDED, eks awaiting approval) for tier none
    _start(run_store, launcher, three_stacks)
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    _set(run_store, "team-mlops-staging/networking", "SUCCEEDED")
    _set(run_store, "team-mlops-staging/eks", "AWAITING_APPROVAL")
    launcher.launched.clear()
    # WHEN the pipelines start again with the same intent THEN nothing runs
    assert _start(run_store, launcher, three_stacks)["bootstrap"] == "SUCCEEDED" and launcher.launched == []
    # WHEN a change moved the GPU tier and the regions
    changed = three_stacks.model_copy(update={"gpu_tier": "inference", "regions": ("us-east-1", "eu-west-1")})
    started = _start(run_store, launcher, changed)
    # THEN every stack runs again, as the next attempt, with the new variables
    assert started == {"bootstrap": "QUEUED", "networking": "QUEUED", "eks": "QUEUED"}
    assert sorted(launcher.launched) == sorted(f"team-mlops-staging/{s}" for s in ("bootstrap", "networking", "eks"))
    run = run_store.get("team-mlops-staging/networking")
    assert run is not None and run.attempt == 2
    assert (run.variables["gpu_tier"], run.variables["regions"]) == ("inference", ["us-east-1", "eu-west-1"])


def test_start_pipelines_keeps_a_running_stack_even_if_variables_changed(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a run still going with the old variables (its worker owns it until it records an outcome)
    _start(run_store, launcher, request_)
    _set(run_store, "team-mlops-staging/bootstrap", "RUNNING")
    launcher.launched.clear()
    # WHEN the pipelines start with new variables THEN it is not launched twice
    assert _start(run_store, launcher, request_.model_copy(update={"regions": ("us-west-2",)})) == {
        "bootstrap": "RUNNING"
    }
    assert launcher.launched == []


def test_start_destroys_only_applied_stacks_and_a_readded_stack_applies_afresh(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN networking applied, eks never run
    start_pipelines(
        run_store,
        launcher,
        three_stacks.model_copy(update={"stacks": ("networking",)}),
        account_id=ACCOUNT,
        state_bucket="b",
        state_region="us-east-1",
        access_role_name="OrganizationAccountAccessRole",
    )
    _set(run_store, "team-mlops-staging/networking", "SUCCEEDED")
    launcher.launched.clear()
    where: dict[str, Any] = {
        "account_id": ACCOUNT,
        "state_bucket": "b",
        "state_region": "us-east-1",
        "access_role_name": "OrganizationAccountAccessRole",
    }
    # WHEN both are destroyed THEN only networking runs (eks has nothing in the state bucket)
    assert start_destroys(run_store, launcher, three_stacks, ["networking", "eks"], **where) == {"networking": "QUEUED"}
    assert launcher.launched == ["team-mlops-staging/networking"]
    _set(run_store, "team-mlops-staging/networking", "SUCCEEDED")
    # WHEN the destroy step is retried THEN the finished destroy is kept
    assert start_destroys(run_store, launcher, three_stacks, ["networking"], **where) == {"networking": "SUCCEEDED"}
    assert launcher.launched == ["team-mlops-staging/networking"]
    # WHEN networking is asked for again later THEN it is applied afresh, not taken for applied
    launcher.launched.clear()
    started = start_pipelines(run_store, launcher, three_stacks.model_copy(update={"stacks": ("networking",)}), **where)
    run = run_store.get("team-mlops-staging/networking")
    assert started == {"networking": "QUEUED"} and run is not None and (run.action, run.attempt) == ("apply", 3)


def test_check_pipelines_awaits_the_given_stacks_and_returns_them(
    run_store: RunStore, request_: VendingRequest
) -> None:
    # GIVEN bootstrap applied and a destroyed networking, both SUCCEEDED
    for stack, action in (("bootstrap", "apply"), ("networking", "destroy")):
        run_store.put(
            PipelineRun(
                run_id=f"team-mlops-staging/{stack}",
                request_id="team-mlops-staging",
                stack=stack,
                stack_path=f"team-mlops/staging/{stack}",
                account_id=ACCOUNT,
                state_bucket="b",
                state_region="us-east-1",
                access_role_name="r",
                variables={},
                gate="auto",
                action=action,
                status="SUCCEEDED",
            )
        )
    sfn = FakeStepFunctions()
    # WHEN CheckPipelines awaits both (the change's list)
    outcome = check_pipelines(
        run_store, sfn, request_, task_token="t", polls=0, max_polls=3, stacks=["bootstrap", "networking"]
    )
    # THEN it is done, and the output carries the list for the workflow's approval loop
    assert outcome == "done"
    sent = json.loads(sfn.calls[0][1]["output"])
    assert sent["stacks"] == ["bootstrap", "networking"] and set(sent["runs"]) == {"bootstrap", "networking"}


def test_destroy_preview_lists_the_managed_resources_in_the_state(aws: None) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="tfstate")
    state = {
        "resources": [
            {"mode": "managed", "type": "aws_vpc", "name": "this", "module": "module.net", "instances": [{}]},
            {
                "mode": "managed",
                "type": "aws_subnet",
                "name": "private",
                "instances": [{"index_key": 0}, {"index_key": 1}],
            },
            {"mode": "data", "type": "aws_region", "name": "current", "instances": [{}]},
        ]
    }
    s3.put_object(Bucket="tfstate", Key="team-a/staging/net/terraform.tfstate", Body=json.dumps(state).encode())
    assert destroy_preview(s3, "tfstate", "team-a/staging/net") == {
        "state": "s3://tfstate/team-a/staging/net/terraform.tfstate",
        "destroy": 3,
        "resources": ["aws_subnet.private[0]", "aws_subnet.private[1]", "module.net.aws_vpc.this"],
    }
    assert destroy_preview(s3, "tfstate", "team-a/staging/none")["destroy"] == 0


def test_start_pipelines_other_account_relaunches(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a succeeded run that belongs to another account
    _start(run_store, launcher, request_, account_id="999988887777")
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    launcher.launched.clear()
    # WHEN the pipelines start for this account
    _start(run_store, launcher, request_)
    # THEN the stack runs again against this account
    run = run_store.get("team-mlops-staging/bootstrap")
    assert launcher.launched == ["team-mlops-staging/bootstrap"]
    assert run is not None and (run.account_id, run.attempt) == (ACCOUNT, 2)


class FakeStepFunctions:
    """Records task-token calls; `stale` tokens answer like Step Functions does for a completed task."""

    def __init__(self, stale: set[str] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stale = stale or set()

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        if kwargs["taskToken"] in self.stale:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "done"}}, name)
        self.calls.append((name, kwargs))

    def send_task_success(self, **kwargs: Any) -> None:
        self._record("success", kwargs)

    def send_task_failure(self, **kwargs: Any) -> None:
        self._record("failure", kwargs)

    def send_task_heartbeat(self, **kwargs: Any) -> None:
        self._record("heartbeat", kwargs)


def _check(
    run_store: RunStore,
    sfn: FakeStepFunctions,
    request: VendingRequest,
    token: str = "tok-1",  # noqa: S107
    polls: int = 0,
    max_polls: int = 240,
    **kwargs: Any,
) -> str:
    return check_pipelines(run_store, sfn, request, task_token=token, polls=polls, max_polls=max_polls, **kwargs)


def test_check_pipelines_done_completes_the_token_at_once(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN every run already succeeded (a resumed request whose stacks were applied)
    _start(run_store, launcher, three_stacks)
    for stack in three_stacks.stacks:
        _set(run_store, f"team-mlops-staging/{stack}", "SUCCEEDED", "applied")
    sfn = FakeStepFunctions()
    # WHEN CheckPipelines arrives with its task token
    outcome = _check(run_store, sfn, three_stacks, polls=4)
    # THEN it completes its own token with the runs, without waiting for any worker
    assert outcome == "done"
    assert [name for name, _ in sfn.calls] == ["success"]
    output = json.loads(sfn.calls[0][1]["output"])
    assert output == {
        "done": True,
        "polls": 5,
        "awaiting_approval": [],
        "runs": {s: {"status": "SUCCEEDED", "message": "applied"} for s in three_stacks.stacks},
        "stacks": list(three_stacks.stacks),
    }


def test_check_pipelines_running_stores_token_and_waits(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN one run still running
    _start(run_store, launcher, three_stacks)
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    _set(run_store, "team-mlops-staging/eks", "RUNNING")
    sfn = FakeStepFunctions()
    # WHEN CheckPipelines arrives
    outcome = _check(run_store, sfn, three_stacks, heartbeat_seconds=60)
    # THEN nothing is completed yet, and the token is stored with the runs for the workers
    assert outcome == "running" and sfn.calls == []
    callback = run_store.get_callback(three_stacks.request_id)
    assert callback is not None
    assert (callback.task_token, callback.stacks, callback.polls, callback.heartbeat_seconds) == (
        "tok-1",
        list(three_stacks.stacks),
        1,
        60,
    )


def test_settle_the_last_worker_completes_the_token(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN a waiting CheckPipelines and runs finishing one by one
    _start(run_store, launcher, three_stacks)
    sfn = FakeStepFunctions()
    _check(run_store, sfn, three_stacks)
    outcomes = []
    for stack in ("bootstrap", "networking", "eks"):
        _set(run_store, f"team-mlops-staging/{stack}", "SUCCEEDED", "applied")
        # WHEN each worker settles after recording its run
        outcomes.append(settle(run_store, sfn, three_stacks.request_id))
    # THEN only the last one completes the token, once
    assert outcomes == ["running", "running", "done"]
    assert [name for name, _ in sfn.calls] == ["success"]
    assert sfn.calls[0][1]["taskToken"] == "tok-1"


def test_settle_failed_run_fails_the_token_with_a_named_error(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN a waiting CheckPipelines and the networking run failing while eks still runs
    _start(run_store, launcher, three_stacks)
    sfn = FakeStepFunctions()
    _check(run_store, sfn, three_stacks)
    _set(run_store, "team-mlops-staging/networking", "FAILED", "plan: checkov CKV_AWS_130 failed")
    # WHEN its worker settles
    outcome = settle(run_store, sfn, three_stacks.request_id)
    # THEN the task fails at once with PipelineFailed (the ASL's Catch -> RecordFailed), naming stack and message
    assert outcome == "failed"
    name, call = sfn.calls[0]
    assert (name, call["error"]) == ("failure", "PipelineFailed")
    assert "networking: plan: checkov CKV_AWS_130 failed" in call["cause"]


def test_settle_without_a_waiting_task_does_nothing(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a run that finished before CheckPipelines stored a token
    _start(run_store, launcher, request_)
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    sfn = FakeStepFunctions()
    # WHEN its worker settles, THEN nothing is sent (CheckPipelines will settle itself when it arrives)
    assert settle(run_store, sfn, request_.request_id) == "no_callback"
    assert sfn.calls == []
    assert _check(run_store, sfn, request_) == "done"


def test_settle_stale_token_is_ignored(run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest) -> None:
    # GIVEN a token Step Functions already considers done (a duplicate settle, or an ended execution)
    _start(run_store, launcher, request_)
    sfn = FakeStepFunctions(stale={"tok-1"})
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    # WHEN it is completed again, THEN no error escapes
    assert _check(run_store, sfn, request_) == "done"


def test_check_pipelines_missing_run_fails(run_store: RunStore, request_: VendingRequest) -> None:
    # GIVEN no run record at all
    sfn = FakeStepFunctions()
    # WHEN CheckPipelines arrives, THEN the task fails saying so
    assert _check(run_store, sfn, request_) == "failed"
    assert "bootstrap: run record missing" in sfn.calls[0][1]["cause"]


def test_check_pipelines_approval_cap(
    run_store: RunStore, launcher: FakeLauncher, make_request: Callable[..., VendingRequest]
) -> None:
    # GIVEN a production run still awaiting approval at the last allowed check
    request = make_request(stage="production")
    _start(run_store, launcher, request)
    _set(run_store, f"{request.request_id}/bootstrap", "AWAITING_APPROVAL")
    # WHEN checked, THEN the step fails naming the stack
    with pytest.raises(PipelineFailed, match=r"awaiting approval after 10 checks: bootstrap \(AWAITING_APPROVAL\)"):
        _check(run_store, FakeStepFunctions(), request, polls=9, max_polls=10)


def test_on_build_finished_fails_a_run_whose_build_died(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a waiting CheckPipelines and a run its CodeBuild build never finished recording
    _start(run_store, launcher, request_)
    _set(run_store, "team-mlops-staging/bootstrap", "RUNNING")
    sfn = FakeStepFunctions()
    _check(run_store, sfn, request_)
    # WHEN the CodeBuild state-change rule reports the build TIMED_OUT
    outcome = on_build_finished(run_store, sfn, "team-mlops-staging/bootstrap", "TIMED_OUT", "vending:abc")
    # THEN the run is FAILED with the build's end, and the waiting task fails with PipelineFailed
    run = run_store.get("team-mlops-staging/bootstrap")
    assert run is not None and run.status == "FAILED" and "vending:abc ended TIMED_OUT" in run.message
    assert outcome == "failed" and sfn.calls[0][1]["error"] == "PipelineFailed"


def test_on_build_finished_keeps_a_recorded_outcome(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a run its worker recorded SUCCEEDED (and a build that then reported SUCCEEDED)
    _start(run_store, launcher, request_)
    sfn = FakeStepFunctions()
    _check(run_store, sfn, request_)
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED", "applied")
    # WHEN the rule fires, THEN the run is kept and the token completed with success
    assert on_build_finished(run_store, sfn, "team-mlops-staging/bootstrap", "SUCCEEDED") == "done"
    assert run_store.get("team-mlops-staging/bootstrap").status == "SUCCEEDED"  # type: ignore[union-attr]


def test_heartbeat_beats_with_the_stored_token(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a waiting CheckPipelines whose heartbeat is 3 s (a beat each second)
    _start(run_store, launcher, request_)
    sfn = FakeStepFunctions()
    _check(run_store, sfn, request_, heartbeat_seconds=3)
    # WHEN a worker runs for a bit more than a second
    with heartbeat(run_store, sfn, request_.request_id):
        time.sleep(1.3)
    # THEN it sent heartbeats with the stored token
    beats = [c for name, c in sfn.calls if name == "heartbeat"]
    assert len(beats) >= 2 and {b["taskToken"] for b in beats} == {"tok-1"}


def test_codebuild_launcher_passes_run_id() -> None:
    # GIVEN a CodeBuild client double
    calls: list[dict[str, Any]] = []

    class FakeCodeBuild:
        def start_build(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    # WHEN a run is launched
    CodeBuildLauncher(FakeCodeBuild(), "vending-terraform-pipeline").launch("team-mlops-staging/eks")
    # THEN the buildspec gets the run id
    assert calls == [
        {
            "projectName": "vending-terraform-pipeline",
            "environmentVariablesOverride": [{"name": "VEND_RUN_ID", "value": "team-mlops-staging/eks"}],
        }
    ]


def test_run_store_round_trip(run_store: RunStore) -> None:
    # GIVEN a run
    run = PipelineRun(
        run_id="r/bootstrap",
        request_id="r",
        stack="bootstrap",
        stack_path="t/staging/bootstrap",
        account_id=ACCOUNT,
        state_bucket="b",
        state_region="us-east-1",
        access_role_name="OrganizationAccountAccessRole",
        variables={"k": [1, 2]},
        gate="auto",
    )
    # WHEN stored and read
    run_store.put(run)
    # THEN it is unchanged; a missing run is None
    assert run_store.get("r/bootstrap") == run
    assert run_store.get("r/eks") is None


@dataclass
class _Approval:
    status: str
    approved_by: str | None = None


class FakeApprovals:
    def __init__(self) -> None:
        self.approved: dict[tuple[str, str], _Approval] = {}

    def get(self, stack: str, plan_digest: str) -> _Approval | None:
        return self.approved.get((stack, plan_digest))


def test_check_pipelines_relaunches_an_approved_plan(
    run_store: RunStore, launcher: FakeLauncher, make_request: Callable[..., VendingRequest]
) -> None:
    # GIVEN a production run that stopped at the approval stage with its plan digest
    request = make_request(stage="production")
    _start(run_store, launcher, request)
    run = run_store.get(f"{request.request_id}/bootstrap")
    assert run is not None and run.gate == "manual"
    run_store.put(run.model_copy(update={"status": "AWAITING_APPROVAL", "plan_digest": "abc123"}))
    approvals = FakeApprovals()
    sfn = FakeStepFunctions()
    # WHEN it is checked before anyone approved
    first = _check(run_store, sfn, request, max_polls=10, approvals=approvals, launcher=launcher)
    # THEN the task completes at once saying it awaits approval (the workflow waits, then checks again)
    assert first == "awaiting_approval"
    output = json.loads(sfn.calls[0][1]["output"])
    assert output["done"] is False and output["awaiting_approval"] == ["bootstrap"]
    assert launcher.launched == [run.run_id]
    # WHEN that plan is approved and the next check comes with a new token
    approvals.approved[(run.stack_path, "abc123")] = _Approval(status="approved", approved_by="alice")
    second = _check(
        run_store, sfn, request, token="tok-2", polls=1, max_polls=10, approvals=approvals, launcher=launcher
    )
    # THEN the run is relaunched as a new attempt and the token waits for it (stored for its worker)
    assert second == "running" and len(sfn.calls) == 1
    assert launcher.launched == [run.run_id, run.run_id]
    relaunched = run_store.get(run.run_id)
    assert relaunched is not None and (relaunched.attempt, relaunched.status) == (2, "QUEUED")
    # WHEN the approved run applies, THEN its worker completes the stored token
    _set(run_store, run.run_id, "SUCCEEDED", "applied")
    assert settle(run_store, sfn, request.request_id) == "done"
    assert sfn.calls[-1][1]["taskToken"] == "tok-2"


def _age(run_store: RunStore, run_id: str, seconds: float) -> None:
    """The run was started `seconds` ago."""
    from datetime import UTC, datetime, timedelta

    run = run_store.get(run_id)
    assert run is not None
    started = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    run_store.put(run.model_copy(update={"started_at": started}))


def test_start_pipelines_worker_dies_silent_run_is_relaunched_a_beating_one_kept(
    run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest
) -> None:
    # GIVEN (found by tests/emulator/test_runtime_faults.py, fault `worker: dies`) runs left RUNNING by an earlier
    # attempt: networking's worker died 120 s ago and never beat, eks's worker started as long ago but beats,
    # bootstrap's worker started 5 s ago
    _start(run_store, launcher, three_stacks)
    for stack in ("bootstrap", "networking", "eks"):
        _set(run_store, f"team-mlops-staging/{stack}", "RUNNING")
    _age(run_store, "team-mlops-staging/networking", 120)
    _age(run_store, "team-mlops-staging/eks", 120)
    _age(run_store, "team-mlops-staging/bootstrap", 5)
    run_store.beat("team-mlops-staging/eks")
    launcher.launched.clear()
    # WHEN a resumed request starts the pipelines again with a 60 s heartbeat
    started = start_pipelines(
        run_store,
        launcher,
        three_stacks,
        account_id=ACCOUNT,
        state_bucket=f"tfstate-{ACCOUNT}-us-east-1",
        state_region="us-east-1",
        access_role_name="OrganizationAccountAccessRole",
        lost_after_seconds=60,
    )
    # THEN only the silent run is lost and relaunched as attempt 2; without a heartbeat setting nothing is
    assert launcher.launched == ["team-mlops-staging/networking"]
    assert started == {"bootstrap": "RUNNING", "networking": "QUEUED", "eks": "RUNNING"}
    relaunched = run_store.get("team-mlops-staging/networking")
    assert relaunched is not None and relaunched.attempt == 2
    launcher.launched.clear()
    _set(run_store, "team-mlops-staging/networking", "RUNNING")
    _age(run_store, "team-mlops-staging/networking", 120)
    _start(run_store, launcher, three_stacks)
    assert launcher.launched == []


def test_heartbeat_renews_the_runs_lease(run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest) -> None:
    # GIVEN a running worker of one run
    _start(run_store, launcher, request_)
    run_id = f"{request_.request_id}/{request_.stacks[0]}"
    assert run_store.last_beat(run_id) is None
    # WHEN it works under the heartbeat
    with heartbeat(run_store, FakeStepFunctions(), request_.request_id, run_id):
        time.sleep(0.2)
    # THEN its lease carries the time of its last beat
    assert run_store.last_beat(run_id)


def test_execute_run_superseded_by_a_relaunch_does_not_overwrite_it(
    run_store: RunStore,
    launcher: FakeLauncher,
    request_: VendingRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    # GIVEN a worker whose lease ran out (worker: dies, but the thread was only stalled): while it still works, a
    # resumed request relaunches its run as attempt 2
    import boto3

    from vending.pipeline import orchestration

    _start(run_store, launcher, request_)
    run_id = f"{request_.request_id}/{request_.stacks[0]}"

    def stalled_then_fails(*_: Any, **__: Any) -> Any:
        run = run_store.get(run_id)
        assert run is not None
        run_store.put(run.model_copy(update={"status": "QUEUED", "attempt": run.attempt + 1}))
        raise RuntimeError("the stalled worker's Terraform failed")

    monkeypatch.setattr(orchestration, "assume_role_session", stalled_then_fails)
    # WHEN the stale worker records its outcome
    finished = orchestration.execute_run(
        run_store, boto3.Session(region_name="us-east-1"), run_id, terraform_root=tmp_path, approvals_table="x"
    )
    # THEN its FAILED outcome does not overwrite the newer attempt's run
    assert (finished.attempt, finished.status) == (1, "FAILED")
    current = run_store.get(run_id)
    assert current is not None and (current.attempt, current.status) == (2, "QUEUED")


def test_finish_is_one_conditional_write_on_the_attempt(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a run relaunched as attempt 2 while attempt 1's worker was still going
    _start(run_store, launcher, request_)
    run_id = f"{request_.request_id}/{request_.stacks[0]}"
    first = run_store.get(run_id)
    assert first is not None
    run_store.put(first.model_copy(update={"status": RunStatus.QUEUED, "attempt": 2}))

    # WHEN attempt 1 records its outcome, THEN the write is refused and attempt 2 is kept
    assert run_store.finish(first.model_copy(update={"status": RunStatus.FAILED})) is False
    kept = run_store.get(run_id)
    assert kept is not None and (kept.attempt, kept.status) == (2, RunStatus.QUEUED)
    # AND attempt 2's own outcome is written
    assert run_store.finish(kept.model_copy(update={"status": RunStatus.SUCCEEDED})) is True
    done = run_store.get(run_id)
    assert done is not None and done.status == RunStatus.SUCCEEDED


def test_claim_lets_one_worker_run_a_queued_run(
    run_store: RunStore, launcher: FakeLauncher, request_: VendingRequest
) -> None:
    # GIVEN a queued run, launched twice (a late first launch and its relaunch)
    _start(run_store, launcher, request_)
    run_id = f"{request_.request_id}/{request_.stacks[0]}"
    queued = run_store.get(run_id)
    assert queued is not None and queued.status == RunStatus.QUEUED

    # WHEN both workers claim it, THEN only the first gets it, RUNNING
    first = run_store.claim(queued)
    assert first is not None and first.status == RunStatus.RUNNING
    assert run_store.claim(queued) is None
    # AND a run that finished, or one relaunched as a newer attempt, is not claimed by an old launch
    run_store.put(first.model_copy(update={"status": RunStatus.QUEUED, "attempt": 2}))
    assert run_store.claim(queued) is None
    stored = run_store.get(run_id)
    assert stored is not None and run_store.claim(stored) is not None
