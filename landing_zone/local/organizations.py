"""Make moto's Organizations behave like AWS where the guardrails depend on it (tests and benchmarks only).

moto 5.2 differs from AWS in ways that would make our tests and API-call counts dishonest:
- ListTargetsForPolicy returns every target in one page; AWS serves at most 20 per page.
(moto 5.2.5 attaches FullAWSAccess to a new OU itself, as AWS does; tests/emulator checks it still does.)
- DetachPolicy may remove a target's last SCP; AWS refuses (ConstraintViolationException).
- AttachPolicy ignores the per-target quota; AWS refuses past it.
- A new account's OrganizationAccountAccessRole has no policy; AWS gives it AdministratorAccess, and with IAM
  authentication on (the local emulator) an unpoliced role could do nothing (`access_role_administrator`).
Imported only by the emulator runtime, tests and benchmarks; nothing in the service imports moto.
Every patched method is checked first (landing_zone.local.patching): a moto that changed under it is refused.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from landing_zone.local.patching import MotoChanged, require, require_instance_attribute

AWS_PAGE_SIZE = 20
PATCHED_METHODS = ("list_targets_for_policy", "detach_policy", "attach_policy", "disable_policy_type")
ADMINISTRATOR_ACCESS = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@contextlib.contextmanager
def aws_like_organizations(max_policies_per_target: int = 5) -> Iterator[None]:
    from moto.core.exceptions import JsonRESTError
    from moto.organizations.models import FakeRoot, OrganizationsBackend

    original = {name: require(OrganizationsBackend, name, ("self", "kwargs")) for name in PATCHED_METHODS}
    require(OrganizationsBackend, "get_policy_by_id", ("self", "policy_id"))

    def list_targets_for_policy(self: Any, **kwargs: Any) -> dict[str, Any]:
        targets = original["list_targets_for_policy"](self, **kwargs)["Targets"]
        start = int(kwargs.get("NextToken") or 0)
        size = min(int(kwargs.get("MaxResults") or AWS_PAGE_SIZE), AWS_PAGE_SIZE)
        page: dict[str, Any] = {"Targets": targets[start : start + size]}
        if start + size < len(targets):
            page["NextToken"] = str(start + size)
        return page

    def _scps(self: Any, target_id: str) -> list[Any]:
        holder = next((o for o in [*self.ou, *self.accounts] if o.id == target_id), None)
        if holder is None:
            return []  # moto raises its own not-found error when the original runs
        attached = require_instance_attribute(holder, "attached_policies")
        return [p for p in attached if p.type == "SERVICE_CONTROL_POLICY"]

    def detach_policy(self: Any, **kwargs: Any) -> None:
        scps = _scps(self, kwargs["TargetId"])
        if len(scps) == 1 and scps[0].id == kwargs["PolicyId"]:
            raise JsonRESTError(
                "ConstraintViolationException", "You cannot remove the last service control policy from a target."
            )
        original["detach_policy"](self, **kwargs)

    def _enabled(self: Any, policy_type: str) -> bool:
        roots = [o for o in self.ou if isinstance(o, FakeRoot)]  # moto keeps the root among its OUs
        return any(t["Type"] == policy_type for r in roots for t in require_instance_attribute(r, "policy_types"))

    def attach_policy(self: Any, **kwargs: Any) -> None:
        scps = _scps(self, kwargs["TargetId"])
        policy = self.get_policy_by_id(kwargs["PolicyId"])
        # moto attaches a policy of any type, enabled or not. AWS-managed ones are left out: moto attaches
        # FullAWSAccess and RCPFullAWSAccess at CreateOrganization, before any type is enabled.
        if not require_instance_attribute(policy, "aws_managed") and not _enabled(self, policy.type):
            raise JsonRESTError(
                "PolicyTypeNotEnabledException",
                f"This operation can be performed only for enabled policy types ({policy.type}).",
            )
        if policy.type == "SERVICE_CONTROL_POLICY" and policy not in scps and len(scps) >= max_policies_per_target:
            raise JsonRESTError(
                "ConstraintViolationException",
                f"POLICY_NUMBER_LIMIT_EXCEEDED: {kwargs['TargetId']} has {len(scps)} SCPs",
            )
        original["attach_policy"](self, **kwargs)

    def disable_policy_type(self: Any, **kwargs: Any) -> dict[str, Any]:
        # AWS detaches every policy of the type from every target in the root; moto leaves them attached.
        out = original["disable_policy_type"](self, **kwargs)
        for holder in [*self.ou, *self.accounts]:
            attached = require_instance_attribute(holder, "attached_policies")
            for policy in [p for p in attached if p.type == kwargs["PolicyType"]]:
                attached.remove(policy)
                policy.attachments.remove(holder)
        return out

    patched = {
        "list_targets_for_policy": list_targets_for_policy,
        "disable_policy_type": disable_policy_type,
        "detach_policy": detach_policy,
        "attach_policy": attach_policy,
    }
    for name, fn in patched.items():
        setattr(OrganizationsBackend, name, fn)
    try:
        yield
    finally:
        for name, fn in original.items():
            setattr(OrganizationsBackend, name, fn)


@contextlib.contextmanager
def aws_managed_policies() -> Iterator[None]:
    """moto leaves AWS managed policies (AmazonEKSClusterPolicy, ...) out of an account's IAM unless configured, and
    its config API cannot switch that on in 5.2; the in-process flag is read when an account's IAM backend is
    created (here: by CreateAccount), so it is set for that call only. It has no effect on a moto in another
    process (start that one with MOTO_IAM_LOAD_MANAGED_POLICIES=true)."""
    try:
        from moto.core.config import default_user_config
    except ImportError:  # moto not installed here: the emulator runs elsewhere
        yield
        return
    if "load_aws_managed_policies" not in default_user_config.get("iam", {}):
        raise MotoChanged("moto's default_user_config has no iam.load_aws_managed_policies; update the emulator patch")
    iam_config = default_user_config.setdefault("iam", {})
    before = iam_config.get("load_aws_managed_policies", False)
    iam_config["load_aws_managed_policies"] = True
    try:
        yield
    finally:
        iam_config["load_aws_managed_policies"] = before


@contextlib.contextmanager
def access_role_administrator() -> Iterator[None]:
    """CreateAccount gives the new account's access role AdministratorAccess, as AWS does
    (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html), and the account
    sees AWS's managed policies (the EKS stacks attach AmazonEKSClusterPolicy and the like)."""
    from moto.iam.models import IAMBackend, iam_backends
    from moto.organizations.models import OrganizationsBackend

    original = require(OrganizationsBackend, "create_account", ("self", "kwargs"))
    require(IAMBackend, "put_role_policy", ("self", "role_name", "policy_name", "policy_json"))

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        with aws_managed_policies():  # the new account's IAM is created by this call
            status = original(self, **kwargs)
        account_id = status["CreateAccountStatus"]["AccountId"]
        role = kwargs.get("RoleName") or "OrganizationAccountAccessRole"
        iam_backends[account_id]["global"].put_role_policy(role, "AdministratorAccess", ADMINISTRATOR_ACCESS)
        return status

    OrganizationsBackend.create_account = create_account  # type: ignore[method-assign]
    try:
        yield
    finally:
        OrganizationsBackend.create_account = original  # type: ignore[method-assign]


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
    original = {
        name: require(OrganizationsBackend, name, ("self", "kwargs"))
        for name in ("create_account", "describe_create_account_status", "list_create_account_status")
    }

    def _held(status: dict[str, Any], now: float) -> dict[str, Any]:
        if not quota.pending(status["Id"], now):
            return status
        return {k: v for k, v in status.items() if k not in {"AccountId", "CompletedTimestamp"}} | {
            "State": "IN_PROGRESS"
        }

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        with quota.lock:
            now = time.monotonic()
            in_flight = quota.in_flight(now)
            if in_flight >= quota.max_in_flight:
                quota.rejected += 1
                raise JsonRESTError(
                    "TooManyRequestsException", f"{in_flight} CreateAccount requests are already in progress"
                )
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

    patched = {
        "create_account": create_account,
        "describe_create_account_status": describe_create_account_status,
        "list_create_account_status": list_create_account_status,
    }
    for name, fn in patched.items():
        setattr(OrganizationsBackend, name, fn)
    try:
        yield quota
    finally:
        for name, fn in original.items():
            setattr(OrganizationsBackend, name, fn)


@contextlib.contextmanager
def unique_account_emails() -> Iterator[dict[str, dict[str, Any]]]:
    """An e-mail address names one account in an organization: AWS accepts a CreateAccount for an address already
    in use and then fails that creation with EMAIL_ALREADY_EXISTS; moto creates a second account. Without this, a
    CreateAccount the SDK retried after a lost answer (a read timeout) would leave a duplicate account that AWS never
    makes. Yields the refused creation statuses by request id."""
    import threading
    import uuid
    from datetime import UTC, datetime

    from moto.organizations.exceptions import AccountNotFoundException
    from moto.organizations.models import OrganizationsBackend

    names = ("create_account", "describe_create_account_status", "list_create_account_status")
    original = {name: require(OrganizationsBackend, name, ("self", "kwargs")) for name in names}
    refused: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()  # moto's server answers on several threads: check and create as one step

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        with lock:
            return _create_account(self, **kwargs)

    def _create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        email = str(kwargs.get("Email", "")).lower()
        if self.org is not None and any(a.email.lower() == email and a.status != "SUSPENDED" for a in self.accounts):
            now = datetime.now(UTC).timestamp()
            status = {
                "Id": f"car-{uuid.uuid4().hex[:32]}",
                "AccountName": kwargs["AccountName"],
                "State": "FAILED",
                "RequestedTimestamp": now,
                "CompletedTimestamp": now,
                "FailureReason": "EMAIL_ALREADY_EXISTS",
            }
            refused[status["Id"]] = status
            return {"CreateAccountStatus": status}
        return original["create_account"](self, **kwargs)

    def describe_create_account_status(self: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return original["describe_create_account_status"](self, **kwargs)
        except AccountNotFoundException:
            if kwargs["CreateAccountRequestId"] in refused:
                return {"CreateAccountStatus": dict(refused[kwargs["CreateAccountRequestId"]])}
            raise

    def list_create_account_status(self: Any, **kwargs: Any) -> dict[str, Any]:
        out = original["list_create_account_status"](self, **kwargs)
        wanted = kwargs.get("States") or ["IN_PROGRESS", "SUCCEEDED", "FAILED"]
        if "FAILED" in wanted and not kwargs.get("NextToken"):
            out["CreateAccountStatuses"] = [*out["CreateAccountStatuses"], *map(dict, refused.values())]
        return out

    patched = {
        "create_account": create_account,
        "describe_create_account_status": describe_create_account_status,
        "list_create_account_status": list_create_account_status,
    }
    for name, fn in patched.items():
        setattr(OrganizationsBackend, name, fn)
    try:
        yield refused
    finally:
        for name, fn in original.items():
            setattr(OrganizationsBackend, name, fn)
