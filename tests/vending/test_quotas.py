"""GPU capacity at vend (vending.quotas) against the emulator's Service Quotas, per tier of the layout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from landing_zone.local.billing_and_quotas import emulated_service_quotas, quota_requests, settle_quota_requests
from vending.exceptions import AwsTransient, QuotaRequestFailed
from vending.layout import Layout, QuotaNeed, cached_layout
from vending.quotas import ABOVE_TIER, MET, QuotaState, converge_quotas, describe, pending

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "us-west-2")


@pytest.fixture
def sq() -> Iterator[Callable[[str], Any]]:
    with mock_aws(), emulated_service_quotas():
        yield lambda region: boto3.client("service-quotas", region_name=region)


@pytest.fixture
def layout() -> Layout:
    return cached_layout()


def _requested(region: str) -> dict[str, float]:
    return {f"{r['ServiceCode']}/{r['QuotaName']}": r["DesiredValue"] for r in quota_requests(ACCOUNT, region)}


@pytest.mark.parametrize("tier", ["none", "inference", "training"])
def test_converge_quotas_requests_each_tier_quota_in_each_region(
    sq: Callable[[str], Any], layout: Layout, tier: str
) -> None:
    # GIVEN a new account (every GPU quota at 0) WHEN the tier's quotas converge in two regions
    states = converge_quotas(sq, layout.quota_needs(tier), REGIONS)
    # THEN exactly the tier's quotas are requested, at the tier's values, in each region, and recorded PENDING
    wanted = {f"{n.service}/{n.name}": n.value for n in layout.quota_needs(tier)}
    for region in REGIONS:
        assert _requested(region) == wanted
    assert len(states) == len(wanted) * len(REGIONS) and all(s.status == "PENDING" and s.request_id for s in states)
    assert len(pending(states)) == len(states)
    # AND a training account asks for P and Trn capacity, an inference one for none of it
    names = {s.name for s in states}
    assert ("Running On-Demand P instances" in names) == (tier == "training")
    assert ("All Trn Spot Instance Requests" in names) == (tier == "training")
    assert ("Running On-Demand G and VT instances" in names) == (tier != "none")


def test_converge_quotas_twice_opens_no_second_request(sq: Callable[[str], Any], layout: Layout) -> None:
    # GIVEN a converge that requested everything
    first = converge_quotas(sq, layout.quota_needs("training"), REGIONS)
    # WHEN the step runs again (a retry, a resume) with or without the record of the first
    again = converge_quotas(sq, layout.quota_needs("training"), REGIONS, first)
    fresh = converge_quotas(sq, layout.quota_needs("training"), REGIONS)
    # THEN it finds the open requests and reuses them: no second request for any quota
    assert [s.request_id for s in again] == [s.request_id for s in first] == [s.request_id for s in fresh]
    assert sum(len(quota_requests(ACCOUNT, r)) for r in REGIONS) == len(first)


def test_converge_quotas_records_approval_and_met_quotas(sq: Callable[[str], Any], layout: Layout) -> None:
    first = converge_quotas(sq, layout.quota_needs("inference"), REGIONS)
    # WHEN support approves the requests in one region only
    settle_quota_requests(ACCOUNT, region="us-east-1")
    states = converge_quotas(sq, layout.quota_needs("inference"), REGIONS, first)
    # THEN that region's quotas are met at the tier's values, the other's still pending
    east = [s for s in states if s.region == "us-east-1"]
    assert {s.status for s in east} == {MET} and all(s.applied == s.desired for s in east)
    assert {s.region for s in pending(states)} == {"us-west-2"}
    assert "meets the tier's 64" in describe(east[0])


def test_tier_upgrade_requests_more_and_downgrade_records_above_tier(sq: Callable[[str], Any], layout: Layout) -> None:
    region = ("us-east-1",)
    inference = converge_quotas(sq, layout.quota_needs("inference"), region)
    settle_quota_requests(ACCOUNT)
    # WHEN the team moves up to training
    training = converge_quotas(sq, layout.quota_needs("training"), region, inference)
    by_name = {s.name: s for s in training}
    # THEN G/VT is asked up from 64 to 192, Inf (already enough) is met, P and Trn are new requests
    gvt = by_name["Running On-Demand G and VT instances"]
    assert (gvt.applied, gvt.requested, gvt.status) == (64.0, 192.0, "PENDING")
    assert by_name["Running On-Demand Inf instances"].status == MET
    assert by_name["Running On-Demand P instances"].status == "PENDING"
    settle_quota_requests(ACCOUNT)
    # WHEN it moves back down to inference
    down = converge_quotas(sq, layout.quota_needs("inference"), region, training)
    by_name = {s.name: s for s in down}
    # THEN nothing is requested (AWS cannot lower a quota) and every raised quota is recorded ABOVE_TIER
    before = len(quota_requests(ACCOUNT))
    assert by_name["Running On-Demand P instances"].status == ABOVE_TIER
    assert by_name["Running On-Demand P instances"].desired == 0.0
    assert by_name["Running On-Demand G and VT instances"].status == ABOVE_TIER
    assert by_name["Running On-Demand Inf instances"].status == MET
    assert "AWS cannot lower a quota" in describe(by_name["Running On-Demand P instances"])
    assert len(quota_requests(ACCOUNT)) == before and pending(down) == []


def test_converge_quotas_refuses_a_quota_it_cannot_find(sq: Callable[[str], Any]) -> None:
    # GIVEN a layout naming a SageMaker quota Service Quotas does not list (a typo, an unknown instance type)
    typo = QuotaNeed(service="sagemaker", name="ml.g5.xlarge for endpoint usages", value=1)
    # THEN a named terminal error, and nothing requested
    with pytest.raises(QuotaRequestFailed, match="no quota named"):
        converge_quotas(sq, [typo], ("us-east-1",))
    assert quota_requests(ACCOUNT) == []


def test_converge_quotas_throttling_is_retryable_and_access_denied_terminal() -> None:
    client = boto3.client("service-quotas", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    need = QuotaNeed(service="ec2", code="L-417A185B", name="Running On-Demand P instances", value=192)
    for code, expected in (("TooManyRequestsException", AwsTransient), ("AccessDeniedException", QuotaRequestFailed)):
        with Stubber(client) as stub:
            stub.add_client_error("get_service_quota", service_error_code=code, http_status_code=400)
            with pytest.raises(expected):
                converge_quotas(lambda _: client, [need], ("us-east-1",))


def test_layout_refuses_a_quota_for_a_type_the_tier_denies(layout: Layout) -> None:
    data = layout.model_dump(mode="json")
    data["gpu_tiers"]["inference"]["service_quotas"].append(
        {"service": "sagemaker", "name": "ml.p5.48xlarge for training job usage", "value": 1}
    )
    with pytest.raises(ValueError, match=r"ml\.p5\.48xlarge is not in the tier's sagemaker_instance_types"):
        Layout.model_validate(data)
    data["gpu_tiers"]["inference"]["service_quotas"][-1] = {"service": "ec2", "code": "P-1", "name": "x", "value": 1}
    with pytest.raises(ValueError, match="not a Service Quotas code"):
        Layout.model_validate(data)


def test_quota_state_round_trips_through_the_record() -> None:
    state = QuotaState(
        region="us-east-1", service="ec2", code="L-417A185B", name="P", desired=192, applied=0, status="CASE_OPENED"
    )
    assert QuotaState.model_validate(state.model_dump()).pending
