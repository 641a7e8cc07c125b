"""Suite-wide rule: a test that skips or xfails is a failure unless tests/allowed_skips.txt names it with a reason.

On with `--strict-skips` (the Makefile's `make test`, hence CI): a green run then means every test ran.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

ALLOWED_SKIPS = Path(__file__).with_name("allowed_skips.txt")
_unexplained: list[str] = []


def _allowed() -> list[tuple[str, str]]:
    """(node id pattern, reason) pairs; a line without a reason after ' -- ' is refused."""
    entries = []
    for raw in ALLOWED_SKIPS.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, sep, reason = line.partition(" -- ")
        if not sep or not reason.strip():
            raise pytest.UsageError(f"{ALLOWED_SKIPS}: {line!r} needs ' -- <reason>'")
        entries.append((pattern.strip(), reason.strip()))
    return entries


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--strict-skips", action="store_true", help="fail the run on any skip/xfail not allow-listed")


def _record(report: pytest.TestReport | pytest.CollectReport, kind: str, why: object) -> None:
    if not any(fnmatch.fnmatchcase(report.nodeid, pattern) for pattern, _ in _allowed()):
        _unexplained.append(f"{kind}: {report.nodeid}: {why}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    skipped = report.skipped and report.when in {"setup", "call"}
    if not skipped:
        return
    kind = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    _record(report, kind, report.longrepr if kind == "skipped" else report.wasxfail)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    # A module-level skip (pytest.skip(allow_module_level=True), importorskip) skips at collection: no test report
    # is ever made for its tests. Under xdist the controller receives each worker's skipped collection here too.
    if report.skipped:
        _record(report, "skipped module", report.longrepr)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.getoption("--strict-skips") and _unexplained and not hasattr(session.config, "workerinput"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if config.getoption("--strict-skips") and _unexplained:
        terminalreporter.section("skips and xfails not in tests/allowed_skips.txt (each fails the run)")
        for line in _unexplained:
            terminalreporter.line(line)
