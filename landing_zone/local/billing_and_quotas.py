"""Service Quotas and cost-allocation tags as AWS answers them, for `vend platform preflight` on the emulator.

moto 5.2.5's Service Quotas knows only the `vpc` defaults and has no ListServiceQuotas; its Cost Explorer has no
cost-allocation tags (ListCostAllocationTags, UpdateCostAllocationTagsStatus). These patches add exactly those
operations, with the state on moto's own backends (so `/moto-api/reset` clears it):

- ListServiceQuotas answers the applied values of the quotas the preflight reads, at AWS's defaults until
  `set_quota` changes one (the emulator's stand-in for an approved quota increase).
- A tag key is listed only after Billing has seen it on a resource (`billing_saw_tags`), as `Inactive`;
  UpdateCostAllocationTagsStatus activates seen keys and answers an error entry for unseen ones, as AWS does
  (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_UpdateCostAllocationTagsStatus.html).

Each patch refuses a moto that gained the operation itself (tests/emulator/test_billing_and_quotas.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

from landing_zone.local.patching import MotoChanged, require

REGION = "us-east-1"
# The quotas the preflight reads, at AWS's defaults (Organizations: 10 accounts; CodeBuild: 20 concurrent builds for
# an established account, as low as 1 for a new one). The CodeBuild code is the emulator's own: the preflight finds
# quotas by name, and in AWS prints the code Service Quotas answers.
CODEBUILD_QUOTA_NAME = "Concurrently running builds for Linux/Small environment"
DEFAULT_QUOTAS: dict[str, list[dict[str, Any]]] = {
    "organizations": [
        {"QuotaCode": "L-E619E033", "QuotaName": "Default maximum number of accounts", "Value": 10.0, "Global": True}
    ],
    "codebuild": [
        {
            "QuotaCode": "L-EMULATED1",
            "QuotaName": CODEBUILD_QUOTA_NAME,
            "Value": 20.0,
            "Global": False,
        }
    ],
}
_QUOTAS_ATTR = "_vend_emulated_quotas"
_TAGS_ATTR = "_vend_cost_allocation_tags"


def _absent(owner: Any, name: str) -> None:
    if hasattr(owner, name):
        raise MotoChanged(
            f"moto {version('moto')}: {owner.__module__}.{owner.__qualname__}.{name} now exists; "
            "drop the emulator's own version (landing_zone/local/billing_and_quotas.py)"
        )


def _quotas(backend: Any) -> dict[str, list[dict[str, Any]]]:
    if not hasattr(backend, _QUOTAS_ATTR):
        setattr(backend, _QUOTAS_ATTR, {code: [dict(q) for q in quotas] for code, quotas in DEFAULT_QUOTAS.items()})
    return getattr(backend, _QUOTAS_ATTR)  # type: ignore[no-any-return]


def _tags(backend: Any) -> dict[str, str]:
    if not hasattr(backend, _TAGS_ATTR):
        setattr(backend, _TAGS_ATTR, {})
    return getattr(backend, _TAGS_ATTR)  # type: ignore[no-any-return]


def set_quota(account_id: str, service_code: str, quota_name: str, value: float, region: str = REGION) -> None:
    """The applied value of one quota in one account and region (an approved increase, or a new account's low one)."""
    from moto.servicequotas.models import servicequotas_backends

    quotas = _quotas(servicequotas_backends[account_id][region]).get(service_code, [])
    quota = next((q for q in quotas if q["QuotaName"] == quota_name), None)
    if quota is None:
        raise KeyError(f"the emulator has no {service_code} quota named {quota_name!r}")
    quota["Value"] = float(value)


def billing_saw_tags(account_id: str, keys: tuple[str, ...] | list[str]) -> None:
    """What Billing does (within 24 hours in AWS) once a resource carries a user-defined tag key: list it, Inactive."""
    from moto.ce.models import ce_backends

    tags = _tags(ce_backends[account_id]["aws"])
    for key in keys:
        tags.setdefault(key, "Inactive")


@contextlib.contextmanager
def emulated_service_quotas() -> Iterator[None]:
    from moto.servicequotas.responses import ServiceQuotasResponse

    require(ServiceQuotasResponse, "backend")
    _absent(ServiceQuotasResponse, "list_service_quotas")

    def list_service_quotas(self: Any) -> str:
        code = str(json.loads(self.body or "{}").get("ServiceCode"))
        quotas = _quotas(self.backend).get(code)
        if quotas is None:
            from moto.servicequotas.exceptions import NoSuchResource

            raise NoSuchResource
        arn = f"arn:aws:servicequotas:{self.region}:{self.current_account}:{code}/"
        return json.dumps(
            {
                "Quotas": [
                    {
                        "ServiceCode": code,
                        "QuotaCode": q["QuotaCode"],
                        "QuotaName": q["QuotaName"],
                        "QuotaArn": arn + q["QuotaCode"],
                        "Value": q["Value"],
                        "Unit": "None",
                        "Adjustable": True,
                        "GlobalQuota": q["Global"],
                    }
                    for q in quotas
                ]
            }
        )

    ServiceQuotasResponse.list_service_quotas = list_service_quotas  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del ServiceQuotasResponse.list_service_quotas  # type: ignore[attr-defined]


@contextlib.contextmanager
def emulated_cost_allocation_tags() -> Iterator[None]:
    from moto.ce.responses import CostExplorerResponse

    require(CostExplorerResponse, "ce_backend")
    _absent(CostExplorerResponse, "list_cost_allocation_tags")
    _absent(CostExplorerResponse, "update_cost_allocation_tags_status")

    def list_cost_allocation_tags(self: Any) -> str:
        params = json.loads(self.body or "{}")
        wanted, status, kind = params.get("TagKeys"), params.get("Status"), params.get("Type")
        listed = [
            {"TagKey": key, "Type": "UserDefined", "Status": state}
            for key, state in sorted(_tags(self.ce_backend).items())
            if (not wanted or key in wanted) and (not status or state == status) and kind in (None, "UserDefined")
        ]
        return json.dumps({"CostAllocationTags": listed})

    def update_cost_allocation_tags_status(self: Any) -> str:
        tags, errors = _tags(self.ce_backend), []
        for entry in json.loads(self.body or "{}").get("CostAllocationTagsStatus", []):
            if entry["TagKey"] in tags:
                tags[entry["TagKey"]] = entry["Status"]
            else:
                errors.append(
                    {
                        "TagKey": entry["TagKey"],
                        "Code": "TagKeysNotFoundException",  # the emulator's code; AWS documents only the entry
                        "Message": "Billing has not seen this tag key on any resource yet",
                    }
                )
        return json.dumps({"Errors": errors})

    CostExplorerResponse.list_cost_allocation_tags = list_cost_allocation_tags  # type: ignore[attr-defined]
    CostExplorerResponse.update_cost_allocation_tags_status = update_cost_allocation_tags_status  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del CostExplorerResponse.list_cost_allocation_tags  # type: ignore[attr-defined]
        del CostExplorerResponse.update_cost_allocation_tags_status  # type: ignore[attr-defined]
