"""`terraform fmt` and `terraform validate` over every stack and module example (needs the CLI and the mirror)."""

from __future__ import annotations

import subprocess

import pytest

from vending.pipeline import terraform as tf
from vending.settings import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"
TARGETS = sorted(p.parent for p in TERRAFORM.glob("environments/*/*/*/main.tf")) + sorted(
    p.parent for p in TERRAFORM.glob("modules/*/examples/basic/main.tf"))


_unavailable = tf.unavailable_reason


pytestmark = [pytest.mark.terraform,
              pytest.mark.skipif(_unavailable() is not None, reason=f"Terraform not usable: {_unavailable()}")]


def test_terraform_fmt_check_recursive():
    proc = subprocess.run([tf.terraform_binary(), "fmt", "-check", "-recursive", str(TERRAFORM)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("target", TARGETS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_terraform_validate(target, tmp_path):
    # GIVEN an isolated data dir (nothing written into the tree: stacks keep their committed lock file)
    ws = tf.TerraformWorkspace(stack_dir=target, extra_env={}, run_dir=tmp_path)
    lock = ["-lockfile=readonly"] if (target / ".terraform.lock.hcl").exists() else []
    init = ws.run("init", "-backend=false", "-input=false", "-no-color", *lock)
    assert init.ok, init.tail
    result = ws.run("validate", "-no-color")
    assert result.ok, result.tail
