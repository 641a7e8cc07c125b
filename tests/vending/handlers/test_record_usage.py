"""RecordUsage: forwarded state-change events, SQS -> handler -> usage table; a redelivery is a duplicate, a bad event
is dropped (not retried), a transient failure fails only its record."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.vending.conftest import FakeLambdaContext, load_event
from vending.handlers import record_usage
from vending.spend.usage import UsageStore, usage_table_definition

pytestmark = pytest.mark.filterwarnings("error:No application metrics to publish:UserWarning")
ACCOUNT = "123456789012"


def sqs_batch(*bodies: dict[str, Any]) -> dict[str, Any]:
    """The recorded SQS batch shape, one record per EventBridge event."""
    template = load_event("onboarding_sqs")["Records"][0]
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record.update(messageId=f"m-{n}", body=json.dumps(body), eventSourceARN=record["eventSourceARN"] + "-usage")
        records.append(record)
    return {"Records": records}


def running(instance: str) -> dict[str, Any]:
    event = load_event("ec2_instance_state_change")
    event["detail"] = {"instance-id": instance, "state": "running"}
    return event


@pytest.fixture
def usage(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> UsageStore:
    ddb.create_table(**usage_table_definition("vending-usage-test"))
    monkeypatch.setenv("VEND_USAGE_TABLE", "vending-usage-test")
    return UsageStore(ddb, "vending-usage-test")


def test_records_each_event_once(usage: UsageStore, lambda_context: FakeLambdaContext) -> None:
    # GIVEN a batch with one event twice (EventBridge and SQS both deliver at least once) and a bad one
    bad = {**running("i-2"), "detail-type": "AWS API Call via CloudTrail"}
    result = record_usage.handler(sqs_batch(running("i-1"), running("i-1"), bad), lambda_context)
    # THEN one item, no record failed (the duplicate and the bad event are not retried)
    assert result == {"batchItemFailures": []}
    assert [(e.resource, e.state) for e in usage.events(ACCOUNT)] == [("i-1", "running")]


def test_transient_failure_fails_only_its_record(
    usage: UsageStore, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = UsageStore.record

    def flaky(self: UsageStore, event: Any) -> bool:
        if event.resource == "i-2":
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")
        return real(self, event)

    monkeypatch.setattr(UsageStore, "record", flaky)
    result = record_usage.handler(sqs_batch(running("i-1"), running("i-2")), lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert [e.resource for e in usage.events(ACCOUNT)] == ["i-1"]


def test_function_role_may_only_put_usage() -> None:
    from vending.functions import by_key

    assert [(g.actions, g.resources) for g in by_key("RecordUsage").grants] == [
        (("dynamodb:PutItem",), ("usage_table",))
    ]
