"""The spend fence's readings, kept for a day or two so GET /spend shows them without reading any account.

Every metering interval the fence computes each account's reading (vending.spend.interval); it stores it here, in the
usage table under its own partition `meter#<account_id>` (range key: the reading's time, ISO 8601), so the meter's
queries of an account's usage (`account_id = <account>`, vending.spend.usage) never read them. Each item carries
`expires_at` (epoch seconds, the table's TTL attribute): DynamoDB deletes it within a few days of that time
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html), so a reader also skips expired items.

The API then needs one Query per account on this table, instead of the access role in every member account.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vending.aws.dynamo import marshal, unmarshal
from vending.spend.reading import SpendReading

PREFIX = "meter#"
TTL_ATTRIBUTE = "expires_at"
KEEP = timedelta(days=2)
HOURS = 24  # the sparkline: one value per hour of the last day


def partition(account_id: str) -> str:
    return f"{PREFIX}{account_id}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StoredReading:
    """One stored reading, as GET /spend shows it."""

    account_id: str
    team: str
    stage: str
    request_id: str
    at: datetime
    hour_usd: float
    day_usd: float
    by_source: dict[str, float]
    unpriced: dict[str, float]


@dataclass(frozen=True)
class AccountSpend:
    """An account's latest reading and its sparkline: the last reading's hour_usd of each of the 24 hours ending at
    the read time, oldest first (0 for an hour without a reading)."""

    latest: StoredReading
    hourly: list[float]

    @property
    def top_sources(self) -> list[tuple[str, float]]:
        return sorted(self.latest.by_source.items(), key=lambda kv: -kv[1])


class ReadingStore:
    """Readings in the usage table, one item per account and interval."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def put(self, reading: SpendReading) -> None:
        at = reading.at.astimezone(UTC)
        body = {
            "team": reading.team,
            "stage": reading.stage,
            "request_id": reading.request_id,
            "hour_usd": reading.hour_usd,
            "day_usd": reading.day_usd,
            "by_source": reading.by_source,
            "unpriced": reading.unpriced,
        }
        self.client.put_item(
            TableName=self.table,
            Item=marshal(
                {
                    "account_id": partition(reading.account_id),
                    "event_key": _iso(at),
                    "reading": json.dumps(body, sort_keys=True),
                    TTL_ATTRIBUTE: int((at + KEEP).timestamp()),
                }
            ),
        )

    def put_all(self, readings: Iterable[SpendReading]) -> int:
        count = 0
        for reading in readings:
            self.put(reading)
            count += 1
        return count

    def since(self, account_id: str, start: datetime, at: datetime) -> list[StoredReading]:
        """The account's readings in [start, at], oldest first (one Query of its partition)."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="account_id = :p AND event_key BETWEEN :s AND :e",
            ExpressionAttributeValues=marshal({":p": partition(account_id), ":s": _iso(start), ":e": _iso(at)}),
        )
        now = int(at.timestamp())
        out: list[StoredReading] = []
        for page in pages:
            for raw in page.get("Items", []):
                item = unmarshal(raw)
                if int(item.get(TTL_ATTRIBUTE, now + 1)) <= now:
                    continue  # expired, not yet deleted by DynamoDB
                body = json.loads(item["reading"])
                out.append(
                    StoredReading(
                        account_id=account_id,
                        team=str(body["team"]),
                        stage=str(body["stage"]),
                        request_id=str(body["request_id"]),
                        at=datetime.fromisoformat(str(item["event_key"]).replace("Z", "+00:00")),
                        hour_usd=float(body["hour_usd"]),
                        day_usd=float(body["day_usd"]),
                        by_source={k: float(v) for k, v in body.get("by_source", {}).items()},
                        unpriced={k: float(v) for k, v in body.get("unpriced", {}).items()},
                    )
                )
        return sorted(out, key=lambda r: r.at)

    def last_day(self, account_id: str, at: datetime, hours: int = HOURS) -> AccountSpend | None:
        """The latest reading of the `hours` hours ending at `at`, and the sparkline; None without any reading."""
        at = at.astimezone(UTC)
        found = self.since(account_id, at - timedelta(hours=hours), at)
        if not found:
            return None
        hourly = [0.0] * hours
        for reading in found:  # oldest first: the last reading of each hour wins
            index = hours - 1 - int((at - reading.at).total_seconds() // 3600)
            if 0 <= index < hours:
                hourly[index] = reading.hour_usd
        return AccountSpend(found[-1], hourly)
