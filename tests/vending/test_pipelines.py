"""vending.pipeline.orchestration: one run per stack, kept or relaunched by status; one poll per check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from vending.exceptions import PipelineFailed
from vending.pipeline.orchestration import CodeBuildLauncher, PipelineRun, RunStore, check_pipelines, start_pipelines
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


def _start(run_store: RunStore, launcher: FakeLauncher, request: VendingRequest,
           account_id: str = ACCOUNT) -> dict[str, str]:
    return start_pipelines(run_store, launcher, request, account_id=account_id,
                           state_bucket=f"tfstate-{account_id}-us-east-1", state_region="us-east-1",
                           access_role_name="OrganizationAccountAccessRole")


def _set(run_store: RunStore, run_id: str, status: str, message: str = "") -> None:
    run = run_store.get(run_id)
    assert run is not None
    run_store.put(run.model_copy(update={"status": status, "message": message}))


def test_start_pipelines_one_run_per_stack(run_store: RunStore, launcher: FakeLauncher,
                                           three_stacks: VendingRequest) -> None:
    # GIVEN a request for three stacks and no runs yet
    # WHEN the pipelines start
    started = _start(run_store, launcher, three_stacks)
    # THEN one QUEUED run per stack is written and launched, bootstrap first
    assert started == {"bootstrap": "QUEUED", "networking": "QUEUED", "eks": "QUEUED"}
    assert launcher.launched == ["team-mlops-staging/bootstrap", "team-mlops-staging/networking",
                                 "team-mlops-staging/eks"]
    run = run_store.get("team-mlops-staging/networking")
    assert run is not None
    assert (run.stack_path, run.account_id, run.state_bucket, run.gate, run.attempt) == (
        "team-mlops/staging/networking", ACCOUNT, f"tfstate-{ACCOUNT}-us-east-1", "auto", 1)
    assert run.variables == {"account_id": ACCOUNT, "team": "team-mlops", "stage": "staging",
                             "cost_center": "CC-1003", "gpu_tier": "training", "regions": ["us-east-1", "us-west-2"]}


def test_start_pipelines_production_is_gated(run_store: RunStore, launcher: FakeLauncher,
                                             make_request: Callable[..., VendingRequest]) -> None:
    # GIVEN a production request
    # WHEN the pipelines start
    _start(run_store, launcher, make_request(stage="production"))
    # THEN its run waits for a manual approval
    run = run_store.get("team-mlops-production/bootstrap")
    assert run is not None and run.gate == "manual"


def test_start_pipelines_skips_succeeded_and_relaunches_failed(run_store: RunStore, launcher: FakeLauncher,
                                                              three_stacks: VendingRequest) -> None:
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


def test_start_pipelines_other_account_relaunches(run_store: RunStore, launcher: FakeLauncher,
                                                  request_: VendingRequest) -> None:
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


def test_check_pipelines_done(run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest) -> None:
    # GIVEN every run succeeded
    _start(run_store, launcher, three_stacks)
    for stack in three_stacks.stacks:
        _set(run_store, f"team-mlops-staging/{stack}", "SUCCEEDED", "applied")
    # WHEN polled
    result = check_pipelines(run_store, three_stacks, polls=4, max_polls=240)
    # THEN the step is done, with each run's status
    assert result == {"done": True, "polls": 5, "runs": {s: {"status": "SUCCEEDED", "message": "applied"}
                                                         for s in three_stacks.stacks}}


def test_check_pipelines_in_progress(run_store: RunStore, launcher: FakeLauncher,
                                     three_stacks: VendingRequest) -> None:
    # GIVEN one run still running
    _start(run_store, launcher, three_stacks)
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    _set(run_store, "team-mlops-staging/eks", "RUNNING")
    # WHEN polled
    result = check_pipelines(run_store, three_stacks, polls=0, max_polls=240)
    # THEN it is not done yet and the poll is counted
    assert result["done"] is False
    assert result["polls"] == 1
    assert result["runs"]["eks"]["status"] == "RUNNING"


def test_check_pipelines_failed_names_stack_and_message(run_store: RunStore, launcher: FakeLauncher,
                                                        three_stacks: VendingRequest) -> None:
    # GIVEN the networking run failed
    _start(run_store, launcher, three_stacks)
    _set(run_store, "team-mlops-staging/networking", "FAILED", "plan: checkov CKV_AWS_130 failed")
    # WHEN polled
    # THEN the step fails naming the stack and its message
    with pytest.raises(PipelineFailed, match=r"networking: plan: checkov CKV_AWS_130 failed"):
        check_pipelines(run_store, three_stacks, polls=0, max_polls=240)


def test_check_pipelines_missing_run_fails(run_store: RunStore, request_: VendingRequest) -> None:
    # GIVEN no run record at all
    # WHEN polled
    # THEN the step fails saying so
    with pytest.raises(PipelineFailed, match="bootstrap: run record missing"):
        check_pipelines(run_store, request_, polls=0, max_polls=240)


def test_check_pipelines_cap(run_store: RunStore, launcher: FakeLauncher, three_stacks: VendingRequest) -> None:
    # GIVEN runs still going at the last allowed poll
    _start(run_store, launcher, three_stacks)
    _set(run_store, "team-mlops-staging/bootstrap", "SUCCEEDED")
    # WHEN polled
    # THEN the step fails naming the stacks still running
    with pytest.raises(PipelineFailed, match=r"after 240 polls: networking \(QUEUED\), eks \(QUEUED\)"):
        check_pipelines(run_store, three_stacks, polls=239, max_polls=240)


def test_codebuild_launcher_passes_run_id() -> None:
    # GIVEN a CodeBuild client double
    calls: list[dict[str, Any]] = []

    class FakeCodeBuild:
        def start_build(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    # WHEN a run is launched
    CodeBuildLauncher(FakeCodeBuild(), "vending-terraform-pipeline").launch("team-mlops-staging/eks")
    # THEN the buildspec gets the run id
    assert calls == [{"projectName": "vending-terraform-pipeline",
                      "environmentVariablesOverride": [{"name": "VEND_RUN_ID", "value": "team-mlops-staging/eks"}]}]


def test_run_store_round_trip(run_store: RunStore) -> None:
    # GIVEN a run
    run = PipelineRun(run_id="r/bootstrap", request_id="r", stack="bootstrap", stack_path="t/staging/bootstrap",
                      account_id=ACCOUNT, state_bucket="b", state_region="us-east-1",
                      access_role_name="OrganizationAccountAccessRole", variables={"k": [1, 2]}, gate="auto")
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


def test_check_pipelines_relaunches_an_approved_plan(run_store: RunStore, launcher: FakeLauncher,
                                                     make_request: Callable[..., VendingRequest]) -> None:
    # GIVEN a production run that stopped at the approval stage with its plan digest
    request = make_request(stage="production")
    _start(run_store, launcher, request)
    run = run_store.get(f"{request.request_id}/bootstrap")
    assert run is not None and run.gate == "manual"
    run_store.put(run.model_copy(update={"status": "AWAITING_APPROVAL", "plan_digest": "abc123"}))
    approvals = FakeApprovals()
    # WHEN it is polled before anyone approved
    first = check_pipelines(run_store, request, polls=0, max_polls=10, approvals=approvals, launcher=launcher)
    # THEN it keeps waiting and nothing is relaunched
    assert first["done"] is False and first["runs"]["bootstrap"]["status"] == "AWAITING_APPROVAL"
    assert launcher.launched == [run.run_id]
    # WHEN that plan is approved and the next poll comes
    approvals.approved[(run.stack_path, "abc123")] = _Approval(status="approved", approved_by="alice")
    second = check_pipelines(run_store, request, polls=1, max_polls=10, approvals=approvals, launcher=launcher)
    # THEN the run is relaunched as a new attempt
    assert second["runs"]["bootstrap"]["status"] == "QUEUED"
    assert launcher.launched == [run.run_id, run.run_id]
    relaunched = run_store.get(run.run_id)
    assert relaunched is not None and relaunched.attempt == 2
