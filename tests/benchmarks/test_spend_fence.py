"""The spend fence benchmark's verdicts, fast: frozen within one metering interval of crossing a cap (p5 instances;
a Bedrock token flood), the freeze and the thaw decided on the account's attached SCPs, and no false freeze over a
generated week of ordinary usage per tier (benchmarks/spend_fence.py prints the full figures)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from vending.layout import load_layout

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "spend_fence.py"


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


@pytest.mark.parametrize(("kind", "team"), [("p5", "team-mlops"), ("bedrock", "team-backend")])
def test_spend_fence_freezes_within_one_interval_of_crossing(bench: ModuleType, kind: str, team: str) -> None:
    # GIVEN an ordinary day, then a runaway starting at several minutes of the hour, read every 5 minutes
    result = bench.crossing_to_freeze(load_layout(), kind, team, range(0, 60, 13), 24)
    # THEN each is frozen at most one interval after its crossing minute
    assert result["interval_minutes"] == 5
    assert result["offsets"] == 5 and 0 <= result["minutes_after_crossing"]["max"] <= 5, result
    # AND on the SCPs then attached to the account the team's GPU launch and InvokeModel are denied, the platform's
    # are not, a t3 launch and stopping an instance still pass
    after = result["after_freeze"]
    assert after["gpu launch"] == {"team": False, "platform": True}
    assert after["InvokeModel"] == {"team": False, "platform": True}
    assert after["t3 launch"]["team"] and after["stop an instance"]["team"]
    # AND the owner and the platform were told once; after the approved thaw the launch passes and the SCP is off
    assert [n.rsplit(" ", 1)[0] for n in result["notifications"]] == ["Team Spend Frozen"]
    assert result["after_thaw"] == {"gpu launch (team)": True, "freeze attached": False}


def test_spend_fence_crossing_figure_can_fail(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the same runaway read every 15 minutes instead of 5 (the negative control of the figure)
    monkeypatch.setattr(bench, "INTERVAL_MINUTES", 15)
    result = bench.crossing_to_freeze(load_layout(), "p5", "team-mlops", range(0, 15, 4), 24)
    # THEN some start is frozen more than 5 minutes after crossing: the measurement sees a slow fence
    assert result["minutes_after_crossing"]["max"] > 5, result


def test_spend_fence_ordinary_week_has_no_false_freeze(bench: ModuleType) -> None:
    # GIVEN a generated week of ordinary usage for each tier, fenced every 5 minutes
    week = bench.false_freezes(load_layout(), 7, 24)
    # THEN nothing is frozen, and the usage is not trivially small: each tier's peak uses a real share of its caps
    assert week["false_freezes"] == 0 and week["readings"] == 3 * 7 * 24 * 12
    assert all(week[t]["peak_hour_of_cap"] > 0.05 and not week[t]["frozen"] for t in ("none", "inference", "training"))
    # AND the negative control: caps at 80 % of each week's own peaks freeze every account
    assert bench.false_freezes(load_layout(), 7, 24, caps_scale=0.8)["frozen"] == 3
