"""The throughput benchmark's verdict: a run where the product asked for a 6th creation, or a vend left the happy
path, fails (benchmarks/vend_throughput.py --plant-sixth-creation is the same control on the real emulator)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import step_functions

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "vend_throughput.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    before = dict(os.environ)  # the script sets its log level at import; keep this process's as it was
    spec = importlib.util.spec_from_file_location("vend_throughput", BENCHMARK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.environ.clear()
    os.environ.update(before)
    return module


def _result(**overrides: Any) -> dict[str, Any]:
    return {
        "teams": 7,
        "ready": 7,
        "quota_refusals": 0,
        "max_creations_in_flight": 5,
        "product_max_creation_leases": 5,
        "path_problems": {},
    } | overrides


def test_verdict_passes_a_run_within_the_quota(bench: ModuleType) -> None:
    assert bench.verdict(_result()) == []


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ({"quota_refusals": 1}, "refused 1 CreateAccount"),
        ({"product_max_creation_leases": 6}, "product_max_creation_leases = 6 > 5"),
        ({"max_creations_in_flight": 6}, "max_creations_in_flight = 6 > 5"),
        ({"ready": 6}, "1 of 7 vends did not reach READY"),
        ({"path_problems": {"bench-001": "extra {'RecordFailed': 1}"}}, "bench-001: extra"),
    ],
)
def test_verdict_fails_a_sixth_creation_or_a_vend_off_the_path(
    bench: ModuleType, fault: dict[str, Any], named: str
) -> None:
    # GIVEN a run with one planted fault, THEN the verdict names it (and the script exits 1)
    problems = bench.verdict(_result(**fault))
    assert len(problems) == 1 and named in problems[0], problems


def test_happy_path_is_a_path_of_the_state_machine(bench: ModuleType) -> None:
    # GIVEN the ASL the product deploys, THEN each step of the benchmark's happy path is an edge of it
    states = json.loads(step_functions.ASL_PATH.read_text(encoding="utf-8"))["States"]

    def edges(name: str) -> set[str]:
        state = states[name]
        return {state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", []))} - {None}

    path = list(bench.HAPPY_PATH)
    one_poll = [*path[:5], *bench.ACCOUNT_POLL, *path[5:]]  # CreateAccount, AccountReady?, the poll, PlaceInOu...
    assert one_poll[0] == json.loads(step_functions.ASL_PATH.read_text(encoding="utf-8"))["StartAt"]
    for a, b in itertools.pairwise(one_poll):
        assert b in edges(a), (a, b)
    assert states[path[-1]]["Type"] == "Succeed"


def test_path_problem_counts_nineteen_transitions_for_one_status_poll(bench: ModuleType) -> None:
    path = list(bench.HAPPY_PATH)
    one_poll = [*path[:5], *bench.ACCOUNT_POLL, *path[5:]]
    # WHEN a vend polled the account once THEN it is the happy path's 19 transitions
    assert len(one_poll) == 19 and bench.path_problem(one_poll) is None
    # AND a vend that took the failure branch, or skipped a step, is named
    assert "RecordFailed" in bench.path_problem([*one_poll[:-3], "RecordFailed", "NotifyFailed", "Failed"])
    assert "missing {'TagAccount': 1}" in bench.path_problem([s for s in one_poll if s != "TagAccount"])
