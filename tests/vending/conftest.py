"""Shared fixtures for the vending workflow tests: fake credentials, moto with the layout's OU tree, the tables,
real event payloads from tests/events and a fake Lambda context."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from landing_zone.local.dynamodb import atomic_conditional_writes
from landing_zone.local.organizations import aws_like_organizations
from vending.layout import Layout, cached_layout
from vending.lifecycle import RequestStore, requests_table_definition
from vending.org_tree import resolve_ou_paths
from vending.pipeline.orchestration import RunStore
from vending.request import VendingRequest, parse_request

EVENTS = Path(__file__).resolve().parent.parent / "events"
REGION = "us-east-1"
REQUESTS_TABLE = "vending-requests"
IDEMPOTENCY_TABLE = "vending-idempotency"
RUNS_TABLE = "vending-pipeline-runs"
SLOTS_TABLE = "vending-creation-slots"
TABLES = ((REQUESTS_TABLE, "request_id"), (IDEMPOTENCY_TABLE, "id"), (RUNS_TABLE, "run_id"), (SLOTS_TABLE, "slot"))
OUTCOME_SOURCE = "platform.vending"


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded payload from tests/events/<name>.json."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


@dataclass
class FakeLambdaContext:
    function_name: str = "vending-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:vending-test"
    aws_request_id: str = "4d6a1c2e-0b5f-4e8a-9c3d-2f1e0a9b8c7d"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the service's settings; nothing here may ever reach a real endpoint or profile."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_CA_BUNDLE",
        "VEND_LAYOUT_FILE",
        "VEND_WORKFLOW_SETTINGS",
        "VEND_STATE_MACHINE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "AccountVending",
        "POWERTOOLS_SERVICE_NAME": "account-vending",
        "VEND_REQUESTS_TABLE": REQUESTS_TABLE,
        "VEND_IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "VEND_PIPELINE_RUNS_TABLE": RUNS_TABLE,
        "VEND_EVENT_BUS": "default",
        "VEND_EVENT_SOURCE": OUTCOME_SOURCE,
        "VEND_PIPELINE_LAUNCHER": "local",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def layout() -> Layout:
    return cached_layout()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every service, with Organizations and DynamoDB's conditional writes behaving like AWS where the
    guardrails and the races depend on them."""
    with mock_aws(), aws_like_organizations(), atomic_conditional_writes():
        yield


@pytest.fixture
def bare_org(aws: None) -> Any:
    """An organization with only its root (no OUs yet)."""
    client = boto3.client("organizations", region_name=REGION)
    client.create_organization(FeatureSet="ALL")
    return client


@pytest.fixture
def org(bare_org: Any, layout: Layout) -> Any:
    """An organization with the OU tree of landing_zone/layout.yaml."""
    resolve_ou_paths(bare_org, [ou.path for ou in layout.ous])
    return bare_org


@pytest.fixture
def ddb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(**requests_table_definition(REQUESTS_TABLE))  # with the e-mail index the intake reads
    for table, key in TABLES[1:]:
        client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        )
    return client


@pytest.fixture
def store(ddb: Any) -> RequestStore:
    return RequestStore(ddb, REQUESTS_TABLE)


@pytest.fixture
def run_store(ddb: Any) -> RunStore:
    return RunStore(ddb, RUNS_TABLE)


@pytest.fixture
def detail() -> dict[str, Any]:
    """The `detail` of a real "Team Onboarding Requested" event: a valid request."""
    return load_event("onboarding_requested")["detail"]


@pytest.fixture
def make_request(detail: dict[str, Any]) -> Callable[..., VendingRequest]:
    def _make(**overrides: Any) -> VendingRequest:
        return parse_request({**detail, **overrides})

    return _make


@pytest.fixture
def request_(make_request: Callable[..., VendingRequest]) -> VendingRequest:
    """The onboarding event's request (team-mlops, staging)."""
    return make_request()


@pytest.fixture
def reserved(store: RequestStore, request_: VendingRequest) -> RequestStore:
    """GIVEN the request reserved by its first execution."""
    store.reserve(request_, "vend-team-mlops-staging-a1")
    return store


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def state_machine(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A trivial state machine standing in for AccountVending; its ARN is in VEND_STATE_MACHINE_ARN."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="vending-sfn",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "states.amazonaws.com"}}
                ],
            }
        ),
    )
    arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="AccountVending",
        roleArn=role["Role"]["Arn"],
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )["stateMachineArn"]
    monkeypatch.setenv("VEND_STATE_MACHINE_ARN", arn)
    return str(arn)


@pytest.fixture
def published(aws: None) -> Callable[[], list[dict[str, Any]]]:
    """Capture what the service publishes on the default bus: a rule on its source targets an SQS queue.
    Returns a function that drains the queue into a list of EventBridge events."""
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="captured-vending-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="capture-vending", EventPattern=json.dumps({"source": [OUTCOME_SOURCE]}))
    events.put_targets(Rule="capture-vending", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def drain() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return drain


@pytest.fixture
def event_payload() -> Callable[[str], dict[str, Any]]:
    """Load a recorded payload from tests/events by name."""
    return load_event


@pytest.fixture
def member_account(org: Any) -> Callable[[str, str], str]:
    """Create an account straight in moto (which completes the creation at once); returns its id."""

    def _create(email: str, name: str) -> str:
        return str(org.create_account(Email=email, AccountName=name)["CreateAccountStatus"]["AccountId"])

    return _create


@pytest.fixture
def calls_of() -> Callable[[Any, str], list[dict[str, Any]]]:
    """Record every call of one API operation made through a client (botocore's before-call event)."""

    def _spy(client: Any, operation: str) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        service = client.meta.service_model.service_id.hyphenize()

        def _record(params: dict[str, Any], **_: Any) -> None:
            calls.append(params)

        client.meta.events.register(f"before-call.{service}.{operation}", _record)
        return calls

    return _spy
