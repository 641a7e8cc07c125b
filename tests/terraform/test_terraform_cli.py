"""`terraform fmt` and `terraform validate` over every stack and module example (needs the CLI and the mirror)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from vending.pipeline import terraform as tf
from vending.settings import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"
ALL_TARGETS = sorted(p.parent for p in TERRAFORM.glob("environments/*/*/*/main.tf")) + sorted(
    p.parent for p in TERRAFORM.glob("modules/*/examples/basic/main.tf"))


def validation_key(stack: Path, root: Path = TERRAFORM) -> tuple[str, ...]:
    """Everything `terraform validate -backend=false` reads: the stack's .tf files (the backend's state key aside),
    its lock file and where it sits (modules are reached by relative path). tfvars are not read by validate."""
    parts = [str(len(stack.relative_to(root).parts))]
    for f in sorted(stack.glob("*.tf")) + sorted(stack.glob(".terraform.lock.hcl")):
        text = f.read_text(encoding="utf-8")
        if f.name == "backend.tf":
            text = re.sub(r"(?m)^\s*key\s*=.*$", "", text)
        parts.append(f"{f.name}\0{text}")
    return tuple(parts)


# Stacks rendered from one template for several teams and stages are the same configuration to validate: each
# distinct one is validated once, named after its first stack (36 folders, 21 distinct configurations today).
_distinct: dict[tuple[str, ...], Path] = {}
for _target in ALL_TARGETS:
    _distinct.setdefault(validation_key(_target), _target)
TARGETS = list(_distinct.values())


_unavailable = tf.unavailable_reason


pytestmark = [pytest.mark.terraform,
              pytest.mark.skipif(_unavailable() is not None, reason=f"Terraform not usable: {_unavailable()}")]


def test_validation_groups_only_identical_configurations(tmp_path):
    # GIVEN the same stack for two stages (tfvars and state key differ) and a copy with one changed line of HCL
    env = TERRAFORM / "environments" / "team-frontend"
    staging, production = env / "staging" / "bootstrap", env / "production" / "bootstrap"
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in staging.glob("*.tf"):
        text = f.read_text(encoding="utf-8")
        (copy / f.name).write_text(text.replace("log_retention_days", "log_retention_dayz") if f.name == "main.tf"
                                   else text, encoding="utf-8")
    # THEN the two stages share one validation, the changed copy does not, and fewer folders are validated
    assert (staging / "terraform.tfvars").read_text() != (production / "terraform.tfvars").read_text()
    assert validation_key(staging) == validation_key(production)
    assert validation_key(copy, root=tmp_path)[1:] != validation_key(staging)[1:]
    assert len({validation_key(t) for t in ALL_TARGETS}) == len(TARGETS) < len(ALL_TARGETS)


def test_terraform_fmt_check_recursive():
    proc = subprocess.run([tf.terraform_binary(), "fmt", "-check", "-recursive", str(TERRAFORM)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("target", TARGETS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_terraform_validate(target, tmp_path):
    # GIVEN an isolated data dir (nothing written into the tree: stacks keep their committed lock file)
    ws = tf.TerraformWorkspace(stack_dir=target, extra_env={}, run_dir=tmp_path, share_provider=True)
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
