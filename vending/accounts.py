"""Account creation, status polling, placement and tagging in AWS Organizations."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vending.aws.errors import error_code, raise_if_throttled
from vending.exceptions import AccountCreationFailed, AccountCreationTimedOut, OrganizationsThrottled
from vending.layout import Layout
from vending.lifecycle import RequestStore, Status
from vending.org_tree import ensure_ou_path, parent_of
from vending.request import VendingRequest

logger = Logger(child=True)

MAX_IN_FLIGHT_CREATIONS = 5  # Organizations allows 5 CreateAccount requests in progress at once


class CreationState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"


class AccountProgress(BaseModel):
    account_id: str | None = None
    create_account_request_id: str | None = None
    state: CreationState
    adopted: bool = False
    polls: int = 0


def account_name(request: VendingRequest) -> str:
    return f"{request.team}-{request.stage}"


def find_account_by_email(org: Any, email: str) -> str | None:
    for page in org.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            if account["Email"].lower() == email.lower() and account["Status"] != "SUSPENDED":
                return str(account["Id"])
    return None


def in_flight_creations(org: Any) -> int:
    pages = org.get_paginator("list_create_account_status").paginate(States=["IN_PROGRESS"])
    return sum(len(page["CreateAccountStatuses"]) for page in pages)


def start_account_creation(org: Any, store: RequestStore, request: VendingRequest, layout: Layout) -> AccountProgress:
    """Start CreateAccount once. The request id is saved before anyone polls, and an account that already
    owns the e-mail is adopted, because CreateAccount itself is not idempotent."""
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
            create_account_request_id=record.create_account_request_id, state=CreationState.IN_PROGRESS
        )
    email = layout.account_email(request.team, request.stage)
    try:
        existing = find_account_by_email(org, email)
        if existing:
            logger.info("adopting the account that owns the e-mail", extra={"account_id": existing})
            store.update(
                request.request_id, step="CreateAccount", account_id=existing, account_email=email, adopted=True
            )
            return AccountProgress(account_id=existing, state=CreationState.SUCCEEDED, adopted=True)
        if in_flight_creations(org) >= MAX_IN_FLIGHT_CREATIONS:
            raise OrganizationsThrottled("5 account creations already in progress")
        status = org.create_account(
            Email=email,
            AccountName=account_name(request),
            IamUserAccessToBilling="DENY",
            RoleName=layout.organization.access_role_name,
            Tags=[{"Key": k, "Value": v} for k, v in cost_tags(request).items()],
        )["CreateAccountStatus"]
    except ClientError as e:
        raise_if_throttled(e, "CreateAccount")
        raise AccountCreationFailed(f"CreateAccount for {email}: {error_code(e)}: {e}") from e
    store.update(request.request_id, step="CreateAccount", create_account_request_id=status["Id"], account_email=email)
    logger.info("account creation started", extra={"car_id": status["Id"], "state": status["State"]})
    return AccountProgress(
        create_account_request_id=status["Id"], state=CreationState.IN_PROGRESS, account_id=status.get("AccountId")
    )


def check_account_creation(
    org: Any, store: RequestStore, request: VendingRequest, progress: AccountProgress, *, max_polls: int
) -> AccountProgress:
    """One poll. EMAIL_ALREADY_EXISTS means a racing or earlier creation won: adopt that account."""
    if progress.state == CreationState.SUCCEEDED and progress.account_id:
        return progress
    polls = progress.polls + 1
    try:
        status = org.describe_create_account_status(CreateAccountRequestId=progress.create_account_request_id)[
            "CreateAccountStatus"
        ]
    except ClientError as e:
        raise_if_throttled(e, "DescribeCreateAccountStatus")
        raise AccountCreationFailed(f"DescribeCreateAccountStatus: {error_code(e)}") from e
    state = status["State"]
    if state == "SUCCEEDED":
        store.update(request.request_id, step="CheckAccountStatus", account_id=status["AccountId"])
        logger.info("account created", extra={"account_id": status["AccountId"], "polls": polls})
        return progress.model_copy(update={"state": state, "account_id": status["AccountId"], "polls": polls})
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
    return progress.model_copy(update={"state": CreationState.IN_PROGRESS, "polls": polls})


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
