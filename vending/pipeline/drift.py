"""Drift detection: a scheduled plan-only pass of every applied stack, as the stack's read-only plan role.

The StackDrift function (daily, before the guardrail audit) records one check per applied stack of a READY account
beside its run in the pipeline-runs table (key `<request_id>/<stack>#drift`) and launches it like a pipeline run (a
CodeBuild build in AWS, a worker thread beside the emulator). The worker runs `terraform plan -detailed-exitcode` as
TeamCIPlanRole only (never the apply role, never apply: vending.pipeline.runner.plan_only) and records which resources
differ and which of their attributes, from `terraform show -json` of the plan: `resource_drift` (changed outside
Terraform) and `resource_changes` (what an apply would create, update or delete). `vend drift` lists them; the audit
reports them (`stack_drift`, `drift_unchecked`) with its metrics and alarm.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vending.aws.dynamo import ModelTable, unmarshal
from vending.aws.errors import error_code
from vending.exceptions import DriftCheckFailed, VendingError
from vending.lifecycle import RequestRecord, now
from vending.pipeline.orchestration import Launcher, PipelineRun, RunStatus, plan_credentials

logger = Logger(child=True)

CHECK_SUFFIX = "#drift"  # run ids are <request_id>/<stack>: a '#' key never collides with one
LOST_AFTER_SECONDS = 3 * 3600  # a check QUEUED or RUNNING this long lost its worker: the next pass starts it again
SENSITIVE = "(sensitive)"
MAX_VALUE_CHARS = 200


class DriftStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    CLEAN = "CLEAN"  # plan exit 0: nothing to change
    DRIFTED = "DRIFTED"  # plan exit 2: the account differs from the stack's code and state
    FAILED = "FAILED"  # the plan did not answer (state locked past the timeout, a role refused...): unchecked


IN_PROGRESS = frozenset({DriftStatus.QUEUED, DriftStatus.RUNNING})


class ChangedResource(BaseModel):
    address: str
    # resource_drift: changed outside Terraform (seen by the refresh); resource_changes: what an apply would do
    source: Literal["resource_drift", "resource_changes"]
    actions: list[str]
    attributes: list[str]  # dotted paths whose values differ ([] for a whole resource created or deleted)
    values: dict[str, list[Any]] = {}  # path -> [before, after] for scalar leaves; sensitive ones masked


class DriftCheck(BaseModel):
    run_id: str  # the table key: <request_id>/<stack>#drift
    stack_run: str  # <request_id>/<stack>, the applied pipeline run it checks
    request_id: str
    stack: str
    stack_path: str
    account_id: str
    status: DriftStatus = DriftStatus.QUEUED
    attempt: int = 1
    resources: list[ChangedResource] = []
    message: str = ""
    commands: list[str] = []  # the Terraform subcommands the worker ran (init, plan, show)
    queued_at: str = ""
    started_at: str = ""
    checked_at: str = ""
    seconds: float = 0.0


def check_id(run_id: str) -> str:
    return f"{run_id}{CHECK_SUFFIX}"


def is_check_id(key: str) -> bool:
    return key.endswith(CHECK_SUFFIX)


class DriftStore:
    """Drift checks, kept in the pipeline-runs table beside the runs they check."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._items = ModelTable(
            dynamodb, table, DriftCheck, keys=("run_id",), projected=("status", "attempt"), body="drift"
        )

    def get(self, key: str) -> DriftCheck | None:
        return self._items.get(key)

    def put(self, check: DriftCheck) -> None:
        self._items.put(check)

    def claim(self, check: DriftCheck) -> DriftCheck | None:
        """QUEUED -> RUNNING for this worker, one conditional write on status and attempt (one worker per check)."""
        claimed = check.model_copy(update={"status": DriftStatus.RUNNING, "started_at": now()})
        try:
            self._items.put(
                claimed,
                condition="#s = :queued AND #a = :a",
                names={"#s": "status", "#a": "attempt"},
                values={":queued": DriftStatus.QUEUED.value, ":a": check.attempt},
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return None
            raise
        return claimed

    def finish(self, check: DriftCheck) -> bool:
        """Record the outcome only if this attempt still owns the check (a newer pass may have started it again)."""
        try:
            self._items.put(check, condition="#a = :a", names={"#a": "attempt"}, values={":a": check.attempt})
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def scan_table(dynamodb: Any, table: str) -> tuple[list[PipelineRun], list[DriftCheck]]:
    """Every pipeline run and drift check in one paged Scan (callbacks and worker leases are skipped)."""
    runs: list[PipelineRun] = []
    checks: list[DriftCheck] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for raw in page.get("Items", []):
            item = unmarshal(raw)
            if "drift" in item:
                checks.append(DriftCheck.model_validate_json(item["drift"]))
            elif "run" in item:
                runs.append(PipelineRun.model_validate_json(item["run"]))
    return runs, checks


def applied_stacks(runs: Iterable[PipelineRun], records: Iterable[RequestRecord]) -> list[PipelineRun]:
    """The stacks to check: applied (last run an apply that succeeded) by the team's roles, into a READY account,
    and still asked for by its request. An account being changed, retired or failed is left to its workflow."""
    ready = {r.request_id: r for r in records if r.status.value == "READY" and r.account_id}
    out = []
    for run in runs:
        record = ready.get(run.request_id)
        if record is None or run.account_id != record.account_id:
            continue
        if run.action != "apply" or run.status != RunStatus.SUCCEEDED or run.runs_as != "team":
            continue
        if run.stack not in (record.request.get("stacks") or []):
            continue
        out.append(run)
    return sorted(out, key=lambda r: r.run_id)


def current_checks(
    runs: Iterable[PipelineRun], checks: Iterable[DriftCheck], records: Iterable[RequestRecord]
) -> list[DriftCheck]:
    """The latest check of each stack that is applied now (a check of a stack since destroyed says nothing)."""
    applied = {r.run_id: r for r in applied_stacks(runs, records)}
    return sorted(
        (c for c in checks if c.stack_run in applied and c.account_id == applied[c.stack_run].account_id),
        key=lambda c: c.run_id,
    )


def _age_seconds(stamp: str) -> float:
    if not stamp:
        return float("inf")
    return (datetime.fromisoformat(now()) - datetime.fromisoformat(stamp)).total_seconds()


def start_drift_checks(
    store: DriftStore,
    launcher: Launcher,
    runs: Iterable[PipelineRun],
    records: Iterable[RequestRecord],
    *,
    request_ids: Iterable[str] = (),
    lost_after_seconds: int = LOST_AFTER_SECONDS,
) -> dict[str, str]:
    """Queue and launch one check per applied stack (only those of `request_ids` when given). A check still going
    is kept, so a retried or overlapping pass starts nothing twice; one silent past `lost_after_seconds` runs again."""
    only = set(request_ids)
    started: dict[str, str] = {}
    for run in applied_stacks(runs, records):
        if only and run.request_id not in only:
            continue
        key = check_id(run.run_id)
        existing = store.get(key)
        if (
            existing is not None
            and existing.status in IN_PROGRESS
            and _age_seconds(existing.started_at or existing.queued_at) < lost_after_seconds
        ):
            started[run.run_id] = existing.status
            continue
        check = DriftCheck(
            run_id=key,
            stack_run=run.run_id,
            request_id=run.request_id,
            stack=run.stack,
            stack_path=run.stack_path,
            account_id=run.account_id,
            attempt=(existing.attempt + 1) if existing else 1,
            queued_at=now(),
        )
        store.put(check)
        launcher.launch(key)
        logger.info("drift check started", extra={"check": key, "attempt": check.attempt})
        started[run.run_id] = check.status
    return started


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k in sorted(value):
            yield from _leaves(value[k], f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def _lookup(tree: Any, path: str) -> Any:
    """The node of a plan's parallel structure (after_unknown, *_sensitive) at `path`; True above it wins."""
    node = tree
    for part in path.replace("[", ".[").split("."):
        if node is True or node is None:
            return node
        if part.startswith("[") and isinstance(node, list):
            i = int(part[1:-1])
            node = node[i] if i < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def _diff(before: Any, after: Any, path: str, out: list[str]) -> None:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for k in sorted(set(before) | set(after)):
            _diff(before.get(k), after.get(k), f"{path}.{k}" if path else str(k), out)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            _diff(b, a, f"{path}[{i}]", out)
    elif before != after:
        out.append(path)


def _shown(value: Any, masked: bool) -> Any:
    if masked:
        return SENSITIVE
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "..."
    return value


def changed_attributes(change: Mapping[str, Any]) -> tuple[list[str], dict[str, list[Any]]]:
    """Paths whose values differ between `before` and `after` of one plan change (values unknown until apply count
    as changed), and [before, after] of each scalar one, masked where the plan marks it sensitive."""
    before, after = change.get("before"), change.get("after")
    if before is None or after is None:
        return [], {}  # created or deleted as a whole
    paths: list[str] = []
    _diff(before, after, "", paths)
    for path, unknown in _leaves(change.get("after_unknown") or {}, ""):
        if unknown is True and path not in paths:
            paths.append(path)
    values: dict[str, list[Any]] = {}
    for path in paths:
        b, a = _lookup(before, path), _lookup(after, path)
        if isinstance(b, Mapping | list) or isinstance(a, Mapping | list):
            continue
        masked = bool(_lookup(change.get("before_sensitive"), path) or _lookup(change.get("after_sensitive"), path))
        unknown = _lookup(change.get("after_unknown"), path) is True
        values[path] = [_shown(b, masked), "(known after apply)" if unknown else _shown(a, masked)]
    return sorted(paths), values


def parse_drift(plan: Mapping[str, Any]) -> list[ChangedResource]:
    """What a plan JSON says differs: the managed `resource_changes` whose actions create, update or delete (not
    no-op, not a data source's read), and the `resource_drift` (changed outside Terraform) behind them.

    A drift entry counts only where the plan acts on it, with the attributes the plan would change back: the refresh
    also reports attributes that other resources of the same stack set (an S3 bucket's `versioning` or `policy`, set
    by aws_s3_bucket_versioning and aws_s3_bucket_policy), which nothing outside Terraform changed."""
    found = _entries(plan)
    planned = {r.address: r for r in found if r.source == "resource_changes"}
    kept: list[ChangedResource] = []
    for r in found:
        if r.source == "resource_changes":
            kept.append(r)
            continue
        acted = planned.get(r.address)
        if acted is None:
            continue
        if "update" in r.actions and "update" in acted.actions:
            attributes = [a for a in r.attributes if a in set(acted.attributes)]
            if not attributes:
                continue
            r = r.model_copy(
                update={"attributes": attributes, "values": {a: v for a, v in r.values.items() if a in attributes}}
            )
        kept.append(r)
    return sorted(kept, key=lambda r: (r.source != "resource_drift", r.address))


def _entries(plan: Mapping[str, Any]) -> list[ChangedResource]:
    found: list[ChangedResource] = []
    for source in ("resource_drift", "resource_changes"):
        for rc in plan.get(source) or []:
            if rc.get("mode", "managed") != "managed":
                continue
            change = rc.get("change") or {}
            actions = [str(a) for a in change.get("actions") or []]
            if not {"create", "update", "delete"} & set(actions):
                continue
            attributes, values = changed_attributes(change) if "update" in actions else ([], {})
            found.append(
                ChangedResource(
                    address=str(rc.get("address")),
                    source=source,  # type: ignore[arg-type]
                    actions=actions,
                    attributes=attributes,
                    values=values,
                )
            )
    return found


def execute_check(
    session: boto3.Session, store: DriftStore, run_store: Any, key: str, *, terraform_root: Path
) -> DriftCheck | None:
    """Run one queued check: plan-only, as the stack's plan role; record CLEAN, DRIFTED (with what differs) or
    FAILED. None when another worker holds it."""
    from vending.pipeline.runner import PipelineSpec, plan_only  # heavy; only the worker needs these
    from vending.pipeline.stacks import stack_dir_for

    queued = store.get(key)
    if queued is None:
        raise DriftCheckFailed(f"no drift check {key!r}")
    check = store.claim(queued)
    if check is None:
        logger.info("drift check not claimed", extra={"check": key, "status": queued.status})
        return None
    update: dict[str, Any]
    try:
        run = run_store.get(check.stack_run)
        if run is None or run.action != "apply" or run.status != RunStatus.SUCCEEDED:
            raise DriftCheckFailed(f"{check.stack_run} is no longer an applied stack")
        spec = PipelineSpec(
            stack_dir=stack_dir_for(run.stack_path, terraform_root, gpu_tier=run.variables.get("gpu_tier")),
            state_bucket=run.state_bucket,
            state_region=run.state_region,
            account_id=run.account_id,
            variables=run.variables,
            env=plan_credentials(session, run),
            stages=("init", "plan"),
        )
        planned = plan_only(spec)
        if planned.exit_code in (0, 2) and planned.plan is not None:
            status = DriftStatus.DRIFTED if planned.exit_code == 2 else DriftStatus.CLEAN
            resources = parse_drift(planned.plan)
            message = f"{len(resources)} resource(s) differ" if status == DriftStatus.DRIFTED else planned.message
            update = {"status": status, "resources": resources, "message": message}
        else:
            update = {"status": DriftStatus.FAILED, "resources": [], "message": planned.message[:2000]}
        update.update(commands=planned.commands, seconds=round(planned.seconds, 3))
    except VendingError as e:
        update = {"status": DriftStatus.FAILED, "message": f"{type(e).__name__}: {e}"[:2000]}
    except Exception as e:  # a crash is an unchecked stack, never a clean one
        update = {"status": DriftStatus.FAILED, "message": f"drift check crashed: {type(e).__name__}: {e}"[:2000]}
    done = check.model_copy(update={**update, "checked_at": now()})
    if not store.finish(done):
        logger.info("drift check superseded", extra={"check": key, "attempt": done.attempt})
    logger.info("drift check finished", extra={"check": key, "status": done.status, "detail": done.message[:300]})
    return done


def run_check_safely(session: boto3.Session, key: str, *, runs_table: str, terraform_root: Path) -> None:
    """A worker thread's entry: a crash marks the check FAILED instead of leaving it RUNNING."""
    from vending.pipeline.orchestration import RunStore

    dynamodb = session.client("dynamodb")
    store = DriftStore(dynamodb, runs_table)
    try:
        execute_check(session, store, RunStore(dynamodb, runs_table), key, terraform_root=terraform_root)
    except Exception:
        logger.exception("drift worker crashed", extra={"check": key})
        with contextlib.suppress(Exception):
            found = store.get(key)
            if found is not None and found.status in IN_PROGRESS:
                store.finish(found.model_copy(update={"status": DriftStatus.FAILED, "message": "drift worker crashed"}))


def checks_for_audit(dynamodb: Any, table: str, records: Iterable[RequestRecord]) -> list[dict[str, Any]]:
    """The last check of each stack applied now, as the audit reads them (vending.guardrails.audit.drift_findings)."""
    runs, checks = scan_table(dynamodb, table)
    return [c.model_dump(mode="json") for c in current_checks(runs, checks, records)]
