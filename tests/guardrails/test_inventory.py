"""The organization-wide inventory (AWS Config aggregator advanced query) and the scheduled audit's inputs.

moto 5.2 does not implement SelectAggregateResourceConfig, so the query is checked with botocore's Stubber on
responses shaped like the API's (each result a JSON document as a string, NextToken paging)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.guardrails.conftest import vend_with_record
from vending.exceptions import NotConfigured
from vending.guardrails import reconcile_organization
from vending.guardrails.inventory import (
    EC2_QUERY,
    SAGEMAKER_QUERY,
    ConfigAggregatorInventory,
    RunningInstance,
    allowed_by_tier,
)
from vending.guardrails.orgapi import ApiCallCounter, Backoff
from vending.layout import Layout

AGGREGATOR = "org-aggregator"


def _config() -> Any:
    return boto3.client("config", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _ec2(account: str, instance: str, itype: str) -> str:
    return json.dumps(
        {
            "resourceId": instance,
            "accountId": account,
            "awsRegion": "us-west-2",
            "configuration": {"instanceType": itype},
        }
    )


def test_inventory_pages_the_aggregator_query_for_ec2_and_sagemaker() -> None:
    # GIVEN an aggregator answering two EC2 pages and one SageMaker page (one serverless variant without a type)
    config = _config()
    endpoint = json.dumps(
        {
            "resourceId": "ep-cfg",
            "accountId": "222222222222",
            "awsRegion": "us-east-1",
            "configuration": {
                "productionVariants": [
                    {"instanceType": "ml.p5.48xlarge"},
                    {"serverlessConfig": {"memorySizeInMB": 2048}},
                ]
            },
        }
    )
    base = {"ConfigurationAggregatorName": AGGREGATOR, "Limit": 100}
    with Stubber(config) as stub:
        stub.add_response(
            "select_aggregate_resource_config",
            {"Results": [_ec2("111111111111", "i-1", "p5.48xlarge")], "NextToken": "t1"},
            {**base, "Expression": EC2_QUERY},
        )
        stub.add_response(
            "select_aggregate_resource_config",
            {"Results": [_ec2("222222222222", "i-2", "t3.micro")]},
            {**base, "Expression": EC2_QUERY, "NextToken": "t1"},
        )
        stub.add_response(
            "select_aggregate_resource_config", {"Results": [endpoint]}, {**base, "Expression": SAGEMAKER_QUERY}
        )
        # WHEN read
        inventory = ConfigAggregatorInventory(config, AGGREGATOR, backoff=Backoff(sleep=lambda _s: None))
        items = list(inventory.instances())
        stub.assert_no_pending_responses()
    # THEN every instance type comes back with its account, and three calls covered the whole organization
    assert items == [
        RunningInstance("111111111111", "i-1", "AWS::EC2::Instance", "p5.48xlarge", "us-west-2"),
        RunningInstance("222222222222", "i-2", "AWS::EC2::Instance", "t3.micro", "us-west-2"),
        RunningInstance("222222222222", "ep-cfg", "AWS::SageMaker::EndpointConfig", "ml.p5.48xlarge", "us-east-1"),
    ]
    assert inventory.calls == 3


def test_inventory_requires_an_aggregator_name() -> None:
    with pytest.raises(NotConfigured, match="aggregator"):
        ConfigAggregatorInventory(_config(), "")


@pytest.mark.parametrize(
    ("tier", "itype", "ok"),
    [
        ("none", "t3.micro", True),
        ("none", "g5.xlarge", False),
        ("inference", "g6e.2xlarge", True),
        ("inference", "p5.48xlarge", False),
        ("training", "trn1n.32xlarge", True),
        ("training", "dl1.24xlarge", False),
        ("training", "ml.p5.48xlarge", True),
        ("inference", "ml.trn1.32xlarge", False),
        (None, "inf2.xlarge", False),
        (None, "ml.m5.large", True),
    ],
)
def test_inventory_allowed_by_tier(layout: Layout, tier: str | None, itype: str, ok: bool) -> None:
    item = RunningInstance("111111111111", "r", "x", itype)
    assert allowed_by_tier(layout, tier, item) is ok


def test_audit_handler_reads_records_from_the_requests_table(
    org: Any, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a vended account whose record is in the requests table, and its gpu-tier tag rewritten to training
    from vending.handlers.audit import handler
    from vending.lifecycle import RequestStore
    from vending.spend.freezes import freezes_table_definition

    for k, v in {
        "VEND_REQUESTS_TABLE": "requests",
        "VEND_PIPELINE_RUNS_TABLE": "runs",
        "VEND_REPORTS_BUCKET": "",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "AccountVending",
        "VEND_CONFIG_AGGREGATOR": "",
    }.items():
        monkeypatch.setenv(k, v)
    account, record = vend_with_record(org, layout, "team-frontend", "staging")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="requests",
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    RequestStore(ddb, "requests")._put(record, condition="attribute_not_exists(request_id)")
    ddb.create_table(**freezes_table_definition("vending-freezes"))  # the spend fence's freezes (none)
    ddb.create_table(  # the stacks' drift checks, beside their runs (none yet)
        TableName="runs",
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    reconcile_organization(org, layout, dry_run=False, records=[record])
    # (its budget, inside the account as Bootstrap makes it: the audit reads it through the access role)
    from vending.budgets import ensure_budget
    from vending.guardrails.audit import member_budgets

    budgets = member_budgets(boto3.client("sts", region_name="us-east-1"), layout.organization.access_role_name)
    ensure_budget(budgets(account), account, amount=500, owner_email="o@x.io")
    # (and its Bedrock invocation logging in each of its regions, also read through the access role)
    from vending.guardrails.audit import member_sessions
    from vending.invocation_logging import ensure_invocation_logging

    inside = member_sessions(boto3.client("sts", region_name="us-east-1"), layout.organization.access_role_name)
    ensure_invocation_logging(inside(account), account, record.request["regions"])
    # (and the live meter's usage forwarding to this account's bus, as Bootstrap makes it)
    from vending.settings import Settings
    from vending.usage_forwarding import ensure_usage_forwarding, platform_bus_arn

    member = inside(account)
    platform = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    ensure_usage_forwarding(
        lambda r: member.client("events", region_name=r),
        member.client("iam"),
        account,
        record.request["regions"],
        platform_bus_arn("us-east-1", platform, Settings.from_env().event_bus_name),
        layout.organization.allowed_regions,
    )
    org.tag_resource(ResourceId=account, Tags=[{"Key": "gpu-tier", "Value": "training"}])
    scans = ApiCallCounter()
    real_client = boto3.Session.client

    def counted(self: Any, name: str, *a: Any, **kw: Any) -> Any:
        client = real_client(self, name, *a, **kw)  # type: ignore[call-overload]
        if name == "dynamodb":
            scans.attach(client)
        return client

    monkeypatch.setattr(boto3.Session, "client", counted)
    from tests.vending.conftest import FakeLambdaContext

    # WHEN the scheduled audit runs
    summary = handler({"detail": {}}, FakeLambdaContext())  # type: ignore[arg-type]
    # THEN its intent came from the table (one Scan; a second reads the stacks' drift checks, a third the frozen
    # accounts) and the tag is drift, judged against the record
    assert scans.to_dict()["by_operation"] == {"Scan": 3}
    assert summary["by_type"] == {"tag_drift": 1}


def test_inventory_skips_rows_without_a_type_and_reads_a_missing_region_as_empty() -> None:
    # GIVEN EC2 rows without configuration, with a null one, without a type, and one without its region; SageMaker
    # rows with a null configuration and with null variants
    config = _config()
    rows = [
        json.dumps({"resourceId": "i-0", "accountId": "111111111111", "awsRegion": "us-east-1"}),
        json.dumps({"resourceId": "i-1", "accountId": "111111111111", "configuration": None}),
        json.dumps({"resourceId": "i-2", "accountId": "111111111111", "configuration": {"state": "running"}}),
        json.dumps({"resourceId": "i-3", "accountId": "111111111111", "configuration": {"instanceType": "g5.xlarge"}}),
    ]
    endpoints = [
        json.dumps({"resourceId": "ep-0", "accountId": "222222222222", "configuration": None}),
        json.dumps({"resourceId": "ep-1", "accountId": "222222222222", "configuration": {"productionVariants": None}}),
        json.dumps(
            {
                "resourceId": "ep-2",
                "accountId": "222222222222",
                "configuration": {"productionVariants": [{"instanceType": "ml.g5.xlarge"}]},
            }
        ),
    ]
    base = {"ConfigurationAggregatorName": AGGREGATOR, "Limit": 7}
    with Stubber(config) as stub:
        stub.add_response("select_aggregate_resource_config", {"Results": rows}, {**base, "Expression": EC2_QUERY})
        stub.add_response(
            "select_aggregate_resource_config", {"Results": endpoints}, {**base, "Expression": SAGEMAKER_QUERY}
        )
        inventory = ConfigAggregatorInventory(config, AGGREGATOR, page_size=7, backoff=Backoff(sleep=lambda _s: None))
        items = list(inventory.instances())
        stub.assert_no_pending_responses()
    # THEN only the typed ones, the region "" where the row has none
    assert items == [
        RunningInstance("111111111111", "i-3", "AWS::EC2::Instance", "g5.xlarge", ""),
        RunningInstance("222222222222", "ep-2", "AWS::SageMaker::EndpointConfig", "ml.g5.xlarge", ""),
    ]
    assert inventory.calls == 2


def test_inventory_without_sagemaker_makes_the_ec2_query_only() -> None:
    config = _config()
    base = {"ConfigurationAggregatorName": AGGREGATOR, "Limit": 100, "Expression": EC2_QUERY}
    with Stubber(config) as stub:  # a SageMaker query would find no answer queued and fail
        stub.add_response("select_aggregate_resource_config", {"Results": []}, base)
        inventory = ConfigAggregatorInventory(config, AGGREGATOR, sagemaker=False)
        assert list(inventory.instances()) == []
        stub.assert_no_pending_responses()
    assert inventory.calls == 1


def test_inventory_default_backoff_retries_a_throttled_page() -> None:
    config = _config()
    with Stubber(config) as stub:
        stub.add_client_error("select_aggregate_resource_config", "TooManyRequestsException")
        stub.add_response("select_aggregate_resource_config", {"Results": [_ec2("111111111111", "i-1", "p5.48xlarge")]})
        inventory = ConfigAggregatorInventory(config, AGGREGATOR, sagemaker=False)
        assert [i.resource_id for i in inventory.instances()] == ["i-1"]
    assert inventory.b.throttled == 1 and inventory.calls == 1  # one page asked for, its call retried by the backoff


def test_static_inventory_hands_out_a_copy() -> None:
    from vending.guardrails.inventory import StaticInventory

    item = RunningInstance("111111111111", "i-1", "AWS::EC2::Instance", "p5.48xlarge")
    static = StaticInventory([item])
    listed = static.instances()
    assert listed == [item]
    listed.append(item)  # type: ignore[attr-defined]
    assert static.instances() == [item] and StaticInventory().instances() == []


def test_inventory_an_unknown_tier_allows_no_accelerated_type(layout: Layout) -> None:
    assert allowed_by_tier(layout, "gold", RunningInstance("1", "r", "x", "g5.xlarge")) is False
    assert allowed_by_tier(layout, "gold", RunningInstance("1", "r", "x", "ml.g5.xlarge")) is False
    assert allowed_by_tier(layout, "gold", RunningInstance("1", "r", "x", "m5.large")) is True
    # an ml. type is read against SageMaker's families: "ml.t3.medium" is no accelerated family there
    assert allowed_by_tier(layout, "none", RunningInstance("1", "r", "x", "ml.t3.medium")) is True


def test_inventory_names_its_refusals_exactly() -> None:
    from vending.exceptions import OrganizationsThrottled

    with pytest.raises(NotConfigured) as missing:
        ConfigAggregatorInventory(_config(), "")
    assert str(missing.value) == "a Config aggregator name is required for the organization-wide inventory"
    config = _config()
    with Stubber(config) as stub:
        stub.add_client_error("select_aggregate_resource_config", "TooManyRequestsException")
        inventory = ConfigAggregatorInventory(config, AGGREGATOR, backoff=Backoff(attempts=1), sagemaker=False)
        with pytest.raises(OrganizationsThrottled) as throttled:
            list(inventory.instances())
    assert str(throttled.value) == "SelectAggregateResourceConfig: TooManyRequestsException"


def test_inventory_a_page_without_results_holds_no_instance() -> None:
    config = _config()
    with Stubber(config) as stub:
        stub.add_response("select_aggregate_resource_config", {"NextToken": "t1"})
        stub.add_response("select_aggregate_resource_config", {"Results": [_ec2("111111111111", "i-1", "g5.xlarge")]})
        inventory = ConfigAggregatorInventory(config, AGGREGATOR, sagemaker=False)
        assert [i.resource_id for i in inventory.instances()] == ["i-1"]
