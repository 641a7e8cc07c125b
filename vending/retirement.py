"""Retiring a team account: quarantine at once, park it in the Suspended OU, archive its state, then close it.

Lifecycle: RETIRING -> SUSPENDED -> PENDING_CLOSURE -> CLOSED.
- Quarantine: the account's own SCPs become the quarantine policies rendered for the Suspended OU (the read-only
  allow-list plus the baseline) and FullAWSAccess is detached from it, so only the quarantine allow-list is allowed
  from that moment, before the (slower) move.
- Archive: every object version of the Terraform state bucket (and every delete marker, in the manifest) is copied
  into the platform archive bucket under `<account>/<bucket>/` before closure. The archive bucket is versioned,
  private and keeps objects for ARCHIVE_RETENTION_DAYS (lifecycle rule: Glacier after 90 days, expiry after 7 years);
  closed accounts keep their own data only for the 90-day post-closure period AWS gives.
- Closure: CloseAccount goes through a queue (a DynamoDB table) that drains as Organizations' closure quota allows
  (10 % of the member accounts per rolling 30 days, https://docs.aws.amazon.com/organizations/latest/APIReference/
  API_CloseAccount.html). A quota or throttling error leaves the item queued; each item is claimed with a
  conditional write before CloseAccount is called, so no account is ever closed twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from scps.render import FULL_AWS_ACCESS, render
from vending.aws.buckets import ensure_private_bucket
from vending.aws.dynamo import ModelTable
from vending.aws.errors import THROTTLING_CODES, error_code, raise_if_throttled
from vending.exceptions import AccountClosureFailed, ChangeNotAllowed, InvalidRequest
from vending.guardrails.account import _ensure_policies, _sync
from vending.guardrails.orgapi import Backoff, delete_policy
from vending.guardrails.snapshot import SCP, TAG_POLICY
from vending.layout import Layout
from vending.lifecycle import RequestRecord, RequestStore, Status, now
from vending.org_tree import ensure_ou_path, parent_of

logger = Logger(child=True)

ARCHIVE_RETENTION_DAYS = 2557  # 7 years: what the organization keeps a retired team's Terraform state for
ARCHIVE_GLACIER_AFTER_DAYS = 90
QUOTA_REASONS = frozenset({"CLOSE_ACCOUNT_QUOTA_EXCEEDED", "CLOSE_ACCOUNT_REQUESTS_LIMIT_EXCEEDED"})
RETIRABLE = frozenset({Status.READY, Status.FAILED})


def quarantine_ou(layout: Layout) -> str:
    """The OU whose guardrails carry the quarantine group (Suspended in the packaged layout)."""
    for path, groups in layout.guardrails.ou_guardrails.items():
        if "quarantine" in groups:
            return path
    raise InvalidRequest("layout: no OU carries the 'quarantine' guardrail group; nowhere to park a retired account")


def begin_retirement(store: RequestStore, request_id: str, execution: str) -> RequestRecord:
    record = store.require(request_id)
    if record.status == Status.RETIRING and record.execution_name == execution:
        return record  # this very execution retrying its first step
    if not record.account_id:
        raise ChangeNotAllowed(f"request: {request_id} has no account to retire")
    # A retirement that stopped part-way (RETIRING/SUSPENDED with a failure recorded) is re-run from the top: every
    # step is idempotent.
    return store.transition(
        request_id,
        expect=RETIRABLE | {Status.RETIRING, Status.SUSPENDED},
        status=Status.RETIRING,
        step="Quarantine",
        execution_name=execution,
    )


def quarantine_account(org: Any, layout: Layout, account_id: str, *, backoff: Backoff | None = None) -> list[str]:
    """Account-level SCPs := the Suspended OU's (the quarantine deny + baseline) beside FullAWSAccess; the workload
    policies come off. The account is never left without an SCP, nor without a deny while anything is allowed."""
    b = backoff or Backoff(attempts=4)
    r = render(layout)
    names = list(r.ou_policies[quarantine_ou(layout)])
    changes: list[str] = []
    ids = _ensure_policies(org, r, names, b, changes)
    # Fail closed on a full account, as ApplyGuardrails: FullAWSAccess off first and back last, so the tier and team
    # denies never come off while it allows and the quarantine is not yet on. It stays (or comes back): the platform's
    # roles, which the quarantine deny exempts, must still reach the account to close it.
    _sync(
        org,
        r,
        account_id,
        {*names, FULL_AWS_ACCESS},
        ids,
        b,
        changes,
        forbid_full_access=False,
        keep=frozenset(),
        fail_closed=True,
    )
    # The team's tag policy comes off too: it grants nothing, and a parked account belongs to no team any more.
    for p in b.pages(org, "list_policies_for_target", "Policies", TargetId=account_id, Filter=TAG_POLICY):
        if r.owns(p["Name"]):
            b.call(org.detach_policy, f"DetachPolicy {p['Name']}", PolicyId=p["Id"], TargetId=account_id)
            changes.append(f"detach_tag_policy {p['Name']} -> {account_id}")
    return changes


def forget_unlisted_team_policies(
    org: Any, layout: Layout, team: str, stage: str, *, backoff: Backoff | None = None
) -> list[str]:
    """A team the layout does not list has policies only its live records render (intent.layout_for_records): once its
    `stage` account is quarantined its per-stage SCP is attached to nothing, and its tag policy too once no other
    account of the team carries it. Delete those attached to nothing (left, the audit reports them as unrendered).
    A listed team's policies stay: the layout renders them whether an account uses them or not."""
    if layout.team(team) is not None:
        return []
    b = backoff or Backoff(attempts=4)
    prefix = layout.guardrails.policy_name_prefix
    deleted = []
    for policy_type, name in ((SCP, f"{prefix}team-{team}-{stage}"), (TAG_POLICY, f"{prefix}tags-{team}")):
        ids = {p["Name"]: p["Id"] for p in b.pages(org, "list_policies", "Policies", Filter=policy_type)}
        if name not in ids or list(b.pages(org, "list_targets_for_policy", "Targets", PolicyId=ids[name])):
            continue
        try:
            delete_policy(b, org, ids[name], policy_type, f"DeletePolicy {name}")  # settled if a retry finds it gone
            deleted.append(name)
        except ClientError as e:
            # Attached meanwhile (the team's other stage being vended): not ours to delete.
            if error_code(e) != "PolicyInUseException":
                raise
    return deleted


def move_to_quarantine_ou(org: Any, layout: Layout, account_id: str) -> dict[str, str]:
    path = quarantine_ou(layout)
    target = ensure_ou_path(org, path)
    try:
        current = parent_of(org, account_id)
        if current != target:
            org.move_account(AccountId=account_id, SourceParentId=current, DestinationParentId=target)
    except ClientError as e:
        raise_if_throttled(e, "MoveAccount")
        if error_code(e) != "DuplicateAccountException":
            raise
    return {"ou_path": path, "ou_id": target}


def retire_account(
    org: Any, store: RequestStore, layout: Layout, request_id: str, execution: str, *, suspend: bool = True
) -> RequestRecord:
    """RETIRING (quarantined at once) -> SUSPENDED (in the Suspended OU). Each part is idempotent. With
    `suspend=False` the account stays RETIRING in its OU, quarantined, while the pipeline destroys its stacks
    (`--destroy-stacks`: only the platform's roles, Terraform's among them, can act under the quarantine SCPs); the
    workflow calls it again with `suspend=True` once they are gone."""
    record = begin_retirement(store, request_id, execution)
    account_id = str(record.account_id)
    changes = quarantine_account(org, layout, account_id)
    logger.info("account quarantined", extra={"account_id": account_id, "changes": changes})
    if not suspend:
        return store.update(request_id, step="Quarantine")
    placed = move_to_quarantine_ou(org, layout, account_id)
    gone = forget_unlisted_team_policies(org, layout, record.team, record.stage)
    if gone:
        logger.info("policies only this account used deleted", extra={"account_id": account_id, "deleted": gone})
    return store.update(
        request_id,
        status=Status.SUSPENDED,
        step="Quarantine",
        **placed,
        scps=sorted(render(layout).ou_policies[placed["ou_path"]]),
    )


# --- archive -------------------------------------------------------------------------------------------------------


def ensure_archive_bucket(s3: Any, bucket: str, region: str = "us-east-1", *, kms_key_arn: str | None = None) -> None:
    """The platform archive: versioned, private, encrypted (with `kms_key_arn`, as the stack's platform key), kept
    ARCHIVE_RETENTION_DAYS."""
    ensure_private_bucket(s3, bucket, region=region, kms_key_arn=kms_key_arn)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "retired-account-retention",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Transitions": [{"Days": ARCHIVE_GLACIER_AFTER_DAYS, "StorageClass": "GLACIER"}],
                    "Expiration": {"Days": ARCHIVE_RETENTION_DAYS},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": ARCHIVE_RETENTION_DAYS},
                }
            ]
        },
    )


class ArchiveResult(BaseModel):
    source_bucket: str
    archive_bucket: str
    prefix: str
    versions: int
    copied: int
    delete_markers: int
    manifest_key: str


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if error_code(e) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise


def archive_state(source: Any, archive: Any, *, bucket: str, archive_bucket: str, account_id: str) -> ArchiveResult:
    """Copy every version of every object (oldest first) to `<account>/<bucket>/<key>/<version-id>` in the archive,
    and write a manifest listing versions and delete markers. `source` reads the member account (its access role),
    `archive` writes the platform account. Re-running skips what is already archived."""
    prefix = f"{account_id}/{bucket}"
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for page in source.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
    copied = 0
    for v in sorted(versions, key=lambda v: (v["Key"], v["LastModified"])):
        key = f"{prefix}/{v['Key']}/{v['VersionId']}"
        if _exists(archive, archive_bucket, key):
            continue
        body = source.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
        archive.put_object(
            Bucket=archive_bucket,
            Key=key,
            Body=body,
            Metadata={
                "source-key": v["Key"][:1024],
                "source-version": str(v["VersionId"]),
                "sha256": hashlib.sha256(body).hexdigest(),
            },
        )
        copied += 1
    manifest = {
        "account_id": account_id,
        "bucket": bucket,
        "archived_at": now(),
        "retention_days": ARCHIVE_RETENTION_DAYS,
        "versions": [
            {
                "key": v["Key"],
                "version_id": v["VersionId"],
                "latest": v.get("IsLatest", False),
                "last_modified": str(v["LastModified"]),
                "size": v.get("Size", 0),
            }
            for v in versions
        ],
        "delete_markers": [
            {"key": m["Key"], "version_id": m["VersionId"], "last_modified": str(m["LastModified"])} for m in markers
        ],
    }
    manifest_key = f"{prefix}/manifest.json"
    archive.put_object(
        Bucket=archive_bucket,
        Key=manifest_key,
        Body=json.dumps(manifest, indent=1).encode(),
        ContentType="application/json",
    )
    return ArchiveResult(
        source_bucket=bucket,
        archive_bucket=archive_bucket,
        prefix=prefix,
        versions=len(versions),
        copied=copied,
        delete_markers=len(markers),
        manifest_key=manifest_key,
    )


# --- the closure queue ---------------------------------------------------------------------------------------------


class ClosureStatus(StrEnum):
    QUEUED = "QUEUED"
    CLOSING = "CLOSING"  # claimed by one drainer; CloseAccount is being called
    PENDING_CLOSURE = "PENDING_CLOSURE"
    CLOSED = "CLOSED"
    BLOCKED = "BLOCKED"  # Organizations refused for a reason time will not fix; an operator must look


class ClosureItem(BaseModel):
    account_id: str
    request_id: str
    status: ClosureStatus = ClosureStatus.QUEUED
    enqueued_at: str = ""
    attempts: int = 0
    last_error: str | None = None
    requested_at: str | None = None  # when CloseAccount was accepted
    closed_at: str | None = None
    history: list[str] = Field(default_factory=list)
    # Set with the claim that precedes CloseAccount: from then on the call may have reached Organizations (an answer
    # lost, a throttled SDK retry of a call that went through), so only the account's state, or its staying ACTIVE
    # past CLOSE_GRACE_SECONDS, puts the item back in the queue.
    sent_at: str | None = None
    claim: str = ""  # the token of the last move, so a mover recognizes its own write answered late


class DrainReport(BaseModel):
    requested: list[str] = Field(default_factory=list)  # CloseAccount accepted in this drain
    closed: list[str] = Field(default_factory=list)  # found closed in this drain
    backlog: list[str] = Field(default_factory=list)  # still QUEUED afterwards
    pending: list[str] = Field(default_factory=list)  # PENDING_CLOSURE afterwards
    blocked: list[str] = Field(default_factory=list)
    stopped_by: str | None = None  # the quota or throttling error that ended the drain early


class ClosureQueue:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._items = ModelTable(dynamodb, table, ClosureItem, keys=("account_id",))

    def get(self, account_id: str) -> ClosureItem | None:
        return self._items.get(account_id)

    def all(self) -> list[ClosureItem]:
        return sorted(self._items.scan(), key=lambda i: (i.enqueued_at, i.account_id))

    def enqueue(self, account_id: str, request_id: str) -> ClosureItem:
        item = ClosureItem(account_id=account_id, request_id=request_id, enqueued_at=now(), history=[f"{now()} QUEUED"])
        try:
            self._items.put(item, condition="attribute_not_exists(account_id)")
            return item
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
        return self._items.get(account_id) or item  # already queued (or closed): never twice

    def move(
        self, item: ClosureItem, status: ClosureStatus, *, expect: ClosureStatus, **fields: Any
    ) -> ClosureItem | None:
        """Conditional on the status we saw: a racing drainer that moved it first wins, and we get None."""
        token = uuid.uuid4().hex
        moved = item.model_copy(
            update={"status": status, "history": [*item.history, f"{now()} {status.value}"], **fields, "claim": token}
        )
        try:
            self._items.put(moved, condition="#s = :seen", names={"#s": "status"}, values={":seen": expect.value})
            return moved
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
            # The SDK retries a write whose answer was lost; the retry then fails its condition on our own write.
            current = self.get(item.account_id)
            return current if current is not None and current.claim == token else None


def account_state(org: Any, account_id: str) -> str:
    """ACTIVE, PENDING_CLOSURE, SUSPENDED or CLOSED. `State` is the newer field; `Status` reports a closed account as
    SUSPENDED (https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html)."""
    try:
        account = org.describe_account(AccountId=account_id)["Account"]
    except ClientError as e:
        raise_if_throttled(e, "DescribeAccount")
        raise
    return str(account.get("State") or account.get("Status") or "ACTIVE")


CLOSED_STATES = frozenset({"SUSPENDED", "CLOSED"})


def _record(store: RequestStore | None, item: ClosureItem, status: Status) -> None:
    """Written before the queue item moves: the item is the drain's cursor, so a record write that fails leaves the
    item where the next drain looks again (the other order left a CLOSED item whose record said PENDING_CLOSURE)."""
    if store is None:
        return
    record = store.get(item.request_id)
    if record is None or record.account_id != item.account_id or record.status in (status, Status.CLOSED):
        return  # another generation's record, already there, or past it (AWS never reopens a closed account)
    # Forward only, in one conditional write: a slower drainer recording PENDING_CLOSURE after another recorded
    # CLOSED would otherwise overwrite it, leaving a CLOSED item whose record says PENDING_CLOSURE for good.
    try:
        store.transition(item.request_id, expect=RECORD_BEFORE[status], status=status, step="CloseAccount")
    except ChangeNotAllowed:
        logger.info("closure already recorded further on", extra={"request_id": item.request_id})


# The record statuses each closure status may be recorded from: anything not already as far (never backwards).
RECORD_BEFORE = {
    Status.PENDING_CLOSURE: frozenset(Status) - {Status.PENDING_CLOSURE, Status.CLOSED},
    Status.CLOSED: frozenset(Status) - {Status.CLOSED},
}


# The Organizations client a drain takes: CloseAccount is not idempotent, and an SDK retry of a call whose answer was
# lost would request the closure a second time; the queue's own state machine decides what is retried instead.
CLOSE_ONCE = Config(retries={"total_max_attempts": 1})
CLOSE_GRACE_SECONDS = 15 * 60  # an accepted CloseAccount shows as PENDING_CLOSURE well within this


def _seconds_since(at: str) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(at)).total_seconds()
    except ValueError:
        return float("inf")


def drain_closures(
    org: Any,
    queue: ClosureQueue,
    store: RequestStore | None = None,
    *,
    limit: int | None = None,
    close_grace_seconds: float = CLOSE_GRACE_SECONDS,
) -> DrainReport:
    """Close queued accounts until the queue is empty, `limit` closures were requested, or Organizations says the
    quota is used up (the rest stays queued for the next drain). Also promotes PENDING_CLOSURE items that AWS has
    finished closing. Safe to run concurrently, after a crash and under lost answers: every move of an item is a
    conditional write, and CloseAccount is called once per claim (`org` made with CLOSE_ONCE)."""
    report = DrainReport()
    for item in queue.all():
        if item.status == ClosureStatus.PENDING_CLOSURE and account_state(org, item.account_id) in CLOSED_STATES:
            _record(store, item, Status.CLOSED)
            if queue.move(item, ClosureStatus.CLOSED, expect=item.status, closed_at=now()):
                report.closed.append(item.account_id)
        elif item.status == ClosureStatus.CLOSING and item.requested_at is None:
            # CloseAccount's answer was never recorded (a drainer died, the answer was lost or throttled): the account
            # tells which side it was on. ACTIVE right after the call may be Organizations not showing it yet, so the
            # item goes back to the queue only once the grace has passed: never a second CloseAccount for one closure.
            state = account_state(org, item.account_id)
            if state in CLOSED_STATES or state == "PENDING_CLOSURE":
                closed = state in CLOSED_STATES
                _record(store, item, Status.CLOSED if closed else Status.PENDING_CLOSURE)
                queue.move(
                    item,
                    ClosureStatus.CLOSED if closed else ClosureStatus.PENDING_CLOSURE,
                    expect=ClosureStatus.CLOSING,
                    requested_at=now(),
                    closed_at=now() if closed else None,
                )
            elif _seconds_since(item.sent_at or item.enqueued_at) >= close_grace_seconds:
                queue.move(item, ClosureStatus.QUEUED, expect=ClosureStatus.CLOSING, sent_at=None)
    for item in [i for i in queue.all() if i.status == ClosureStatus.QUEUED]:
        if report.stopped_by or (limit is not None and len(report.requested) >= limit):
            break
        _close_one(org, queue, store, item, report)
    for item in queue.all():
        {
            ClosureStatus.QUEUED: report.backlog,
            ClosureStatus.PENDING_CLOSURE: report.pending,
            ClosureStatus.BLOCKED: report.blocked,
        }.get(item.status, []).append(item.account_id)
    return report


def _close_one(
    org: Any, queue: ClosureQueue, store: RequestStore | None, item: ClosureItem, report: DrainReport
) -> None:
    state = account_state(org, item.account_id)
    if state in CLOSED_STATES or state == "PENDING_CLOSURE":
        # Closed already (by us before a crash, or by hand): record it, never close it again.
        target = ClosureStatus.CLOSED if state in CLOSED_STATES else ClosureStatus.PENDING_CLOSURE
        _record(store, item, Status.CLOSED if state in CLOSED_STATES else Status.PENDING_CLOSURE)
        if queue.move(item, target, expect=ClosureStatus.QUEUED, closed_at=now() if state in CLOSED_STATES else None):
            (report.closed if state in CLOSED_STATES else report.requested).append(item.account_id)
        return
    claimed = queue.move(
        item, ClosureStatus.CLOSING, expect=ClosureStatus.QUEUED, attempts=item.attempts + 1, sent_at=now()
    )
    if claimed is None:
        return  # another drainer has it
    try:
        org.close_account(AccountId=item.account_id)
    except (BotoCoreError, ClientError) as e:
        if not isinstance(e, ClientError) or error_code(e) in THROTTLING_CODES:
            # Maybe carried out: a lost answer, or a throttled SDK retry of a call that went through. The item stays
            # CLOSING (sent_at set) and the next drain decides from the account's state, never by calling again.
            queue.move(claimed, ClosureStatus.CLOSING, expect=ClosureStatus.CLOSING, last_error=f"unconfirmed: {e}")
            report.stopped_by = f"CloseAccount unconfirmed: {e}"
            logger.info("closure unconfirmed; the account's state decides", extra={"account_id": item.account_id})
            return
        code = error_code(e)
        reason = str(e.response.get("Reason") or e.response.get("Error", {}).get("Reason") or "")
        if code == "AccountAlreadyClosedException":
            _record(store, item, Status.CLOSED)
            queue.move(claimed, ClosureStatus.CLOSED, expect=ClosureStatus.CLOSING, closed_at=now(), last_error=code)
            report.closed.append(item.account_id)
            return
        if code == "ConstraintViolationException" and (reason in QUOTA_REASONS or "QUOTA" in str(e).upper()):
            # Refused for the quota (not a retried error, so no earlier attempt went through): back in the backlog.
            queue.move(
                claimed, ClosureStatus.QUEUED, expect=ClosureStatus.CLOSING, last_error=f"{code} {reason}", sent_at=None
            )
            report.stopped_by = f"{code}: {reason or e}"
            logger.info("closure quota reached; backlog kept", extra={"account_id": item.account_id, "code": code})
            return
        queue.move(claimed, ClosureStatus.BLOCKED, expect=ClosureStatus.CLOSING, last_error=f"{code}: {e}")
        logger.info("closure refused", extra={"account_id": item.account_id, "code": code})
        return
    _record(store, item, Status.PENDING_CLOSURE)
    queue.move(claimed, ClosureStatus.PENDING_CLOSURE, expect=ClosureStatus.CLOSING, requested_at=now())
    report.requested.append(item.account_id)


def closure_outcome(queue: ClosureQueue, account_id: str) -> str:
    item = queue.get(account_id)
    if item is None:
        raise AccountClosureFailed(f"{account_id} is not in the closure queue")
    return item.status.value
