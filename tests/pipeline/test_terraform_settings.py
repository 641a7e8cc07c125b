"""Where the Terraform provider comes from: the mirror setting, TF_CLI_CONFIG_FILE, or the registry by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from vending.exceptions import TerraformUnavailable
from vending.pipeline import terraform as tf


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    (root / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64").mkdir(parents=True)
    return root


def test_resolve_cli_config_mirror_env_writes_filesystem_mirror_only(tmp_path, mirror):
    # GIVEN VEND_TF_PROVIDER_MIRROR pointing at an unpacked mirror (and a stale TF_CLI_CONFIG_FILE)
    env = {
        tf.MIRROR_ENV: str(mirror),
        "TF_CLI_CONFIG_FILE": "/nonexistent.tfrc",
        tf.PLUGIN_CACHE_ENV: str(tmp_path / "cache"),
    }
    # WHEN the CLI config is resolved
    cfg = tf.resolve_cli_config(tmp_path / "run", env)
    # THEN the runner wrote its own config: a filesystem mirror, no direct installation, the plugin cache
    text = cfg.path.read_text()
    assert cfg.source == tf.MIRROR_ENV and cfg.path.parent == tmp_path / "run"
    assert "filesystem_mirror" in text and str(mirror.resolve()) in text
    assert "direct" not in text
    assert f'plugin_cache_dir = "{tmp_path / "cache"}"' in text


def test_resolve_cli_config_without_cache_setting_links_from_the_mirror(tmp_path, mirror):
    # GIVEN only the mirror setting (the default)
    env = {tf.MIRROR_ENV: str(mirror)}
    # WHEN the CLI config and a workspace are made
    cfg = tf.resolve_cli_config(tmp_path / "run", env)
    ws = tf.TerraformWorkspace(stack_dir=tmp_path, extra_env={}, run_dir=tmp_path / "ws", environ=env)
    # THEN no shared plugin cache is used: Terraform links the unpacked mirror into each run's own data dir,
    # so concurrent runs never re-link an entry another run is reading
    assert "plugin_cache_dir" not in cfg.path.read_text()
    assert "TF_PLUGIN_CACHE_DIR" not in ws.env and ws.plugin_cache is None


def test_resolve_cli_config_existing_tf_cli_config_file_is_honoured(tmp_path):
    # GIVEN no mirror setting but an existing TF_CLI_CONFIG_FILE
    existing = tmp_path / "mine.tfrc"
    existing.write_text("provider_installation {}\n")
    # WHEN resolved, THEN that file is used as it is
    cfg = tf.resolve_cli_config(tmp_path / "run", {"TF_CLI_CONFIG_FILE": str(existing)})
    assert (cfg.path, cfg.source) == (existing, "TF_CLI_CONFIG_FILE")
    assert not (tmp_path / "run").exists()


def test_resolve_cli_config_missing_tf_cli_config_file_names_the_settings(tmp_path):
    # GIVEN TF_CLI_CONFIG_FILE naming a missing file and no mirror setting (a broken setting, not "no setting")
    # WHEN resolved, THEN the error names the missing file and the variables to set
    with pytest.raises(TerraformUnavailable, match=tf.MIRROR_ENV) as err:
        tf.resolve_cli_config(tmp_path, {"TF_CLI_CONFIG_FILE": "/does/not/exist.tfrc"})
    assert "/does/not/exist.tfrc" in str(err.value)


def test_resolve_cli_config_nothing_set_uses_terraforms_default_installation(tmp_path):
    # GIVEN neither a mirror setting nor TF_CLI_CONFIG_FILE (CodeBuild, GitHub Actions)
    env = {"PATH": "/usr/bin", "TF_LOG": "TRACE"}
    # WHEN the CLI config and a workspace are made
    cfg = tf.resolve_cli_config(tmp_path / "run", env)
    ws = tf.TerraformWorkspace(
        stack_dir=tmp_path, extra_env={}, run_dir=tmp_path / "ws", environ={**env, tf.TERRAFORM_BIN_ENV: "/bin/true"}
    )
    # THEN no CLI configuration is written or passed: Terraform installs providers from the registry as usual
    assert (cfg.path, cfg.source) == (None, "default")
    assert not (tmp_path / "run").exists()
    assert "TF_CLI_CONFIG_FILE" not in ws.env and "TF_LOG" not in ws.env
    assert tf.unavailable_reason({**env, tf.TERRAFORM_BIN_ENV: "/bin/true"}) is None


def test_resolve_cli_config_mirror_not_a_mirror_is_rejected(tmp_path):
    # GIVEN a mirror setting pointing at a folder without registry.terraform.io/
    (tmp_path / "empty").mkdir()
    # WHEN resolved, THEN the error explains the expected layout
    with pytest.raises(TerraformUnavailable, match=r"registry\.terraform\.io"):
        tf.resolve_cli_config(tmp_path / "run", {tf.MIRROR_ENV: str(tmp_path / "empty")})
    with pytest.raises(TerraformUnavailable, match="not a directory"):
        tf.resolve_cli_config(tmp_path / "run", {tf.MIRROR_ENV: str(tmp_path / "missing")})


def test_terraform_binary_absent_is_terraform_unavailable():
    # GIVEN a PATH-less lookup for a binary that does not exist
    # WHEN the binary is resolved, THEN TerraformUnavailable says so
    with pytest.raises(TerraformUnavailable, match="Terraform CLI"):
        tf.terraform_binary({tf.TERRAFORM_BIN_ENV: "/nonexistent/terraform"})


def test_workspace_env_isolates_each_run(tmp_path, mirror, monkeypatch):
    # GIVEN a mirror, a fake terraform binary and ambient TF_/AWS_ variables that must not leak
    fake = tmp_path / "terraform"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    environ = {
        "PATH": "/usr/bin:/bin",
        tf.MIRROR_ENV: str(mirror),
        tf.TERRAFORM_BIN_ENV: str(fake),
        tf.PLUGIN_CACHE_ENV: str(tmp_path / "cache"),
        "TF_DATA_DIR": "/shared/.terraform",
        "AWS_PROFILE": "platform-admin",
    }
    # WHEN two workspaces are made for two stacks
    a = tf.TerraformWorkspace(
        stack_dir=tmp_path, extra_env={"AWS_ACCESS_KEY_ID": "ASIA1"}, environ=environ, run_dir=tmp_path / "a"
    )
    b = tf.TerraformWorkspace(stack_dir=tmp_path, extra_env={}, environ=environ, run_dir=tmp_path / "b")
    # THEN each has its own data dir and CLI config, shares the plugin cache, and ambient AWS_/TF_ are dropped
    assert a.env["TF_DATA_DIR"] != b.env["TF_DATA_DIR"]
    assert a.env["TF_CLI_CONFIG_FILE"] != b.env["TF_CLI_CONFIG_FILE"]
    assert a.env["TF_PLUGIN_CACHE_DIR"] == b.env["TF_PLUGIN_CACHE_DIR"] == str(tmp_path / "cache")
    assert a.env["TF_IN_AUTOMATION"] == "1" and a.env["AWS_ACCESS_KEY_ID"] == "ASIA1"
    assert "AWS_PROFILE" not in a.env
    assert a.run("version").ok


def test_workspace_collects_garbage_less_often_unless_told(tmp_path):
    # GIVEN no GOGC in the environment, THEN Terraform and the provider run with GOGC=400 (a sixth to a quarter less
    # CPU per command, vending/pipeline/terraform.py)
    base = {"PATH": "/usr/bin", tf.TERRAFORM_BIN_ENV: "/bin/true"}
    ws = tf.TerraformWorkspace(stack_dir=tmp_path, extra_env={}, run_dir=tmp_path / "a", environ=base)
    assert ws.env["GOGC"] == tf.GO_GC_PERCENT == "400"
    # AND a GOGC the operator set is theirs (off, or a lower figure on a small machine)
    told = tf.TerraformWorkspace(
        stack_dir=tmp_path, extra_env={}, run_dir=tmp_path / "b", environ={**base, "GOGC": "50"}
    )
    assert told.env["GOGC"] == "50"
