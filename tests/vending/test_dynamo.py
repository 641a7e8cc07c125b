"""vending.aws.dynamo: one typed table for every store; items round-trip, conditions hold, nothing hand-marshalled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pydantic import BaseModel

from vending.aws.dynamo import ModelTable


class Thing(BaseModel):
    pk: str
    sk: str = "v1"
    count: int = 0
    tags: dict[str, str] = {}
    note: str | None = None


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        yield ddb


@pytest.mark.parametrize("body", [None, "doc"])
def test_model_table_round_trips_with_and_without_a_body(client: Any, body: str | None) -> None:
    # GIVEN a typed table, WHEN a model is put and read back, THEN it is the same model
    table = ModelTable(client, "t", Thing, keys=("pk", "sk"), projected=("count",), body=body)
    thing = Thing(pk="a", count=3, tags={"team": "x"})
    table.put(thing)
    assert table.get("a", "v1") == thing
    assert list(table.query("a")) == [thing] and list(table.scan()) == [thing]
    # AND the projected attribute is a real number attribute a condition can compare
    raw = client.get_item(TableName="t", Key=table.key("a", "v1"))["Item"]
    assert raw["count"] == {"N": "3"}


def test_model_table_conditional_put_and_update(client: Any) -> None:
    table = ModelTable(client, "t", Thing, keys=("pk", "sk"))
    table.put(Thing(pk="a"), condition="attribute_not_exists(pk)")
    # GIVEN an item, WHEN the same key is put under attribute_not_exists, THEN DynamoDB refuses it
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        table.put(Thing(pk="a", count=9), condition="attribute_not_exists(pk)")
    # WHEN updated under a condition on the current value, THEN the new model comes back
    updated = table.update(
        "a", "v1", expression="SET #c = :n", condition="#c = :seen", names={"#c": "count"}, values={":n": 5, ":seen": 0}
    )
    assert updated.count == 5
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        table.update(
            "a",
            "v1",
            expression="SET #c = :n",
            condition="#c = :seen",
            names={"#c": "count"},
            values={":n": 6, ":seen": 0},
        )


def test_no_store_marshals_attribute_values_by_hand() -> None:
    # GIVEN the shipped stores, THEN none writes {"S": ...}/{"N": ...} itself: ModelTable is the one marshaller
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "vending"
    offenders = [
        str(p)
        for p in root.rglob("*.py")
        if p.name != "dynamo.py" and any(token in p.read_text() for token in ('{"S": ', '{"N": ', '["S"]'))
    ]
    assert not offenders
