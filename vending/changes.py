"""Change requests on a READY account (day 2): GPU tier, regions, stacks, repository, owner.

A change is validated whole before anything happens (the merged request goes through the same model as a new one,
so a bad field is named and nothing changes), diffed against the current intent (SCPs rendered by scps.render for
the old and the new request), recorded with who asked and when, and applied by the AccountLifecycle state machine
(step_functions/account_lifecycle.asl.json): READY -> UPDATING -> READY. A GPU tier upgrade or any change to a
production account waits for `vend request approve` by someone other than the requester.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scps.render import GuardrailSet, render
from vending.accounts import cost_tags
from vending.aws.dynamo import ModelTable
from vending.aws.errors import error_code, raise_if_throttled
from vending.aws.identity import same_principal
from vending.bootstrap import BOUNDARY_NAME, GITHUB_OIDC_HOST, ensure_ci_roles, state_bucket_name
from vending.budgets import ensure_budget
from vending.exceptions import (
    ChangeNotAllowed,
    ChangeNotFound,
    ConcurrentUpdate,
    InvalidRequest,
    NotConfigured,
    SelfApproval,
)
from vending.guardrails.account import GuardrailResult, apply_account_guardrails
from vending.guardrails.intent import team_layout
from vending.intake import preflight
from vending.invocation_logging import ensure_invocation_logging
from vending.layout import Layout, TeamSpec
from vending.lifecycle import RETIRED, VENDING, RequestRecord, RequestStore, Status, now
from vending.request import VendingRequest, check_request_id, describe_errors, parse_request
from vending.settings import STATE_KEY_ALIAS, Settings
from vending.trust import APPLY, DEFAULT_BRANCH_REF, subject
from vending.workflow import WorkflowSettings

logger = Logger(child=True)

CHANGEABLE = ("gpu_tier", "regions", "stacks", "repository", "owner_email")
CLAIM_ATTEMPTS = 5  # re-decisions after a lost conditional write to something other than a rival change


class ChangeInput(BaseModel):
    """The fields a change may touch; anything else (team, stage, cost center) is a new request, not a change."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    gpu_tier: str | None = None
    regions: tuple[str, ...] | None = None
    stacks: tuple[str, ...] | None = None
    repository: str | None = None
    owner_email: str | None = None

    def given(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.model_dump().items() if v is not None}


class ChangeStatus(StrEnum):
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    RUNNING = "RUNNING"
    APPLIED = "APPLIED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"  # a decommission won the account before the change was approved


OPEN = frozenset({ChangeStatus.AWAITING_APPROVAL, ChangeStatus.RUNNING})


class ChangeRecord(BaseModel):
    change_id: str  # <request_id>.c<n>
    request_id: str
    status: ChangeStatus
    requested_by: str  # the principal's IAM ARN (vending.aws.identity): a role session is recorded as its role
    requested_session: str | None = None  # the role session name, for the audit trail (it identifies nobody)
    requested_at: str
    changed: dict[str, Any]  # the fields asked for
    old: dict[str, Any]  # the request before
    new: dict[str, Any]  # the request after
    diff: dict[str, Any]
    approval_reasons: list[str] = Field(default_factory=list)
    approved_by: str | None = None
    approved_session: str | None = None
    approved_at: str | None = None
    execution_name: str = ""
    failure_reason: str | None = None
    finished_at: str | None = None
    resumed_by: str | None = None  # the vending execution that converged the account to a change that had failed

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval_reasons)


class ChangeStore:
    """The changes table: one item per change (key change_id), with the request id and status projected."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._items = ModelTable(
            dynamodb, table, ChangeRecord, keys=("change_id",), projected=("request_id", "status"), body="change"
        )

    def get(self, change_id: str) -> ChangeRecord | None:
        return self._items.get(change_id)

    def require(self, change_id: str) -> ChangeRecord:
        found = self.get(change_id)
        if found is None:
            raise ChangeNotFound(f"no change {change_id!r}")
        return found

    def all(self) -> list[ChangeRecord]:
        return list(self._items.scan())

    def for_request(self, request_id: str) -> list[ChangeRecord]:
        return sorted(
            (c for c in self._items.scan() if c.request_id == request_id),
            key=lambda c: int(c.change_id.rpartition(".c")[2]),
        )

    def create(self, change: ChangeRecord) -> None:
        """Record a change the request record already holds (its claim decided the race): a retry, or a restore of
        a change whose filer stopped after its claim, finds it written and changes nothing."""
        try:
            self._items.put(change, condition="attribute_not_exists(change_id)")
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise

    def save(self, change: ChangeRecord) -> ChangeRecord:
        self._items.put(change)
        return change

    def move(self, change: ChangeRecord, *, expect: ChangeStatus, **update: Any) -> ChangeRecord | None:
        """One conditional write on the status the caller saw: of two racing approvals (or an approval and a
        decommission's cancel) exactly one moves the change; the other gets None and re-reads who won."""
        moved = change.model_copy(update=update)
        try:
            self._items.put(moved, condition="#s = :seen", names={"#s": "status"}, values={":seen": expect.value})
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
            return None
        return moved


# --- validation and the diff ----------------------------------------------------------------------------------


def parse_change(data: Any) -> ChangeInput:
    if not isinstance(data, dict):
        raise InvalidRequest("request: a change must be a JSON object")
    try:
        change = ChangeInput.model_validate(data)
    except ValidationError as e:
        problems = describe_errors(e)
        raise InvalidRequest("; ".join(f"{p['field']}: {p['message']}" for p in problems), details=problems) from e
    if not change.given():
        raise InvalidRequest(
            f"request: nothing to change; give one of {list(CHANGEABLE)}",
            details=[{"field": "request", "message": "nothing to change"}],
        )
    return change


def check_changeable(record: RequestRecord) -> None:
    """Only a READY account changes. A running vend or change owns the record; FAILED must be resumed first."""
    if record.status == Status.READY:
        return
    if record.status in VENDING or record.status == Status.UPDATING:
        raise ChangeNotAllowed(
            f"request: {record.request_id} is {record.status.value} under execution "
            f"{record.execution_name}; change it once that finishes"
        )
    if record.status == Status.FAILED:
        raise ChangeNotAllowed(
            f"request: {record.request_id} is FAILED at {record.failed_step}; resume it first "
            f"(`vend request resume {record.request_id}`)"
        )
    if record.status in RETIRED:
        raise ChangeNotAllowed(
            f"request: {record.request_id} is {record.status.value}; a retiring or closed account cannot be changed"
        )
    raise ChangeNotAllowed(f"request: {record.request_id} is {record.status.value}")


def held_by(changes: ChangeStore, record: RequestRecord) -> ChangeRecord | None:
    """The change that holds the record, if it is still open. Restored into the changes table from the record's copy
    when its filer stopped between the claim and that write."""
    if not record.open_change:
        return None
    held = ChangeRecord.model_validate(record.open_change)
    current = changes.get(held.change_id)
    if current is None:
        changes.create(held)
        current = held
    return current if current.status in OPEN else None


def describe_change(change: ChangeRecord) -> str:
    who = f"approved by {change.approved_by}" if change.approved_by else f"asked by {change.requested_by}"
    return f"change {change.change_id} ({who} at {change.approved_at or change.requested_at}, {change.status.value})"


def check_not_held(changes: ChangeStore, record: RequestRecord) -> None:
    if (held := held_by(changes, record)) is not None:
        raise ChangeNotAllowed(
            f"request: {record.request_id} is held by {describe_change(held)}; nothing was filed: approve it or wait "
            "for it to finish"
        )


def merged_request(record: RequestRecord, change: ChangeInput) -> VendingRequest:
    """The request after the change, through the request model: a bad value is rejected naming its field. A stack
    left out of `stacks` is removed: the change destroys it through the pipeline (and always needs an approval)."""
    return parse_request({**record.request, **change.given()})


def removed_stacks(old: VendingRequest, new: VendingRequest) -> list[str]:
    return [s for s in old.stacks if s not in new.stacks]


# request record, stack -> the destroy plan's summary (what `terraform plan -destroy` would remove), or None
DestroyPreview = Callable[[RequestRecord, str], dict[str, Any] | None]


def team_spec(layout: Layout, request: VendingRequest) -> TeamSpec:
    listed = layout.team(request.team)
    return TeamSpec(
        slug=request.team,
        owner_email=request.owner_email,
        cost_center=request.cost_center,
        gpu_tier=request.gpu_tier,
        regions=request.regions,
        repository=request.repository,
        stacks=request.stacks,
        monthly_budget_usd=listed.monthly_budget_usd if listed else None,
    )


def rendered_for(layout: Layout, request: VendingRequest) -> GuardrailSet:
    """The guardrails as they would be rendered if the layout said what this request says."""
    teams = (*(t for t in layout.teams if t.slug != request.team), team_spec(layout, request))
    return render(layout.model_copy(update={"teams": teams}))


def account_policies(layout: Layout, request: VendingRequest) -> dict[str, str]:
    """Name -> content of every SCP that governs the account of this request (its OU path's, its tier's, its team
    policy)."""
    r = rendered_for(layout, request)
    names = [
        *r.governing(layout.ou_for_stage(request.stage), request.gpu_tier),
        r.team_policies[(request.team, request.stage)],
    ]
    return {n: (r.policies[n].content if n in r.policies else "") for n in names}


def team_policy_name(layout: Layout, team: str, stage: str) -> str:
    """The per-team SCP of the team's `stage` account (scps.render renders one per team and stage)."""
    return f"{layout.guardrails.policy_name_prefix}team-{team}-{stage}"


def ci_subject(request: VendingRequest) -> str:
    """The apply job's OIDC subject that TeamCIRole trusts (the plan role trusts the same repository's plan job)."""
    return subject(request.repository, APPLY.environment(request.team, request.stage), DEFAULT_BRANCH_REF)


def change_diff(layout: Layout, old: VendingRequest, new: VendingRequest) -> dict[str, Any]:
    before, after = account_policies(layout, old), account_policies(layout, new)
    return {
        "policies": {
            "attached": sorted(set(after) - set(before)),
            "detached": sorted(set(before) - set(after)),
            "updated": sorted(n for n in set(after) & set(before) if after[n] != before[n]),
        },
        "stacks": {
            "added": [s for s in new.stacks if s not in old.stacks],
            "removed": removed_stacks(old, new),
        },
        # The team policy's region statement (applied as UpdatePolicy of that policy by ApplyChange).
        "region_fence": (
            {
                # Only teams the layout lists carry a team policy; the others are fenced by the org allow-list.
                "policy": team_policy_name(layout, new.team, new.stage) if layout.team(new.team) else None,
                "from": list(old.regions),
                "to": list(new.regions),
            }
            if old.regions != new.regions
            else {}
        ),
        "trust": (
            {"ci_role_sub": {"from": ci_subject(old), "to": ci_subject(new)}}
            if ci_subject(old) != ci_subject(new)
            else {}
        ),
        "budget": (
            {
                "monthly_usd": {
                    "from": layout.monthly_budget(old.team, old.gpu_tier),
                    "to": layout.monthly_budget(new.team, new.gpu_tier),
                }
            }
            if layout.monthly_budget(old.team, old.gpu_tier) != layout.monthly_budget(new.team, new.gpu_tier)
            else {}
        ),
        "quotas": quota_diff(layout, old, new),
        "fields": {
            k: {"from": old.model_dump(mode="json")[k], "to": new.model_dump(mode="json")[k]}
            for k in CHANGEABLE
            if getattr(old, k) != getattr(new, k)
        },
    }


def quota_diff(layout: Layout, old: VendingRequest, new: VendingRequest) -> dict[str, Any]:
    """What ApplyChange asks Service Quotas for (a quota the new tier needs more of, or a new region) and what it will
    only record as above the tier (AWS cannot lower a quota by request)."""
    before = {(n.service, n.name): n.value for n in layout.quota_needs(old.gpu_tier)}
    after = {(n.service, n.name): n.value for n in layout.quota_needs(new.gpu_tier)}
    raised = [
        f"{s} {n}: {before.get((s, n), 0):g} -> {v:g}" for (s, n), v in after.items() if v > before.get((s, n), 0)
    ]
    above = [f"{s} {n}" for (s, n), v in before.items() if after.get((s, n), 0) < v]
    regions = [r for r in new.regions if r not in old.regions] if after else []
    if not (raised or above or regions):
        return {}
    return {"request": raised, "new_regions": regions, "above_tier": above}


def approval_reasons(layout: Layout, old: VendingRequest, new: VendingRequest) -> list[str]:
    reasons = []
    tiers = list(layout.gpu_tiers)  # declared from least to most capable
    if tiers.index(new.gpu_tier) > tiers.index(old.gpu_tier):
        reasons.append(f"GPU tier upgrade {old.gpu_tier} -> {new.gpu_tier}")
    if new.stage == "production":
        reasons.append("production account")
    if removed := removed_stacks(old, new):
        reasons.append(f"removes stacks {removed} (terraform destroy)")
    return reasons


def apply_change_guardrails(
    org: Any, layout: Layout, store: RequestStore, request: VendingRequest, *, account_id: str
) -> GuardrailResult:
    """The account's SCPs for the new intent: its GPU tier policy swapped (attach/detach) and its team policy
    re-rendered from the records (BeginChange has written the new regions into this request's record), so a
    regions change is an UpdatePolicy of `<prefix>team-<slug>`. The account's tags follow (gpu-tier, owner): the
    audit checks them against the record."""
    try:
        org.tag_resource(ResourceId=account_id, Tags=[{"Key": k, "Value": v} for k, v in cost_tags(request).items()])
    except ClientError as e:
        raise_if_throttled(e, "TagResource")
        raise
    return apply_account_guardrails(
        org,
        team_layout(layout, store, request.team),
        account_id=account_id,
        team=request.team,
        stage=request.stage,
        gpu_tier=request.gpu_tier,
    )


def converge_account(
    session: Any, layout: Layout, request: VendingRequest, *, account_id: str, pipeline_role_arn: str = ""
) -> list[str]:
    """Inside the member account: both CI roles (apply and plan) trust the (new) repository and stage, and the
    platform pipeline; the budget has the (new) amount and owner; each (new) region has its invocation logging. All are
    create-or-converge, so a re-run changes nothing. A repository change that moved only the apply role would leave
    the plan role (state reads) trusting the old repository and the new one unable to plan."""
    iam = session.client("iam")
    key_arn = session.client("kms", region_name=request.home_region).describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"][
        "Arn"
    ]
    apply_arn, plan_arn = ensure_ci_roles(
        iam,
        provider_arn=f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}",
        boundary_arn=f"arn:aws:iam::{account_id}:policy/{BOUNDARY_NAME}",
        repository=request.repository,
        stage=request.stage,
        team=request.team,
        state_bucket=state_bucket_name(account_id, request.home_region),
        kms_key_arn=str(key_arn),
        pipeline_role_arn=pipeline_role_arn,
    )
    changes = [f"ci_role_trust {role} -> {ci_subject(request)}" for role in (apply_arn, plan_arn)]
    changes += ensure_budget(
        session.client("budgets", region_name="us-east-1"),
        account_id,
        amount=layout.monthly_budget(request.team, request.gpu_tier),
        owner_email=request.owner_email,
    )
    # A region the change adds gets its invocation logging; one it removes keeps its log (the fence stops new calls).
    changes += ensure_invocation_logging(session, account_id, request.regions)
    return changes


# --- filing, approving, starting --------------------------------------------------------------------------------


def _next_change_number(changes: ChangeStore, record: RequestRecord) -> int:
    """The record counts its changes; changes filed before it did are counted from the changes table."""
    existing = changes.for_request(record.request_id) if record.change_seq == 0 else []
    return max(record.change_seq, *(int(c.change_id.rpartition(".c")[2]) for c in existing), 0) + 1


def plan_change(
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    request_id: str,
    data: Any,
    *,
    by: str,
    preview_destroy: DestroyPreview | None = None,
    session: str | None = None,
    review: str | None = None,
) -> ChangeRecord:
    """Validate and diff a change without recording anything (what --dry-run prints). With `preview_destroy` each
    removed stack carries its destroy plan's summary (read from the account's Terraform state). `review`: a reason
    the change waits for an approval whatever it changes (a change a team lead files)."""
    return _plan(
        store, changes, layout, request_id, data, by=by, preview_destroy=preview_destroy, session=session, review=review
    )[1]


def _plan(
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    request_id: str,
    data: Any,
    *,
    by: str,
    preview_destroy: DestroyPreview | None,
    session: str | None,
    review: str | None = None,
) -> tuple[RequestRecord, ChangeRecord]:
    """The change and the record version it was decided from (the condition of the write that files it)."""
    change = parse_change(data)
    record = store.require(check_request_id(request_id))
    check_changeable(record)
    check_not_held(changes, record)
    old = parse_request(record.request)
    new = merged_request(record, change)
    # The same platform checks as a new request (every stack resolves to a folder or a template, tier, regions).
    preflight(new, store, Settings.from_env().terraform_root, layout)
    if new == old:
        raise InvalidRequest(
            "request: the change asks for what the account already has",
            details=[{"field": "request", "message": "nothing to change"}],
        )
    reasons = approval_reasons(layout, old, new) + ([review] if review else [])
    diff = change_diff(layout, old, new)
    diff["destroy_plans"] = {
        stack: (preview_destroy(record, stack) if preview_destroy else None) for stack in removed_stacks(old, new)
    }
    return record, ChangeRecord(
        change_id=f"{request_id}.c{_next_change_number(changes, record)}",
        request_id=request_id,
        status=ChangeStatus.AWAITING_APPROVAL if reasons else ChangeStatus.RUNNING,
        requested_by=by,
        requested_session=session,
        requested_at=now(),
        changed=change.given(),
        old=old.model_dump(mode="json"),
        new=new.model_dump(mode="json"),
        diff=diff,
        approval_reasons=reasons,
    )


def lifecycle_input(
    operation: str, request: VendingRequest, *, execution: str, settings: WorkflowSettings, **extra: Any
) -> dict[str, Any]:
    return {
        "operation": operation,
        "request": request.model_dump(mode="json"),
        "request_id": request.request_id,
        "execution": execution,
        # The lifecycle machine's own cadence (closure_poll_seconds, its WaitForClosureQuota's SecondsPath) is in the
        # input whatever settings the caller holds: a vend's WorkflowSettings lacked it, and a closure left in the
        # queue failed the execution at that Wait (States.Runtime, no Catch runs), for good.
        "settings": LifecycleSettings.model_validate(settings.model_dump()).model_dump(),
        **extra,
    }


def execution_name_for(change_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"change-{change_id}")[:80]


def start_change(sfn: Any, state_machine_arn: str, change: ChangeRecord, settings: WorkflowSettings) -> str:
    if not state_machine_arn:
        raise NotConfigured("no lifecycle state machine configured (VEND_LIFECYCLE_STATE_MACHINE_ARN)")
    name = execution_name_for(change.change_id)
    old, new = VendingRequest.model_validate(change.old), VendingRequest.model_validate(change.new)
    payload = lifecycle_input(
        "change",
        new,
        execution=name,
        settings=settings,
        change_id=change.change_id,
        destroy_stacks=removed_stacks(old, new),
    )
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
    except ClientError as e:
        if error_code(e) != "ExecutionAlreadyExists":
            raise
    return name


# A RUNNING change whose execution is nowhere to be found this long after it was filed or approved never started (its
# starter stopped between the claim and StartExecution); younger, the starter may still be starting it.
STARTING_GRACE_SECONDS = 120.0


def release_stopped_change(
    store: RequestStore, changes: ChangeStore, record: RequestRecord, *, sfn: Any, state_machine_arn: str
) -> RequestRecord:
    """A change that holds the record while its execution no longer runs (stopped from outside, timed out, or never
    started) is failed the way FinishChange fails one, so the record is not held for good: READY again if it never
    began; FAILED naming the change if it did (`vend request resume` converges to it and records it APPLIED)."""
    held = held_by(changes, record)
    if held is None or held.status != ChangeStatus.RUNNING or not state_machine_arn:
        return record
    name = held.execution_name or execution_name_for(held.change_id)
    arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    try:
        ended = str(sfn.describe_execution(executionArn=arn)["status"])
    except ClientError as e:
        if error_code(e) not in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise
        since = held.approved_at or held.requested_at
        if (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds() <= STARTING_GRACE_SECONDS:
            return record
        ended = "NEVER_STARTED"
    if ended == "RUNNING":
        return record
    logger.info("change of an ended execution released", extra={"change_id": held.change_id, "ended": ended})
    finish_change(store, changes, held.change_id, error=f"execution {name} ended {ended} without a result")
    return store.require(record.request_id)


def request_change(
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    request_id: str,
    data: Any,
    *,
    by: str,
    sfn: Any,
    state_machine_arn: str,
    settings: WorkflowSettings,
    preview_destroy: DestroyPreview | None = None,
    session: str | None = None,
    review: str | None = None,
) -> ChangeRecord:
    """File the change; start it at once unless it waits for an approval. `by`/`session`: the signed caller;
    `review`: a reason it waits for an approval whatever it changes (plan_change).

    Concurrent filers are settled by one conditional write on the request record (RequestStore.claim, on the version
    each decided from): the winner's change holds the record; every other caller re-reads, finds it and is refused
    naming it, having recorded and started nothing."""
    check_request_id(request_id)
    if (record := store.get(request_id)) is not None:
        release_stopped_change(store, changes, record, sfn=sfn, state_machine_arn=state_machine_arn)
    for _ in range(CLAIM_ATTEMPTS):
        seen, change = _plan(
            store,
            changes,
            layout,
            request_id,
            data,
            by=by,
            preview_destroy=preview_destroy,
            session=session,
            review=review,
        )
        if not change.needs_approval and not state_machine_arn:
            raise NotConfigured("no lifecycle state machine configured (VEND_LIFECYCLE_STATE_MACHINE_ARN)")
        number = int(change.change_id.rpartition(".c")[2])
        claimed = store.claim(seen, step="ChangeFiled", open_change=change.model_dump(mode="json"), change_seq=number)
        if claimed is None:
            continue  # the next _plan refuses naming the change that won, or decides again on the new version
        changes.create(change)
        logger.info("change filed", extra={"change_id": change.change_id, "approval": change.approval_reasons})
        if change.needs_approval:
            return change
        name = start_change(sfn, state_machine_arn, change, settings)
        return changes.save(change.model_copy(update={"execution_name": name}))
    raise ConcurrentUpdate(f"{request_id}: the record kept changing; nothing was filed, retry")


def open_change(changes: ChangeStore, ident: str) -> ChangeRecord:
    """A change id, or a request id whose change awaits approval."""
    check_request_id(ident, field="id", change=True)
    if ".c" in ident and (found := changes.get(ident)) is not None:
        return found
    filed = changes.for_request(ident)
    waiting = [c for c in filed if c.status == ChangeStatus.AWAITING_APPROVAL]
    if not waiting and not filed:
        raise ChangeNotFound(f"no change awaiting approval for {ident!r}")
    return (waiting or filed)[-1]  # none waiting: the latest, so the refusal says what became of it


def approve_change(
    store: RequestStore,
    changes: ChangeStore,
    ident: str,
    *,
    by: str,
    sfn: Any,
    state_machine_arn: str,
    settings: WorkflowSettings,
    session: str | None = None,
) -> ChangeRecord:
    """`by` is the approver's principal ARN and `session` its role session name, both from the signature (the API's
    request context, the CLI's sts:GetCallerIdentity), never from what the caller typed."""
    change = open_change(changes, ident)
    if change.status != ChangeStatus.AWAITING_APPROVAL:
        raise ChangeNotAllowed(f"request: {describe_change(change)} is not awaiting approval; nothing was approved")
    # Compared as principals (vending.aws.identity): the same role under another session name is the same approver.
    if same_principal(by, change.requested_by):
        raise SelfApproval(
            f"approver: {by} is the principal that asked for {change.change_id} ({change.requested_by}); "
            "another principal (the PlatformApprover role) must approve it"
        )
    record = store.require(change.request_id)
    check_changeable(record)  # the account may have moved on since it was filed (a decommission cancels it)
    # One conditional write on the change's status settles racing approvals (and an approval against a decommission,
    # which cancels the change the same way): the loser is told who won, and starts nothing.
    approved = changes.move(
        change,
        expect=ChangeStatus.AWAITING_APPROVAL,
        status=ChangeStatus.RUNNING,
        approved_by=by,
        approved_session=session,
        approved_at=now(),
    )
    if approved is None:
        raise ChangeNotAllowed(
            f"request: {describe_change(changes.require(change.change_id))} won; this approval was not recorded"
        )
    name = start_change(sfn, state_machine_arn, approved, settings)
    return changes.save(approved.model_copy(update={"execution_name": name}))


def cancel_open_change(changes: ChangeStore, record: RequestRecord, *, why: str) -> ChangeRecord | None:
    """A decommission takes the account from a change still awaiting approval, by the same conditional write an
    approval makes: if the approval won, the change runs and the decommission is refused."""
    held = held_by(changes, record)
    if held is None:
        return None
    if held.status == ChangeStatus.AWAITING_APPROVAL:
        cancelled = changes.move(
            held,
            expect=ChangeStatus.AWAITING_APPROVAL,
            status=ChangeStatus.CANCELLED,
            failure_reason=why,
            finished_at=now(),
        )
        if cancelled is not None:
            return cancelled
        held = changes.require(held.change_id)
    raise ChangeNotAllowed(
        f"request: {record.request_id} is held by {describe_change(held)}; nothing was started: wait for it to finish"
    )


# --- the steps the state machine runs -----------------------------------------------------------------------------


def begin_change(store: RequestStore, changes: ChangeStore, change_id: str, execution: str) -> RequestRecord:
    """READY -> UPDATING with the new intent, atomically: a vend or another change that got there first wins and
    this change fails without touching anything. Re-running this step for the same change is a no-op."""
    change = changes.require(change_id)
    current = store.require(change.request_id)
    if current.status == Status.UPDATING and current.execution_name == execution:
        return current
    holder = (current.open_change or {}).get("change_id")
    if holder != change_id or change.status != ChangeStatus.RUNNING:
        raise ChangeNotAllowed(
            f"request: {change.request_id} is held by {holder or 'no change'}; change {change_id} "
            f"({change.status.value}) does not begin"
        )
    record = store.transition(
        change.request_id,
        expect=frozenset({Status.READY}),
        status=Status.UPDATING,
        step="BeginChange",
        request=change.new,
        execution_name=execution,
    )
    logger.info("change begun", extra={"change_id": change_id, "by": change.requested_by})
    return record


def finish_change(
    store: RequestStore,
    changes: ChangeStore,
    change_id: str,
    *,
    error: str | None = None,
    pipelines: dict[str, Any] | None = None,
) -> ChangeRecord:
    """READY on success, with the runs CheckPipelines reported for the stacks the account now has (a destroyed
    stack's run stays in the runs table, not on the record). On failure the record is FAILED at its step, with the
    new intent kept: `vend request resume` converges the account to it through the vending workflow (every step is
    idempotent)."""
    change = changes.require(change_id)
    record = store.get(change.request_id)
    holds = record is not None and (record.open_change or {}).get("change_id") == change_id
    if error is None:
        kept = change.new.get("stacks") or []
        runs = {"pipelines": {s: r for s, r in pipelines.items() if s in kept}} if pipelines is not None else {}
        store.update(change.request_id, status=Status.READY, step="ChangeApplied", open_change=None, **runs)
        return changes.save(change.model_copy(update={"status": ChangeStatus.APPLIED, "finished_at": now()}))
    # Only the change that holds the record fails it (a change that lost a race never touches what won), and only
    # while the record is its own: READY (it never began) or UPDATING under its execution. Elsewhere the record is
    # left as it is; its stale hold names a FAILED change, which holds nothing.
    began = (
        record is not None
        and record.status == Status.UPDATING
        and record.execution_name == execution_name_for(change_id)
    )
    if record is not None and holds and (began or record.status == Status.READY):
        failed: dict[str, Any] = (
            {"failed_step": record.step, "failure_reason": error, "failed_change": change_id} if began else {}
        )
        store.update(
            change.request_id,
            status=Status.FAILED if began else None,
            step="ChangeFailed",
            open_change=None,
            **failed,
        )
    return changes.save(
        change.model_copy(update={"status": ChangeStatus.FAILED, "failure_reason": error, "finished_at": now()})
    )


def settle_resumed_change(
    store: RequestStore, changes: ChangeStore, record: RequestRecord, execution: str
) -> ChangeRecord | None:
    """The resume of a failed change reached READY: the change's intent is now the account's, so the change is
    APPLIED (by that execution), moved only from FAILED, or RUNNING when its execution was stopped (no FinishChange
    ran; vending.service failed the record); then the record lets go of it. Safe to retry: a change already APPLIED
    is left alone and the record is still let go."""
    if not record.failed_change:
        return None
    change = changes.get(record.failed_change)
    settled = None
    stalled = (ChangeStatus.FAILED, ChangeStatus.RUNNING)
    if change is not None and change.status in stalled and change.new == record.request:
        settled = changes.move(
            change, expect=change.status, status=ChangeStatus.APPLIED, finished_at=now(), resumed_by=execution
        )
    store.update(record.request_id, step="RecordReady", failed_change=None)
    return settled


# --- the AccountLifecycle execution state -------------------------------------------------------------------------


class LifecycleSettings(WorkflowSettings):
    """Adds the closure-queue cadence: how long to wait for Organizations' closure quota, and how many times."""

    closure_poll_seconds: int = 6 * 3600
    closure_poll_max: int = 4 * 30  # a month of 6-hour waits; after that the scheduled drain owns the backlog


class LifecycleState(BaseModel):
    """The AccountLifecycle execution's state document; `request` is the (new) intent, so the vending workflow's
    CheckPipelines step reads it unchanged."""

    model_config = ConfigDict(extra="allow")

    operation: str
    request: VendingRequest
    execution: str = ""
    change_id: str = ""
    # Stacks the change removes (decommissioning with --destroy-stacks: all of them), destroyed through the pipeline.
    destroy_stacks: list[str] = Field(default_factory=list)
    stacks_destroyed: bool = False  # set by the retirement branch once its destroys are done
    settings: LifecycleSettings = LifecycleSettings()
    pipelines: dict[str, Any] | None = None
    closure: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
