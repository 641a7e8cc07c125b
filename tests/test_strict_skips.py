"""The suite's skip rule (tests/conftest.py) fails a run that skips without an allow-listed reason."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    case = tmp_path / "tests" / "test_case.py"
    case.parent.mkdir(parents=True)
    (tmp_path / "tests" / "conftest.py").write_text((REPO_ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "tests" / "allowed_skips.txt").write_text("tests/test_case.py::test_allowed -- a reason\n")
    case.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *args, str(case)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_strict_skips_fails_an_unlisted_skip(tmp_path: Path) -> None:
    # GIVEN a test that skips and is not allow-listed, WHEN run with --strict-skips, THEN the run fails naming it
    result = _run(tmp_path, "import pytest\ndef test_other():\n    pytest.skip('no tool')\n", "--strict-skips")
    assert result.returncode == 1, result.stdout
    assert "skipped: tests/test_case.py::test_other" in result.stdout


def test_strict_skips_fails_an_unlisted_xfail(tmp_path: Path) -> None:
    body = "import pytest\n@pytest.mark.xfail(reason='bug')\ndef test_other():\n    assert False\n"
    result = _run(tmp_path, body, "--strict-skips")
    assert result.returncode == 1 and "xfailed: tests/test_case.py::test_other" in result.stdout


def test_strict_skips_accepts_an_allow_listed_skip(tmp_path: Path) -> None:
    result = _run(tmp_path, "import pytest\ndef test_allowed():\n    pytest.skip('listed')\n", "--strict-skips")
    assert result.returncode == 0, result.stdout
