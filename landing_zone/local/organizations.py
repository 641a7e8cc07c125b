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
