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
- ``init`` and ``fmt`` never attach: installing and checking the locked provider stays Terraform's.

The runner turns it on for runs against an emulator (``VEND_TF_SHARED_PROVIDER=0`` turns it off, ``1`` on anywhere).
A server that does not come up in time is not an error: the command runs with Terraform's own launches.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

SHARED_PROVIDER_ENV = "VEND_TF_SHARED_PROVIDER"
PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
START_TIMEOUT_SECONDS = 60.0
_NO_ATTACH = frozenset({"init", "fmt", "version"})
_REATTACH = re.compile(r"TF_REATTACH_PROVIDERS='(\{.*\})'")
# A provider block, the label quoted or bare: `provider "aws" {`, `provider aws {`. Comments are not stripped, so a
# commented-out block counts too: counting too many only costs the speed-up, never correctness.
_PROVIDER_BLOCK = re.compile(r'(?m)^\s*provider\s+(?:"[^"]*"|[A-Za-z_][\w-]*)\s*\{')
# The server outlives no one: the shell waits on its stdin (a pipe only this process holds), and when that closes,
# because the run ended or this process died, it stops the provider. Started in the background, the provider's own
# stdin is /dev/null, so it never holds the pipe open.
_SUPERVISOR = '"$0" -debug >"$1" 2>&1 & pid=$!; cat >/dev/null; kill "$pid" 2>/dev/null; wait "$pid"'


def sharing_setting(environ: Mapping[str, str], emulated: bool) -> bool:
    value = environ.get(SHARED_PROVIDER_ENV, "").strip()
    if value in ("0", "1"):
        return value == "1"
    return emulated


def single_provider_configuration(stack_dir: Path, data_dir: Path) -> bool:
    """True when the stack and the modules `init` installed hold at most one provider block and no JSON files."""
    blocks = 0
    for folder in {stack_dir.resolve(), *_module_dirs(stack_dir, data_dir)}:
        if any(folder.glob("*.tf.json")):
            return False
        for path in folder.glob("*.tf"):
            blocks += len(_PROVIDER_BLOCK.findall(path.read_text(encoding="utf-8", errors="replace")))
    return blocks <= 1


def _module_dirs(stack_dir: Path, data_dir: Path) -> list[Path]:
    manifest = data_dir / "modules" / "modules.json"
    if not manifest.is_file():
        return []
    modules = json.loads(manifest.read_text(encoding="utf-8")).get("Modules", [])
    return [(stack_dir / m["Dir"]).resolve() for m in modules if m.get("Dir")]


def provider_binary(data_dir: Path) -> Path | None:
    """The AWS provider `init` installed for this run (a link into the mirror or the plugin cache)."""
    found = sorted((data_dir / "providers" / PROVIDER_ADDRESS).glob("*/*/terraform-provider-aws*"))
    return found[-1] if len(found) == 1 else None


class ProviderServers:
    """The run's provider processes, one per command environment, started when a command first needs one."""

    def __init__(self, binary: Path, cwd: Path, run_dir: Path) -> None:
        self.binary = binary
        self.cwd = cwd
        self.run_dir = run_dir
        self.started: dict[frozenset[tuple[str, str]], str | None] = {}
        self._procs: list[tuple[subprocess.Popen[bytes], int | None]] = []

    def reattach(self, env: Mapping[str, str]) -> str | None:
        """The TF_REATTACH_PROVIDERS value for a command with this environment (None: let Terraform launch it)."""
        key = frozenset(env.items())
        if key not in self.started:
            self.started[key] = self._start(env, len(self.started))
        return self.started[key]

    def _start(self, env: Mapping[str, str], n: int) -> str | None:
        log = self.run_dir / f"provider-{n}.log"
        tmp = self.run_dir / f"provider-{n}.tmp"  # its plugin socket, removed with the run directory
        tmp.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            ["/bin/sh", "-c", _SUPERVISOR, str(self.binary), str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.cwd,
            env={**env, "TMPDIR": str(tmp)},
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            match = _REATTACH.search(text)
            if match:
                value = json.loads(match.group(1)).get(PROVIDER_ADDRESS)
                if isinstance(value, dict):
                    self._procs.append((proc, value.get("Pid")))
                    return json.dumps({PROVIDER_ADDRESS: value}, separators=(",", ":"))
                break
            time.sleep(0.05)
        self._stop(proc, None)
        return None

    def close(self) -> None:
        for proc, pid in self._procs:
            self._stop(proc, pid)
        self._procs.clear()

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes], pid: int | None) -> None:
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def attaches(args: tuple[str, ...]) -> bool:
    return bool(args) and args[0] not in _NO_ATTACH
