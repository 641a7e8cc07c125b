"""The emulator's Service Quotas (ListServiceQuotas) and cost-allocation tags, which moto 5.2.5 lacks: each guard
refuses a moto that gained the operation, and each emulation answers as AWS does."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local.billing_and_quotas import (
    CODEBUILD_QUOTA_NAME,
    billing_saw_tags,
    emulated_cost_allocation_tags,
    emulated_service_quotas,
    quota_requests,
    set_quota,
    settle_quota_requests,
)
from landing_zone.local.patching import MotoChanged

ACCOUNT = "123456789012"


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


def test_moto_still_lacks_quota_requests_and_answers_only_vpc_quotas(aws: None) -> None:
    # GIVEN plain moto: THEN the request operations are missing and GetServiceQuota knows no EC2 quota (the negative
    # control of the emulation below)
    sq = boto3.client("service-quotas")
    for call in (
        lambda: sq.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-417A185B", DesiredValue=192),
        lambda: sq.list_requested_service_quota_change_history_by_quota(ServiceCode="ec2", QuotaCode="L-417A185B"),
        lambda: sq.get_requested_service_quota_change(RequestId="r"),
        lambda: sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode="L-417A185B"),
    ):
        with pytest.raises(NotImplementedError):
            call()
    with pytest.raises(ClientError, match="NoSuchResource"):
        sq.get_service_quota(ServiceCode="ec2", QuotaCode="L-417A185B")


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
            sq.list_service_quotas(ServiceCode="braket")
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


def test_guard_refuses_a_moto_that_gained_quota_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.servicequotas.responses import ServiceQuotasResponse

    monkeypatch.setattr(ServiceQuotasResponse, "request_service_quota_increase", lambda self: "{}", raising=False)
    with pytest.raises(MotoChanged, match="request_service_quota_increase"), emulated_service_quotas():
        pass
    assert not hasattr(ServiceQuotasResponse, "list_service_quotas")  # nothing left half-patched


def test_quota_increase_is_pending_until_settled_and_one_open_request_per_quota(aws: None) -> None:
    sq = boto3.client("service-quotas")
    p = {"ServiceCode": "ec2", "QuotaCode": "L-417A185B"}
    with emulated_service_quotas():
        # GIVEN a new account: the P quota at 0, its default 0; moto's own vpc answers still come from moto
        assert sq.get_service_quota(**p)["Quota"]["Value"] == 0.0
        assert sq.get_aws_default_service_quota(**p)["Quota"]["QuotaName"] == "Running On-Demand P instances"
        assert sq.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"] > 0
        # WHEN an increase is requested THEN it is PENDING and listed by quota; a second open one is refused
        request = sq.request_service_quota_increase(**p, DesiredValue=192)["RequestedQuota"]
        assert request["Status"] == "PENDING" and request["QuotaArn"].endswith(":ec2/L-417A185B")
        with pytest.raises(ClientError, match="ResourceAlreadyExists"):
            sq.request_service_quota_increase(**p, DesiredValue=256)
        listed = sq.list_requested_service_quota_change_history_by_quota(**p)["RequestedQuotas"]
        assert [r["Id"] for r in listed] == [request["Id"]]
        # AND CASE_OPENED keeps it open and the value unchanged; APPROVED applies the value
        assert settle_quota_requests(ACCOUNT, "CASE_OPENED") == 1
        change = sq.get_requested_service_quota_change(RequestId=request["Id"])["RequestedQuota"]
        assert change["Status"] == "CASE_OPENED"
        assert sq.get_service_quota(**p)["Quota"]["Value"] == 0.0
        assert settle_quota_requests(ACCOUNT) == 1
        assert sq.get_service_quota(**p)["Quota"]["Value"] == 192.0
        assert sq.get_aws_default_service_quota(**p)["Quota"]["Value"] == 0.0
        # AND a desired value not above the applied one, or an unknown quota, is refused
        with pytest.raises(ClientError, match="IllegalArgument"):
            sq.request_service_quota_increase(**p, DesiredValue=100)
        with pytest.raises(ClientError, match="NoSuchResource"):
            sq.request_service_quota_increase(ServiceCode="ec2", QuotaCode="L-00000000", DesiredValue=1)
        # AND another region has its own quotas and requests
        assert boto3.client("service-quotas", region_name="us-west-2").get_service_quota(**p)["Quota"]["Value"] == 0
        assert len(quota_requests(ACCOUNT)) == 1 and quota_requests(ACCOUNT, "us-west-2") == []
