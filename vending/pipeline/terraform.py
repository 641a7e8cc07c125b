"""The Terraform CLI as a child process: where the provider comes from, and one isolated run directory per stack.

The provider mirror is a setting, never a path in code:

1. ``VEND_TF_PROVIDER_MIRROR`` names a directory in the *unpacked* mirror layout
   (``<dir>/registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/``). The runner then writes its own CLI
   configuration (``provider_installation { filesystem_mirror { ... } }`` with no ``direct`` block, so nothing is
   ever fetched from a registry) and hands it to Terraform through ``TF_CLI_CONFIG_FILE``.
2. Otherwise an existing file named by ``TF_CLI_CONFIG_FILE`` is honoured as it is (one that names a missing file
   is a broken setting: :class:`~vending.exceptions.TerraformUnavailable` says so).
3. Otherwise Terraform installs providers the normal way (the registry, checked against the committed lock files):
   what CodeBuild and GitHub Actions do. The mirror is an option for offline machines, never a requirement.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vending.exceptions import TerraformUnavailable
from vending.pipeline import provider_server

MIRROR_ENV = "VEND_TF_PROVIDER_MIRROR"
PLUGIN_CACHE_ENV = "VEND_TF_PLUGIN_CACHE_DIR"
TERRAFORM_BIN_ENV = "VEND_TERRAFORM_BIN"
OUTPUT_TAIL_CHARS = 4000

# Variables of the calling process that must never leak into Terraform: they would override what the runner sets
# (an ambient TF_DATA_DIR would make two stacks share .terraform/; ambient AWS profiles would beat the assumed role).
_SCRUBBED_PREFIXES = ("TF_", "AWS_")
# Terraform and the AWS provider are short Go processes that spend a third of their CPU collecting a heap they are
# about to drop (the provider's schema is decoded on every command). Collecting at 400 % growth instead of 100 %: a
# command's CPU down by a sixth to a quarter (the three LLM templates' 27 commands: 100 -> 82 CPU s), its peak memory up
# by a third (schema load: 400 -> 530 MB). An explicit GOGC in the environment is kept.
GO_GC_PERCENT = "400"
# What a command run as another role replaces (vending.aws.sessions.session_env makes these).
CREDENTIAL_KEYS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"})


@dataclass(frozen=True)
class CliConfig:
    """Where Terraform's CLI configuration comes from and how it was chosen (for messages and the report)."""

    path: Path | None  # None: Terraform's default provider installation
    source: str  # "VEND_TF_PROVIDER_MIRROR", "TF_CLI_CONFIG_FILE" or "default"
    mirror: Path | None = None


def render_cli_config(mirror: Path, plugin_cache: Path | None = None) -> str:
    """A CLI configuration that installs providers only from the unpacked mirror (no `direct`: never the registry)."""
    lines = [
        "provider_installation {",
        "  filesystem_mirror {",
        f"    path    = {_hcl_string(str(mirror))}",
        '    include = ["registry.terraform.io/*/*"]',
        "  }",
        "}",
    ]
    if plugin_cache is not None:
        lines.append(f"plugin_cache_dir = {_hcl_string(str(plugin_cache))}")
    return "\n".join(lines) + "\n"


def _hcl_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plugin_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Opt-in. From an unpacked mirror Terraform links the provider straight into the run's data dir (nothing is
    copied), so no cache is needed; a shared cache would even race: an init re-links the cache entry while another
    run reads through it. Set VEND_TF_PLUGIN_CACHE_DIR for CLI configurations that copy (packed or network mirrors)."""
    environ = os.environ if environ is None else environ
    value = environ.get(PLUGIN_CACHE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def unavailable_reason(environ: Mapping[str, str] | None = None) -> str | None:
    """Why Terraform cannot run here (no CLI, a broken mirror setting), or None when it can: what tests skip with."""
    try:
        terraform_binary(environ)
        with tempfile.TemporaryDirectory() as scratch:
            resolve_cli_config(Path(scratch), environ)
    except TerraformUnavailable as e:
        return str(e)
    return None


def resolve_cli_config(work_dir: Path, environ: Mapping[str, str] | None = None) -> CliConfig:
    """Decide which CLI configuration Terraform gets; write our own into `work_dir` when the mirror is set."""
    environ = os.environ if environ is None else environ
    mirror_value = environ.get(MIRROR_ENV, "").strip()
    if mirror_value:
        mirror = Path(mirror_value).expanduser()
        if not mirror.is_dir():
            raise TerraformUnavailable(
                f"{MIRROR_ENV}={mirror_value!r} is not a directory (expected the unpacked "
                "mirror layout: <dir>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/)"
            )
        if not (mirror / "registry.terraform.io").is_dir():
            raise TerraformUnavailable(
                f"{MIRROR_ENV}={mirror_value!r} has no registry.terraform.io/ folder: "
                "point it at the root of an unpacked provider mirror"
            )
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / "terraform.tfrc"
        path.write_text(render_cli_config(mirror.resolve(), plugin_cache_dir(environ)), encoding="utf-8")
        return CliConfig(path=path, source=MIRROR_ENV, mirror=mirror.resolve())
    existing = environ.get("TF_CLI_CONFIG_FILE", "").strip()
    if existing and Path(existing).expanduser().is_file():
        return CliConfig(path=Path(existing).expanduser(), source="TF_CLI_CONFIG_FILE")
    if existing:
        raise TerraformUnavailable(
            f"TF_CLI_CONFIG_FILE={existing!r} does not exist: point it at an existing CLI "
            f"configuration, set {MIRROR_ENV} to an unpacked provider mirror, or unset both "
            "to install providers from the registry"
        )
    return CliConfig(path=None, source="default")


def terraform_binary(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    found = shutil.which(environ.get(TERRAFORM_BIN_ENV) or "terraform")
    if not found:
        raise TerraformUnavailable(
            f"the Terraform CLI is not on PATH (install Terraform >= 1.10 or set {TERRAFORM_BIN_ENV} to its path)"
        )
    return found


@dataclass
class CommandResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def tail(self) -> str:
        combined = (self.stdout + ("\n" + self.stderr if self.stderr else "")).strip()
        return combined[-OUTPUT_TAIL_CHARS:]


@dataclass
class TerraformWorkspace:
    """One run of one stack: its own TF_DATA_DIR, CLI config, plan file and a scrubbed environment."""

    stack_dir: Path
    extra_env: Mapping[str, str]
    run_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vend-tf-")))
    environ: Mapping[str, str] | None = None
    timeout_seconds: float = 1800.0
    # One provider process per environment for the run's commands (vending.pipeline.provider_server says when).
    share_provider: bool = False

    def __post_init__(self) -> None:
        self._servers: provider_server.ProviderServers | None = None
        self._sharing_decided = False
        base = os.environ if self.environ is None else self.environ
        try:
            self.binary = terraform_binary(base)
            self.cli_config = resolve_cli_config(self.run_dir, base)
        except TerraformUnavailable:
            self.cleanup()
            raise
        cache = plugin_cache_dir(base)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
        self.plugin_cache = cache
        env = {k: v for k, v in base.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env.update(self.extra_env)
        if self.cli_config.path is not None:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config.path)
        env.update(
            {
                "TF_DATA_DIR": str(self.data_dir),
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "NO_COLOR": "1",
                "CHECKPOINT_DISABLE": "1",
            }
        )
        if cache is not None:
            env["TF_PLUGIN_CACHE_DIR"] = str(cache)
        env.setdefault("GOGC", GO_GC_PERCENT)
        self.env = env

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def plan_file(self) -> Path:
        return self.run_dir / "stack.tfplan"

    @property
    def plan_json_file(self) -> Path:
        return self.run_dir / "plan.json"

    def run(
        self, *args: str, check_args: Sequence[str] = (), credentials: Mapping[str, str] | None = None
    ) -> CommandResult:
        """Run one Terraform command; `credentials` (AWS_* variables) replace the workspace's for this command only,
        so a plan and the apply of that plan can run as different roles."""
        argv = [self.binary, *args, *check_args]
        env = self.env
        if credentials is not None:
            env = {k: v for k, v in self.env.items() if k not in CREDENTIAL_KEYS}
            env.update(credentials)
        servers = self._provider_servers() if provider_server.attaches(args) else None
        reattach = servers.reattach(env, provider_server.configures(args)) if servers is not None else None
        if reattach is None:
            return self._exec(argv, args, env)
        result = self._exec(argv, args, {**env, "TF_REATTACH_PROVIDERS": reattach})
        if servers is not None and provider_server.failed_for_sharing(result.stdout + result.stderr):
            # A provider process configured a second time (a destroy plan configures once per walk) refuses as that
            # walk starts, before it reads or writes anything; an earlier walk of the command only planned. So the
            # same command again, with Terraform's own launches, and no more sharing in this run.
            servers.stop_sharing()
            result = self._exec(argv, args, env)
        return result

    def _exec(self, argv: list[str], args: tuple[str, ...], env: Mapping[str, str]) -> CommandResult:
        started = time.monotonic()
        try:
            # The plugin cache is not safe for concurrent writers
            # (https://developer.hashicorp.com/terraform/cli/config/config-file#provider-plugin-cache), so inits
            # that may populate it take turns; everything else runs in parallel.
            serialise = self.plugin_cache is not None and args[:1] == ("init",)
            with _cache_lock(self.plugin_cache) if serialise else contextlib.nullcontext():  # type: ignore[arg-type]
                proc = subprocess.run(
                    argv,
                    cwd=self.stack_dir,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout_seconds,
                    check=False,
                )
        except subprocess.TimeoutExpired as e:
            return CommandResult(
                argv,
                124,
                _text(e.stdout),
                _text(e.stderr) + f"\ntimed out after {e.timeout}s",
                time.monotonic() - started,
            )
        return CommandResult(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def _provider_servers(self) -> provider_server.ProviderServers | None:
        """Decided once, at the first command after init: the configuration and installed provider are known then."""
        if not self._sharing_decided and (self.data_dir / "providers").is_dir():
            self._sharing_decided = True
            binary = provider_server.provider_binary(self.data_dir)
            if (
                self.share_provider
                and binary is not None
                and provider_server.single_provider_configuration(self.stack_dir, self.data_dir)
            ):
                self._servers = provider_server.ProviderServers(binary, self.stack_dir, self.run_dir)
        return self._servers

    @property
    def provider_servers_started(self) -> int:
        """How many provider processes this run started itself (0: Terraform launched its own every time)."""
        return 0 if self._servers is None else self._servers.started

    def cleanup(self) -> None:
        if self._servers is not None:
            self._servers.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)


@contextlib.contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    with open(cache / ".vend-init.lock", "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
