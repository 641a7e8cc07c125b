"""Terraform pipeline runs for a vended account: started by StartPipelines, awaited by CheckPipelines.

A run's status lives in the pipeline-runs table whoever executes it: a CodeBuild build in AWS
(`vend pipeline worker --run-id ...` in its buildspec) or a worker thread beside the local emulator.

No polling of Terraform: CheckPipelines is a `.waitForTaskToken` task. It stores its task token in a callback item
beside the runs, and whoever finishes the last run completes it (`settle`): the worker itself, and in AWS also the
CodeBuild state-change rule (`on_build_finished`), which catches a build that died before recording its outcome.
Both sides write first and read second, so at least one of them sees every run finished; completing a token twice
is harmless (the second call gets InvalidToken/TaskTimedOut and is ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vending.aws.dynamo import ModelTable, marshal, unmarshal
from vending.aws.errors import error_code
from vending.aws.sessions import access_role_arn, assume_role_session, new_session, session_env
from vending.exceptions import AccessRoleNotReady, PipelineFailed, VendingError
from vending.lifecycle import now
from vending.request import VendingRequest
from vending.trust import APPLY_ROLE_NAME, PLAN_ROLE_NAME

logger = Logger(child=True)


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # the plan is saved; an approver runs `vend pipeline approve`


TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED})
AWAITING_APPROVAL = RunStatus.AWAITING_APPROVAL
IN_PROGRESS = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
CALLBACK_KEY = "{request_id}#callback"  # run ids are <request_id>/<stack>: a '#' key never collides with one
BEAT_KEY = "{run_id}#beat"  # the last time a run's worker said it was alive
# A token that was already completed, timed out or belongs to an execution that ended: nothing left to tell.
STALE_TOKEN_ERRORS = frozenset({"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"})


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
    action: str = "apply"  # "destroy": plan -destroy and apply it (a stack removed by a change or a decommission)
    # Whose roles run it: "team" (plan as TeamCIPlanRole, apply as TeamCIRole: fenced by the SCPs and the boundary,
    # like the team's own CI) or "platform" (the account's access role: only a decommission's teardown, in a
    # quarantined account where the team's roles may do nothing; see platform_run_refusals).
    runs_as: str = "team"
    attempt: int = 1
    status: RunStatus = RunStatus.QUEUED
    message: str = ""
    plan_digest: str = ""
    result: dict[str, Any] | None = None
    started_at: str = ""
    finished_at: str = ""


class PipelineCallback(BaseModel):
    """The waiting CheckPipelines task of one request: its token and the stacks that must finish."""

    request_id: str
    stacks: list[str]
    task_token: str
    execution: str = ""
    polls: int = 1
    heartbeat_seconds: int = 0
    updated_at: str = ""


class RunStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        # `attempt` is an attribute too, so a worker's final write can be conditional on still owning the run.
        self._items = ModelTable(
            dynamodb, table, PipelineRun, keys=("run_id",), projected=("status", "attempt"), body="run"
        )

    def get_callback(self, request_id: str) -> PipelineCallback | None:
        key = marshal({"run_id": CALLBACK_KEY.format(request_id=request_id)})
        item = self._items.client.get_item(TableName=self._items.table, Key=key, ConsistentRead=True)
        if "Item" not in item:
            return None
        return PipelineCallback.model_validate_json(unmarshal(item["Item"])["callback"])

    def put_callback(self, callback: PipelineCallback) -> None:
        self._items.client.put_item(
            TableName=self._items.table,
            Item=marshal(
                {
                    "run_id": CALLBACK_KEY.format(request_id=callback.request_id),
                    "callback": callback.model_dump_json(),
                }
            ),
        )

    def beat(self, run_id: str) -> None:
        """The worker of `run_id` is alive now (its lease, beside the run: the run item is the worker's to write)."""
        self._items.client.put_item(
            TableName=self._items.table, Item=marshal({"run_id": BEAT_KEY.format(run_id=run_id), "at": now()})
        )

    def last_beat(self, run_id: str) -> str | None:
        key = marshal({"run_id": BEAT_KEY.format(run_id=run_id)})
        item = self._items.client.get_item(TableName=self._items.table, Key=key, ConsistentRead=True)
        return str(unmarshal(item["Item"])["at"]) if "Item" in item else None

    def runs_of(self, request_id: str, stacks: list[str]) -> dict[str, PipelineRun | None]:
        return {stack: self.get(f"{request_id}/{stack}") for stack in stacks}

    def get(self, run_id: str) -> PipelineRun | None:
        return self._items.get(run_id)

    def put(self, run: PipelineRun) -> None:
        self._items.put(run)

    def claim(self, run: PipelineRun) -> PipelineRun | None:
        """Mark a QUEUED run RUNNING for this worker, as one conditional write on its status and attempt: of two
        workers launched for the same run (a late first launch and its relaunch), only one runs Terraform."""
        claimed = run.model_copy(update={"status": RunStatus.RUNNING, "started_at": now()})
        try:
            self._items.put(
                claimed,
                condition="#s = :queued AND (attribute_not_exists(#a) OR #a = :a)",
                names={"#s": "status", "#a": "attempt"},
                values={":queued": RunStatus.QUEUED.value, ":a": run.attempt},
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return None
            raise
        return claimed

    def finish(self, run: PipelineRun) -> bool:
        """Record a worker's outcome only if its attempt is still the run's (one conditional write: a relaunch between
        a read and a write cannot be overwritten). False when a newer attempt owns the run."""
        try:
            self._items.put(
                run,
                condition="attribute_not_exists(run_id) OR attribute_not_exists(#a) OR #a = :a",
                names={"#a": "attempt"},
                values={":a": run.attempt},
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return False
            raise
        return True


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


# The identity a local worker acts as: in AWS a run is a CodeBuild build under the project's role; the emulator sets
# this to a session of the role it renders from the same statements (None: the process's own credentials).
WORKER_SESSION: Callable[[], boto3.Session] | None = None


class LocalThreadLauncher:
    """Beside the emulator: runs in worker threads, each completing the workflow's task token as a CodeBuild build's
    state-change event does. Four workers by default, more than the cores: a Terraform run spends most of its time
    waiting on AWS (the provider polls a new S3 lifecycle configuration for 55 s), so overlapping runs cut wall time
    while the CPU-bound stages stay short. VEND_PIPELINE_WORKERS overrides it."""

    _executor = ThreadPoolExecutor(
        max_workers=int(os.environ.get("VEND_PIPELINE_WORKERS", "4")), thread_name_prefix="pipeline"
    )

    def __init__(self, runs_table: str, terraform_root: Path, approvals_table: str) -> None:
        self._runs_table = runs_table
        self._terraform_root = terraform_root
        self._approvals_table = approvals_table

    def launch(self, run_id: str) -> None:
        self._executor.submit(self._run, run_id)

    def _run(self, run_id: str) -> None:
        session = WORKER_SESSION() if WORKER_SESSION is not None else new_session()
        from vending.pipeline import drift  # the drift pass launches its checks through the same workers

        if drift.is_check_id(run_id):
            drift.run_check_safely(session, run_id, runs_table=self._runs_table, terraform_root=self._terraform_root)
            return
        store = RunStore(session.client("dynamodb"), self._runs_table)
        try:
            execute_run(
                store, session, run_id, terraform_root=self._terraform_root, approvals_table=self._approvals_table
            )
        except Exception:  # a worker thread must never die silently: the run is marked FAILED instead
            logger.exception("pipeline worker crashed", extra={"run_id": run_id})
            # The workflow would otherwise wait for the heartbeat to expire: fail the run and tell it now.
            with contextlib.suppress(Exception):
                run = store.get(run_id)
                if run is not None and run.status in IN_PROGRESS:
                    store.put(run.model_copy(update={"status": RunStatus.FAILED, "message": "pipeline worker crashed"}))
                    settle(store, session.client("stepfunctions"), run.request_id)


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
    lost_after_seconds: int = 0,
) -> dict[str, str]:
    """Start one run per stack, skipping stacks already applied to this account with the same variables and runs
    still going. A stack whose variables changed (a change request moved the GPU tier or the regions) is run again
    with the new ones: the stack's own plan says what that changes, and its gate applies as for a first run. A run
    still QUEUED or RUNNING whose worker has not beaten for `lost_after_seconds` (the CheckPipelines heartbeat: the
    same silence the state machine ends a wait on) is lost, a killed worker or a launch that never happened, and
    runs again as a new attempt; without that, a resumed request would wait on it forever."""
    started: dict[str, str] = {}
    variables = variables_for(request, account_id)
    for stack in request.stacks:
        run_id = f"{request.request_id}/{stack}"
        existing = store.get(run_id)
        # A stack destroyed earlier (removed, now asked for again) is applied afresh.
        applied = existing is not None and existing.action == "apply"
        if existing and applied and existing.account_id == account_id and existing.status != RunStatus.FAILED:
            silent = _silent_seconds(store, existing) if existing.status in IN_PROGRESS else 0.0
            lost = bool(lost_after_seconds and silent > lost_after_seconds)
            if not lost and (existing.variables == variables or existing.status in IN_PROGRESS):
                logger.info("pipeline run kept", extra={"run_id": run_id, "status": existing.status})
                started[stack] = existing.status
                continue
            if lost:
                logger.info("pipeline run lost", extra={"run_id": run_id, "silent_seconds": round(silent)})
            else:
                changed = sorted(k for k in variables if existing.variables.get(k) != variables[k])
                logger.info("stack variables changed; run again", extra={"run_id": run_id, "changed": changed})
        run = PipelineRun(
            run_id=run_id,
            request_id=request.request_id,
            stack=stack,
            stack_path=f"{request.team}/{request.stage}/{stack}",
            account_id=account_id,
            state_bucket=state_bucket,
            state_region=state_region,
            access_role_name=access_role_name,
            variables=variables,
            gate="auto" if request.stage == "staging" else "manual",
            attempt=(existing.attempt + 1) if existing else 1,
            started_at=now(),
        )
        store.put(run)
        launcher.launch(run_id)
        logger.info("pipeline run started", extra={"run_id": run_id, "attempt": run.attempt})
        started[stack] = run.status
    return started


def start_destroys(
    store: RunStore,
    launcher: Launcher,
    request: VendingRequest,
    stacks: list[str],
    *,
    account_id: str,
    state_bucket: str,
    state_region: str,
    access_role_name: str,
    gate: str | None = None,
    lost_after_seconds: int = 0,
    runs_as: str = "team",
) -> dict[str, str]:
    """One destroy run per stack (`terraform plan -destroy`, then apply of that saved plan) with the stack's state
    key unchanged: the state object and its versions stay in the state bucket, archived with it at retirement. A
    destroy already done or still going for this account is kept, so a retried step starts nothing twice."""
    started: dict[str, str] = {}
    for stack in stacks:
        run_id = f"{request.request_id}/{stack}"
        existing = store.get(run_id)
        if existing is None:
            # Never applied through the platform: nothing of it in the state bucket, nothing to destroy.
            logger.info("no run to destroy", extra={"run_id": run_id})
            continue
        if existing.action == "destroy" and existing.account_id == account_id and existing.status != RunStatus.FAILED:
            # As in start_pipelines: a destroy whose worker went silent past the heartbeat is lost and runs again.
            silent = _silent_seconds(store, existing) if existing.status in IN_PROGRESS else 0.0
            if not (lost_after_seconds and silent > lost_after_seconds):
                started[stack] = existing.status
                continue
        run = existing.model_copy(
            update={
                "action": "destroy",
                "account_id": account_id,
                "state_bucket": state_bucket or existing.state_bucket,
                "state_region": state_region,
                "access_role_name": access_role_name,
                "runs_as": runs_as,
                "variables": variables_for(request, account_id),
                "gate": gate or ("auto" if request.stage == "staging" else "manual"),
                "attempt": existing.attempt + 1,
                "status": RunStatus.QUEUED,
                "message": "",
                "plan_digest": "",
                "result": None,
                "started_at": now(),
                "finished_at": "",
            }
        )
        store.put(run)
        launcher.launch(run_id)
        logger.info("destroy run started", extra={"run_id": run_id, "attempt": run.attempt})
        started[stack] = run.status
    return started


def pending_destroys(store: RunStore, request: VendingRequest, candidates: list[str]) -> list[str]:
    """Stacks the request no longer has whose destroy has not succeeded (a change failed while destroying them): a
    resumed request destroys them again, so resuming finishes what the change started."""
    gone = [s for s in candidates if s not in request.stacks]
    return [
        stack
        for stack, run in store.runs_of(request.request_id, gone).items()
        if run is not None and run.action == "destroy" and run.status != RunStatus.SUCCEEDED
    ]


def destroy_preview(s3: Any, state_bucket: str, stack_path: str) -> dict[str, Any]:
    """What `terraform plan -destroy` of a stack will remove: every managed resource instance in its state (read, not
    planned: the dry run needs no Terraform). The destroy run's own plan summary is recorded on its run."""
    key = f"{stack_path}/terraform.tfstate"
    where = f"s3://{state_bucket}/{key}"
    try:
        state = json.loads(s3.get_object(Bucket=state_bucket, Key=key)["Body"].read())
    except ClientError as e:
        if error_code(e) in {"NoSuchKey", "404", "NoSuchBucket"}:
            return {"state": where, "destroy": 0, "resources": [], "note": "no state: nothing to destroy"}
        raise
    addresses = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        base = ".".join(p for p in (resource.get("module", ""), f"{resource['type']}.{resource['name']}") if p)
        for instance in resource.get("instances", []):
            index = instance.get("index_key")
            addresses.append(base if index is None else f"{base}[{json.dumps(index)}]")
    return {"state": where, "destroy": len(addresses), "resources": sorted(addresses)}


def _silent_seconds(store: RunStore, run: PipelineRun) -> float:
    """Seconds since the run's worker last beat (or, never having beaten, since the run was started)."""
    last = store.last_beat(run.run_id) or run.started_at
    if not last:
        return 0.0
    return (datetime.fromisoformat(now()) - datetime.fromisoformat(last)).total_seconds()


def pipelines_outcome(runs: dict[str, PipelineRun | None]) -> tuple[str, dict[str, Any]]:
    """('failed' | 'done' | 'running' | 'awaiting_approval', the step's result or failure detail)."""
    failed = {s: r for s, r in runs.items() if r is None or r.status == RunStatus.FAILED}
    result: dict[str, Any] = {
        "done": False,
        "runs": {s: {"status": r.status, "message": r.message} for s, r in runs.items() if r is not None},
        "awaiting_approval": sorted(s for s, r in runs.items() if r is not None and r.status == AWAITING_APPROVAL),
    }
    if failed:
        detail = "; ".join(f"{s}: {r.message if r else 'run record missing'}" for s, r in failed.items())
        return "failed", {**result, "detail": detail}
    if all(r is not None and r.status == RunStatus.SUCCEEDED for r in runs.values()):
        return "done", {**result, "done": True}
    if any(r is not None and r.status in IN_PROGRESS for r in runs.values()):
        return "running", result
    return "awaiting_approval", result


def _complete(sfn: Any, token: str, **kwargs: Any) -> bool:
    """SendTaskSuccess (output=...) or SendTaskFailure (error=..., cause=...); False when the token is stale."""
    try:
        if "output" in kwargs:
            sfn.send_task_success(taskToken=token, output=kwargs["output"])
        else:
            sfn.send_task_failure(taskToken=token, error=kwargs["error"], cause=kwargs["cause"][:32768])
    except ClientError as e:
        if error_code(e) in STALE_TOKEN_ERRORS:
            logger.info("task token already completed or expired", extra={"code": error_code(e)})
            return False
        raise
    return True


def settle(store: RunStore, sfn: Any, request_id: str) -> str:
    """Complete the waiting CheckPipelines task if the request's runs say how it ends; otherwise leave it waiting.
    Returns the outcome ('no_callback' when no task waits yet: CheckPipelines settles itself when it arrives)."""
    callback = store.get_callback(request_id)
    if callback is None:
        return "no_callback"
    outcome, result = pipelines_outcome(store.runs_of(request_id, callback.stacks))
    if outcome == "failed":
        _complete(sfn, callback.task_token, error=PipelineFailed.__name__, cause=result["detail"])
    elif outcome in {"done", "awaiting_approval"}:
        # The awaited stacks go back with the result: the workflow's approval loop passes them to the next check.
        output = {**result, "polls": callback.polls, "stacks": callback.stacks}
        _complete(sfn, callback.task_token, output=json.dumps(output))
    logger.info("pipelines settled", extra={"request_id": request_id, "outcome": outcome})
    return outcome


def check_pipelines(
    store: RunStore,
    sfn: Any,
    request: VendingRequest,
    *,
    task_token: str,
    execution: str = "",
    polls: int,
    max_polls: int,
    heartbeat_seconds: int = 0,
    approvals: Approvals | None = None,
    launcher: Launcher | None = None,
    stacks: list[str] | None = None,
) -> str:
    """Store this task's token with the runs, relaunch runs whose saved plan has been approved (the new run re-plans
    and applies only if the plan is still the approved one), and complete the token at once if the runs already
    say how it ends. A request that still only awaits approval fails at the cap of approval checks. `stacks` (default:
    the request's) is what to await: a change also awaits the destroys of the stacks it removed."""
    awaited = list(stacks) if stacks else list(request.stacks)
    runs = store.runs_of(request.request_id, awaited)
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
    outcome, _ = pipelines_outcome(runs)
    if outcome == "awaiting_approval" and polls + 1 >= max_polls:
        raise PipelineFailed(
            f"still awaiting approval after {polls + 1} checks: "
            + ", ".join(f"{s} ({r.status})" for s, r in runs.items() if r and r.status not in TERMINAL)
        )
    store.put_callback(
        PipelineCallback(
            request_id=request.request_id,
            stacks=awaited,
            task_token=task_token,
            execution=execution,
            polls=polls + 1,
            heartbeat_seconds=heartbeat_seconds,
            updated_at=now(),
        )
    )
    return settle(store, sfn, request.request_id)


@contextlib.contextmanager
def heartbeat(store: RunStore, sfn: Any, request_id: str, run_id: str = "") -> Iterator[None]:
    """While a worker runs Terraform, tell the waiting task it is alive (its HeartbeatSeconds ends a lost run), and
    renew the run's lease (StartPipelines of a resumed request relaunches a run whose lease ran out).
    The token is re-read each beat: a resumed request waits under a new one."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            if run_id:
                try:
                    store.beat(run_id)
                except ClientError as e:
                    logger.warning("lease renewal failed", extra={"code": error_code(e)})
            callback = store.get_callback(request_id)
            interval = max(1.0, (callback.heartbeat_seconds if callback else 30) / 3)
            if callback is not None and callback.heartbeat_seconds:
                try:
                    sfn.send_task_heartbeat(taskToken=callback.task_token)
                except ClientError as e:
                    if error_code(e) not in STALE_TOKEN_ERRORS:
                        logger.warning("heartbeat failed", extra={"code": error_code(e)})
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{request_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def on_build_finished(store: RunStore, sfn: Any, run_id: str, build_status: str, build_id: str = "") -> str:
    """The CodeBuild state-change rule (AWS): a build that ended without recording its run's outcome (killed,
    timed out, out of memory) fails the run; then the request's waiting task is settled either way."""
    run = store.get(run_id)
    if run is None:
        raise PipelineFailed(f"no pipeline run {run_id!r} for build {build_id}")
    if run.status in IN_PROGRESS and build_status != "IN_PROGRESS":
        message = f"CodeBuild build {build_id} ended {build_status} before the run recorded an outcome"
        store.put(run.model_copy(update={"status": RunStatus.FAILED, "message": message, "finished_at": now()}))
        logger.info("run failed by its build's end", extra={"run_id": run_id, "build_status": build_status})
    return settle(store, sfn, run.request_id)


def _member_env(sts: Any, role_arn: str, session_name: str, region: str) -> dict[str, str]:
    try:
        member = assume_role_session(sts, role_arn, session_name, region)
    except AccessRoleNotReady as e:
        raise PipelineFailed(
            f"the platform pipeline cannot assume {role_arn}: {e}. A CI role made before its trust admitted the "
            "platform pipeline (VEND_PIPELINE_ROLE_ARN) converges on the account's next change (`vend change`)."
        ) from e
    env = session_env(member)
    for name in ("AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def run_credentials(session: boto3.Session, run: PipelineRun) -> tuple[dict[str, str], dict[str, str] | None]:
    """(plan credentials, apply credentials or None for the same). A team's stack is planned as its read-only plan
    role and applied as its apply role under the boundary, never as a role the SCP fences exempt: the SCPs the audit
    proves every day bind what the vending pipeline applies exactly as they bind the team's own CI."""
    sts = session.client("sts")
    if run.runs_as == "platform":
        role = access_role_arn(run.account_id, run.access_role_name)
        return _member_env(sts, role, f"pipeline-{run.stack}", run.state_region), None
    if run.runs_as != "team":
        raise PipelineFailed(f"run {run.run_id}: unknown runs_as {run.runs_as!r}")
    plan = _member_env(sts, access_role_arn(run.account_id, PLAN_ROLE_NAME), f"plan-{run.stack}", run.state_region)
    apply = _member_env(sts, access_role_arn(run.account_id, APPLY_ROLE_NAME), f"apply-{run.stack}", run.state_region)
    return plan, apply


def plan_credentials(session: boto3.Session, run: PipelineRun) -> dict[str, str]:
    """The read-only plan role of a team's stack, alone: what a plan-only (drift) pass runs as."""
    if run.runs_as != "team":
        raise PipelineFailed(
            f"run {run.run_id}: only a team's stack is planned as its plan role (runs_as {run.runs_as!r})"
        )
    role = access_role_arn(run.account_id, PLAN_ROLE_NAME)
    return _member_env(session.client("sts"), role, f"drift-{run.stack}", run.state_region)


def execute_run(
    store: RunStore, session: boto3.Session, run_id: str, *, terraform_root: Path, approvals_table: str
) -> PipelineRun:
    """Run one stack's pipeline with credentials of the vended account and record the outcome."""
    from vending.pipeline.approvals import DynamoDbApprovalStore  # heavy; only the worker needs these
    from vending.pipeline.runner import DESTROY_STAGES, PIPELINE_STAGES, PipelineSpec, run_pipeline
    from vending.pipeline.stacks import stack_dir_for

    queued = store.get(run_id)
    if queued is None:
        raise PipelineFailed(f"no pipeline run {run_id!r}")
    run = store.claim(queued)
    if run is None:  # another worker holds it, or it already finished: nothing to run twice
        logger.info("pipeline run not claimed", extra={"run_id": run_id, "status": queued.status})
        return store.get(run_id) or queued
    try:
        env, apply_env = run_credentials(session, run)
        spec = PipelineSpec(
            # A team with no committed folder runs the stack rendered from the platform's template.
            stack_dir=stack_dir_for(run.stack_path, terraform_root, gpu_tier=run.variables.get("gpu_tier")),
            state_bucket=run.state_bucket,
            state_region=run.state_region,
            account_id=run.account_id,
            variables=run.variables,
            env=env,
            apply_env=apply_env,
            platform_credentials=run.runs_as == "platform",
            gate=run.gate,  # type: ignore[arg-type]
            destroy=run.action == "destroy",
            stages=DESTROY_STAGES if run.action == "destroy" else PIPELINE_STAGES,
        )
        with heartbeat(store, session.client("stepfunctions"), run.request_id, run.run_id):
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
    if not store.finish(run):
        # This worker's lease ran out and a resumed request relaunched the run: the newer attempt's outcome counts.
        logger.info("pipeline run superseded", extra={"run_id": run_id, "attempt": run.attempt})
        return run
    logger.info("pipeline run finished", extra={"run_id": run_id, "status": status, "detail": message[:300]})
    settle(store, session.client("stepfunctions"), run.request_id)
    return run
