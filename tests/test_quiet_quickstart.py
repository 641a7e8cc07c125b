"""The quickstart prints only what a person should read: no Terraform "Unable to open CLI configuration file" box from
an inherited TF_CLI_CONFIG_FILE naming a missing file (setup's version check, the runner), and no powertools "No
application metrics to publish" (tests/vending/handlers/test_start_from_event.py turns that one into an error)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vending.pipeline import terraform as tf
from vending.settings import REPO_ROOT

TERRAFORM_WARNING = "Unable to open CLI configuration file"
MIRROR = os.environ.get("VEND_TF_PROVIDER_MIRROR", "")


@pytest.fixture
def broken_cli_config(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine whose TF_CLI_CONFIG_FILE names a file that does not exist, with the mirror set."""
    assert MIRROR, "source .vend/env first: VEND_TF_PROVIDER_MIRROR names the provider mirror"
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(tmp_path / "missing.tfrc"), "VEND_TF_PROVIDER_MIRROR": MIRROR}
    env.pop("TF_LOG", None)
    return env


def test_the_inherited_broken_setting_does_make_terraform_warn(broken_cli_config: dict[str, str]) -> None:
    # Control: Terraform itself prints the warning under this environment, so its absence below means something.
    proc = subprocess.run(
        [tf.terraform_binary(), "version"], env=broken_cli_config, capture_output=True, text=True, check=True
    )
    assert TERRAFORM_WARNING in proc.stdout + proc.stderr


def test_setup_terraform_step_prints_no_terraform_warning(broken_cli_config: dict[str, str], tmp_path: Path) -> None:
    # GIVEN setup's Terraform step in a scratch checkout (it writes .vend/env beside itself)
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / "tools").mkdir()
    shutil.copy2(REPO_ROOT / "scripts" / "terraform_setup.sh", checkout / "scripts")
    shutil.copy2(REPO_ROOT / "tools" / "versions.env", checkout / "tools")
    # WHEN it runs with the broken inherited setting
    proc = subprocess.run(
        ["bash", str(checkout / "scripts" / "terraform_setup.sh")],
        env=broken_cli_config,
        capture_output=True,
        text=True,
        check=True,
    )
    # THEN it records the mirror and says only that: the mirror wins, Terraform's warning box never shows
    assert TERRAFORM_WARNING not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"setup: Terraform provider mirror: {MIRROR}"]
    assert (checkout / ".vend" / "env").read_text() == f"export VEND_TF_PROVIDER_MIRROR={MIRROR}\n"


def test_runner_gives_terraform_its_own_cli_config(broken_cli_config: dict[str, str], tmp_path: Path) -> None:
    # GIVEN a pipeline workspace under the same environment
    ws = tf.TerraformWorkspace(stack_dir=tmp_path, extra_env={}, environ=broken_cli_config)
    try:
        # WHEN Terraform runs in it
        result = ws.run("version")
        # THEN it reads the runner's configuration (the mirror), and prints no warning
        assert result.ok, result.tail
        assert ws.env["TF_CLI_CONFIG_FILE"] != broken_cli_config["TF_CLI_CONFIG_FILE"]
        assert TERRAFORM_WARNING not in result.stdout + result.stderr
    finally:
        ws.cleanup()
