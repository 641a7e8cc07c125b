"""The shared provider process (vending.pipeline.provider_server): when a run may share one, that Terraform's commands
really go through it, one per environment, and that it never outlives its run or its parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vending.pipeline import provider_server as ps
from vending.pipeline import terraform as tf

_terraform_ready = tf.unavailable_reason

ONE_PROVIDER = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
}
variable "name" { default = "x" }
output "name" { value = var.name }
"""
WEST = """
provider "aws" {
  alias  = "west"
  region = "us-west-2"
}
"""
ALIASED = ONE_PROVIDER + WEST
WITH_CA_BUNDLE = ONE_PROVIDER.replace(
    'region                      = "us-east-1"',
    'region                      = "us-east-1"\n  custom_ca_bundle            = "/etc/ssl/certs/ca-certificates.crt"',
)
BUCKET = """
resource "aws_s3_bucket" "b" {
  bucket = "b"
}
"""


def _stack(root: Path, main: str, modules: dict[str, str] | None = None) -> Path:
    stack = root / "stack"
    stack.mkdir(parents=True)
    (stack / "main.tf").write_text(main, encoding="utf-8")
    for name, text in (modules or {}).items():
        (root / name).mkdir()
        (root / name / "main.tf").write_text(text, encoding="utf-8")
    return stack


def _installed(stack: Path, data_dir: Path, modules: list[str]) -> None:
    """What `init` leaves: the module manifest, with Dir relative to the stack."""
    (data_dir / "modules").mkdir(parents=True)
    entries = [{"Key": "", "Source": "", "Dir": "."}] + [
        {"Key": m, "Source": f"../{m}", "Dir": f"../{m}"} for m in modules
    ]
    (data_dir / "modules" / "modules.json").write_text(json.dumps({"Modules": entries}), encoding="utf-8")


@pytest.mark.parametrize(
    ("main", "modules", "single"),
    [
        (ONE_PROVIDER, {}, True),
        ('variable "x" {}\n', {}, True),  # no block at all: Terraform's one default configuration
        (ALIASED, {}, False),
        (ONE_PROVIDER, {"mod": 'provider "aws" {\n  region = "eu-west-1"\n}\n'}, False),  # a module's own block
        (ONE_PROVIDER.replace('provider "aws" {', "provider aws {"), {"mod": "provider aws {}\n"}, False),
        (ONE_PROVIDER, {"mod": 'provider "amazon" {\n}\n'}, False),  # another local name counts too
        (ONE_PROVIDER, {"mod": 'resource "aws_s3_bucket" "b" {\n  bucket = "provider"\n}\n'}, True),
    ],
    ids=["one", "none", "aliased", "module-block", "bare-labels", "other-local-name", "module-without-block"],
)
def test_single_provider_configuration_counts_blocks_over_the_stack_and_its_modules(tmp_path, main, modules, single):
    stack = _stack(tmp_path, main, modules)
    data_dir = tmp_path / "data"
    _installed(stack, data_dir, list(modules))
    assert ps.single_provider_configuration(stack, data_dir) is single


def test_single_provider_configuration_refuses_json_configuration(tmp_path):
    stack = _stack(tmp_path, ONE_PROVIDER)
    (stack / "more.tf.json").write_text('{"provider": {"aws": [{"alias": "west"}]}}', encoding="utf-8")
    assert ps.single_provider_configuration(stack, tmp_path / "data") is False


def test_a_module_not_in_the_manifest_is_not_read(tmp_path):
    stack = _stack(tmp_path, ONE_PROVIDER, {"mod": 'provider "aws" {}\n'})
    _installed(stack, tmp_path / "data", [])
    assert ps.single_provider_configuration(stack, tmp_path / "data") is True
    _installed_again = tmp_path / "data2"
    _installed(stack, _installed_again, ["mod"])
    assert ps.single_provider_configuration(stack, _installed_again) is False


@pytest.mark.parametrize(
    ("value", "emulated", "on"),
    [("", True, True), ("", False, False), ("0", True, False), ("1", False, True), ("yes", False, False)],
)
def test_sharing_setting(value, emulated, on):
    assert ps.sharing_setting({ps.SHARED_PROVIDER_ENV: value} if value else {}, emulated) is on


def test_attaches_everything_but_init_fmt_and_version():
    assert [ps.attaches(a) for a in [("init",), ("fmt", "-check"), ("version",), ("plan",), ("show",), ()]] == [
        False,
        False,
        False,
        True,
        True,
        False,
    ]


# Real Terraform and the real provider from here on.
def needs_terraform(test):
    skip = pytest.mark.skipif(_terraform_ready() is not None, reason=f"Terraform not usable: {_terraform_ready()}")
    return pytest.mark.terraform(skip(test))


def _workspace(tmp_path: Path, main: str, share: bool) -> tf.TerraformWorkspace:
    stack = _stack(tmp_path, main)
    env = {"AWS_ACCESS_KEY_ID": "role-a", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"}
    ws = tf.TerraformWorkspace(stack_dir=stack, extra_env=env, run_dir=tmp_path / "run", share_provider=share)
    assert ws.run("init", "-input=false", "-no-color").ok
    return ws


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def _servers(ws: tf.TerraformWorkspace) -> ps.ProviderServers:
    assert ws._servers is not None
    return ws._servers


@needs_terraform
def test_commands_go_through_one_server_per_environment_and_fail_without_it(tmp_path):
    # A long run directory, as pytest's under xdist: the server's socket must not live under it (107-byte limit).
    ws = _workspace(tmp_path / ("deep" * 12), ONE_PROVIDER, share=True)
    try:
        assert ws.run("validate", "-no-color").ok
        assert ws.run("validate", "-no-color").ok
        assert ws.provider_servers_started == 1  # two commands, one process
        as_b = {"AWS_ACCESS_KEY_ID": "role-b", "AWS_SECRET_ACCESS_KEY": "s"}
        assert ws.run("validate", "-no-color", credentials=as_b).ok
        assert ws.provider_servers_started == 2  # other credentials: a process with those in its environment
        assert _servers(ws).failed == 0
        # The negative control: with the servers gone, the same command fails, so it was attached, not launched anew.
        for pid in _servers(ws).pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        failed = ws.run("validate", "-no-color")
        assert not failed.ok
        assert "Reattachment process not found" in " ".join(failed.tail.split())
    finally:
        ws.cleanup()


@needs_terraform
def test_a_server_is_configured_by_one_command_at_most_and_a_refused_command_runs_again(tmp_path):
    # GIVEN a provider that trusts a CA bundle: the AWS provider cannot be configured twice in one process
    ws = _workspace(tmp_path, WITH_CA_BUNDLE + BUCKET, share=True)
    try:
        # WHEN validate, plan, show, and a second plan run
        assert ws.run("validate", "-no-color").ok
        plan = ws.run("plan", "-refresh=false", "-no-color", f"-out={ws.plan_file}")
        assert plan.ok, plan.tail
        assert ws.run("show", "-json", str(ws.plan_file)).ok
        assert ws.provider_servers_started == 1  # the readers share the one configuring command's process
        again = ws.run("plan", "-refresh=false", "-no-color")
        # THEN the second configuring command gets a fresh process and works
        assert again.ok, again.tail
        assert ws.provider_servers_started == 2
        # AND (control) the process that second plan configured, configured again, fails: what the rule keeps away
        (server,) = _servers(ws)._current.values()
        twice = subprocess.run(
            [ws.binary, "plan", "-refresh=false", "-no-color"],
            cwd=ws.stack_dir,
            env={**ws.env, "TF_REATTACH_PROVIDERS": server.reattach},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert twice.returncode != 0 and ps.failed_for_sharing(twice.stdout + twice.stderr), twice.stderr
        assert _alive(server.pid)
        # AND a command refused that way anyhow (a destroy plan configures once per walk; here: the rule bypassed)
        # runs again on its own and works, and the run shares no more
        server.configured = False
        third = ws.run("plan", "-refresh=false", "-no-color")
        assert third.ok, third.tail
        assert _servers(ws).stopped and _servers(ws).pids() == [] and not _alive(server.pid)
        assert _servers(ws).reattach(ws.env, configures=False) is None
    finally:
        ws.cleanup()


@pytest.mark.parametrize(
    ("env", "kept"),
    [
        ({}, True),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, True),
        ({"AWS_CA_BUNDLE": "/ca.pem", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, "without the bundle"),
        ({"AWS_CA_BUNDLE": "/ca.pem", "AWS_ENDPOINT_URL": "https://127.0.0.1:5000"}, False),
        ({"AWS_CA_BUNDLE": "/ca.pem"}, False),  # real AWS: TLS
        (
            {"AWS_CA_BUNDLE": "/ca.pem", "AWS_ENDPOINT_URL": "http://e", "AWS_ENDPOINT_URL_STS": "https://sts"},
            False,
        ),
    ],
    ids=["plain", "emulator", "emulator-with-bundle", "tls-emulator", "aws", "one-https-service"],
)
def test_server_environment(env, kept):
    server = ps.server_environment(env)
    if kept is False:
        assert server is None
        return
    assert server is not None
    assert server["TF_LOG_PROVIDER"] == "off" and server["TF_LOG_SDK_PROTO"] == "off"
    assert {k: v for k, v in server.items() if not k.startswith("TF_LOG")} == {
        k: v for k, v in env.items() if kept is True or k != "AWS_CA_BUNDLE"
    }


@needs_terraform
@pytest.mark.parametrize(("main", "share"), [(ALIASED, True), (ONE_PROVIDER, False)], ids=["aliased", "off"])
def test_no_server_for_two_configurations_or_when_off(tmp_path, main, share):
    ws = _workspace(tmp_path, main, share=share)
    try:
        assert ws._provider_servers() is None  # decided at the first command after init: Terraform's own launches
    finally:
        ws.cleanup()


@needs_terraform
def test_cleanup_stops_the_server_and_a_dead_parent_takes_it_along(tmp_path):
    ws = _workspace(tmp_path / "a", ONE_PROVIDER, share=True)
    assert ws.run("validate", "-no-color").ok
    (pid,) = _servers(ws).pids()
    binary = _servers(ws).binary.resolve()  # the mirror's file (the run's link goes with the run)
    assert _alive(pid)
    ws.cleanup()
    assert not _alive(pid)
    assert not ws.run_dir.exists()

    # A parent killed outright: nothing runs cleanup, the supervisor sees its stdin close and stops the provider.
    child = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from vending.pipeline import provider_server as ps
        servers = ps.ProviderServers(Path({str(binary)!r}), Path({str(tmp_path)!r}), Path({str(tmp_path)!r}))
        assert servers.reattach({{"PATH": os.environ["PATH"]}}, configures=False)
        server = next(iter(servers._current.values()))
        print(server.socket_dir, flush=True)
        print(server.pid, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == -9, out.stderr
    folder, orphan_pid = out.stdout.strip().splitlines()[-2:]
    orphan = int(orphan_pid)
    socket_dir = Path(folder)
    assert socket_dir.name.startswith("vtfp-")

    deadline = time.monotonic() + 15
    while _alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(orphan)
    # AND its socket's folder goes with it (nothing of the dead parent's is left in the temporary directory)
    deadline = time.monotonic() + 5
    while socket_dir.is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not socket_dir.is_dir()


@needs_terraform
def test_a_provider_that_cannot_start_leaves_the_command_to_terraform(tmp_path):
    # GIVEN a "provider" that exits at once
    ws = _workspace(tmp_path, ONE_PROVIDER, share=True)
    try:
        servers = ws._provider_servers()
        assert servers is not None
        servers.binary = Path("/bin/false")
        started = time.monotonic()
        # WHEN a command asks for a server THEN none (the command runs with Terraform's own launch), at once: no wait
        # for the start timeout
        assert servers.reattach(ws.env, configures=True) is None
        assert time.monotonic() - started < ps.START_TIMEOUT_SECONDS / 2
        assert (servers.started, servers.failed) == (0, 1)
    finally:
        ws.cleanup()
