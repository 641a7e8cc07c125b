"""The freeze fence: an account over its hourly or daily cap gets the `vend-freeze` SCP within one metering interval.

For each reading over a cap (vending.layout.Layout.spend_caps: the tier's, or the team's override) on an account not
frozen: the freeze is recorded first (one conditional write per account: two fences racing make one freeze, and the
record survives a restart), then `vend-freeze` is attached (DuplicatePolicyAttachmentException is success), the owner
and the platform are notified once (a conditional claim on the record), and with `on_freeze: stop` the account's
accelerated instances are stopped by the platform's access role. A fence that finds a freeze with a step missing (a
crash after the write) completes it. A thaw is filed by one principal and approved by another; the approval clears
the record (conditional) and then detaches the policy. The audit treats `vend-freeze` as intended exactly where a
freeze record stands (vending.guardrails.intent).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from scps.render import freeze_policy
from vending.aws.errors import error_code
from vending.aws.identity import same_principal
from vending.budgets import backstop_action, backstop_name
from vending.exceptions import (
    EventPublishFailed,
    FenceIncomplete,
    InvalidRequest,
    SelfApproval,
    ThawNotFound,
    VendingError,
)
from vending.guardrails.orgapi import Backoff, create_policy
from vending.layout import Layout, SpendCaps
from vending.lifecycle import RequestRecord
from vending.spend.freezes import FreezeRecord, FreezeStatus, FreezeStore
from vending.spend.reading import SpendReading

logger = Logger(child=True)

SCP = "SERVICE_CONTROL_POLICY"
# The metering interval: the schedule runs meter -> fence this often, so a crossing is frozen within this many minutes.
INTERVAL_MINUTES = 5
FROZEN_EVENT = "Team Spend Frozen"
THAWED_EVENT = "Team Spend Thawed"
BACKSTOP_REASON = "backstop: billing data crossed the monthly budget"
# A notification claimed by a run that never published it (it crashed) may be claimed again after this long.
NOTIFY_CLAIM_TTL = timedelta(minutes=10)

Notify = Callable[[str, FreezeRecord], None]
# (record, regions) -> the ids of the instances stopped; runs as the platform's access role in the member account.
Stopper = Callable[[FreezeRecord, tuple[str, ...]], list[str]]


@dataclass(frozen=True)
class AccountSpendIntent:
    """What the fence needs about one account, from its vending record (or the layout for a team it lists)."""

    tier: str
    owner_email: str
    regions: tuple[str, ...]


@dataclass
class FenceReport:
    frozen: list[str] = field(default_factory=list)  # account ids frozen by this run
    completed: list[str] = field(default_factory=list)  # freezes whose missing steps this run finished
    already_frozen: list[str] = field(default_factory=list)
    lost_race: list[str] = field(default_factory=list)  # another fence wrote the freeze first
    under_cap: int = 0
    in_grace: list[str] = field(default_factory=list)  # over a cap the latest thaw already forgave
    unfenced: list[str] = field(default_factory=list)  # no caps for the account's tier or team
    skipped: list[str] = field(default_factory=list)  # readings that name no known account (logged)
    failed: list[str] = field(default_factory=list)  # "<account>: <error>": retried by the next interval
    thawed: list[str] = field(default_factory=list)  # approved thaws this interval detached (finish_thaws)
    adopted: list[str] = field(default_factory=list)  # freezes the Budgets backstop made, recorded by this interval

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def breach(reading: SpendReading, caps: SpendCaps) -> tuple[str, float, float] | None:
    """(cap, cap amount, reading amount) of the first cap the reading is over; None when under both. Over means
    strictly more: a team may spend its cap."""
    if reading.hour_usd > caps.hourly_usd:
        return "hourly", caps.hourly_usd, reading.hour_usd
    if reading.day_usd > caps.daily_usd:
        return "daily", caps.daily_usd, reading.day_usd
    return None


def forgiven(thawed: FreezeRecord, reading: SpendReading, cap: str) -> bool:
    """A thaw forgives the spend that caused it: the daily cap counts again from the next UTC day, the hourly cap from
    one full hour after the thaw (a window holding no spend from before it). A new runaway after that freezes again."""
    if thawed.thawed_at is None:
        return False
    at, thawed_at = reading.at.astimezone(UTC), _parse(thawed.thawed_at)
    if cap == "daily":
        return at.date() <= thawed_at.date()
    return at < thawed_at + timedelta(hours=1)


def account_intents(layout: Layout, records: Iterable[RequestRecord]) -> dict[str, AccountSpendIntent]:
    """request id -> the account's tier, owner and regions, from the vending records."""
    out: dict[str, AccountSpendIntent] = {}
    for record in records:
        request = record.request
        tier = str(request.get("gpu_tier") or "")
        if tier not in layout.gpu_tiers:
            continue
        out[record.request_id] = AccountSpendIntent(
            tier, str(request.get("owner_email") or ""), tuple(request.get("regions") or ())
        )
    return out


def _layout_intent(layout: Layout, reading: SpendReading) -> AccountSpendIntent | None:
    spec = layout.team(reading.team)
    if spec is None:
        return None
    return AccountSpendIntent(spec.gpu_tier, spec.owner_email, spec.regions_for(reading.stage))


# --- the SCP ------------------------------------------------------------------------------------------------


def ensure_freeze_policy(org: Any, layout: Layout) -> str:
    """The id of `vend-freeze`, created from the rendered document if the organization lacks it (the reconcile
    creates it too; a fence must not wait for that). A create raced by another fence settles on the one made."""
    wanted = freeze_policy(layout)
    for page in org.get_paginator("list_policies").paginate(Filter=SCP):
        for policy in page["Policies"]:
            if policy["Name"] == wanted.name:
                return str(policy["Id"])
    return create_policy(
        Backoff(), org, name=wanted.name, policy_type=SCP, content=wanted.content, description=wanted.description
    )


def attach_freeze(org: Any, policy_id: str, account_id: str) -> bool:
    """Attach; False when it already was (a retry, a rival fence): the attachment is what matters."""
    try:
        org.attach_policy(PolicyId=policy_id, TargetId=account_id)
        return True
    except ClientError as e:
        if error_code(e) != "DuplicatePolicyAttachmentException":
            raise
        return False


def detach_freeze(org: Any, policy_id: str, account_id: str) -> bool:
    try:
        org.detach_policy(PolicyId=policy_id, TargetId=account_id)
        return True
    except ClientError as e:
        if error_code(e) != "PolicyNotAttachedException":
            raise
        return False


# --- notifications and stopping ---------------------------------------------------------------------------------


def event_notifier(events: Any, *, bus: str, source: str) -> Notify:
    """Publish freezes and thaws on the service's bus: the owner's address and the platform are in the detail, for the
    rules that mail the owner and page the platform."""

    def notify(detail_type: str, record: FreezeRecord) -> None:
        detail = record.model_dump(
            mode="json",
            include={
                "account_id",
                "team",
                "stage",
                "request_id",
                "tier",
                "cap",
                "cap_usd",
                "reading_usd",
                "reading_at",
                "by_source",
                "frozen_at",
                "on_freeze",
                "thawed_by",
                "thawed_at",
            },
        )
        detail["notify"] = {"owner": record.owner_email, "platform": True}
        response = events.put_events(
            Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}]
        )
        if response.get("FailedEntryCount"):
            raise EventPublishFailed(f"PutEvents rejected the {detail_type} event: {response['Entries']}")

    return notify


def stop_accelerated_instances(ec2_for: Callable[[str], Any], layout: Layout, regions: Iterable[str]) -> list[str]:
    """Stop the running accelerated instances (the layout's accelerated EC2 families) in each region. `ec2_for(region)`
    is an EC2 client in the member account as the platform's access role (exempt from the freeze)."""
    stopped: list[str] = []
    for region in regions:
        ec2 = ec2_for(region)
        # The families are matched as the freeze SCP matches ec2:InstanceType (StringLike), not by a filter syntax.
        ids = [
            i["InstanceId"]
            for page in ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
            )
            for reservation in page["Reservations"]
            for i in reservation["Instances"]
            if any(fnmatchcase(i["InstanceType"], f) for f in layout.accelerated_families.ec2)
        ]
        if ids:
            ec2.stop_instances(InstanceIds=ids)
            stopped += ids
    return sorted(stopped)


# --- the fence ----------------------------------------------------------------------------------------------------


def _complete(
    record: FreezeRecord,
    *,
    org: Any,
    policy_id: Callable[[], str],
    store: FreezeStore,
    notify: Notify,
    stop: Stopper | None,
    regions: tuple[str, ...],
    now: datetime,
    run_id: str,
) -> FreezeRecord:
    """The steps after the write, each skipped when the record says it is done; safe to run again."""
    if record.attached_at is None:
        attach_freeze(org, policy_id(), record.account_id)
        done = record.model_copy(update={"attached_at": _iso(now)})
        if store.save(done, expect=FreezeStatus.FROZEN):
            record = done
    if record.notified_at is None:
        stale = _iso(now - NOTIFY_CLAIM_TTL)
        claimed = record.model_copy(update={"notify_claimed_by": run_id, "notify_claimed_at": _iso(now)})
        # One notification even with two fences: the run whose claim lands publishes; a claim left by a run that
        # crashed before publishing may be taken over once stale.
        if store.save(
            claimed,
            expect=FreezeStatus.FROZEN,
            extra="attribute_not_exists(notify_claimed_by) OR "
            "(attribute_not_exists(notified_at) AND notify_claimed_at < :stale)",
            **{":stale": stale},
        ):
            notify(FROZEN_EVENT, claimed)
            done = claimed.model_copy(update={"notified_at": _iso(now)})
            record = done if store.save(done, expect=FreezeStatus.FROZEN) else claimed
    if record.on_freeze == "stop" and record.stopped_at is None:
        if stop is None:
            logger.warning("on_freeze is stop but this fence has no stopper", extra={"account": record.account_id})
        else:
            ids = stop(record, regions)
            done = record.model_copy(update={"stopped_instances": ids, "stopped_at": _iso(now)})
            if store.save(done, expect=FreezeStatus.FROZEN):
                record = done
    return record


def fence(
    readings: Iterable[SpendReading],
    layout: Layout,
    org: Any,
    freezes_store: FreezeStore,
    notify: Notify,
    now: datetime,
    *,
    intents: Mapping[str, AccountSpendIntent] | None = None,
    stop: Stopper | None = None,
    run_id: str = "fence",
) -> FenceReport:
    """Freeze every account a reading puts over its cap; complete any freeze whose steps a crash left undone.

    `intents` (request id -> tier, owner, regions: account_intents over the vending records) covers teams the layout
    does not list; without it the layout's teams are used. `now` is the fence's clock (the tests control it)."""
    report = FenceReport()
    policy: list[str] = []

    def policy_id() -> str:
        if not policy:
            policy.append(ensure_freeze_policy(org, layout))
        return policy[0]

    def complete(record: FreezeRecord, regions: tuple[str, ...]) -> FreezeRecord:
        return _complete(
            record,
            org=org,
            policy_id=policy_id,
            store=freezes_store,
            notify=notify,
            stop=stop,
            regions=regions,
            now=now,
            run_id=run_id,
        )

    failures: list[Exception] = []
    for reading in readings:
        intent = (intents or {}).get(reading.request_id) or _layout_intent(layout, reading)
        if intent is None:
            report.skipped.append(reading.account_id)
            logger.warning("reading for an account without a vending record", extra={"request_id": reading.request_id})
            continue
        # One account's failure (throttling, a missing grant) must not leave the others over their caps unfrozen.
        try:
            _fence_one(reading, intent, layout, freezes_store, complete, report, now, run_id)
        except (ClientError, VendingError) as e:
            report.failed.append(f"{reading.account_id}: {type(e).__name__}: {e}")
            failures.append(e)
    if failures:
        raise FenceIncomplete(
            f"{len(failures)} account(s) not fenced this interval (the next one retries): {'; '.join(report.failed)}",
            report=report,
        ) from failures[0]
    return report


def _fence_one(
    reading: SpendReading,
    intent: AccountSpendIntent,
    layout: Layout,
    freezes_store: FreezeStore,
    complete: Callable[[FreezeRecord, tuple[str, ...]], FreezeRecord],
    report: FenceReport,
    now: datetime,
    run_id: str,
) -> None:
    existing = freezes_store.get(reading.account_id)
    if existing is not None and existing.status == FreezeStatus.FROZEN:
        if existing.complete:
            report.already_frozen.append(reading.account_id)
        else:
            complete(existing, intent.regions)
            report.completed.append(reading.account_id)
        return
    caps = layout.spend_caps(reading.team, intent.tier)
    if caps is None:
        report.unfenced.append(reading.account_id)
        return
    over = breach(reading, caps)
    if over is None:
        report.under_cap += 1
        return
    cap, cap_usd, value = over
    if existing is not None and forgiven(existing, reading, cap):
        report.in_grace.append(reading.account_id)
        return
    record = FreezeRecord(
        account_id=reading.account_id,
        freeze_id=f"{reading.request_id}@{_iso(now)}",
        status=FreezeStatus.FROZEN,
        team=reading.team,
        stage=reading.stage,
        request_id=reading.request_id,
        tier=intent.tier,
        cap=cap,  # type: ignore[arg-type]
        cap_usd=cap_usd,
        reading_usd=round(value, 4),
        reading_at=_iso(reading.at),
        by_source={k: round(v, 4) for k, v in reading.by_source.items()},
        frozen_at=_iso(now),
        frozen_by=run_id,
        on_freeze=layout.on_freeze(reading.team, intent.tier),
        owner_email=intent.owner_email,
    )
    if not freezes_store.claim(record, replacing=existing):
        report.lost_race.append(reading.account_id)
        return
    logger.info(
        "frozen",
        extra={"account": record.account_id, "cap": cap, "cap_usd": cap_usd, "reading_usd": record.reading_usd},
    )
    report.frozen.append(reading.account_id)  # the record is the freeze; the steps after it are completed if they fail
    complete(record, intent.regions)


# --- thaw ---------------------------------------------------------------------------------------------------------


def find_freeze(store: FreezeStore, ident: str) -> FreezeRecord:
    """The freeze of a request id (`team-stage`) or an account id; ThawNotFound when none stands."""
    found = store.get(ident) if ident.isdigit() else next((r for r in store.list() if r.request_id == ident), None)
    if found is None or found.status != FreezeStatus.FROZEN:
        raise ThawNotFound(f"request: {ident!r} is not frozen (`vend spend status` lists the frozen accounts)")
    return found


def request_thaw(
    store: FreezeStore, ident: str, *, by: str, session: str | None, reason: str, now: datetime
) -> FreezeRecord:
    """File a thaw: it waits for someone else's approval. A thaw already filed is not replaced."""
    if not reason.strip():
        raise InvalidRequest("reason: say why the account may spend again (what was fixed)")
    record = find_freeze(store, ident)
    if record.thaw_requested_by is not None:
        raise InvalidRequest(
            f"request: a thaw of {record.request_id} is already filed by {record.thaw_requested_by}; "
            "it waits for another principal's approval (`vend spend approve`)"
        )
    filed = record.model_copy(
        update={
            "thaw_requested_by": by,
            "thaw_requested_session": session,
            "thaw_requested_at": _iso(now),
            "thaw_reason": reason.strip(),
        }
    )
    if not store.save(filed, expect=FreezeStatus.FROZEN, extra="attribute_not_exists(thaw_requested_by)"):
        raise InvalidRequest(f"request: the freeze of {record.request_id} changed meanwhile; read it again")
    return filed


def approve_thaw(
    store: FreezeStore,
    org: Any,
    layout: Layout,
    ident: str,
    *,
    by: str,
    session: str | None,
    now: datetime,
    notify: Notify | None = None,
) -> FreezeRecord:
    """Approve the filed thaw: never by the principal who filed it. The record is cleared first (conditional on the
    freeze and the thaw the approver saw), then the policy is detached. With `org` None (the approver's role may not
    detach SCPs: that would let it lift any guardrail) only the approval is recorded, and the fence's next interval
    detaches it (`finish_thaws`); a crash between them leaves the same, which the audit also reports."""
    record = find_freeze(store, ident)
    if record.thaw_requested_by is None:
        raise ThawNotFound(f"request: no thaw of {record.request_id} is filed (`vend spend thaw` files one)")
    if same_principal(by, record.thaw_requested_by):
        raise SelfApproval(
            f"approved_by: {by} filed this thaw; another principal must approve it (the approver's role, not "
            "the requester's)"
        )
    thawed = record.model_copy(
        update={"status": FreezeStatus.THAWED, "thawed_by": by, "thawed_session": session, "thawed_at": _iso(now)}
    )
    if not store.save(
        thawed, expect=FreezeStatus.FROZEN, extra="thaw_requested_by = :req", **{":req": record.thaw_requested_by}
    ):
        raise InvalidRequest(f"request: the freeze of {record.request_id} changed meanwhile; read it again")
    if org is None:
        return thawed
    return _detach_thawed(thawed, org=org, layout=layout, store=store, notify=notify, now=now)


@dataclass(frozen=True)
class Backstop:
    """The management account's Budgets (a client) and its id: where the backstop actions live."""

    budgets: Any
    management_account_id: str

    def action(self, account_id: str) -> dict[str, Any] | None:
        return backstop_action(self.budgets, self.management_account_id, account_id)

    def reverse(self, account_id: str) -> bool:
        """Reverse an executed backstop action (Budgets detaches vend-freeze as its role and the action stays
        REVERSE_SUCCESS, so the same budget period's spend does not freeze the account again). False when there is
        nothing to reverse."""
        action = self.action(account_id)
        if action is None or action.get("Status") != "EXECUTION_SUCCESS":
            return False
        try:
            self.budgets.execute_budget_action(
                AccountId=self.management_account_id,
                BudgetName=backstop_name(account_id),
                ActionId=action["ActionId"],
                ExecutionType="REVERSE_BUDGET_ACTION",
            )
        except ClientError as e:
            if error_code(e) != "ResourceLockedException":  # moved meanwhile: the detach below settles it
                raise
            return False
        return True


def _detach_thawed(
    thawed: FreezeRecord,
    *,
    org: Any,
    layout: Layout,
    store: FreezeStore,
    notify: Notify | None,
    now: datetime,
    backstop: Backstop | None = None,
) -> FreezeRecord:
    if backstop is not None and backstop.reverse(thawed.account_id):
        logger.info("backstop action reversed", extra={"account": thawed.account_id})
    detach_freeze(org, ensure_freeze_policy(org, layout), thawed.account_id)
    done = thawed.model_copy(update={"detached_at": _iso(now)})
    store.save(done, expect=FreezeStatus.THAWED)
    if notify is not None:
        notify(THAWED_EVENT, done)
    return done


def finish_thaws(
    store: FreezeStore,
    org: Any,
    layout: Layout,
    *,
    notify: Notify | None,
    now: datetime,
    backstop: Backstop | None = None,
) -> list[str]:
    """Detach `vend-freeze` from every account whose thaw is approved but not yet detached (approved by a role that
    may not detach SCPs, or a crash after the approval): what each interval does before it fences. An executed
    Budgets backstop action of the account is reversed first (`backstop`)."""
    done = []
    for record in store.list(status=FreezeStatus.THAWED):
        if record.detached_at is None:
            _detach_thawed(record, org=org, layout=layout, store=store, notify=notify, now=now, backstop=backstop)
            done.append(record.account_id)
    return done


def adopt_backstop_freezes(
    records: Iterable[RequestRecord],
    layout: Layout,
    org: Any,
    store: FreezeStore,
    backstop: Backstop,
    *,
    intents: Mapping[str, AccountSpendIntent],
    notify: Notify,
    now: datetime,
    stop: Stopper | None = None,
    run_id: str = "fence",
) -> list[str]:
    """Record the freezes the Budgets backstop made: an account carrying `vend-freeze` without a freeze record whose
    backstop action is EXECUTION_SUCCESS gets its freeze record (reason BACKSTOP_REASON), is notified once and,
    with `on_freeze: stop`, stopped, as a fence freeze is; from then on the audit expects the SCP there and a thaw
    goes through the same approval. An attachment without an executed action is left to the audit (planted)."""
    policy_id = ensure_freeze_policy(org, layout)
    attached = {
        t["TargetId"]
        for page in org.get_paginator("list_targets_for_policy").paginate(PolicyId=policy_id)
        for t in page["Targets"]
        if t.get("Type") == "ACCOUNT"
    }
    if not attached:
        return []
    frozen = store.frozen_accounts()
    adopted: list[str] = []
    for record in records:
        account_id = record.account_id or ""
        intent = intents.get(record.request_id)
        if account_id not in attached or account_id in frozen or intent is None:
            continue
        action = backstop.action(account_id)
        if action is None or action.get("Status") != "EXECUTION_SUCCESS":
            continue
        team, stage = record.team, record.stage
        budget = backstop.budgets.describe_budget(
            AccountId=backstop.management_account_id, BudgetName=backstop_name(account_id)
        )["Budget"]
        actual = float(budget.get("CalculatedSpend", {}).get("ActualSpend", {}).get("Amount", 0) or 0)
        freeze = FreezeRecord(
            account_id=account_id,
            freeze_id=f"{record.request_id}@{_iso(now)}",
            status=FreezeStatus.FROZEN,
            team=team,
            stage=stage,
            request_id=record.request_id,
            tier=intent.tier,
            cap="monthly",
            cap_usd=float(budget["BudgetLimit"]["Amount"]),
            reading_usd=round(actual, 4),
            reading_at=_iso(now),
            frozen_at=_iso(now),
            frozen_by=f"budgets-action:{action['ActionId']}",
            on_freeze=layout.on_freeze(team, intent.tier),
            owner_email=intent.owner_email,
            reason=BACKSTOP_REASON,
            attached_at=_iso(now),  # Budgets attached it
        )
        if not store.claim(freeze, replacing=store.get(account_id)):
            continue  # a fence froze it meanwhile
        logger.info("backstop freeze adopted", extra={"account": account_id, "action": action["ActionId"]})
        _complete(
            freeze,
            org=org,
            policy_id=lambda: policy_id,
            store=store,
            notify=notify,
            stop=stop,
            regions=intent.regions,
            now=now,
            run_id=run_id,
        )
        adopted.append(account_id)
    return adopted
