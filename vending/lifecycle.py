"""The request lifecycle, stored in DynamoDB: PENDING -> ... -> READY, or FAILED with the step and reason.

Every write is conditional, so a retried step or a racing duplicate can never move a request backwards
or give one team and stage two owners.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, computed_field

from vending.aws.dynamo import ModelTable
from vending.aws.errors import error_code
from vending.exceptions import ConcurrentUpdate, RequestNotFound, ReservationConflict
from vending.layout import cached_layout
from vending.request import VendingRequest


class Status(StrEnum):
    PENDING = "PENDING"
    CREATING = "CREATING"
    PLACING = "PLACING"
    GUARDRAILS = "GUARDRAILS"
    BOOTSTRAPPING = "BOOTSTRAPPING"
    PIPELINES = "PIPELINES"
    READY = "READY"
    FAILED = "FAILED"
    # Day 2 (vending.changes, vending.retirement): READY -> UPDATING -> READY for changes, and
    # RETIRING -> SUSPENDED -> (PENDING_CLOSURE) -> CLOSED for retirement.
    UPDATING = "UPDATING"
    RETIRING = "RETIRING"
    SUSPENDED = "SUSPENDED"
    PENDING_CLOSURE = "PENDING_CLOSURE"
    CLOSED = "CLOSED"


# A vending execution owns the record in these; day-2 states are owned by the lifecycle workflow instead.
VENDING = frozenset(
    {Status.PENDING, Status.CREATING, Status.PLACING, Status.GUARDRAILS, Status.BOOTSTRAPPING, Status.PIPELINES}
)
RETIRED = frozenset({Status.RETIRING, Status.SUSPENDED, Status.PENDING_CLOSURE, Status.CLOSED})
# Decommissioned, the closure not yet requested: the retirement still owns the record, so a re-onboarding waits.
AWAITING_CLOSURE = frozenset({Status.RETIRING, Status.SUSPENDED})
# CloseAccount accepted (PENDING_CLOSURE: AWS finishes it within 90 days) or done: the account never comes back, so a
# team re-onboarded gets a new account at once (RequestStore.reserve re-opens the record with a new generation).
REOPENABLE = frozenset({Status.PENDING_CLOSURE, Status.CLOSED})
IN_FLIGHT = VENDING | {Status.UPDATING} | AWAITING_CLOSURE


# The requests table's index by account e-mail: the intake's ownership check reads one item per owner, not the table.
EMAIL_INDEX = "by-account-email"
EMAIL_KEY = "email_key"


def requests_table_definition(name: str) -> dict[str, Any]:
    """CreateTable arguments of the requests table with its e-mail index (the emulator and the tests; the CDK stack
    declares the same index: landing_zone/cdk/storage.py)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "request_id", "AttributeType": "S"},
            {"AttributeName": EMAIL_KEY, "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "request_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": EMAIL_INDEX,
                "KeySchema": [{"AttributeName": EMAIL_KEY, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["team"]},
            }
        ],
    }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Transition(BaseModel):
    status: Status
    step: str
    at: str


class RequestRecord(BaseModel):
    request_id: str
    team: str
    stage: str
    status: Status
    request: dict[str, Any]
    execution_name: str = ""
    attempts: int = 1
    step: str = ""
    account_id: str | None = None
    account_email: str | None = None
    create_account_request_id: str | None = None
    adopted: bool = False
    ou_path: str | None = None
    ou_id: str | None = None
    scps: list[str] = Field(default_factory=list)
    state_bucket: str | None = None
    ci_role_arn: str | None = None
    pipelines: dict[str, Any] = Field(default_factory=dict)
    failed_step: str | None = None
    failure_reason: str | None = None
    history: list[Transition] = Field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    version: int = 1  # bumped on every write; the condition of the next one
    # Day 2: how many accounts this team+stage has had (a closed account keeps its e-mail, so the next one needs a
    # new address: Layout.account_email(..., generation)); the account ids retired before this one.
    generation: int = 0
    retired_accounts: list[str] = Field(default_factory=list)
    # Day 2: the change that holds the record (vending.changes), written by the one conditional write that files it,
    # so concurrent filers, approvers and decommissions are settled on this item; a copy of the change record, so a
    # filer that stopped before writing the changes table loses nothing. change_seq numbers the changes.
    open_change: dict[str, Any] | None = None
    change_seq: int = 0
    claim: str = ""  # the token of the last RequestStore.claim, so a claimer recognizes its own write answered late
    # A change that failed while it ran: the record keeps its intent, and the resume that converges the account to it
    # records the change APPLIED (vending.changes.settle_resumed_change), so its history never says FAILED for good.
    failed_change: str | None = None
    # The tier's Service Quotas in each region as the last converge left them (vending.quotas.QuotaState dumps).
    quotas: list[dict[str, Any]] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def email_key(self) -> str:
        """The account e-mail this record owns, lower-cased (its account's, else the one the layout derives for this
        team, stage and generation): the key of EMAIL_INDEX, written with every write of the record."""
        owned = self.account_email or cached_layout().account_email(self.team, self.stage, self.generation)
        return owned.lower()


class RequestStore:
    """The requests table. Items: request_id (key), status (for conditions) and the record as JSON."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._items = ModelTable(
            dynamodb,
            table,
            RequestRecord,
            keys=("request_id",),
            projected=("status", "team", "updated_at", "version", EMAIL_KEY),
            body="record",
        )

    def get(self, request_id: str) -> RequestRecord | None:
        return self._items.get(request_id)

    def require(self, request_id: str) -> RequestRecord:
        record = self.get(request_id)
        if record is None:
            raise RequestNotFound(f"no vending request {request_id!r}")
        return record

    def list(self, *, team: str | None = None, status: str | None = None) -> list[RequestRecord]:
        return sorted(
            (
                r
                for r in self._items.scan()
                if (team is None or r.team == team) and (status is None or r.status == status)
            ),
            key=lambda r: r.request_id,
        )

    def reserve(self, request: VendingRequest, execution: str) -> RequestRecord:
        """Claim team+stage for this execution. READY is returned as is; FAILED is resumed in place."""
        record = RequestRecord(
            request_id=request.request_id,
            team=request.team,
            stage=request.stage,
            status=Status.PENDING,
            request=request.model_dump(mode="json"),
            execution_name=execution,
            step="Reserve",
            history=[Transition(status=Status.PENDING, step="Reserve", at=now())],
            created_at=now(),
            updated_at=now(),
        )
        try:
            self._put(record, condition="attribute_not_exists(request_id)")
            return record
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
        existing = self.require(request.request_id)
        if existing.status in REOPENABLE:
            return self._reopen(existing, request, execution)
        if existing.status == Status.READY or existing.execution_name == execution:
            return existing  # already done, or this very execution retrying its Reserve step
        if existing.status in IN_FLIGHT:
            raise ReservationConflict(
                f"{request.request_id} is {existing.status} under execution {existing.execution_name}"
            )
        # FAILED: resume. Keep what earlier attempts achieved (account id, bucket...) so steps can skip.
        resumed = existing.model_copy(
            update={
                "status": Status.PENDING,
                "execution_name": execution,
                "attempts": existing.attempts + 1,
                "request": request.model_dump(mode="json"),
                "failed_step": None,
                "failure_reason": None,
                "step": "Reserve",
                "updated_at": now(),
                "history": [*existing.history, Transition(status=Status.PENDING, step="Reserve", at=now())],
                "version": existing.version + 1,
            }
        )
        try:
            self._put(resumed, condition="version = :seen", values={":seen": existing.version})
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
            # The SDK retries a write whose answer was lost (a read timeout after DynamoDB applied it); the retry
            # then fails its condition on our own write. Only another execution's claim is a conflict.
            current = self.require(request.request_id)
            if current.execution_name == execution and current.status in IN_FLIGHT:
                return current
            raise ReservationConflict(f"{request.request_id} was resumed by another execution first") from e
        return resumed

    def _reopen(self, closed: RequestRecord, request: VendingRequest, execution: str) -> RequestRecord:
        """A team re-onboarded after its account was closed (or its closure requested) gets a new account: forget the
        old one's resources. The closure queue keeps closing the old one; it no longer names this record's account."""
        fresh = closed.model_copy(
            update={
                "status": Status.PENDING,
                "execution_name": execution,
                "attempts": closed.attempts + 1,
                "request": request.model_dump(mode="json"),
                "step": "Reserve",
                "updated_at": now(),
                "account_id": None,
                "account_email": None,
                "create_account_request_id": None,
                "adopted": False,
                "ou_path": None,
                "ou_id": None,
                "scps": [],
                "state_bucket": None,
                "ci_role_arn": None,
                "pipelines": {},
                "failed_step": None,
                "failure_reason": None,
                "generation": closed.generation + 1,
                "retired_accounts": [*closed.retired_accounts, *([closed.account_id] if closed.account_id else [])],
                "history": [*closed.history, Transition(status=Status.PENDING, step="Reserve", at=now())],
                "version": closed.version + 1,
            }
        )
        try:
            self._put(fresh, condition="version = :seen", values={":seen": closed.version})
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
            raise ReservationConflict(f"{request.request_id} was re-opened by another execution first") from e
        return fresh

    def update(self, request_id: str, *, status: Status | None = None, step: str, **fields: Any) -> RequestRecord:
        """Record progress of a step (optimistic concurrency on version; a lost race re-reads and retries)."""
        for _ in range(5):
            record = self.require(request_id)
            changes: dict[str, Any] = {"step": step, "updated_at": now(), **fields}
            if status is not None and status != record.status:
                changes["status"] = status
                changes["history"] = [*record.history, Transition(status=status, step=step, at=now())]
            updated = record.model_copy(update={**changes, "version": record.version + 1})
            try:
                self._put(updated, condition="version = :seen", values={":seen": record.version})
                return RequestRecord.model_validate(updated.model_dump())
            except ClientError as e:
                if error_code(e) != "ConditionalCheckFailedException":
                    raise
        raise ConcurrentUpdate(f"{request_id}: record kept changing under step {step}")

    def claim(
        self, seen: RequestRecord, *, step: str, status: Status | None = None, **fields: Any
    ) -> RequestRecord | None:
        """One conditional write on the version the caller decided from: the record as written, or None when anything
        wrote it since (the caller re-reads and decides again, so of racing callers exactly one wins)."""
        token = uuid.uuid4().hex
        changes: dict[str, Any] = {
            "step": step,
            "updated_at": now(),
            **fields,
            "version": seen.version + 1,
            "claim": token,
        }
        if status is not None and status != seen.status:
            changes["status"] = status
            changes["history"] = [*seen.history, Transition(status=status, step=step, at=now())]
        claimed = seen.model_copy(update=changes)
        try:
            self._put(claimed, condition="version = :seen", values={":seen": seen.version})
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
            # The SDK retries a write whose answer was lost; the retry then fails its condition on our own write.
            current = self.require(seen.request_id)
            return current if current.claim == token else None
        return RequestRecord.model_validate(claimed.model_dump())

    def transition(
        self, request_id: str, *, expect: frozenset[Status], status: Status, step: str, **fields: Any
    ) -> RequestRecord:
        """Move to `status` only from one of `expect`, atomically (the day-2 workflows' guard against a racing vend
        or a second change): a record in any other state raises ChangeNotAllowed and is left as it was."""
        from vending.exceptions import ChangeNotAllowed

        for _ in range(5):
            record = self.require(request_id)
            if record.status not in expect:
                owner = f" under execution {record.execution_name}" if record.status in VENDING else ""
                raise ChangeNotAllowed(
                    f"request: {request_id} is {record.status.value}{owner}; {step} needs {' or '.join(sorted(expect))}"
                )
            updated = record.model_copy(
                update={
                    "step": step,
                    "updated_at": now(),
                    "status": status,
                    **fields,
                    "version": record.version + 1,
                    "history": [*record.history, Transition(status=status, step=step, at=now())],
                }
            )
            try:
                self._put(updated, condition="version = :seen", values={":seen": record.version})
                return RequestRecord.model_validate(updated.model_dump())
            except ClientError as e:
                if error_code(e) != "ConditionalCheckFailedException":
                    raise
        raise ConcurrentUpdate(f"{request_id}: record kept changing under step {step}")

    def owners_of_email(self, email: str) -> tuple[tuple[str, str], ...]:
        """(request id, team) of every record owning this account e-mail, read from EMAIL_INDEX: as many items as
        owners, whatever the size of the table."""
        found = self._items.query_index(EMAIL_INDEX, EMAIL_KEY, email.lower())
        return tuple((str(i["request_id"]), str(i["team"])) for i in found)

    def _put(self, record: RequestRecord, *, condition: str, values: dict[str, Any] | None = None) -> None:
        names = {"#s": "status"} if "#s" in condition else None
        self._items.put(record, condition=condition, names=names, values=values)
