"""Terraform pipeline runs for a vended account: started by StartPipelines, polled by CheckPipelines.

A run's status lives in the pipeline-runs table whoever executes it: a CodeBuild build in AWS
(`vend pipeline worker --run-id ...` in its buildspec) or a worker thread beside the local emulator.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger
from pydantic import BaseModel

from vending.aws.dynamo import ModelTable
from vending.aws.sessions import access_role_arn, assume_role_session, session_env
from vending.exceptions import PipelineFailed, VendingError
from vending.lifecycle import now
from vending.request import VendingRequest

logger = Logger(child=True)

class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # the plan is saved; an approver runs `vend pipeline approve`


TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED})
AWAITING_APPROVAL = RunStatus.AWAITING_APPROVAL


class PipelineRun(BaseModel):
    run_id: str  # <request_id>/<stack>
    request_id: str
    stack: str
    stack_path: str  # relative to terraform/environments
    account_id: str
    state_bucket: str
    state_region: str
    access_role_name: str
    variables: dict[str, Any]
    gate: str
    attempt: int = 1
    status: RunStatus = RunStatus.QUEUED
    message: str = ""
    plan_digest: str = ""
    result: dict[str, Any] | None = None
    started_at: str = ""
    finished_at: str = ""


class RunStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._items = ModelTable(dynamodb, table, PipelineRun, keys=("run_id",), projected=("status",), body="run")

    def get(self, run_id: str) -> PipelineRun | None:
        return self._items.get(run_id)

    def put(self, run: PipelineRun) -> None:
        self._items.put(run)


class Approvals(Protocol):
    def get(self, stack: str, plan_digest: str) -> Any: ...


class Launcher(Protocol):
    def launch(self, run_id: str) -> None: ...


class CodeBuildLauncher:
    """In AWS: one CodeBuild build per run; its buildspec runs `vend pipeline worker --run-id $VEND_RUN_ID`."""

    def __init__(self, codebuild: Any, project: str) -> None:
        self._codebuild = codebuild
        self._project = project

    def launch(self, run_id: str) -> None:
        self._codebuild.start_build(
            projectName=self._project, environmentVariablesOverride=[{"name": "VEND_RUN_ID", "value": run_id}]
        )


class LocalThreadLauncher:
    """Beside the emulator: runs in worker threads so the state machine polls them like CodeBuild builds.
    Two workers match the 2-core machines this runs on; Terraform itself is a child process."""

    _executor = ThreadPoolExecutor(
        max_workers=int(os.environ.get("VEND_PIPELINE_WORKERS", "2")), thread_name_prefix="pipeline"
    )

    def __init__(self, runs_table: str, terraform_root: Path, approvals_table: str) -> None:
        self._runs_table = runs_table
        self._terraform_root = terraform_root
        self._approvals_table = approvals_table

    def launch(self, run_id: str) -> None:
        self._executor.submit(self._run, run_id)

    def _run(self, run_id: str) -> None:
        session = boto3.Session()
        store = RunStore(session.client("dynamodb"), self._runs_table)
        try:
            execute_run(
                store, session, run_id, terraform_root=self._terraform_root, approvals_table=self._approvals_table
            )
        except Exception:  # a worker thread must never die silently: the run is marked FAILED instead
            logger.exception("pipeline worker crashed", extra={"run_id": run_id})


def variables_for(request: VendingRequest, account_id: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "team": request.team,
        "stage": request.stage,
        "cost_center": request.cost_center,
        "gpu_tier": request.gpu_tier,
        "regions": list(request.regions),
    }


def start_pipelines(
    store: RunStore,
    launcher: Launcher,
    request: VendingRequest,
    *,
    account_id: str,
    state_bucket: str,
    state_region: str,
    access_role_name: str,
) -> dict[str, str]:
    """Start one run per stack, skipping stacks already applied to this account and runs still going."""
    started: dict[str, str] = {}
    for stack in request.stacks:
        run_id = f"{request.request_id}/{stack}"
        existing = store.get(run_id)
        if (
            existing
            and existing.account_id == account_id
            and existing.status != RunStatus.FAILED
        ):
            logger.info("pipeline run kept", extra={"run_id": run_id, "status": existing.status})
            started[stack] = existing.status
            continue
        run = PipelineRun(
            run_id=run_id,
            request_id=request.request_id,
            stack=stack,
            stack_path=f"{request.team}/{request.stage}/{stack}",
            account_id=account_id,
            state_bucket=state_bucket,
            state_region=state_region,
            access_role_name=access_role_name,
            variables=variables_for(request, account_id),
            gate="auto" if request.stage == "staging" else "manual",
            attempt=(existing.attempt + 1) if existing else 1,
            started_at=now(),
        )
        store.put(run)
        launcher.launch(run_id)
        logger.info("pipeline run started", extra={"run_id": run_id, "attempt": run.attempt})
        started[stack] = run.status
    return started


def check_pipelines(
    store: RunStore,
    request: VendingRequest,
    *,
    polls: int,
    max_polls: int,
    approvals: Approvals | None = None,
    launcher: Launcher | None = None,
) -> dict[str, Any]:
    """One poll. A failed stack fails the step with its stage and message; a stuck one fails at the cap.
    A run waiting for approval is relaunched once its saved plan has been approved (the new run re-plans and
    applies only if the plan is still the approved one)."""
    runs = {stack: store.get(f"{request.request_id}/{stack}") for stack in request.stacks}
    failed = {s: r for s, r in runs.items() if r is None or r.status == RunStatus.FAILED}
    if failed:
        detail = "; ".join(f"{s}: {r.message if r else 'run record missing'}" for s, r in failed.items())
        raise PipelineFailed(detail)
    for run in runs.values():
        if run and run.status == AWAITING_APPROVAL and approvals and launcher:
            approval = approvals.get(run.stack_path, run.plan_digest)
            if approval is not None and getattr(approval, "status", "") == "approved":
                relaunched = run.model_copy(
                    update={"status": RunStatus.QUEUED, "attempt": run.attempt + 1, "message": ""}
                )
                store.put(relaunched)
                launcher.launch(run.run_id)
                logger.info("approved plan; run relaunched", extra={"run_id": run.run_id, "by": approval.approved_by})
                runs[run.stack] = relaunched
    done = all(r is not None and r.status == RunStatus.SUCCEEDED for r in runs.values())
    if not done and polls + 1 >= max_polls:
        raise PipelineFailed(
            f"pipelines still running after {polls + 1} polls: "
            + ", ".join(f"{s} ({r.status})" for s, r in runs.items() if r and r.status not in TERMINAL)
        )
    return {
        "done": done,
        "polls": polls + 1,
        "runs": {s: {"status": r.status, "message": r.message} for s, r in runs.items() if r is not None},
    }


def execute_run(
    store: RunStore, session: boto3.Session, run_id: str, *, terraform_root: Path, approvals_table: str
) -> PipelineRun:
    """Run one stack's pipeline with credentials of the vended account and record the outcome."""
    from vending.pipeline.approvals import DynamoDbApprovalStore  # heavy; only the worker needs these
    from vending.pipeline.runner import PipelineSpec, run_pipeline
    from vending.pipeline.stacks import stack_dir_for

    run = store.get(run_id)
    if run is None:
        raise PipelineFailed(f"no pipeline run {run_id!r}")
    run = run.model_copy(update={"status": RunStatus.RUNNING, "started_at": now()})
    store.put(run)
    try:
        member = assume_role_session(
            session.client("sts"),
            access_role_arn(run.account_id, run.access_role_name),
            f"pipeline-{run.stack}",
            run.state_region,
        )
        env = session_env(member)
        for name in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        spec = PipelineSpec(
            # A team with no committed folder runs the stack rendered from the platform's template.
            stack_dir=stack_dir_for(run.stack_path, terraform_root),
            state_bucket=run.state_bucket,
            state_region=run.state_region,
            account_id=run.account_id,
            variables=run.variables,
            env=env,
            gate=run.gate,  # type: ignore[arg-type]
        )
        result = run_pipeline(spec, approvals=DynamoDbApprovalStore(session.client("dynamodb"), approvals_table))
        outcome = result.to_dict()
        status = {"succeeded": RunStatus.SUCCEEDED, "awaiting_approval": AWAITING_APPROVAL}.get(
            result.status, RunStatus.FAILED
        )
        message, digest = result.message, result.plan_digest or ""
    except VendingError as e:
        status, message, outcome, digest = RunStatus.FAILED, f"{type(e).__name__}: {e}", None, ""
    except Exception as e:  # record any crash as a failed run; nothing is lost silently
        status, message, outcome, digest = RunStatus.FAILED, f"pipeline crashed: {type(e).__name__}: {e}", None, ""
    run = run.model_copy(
        update={"status": status, "message": message, "result": outcome, "finished_at": now(), "plan_digest": digest}
    )
    store.put(run)
    logger.info("pipeline run finished", extra={"run_id": run_id, "status": status, "detail": message[:300]})
    return run
