"""The emulator's Service Quotas (ListServiceQuotas) and cost-allocation tags, which moto 5.2.5 lacks: each guard
refuses a moto that gained the operation, and each emulation answers as AWS does."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from landing_zone.local.billing_and_quotas import (
    CODEBUILD_QUOTA_NAME,
    billing_saw_tags,
    emulated_cost_allocation_tags,
    emulated_service_quotas,
    set_quota,
)
from landing_zone.local.patching import MotoChanged

ACCOUNT = "123456789012"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def test_moto_still_lacks_the_emulated_operations(aws: None) -> None:
    # GIVEN plain moto (no patch): THEN the operations the emulator adds are not there (else drop the emulation)
    sq, ce = boto3.client("service-quotas"), boto3.client("ce", region_name="us-east-1")
    for call in (
        lambda: sq.list_service_quotas(ServiceCode="codebuild"),
        lambda: ce.list_cost_allocation_tags(),
        lambda: ce.update_cost_allocation_tags_status(CostAllocationTagsStatus=[{"TagKey": "t", "Status": "Active"}]),
    ):
        with pytest.raises(NotImplementedError):
            call()


def test_guards_refuse_a_moto_that_implements_the_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ce.responses import CostExplorerResponse
    from moto.servicequotas.responses import ServiceQuotasResponse

    monkeypatch.setattr(ServiceQuotasResponse, "list_service_quotas", lambda self: "{}", raising=False)
    with pytest.raises(MotoChanged, match="list_service_quotas now exists"), emulated_service_quotas():
        pass
    monkeypatch.setattr(CostExplorerResponse, "list_cost_allocation_tags", lambda self: "{}", raising=False)
    with pytest.raises(MotoChanged, match="list_cost_allocation_tags now exists"), emulated_cost_allocation_tags():
        pass


def test_service_quotas_answer_defaults_then_the_applied_value(aws: None) -> None:
    sq = boto3.client("service-quotas")
    with emulated_service_quotas():
        # GIVEN AWS's defaults
        (quota,) = sq.list_service_quotas(ServiceCode="codebuild")["Quotas"]
        assert (quota["QuotaName"], quota["Value"]) == (CODEBUILD_QUOTA_NAME, 20.0)
        # WHEN a quota is changed THEN that account and region answer the new value, another region the default
        set_quota(ACCOUNT, "codebuild", CODEBUILD_QUOTA_NAME, 1)
        assert sq.list_service_quotas(ServiceCode="codebuild")["Quotas"][0]["Value"] == 1.0
        west = boto3.client("service-quotas", region_name="us-west-2")
        assert west.list_service_quotas(ServiceCode="codebuild")["Quotas"][0]["Value"] == 20.0
        # AND a service the emulator does not model is NoSuchResource, as for an unknown service code in AWS
        with pytest.raises(ClientError, match="NoSuchResource"):
            sq.list_service_quotas(ServiceCode="sagemaker")
    from moto.servicequotas.responses import ServiceQuotasResponse

    assert not hasattr(ServiceQuotasResponse, "list_service_quotas")  # put back on exit


def test_cost_allocation_tags_are_listed_once_seen_and_only_seen_keys_activate(aws: None) -> None:
    ce = boto3.client("ce", region_name="us-east-1")
    with emulated_cost_allocation_tags():
        # GIVEN no tag seen by Billing: nothing listed, and activating is an error entry (not an exception)
        assert ce.list_cost_allocation_tags()["CostAllocationTags"] == []
        answer = ce.update_cost_allocation_tags_status(
            CostAllocationTagsStatus=[{"TagKey": "team", "Status": "Active"}]
        )
        assert [e["TagKey"] for e in answer["Errors"]] == ["team"]
        # WHEN Billing sees two keys THEN both are listed Inactive, and only those activate
        billing_saw_tags(ACCOUNT, ["team", "stage"])
        assert {t["TagKey"]: t["Status"] for t in ce.list_cost_allocation_tags()["CostAllocationTags"]} == {
            "stage": "Inactive",
            "team": "Inactive",
        }
        answer = ce.update_cost_allocation_tags_status(
            CostAllocationTagsStatus=[{"TagKey": k, "Status": "Active"} for k in ("team", "cost-center")]
        )
        assert [e["TagKey"] for e in answer["Errors"]] == ["cost-center"]
        listed = ce.list_cost_allocation_tags(TagKeys=["team", "stage"], Status="Active")["CostAllocationTags"]
        assert listed == [{"TagKey": "team", "Type": "UserDefined", "Status": "Active"}]
