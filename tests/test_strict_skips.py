"""The suite's skip rule (tests/conftest.py) fails a run that skips without an allow-listed reason."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, body: str, *args: str, xdist: bool = False) -> subprocess.CompletedProcess[str]:
    case = tmp_path / "tests" / "test_case.py"
    case.parent.mkdir(parents=True)
    (tmp_path / "tests" / "conftest.py").write_text((REPO_ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "tests" / "allowed_skips.txt").write_text("tests/test_case.py::test_allowed -- a reason\n")
    case.write_text(textwrap.dedent(body))
    plugins = () if xdist else ("-p", "no:xdist")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins, *args, str(case)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,  # a hung child fails this test instead of hanging the suite
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


MODULE_SKIP = "import pytest\npytest.skip('no GPU here', allow_module_level=True)\ndef test_other():\n    pass\n"


def test_strict_skips_fails_a_module_level_skip(tmp_path: Path) -> None:
    # GIVEN a module that skips itself at import, WHEN run with --strict-skips, THEN the run fails naming the module
    result = _run(tmp_path, MODULE_SKIP, "--strict-skips")
    assert result.returncode == 1, result.stdout
    assert "skipped module: tests/test_case.py" in result.stdout


def test_strict_skips_fails_a_module_level_skip_under_xdist(tmp_path: Path) -> None:
    # GIVEN the same module run as make test runs it (xdist workers, loadfile), THEN the controller still fails
    result = _run(tmp_path, MODULE_SKIP, "--strict-skips", "-n", "2", "--dist", "loadfile", xdist=True)
    assert result.returncode == 1, result.stdout
    assert "skipped module: tests/test_case.py" in result.stdout


def test_strict_skips_fails_an_unlisted_skip_under_xdist(tmp_path: Path) -> None:
    body = "import pytest\ndef test_other():\n    pytest.skip('no tool')\n"
    result = _run(tmp_path, body, "--strict-skips", "-n", "2", xdist=True)
    assert result.returncode == 1 and "skipped: tests/test_case.py::test_other" in result.stdout, result.stdout


def test_without_strict_skips_a_module_level_skip_passes(tmp_path: Path) -> None:
    # The positive control: the same module without the flag is an ordinary skip (nothing else ran: exit code 5)
    result = _run(tmp_path, MODULE_SKIP)
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED and "1 skipped" in result.stdout, result.stdout
