"""Recorded approvals for the `approval` stage: who approved which plan of which stack, and when.

An approval is bound to a plan digest (a hash of the plan's resource changes), so approving one plan never approves
a different one that a later run produces. The runner never waits in-process (house style: no polling inside a
Lambda): it records a pending request and returns; after `vend pipeline approve`, the next run re-plans, finds the
same digest approved and applies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from vending.aws.dynamo import ModelTable
from vending.exceptions import ApprovalNotFound, InvalidRequest
from vending.settings import REPO_ROOT

APPROVALS_FILE_ENV = "VEND_APPROVALS_FILE"
APPROVALS_TABLE_ENV = "VEND_APPROVALS_TABLE"
Status = Literal["pending", "approved"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pending(stack: str, plan_digest: str, summary: str) -> Approval:
    return Approval(stack=stack, plan_digest=plan_digest, status="pending", requested_at=_now(), summary=summary)


class Approval(BaseModel):
    model_config = ConfigDict(frozen=True)

    stack: str
    plan_digest: str
    status: Status
    requested_at: str
    summary: str = ""
    approved_by: str | None = None
    approved_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class ApprovalStore(Protocol):
    def get(self, stack: str, plan_digest: str) -> Approval | None: ...

    def request(self, stack: str, plan_digest: str, summary: str) -> Approval: ...

    def approve(self, stack: str, by: str, plan_digest: str | None = None) -> Approval: ...

    def list(self, stack: str | None = None) -> list[Approval]: ...


def _latest_pending(items: list[Approval], stack: str, plan_digest: str | None) -> Approval:
    pending = [
        a
        for a in items
        if a.stack == stack and a.status == "pending" and (plan_digest is None or a.plan_digest == plan_digest)
    ]
    if not pending:
        raise ApprovalNotFound(
            f"no pending approval for {stack}"
            + (f" plan {plan_digest}" if plan_digest else "")
            + ": run the pipeline first so it records the plan to approve"
        )
    return max(pending, key=lambda a: a.requested_at)


class FileApprovalStore:
    """A JSON file (default .vend/pipeline-approvals.json, or $VEND_APPROVALS_FILE), locked with flock."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(os.environ.get(APPROVALS_FILE_ENV) or REPO_ROOT / ".vend" / "pipeline-approvals.json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
                os.replace(tmp, self.path)

    @staticmethod
    def _key(stack: str, plan_digest: str) -> str:
        return f"{stack}@{plan_digest}"

    def get(self, stack: str, plan_digest: str) -> Approval | None:
        with self._locked() as data:
            item = data.get(self._key(stack, plan_digest))
        return Approval(**item) if item else None

    def request(self, stack: str, plan_digest: str, summary: str) -> Approval:
        with self._locked() as data:
            key = self._key(stack, plan_digest)
            if key not in data:
                data[key] = _pending(stack, plan_digest, summary).to_dict()
            return Approval(**data[key])

    def approve(self, stack: str, by: str, plan_digest: str | None = None) -> Approval:
        if not by.strip():
            raise InvalidRequest("an approval needs the approver's name (--by)")
        with self._locked() as data:
            target = _latest_pending([Approval(**v) for v in data.values()], stack, plan_digest)
            approved = Approval(**{**target.to_dict(), "status": "approved", "approved_by": by, "approved_at": _now()})
            data[self._key(stack, target.plan_digest)] = approved.to_dict()
            return approved

    def list(self, stack: str | None = None) -> list[Approval]:
        with self._locked() as data:
            items = [Approval(**v) for v in data.values()]
        return sorted((a for a in items if stack is None or a.stack == stack), key=lambda a: a.requested_at)


class DynamoDbApprovalStore:
    """A DynamoDB table keyed by `stack` (hash) and `plan_digest` (range); approve is a conditional update."""

    def __init__(self, client: Any, table_name: str | None = None) -> None:
        self.client = client
        self.table = table_name or os.environ.get(APPROVALS_TABLE_ENV) or "vending-pipeline-approvals"
        self._items = ModelTable(client, self.table, Approval, keys=("stack", "plan_digest"))

    def create_table(self) -> None:
        """For the emulator and tests; in AWS the platform's infrastructure code owns the table."""
        self.client.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "stack", "KeyType": "HASH"},
                {"AttributeName": "plan_digest", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "stack", "AttributeType": "S"},
                {"AttributeName": "plan_digest", "AttributeType": "S"},
            ],
        )

    def get(self, stack: str, plan_digest: str) -> Approval | None:
        return self._items.get(stack, plan_digest)

    def request(self, stack: str, plan_digest: str, summary: str) -> Approval:
        approval = _pending(stack, plan_digest, summary)
        try:
            self._items.put(approval, condition="attribute_not_exists(plan_digest)")
        except self.client.exceptions.ConditionalCheckFailedException:
            existing = self.get(stack, plan_digest)
            if existing:
                return existing
            raise
        return approval

    def approve(self, stack: str, by: str, plan_digest: str | None = None) -> Approval:
        if not by.strip():
            raise InvalidRequest("an approval needs the approver's name (--by)")
        target = _latest_pending(self.list(stack), stack, plan_digest)
        try:
            return self._items.update(
                stack,
                target.plan_digest,
                expression="SET #s = :approved, approved_by = :by, approved_at = :at",
                condition="#s = :pending",
                names={"#s": "status"},
                values={":approved": "approved", ":pending": "pending", ":by": by, ":at": _now()},
            )
        except self.client.exceptions.ConditionalCheckFailedException as e:
            raise ApprovalNotFound(f"{stack} plan {target.plan_digest} was approved meanwhile") from e

    def list(self, stack: str | None = None) -> list[Approval]:
        items = self._items.scan() if stack is None else self._items.query(stack)
        return sorted(items, key=lambda a: a.requested_at)
