"""How the policy stage starts a checkov scan: through a fork server when the binary is checkov's own entry script, as a
fresh process otherwise.

A `checkov` process spends 2.3 of its 3 CPU seconds importing checkov, and a pipeline runs two scans (after asking
the version: a third start). A process that runs pipelines (the local worker, `vend pipeline run`, the tests) starts
one server per checkov installation instead (vending/pipeline/checkov_forkserver.py, run by that installation's own
interpreter): it imports checkov once and forks a child per scan, which runs exactly what `checkov <argv>` runs. The
server also says which checkov it imported, so the version is checked without a start of its own.

Any other binary (a wrapper, a shim, a fake in a test) is started as before; so is checkov when its server cannot start.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from vending.exceptions import CheckovScanTimedOut, CheckovServerUnavailable

SERVER_SCRIPT = Path(__file__).with_name("checkov_forkserver.py")
# A server with no scan for this long exits (each distinct environment gets its own server: a test process that
# changes its environment between modules would otherwise keep one, 180 MB, per module).
IDLE_SECONDS = 300.0
# What checkov's console script says (pip writes it): `from checkov.main import Checkov` ... `Checkov().run()`.
_ENTRY_MARKERS = (b"from checkov.main import Checkov", b"Checkov().run()")


@dataclass(frozen=True)
class ScanOutput:
    returncode: int
    stdout: str
    stderr: str


def entry_interpreter(binary: str) -> str | None:
    """The Python that runs `binary` when it is checkov's own console script (its `#!` line), else None."""
    try:
        with open(binary, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    first, _, rest = head.partition(b"\n")
    if not first.startswith(b"#!") or not all(marker in rest for marker in _ENTRY_MARKERS):
        return None
    interpreter = first[2:].strip().decode(errors="replace")
    return interpreter if " " not in interpreter and os.access(interpreter, os.X_OK) else None


class ForkServer:
    """One checkov fork server (one installation, one environment): scans from any thread."""

    def __init__(
        self, interpreter: str, env: Mapping[str, str], start_timeout: float = 120.0, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        # The server's own stderr (why it did not start, if it did not); kept for the server's life.
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [interpreter, str(SERVER_SCRIPT), str(idle_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env=dict(env),
            start_new_session=True,  # a Ctrl-C of the service is not a KeyboardInterrupt in every scan
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # pipes asked for above
        self._stdin: IO[bytes] = self.proc.stdin
        self._lock = threading.Lock()
        self._answers: dict[int, dict[str, Any]] = {}
        self._changed = threading.Condition(self._lock)
        self._next_id = 0
        self._abandoned: set[int] = set()  # scans that timed out: their late answers are dropped
        self._gone = False
        self.version = self._ready(self.proc.stdout, start_timeout)
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True, name="checkov-forkserver").start()

    def _ready(self, stdout: IO[bytes], timeout: float) -> str:
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        try:
            version = json.loads(line[0])["ready"] if line and line[0] else None
        except (ValueError, KeyError, TypeError):
            version = None
        if not isinstance(version, str):
            self._stop()
            self._errors.seek(0)
            why = self._errors.read().decode(errors="replace")[-300:]
            self._errors.close()
            raise CheckovServerUnavailable(f"checkov fork server did not start: {why.strip() or 'no answer'}")
        return version

    def _read(self, stdout: IO[bytes]) -> None:
        for raw in stdout:
            message = json.loads(raw)
            with self._changed:
                if message["id"] in self._abandoned:  # timed out before this answer
                    if "pid" in message:
                        _kill(message["pid"])
                    if "rc" in message:
                        self._abandoned.discard(message["id"])
                    continue
                self._answers.setdefault(message["id"], {}).update(message)
                self._changed.notify_all()
        with self._changed:
            self._gone = True
            self._changed.notify_all()

    @property
    def alive(self) -> bool:
        return not self._gone and self.proc.poll() is None

    def scan(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> ScanOutput:
        with tempfile.TemporaryDirectory(prefix="vend-checkov-") as scratch:
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            with self._changed:
                if self._gone:
                    raise CheckovServerUnavailable("checkov fork server has stopped")
                request_id = self._next_id
                self._next_id += 1
                request = {"id": request_id, "argv": list(argv), "cwd": str(cwd), "env": dict(env)}
                try:
                    self._stdin.write((json.dumps({**request, "out": str(out), "err": str(err)}) + "\n").encode())
                    self._stdin.flush()
                except (OSError, ValueError) as e:  # the server died before its answers ended
                    self._gone = True
                    raise CheckovServerUnavailable(f"checkov fork server has stopped: {e}") from e
                finished = self._changed.wait_for(
                    lambda: "rc" in self._answers.get(request_id, {}) or self._gone, timeout
                )
                answer = self._answers.pop(request_id, {})
                if not finished:
                    self._abandoned.add(request_id)
            if not finished:
                if "pid" in answer:
                    _kill(answer["pid"])
                raise CheckovScanTimedOut(f"timed out after {timeout}s")
            if "rc" not in answer:
                raise CheckovServerUnavailable("checkov fork server stopped during the scan")
            return ScanOutput(answer["rc"], _read(out), _read(err))

    def close(self) -> None:
        self._stop()
        self._errors.close()

    def _stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


_SERVERS: dict[tuple[str, tuple[int, int, int], frozenset[tuple[str, str]]], ForkServer] = {}
_SERVERS_LOCK = threading.Lock()


def server_for(binary: str, env: Mapping[str, str]) -> ForkServer | None:
    """The running fork server for this checkov installation and environment (started on first use), or None when
    `binary` is not checkov's own entry script or its server will not start (the caller starts processes instead).
    A reinstalled checkov (another file behind the same path) gets a new server."""
    interpreter = entry_interpreter(binary)
    if interpreter is None:
        return None
    try:
        st = os.stat(binary)
    except OSError:
        return None
    key = (os.path.realpath(binary), (st.st_ino, st.st_mtime_ns, st.st_size), frozenset(env.items()))
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is not None and server.alive:
            return server
        try:
            server = ForkServer(interpreter, env)
        except (OSError, CheckovServerUnavailable):
            return None
        _SERVERS[key] = server
        return server


@atexit.register
def stop_servers() -> None:
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
        server.close()
