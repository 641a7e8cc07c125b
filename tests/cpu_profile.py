"""Where the suite's CPU goes, per test: `pytest --cpu-report=DIR` writes one JSON line per test phase to
DIR/<worker>.jsonl; `python benchmarks/suite_profile.py DIR` sums them per module. (Spell it with "=": the option is
a conftest's, unknown to pytest's pre-parse, which would take a separate DIR for a test path.)

The suite is CPU-bound on two cores, so wall time per test (`--durations`) says little: six workers share the cores,
and most of a test's CPU is spent outside the test's process (Terraform and its provider, the jsii node kernel). The
figure here is the whole process tree's: this process, its reaped children (Terraform, which reaped its provider), and
every live descendant (the CDK's node kernel, a `vend api serve`), read from /proc at each phase's start and end.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest

_TICK = os.sysconf("SC_CLK_TCK")


def _descendants_cpu(root: int) -> float:
    """CPU seconds of root's live descendants, each with the children it has reaped."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone since listdir
        fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
        children.setdefault(int(fields[1]), []).append(int(entry))
        cpu[int(entry)] = sum(int(f) for f in fields[11:15]) / _TICK  # utime stime cutime cstime
    total, frontier = 0.0, [root]
    while frontier:
        below = children.get(frontier.pop(), [])
        total += sum(cpu[c] for c in below)
        frontier.extend(below)
    return total


def tree_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + _descendants_cpu(os.getpid())


class CpuReport:
    def __init__(self, directory: Path, worker: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.out = (directory / f"{worker}.jsonl").open("a", encoding="utf-8")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):  # type: ignore[no-untyped-def]
        yield from self._measure(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):  # type: ignore[no-untyped-def]
        yield from self._measure(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item):  # type: ignore[no-untyped-def]
        yield from self._measure(item, "teardown")

    def _measure(self, item: pytest.Item, phase: str):  # type: ignore[no-untyped-def]
        cpu, wall = tree_cpu(), time.monotonic()
        yield
        line = {"nodeid": item.nodeid, "phase": phase, "cpu": tree_cpu() - cpu, "wall": time.monotonic() - wall}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
