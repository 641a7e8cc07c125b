"""The launch census (benchmarks/launch_census.py): every launch of the shimmed tools is counted, with the CPU of its
whole process tree, under the test that made it; the shim is invisible to the caller (arguments, output, exit code)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import launch_census
from vending.pipeline.runner import CHECKOV_BIN_ENV
from vending.pipeline.terraform import TERRAFORM_BIN_ENV

# A stand-in for terraform: prints its arguments, burns CPU in a grandchild it waits for, exits 3 for `plan`.
FAKE = f"""#!{sys.executable}
import subprocess, sys
print("args:", *sys.argv[1:])
BURN = "import time\\nend = time.process_time() + 0.3\\nwhile time.process_time() < end: pass"
subprocess.run([sys.executable, "-c", BURN])
sys.exit(3 if sys.argv[1:2] == ["plan"] else 0)
"""


def _fake(tmp_path: Path, name: str) -> str:
    path = tmp_path / "real" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(FAKE, encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def test_the_shim_passes_everything_through_and_records_the_tree_cpu(tmp_path: Path) -> None:
    # GIVEN a shim for a fake terraform
    env = launch_census.install_shims(tmp_path / "out", {TERRAFORM_BIN_ENV: _fake(tmp_path, "terraform")})
    shim = env[TERRAFORM_BIN_ENV]
    # WHEN it is launched as a test would launch terraform
    ran = subprocess.run(
        [shim, "plan", "-input=false", "-out=x"],
        capture_output=True,
        text=True,
        env={"PYTEST_CURRENT_TEST": "tests/x/test_y.py::test_z (call)"},
        check=False,
    )
    # THEN the caller sees the real binary's output and exit code
    assert (ran.returncode, ran.stdout.strip()) == (3, "args: plan -input=false -out=x")
    # AND one launch is recorded under its test, with the grandchild's CPU in it
    (line,) = [json.loads(raw) for raw in (tmp_path / "out" / launch_census.LOG).read_text().splitlines()]
    assert (line["tool"], line["command"], line["test"]) == ("terraform", "plan", "tests/x/test_y.py::test_z")
    assert line["cpu"] >= 0.25


def test_the_census_counts_each_launch_of_a_pytest_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a test module that launches terraform three times and checkov once (any launch missed fails the counts)
    plans = 3
    real = {TERRAFORM_BIN_ENV: _fake(tmp_path, "terraform"), CHECKOV_BIN_ENV: _fake(tmp_path, "checkov")}
    monkeypatch.setattr(launch_census, "real_binaries", lambda: real)
    module = tmp_path / "suite" / "test_launches.py"
    module.parent.mkdir()
    module.write_text(
        "import os, subprocess\n\n"
        "def test_launches():\n"
        f"    for _ in range({plans}):\n"
        f"        subprocess.run([os.environ['{TERRAFORM_BIN_ENV}'], 'plan'], check=False)\n"
        f"    subprocess.run([os.environ['{CHECKOV_BIN_ENV}'], '-d', '.'], check=True)\n",
        encoding="utf-8",
    )
    # WHEN the census runs pytest on it
    out = tmp_path / "census"
    code = launch_census.main(["--out", str(out), "--", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(module)])
    # THEN every launch is in the tables, by command and by the module that made it
    assert code == 0
    tables = launch_census.summarize(out)
    assert tables["command"]["terraform plan"][0] == plans and tables["command"]["checkov -d"][0] == 1
    (module_name,) = tables["module"]
    assert module_name.endswith("test_launches.py") and tables["module"][module_name][0] == plans + 1
    assert tables["total"]["all"][1] >= 0.25 * (plans + 1)
