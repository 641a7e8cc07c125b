"""Service Quotas and cost-allocation tags as AWS answers them, for `vend platform preflight` on the emulator.

moto 5.2.5's Service Quotas knows only the `vpc` defaults and has no ListServiceQuotas; its Cost Explorer has no
cost-allocation tags (ListCostAllocationTags, UpdateCostAllocationTagsStatus). These patches add exactly those
operations, with the state on moto's own backends (so `/moto-api/reset` clears it):

- ListServiceQuotas answers the applied values of the quotas the preflight reads, at AWS's defaults until
  `set_quota` changes one (the emulator's stand-in for an approved quota increase).
- GetServiceQuota, GetAWSDefaultServiceQuota, RequestServiceQuotaIncrease, ListRequestedServiceQuotaChangeHistoryByQuota
  and GetRequestedServiceQuotaChange for the GPU quotas a tier asks for at vend (vending.quotas): EC2 vCPU quotas of
  the G/VT, P, Inf and Trn families and SageMaker instance quotas, all 0 in a new account here (new accounts start
  low in AWS; the emulator's value is its own). An increase request is PENDING until `settle_quota_requests` moves it
  (CASE_OPENED, then APPROVED applies the value; DENIED leaves it), the on-demand clock a test drives. One open request
  per quota (ResourceAlreadyExistsException), as AWS allows.
- A tag key is listed only after Billing has seen it on a resource (`billing_saw_tags`), as `Inactive`;
  UpdateCostAllocationTagsStatus activates seen keys and answers an error entry for unseen ones, as AWS does
  (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_UpdateCostAllocationTagsStatus.html).

Each patch refuses a moto that gained the operation itself (tests/emulator/test_billing_and_quotas.py).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
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
# The GPU quotas of the layout's tiers (codes as AWS lists them; the two SageMaker ones without a verified code carry
# the emulator's own, found by name like in AWS). A layout naming a quota missing here fails to resolve it.
_GPU_QUOTAS = {
    "ec2": [
        ("L-DB2E81BA", "Running On-Demand G and VT instances"),
        ("L-3819A6DF", "All G and VT Spot Instance Requests"),
        ("L-417A185B", "Running On-Demand P instances"),
        ("L-7212CCBC", "All P Spot Instance Requests"),
        ("L-1945791B", "Running On-Demand Inf instances"),
        ("L-B5D1601B", "All Inf Spot Instance Requests"),
        ("L-2C3B7624", "Running On-Demand Trn instances"),
        ("L-6B0D517C", "All Trn Spot Instance Requests"),
    ],
    "sagemaker": [
        ("L-1928E07B", "ml.g5.xlarge for endpoint usage"),
        ("L-EMULATED2", "ml.inf2.xlarge for endpoint usage"),
        ("L-82E1C851", "ml.p5.48xlarge for training job usage"),
        ("L-EMULATED3", "ml.trn1.32xlarge for training job usage"),
    ],
}
for _code, _entries in _GPU_QUOTAS.items():
    DEFAULT_QUOTAS[_code] = [{"QuotaCode": c, "QuotaName": n, "Value": 0.0, "Global": False} for c, n in _entries]
OPEN_STATUSES = ("PENDING", "CASE_OPENED")
_QUOTAS_ATTR = "_vend_emulated_quotas"
_REQUESTS_ATTR = "_vend_quota_requests"
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


def _requests(backend: Any) -> list[dict[str, Any]]:
    if not hasattr(backend, _REQUESTS_ATTR):
        setattr(backend, _REQUESTS_ATTR, [])
    return getattr(backend, _REQUESTS_ATTR)  # type: ignore[no-any-return]


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


def quota_requests(account_id: str, region: str = REGION) -> list[dict[str, Any]]:
    """Every increase request made in one account and region (what a test asserts on)."""
    from moto.servicequotas.models import servicequotas_backends

    return [dict(r) for r in _requests(servicequotas_backends[account_id][region])]


def settle_quota_requests(account_id: str, status: str = "APPROVED", region: str | None = None) -> int:
    """What AWS support does, on demand: move the account's open requests to `status` (CASE_OPENED stays open;
    APPROVED applies the requested value; DENIED and NOT_APPROVED leave the quota). Returns how many moved."""
    from moto.servicequotas.models import servicequotas_backends

    moved = 0
    for name, backend in servicequotas_backends[account_id].items():
        if region not in (None, name):
            continue
        for request in _requests(backend):
            if request["Status"] not in OPEN_STATUSES or request["Status"] == status:
                continue
            request.update(Status=status, LastUpdated=time.time())
            if status == "CASE_OPENED":
                request["CaseId"] = f"case-{request['Id'][:10]}"
            if status == "APPROVED":
                quota = _quota(backend, request["ServiceCode"], request["QuotaCode"])
                if quota is not None:
                    quota["Value"] = float(request["DesiredValue"])
            moved += 1
    return moved


def _quota(backend: Any, service_code: str, quota_code: str) -> dict[str, Any] | None:
    return next((q for q in _quotas(backend).get(service_code, []) if q["QuotaCode"] == quota_code), None)


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
        with _quota_requests_emulated():
            yield
    finally:
        del ServiceQuotasResponse.list_service_quotas  # type: ignore[attr-defined]


def _shape(response: Any, quota: dict[str, Any], service_code: str, value: float) -> dict[str, Any]:
    return {
        "ServiceCode": service_code,
        "QuotaCode": quota["QuotaCode"],
        "QuotaName": quota["QuotaName"],
        "QuotaArn": f"arn:aws:servicequotas:{response.region}:{response.current_account}:"
        f"{service_code}/{quota['QuotaCode']}",
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": quota["Global"],
    }


@contextlib.contextmanager
def _quota_requests_emulated() -> Iterator[None]:
    """GetServiceQuota and ListAWSDefaultServiceQuotas over the emulator's quotas (moto's own answer `vpc` only, kept
    for it), and the increase request operations moto lacks."""
    from moto.core.exceptions import JsonRESTError
    from moto.servicequotas.exceptions import NoSuchResource
    from moto.servicequotas.responses import ServiceQuotasResponse

    from landing_zone.local.patching import added, replaced

    def find(self: Any) -> tuple[dict[str, Any], str, str]:
        params = json.loads(self.body or "{}")
        service_code, quota_code = str(params.get("ServiceCode")), str(params.get("QuotaCode"))
        quota = _quota(self.backend, service_code, quota_code)
        if quota is None:
            raise NoSuchResource
        return quota, service_code, quota_code

    def get_service_quota(original: Any) -> Any:
        def get(self: Any) -> str:
            code = str(json.loads(self.body or "{}").get("ServiceCode"))
            if code not in _GPU_QUOTAS:
                return str(original(self))
            quota, service_code, _ = find(self)
            return json.dumps({"Quota": _shape(self, quota, service_code, quota["Value"])})

        return get

    def list_aws_default_service_quotas(original: Any) -> Any:
        def listed(self: Any) -> str:
            code = str(json.loads(self.body or "{}").get("ServiceCode"))
            if code not in _GPU_QUOTAS:
                return str(original(self))
            return json.dumps({"Quotas": [_shape(self, q, code, q["Value"]) for q in DEFAULT_QUOTAS[code]]})

        return listed

    def get_aws_default_service_quota(self: Any) -> str:
        quota, service_code, quota_code = find(self)
        default = next(q for q in DEFAULT_QUOTAS[service_code] if q["QuotaCode"] == quota_code)
        return json.dumps({"Quota": _shape(self, quota, service_code, default["Value"])})

    def request_service_quota_increase(self: Any) -> str:
        quota, service_code, quota_code = find(self)
        desired = float(json.loads(self.body or "{}").get("DesiredValue", 0))
        requests = _requests(self.backend)
        if any(r["QuotaCode"] == quota_code and r["Status"] in OPEN_STATUSES for r in requests):
            raise JsonRESTError(
                "ResourceAlreadyExistsException", "An open request already exists for this quota; wait for it"
            )
        if desired <= quota["Value"]:
            raise JsonRESTError("IllegalArgumentException", "The desired value must exceed the applied quota value")
        now = time.time()
        request = {
            "Id": uuid.uuid4().hex,
            "ServiceCode": service_code,
            "QuotaCode": quota_code,
            "QuotaName": quota["QuotaName"],
            "QuotaArn": f"arn:aws:servicequotas:{self.region}:{self.current_account}:{service_code}/{quota_code}",
            "DesiredValue": desired,
            "Status": "PENDING",
            "Created": now,
            "LastUpdated": now,
            "Requester": self.current_account,
            "GlobalQuota": quota["Global"],
            "Unit": "None",
        }
        requests.append(request)
        return json.dumps({"RequestedQuota": request})

    def list_requested_service_quota_change_history_by_quota(self: Any) -> str:
        params = json.loads(self.body or "{}")
        find(self)
        status = params.get("Status")
        listed = [
            r
            for r in _requests(self.backend)
            if r["ServiceCode"] == params.get("ServiceCode")
            and r["QuotaCode"] == params.get("QuotaCode")
            and status in (None, r["Status"])
        ]
        return json.dumps({"RequestedQuotas": sorted(listed, key=lambda r: -r["Created"])})

    def get_requested_service_quota_change(self: Any) -> str:
        wanted = json.loads(self.body or "{}").get("RequestId")
        found = next((r for r in _requests(self.backend) if r["Id"] == wanted), None)
        if found is None:
            raise NoSuchResource
        return json.dumps({"RequestedQuota": found})

    members = {
        "get_aws_default_service_quota": get_aws_default_service_quota,
        "request_service_quota_increase": request_service_quota_increase,
        "list_requested_service_quota_change_history_by_quota": list_requested_service_quota_change_history_by_quota,
        "get_requested_service_quota_change": get_requested_service_quota_change,
    }
    with (
        replaced(ServiceQuotasResponse, "get_service_quota", ("self",), get_service_quota),
        replaced(ServiceQuotasResponse, "list_aws_default_service_quotas", ("self",), list_aws_default_service_quotas),
        added(ServiceQuotasResponse, members),
    ):
        yield


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
