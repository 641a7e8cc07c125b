"""Suite-wide rule: a test that skips or xfails is a failure unless tests/allowed_skips.txt names it with a reason.

On with `--strict-skips` (the Makefile's `make test`, hence CI): a green run then means every test ran.
"""

from __future__ import annotations

import fnmatch
import gc
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from vending.aws.sessions import shared_loader

# botocore parses its endpoint and service-model JSON once per loader, and every new Session makes a new loader.
# moto's mock_aws resets boto3's default session for each test, so each test parsed megabytes of JSON again: a
# quarter of `make test-fast`'s CPU (py-spy). Every session of the test processes takes the loader the service's own
# sessions share (vending.aws.sessions); it caches read-only data only.
botocore.session.create_loader = shared_loader  # type: ignore[attr-defined]

# A test process holds about a million objects (moto's backends, botocore's models, the collected items), and each
# test makes and drops hundreds of thousands more. With CPython's default young generation (700 allocations) the
# objects a test keeps alive for its length get promoted and a full collection of the whole heap follows every
# quarter-million of them: 13-16 CPU s per `make test-fast` worker, 17 % of its CPU, measured with gc.callbacks. A
# young generation of 50,000 leaves a test's objects to die by reference count first (about 4 s per worker, the same
# peak memory). Cycles are still collected: only how often the collector runs changes.
gc.set_threshold(50_000, 10, 10)

ALLOWED_SKIPS = Path(__file__).with_name("allowed_skips.txt")
_unexplained: list[str] = []

# The modules whose wall time dominates the suite (mostly Terraform's and the AWS provider's own waits, and emulator
# boots), longest first, measured with `--durations` and a junit report (README, "Tests"). Two uses:
# - make test (--dist loadfile --no-loadscope-reorder) hands whole modules to workers in collection order; starting
#   the longest first keeps one of them from being the tail the other workers wait for (longest-processing-time-first);
# - they are marked `slow`, so `make test-fast` (not emulator/terraform/checkov/slow) leaves them out.
# tests/test_suite_order.py checks every entry names an existing module.
SLOW_MODULES = (
    "tests/pipeline/test_pipeline_emulator.py",
    "tests/pipeline/test_llm_templates.py",
    "tests/emulator/test_runtime_faults.py",
    "tests/terraform/test_terraform_cli.py",
    "tests/emulator/test_team_stack_fences.py",
    "tests/api/test_api.py",
    "tests/guardrails/test_remediation_property.py",
    "tests/benchmarks/test_spend_fence.py",
    "tests/pipeline/test_saved_plan.py",
    "tests/e2e/test_least_privilege.py",
    "tests/e2e/test_lifecycle_state_machine.py",
    "tests/browser/test_portal_journey.py",
    "tests/browser/test_hosted_portal.py",
    "tests/cdk/test_buildspec.py",
    "tests/e2e/test_vending_state_machine.py",
    "tests/test_strict_skips.py",
    "tests/emulator/test_authorization.py",
    "tests/pipeline/test_gpu_schema_coverage.py",
    "tests/emulator/test_orphans.py",
    "tests/guardrails/test_usage_forwarding.py",
    "tests/emulator/test_aws_semantics_defects.py",
    "tests/scps/test_accelerated_apis.py",
    "tests/vending/test_changes.py",
    "tests/oracle/test_oracle.py",
    "tests/cdk/test_install_paths.py",
    "tests/github/test_configure.py",
    "tests/emulator/test_llm_service_patches.py",
    "tests/vending/test_pipelines.py",
    "tests/e2e/test_preflight.py",
    "tests/guardrails/test_budget_audit.py",
    "tests/vending/test_accounts.py",
    "tests/guardrails/test_effective_audit.py",
    "tests/guardrails/test_tamper.py",
    "tests/api/test_corpus.py",
    "tests/vending/test_service.py",
    "tests/guardrails/test_audit.py",
    # The longest of what make test-fast still ran (its --durations, per module): out of the inner loop.
    "tests/vending/test_closure_faults.py",
    "tests/benchmarks/test_launch_census.py",
)


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
    parser.addoption(
        "--cpu-report", metavar="DIR", help="write each test phase's CPU seconds to DIR (tests/cpu_profile.py)"
    )


def pytest_configure(config: pytest.Config) -> None:
    if directory := config.getoption("--cpu-report"):
        from tests.cpu_profile import CpuReport  # imported only when asked: tests/test_strict_skips.py copies this file

        worker = getattr(config, "workerinput", {}).get("workerid", "main")
        config.pluginmanager.register(CpuReport(Path(directory), worker), "cpu-report")
    config.addinivalue_line("markers", "slow: a module of SLOW_MODULES (tests/conftest.py), left out of make test-fast")


# `make test-fast` runs with `--dist loadgroup`: every test is its own unit of work except these folders, each kept
# on one worker, since a process's first CDK synthesis or Template starts jsii's node kernel and loads the construct
# library (15-18 CPU s cold, 2-4 warm) and each browser worker launches its own Chromium. xdist's own loadgroup reads
# the xdist_group marks through item._nodeid, which pytest 9 no longer reads; hence the folders, by path, here.
ONE_WORKER_FOLDERS = ("tests/cdk/", "tests/browser/")


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FoldersTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((folder for folder in ONE_WORKER_FOLDERS if nodeid.startswith(folder)), nodeid)

    return FoldersTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {module: i for i, module in enumerate(SLOW_MODULES)}
    for item in items:
        if item.nodeid.split("::", 1)[0] in rank:
            item.add_marker(pytest.mark.slow)
    # A stable sort: the slow modules first, longest first; every other test keeps its collection order.
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


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
