"""The spend fence benchmark's verdicts, fast, with its readings from the real meter: frozen within one metering
interval of crossing a cap (p5 instances; a Bedrock token flood), the meter equal to the benchmark's oracle, the freeze
and the thaw decided on the account's attached SCPs, no false freeze over a slice of ordinary usage per tier; and the
negative controls: a meter broken on purpose fails the figures (benchmarks/spend_fence.py prints the full ones)."""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from vending.layout import load_layout

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "spend_fence.py"
# The ordinary day's busiest hours (the diurnal bell peaks at 14:00; training runs start 08:00-15:00).
BUSY = (12, 16)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    before = dict(os.environ)  # the script sets defaults at import; keep this process's environment as it was
    spec = importlib.util.spec_from_file_location("spend_fence_bench", BENCHMARK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    os.environ.clear()
    os.environ.update(before)
    return module


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")


@pytest.mark.parametrize(("kind", "team"), [("p5", "team-mlops"), ("bedrock", "team-backend")])
def test_spend_fence_freezes_within_one_interval_of_crossing(
    bench: ModuleType, aws_env: None, kind: str, team: str
) -> None:
    # GIVEN an ordinary day, then a runaway starting at two minutes of the hour, read through the meter every 5 minutes
    result = bench.crossing_to_freeze(load_layout(), kind, team, [0, 23], 24)
    # THEN each is frozen at most one interval after the oracle's crossing minute, never before it
    assert result["interval_minutes"] == 5
    assert result["offsets"] == 2 and 0 <= result["minutes_after_crossing"]["max"] <= 5, result
    assert result["frozen_before_crossing"] == [] and result["not_frozen_in_time"] == 0
    # AND every reading the meter gave equals the oracle's spend of the same workload (rounding to 4 decimals only)
    assert result["deviation"]["readings"] > 20 and result["deviation"]["max_usd"] <= 0.001, result["deviation"]
    # AND on the SCPs then attached to the account the team's GPU launch and InvokeModel are denied, the platform's
    # are not, a t3 launch and stopping an instance still pass
    after = result["after_freeze"]
    assert after["gpu launch"] == {"team": False, "platform": True}
    assert after["InvokeModel"] == {"team": False, "platform": True}
    assert after["t3 launch"]["team"] and after["stop an instance"]["team"]
    # AND the owner and the platform were told once; after the approved thaw the launch passes and the SCP is off
    assert [n.rsplit(" ", 1)[0] for n in result["notifications"]] == ["Team Spend Frozen"]
    assert result["after_thaw"] == {"gpu launch (team)": True, "freeze attached": False}


def test_spend_fence_crossing_figure_can_fail(
    bench: ModuleType, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the same runaway read every 15 minutes instead of 5 (the negative control of the figure)
    monkeypatch.setattr(bench, "INTERVAL_MINUTES", 15)
    result = bench.crossing_to_freeze(load_layout(), "p5", "team-mlops", [1, 7], 24, checks=False)
    # THEN some start is frozen more than 5 minutes after crossing: the measurement sees a slow fence
    assert result["minutes_after_crossing"]["max"] > 5, result
    # AND the meter itself is still exact (the tokens' 5-minute aggregation stays whole within 15-minute ticks)
    assert result["deviation"]["max_usd"] <= 0.001, result["deviation"]


@pytest.mark.parametrize(
    ("fault", "kind", "team"),
    [
        ("half-price", "p5", "team-mlops"),
        ("double-count", "p5", "team-mlops"),
        ("token-period", "bedrock", "team-backend"),
    ],
)
def test_spend_fence_planted_meter_fault_fails_the_figures(
    bench: ModuleType, aws_env: None, fault: str, kind: str, team: str
) -> None:
    # GIVEN a meter broken on purpose (a price halved, intervals counted twice, tokens asked for hourly sums)
    with bench.planted(fault):
        result = bench.crossing_to_freeze(load_layout(), kind, team, [0], 24, checks=False)
    # THEN the meter's deviation from the oracle is far off, and the crossing verdict fails with it
    assert result["deviation"]["max_usd"] > 1.0, result["deviation"]
    verdict = bench.verdicts([result], result["deviation"]["max_usd"], None)
    assert verdict["deviation"] is False
    # half-price never freezes in time; double-count freezes before the real crossing; token-period shows in the
    # deviation (its hourly buckets still add up near the hour boundary, so the crossing verdict alone may pass)
    if fault == "half-price":
        assert result["not_frozen_in_time"] == 1 and verdict["crossing"] is False
    if fault == "double-count":
        assert result["frozen_before_crossing"] and verdict["crossing"] is False
    # AND the fault is undone on leaving: the same run is exact again
    assert bench.crossing_to_freeze(load_layout(), kind, team, [0], 24, checks=False)["deviation"]["max_usd"] <= 0.001


def test_spend_fence_ordinary_hours_have_no_false_freeze(bench: ModuleType, aws_env: None) -> None:
    # GIVEN an ordinary day's busiest hours for each tier, fenced every 5 minutes through the meter
    week = bench.false_freezes(load_layout(), 1, 24, hours=BUSY)
    # THEN nothing is frozen, the meter equals the oracle, and the priced usage is a real share of the caps
    assert week["false_freezes"] == 0 and week["readings"] == 3 * 4 * 12
    assert week["deviation"]["max_usd"] <= 0.001, week["deviation"]
    assert all(week[t]["peak_hour_of_cap"] > 0.05 and not week[t]["frozen"] for t in ("inference", "training"))
    # AND the none tier's m5/t3 are unpriced by the snapshot: priced $0, reported as unpriced, by oracle and meter
    none = week["none"]
    assert none["week_usd"] == 0 and none["unpriced_instance_hours_week"]
    assert {k.split(" ")[0] for k in none["meter_unpriced_last_day"]} == {"ec2:m5.large", "ec2:t3.large"}
    # AND the negative control: caps at 80 % of the slice's own peaks freeze every account with priced usage
    control = bench.false_freezes(load_layout(), 1, 24, caps_scale=0.8, hours=BUSY)
    assert control["should_freeze"] == 2 and control["frozen"] == 2


def test_indexed_cloudwatch_answers_as_moto_does(bench: ModuleType, aws_env: None) -> None:
    from moto import mock_aws

    from vending.spend.meter import _bedrock_tokens

    # GIVEN token metrics of two models, minute and block data, some outside the window, another namespace beside
    t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with mock_aws():
        cw = boto3.client("cloudwatch", region_name="us-east-1")
        data = [
            {
                "MetricName": name,
                "Dimensions": [{"Name": "ModelId", "Value": model}],
                "Timestamp": t0 + timedelta(minutes=m),
                "Value": float(100 * m + len(model)),
            }
            for m in range(0, 300, 3)
            for model in ("a.model-v1:0", "us.b.model-v2:0")
            for name in ("InputTokenCount", "OutputTokenCount")
        ]
        cw.put_metric_data(Namespace="AWS/Bedrock", MetricData=data[:300])
        cw.put_metric_data(Namespace="Other", MetricData=data[:5])
        start, end = t0 + timedelta(minutes=31), t0 + timedelta(minutes=250)
        # WHEN the meter's query and a descending one are answered by moto and by the index
        want = _bedrock_tokens(cw, "us-east-1", start, end)
        raw: dict[str, Any] = {
            "Namespace": "AWS/Bedrock",
            "MetricName": "InputTokenCount",
            "Dimensions": [{"Name": "ModelId", "Value": "us.b.model-v2:0"}],
        }
        query = [{"Id": "q", "MetricStat": {"Metric": raw, "Period": 600, "Stat": "Sum"}}]
        want_raw = cw.get_metric_data(MetricDataQueries=query, StartTime=start, EndTime=end)["MetricDataResults"]
        with bench.indexed_cloudwatch():
            got = _bedrock_tokens(cw, "us-east-1", start, end)
            got_raw = cw.get_metric_data(MetricDataQueries=query, StartTime=start, EndTime=end)["MetricDataResults"]
            cw.put_metric_data(Namespace="AWS/Bedrock", MetricData=data[300:])  # put after the index was built
            got_late = _bedrock_tokens(cw, "us-east-1", start, end)
        want_late = _bedrock_tokens(cw, "us-east-1", start, end)
    # THEN the answers are the same, and not trivially empty
    assert got == want and sum(len(v) for v in want.values()) > 100
    assert got_raw == want_raw

    def by_time(answer: dict[Any, list[Any]]) -> dict[Any, list[Any]]:  # the meter sums them: order is not read
        return {k: sorted(v) for k, v in answer.items()}

    assert by_time(got_late) == by_time(want_late) != by_time(want)
