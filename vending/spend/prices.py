"""On-demand prices for the live meter: a committed snapshot (prices.json beside this module) and its refresh from the
AWS Price List Query API.

The snapshot says where each figure comes from (`basis`: published or estimate). A type or model it does not list
has no price: `PriceBook` answers None and the meter reports that usage as unpriced, never as $0.

`vend costs prices --refresh` asks `pricing:GetProducts` (one endpoint, us-east-1) for every instance type and model
the tiers allow in every allowed region and rewrites the snapshot only when every answer parsed: a missing or
malformed answer raises PriceListUnavailable naming it, and the file stays as it was.
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html
The PriceList items are JSON strings: {"product": {"attributes": {...}}, "terms": {"OnDemand": {<offer>:
{"priceDimensions": {<rate>: {"unit": "Hrs", "pricePerUnit": {"USD": "55.0400000000"}}}}}}}
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from vending.exceptions import PriceListUnavailable
from vending.layout import Layout

SNAPSHOT = Path(__file__).resolve().parent / "prices.json"
PRICING_REGION = "us-east-1"  # the Price List Query API's endpoint (it also has ap-south-1 and eu-central-1)
INSTANCE_SERVICES = ("ec2", "sagemaker")
# A cross-region inference profile id is the model id behind a geography prefix; it is billed as the model.
PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au)\.")
# The Price List names Bedrock models by display name, not by model id (attribute `model`).
BEDROCK_PRICE_LIST_NAMES = {
    "anthropic.claude-3-5-sonnet-20240620-v1:0": "Claude 3.5 Sonnet",
    "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude 3.5 Haiku",
    "amazon.titan-embed-text-v2:0": "Titan Text Embeddings V2",
    "cohere.embed-english-v3": "Embed English",
}


@dataclass(frozen=True)
class TokenPrice:
    input_per_1k: float
    output_per_1k: float


def model_of(model_id: str) -> str:
    """The foundation model a Bedrock ModelId bills as (an inference profile id without its geography prefix)."""
    return PROFILE_PREFIX.sub("", model_id, count=1)


@dataclass
class PriceBook:
    """Prices by service, region and instance type or model; None where the snapshot has none."""

    data: dict[str, Any]
    path: Path = field(default=SNAPSHOT)

    @classmethod
    def load(cls, path: Path | str | None = None) -> PriceBook:
        where = Path(path) if path else SNAPSHOT
        try:
            data = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise PriceListUnavailable(f"price snapshot {where}: {e}") from e
        for section in (*INSTANCE_SERVICES, "bedrock"):
            if not isinstance(data.get(section), dict):
                raise PriceListUnavailable(f"price snapshot {where}: no {section!r} section")
        return cls(data, where)

    def hourly(self, service: str, region: str, instance_type: str) -> float | None:
        entry = self.data.get(service, {}).get(region, {}).get(instance_type)
        return float(entry["usd"]) if entry else None

    def tokens(self, region: str, model_id: str) -> TokenPrice | None:
        entry = self.data["bedrock"].get(region, {}).get(model_of(model_id))
        return TokenPrice(float(entry["input_per_1k"]), float(entry["output_per_1k"])) if entry else None


# --- refresh ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """What a refresh asks the Price List for."""

    regions: tuple[str, ...]
    ec2: tuple[str, ...]
    sagemaker: tuple[str, ...]
    bedrock: tuple[str, ...]


def _enum(service: str, *shapes: str) -> list[str]:
    model = botocore.session.get_session().get_service_model(service)
    return sorted({v for shape in shapes for v in model.shape_for(shape).enum})


def layout_targets(layout: Layout) -> Targets:
    """Every instance type botocore knows that some tier allows, and every model and profile's model of the tiers."""
    tiers = layout.gpu_tiers.values()
    ec2 = [
        t for t in _enum("ec2", "InstanceType") if any(fnmatchcase(t, p) for x in tiers for p in x.ec2_instance_types)
    ]
    sm_enum = _enum("sagemaker", "ProductionVariantInstanceType", "TrainingInstanceType")
    sm = [t for t in sm_enum if any(fnmatchcase(t, p) for x in tiers for p in x.sagemaker_instance_types)]
    models = {m for x in tiers for m in x.bedrock_models} | {
        model_of(p) for x in tiers for p in x.bedrock_inference_profiles
    }
    return Targets(layout.organization.allowed_regions, tuple(ec2), tuple(sm), tuple(sorted(models)))


def _filters(**terms: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


def _products(pricing: Any, service_code: str, what: str, **terms: str) -> Iterator[dict[str, Any]]:
    try:
        pages = pricing.get_paginator("get_products").paginate(
            ServiceCode=service_code, FormatVersion="aws_v1", Filters=_filters(**terms)
        )
        for page in pages:
            for item in page.get("PriceList", []):
                yield json.loads(item) if isinstance(item, str) else item
    except (ClientError, BotoCoreError) as e:
        raise PriceListUnavailable(f"pricing:GetProducts for {what}: {e}") from e
    except ValueError as e:
        raise PriceListUnavailable(f"pricing:GetProducts for {what}: a PriceList item is not JSON ({e})") from e


def _on_demand_usd(product: dict[str, Any], what: str) -> list[tuple[str, float]]:
    """(unit, USD) of each on-demand price dimension of one PriceList item."""
    try:
        out = []
        for offer in product["terms"]["OnDemand"].values():
            for dim in offer["priceDimensions"].values():
                out.append((str(dim["unit"]), float(dim["pricePerUnit"]["USD"])))
        return out
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise PriceListUnavailable(f"{what}: a PriceList item has no on-demand USD price ({e!r})") from e


def _hourly(pricing: Any, service_code: str, what: str, **terms: str) -> float | None:
    """The one hourly on-demand price, or None when the Price List has no such product (not offered there)."""
    prices = [
        usd
        for product in _products(pricing, service_code, what, **terms)
        for unit, usd in _on_demand_usd(product, what)
        if unit.lower().startswith("hr") and usd > 0
    ]
    if not prices:
        return None
    if len(set(prices)) > 1:
        raise PriceListUnavailable(f"{what}: the Price List answered several hourly prices {sorted(set(prices))}")
    return prices[0]


def _per_1k(unit: str, usd: float) -> float:
    lowered = unit.lower().replace(" ", "")
    if "1mtokens" in lowered or "million" in lowered:
        return usd / 1000
    if "1ktokens" in lowered or "1,000" in lowered or "1k" in lowered:
        return usd
    return usd * 1000  # per token


def _token_prices(pricing: Any, region: str, model: str) -> TokenPrice | None:
    what = f"bedrock {model} in {region}"
    name = BEDROCK_PRICE_LIST_NAMES.get(model)
    if name is None:
        raise PriceListUnavailable(f"{what}: add its Price List name to BEDROCK_PRICE_LIST_NAMES")
    found: dict[str, float] = {}
    for product in _products(pricing, "AmazonBedrock", what, regionCode=region, model=name):
        kind = str(product.get("product", {}).get("attributes", {}).get("inferenceType", "")).lower()
        direction = "input" if "input" in kind else "output" if "output" in kind else None
        # Batch, cached and provisioned lines are priced differently; the meter prices on-demand calls.
        if direction is None or any(w in kind for w in ("batch", "cache", "provisioned")):
            continue
        for unit, usd in _on_demand_usd(product, what):
            found[direction] = _per_1k(unit, usd)
    if not found:
        return None
    if "input" not in found:
        raise PriceListUnavailable(f"{what}: the Price List answered output but no input-token price")
    return TokenPrice(found["input"], found.get("output", 0.0))


def _ec2_hourly(pricing: Any, region: str, instance_type: str) -> float | None:
    return _hourly(
        pricing,
        "AmazonEC2",
        f"ec2 {instance_type} in {region}",
        regionCode=region,
        instanceType=instance_type,
        operatingSystem="Linux",
        tenancy="Shared",
        preInstalledSw="NA",
        capacitystatus="Used",
        licenseModel="No License required",
    )


def _sagemaker_hourly(pricing: Any, region: str, instance_type: str) -> float | None:
    what = f"sagemaker {instance_type} in {region}"
    return _hourly(pricing, "AmazonSageMaker", what, regionCode=region, instanceName=instance_type, component="Hosting")


def fetch_prices(pricing: Any, targets: Targets) -> dict[str, Any]:
    """A snapshot from the Price List. A type or model the Price List has no product for in a region is not offered
    there: left out (so unpriced) and listed under `not_offered`. A refused call or a malformed answer raises
    PriceListUnavailable naming it, and so does a service with no price in any region (a query that matches nothing
    anywhere is a broken query, not a gap in AWS's offering)."""
    sections: dict[str, dict[str, dict[str, Any]]] = {"ec2": {}, "sagemaker": {}, "bedrock": {}}
    not_offered: dict[str, list[str]] = {}
    for region in targets.regions:
        for service, names, price_of in (
            ("ec2", targets.ec2, _ec2_hourly),
            ("sagemaker", targets.sagemaker, _sagemaker_hourly),
        ):
            section = sections[service].setdefault(region, {})
            for name in names:
                usd = price_of(pricing, region, name)
                if usd is None:
                    not_offered.setdefault(f"{service} {region}", []).append(name)
                else:
                    section[name] = {"usd": usd, "basis": "price-list"}
        tokens = sections["bedrock"].setdefault(region, {})
        for model in targets.bedrock:
            price = _token_prices(pricing, region, model)
            if price is None:
                not_offered.setdefault(f"bedrock {region}", []).append(model)
            else:
                tokens[model] = {
                    "input_per_1k": price.input_per_1k,
                    "output_per_1k": price.output_per_1k,
                    "basis": "price-list",
                }
    for service, wanted in (("ec2", targets.ec2), ("sagemaker", targets.sagemaker), ("bedrock", targets.bedrock)):
        if wanted and not any(sections[service].values()):
            raise PriceListUnavailable(
                f"{service}: the Price List answered no price for any of {len(wanted)} targets in any region "
                f"(first: {wanted[0]} in {targets.regions[0]}); check the query's filters"
            )
    return {
        "about": "On-demand prices of what the live meter prices (vending.spend.prices), every figure from the AWS "
        "Price List Query API (Linux, shared tenancy; SageMaker at its Hosting rate; USD).",
        "source": "pricing:GetProducts (AmazonEC2, AmazonSageMaker, AmazonBedrock), us-east-1 endpoint",
        "as_of": datetime.now(UTC).date().isoformat(),
        "refreshed_by": "vend costs prices --refresh",
        "estimates": {},
        "not_offered": not_offered,
        **sections,
    }


def write_snapshot(data: dict[str, Any], path: Path = SNAPSHOT) -> None:
    """Replace the file atomically: a reader sees the old snapshot or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".prices-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def refresh_snapshot(pricing: Any, targets: Targets, path: Path = SNAPSHOT) -> dict[str, int]:
    """Fetch everything first, then write: any failure leaves the file unchanged. Returns the count per section and
    how many targets are not offered in some region."""
    data = fetch_prices(pricing, targets)
    write_snapshot(data, path)
    counts = {s: sum(len(v) for v in data[s].values()) for s in (*INSTANCE_SERVICES, "bedrock")}
    return {**counts, "not_offered": sum(len(v) for v in data["not_offered"].values())}


def unknown(prices: PriceBook, service: str, region: str, names: Iterable[str]) -> list[str]:
    """The names the book has no price for (what a snapshot misses of the tiers' types)."""
    if service == "bedrock":
        return [n for n in names if prices.tokens(region, n) is None]
    return [n for n in names if prices.hourly(service, region, n) is None]
