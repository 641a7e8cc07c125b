"""`vend costs --live` and `vend costs prices [--refresh]` on moto in-process: the meter per team and stage with its
sparkline, as a table and as JSON; a refused refresh changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from landing_zone.local.images import amazon_image
from tests.vending.conftest import REGION
from tests.vending.test_spend_meter import ACCOUNT, AT, ec2_event, put_tokens
from vending.cli import main
from vending.lifecycle import RequestStore, Status
from vending.request import VendingRequest
from vending.spend.prices import SNAPSHOT
from vending.spend.usage import UsageStore, record_event, usage_table_definition


@pytest.fixture
def metered(ddb: Any, store: RequestStore, request_: VendingRequest) -> UsageStore:
    """GIVEN team-mlops/staging READY in the account, a p5 running since 10:30, Sonnet tokens and an unpriced model."""
    store.reserve(request_, "vend-team-mlops-staging-a1")
    store.update(request_.request_id, status=Status.READY, step="RecordReady", account_id=ACCOUNT)
    ddb.create_table(**usage_table_definition("vending-usage"))
    usage = UsageStore(ddb, "vending-usage")
    ec2 = boto3.client("ec2", region_name=REGION)
    image = amazon_image(ec2)
    p5 = ec2.run_instances(ImageId=image, InstanceType="p5.48xlarge", MinCount=1, MaxCount=1)["Instances"][0]
    record_event(usage, ec2_event(p5["InstanceId"], "running", AT - timedelta(minutes=90)))
    put_tokens("us.anthropic.claude-3-5-sonnet-20240620-v1:0", AT - timedelta(minutes=10), 100_000, 10_000)
    put_tokens("meta.llama3-70b-instruct-v1:0", AT - timedelta(minutes=5), 2_000, 0)
    return usage


def test_live_table_shows_hour_day_sources_unpriced_and_sparkline(
    metered: UsageStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["costs", "--live", "--at", AT.isoformat()]) == 0
    out = capsys.readouterr().out
    sonnet = 100 * 0.003 + 10 * 0.015
    assert "Live spend at 2026-12-03 12:00 UTC" in out
    assert "team-mlops/staging" in out
    assert f"{55.04 + sonnet:,.2f}" in out  # last hour: the p5's hour and the tokens
    assert f"{1.5 * 55.04 + sonnet:,.2f}" in out  # today
    assert "▁▄█" in out  # 10:00-11:00 half a p5 hour; 11:00-12:00 a full one and the tokens
    assert "ec2:p5.48xlarge 82.56" in out
    assert "meta.llama3-70b-instruct-v1:0" in out and "2,000.00" in out


def test_live_json(metered: UsageStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--live", "--json", "--at", "2026-12-03T12:00:00Z"]) == 0
    body = json.loads(capsys.readouterr().out)
    [meter] = body["meters"]
    assert (meter["team"], meter["stage"], meter["account_id"]) == ("team-mlops", "staging", ACCOUNT)
    assert meter["day_usd"] == pytest.approx(1.5 * 55.04 + 0.45)
    assert len(meter["hourly_usd"]) == 24 and meter["hourly_usd"][-2] == pytest.approx(27.52)
    assert meter["unpriced"] == {"bedrock:meta.llama3-70b-instruct-v1:0 (us-east-1, input tokens)": 2000}


def test_live_filters_by_team(metered: UsageStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--live", "--json", "--team", "team-other", "--at", AT.isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["meters"] == []


def test_live_bad_time_is_a_clear_error(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "--live", "--at", "noon"]) == 2
    assert "--at: 'noon' is not an ISO 8601 time" in capsys.readouterr().err


def test_prices_shows_where_the_snapshot_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["costs", "prices"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["file"] == str(SNAPSHOT) and body["as_of"] and body["estimates"]


def test_refused_refresh_is_a_clear_error_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "prices.json"
    snapshot.write_bytes(SNAPSHOT.read_bytes())
    monkeypatch.setattr("vending.cli.costs.SNAPSHOT", snapshot)
    real_client = boto3.Session.client

    def client(self: boto3.Session, name: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(self, name, *args, **kwargs)
        if name == "pricing":
            stub = Stubber(made)
            stub.add_client_error("get_products", "AccessDeniedException", "not authorized: pricing:GetProducts")
            stub.activate()
        return made

    monkeypatch.setattr(boto3.Session, "client", client)
    assert main(["costs", "prices", "--refresh"]) == 2
    assert "PriceListUnavailable: pricing:GetProducts for ec2" in capsys.readouterr().err
    assert snapshot.read_bytes() == SNAPSHOT.read_bytes()


def test_meter_reads_today_from_midnight(metered: UsageStore, capsys: pytest.CaptureFixture[str]) -> None:
    # Read at 00:30 the next day: today is only the 30 minutes since midnight, the sparkline still spans 24 hours
    at = datetime(2026, 12, 4, 0, 30, tzinfo=UTC)
    assert main(["costs", "--live", "--json", "--at", at.isoformat()]) == 0
    [meter] = json.loads(capsys.readouterr().out)["meters"]
    assert meter["day_usd"] == pytest.approx(55.04 / 2)
    assert meter["hour_usd"] == pytest.approx(55.04)
    assert sum(meter["hourly_usd"]) == pytest.approx(55.04 * 14 + 0.45, abs=1e-2)
