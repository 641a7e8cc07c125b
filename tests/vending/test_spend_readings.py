"""The spend fence keeps each interval's readings (vending.spend.readings) for GET /spend: under `meter#<account>` in
the usage table, with a TTL, where the meter's own per-account queries never see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.vending.conftest import OUTCOME_SOURCE, REGION
from tests.vending.test_spend_fence import FREEZES, T0, _reading, _vend
from vending.layout import Layout
from vending.spend.freezes import FreezeStore, freezes_table_definition
from vending.spend.readings import KEEP, TTL_ATTRIBUTE, ReadingStore
from vending.spend.usage import UsageEvent, UsageStore, usage_table_definition

USAGE = "vending-usage"


@pytest.fixture
def usage(ddb: Any) -> Any:
    ddb.create_table(**usage_table_definition(USAGE))
    return ddb


def _event(account: str) -> UsageEvent:
    return UsageEvent(
        account_id=account,
        event_key=f"ec2#i-1#{T0:%Y-%m-%dT%H:%M:%SZ}#running",
        kind="ec2",
        resource="i-1",
        region=REGION,
        time=f"{T0:%Y-%m-%dT%H:%M:%SZ}",
        state="running",
    )


def test_run_interval_stores_each_reading_apart_from_the_meters_usage(
    org: Any, layout: Layout, store: Any, request_: Any, usage: Any
) -> None:
    from vending.lifecycle import Status
    from vending.spend.interval import run_interval

    usage.create_table(**freezes_table_definition(FREEZES))
    # GIVEN team-mlops staging vended, one usage event recorded for its account, and a meter reading it under its cap
    account = _vend(org, layout)
    store.reserve(request_, "vend-team-mlops-staging-a1")
    store.update(request_.request_id, status=Status.READY, step="RecordReady", account_id=account)
    events = UsageStore(usage, USAGE)
    events.record(_event(account))
    readings = ReadingStore(usage, USAGE)

    def read(records: list[Any], at: datetime) -> list[Any]:
        return [_reading(str(r.account_id), 1.25, 7.5, at=at) for r in records]

    # WHEN one interval runs with the reading store
    run_interval(
        read=read,
        store=store,
        freezes=FreezeStore(usage, FREEZES),
        layout=layout,
        org=org,
        events=boto3.client("events", region_name=REGION),
        sts=boto3.client("sts", region_name=REGION),
        bus="default",
        source=OUTCOME_SOURCE,
        now=T0,
        run_id="interval-1",
        readings=readings,
    )
    # THEN the reading is stored under meter#<account>, keyed by its time, expiring two days later
    items = usage.query(
        TableName=USAGE,
        KeyConditionExpression="account_id = :p",
        ExpressionAttributeValues={":p": {"S": f"meter#{account}"}},
    )["Items"]
    assert [i["event_key"]["S"] for i in items] == ["2026-12-03T14:00:00Z"]
    assert int(items[0][TTL_ATTRIBUTE]["N"]) == int((T0 + KEEP).timestamp()) == int(T0.timestamp()) + 2 * 86400
    # AND read back as GET /spend reads it: the latest reading and its hour in the sparkline
    found = readings.last_day(account, T0 + timedelta(minutes=5))
    assert found is not None
    assert (found.latest.hour_usd, found.latest.day_usd, found.latest.team) == (1.25, 7.5, "team-mlops")
    assert found.hourly[-1] == 1.25 and sum(found.hourly) == 1.25
    # AND the meter's own query of the account still sees only its usage event (not the reading)
    assert [e.event_key for e in events.events(account)] == [_event(account).event_key]
    assert events.known_types(account) == {}


def test_reading_store_sparkline_keeps_each_hours_last_reading_and_skips_expired(usage: Any) -> None:
    readings = ReadingStore(usage, USAGE)
    at = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    # GIVEN two readings 2-3 h ago (the same hour), 30 min ago, and one 30 h ago (outside the day)
    for minutes, hour_usd in ((175, 1.0), (170, 2.0), (30, 4.0), (30 * 60, 9.0)):
        readings.put(_reading("210987654321", hour_usd, hour_usd, at=at - timedelta(minutes=minutes)))
    # WHEN the last day is read
    found = readings.last_day("210987654321", at)
    # THEN the latest is the 30-minute one, the sparkline holds each hour's last reading, the 30 h one is left out
    assert found is not None and found.latest.hour_usd == 4.0
    assert len(found.hourly) == 24 and found.hourly[-1] == 4.0 and found.hourly[-3] == 2.0 and sum(found.hourly) == 6.0
    # AND another account's partition is not read
    assert readings.last_day("210987654322", at) is None
    # AND a reading past its TTL (DynamoDB deletes it only eventually) is not shown
    later = at + KEEP + timedelta(hours=1)
    readings.put(_reading("210987654321", 5.0, 5.0, at=later - timedelta(days=3)))
    assert readings.since("210987654321", later - timedelta(days=4), later) == []
