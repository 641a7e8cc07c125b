"""Account creation, status polling, placement and tagging in AWS Organizations.

At scale: an account is found through its request record (the CreateAccountRequestId and the account id are saved
there), never by listing the organization per vend. The one exception is CreateAccount failing with
EMAIL_ALREADY_EXISTS (an account made outside this service, or a record lost): then one ListAccounts walk finds the
owner to adopt; that is rare and bounded by one per such failure. Creations in flight are bounded by CreationSlots,
a DynamoDB semaphore shared by every execution.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vending.aws.dynamo import marshal, unmarshal
from vending.aws.errors import error_code, is_transient, raise_if_throttled
from vending.exceptions import AccountCreationFailed, AccountCreationTimedOut, OrganizationsThrottled
from vending.layout import Layout
from vending.lifecycle import RequestStore, Status
from vending.org_tree import ensure_ou_path, parent_of
from vending.request import VendingRequest

logger = Logger(child=True)

MAX_IN_FLIGHT_CREATIONS = 5  # Organizations allows 5 CreateAccount requests in progress at once
CREATION_LEASE_SECONDS = 3600  # a holder that died frees its slot after this; creations take minutes


class CreationState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"


class AccountProgress(BaseModel):
    account_id: str | None = None
    create_account_request_id: str | None = None
    state: CreationState
    adopted: bool = False
    polls: int = 0
    wait_seconds: int = 1  # the next WaitForAccount (backoff)


def backoff_seconds(polls: int, *, base: int, factor: float, cap: int) -> int:
    return max(1, min(cap, round(base * factor**polls)))


class CreationSlots:
    """A counting semaphore over Organizations' 5-creations-in-flight quota, shared by every execution.

    One item per slot (`slot` = "0".."4"). Taking a slot is a conditional put that succeeds only if the slot is
    free, expired, or already ours, so two executions can never hold the same slot (no check-then-act). A lease
    expires after `lease_seconds`, so a holder that died never blocks the quota for good. Released when the creation
    SUCCEEDED or FAILED."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        size: int = MAX_IN_FLIGHT_CREATIONS,
        lease_seconds: int = CREATION_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ddb, self._table, self.size, self._lease, self._clock = dynamodb, table, size, lease_seconds, clock

    def create_table(self) -> None:
        """For the emulator and tests; in AWS the platform's infrastructure code owns the table."""
        self._ddb.create_table(
            TableName=self._table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "slot", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "slot", "KeyType": "HASH"}],
        )

    def _order(self, holder: str) -> list[int]:
        first = zlib.crc32(holder.encode()) % self.size  # spread contenders over the slots
        return [(first + i) % self.size for i in range(self.size)]

    def acquire(self, holder: str) -> int | None:
        """The slot now leased to `holder` (the one it already had, when a step is retried), or None if all are
        taken."""
        now = int(self._clock())
        held = self.held_by(holder)
        for slot in [held] if held is not None else self._order(holder):
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item=marshal({"slot": str(slot), "holder": holder, "expires_at": now + self._lease}),
                    ConditionExpression="attribute_not_exists(holder) OR holder = :me OR expires_at < :now",
                    ExpressionAttributeValues=marshal({":me": holder, ":now": now}),
                )
                return slot
            except ClientError as e:
                if error_code(e) != "ConditionalCheckFailedException":
                    raise
        return None

    def held_by(self, holder: str) -> int | None:
        keys = [marshal({"slot": str(i)}) for i in range(self.size)]
        got = self._ddb.batch_get_item(RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
        now = int(self._clock())
        for item in map(unmarshal, got["Responses"].get(self._table, [])):
            if item.get("holder") == holder and int(item["expires_at"]) >= now:
                return int(item["slot"])
        return None

    def release(self, holder: str) -> None:
        """Free whatever slot `holder` has; a no-op when it has none (conditional on the holder)."""
        held = self.held_by(holder)
        if held is None:
            return
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=marshal({"slot": str(held)}),
                ConditionExpression="holder = :me",
                ExpressionAttributeValues=marshal({":me": holder}),
            )
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise


def account_name(request: VendingRequest) -> str:
    return f"{request.team}-{request.stage}"


def find_account_by_email(org: Any, email: str) -> str | None:
    """O(accounts): only after CreateAccount said EMAIL_ALREADY_EXISTS (see the module docstring)."""
    for page in org.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            if account["Email"].lower() == email.lower() and account["Status"] != "SUSPENDED":
                return str(account["Id"])
    return None


def start_account_creation(
    org: Any,
    store: RequestStore,
    request: VendingRequest,
    layout: Layout,
    slots: CreationSlots | None = None,
    *,
    wait_seconds: int = 1,
) -> AccountProgress:
    """Start CreateAccount once: the request id is saved before anyone polls, because CreateAccount is not
    idempotent. Takes a creation slot first; none free is the retryable OrganizationsThrottled."""
    record = store.update(request.request_id, status=Status.CREATING, step="CreateAccount")
    if record.account_id:
        logger.info("account already known; skipping creation", extra={"account_id": record.account_id})
        return AccountProgress(
            account_id=record.account_id,
            state=CreationState.SUCCEEDED,
            adopted=record.adopted,
            create_account_request_id=record.create_account_request_id,
        )
    if record.create_account_request_id:
        logger.info("creation already started; polling it", extra={"car_id": record.create_account_request_id})
        return AccountProgress(
            create_account_request_id=record.create_account_request_id,
            state=CreationState.IN_PROGRESS,
            wait_seconds=wait_seconds,
        )
    email = layout.account_email(request.team, request.stage, record.generation)
    if slots is not None and slots.acquire(request.request_id) is None:
        raise OrganizationsThrottled(f"all {slots.size} account creation slots are in use")
    try:
        status = org.create_account(
            Email=email,
            AccountName=account_name(request),
            IamUserAccessToBilling="DENY",
            RoleName=layout.organization.access_role_name,
            Tags=[{"Key": k, "Value": v} for k, v in cost_tags(request).items()],
        )["CreateAccountStatus"]
    except ClientError as e:
        if slots is not None:
            slots.release(request.request_id)
        raise_if_throttled(e, "CreateAccount")
        raise AccountCreationFailed(f"CreateAccount for {email}: {error_code(e)}: {e}") from e
    store.update(request.request_id, step="CreateAccount", create_account_request_id=status["Id"], account_email=email)
    logger.info("account creation started", extra={"car_id": status["Id"], "state": status["State"]})
    return AccountProgress(
        create_account_request_id=status["Id"],
        state=CreationState.IN_PROGRESS,
        account_id=status.get("AccountId"),
        wait_seconds=wait_seconds,
    )


def check_account_creation(
    org: Any,
    store: RequestStore,
    request: VendingRequest,
    progress: AccountProgress,
    *,
    max_polls: int,
    slots: CreationSlots | None = None,
    base_seconds: int = 1,
    backoff: float = 2.0,
    cap_seconds: int = 60,
) -> AccountProgress:
    """One poll; the next wait grows by `backoff` up to the cap. SUCCEEDED or FAILED frees the creation slot.
    EMAIL_ALREADY_EXISTS means a racing or earlier creation won: adopt that account."""
    if progress.state == CreationState.SUCCEEDED and progress.account_id:
        return progress
    polls = progress.polls + 1
    try:
        status = org.describe_create_account_status(CreateAccountRequestId=progress.create_account_request_id)[
            "CreateAccountStatus"
        ]
    except ClientError as e:
        raise_if_throttled(e, "DescribeCreateAccountStatus")
        if is_transient(e):  # a 5xx: the handler makes it AwsTransient, retried; never a failed creation
            raise
        raise AccountCreationFailed(f"DescribeCreateAccountStatus: {error_code(e)}") from e
    state = status["State"]
    if state in {"SUCCEEDED", "FAILED"} and slots is not None:
        slots.release(request.request_id)
    if state == "SUCCEEDED":
        store.update(request.request_id, step="CheckAccountStatus", account_id=status["AccountId"])
        logger.info("account created", extra={"account_id": status["AccountId"], "polls": polls})
        return progress.model_copy(
            update={"state": CreationState.SUCCEEDED, "account_id": status["AccountId"], "polls": polls}
        )
    if state == "FAILED":
        reason = status.get("FailureReason", "UNKNOWN")
        if reason == "EMAIL_ALREADY_EXISTS":
            email = store.require(request.request_id).account_email or ""
            adopted = find_account_by_email(org, email)
            if adopted:
                store.update(request.request_id, step="CheckAccountStatus", account_id=adopted, adopted=True)
                logger.info("e-mail already in the org; adopted", extra={"account_id": adopted})
                return progress.model_copy(
                    update={"state": CreationState.SUCCEEDED, "account_id": adopted, "adopted": True, "polls": polls}
                )
        # Forget the request id so a resume starts a fresh creation instead of re-reading this failure.
        store.update(request.request_id, step="CheckAccountStatus", create_account_request_id=None)
        raise AccountCreationFailed(f"CreateAccount {progress.create_account_request_id} failed: {reason}")
    if polls >= max_polls:
        raise AccountCreationTimedOut(f"account still {state} after {polls} polls")
    wait = backoff_seconds(polls, base=base_seconds, factor=backoff, cap=cap_seconds)
    return progress.model_copy(update={"state": CreationState.IN_PROGRESS, "polls": polls, "wait_seconds": wait})


def cost_tags(request: VendingRequest) -> dict[str, str]:
    return {
        "team": request.team,
        "stage": request.stage,
        "cost-center": request.cost_center,
        "gpu-tier": request.gpu_tier,
        "owner": request.owner_email,
    }


def place_in_ou(
    org: Any, store: RequestStore, request: VendingRequest, layout: Layout, account_id: str
) -> dict[str, str]:
    """Create the stage OU path if missing and move the account there (a no-op when it is already there)."""
    store.update(request.request_id, status=Status.PLACING, step="PlaceInOu")
    path = layout.ou_for_stage(request.stage)
    target = ensure_ou_path(org, path)
    try:
        current = parent_of(org, account_id)
        if current != target:
            org.move_account(AccountId=account_id, SourceParentId=current, DestinationParentId=target)
            logger.info("account moved", extra={"from": current, "to": target, "ou": path})
        else:
            logger.info("account already in its OU", extra={"ou": path})
    except ClientError as e:
        raise_if_throttled(e, "MoveAccount")
        if error_code(e) != "DuplicateAccountException":
            raise
    store.update(request.request_id, step="PlaceInOu", ou_path=path, ou_id=target)
    return {"ou_path": path, "ou_id": target}


def tag_account(org: Any, store: RequestStore, request: VendingRequest, account_id: str) -> dict[str, str]:
    """TagResource overwrites keys, so this is safe to repeat."""
    tags = cost_tags(request)
    try:
        org.tag_resource(ResourceId=account_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    except ClientError as e:
        raise_if_throttled(e, "TagResource")
        raise
    store.update(request.request_id, step="TagAccount")
    return tags
