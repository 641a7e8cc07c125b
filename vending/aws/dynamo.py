"""One typed DynamoDB table of pydantic models, shared by every store (requests, pipeline runs, approvals).

An item is the model's key attributes and a few projected fields (for conditions, queries and indexes), plus,
where the model is nested, the whole model as JSON in one attribute. Marshalling is boto3's TypeSerializer, so no
store writes `{"S": ...}` by hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def marshal(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values to DynamoDB attribute values (None is left out: DynamoDB has no empty attributes)."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def unmarshal(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class ModelTable(Generic[M]):
    """A table whose items are models of one type.

    `keys` name the key attributes (hash, then range); `projected` are model fields written as attributes beside the
    body; `body` is the attribute holding the whole model as JSON, or None to store every field as an attribute.
    """

    def __init__(
        self,
        client: Any,
        table: str,
        model: type[M],
        *,
        keys: tuple[str, ...],
        projected: tuple[str, ...] = (),
        body: str | None = None,
    ) -> None:
        self.client = client
        self.table = table
        self._model = model
        self._keys = keys
        self._projected = projected
        self._body = body

    def key(self, *values: str) -> dict[str, Any]:
        return marshal(dict(zip(self._keys, values, strict=True)))

    def to_item(self, model: M) -> dict[str, Any]:
        plain = model.model_dump(mode="json")
        if self._body is None:
            return marshal(plain)
        return marshal({**{k: plain[k] for k in (*self._keys, *self._projected)}, self._body: model.model_dump_json()})

    def from_item(self, item: Mapping[str, Any]) -> M:
        plain = unmarshal(item)
        if self._body is None:
            return self._model.model_validate(plain)
        return self._model.model_validate_json(plain[self._body])

    def get(self, *key: str) -> M | None:
        found = self.client.get_item(TableName=self.table, Key=self.key(*key), ConsistentRead=True).get("Item")
        return self.from_item(found) if found else None

    def put(
        self,
        model: M,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the model; `condition` with `names`/`values` (plain values) makes it a conditional write."""
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": self.to_item(model)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if values:
            kwargs["ExpressionAttributeValues"] = marshal(values)
        self.client.put_item(**kwargs)

    def update(
        self,
        *key: str,
        expression: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> M:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": self.key(*key),
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if values:
            kwargs["ExpressionAttributeValues"] = marshal(values)
        return self.from_item(self.client.update_item(**kwargs)["Attributes"])

    def scan(self) -> Iterator[M]:
        for page in self.client.get_paginator("scan").paginate(TableName=self.table):
            yield from (self.from_item(i) for i in page.get("Items", []))

    def query(self, hash_value: str) -> Iterator[M]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="#k = :k",
            ExpressionAttributeNames={"#k": self._keys[0]},
            ExpressionAttributeValues=marshal({":k": hash_value}),
        )
        for page in pages:
            yield from (self.from_item(i) for i in page.get("Items", []))

    def query_index(self, index: str, attribute: str, value: str) -> Iterator[dict[str, Any]]:
        """The items of a secondary index whose key `attribute` is `value`, as plain values (its projection)."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            IndexName=index,
            KeyConditionExpression="#k = :k",
            ExpressionAttributeNames={"#k": attribute},
            ExpressionAttributeValues=marshal({":k": value}),
        )
        for page in pages:
            yield from (unmarshal(i) for i in page.get("Items", []))
