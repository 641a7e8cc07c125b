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


def test_terraform_rendered_stack_for_a_new_team_is_formatted_and_valid(tmp_path):
    # GIVEN a workload stack rendered at vend time for a team the repository does not have

    from vending.layout import load_layout
    from vending.pipeline import templates as sync_stacks
    layout = load_layout()
    block = sync_stacks.allocate_network_block("team-vended", "staging", layout)
    files = sync_stacks.render_stack("team-vended", "staging", "eks-gpu-serving", layout, gpu_tier="training",
                                     network_block=block)
    # WHEN it is written where the stack would live (modules reached by the same relative path)
    (tmp_path / "terraform").mkdir()
    (tmp_path / "terraform" / "modules").symlink_to(TERRAFORM / "modules")
    stack = tmp_path / "terraform" / "environments" / "team-vended" / "staging" / "eks-gpu-serving"
    stack.mkdir(parents=True)
    for name, text in files.items():
        (stack / name).write_text(text, encoding="utf-8")
    # THEN terraform fmt has nothing to change and the stack validates with its lock file read-only
    fmt = subprocess.run([tf.terraform_binary(), "fmt", "-check", "-recursive", str(stack)],
                         capture_output=True, text=True, check=False)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    ws = tf.TerraformWorkspace(stack_dir=stack, extra_env={}, run_dir=tmp_path / "run")
    init = ws.run("init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly")
    assert init.ok, init.tail
    result = ws.run("validate", "-no-color")
    assert result.ok, result.tail
