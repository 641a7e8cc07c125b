"""The checkov fork server (vending/pipeline/checkov_launch.py, checkov_forkserver.py): a scan through it is the scan
a fresh `checkov` process makes (the real checkov, both ways), and it fails closed as a process does: a crash, a
signal, a hang, a wrong version, a server that dies or never starts. The fast tests run the server on a stand-in
checkov package (this interpreter, the package on PYTHONPATH) whose Checkov does what its arguments say."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vending.exceptions import CheckovScanTimedOut, CheckovServerUnavailable
from vending.pipeline import checkov_launch, runner
from vending.settings import REPO_ROOT

STAND_IN = """
import os, sys, time, json

class Checkov:
    def __init__(self, argv=sys.argv[1:]):
        self.argv = list(argv)

    def run(self):
        verb, *rest = self.argv
        if verb == "--version":
            from checkov.version import version
            print(version)
            return 0
        if verb == "pass":
            print(json.dumps({"summary": {"passed": 1, "failed": 0, "skipped": 0}, "argv": self.argv,
                              "cwd": os.getcwd(), "env": os.environ.get("PROBE"), "pid": os.getpid()}))
            return 0
        if verb == "signal":
            os.kill(os.getpid(), signal_number())
        if verb == "sleep":
            time.sleep(float(rest[0]))
            return 0
        if verb == "exit-text":
            sys.exit("usage: checkov [-h]")
        if verb == "raise":
            raise RuntimeError("a checkov bug")
        if verb == "stderr":
            print("a warning", file=sys.stderr)
            return 1
        return 3

def signal_number():
    import signal
    return signal.SIGSEGV
"""


def _stand_in(tmp_path: Path, version: str, *, importable: bool = True) -> str:
    """A checkov console script (the markers pip writes) run by this interpreter, with a stand-in package."""
    package = tmp_path / "site" / "checkov"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(STAND_IN if importable else "raise ImportError('broken install')\n")
    (package / "version.py").write_text(f"version = {version!r}\n")
    binary = tmp_path / "bin" / "checkov"
    binary.parent.mkdir()
    binary.write_text(
        f"#!{sys.executable}\nfrom checkov.main import Checkov\nimport sys\n\n"
        "if __name__ == '__main__':\n    sys.exit(Checkov().run())\n"
    )
    binary.chmod(0o755)
    return str(binary)


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    binary = _stand_in(tmp_path, runner.pinned_version("checkov"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    monkeypatch.setenv("PROBE", "from-the-environment")
    return binary


@pytest.fixture
def server(stand_in: str):
    found = checkov_launch.server_for(stand_in, dict(os.environ))
    assert found is not None
    yield found
    checkov_launch.stop_servers()


def test_entry_interpreter_names_only_checkovs_own_console_script(tmp_path: Path, stand_in: str) -> None:
    assert checkov_launch.entry_interpreter(stand_in) == sys.executable
    # a shell wrapper, a Python script that is not checkov's entry, a `#!/usr/bin/env python` line, nothing at all
    cases = {
        "wrapper": '#!/bin/sh\nexec checkov "$@"\n',
        "other": f"#!{sys.executable}\nprint('from checkov.main import Checkov')\n",
        "env": "#!/usr/bin/env python3\nfrom checkov.main import Checkov\nsys.exit(Checkov().run())\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert checkov_launch.entry_interpreter(str(tmp_path / name)) is None, name
    assert checkov_launch.entry_interpreter(str(tmp_path / "missing")) is None


def test_the_real_checkov_entry_script_is_recognised() -> None:
    binary = runner._checkov_binary()
    if binary is None:
        pytest.skip("checkov is not installed here")  # strict-skips makes this a failure in make test
    assert checkov_launch.entry_interpreter(os.path.realpath(binary)) is not None


def test_a_scan_runs_with_its_arguments_directory_and_environment(server, tmp_path: Path) -> None:
    # GIVEN the server started with this environment, WHEN a scan runs in a directory with other variables
    env = {**os.environ, "PROBE": "the-scan's-own"}
    done = server.scan(["pass", "-d", "."], tmp_path, env, timeout=60)
    # THEN the child saw exactly the scan's arguments, directory and environment, in a process of its own
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["argv"] == ["pass", "-d", "."]
    assert report["cwd"] == str(tmp_path) and report["env"] == "the-scan's-own"
    assert report["pid"] not in (os.getpid(), server.proc.pid)
    assert server.version == runner.pinned_version("checkov")


def test_exit_codes_are_a_processs(server, tmp_path: Path) -> None:
    env = dict(os.environ)
    # a signal is reported as subprocess reports it (minus the signal), sys.exit("text") as 1 with the text on
    # stderr, an exception as 1 with its traceback, an exit code as itself with the scan's own stderr
    assert server.scan(["signal"], tmp_path, env, 60).returncode == -signal.SIGSEGV
    texted = server.scan(["exit-text"], tmp_path, env, 60)
    assert (texted.returncode, texted.stderr.strip()) == (1, "usage: checkov [-h]")
    raised = server.scan(["raise"], tmp_path, env, 60)
    assert raised.returncode == 1 and "RuntimeError: a checkov bug" in raised.stderr
    warned = server.scan(["stderr"], tmp_path, env, 60)
    assert (warned.returncode, warned.stdout, warned.stderr) == (1, "", "a warning\n")
    assert server.scan(["unknown"], tmp_path, env, 60).returncode == 3


def test_a_scan_that_hangs_is_killed_and_the_server_goes_on(server, tmp_path: Path) -> None:
    with pytest.raises(CheckovScanTimedOut):
        server.scan(["sleep", "30"], tmp_path, dict(os.environ), timeout=0.5)
    assert server.alive and server.scan(["pass"], tmp_path, dict(os.environ), 60).returncode == 0


def test_scans_from_many_threads_get_their_own_answers(server, tmp_path: Path) -> None:
    dirs = [tmp_path / f"d{i}" for i in range(8)]
    for d in dirs:
        d.mkdir()
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda d: server.scan(["pass", d.name], d, dict(os.environ), 60), dirs))
    assert [json.loads(d.stdout)["cwd"] for d in done] == [str(d) for d in dirs]
    assert [json.loads(d.stdout)["argv"][1] for d in done] == [d.name for d in dirs]


def test_a_dead_server_fails_the_scan_closed_and_is_started_again(stand_in: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    first = checkov_launch.server_for(stand_in, env)
    assert first is not None
    first.proc.kill()
    first.proc.wait()
    with pytest.raises(CheckovServerUnavailable):
        first.scan(["pass"], tmp_path, env, 60)
    second = checkov_launch.server_for(stand_in, env)
    assert second is not None and second is not first
    assert second.scan(["pass"], tmp_path, env, 60).returncode == 0
    checkov_launch.stop_servers()


def test_a_server_that_cannot_import_checkov_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = _stand_in(tmp_path, "3.3.30", importable=False)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    assert checkov_launch.server_for(binary, dict(os.environ)) is None


def test_run_checkov_refuses_another_version_without_scanning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN checkov's entry script whose package says 9.9.9 (its server would scan; the stage must not)
    binary = _stand_in(tmp_path, "9.9.9")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, binary)
    ok, summary, _, found = runner.run_checkov(runner.SavedPlan(tmp_path, tmp_path / "plan.json"))
    checkov_launch.stop_servers()
    assert not ok and found == []
    assert summary.startswith(f"checkov 9.9.9 is not the pinned {runner.pinned_version('checkov')}"), summary


def test_run_checkov_through_the_server_fails_closed_on_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the pinned version whose every scan dies of a signal (the stand-in's verb is the scan's first argument)
    binary = _stand_in(tmp_path, runner.pinned_version("checkov"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, binary)
    monkeypatch.setattr(runner, "_checkov_argv", lambda b, ws: {"code": [b, "signal"], "plan": [b, "pass"]})
    ok, summary, _, _ = runner.run_checkov(runner.SavedPlan(tmp_path, tmp_path / "plan.json"))
    checkov_launch.stop_servers()
    assert not ok and summary.startswith(f"checkov code scan crashed (exit {-signal.SIGSEGV})"), summary


@pytest.mark.checkov
def test_the_real_checkov_through_the_server_finds_what_a_fresh_process_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parity, on a stack with failing checks and an inline skip: the forked scan and a process of its own give the
    same checks with the same results (checkov orders its report by its own scheduling, so compared as sets)."""
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(
        textwrap.dedent(
            """
            resource "aws_s3_bucket" "open" {
              bucket = "x"
            }
            resource "aws_security_group" "admin" {
              name = "admin"
              ingress {
                # checkov:skip=CKV_AWS_24: bastion access
                from_port   = 22
                to_port     = 22
                protocol    = "tcp"
                cidr_blocks = ["0.0.0.0/0"]
              }
            }
            """
        )
    )
    binary = runner._checkov_binary()
    assert binary is not None, "checkov is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    argv = runner._checkov_argv(binary, runner.SavedPlan(stack, stack / "none.json"))["code"]
    server = checkov_launch.server_for(binary, env)
    assert server is not None, "checkov's entry script did not get a fork server"
    forked = server.scan(argv[1:], stack, env, 600)
    import subprocess

    fresh = subprocess.run(argv, cwd=stack, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert forked.returncode == fresh.returncode == 1

    def results(out: str) -> set[tuple[str, str, str, str]]:
        parsed = json.loads(out)
        reports = parsed if isinstance(parsed, list) else [parsed]
        return {
            (kind, c["check_id"], c["resource"], c["file_path"])
            for r in reports
            for kind in ("passed_checks", "failed_checks", "skipped_checks")
            for c in r["results"][kind]
        }

    assert results(forked.stdout) == results(fresh.stdout)
    assert ("skipped_checks", "CKV_AWS_24", "aws_security_group.admin", "/main.tf") in results(forked.stdout)
    assert any(k == "failed_checks" for k, *_ in results(forked.stdout))

    # AND the stage's reading of each is the same
    def read(out: str) -> tuple[list[str], int, int]:
        found, passed, skipped = runner.read_checkov_report("code", 1, out, "")
        return sorted(json.dumps(f, sort_keys=True) for f in found), passed, skipped

    assert read(forked.stdout) == read(fresh.stdout)


def test_server_script_imports_nothing_of_the_service() -> None:
    # checkov's virtualenv has none of the service's packages: the server must run on the standard library and checkov
    source = (REPO_ROOT / "vending" / "pipeline" / "checkov_forkserver.py").read_text()
    imported = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    allowed = {"__future__", "json", "os", "select", "sys", "threading", "traceback", "warnings", "typing"}
    assert imported <= allowed, imported


def test_an_idle_server_exits_and_the_next_scan_gets_a_new_one(stand_in: str, tmp_path: Path) -> None:
    import time

    interpreter = checkov_launch.entry_interpreter(stand_in)
    assert interpreter is not None
    idle = checkov_launch.ForkServer(interpreter, dict(os.environ), idle_seconds=0.3)
    assert idle.scan(["pass"], tmp_path, dict(os.environ), 60).returncode == 0  # busy: it stays
    deadline = time.monotonic() + 10
    while idle.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert idle.proc.poll() == 0 and not idle.alive
    idle.close()


def test_run_checkov_scans_again_on_a_new_server_when_its_server_stopped(
    stand_in: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the server run_checkov is handed has stopped (it idled out as the scans came)
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, stand_in)
    monkeypatch.setattr(runner, "_checkov_argv", lambda b, ws: {"code": [b, "pass"], "plan": [b, "pass"]})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    stopped = checkov_launch.server_for(stand_in, env)
    assert stopped is not None
    stopped.proc.kill()
    stopped.proc.wait()
    handed = iter([stopped])
    real = checkov_launch.server_for
    monkeypatch.setattr(checkov_launch, "server_for", lambda b, e: next(handed, None) or real(b, e))
    # WHEN the policy stage scans, THEN both scans ran on a new server and passed
    ok, summary, _, _ = runner.run_checkov(runner.SavedPlan(tmp_path, tmp_path / "plan.json"))
    checkov_launch.stop_servers()
    assert ok, summary
    assert summary == "checkov code: 1 passed, 0 failed, 0 inline-skipped; plan: 1 passed, 0 failed, 0 inline-skipped"


def test_where_the_interpreter_cannot_wait_on_a_pidfd_checkov_runs_as_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN checkov's interpreter without os.pidfd_open (macOS; here a sitecustomize takes it away)
    binary = _stand_in(tmp_path, runner.pinned_version("checkov"))
    (tmp_path / "site" / "sitecustomize.py").write_text("import os\ndel os.pidfd_open\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    # THEN no server is started, and the policy stage falls back to a process per scan (which still scans)
    assert checkov_launch.server_for(binary, dict(os.environ)) is None
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, binary)
    monkeypatch.setattr(runner, "_checkov_argv", lambda b, ws: {"code": [b, "pass"], "plan": [b, "pass"]})
    ok, summary, _, _ = runner.run_checkov(runner.SavedPlan(tmp_path, tmp_path / "plan.json"))
    assert ok, summary


JSONPATH_PROBE = """
import collections, importlib.util, json, sys, threading
import ply.yacc
from bc_jsonpath_ng import parse as plain
from bc_jsonpath_ng.ext import parse as extended

spec = importlib.util.spec_from_file_location("forkserver", sys.argv[1])
forkserver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(forkserver)
corpus = json.loads(sys.argv[2])
before = [[repr(plain(text)) for text in corpus["plain"]], [repr(extended(text)) for text in corpus["extended"]]]
builds = collections.Counter()
generate = ply.yacc.yacc
def counted(*args, **kwargs):
    builds[threading.current_thread().name] += 1
    return generate(*args, **kwargs)
ply.yacc.yacc = counted
patched = forkserver.reuse_jsonpath_parsers()
after = [[repr(plain(text)) for text in corpus["plain"]], [repr(extended(text)) for text in corpus["extended"]]]
def in_a_thread():
    [repr(extended(text)) for text in corpus["extended"]]
others = [threading.Thread(target=in_a_thread, name=f"other-{n}") for n in range(2)]
for thread in others:
    thread.start()
    thread.join()
print(json.dumps({"patched": patched, "same": before == after, "builds": builds}))
"""


@pytest.mark.checkov
def test_the_server_generates_each_jsonpath_parser_once_per_thread_and_parses_as_checkov_does() -> None:
    # GIVEN checkov's own interpreter and JSONPath texts of the kinds checkov's graph and checks parse
    binary = runner._checkov_binary()
    assert binary is not None, "checkov is not installed"
    interpreter = checkov_launch.entry_interpreter(binary)
    assert interpreter is not None
    corpus = {
        "plain": ["a", "a.b", "a[0].b", "a[*].b", "$.tags.Name", "a..b", "resource.aws_s3_bucket.*.bucket"],
        "extended": ["a.b", "a[?(@.b == 'c')]", "a[?b > 1 & c < 2]", "a.`len`", "a[/b]", "x.y[-1:]"],
    }
    # WHEN the server's change is applied after each text was parsed the stock way
    import subprocess

    ran = subprocess.run(
        [
            interpreter,
            "-c",
            JSONPATH_PROBE,
            str(REPO_ROOT / "vending/pipeline/checkov_forkserver.py"),
            json.dumps(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    found = json.loads(ran.stdout)
    # THEN the pinned bc_jsonpath_ng has the shape it was written for, and every text parses to the same path
    assert found["patched"] is True
    assert found["same"] is True
    # AND each grammar's parser was generated once in the main thread (13 texts), and once in each other thread
    assert found["builds"] == {"MainThread": 2, "other-0": 1, "other-1": 1}
