"""Prices for the live meter (vending.spend.prices): the committed snapshot, its lookups, and its refresh from the
Price List Query API through botocore's Stubber with real-shaped PriceList items (JSON strings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from vending.exceptions import PriceListUnavailable
from vending.layout import cached_layout
from vending.spend.prices import SNAPSHOT, PriceBook, Targets, layout_targets, model_of, refresh_snapshot

TARGETS = Targets(
    regions=("us-east-1",),
    ec2=("p5.48xlarge",),
    sagemaker=("ml.g5.xlarge",),
    bedrock=("anthropic.claude-3-5-sonnet-20240620-v1:0",),
)


def price_item(service_code: str, attributes: dict[str, str], unit: str, usd: str) -> str:
    """One PriceList entry as GetProducts returns it: a JSON document in a string."""
    sku = "JQ3WB3SY7UBC3P5E"
    return json.dumps(
        {
            "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
            "serviceCode": service_code,
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": unit,
                                "endRange": "Inf",
                                "description": f"${usd} per On Demand unit",
                                "appliesTo": [],
                                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def answer(*items: str) -> dict[str, Any]:
    return {"FormatVersion": "aws_v1", "PriceList": list(items)}


def ec2_item(usd: str) -> str:
    return price_item(
        "AmazonEC2",
        {
            "instanceType": "p5.48xlarge",
            "regionCode": "us-east-1",
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
            "licenseModel": "No License required",
            "usagetype": "BoxUsage:p5.48xlarge",
            "servicecode": "AmazonEC2",
        },
        "Hrs",
        usd,
    )


def sagemaker_item() -> str:
    attrs = {"instanceName": "ml.g5.xlarge", "component": "Hosting", "regionCode": "us-east-1"}
    return price_item("AmazonSageMaker", {**attrs, "usagetype": "USE1-Host:ml.g5.xlarge"}, "Hrs", "1.4080000000")


def bedrock_items() -> list[str]:
    base = {"model": "Claude 3.5 Sonnet", "regionCode": "us-east-1", "provider": "Anthropic"}
    return [
        price_item("AmazonBedrock", {**base, "inferenceType": "Input tokens"}, "1K tokens", "0.0030000000"),
        price_item("AmazonBedrock", {**base, "inferenceType": "Output tokens"}, "1K tokens", "0.0150000000"),
        price_item("AmazonBedrock", {**base, "inferenceType": "Batch Input tokens"}, "1K tokens", "0.0015000000"),
    ]


def filters(**terms: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


EC2_FILTERS = filters(
    regionCode="us-east-1",
    instanceType="p5.48xlarge",
    operatingSystem="Linux",
    tenancy="Shared",
    preInstalledSw="NA",
    capacitystatus="Used",
    licenseModel="No License required",
)


@pytest.fixture
def pricing() -> Any:
    return boto3.client("pricing", region_name="us-east-1")


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(SNAPSHOT.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_snapshot_prices_the_tiers_named_capacity_and_says_where_figures_come_from() -> None:
    book = PriceBook.load()
    assert book.data["source"] and book.data["as_of"] and book.data["estimates"]
    for service in ("ec2", "sagemaker"):
        for region, types in book.data[service].items():
            assert all(entry["basis"] in ("published", "estimate") for entry in types.values()), region
    # what the tiers' quotas name is priced in every US region
    for region in ("us-east-1", "us-west-2"):
        for t in ("g5.xlarge", "inf2.xlarge", "p4d.24xlarge", "p5.48xlarge", "trn1.32xlarge"):
            assert book.hourly("ec2", region, t), (region, t)
        for t in ("ml.g5.xlarge", "ml.inf2.xlarge", "ml.p5.48xlarge", "ml.trn1.32xlarge"):
            assert book.hourly("sagemaker", region, t), (region, t)
    assert book.hourly("ec2", "us-east-1", "p5.48xlarge") == 55.04


def test_unknown_type_or_model_is_none_never_zero() -> None:
    book = PriceBook.load()
    assert book.hourly("ec2", "us-east-1", "x9.metal") is None
    assert book.hourly("ec2", "ap-south-1", "p5.48xlarge") is None
    assert book.tokens("us-east-1", "meta.llama3-70b-instruct-v1:0") is None


def test_a_profile_is_priced_as_its_model() -> None:
    book = PriceBook.load()
    assert model_of("us.anthropic.claude-3-5-haiku-20241022-v1:0") == "anthropic.claude-3-5-haiku-20241022-v1:0"
    assert book.tokens("us-east-1", "us.anthropic.claude-3-5-haiku-20241022-v1:0") == book.tokens(
        "us-east-1", "anthropic.claude-3-5-haiku-20241022-v1:0"
    )


def test_layout_targets_cover_the_tiers() -> None:
    targets = layout_targets(cached_layout())
    assert {"p5.48xlarge", "g5.xlarge", "inf2.xlarge", "trn1n.32xlarge"} <= set(targets.ec2)
    assert not any(t.startswith(("m5.", "c5.")) for t in targets.ec2)
    assert {"ml.p5.48xlarge", "ml.inf2.xlarge"} <= set(targets.sagemaker)
    assert "anthropic.claude-3-5-sonnet-20240620-v1:0" in targets.bedrock  # the profile's model
    assert targets.regions == cached_layout().organization.allowed_regions


def test_refresh_rewrites_the_snapshot_from_the_price_list(pricing: Any, snapshot: Path) -> None:
    # GIVEN the Price List answers every target (the p5 over two pages)
    with Stubber(pricing) as stub:
        ec2_params = {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "Filters": EC2_FILTERS}
        stub.add_response("get_products", {**answer(), "NextToken": "p2"}, ec2_params)
        stub.add_response("get_products", answer(ec2_item("49.1230000000")), {**ec2_params, "NextToken": "p2"})
        stub.add_response(
            "get_products",
            answer(sagemaker_item()),
            {
                "ServiceCode": "AmazonSageMaker",
                "FormatVersion": "aws_v1",
                "Filters": filters(regionCode="us-east-1", instanceName="ml.g5.xlarge", component="Hosting"),
            },
        )
        stub.add_response(
            "get_products",
            answer(*bedrock_items()),
            {
                "ServiceCode": "AmazonBedrock",
                "FormatVersion": "aws_v1",
                "Filters": filters(regionCode="us-east-1", model="Claude 3.5 Sonnet"),
            },
        )
        counts = refresh_snapshot(pricing, TARGETS, snapshot)
        stub.assert_no_pending_responses()
    # THEN the file holds the Price List's figures, and says so
    assert counts == {"ec2": 1, "sagemaker": 1, "bedrock": 1, "not_offered": 0}
    book = PriceBook.load(snapshot)
    assert book.hourly("ec2", "us-east-1", "p5.48xlarge") == 49.123
    assert book.hourly("sagemaker", "us-east-1", "ml.g5.xlarge") == 1.408
    price = book.tokens("us-east-1", "anthropic.claude-3-5-sonnet-20240620-v1:0")
    assert price is not None and (price.input_per_1k, price.output_per_1k) == (0.003, 0.015)  # not the batch rate
    assert book.data["refreshed_by"] == "vend costs prices --refresh"
    assert book.data["ec2"]["us-east-1"]["p5.48xlarge"]["basis"] == "price-list"


@pytest.mark.parametrize(
    ("ec2_answer", "message"),
    [
        (answer("{not json"), "not JSON"),
        (answer(json.dumps({"product": {}, "terms": {}})), "no on-demand USD price"),
        (answer(ec2_item("49.12"), ec2_item("50.00")), "several hourly prices"),
    ],
)
def test_bad_answer_is_a_clear_error_and_the_file_is_unchanged(
    pricing: Any, snapshot: Path, ec2_answer: dict[str, Any], message: str
) -> None:
    before = snapshot.read_bytes()
    with Stubber(pricing) as stub:
        stub.add_response("get_products", ec2_answer)
        with pytest.raises(PriceListUnavailable, match=message) as raised:
            refresh_snapshot(pricing, TARGETS, snapshot)
    assert "p5.48xlarge in us-east-1" in str(raised.value)
    assert snapshot.read_bytes() == before
    assert list(snapshot.parent.iterdir()) == [snapshot]  # no temporary file left behind


def test_refused_call_is_a_clear_error_and_the_file_is_unchanged(pricing: Any, snapshot: Path) -> None:
    before = snapshot.read_bytes()
    with Stubber(pricing) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "not authorized to perform: pricing:GetProducts")
        with pytest.raises(PriceListUnavailable, match=r"pricing:GetProducts for ec2 p5\.48xlarge in us-east-1"):
            refresh_snapshot(pricing, TARGETS, snapshot)
    assert snapshot.read_bytes() == before


def test_a_late_failure_writes_nothing_either(pricing: Any, snapshot: Path) -> None:
    # GIVEN EC2 and SageMaker answered, then Bedrock answers nothing for its one model anywhere (a broken query)
    # THEN nothing of the EC2 answer is written
    before = snapshot.read_bytes()
    with Stubber(pricing) as stub:
        stub.add_response("get_products", answer(ec2_item("49.1230000000")))
        stub.add_response("get_products", answer(sagemaker_item()))
        stub.add_response("get_products", answer())
        with pytest.raises(PriceListUnavailable, match="bedrock: the Price List answered no price for any"):
            refresh_snapshot(pricing, TARGETS, snapshot)
    assert snapshot.read_bytes() == before


def test_a_type_not_offered_in_a_region_is_left_out_and_listed(pricing: Any, snapshot: Path) -> None:
    # GIVEN the p5 priced in us-east-1 and no such product in eu-west-1 (AWS does not offer it there)
    targets = Targets(regions=("us-east-1", "eu-west-1"), ec2=("p5.48xlarge",), sagemaker=(), bedrock=())
    with Stubber(pricing) as stub:
        stub.add_response("get_products", answer(ec2_item("55.0400000000")))
        stub.add_response("get_products", answer())
        counts = refresh_snapshot(pricing, targets, snapshot)
    # THEN it is priced where offered, unpriced (not $0) elsewhere, and the snapshot says which
    book = PriceBook.load(snapshot)
    assert counts == {"ec2": 1, "sagemaker": 0, "bedrock": 0, "not_offered": 1}
    assert book.hourly("ec2", "us-east-1", "p5.48xlarge") == 55.04
    assert book.hourly("ec2", "eu-west-1", "p5.48xlarge") is None
    assert book.data["not_offered"] == {"ec2 eu-west-1": ["p5.48xlarge"]}


def test_a_query_that_matches_nothing_anywhere_is_an_error(pricing: Any, snapshot: Path) -> None:
    before = snapshot.read_bytes()
    with Stubber(pricing) as stub:
        for _ in range(3):
            stub.add_response("get_products", answer())
        with pytest.raises(PriceListUnavailable, match=r"ec2: .* no price for any of 1 targets .* p5\.48xlarge"):
            refresh_snapshot(pricing, TARGETS, snapshot)
    assert snapshot.read_bytes() == before


def test_a_broken_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text('{"ec2": {}}', encoding="utf-8")
    with pytest.raises(PriceListUnavailable, match="no 'sagemaker' section"):
        PriceBook.load(bad)
    with pytest.raises(PriceListUnavailable, match=r"missing\.json"):
        PriceBook.load(tmp_path / "missing.json")
