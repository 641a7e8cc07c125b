"""Make moto's Organizations behave like AWS where the guardrails depend on it (tests and benchmarks only).

moto 5.2 differs from AWS in ways that would make our tests and API-call counts dishonest:
- ListTargetsForPolicy returns every target in one page; AWS serves at most 20 per page.
- A new OU gets no SCP; AWS attaches FullAWSAccess to every new OU.
- DetachPolicy may remove a target's last SCP; AWS refuses (ConstraintViolationException).
- AttachPolicy ignores the per-target quota; AWS refuses past it.
Imported only by tests and benchmarks; nothing in the service imports moto.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

AWS_PAGE_SIZE = 20


@contextlib.contextmanager
def aws_like_organizations(max_policies_per_target: int = 5) -> Iterator[None]:
    from moto.core.exceptions import JsonRESTError
    from moto.organizations import utils
    from moto.organizations.models import OrganizationsBackend

    original = {name: getattr(OrganizationsBackend, name) for name in
                ("list_targets_for_policy", "create_organizational_unit", "detach_policy", "attach_policy")}

    def list_targets_for_policy(self: Any, **kwargs: Any) -> dict[str, Any]:
        targets = original["list_targets_for_policy"](self, **kwargs)["Targets"]
        start = int(kwargs.get("NextToken") or 0)
        size = min(int(kwargs.get("MaxResults") or AWS_PAGE_SIZE), AWS_PAGE_SIZE)
        page: dict[str, Any] = {"Targets": targets[start:start + size]}
        if start + size < len(targets):
            page["NextToken"] = str(start + size)
        return page

    def create_organizational_unit(self: Any, **kwargs: Any) -> dict[str, Any]:
        out = original["create_organizational_unit"](self, **kwargs)
        original["attach_policy"](self, PolicyId=utils.DEFAULT_SCP_POLICY_ID, TargetId=out["OrganizationalUnit"]["Id"])
        return out

    def _scps(self: Any, target_id: str) -> list[Any]:
        holder = next((o for o in [*self.ou, *self.accounts] if o.id == target_id), None)
        return [p for p in getattr(holder, "attached_policies", []) if p.type == "SERVICE_CONTROL_POLICY"]

    def detach_policy(self: Any, **kwargs: Any) -> None:
        scps = _scps(self, kwargs["TargetId"])
        if len(scps) == 1 and scps[0].id == kwargs["PolicyId"]:
            raise JsonRESTError("ConstraintViolationException",
                                "You cannot remove the last service control policy from a target.")
        original["detach_policy"](self, **kwargs)

    def attach_policy(self: Any, **kwargs: Any) -> None:
        scps = _scps(self, kwargs["TargetId"])
        policy = self.get_policy_by_id(kwargs["PolicyId"])
        if policy.type == "SERVICE_CONTROL_POLICY" and policy not in scps and len(scps) >= max_policies_per_target:
            raise JsonRESTError("ConstraintViolationException",
                                f"POLICY_NUMBER_LIMIT_EXCEEDED: {kwargs['TargetId']} has {len(scps)} SCPs")
        original["attach_policy"](self, **kwargs)

    patched = {"list_targets_for_policy": list_targets_for_policy,
               "create_organizational_unit": create_organizational_unit,
               "detach_policy": detach_policy, "attach_policy": attach_policy}
    for name, fn in patched.items():
        setattr(OrganizationsBackend, name, fn)
    try:
        yield
    finally:
        for name, fn in original.items():
            setattr(OrganizationsBackend, name, fn)


class CreationQuota:
    """What `slow_account_creation` observed: creations started, the most ever in flight, quota refusals."""

    def __init__(self, seconds: float, max_in_flight: int) -> None:
        import threading

        self.seconds, self.max_in_flight = seconds, max_in_flight
        self.started: dict[str, float] = {}
        self.peak_in_flight = 0
        self.rejected = 0
        self.lock = threading.Lock()

    def in_flight(self, now: float) -> int:
        return sum(1 for t in self.started.values() if now - t < self.seconds)

    def pending(self, car_id: str, now: float) -> bool:
        return car_id in self.started and now - self.started[car_id] < self.seconds


@contextlib.contextmanager
def slow_account_creation(seconds: float, max_in_flight: int = 5) -> Iterator[CreationQuota]:
    """AWS takes minutes to create an account and allows `max_in_flight` creations in progress at once; moto
    finishes at once and allows any number. Here a creation stays IN_PROGRESS (no AccountId) for `seconds`, and a
    CreateAccount beyond the quota is refused with TooManyRequestsException (the code our throttling handling
    retries on). The account itself exists in moto from the start; only its creation status is held back."""
    import time

    from moto.core.exceptions import JsonRESTError
    from moto.organizations.models import OrganizationsBackend

    quota = CreationQuota(seconds, max_in_flight)
    original = {name: getattr(OrganizationsBackend, name) for name in
                ("create_account", "describe_create_account_status", "list_create_account_status")}

    def _held(status: dict[str, Any], now: float) -> dict[str, Any]:
        if not quota.pending(status["Id"], now):
            return status
        return {k: v for k, v in status.items() if k not in {"AccountId", "CompletedTimestamp"}} | {
            "State": "IN_PROGRESS"}

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        with quota.lock:
            now = time.monotonic()
            in_flight = quota.in_flight(now)
            if in_flight >= quota.max_in_flight:
                quota.rejected += 1
                raise JsonRESTError("TooManyRequestsException",
                                    f"{in_flight} CreateAccount requests are already in progress")
            out = original["create_account"](self, **kwargs)
            quota.started[out["CreateAccountStatus"]["Id"]] = now
            quota.peak_in_flight = max(quota.peak_in_flight, in_flight + 1)
        return {"CreateAccountStatus": _held(out["CreateAccountStatus"], now)}

    def describe_create_account_status(self: Any, **kwargs: Any) -> dict[str, Any]:
        out = original["describe_create_account_status"](self, **kwargs)
        return {"CreateAccountStatus": _held(out["CreateAccountStatus"], time.monotonic())}

    def list_create_account_status(self: Any, **kwargs: Any) -> dict[str, Any]:
        wanted = kwargs.get("States") or ["IN_PROGRESS", "SUCCEEDED", "FAILED"]
        every = original["list_create_account_status"](self, **{**kwargs, "States": None, "MaxResults": 10**6})
        now = time.monotonic()
        statuses = [s for s in (_held(s, now) for s in every["CreateAccountStatuses"]) if s["State"] in wanted]
        return {"CreateAccountStatuses": statuses, "NextToken": None}

    patched = {"create_account": create_account, "describe_create_account_status": describe_create_account_status,
               "list_create_account_status": list_create_account_status}
    for name, fn in patched.items():
        setattr(OrganizationsBackend, name, fn)
    try:
        yield quota
    finally:
        for name, fn in original.items():
            setattr(OrganizationsBackend, name, fn)
