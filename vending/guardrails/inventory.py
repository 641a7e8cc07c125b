"""Detective GPU check: instance types running in each account, from one organization-wide inventory.

SCPs do not apply to service-linked roles, so an EKS node group, an Auto Scaling group, Batch or an ECS capacity
provider can launch instance types the account's tier denies (https://docs.aws.amazon.com/organizations/latest/
userguide/orgs_manage_policies_scps.html, "SCPs don't affect service-linked roles"). The audit therefore reads what
is actually running from an AWS Config aggregator (advanced query over every account and region), never with
per-account calls, and reports every accelerated instance type outside the intended tier.

moto does not implement SelectAggregateResourceConfig (5.2 has only the single-account SelectResourceConfig, with
canned results), so the query sits behind the small `InstanceInventory` interface and is tested with botocore's
Stubber on recorded-shape responses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol

from vending.exceptions import NotConfigured
from vending.guardrails.orgapi import Backoff
from vending.layout import Layout

EC2_QUERY = (
    "SELECT resourceId, accountId, awsRegion, configuration.instanceType WHERE resourceType = 'AWS::EC2::Instance'"
)
# SageMaker endpoints run what their endpoint configuration names, one instance type per production variant.
SAGEMAKER_QUERY = (
    "SELECT resourceId, accountId, awsRegion, configuration.productionVariants "
    "WHERE resourceType = 'AWS::SageMaker::EndpointConfig'"
)


@dataclass(frozen=True)
class RunningInstance:
    account_id: str
    resource_id: str
    resource_type: str
    instance_type: str
    region: str = ""


class InstanceInventory(Protocol):
    def instances(self) -> Iterable[RunningInstance]: ...


class StaticInventory:
    """A fixed list: tests and the local emulator, where no Config aggregator exists."""

    def __init__(self, items: Iterable[RunningInstance] = ()) -> None:
        self.items = list(items)

    def instances(self) -> Iterable[RunningInstance]:
        return list(self.items)


class ConfigAggregatorInventory:
    """AWS Config advanced queries over an organization aggregator: a handful of paged calls for the whole org."""

    def __init__(
        self,
        config: Any,
        aggregator: str,
        *,
        backoff: Backoff | None = None,
        sagemaker: bool = True,
        page_size: int = 100,
    ) -> None:
        if not aggregator:
            raise NotConfigured("a Config aggregator name is required for the organization-wide inventory")
        self.config, self.aggregator, self.b = config, aggregator, backoff or Backoff()
        self.sagemaker, self.page_size = sagemaker, page_size
        self.calls = 0

    def _rows(self, expression: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "Expression": expression,
                "ConfigurationAggregatorName": self.aggregator,
                "Limit": self.page_size,
            }
            if token:
                params["NextToken"] = token
            self.calls += 1
            page = self.b.call(self.config.select_aggregate_resource_config, "SelectAggregateResourceConfig", **params)
            for row in page.get("Results", []):
                yield json.loads(row)  # each result is a JSON document as a string
            token = page.get("NextToken")
            if not token:
                return

    def instances(self) -> Iterable[RunningInstance]:
        out = []
        for row in self._rows(EC2_QUERY):
            itype = (row.get("configuration") or {}).get("instanceType")
            if itype:
                out.append(
                    RunningInstance(
                        row["accountId"], row["resourceId"], "AWS::EC2::Instance", itype, row.get("awsRegion", "")
                    )
                )
        if self.sagemaker:
            for row in self._rows(SAGEMAKER_QUERY):
                variants = (row.get("configuration") or {}).get("productionVariants") or []
                for variant in variants:
                    itype = variant.get("instanceType")
                    if itype:  # serverless variants have no instance type
                        out.append(
                            RunningInstance(
                                row["accountId"],
                                row["resourceId"],
                                "AWS::SageMaker::EndpointConfig",
                                itype,
                                row.get("awsRegion", ""),
                            )
                        )
        return out


def allowed_by_tier(layout: Layout, tier: str | None, instance: RunningInstance) -> bool:
    """True unless the type is in an accelerated family and outside the tier's allowance (as the SCP decides)."""
    sagemaker = instance.instance_type.startswith("ml.")
    families = layout.accelerated_families.sagemaker if sagemaker else layout.accelerated_families.ec2
    if not any(fnmatchcase(instance.instance_type, f) for f in families):
        return True
    spec = layout.gpu_tiers.get(tier) if tier else None  # no tier: no accelerated type is allowed
    allowed = (spec.sagemaker_instance_types if sagemaker else spec.ec2_instance_types) if spec else ()
    return any(fnmatchcase(instance.instance_type, a) for a in allowed)
