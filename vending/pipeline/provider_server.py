"""One AWS provider process per pipeline run and environment, attached to each Terraform command of the run.

Terraform starts the provider anew for every phase of every command (validate twice, plan three times, apply and
show again), and each start is a 700 MB Go binary registering every service and encoding its 13 MB schema: half of
a command's CPU. Terraform can attach to a provider that is already running instead (the provider's ``-debug`` mode
and ``TF_REATTACH_PROVIDERS``), so a run starts it once per environment.

Where that is not the same as Terraform's own launches, it is not done:

- The provider takes credentials and endpoints from its own environment, not from the Terraform command's. A server
  therefore serves exactly one environment: a command run as another role (a plan as the plan role, its apply as the
  apply role) gets a server of its own.
- A server holds one provider configuration: two of them (an aliased ``provider`` block, one in a module) would
  configure it in turn and the last would win, so one region's resources would land in another. A configuration with
  more than one ``provider`` block of any name, counted over the stack and every module Terraform installed, or with
  any ``.tf.json`` file (not read here), keeps Terraform's own launches.
- A provider process is configured by one command at most: a second configuration can fail where a fresh process
  works (with a CA bundle, terraform-provider-aws 5.x refuses it). Reading commands (validate, show) never configure,
  so a run's validate, plan and show share a process and its apply (another role) has its own. A command that
  configures twice itself (a destroy plan: once per walk) and is refused runs again without sharing. Against an
  http emulator the server goes without AWS_CA_BUNDLE (nothing to verify); elsewhere a run with one does not share.
- ``init`` and ``fmt`` never attach: installing and checking the locked provider stays Terraform's.

The runner turns it on for runs against an emulator (``VEND_TF_SHARED_PROVIDER=0`` turns it off, ``1`` on anywhere).
A server that does not come up in time is not an error: the command runs with Terraform's own launches.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vending.pipeline.validation import module_dirs

SHARED_PROVIDER_ENV = "VEND_TF_SHARED_PROVIDER"
PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
START_TIMEOUT_SECONDS = 60.0
RECONFIGURE_FAILURE = "unable to add custom RootCAs HTTPClient"
_NO_ATTACH = frozenset({"init", "fmt", "version"})
_READ_ONLY = frozenset({"validate", "show", "output", "providers", "graph"})
# The provider in -debug mode logs every RPC at trace level (megabytes a plan) unless told not to.
_QUIET = {
    name: "off"
    for name in (
        "TF_LOG",
        "TF_LOG_PROVIDER",
        "TF_LOG_SDK",
        "TF_LOG_SDK_PROTO",
        "TF_LOG_SDK_MUX",
        "TF_LOG_SDK_HELPER_SCHEMA",
        "TF_LOG_SDK_FRAMEWORK",
    )
}
_REATTACH = re.compile(r"TF_REATTACH_PROVIDERS='(\{.*\})'")
# A provider block, the label quoted or bare: `provider "aws" {`, `provider aws {`. Comments are not stripped, so a
# commented-out block counts too: counting too many only costs the speed-up, never correctness.
_PROVIDER_BLOCK = re.compile(r'(?m)^\s*provider\s+(?:"[^"]*"|[A-Za-z_][\w-]*)\s*\{')
# The server outlives no one: a watcher reads the shell's stdin (a pipe only this process writes; fd 3, because a
# background job's stdin is /dev/null) and, when it closes because the run ended or this process died, signals the
# shell, which stops the provider. Only the provider's parent signals it, so its PID cannot have been reused (an
# unreaped child keeps its PID); the shell's likewise, until this process reaps it. The shell ends with the provider,
# so a provider that fails to start is seen at once; it removes the socket's folder (wait again: a signal ends the
# first wait before the provider has exited).
_SUPERVISOR = (
    "exec 3<&0; trap 'kill \"$pid\" 2>/dev/null' TERM; "
    '"$0" -debug >"$1" 2>&1 </dev/null 3<&- & pid=$!; '
    '(cat <&3 >/dev/null; kill -TERM $$ 2>/dev/null) & exec 3<&-; wait "$pid"; wait "$pid"; rm -rf "$2"'
)


def sharing_setting(environ: Mapping[str, str], emulated: bool) -> bool:
    value = environ.get(SHARED_PROVIDER_ENV, "").strip()
    if value in ("0", "1"):
        return value == "1"
    return emulated


def single_provider_configuration(stack_dir: Path, data_dir: Path) -> bool:
    """True when the stack and the modules `init` installed hold at most one provider block and no JSON files."""
    blocks = 0
    for folder in {stack_dir.resolve(), *module_dirs(stack_dir, data_dir)}:
        if any(folder.glob("*.tf.json")):
            return False
        for path in folder.glob("*.tf"):
            blocks += len(_PROVIDER_BLOCK.findall(path.read_text(encoding="utf-8", errors="replace")))
    return blocks <= 1


def provider_binary(data_dir: Path) -> Path | None:
    """The AWS provider `init` installed for this run (a link into the mirror or the plugin cache)."""
    found = sorted((data_dir / "providers" / PROVIDER_ADDRESS).glob("*/*/terraform-provider-aws*"))
    return found[-1] if len(found) == 1 else None


@dataclass
class _Server:
    supervisor: subprocess.Popen[bytes]
    pid: int
    reattach: str
    socket_dir: Path
    configured: bool = False


class ProviderServers:
    """The run's provider processes, one per command environment, started when a command first needs one."""

    def __init__(self, binary: Path, cwd: Path, run_dir: Path) -> None:
        self.binary = binary
        self.cwd = cwd
        self.run_dir = run_dir
        self.started = 0  # servers that came up
        self.failed = 0  # servers that did not: their commands ran with Terraform's own launches
        self._current: dict[frozenset[tuple[str, str]], _Server] = {}
        self.stopped = False

    def stop_sharing(self) -> None:
        """No more servers for this run: its commands go back to Terraform's own launches."""
        self.stopped = True
        self.close()

    def reattach(self, env: Mapping[str, str], configures: bool) -> str | None:
        """The TF_REATTACH_PROVIDERS value for a command with this environment (None: let Terraform launch it). A
        configuring command finds a server some command configured already stopped (a run's commands are one at a
        time, so it is idle) and gets a fresh one."""
        provider_env = server_environment(env)
        if self.stopped or provider_env is None:
            return None
        key = frozenset(env.items())
        server = self._current.get(key)
        if server is not None and server.configured and configures:
            self._stop(self._current.pop(key))
            server = None
        if server is None:
            server = self._start(provider_env)
            if server is None:
                self.failed += 1
                return None
            self.started += 1
            self._current[key] = server
        server.configured = server.configured or configures
        return server.reattach

    def _start(self, env: Mapping[str, str]) -> _Server | None:
        n = self.started + self.failed
        log = self.run_dir / f"provider-{n}.log"
        # The plugin's unix socket goes in TMPDIR, and a socket path has at most 107 bytes: a short folder of its own.
        socket_dir = Path(tempfile.mkdtemp(prefix="vtfp-"))
        supervisor = subprocess.Popen(
            ["/bin/sh", "-c", _SUPERVISOR, str(self.binary), str(log), str(socket_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.cwd,
            env={**env, "TMPDIR": str(socket_dir)},
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and supervisor.poll() is None:
            match = _REATTACH.search(log.read_text(encoding="utf-8", errors="replace") if log.exists() else "")
            if match:
                value = json.loads(match.group(1)).get(PROVIDER_ADDRESS)
                if isinstance(value, dict) and isinstance(value.get("Pid"), int):
                    reattach = json.dumps({PROVIDER_ADDRESS: value}, separators=(",", ":"))
                    return _Server(supervisor, value["Pid"], reattach, socket_dir)
                break
            time.sleep(0.05)
        self._stop(_Server(supervisor, 0, "", socket_dir))
        return None

    def close(self) -> None:
        for server in self._current.values():
            self._stop(server)
        self._current.clear()

    @staticmethod
    def _stop(server: _Server) -> None:
        supervisor = server.supervisor
        if supervisor.stdin is not None and not supervisor.stdin.closed:
            supervisor.stdin.close()
        try:
            supervisor.wait(timeout=15)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()
            if server.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(server.pid, signal.SIGKILL)
        shutil.rmtree(server.socket_dir, ignore_errors=True)

    def pids(self) -> list[int]:
        """The provider processes serving now (for tests)."""
        return [s.pid for s in self._current.values()]


def server_environment(env: Mapping[str, str]) -> dict[str, str] | None:
    """The provider process's environment for commands run with `env`, or None when it is not to be shared.

    A CA bundle is what makes a second configuration of one process fail (above). Against an emulator every endpoint
    is plain http (AWS_ENDPOINT_URL, and each per-service one, start with http://): no TLS, so the bundle has nothing
    to verify and the server goes without it. Anywhere else, a run with a bundle keeps Terraform's own launches."""
    server = {**env, **_QUIET}
    if server.get("AWS_CA_BUNDLE"):
        endpoints = {k: v for k, v in env.items() if k.startswith("AWS_ENDPOINT_URL")}
        if "AWS_ENDPOINT_URL" not in endpoints or not all(v.startswith("http://") for v in endpoints.values()):
            return None
        del server["AWS_CA_BUNDLE"]
    return server


def failed_for_sharing(output: str) -> bool:
    """The provider's refusal of a second configuration of one process (terraform-provider-aws 5.x with a CA bundle
    from its environment, ~/.aws/config or custom_ca_bundle)."""
    return RECONFIGURE_FAILURE in " ".join(output.split())


def configures(args: tuple[str, ...]) -> bool:
    """Whether the command may configure the provider (anything but the commands that only read schemas)."""
    return bool(args) and args[0] not in _READ_ONLY


def attaches(args: tuple[str, ...]) -> bool:
    return bool(args) and args[0] not in _NO_ATTACH
