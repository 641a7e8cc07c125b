"""The freezes table: one item per account, the fence's memory across restarts and the audit's intent.

An item is written before anything is attached (the record decides; the SCP follows it), by a conditional write, so
two fences racing on one reading make one freeze. Every later write is conditional on the freeze id it read: a step
marked done, a thaw filed, a thaw approved. The item keeps the last freeze of the account (THAWED once lifted).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from vending.aws.dynamo import ModelTable
from vending.aws.errors import error_code


class FreezeStatus(StrEnum):
    FROZEN = "FROZEN"
    THAWED = "THAWED"


class FreezeRecord(BaseModel):
    account_id: str
    freeze_id: str  # <request_id>@<frozen_at>: what every later conditional write names
    status: FreezeStatus
    team: str
    stage: str
    request_id: str
    tier: str
    # hourly/daily: the fence's meter crossed the cap; monthly: the Budgets backstop froze it (billing data crossed
    # the monthly budget) and the fence adopted that freeze (vending.spend.fence.adopt_backstop_freezes).
    cap: Literal["hourly", "daily", "monthly"]
    cap_usd: float
    reading_usd: float  # the reading that crossed the cap
    reading_at: str
    by_source: dict[str, float] = Field(default_factory=dict)
    frozen_at: str
    frozen_by: str  # the fence run that won the write
    on_freeze: Literal["keep_running", "stop"] = "keep_running"
    owner_email: str = ""
    reason: str = ""  # why, in words, where the cap does not say it all (an adopted backstop freeze)
    # The steps after the write; a fence that finds one missing completes it (a crash between the write and them).
    attached_at: str | None = None
    notify_claimed_by: str | None = None  # the run that publishes the notification (a conditional claim)
    notify_claimed_at: str | None = None
    notified_at: str | None = None
    stopped_instances: list[str] = Field(default_factory=list)
    stopped_at: str | None = None
    # The thaw: filed by one principal, approved by another (vending.spend.fence.approve_thaw).
    thaw_requested_by: str | None = None
    thaw_requested_session: str | None = None
    thaw_requested_at: str | None = None
    thaw_reason: str = ""
    thawed_by: str | None = None
    thawed_session: str | None = None
    thawed_at: str | None = None
    detached_at: str | None = None

    @property
    def complete(self) -> bool:
        stopped = self.on_freeze != "stop" or self.stopped_at is not None
        return self.attached_at is not None and self.notified_at is not None and stopped


PROJECTED = ("status", "freeze_id", "notify_claimed_by", "notify_claimed_at", "notified_at", "thaw_requested_by")


def freezes_table_definition(name: str) -> dict[str, Any]:
    """CreateTable arguments (the emulator and the tests; the CDK stack declares the same key)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
        "AttributeDefinitions": [{"AttributeName": "account_id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "account_id", "KeyType": "HASH"}],
    }


class FreezeStore:
    """Items: account_id (key), the projected fields conditions read, and the record as JSON."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._items = ModelTable(
            dynamodb, table, FreezeRecord, keys=("account_id",), projected=PROJECTED, body="freeze"
        )

    def get(self, account_id: str) -> FreezeRecord | None:
        return self._items.get(account_id)

    def list(self, *, status: FreezeStatus | None = None) -> list[FreezeRecord]:
        found = sorted(self._items.scan(), key=lambda r: (r.team, r.stage, r.account_id))
        return [r for r in found if status is None or r.status == status]

    def frozen_accounts(self) -> frozenset[str]:
        return frozenset(r.account_id for r in self.list(status=FreezeStatus.FROZEN))

    def frozen_or_none(self) -> frozenset[str] | None:
        """frozen_accounts, or None where the table does not exist (a deployment from before the fence): the audit then
        leaves freezes as they are instead of treating every one as unexpected."""
        try:
            return self.frozen_accounts()
        except ClientError as e:
            if error_code(e) != "ResourceNotFoundException":
                raise
            return None

    def claim(self, record: FreezeRecord, *, replacing: FreezeRecord | None) -> bool:
        """Write a new freeze: only where no freeze stands (none yet, or the thawed one the caller read). False when
        another writer got there first: exactly one of two racing fences wins."""
        if replacing is None:
            return self._try(record, "attribute_not_exists(account_id)", {}, {})
        return self._try(
            record,
            "#s = :thawed AND freeze_id = :seen",
            {"#s": "status"},
            {":thawed": FreezeStatus.THAWED.value, ":seen": replacing.freeze_id},
        )

    def save(self, record: FreezeRecord, *, expect: FreezeStatus, extra: str = "", **values: Any) -> bool:
        """Write `record` over the freeze it was read from (same freeze id, status `expect`); `extra` adds a condition
        with its `values` (named :v...). False when the item moved on (thawed, re-frozen, claimed by another)."""
        condition = "freeze_id = :seen AND #s = :expect" + (f" AND ({extra})" if extra else "")
        return self._try(
            record,
            condition,
            {"#s": "status"},
            {":seen": record.freeze_id, ":expect": expect.value, **values},
        )

    def _try(self, record: FreezeRecord, condition: str, names: dict[str, str], values: dict[str, Any]) -> bool:
        try:
            self._items.put(record, condition=condition, names=names or None, values=values or None)
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def __iter__(self) -> Iterator[FreezeRecord]:
        return iter(self.list())
