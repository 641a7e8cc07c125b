"""GPU capacity at vend: ask Service Quotas in the new account for the quotas its tier needs, in each of its regions.

For each quota the tier lists (Layout.quota_needs) and each region: read the applied value; when it is below the
tier's, reuse the open request for that quota if there is one (AWS allows one open request per quota), else request
the increase. Every step reads before it writes, so a retried or resumed step never opens a second request.

AWS cannot lower a quota by request: after a downgrade a quota the old tier raised stays raised, and is recorded as
ABOVE_TIER (the guardrails, not the quota, decide what the team may launch).
https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_RequestServiceQuotaIncrease.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vending.aws.errors import error_code, is_transient
from vending.exceptions import AwsTransient, QuotaRequestFailed
from vending.layout import QuotaNeed

logger = Logger(child=True)

# Request states that still move (https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_RequestedServiceQuotaChange.html).
OPEN = frozenset({"PENDING", "CASE_OPENED"})
# States of a quota on the record that need nobody's action: the applied value already covers the tier's.
MET, ABOVE_TIER = "MET", "ABOVE_TIER"
SETTLED = frozenset({MET, ABOVE_TIER, "APPROVED"})


class QuotaState(BaseModel):
    """One quota of the account in one region, as the vend step left it (stored on the request record)."""

    region: str
    service: str
    code: str
    name: str
    desired: float  # the tier's value; 0 for a quota the tier no longer lists
    applied: float
    status: str  # MET, ABOVE_TIER, or the status of the increase request (PENDING, CASE_OPENED, APPROVED, DENIED, ...)
    request_id: str | None = None
    requested: float | None = None  # the value the open or last request asked for

    @property
    def pending(self) -> bool:
        return self.status in OPEN


def _fail(what: str, error: ClientError) -> Exception:
    if is_transient(error):
        return AwsTransient(f"{what}: {error_code(error)}")
    return QuotaRequestFailed(f"{what}: {error_code(error)}: {error}")


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as e:
        raise _fail(what, e) from e


def _resolve_code(sq: Any, need: QuotaNeed, region: str) -> str:
    """The quota's code: the layout's, or the one Service Quotas lists under the layout's name."""
    if need.code:
        return need.code
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        kwargs: dict[str, Any] = {"ServiceCode": need.service}
        while True:
            page = _call(f"{need.service} {operation} in {region}", getattr(sq, operation), **kwargs)
            for quota in page.get("Quotas", []):
                if quota.get("QuotaName") == need.name:
                    return str(quota["QuotaCode"])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    raise QuotaRequestFailed(f"{need.service} in {region}: no quota named {need.name!r} (check the layout)")


def _applied(sq: Any, service: str, code: str, region: str) -> float:
    """The account's applied value; a quota never changed in the account answers NoSuchResource: its default then."""
    try:
        return float(sq.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except ClientError as e:
        if error_code(e) != "NoSuchResourceException":
            raise _fail(f"{service}/{code} GetServiceQuota in {region}", e) from e
    return _default(sq, service, code, region)


def _default(sq: Any, service: str, code: str, region: str) -> float:
    answer = _call(
        f"{service}/{code} GetAWSDefaultServiceQuota in {region}",
        sq.get_aws_default_service_quota,
        ServiceCode=service,
        QuotaCode=code,
    )
    return float(answer["Quota"]["Value"])


def _open_request(sq: Any, service: str, code: str, region: str) -> dict[str, Any] | None:
    kwargs: dict[str, Any] = {"ServiceCode": service, "QuotaCode": code}
    while True:
        page = _call(
            f"{service}/{code} request history in {region}",
            sq.list_requested_service_quota_change_history_by_quota,
            **kwargs,
        )
        for change in page.get("RequestedQuotas", []):
            if change.get("Status") in OPEN:
                return dict(change)
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def converge_quota(sq: Any, need: QuotaNeed, region: str, before: QuotaState | None = None) -> QuotaState:
    """`before`: this quota as the record had it (a tier change), to tell a quota raised for a higher tier."""
    code = _resolve_code(sq, need, region)
    applied = _applied(sq, need.service, code, region)
    base: dict[str, Any] = {"region": region, "service": need.service, "code": code, "name": need.name}
    base.update(desired=need.value)
    if applied >= need.value:
        raised_before = before is not None and before.desired > need.value and applied > need.value
        return QuotaState(**base, applied=applied, status=ABOVE_TIER if raised_before else MET)
    change = _open_request(sq, need.service, code, region)
    if change is None:
        try:
            change = sq.request_service_quota_increase(
                ServiceCode=need.service, QuotaCode=code, DesiredValue=need.value
            )["RequestedQuota"]
        except ClientError as e:
            if error_code(e) != "ResourceAlreadyExistsException":  # a racing run opened it: use that one
                raise _fail(f"{need.service}/{code} RequestServiceQuotaIncrease in {region}", e) from e
            change = _open_request(sq, need.service, code, region)
            if change is None:
                raise AwsTransient(f"{need.service}/{code} in {region}: an open request is not listed yet") from e
        logger.info("quota increase requested", extra={"quota": code, "region": region, "value": need.value})
    # An open request for less than the tier's (opened before an upgrade) stays as it is: AWS refuses a second one.
    # The next converge (retry, resume, change) asks for the rest once it closes.
    return QuotaState(
        **base,
        applied=applied,
        status=str(change["Status"]),
        request_id=str(change["Id"]),
        requested=float(change["DesiredValue"]),
    )


def converge_quotas(
    client_for: Callable[[str], Any],
    needs: Iterable[QuotaNeed],
    regions: Iterable[str],
    recorded: Iterable[QuotaState] = (),
) -> list[QuotaState]:
    """Every quota the tier needs in every region, requested where below; quotas recorded before that the tier no
    longer lists (a downgrade) are re-read and kept on the record as ABOVE_TIER while they stay raised."""
    needs, recorded = tuple(needs), tuple(recorded)
    states: list[QuotaState] = []
    for region in regions:
        sq = client_for(region)
        before = {(s.service, s.name): s for s in recorded if s.region == region}
        states += [converge_quota(sq, n, region, before.get((n.service, n.name))) for n in needs]
        listed = {(n.service, n.name) for n in needs}
        for old in before.values():
            if (old.service, old.name) in listed:
                continue
            applied = _applied(sq, old.service, old.code, region)
            # Still raised, or a request of the old tier still open (Service Quotas has no way to withdraw one).
            if applied > _default(sq, old.service, old.code, region) or old.pending:
                states.append(old.model_copy(update={"desired": 0.0, "applied": applied, "status": ABOVE_TIER}))
    return states


def pending(states: Iterable[QuotaState]) -> list[QuotaState]:
    return [s for s in states if s.pending]


def describe(state: QuotaState) -> str:
    """One line for the status command and the team guide."""
    what = f"{state.region} {state.service} {state.name} ({state.code})"
    if state.status == MET:
        return f"{what}: {state.applied:g}, meets the tier's {state.desired:g}"
    if state.status == ABOVE_TIER:
        return f"{what}: {state.applied:g}, above the tier's need (AWS cannot lower a quota by request)"
    return f"{what}: {state.applied:g} -> {state.requested:g} requested, {state.status} (request {state.request_id})"
