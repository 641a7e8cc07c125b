"""The suite profile's instrument (tests/cpu_profile.py) counts the CPU of the process tree, not only this process:
a test whose work runs in a child (Terraform, node) must not read as free."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.suite_profile import main, per_module
from tests.cpu_profile import tree_cpu

BUSY = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\n"


def test_tree_cpu_counts_a_reaped_child_and_a_live_one() -> None:
    # GIVEN a child that burns 0.5 s of CPU and is reaped
    before = tree_cpu()
    subprocess.run([sys.executable, "-c", BUSY], check=True)
    assert tree_cpu() - before >= 0.4
    # AND one still running when measured (its CPU is read from /proc)
    child = subprocess.Popen([sys.executable, "-c", BUSY + "time.sleep(30)\n"])
    try:
        before = tree_cpu()
        deadline = time.monotonic() + 10
        while tree_cpu() - before < 0.4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_cpu() - before >= 0.4
    finally:
        child.kill()
        child.wait()


def test_per_module_sums_phases_by_module(tmp_path: Path) -> None:
    lines = [
        {"nodeid": "tests/a.py::t1", "phase": "setup", "cpu": 2.0, "wall": 3.0},
        {"nodeid": "tests/a.py::t1", "phase": "call", "cpu": 1.0, "wall": 1.0},
        {"nodeid": "tests/b.py::t[x::y]", "phase": "call", "cpu": 4.0, "wall": 9.0},
    ]
    (tmp_path / "gw0.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    modules = per_module(tmp_path)
    assert modules == {
        "tests/a.py": {"cpu": 3.0, "wall": 4.0, "tests": 1.0},
        "tests/b.py": {"cpu": 4.0, "wall": 9.0, "tests": 1.0},
    }
    assert main([str(tmp_path)]) == 0
    assert main([str(tmp_path / "empty")]) == 2
