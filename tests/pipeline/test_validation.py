"""The validate stage runs `terraform validate` once per distinct configuration in a process
(vending/pipeline/validation.py): what counts as the same configuration, and that the stage still validates whatever
differs. A fake Terraform logs each command; no provider is needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vending.pipeline import terraform as tf
from vending.pipeline import validation
from vending.pipeline.runner import PipelineSpec, run_pipeline
from vending.settings import REPO_ROOT

ENVIRONMENTS = REPO_ROOT / "terraform" / "environments"


@pytest.fixture(autouse=True)
def fresh_memory():
    validation.forget_all()
    yield
    validation.forget_all()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of two stages of one template and the modules they call, at the depth the stacks sit."""
    root = tmp_path / "terraform"
    for stage in ("staging", "production"):
        shutil.copytree(ENVIRONMENTS / "team-frontend" / stage / "bootstrap", root / "environments" / "t" / stage / "b")
    shutil.copytree(REPO_ROOT / "terraform" / "modules", root / "modules")
    return root


def _initialised(stack: Path, data: Path) -> Path:
    """A data dir as `terraform init` leaves it: modules.json naming each called module's folder."""
    calls = sorted({m for m in _module_sources(stack)})
    (data / "modules").mkdir(parents=True, exist_ok=True)
    modules = [{"Key": "", "Source": "", "Dir": "."}] + [
        {"Key": f"m{i}", "Source": s, "Dir": s} for i, s in enumerate(calls)
    ]
    (data / "modules" / "modules.json").write_text(json.dumps({"Modules": modules}))
    return data


def _module_sources(stack: Path) -> list[str]:
    import re

    return re.findall(r'source\s*=\s*"(\.\./[^"]+)"', (stack / "main.tf").read_text())


def _key(stack: Path, tmp_path: Path, terraform: str = "/bin/true") -> str | None:
    data = _initialised(stack, tmp_path / "data" / stack.parent.name)
    return validation.configuration_key(stack, data, terraform)


def test_two_stages_of_one_template_are_one_configuration(tree: Path, tmp_path: Path) -> None:
    staging, production = (tree / "environments" / "t" / s / "b" for s in ("staging", "production"))
    assert _module_sources(staging), "the stack calls no module: the test would not reach module files"
    # GIVEN two stages that differ in tfvars and their backend's state key only, THEN they share one key
    assert (staging / "terraform.tfvars").read_text() != (production / "terraform.tfvars").read_text()
    assert (staging / "backend.tf").read_text() != (production / "backend.tf").read_text()
    assert _key(staging, tmp_path) == _key(production, tmp_path) is not None


@pytest.mark.parametrize(
    "change",
    ["root file", "another backend setting", "lock file", "called module", "a new .tf.json file", "terraform binary"],
)
def test_anything_validate_reads_makes_another_configuration(tree: Path, tmp_path: Path, change: str) -> None:
    stack = tree / "environments" / "t" / "staging" / "b"
    before = _key(stack, tmp_path)
    terraform = "/bin/true"
    if change == "root file":
        (stack / "main.tf").write_text((stack / "main.tf").read_text() + "\n# edited\n")
    elif change == "another backend setting":
        (stack / "backend.tf").write_text(
            (stack / "backend.tf").read_text().replace("encrypt      = true", "encrypt = false")
        )
    elif change == "lock file":
        (stack / ".terraform.lock.hcl").write_text((stack / ".terraform.lock.hcl").read_text() + "\n")
    elif change == "called module":
        module = (stack / _module_sources(stack)[0]).resolve()
        (module / "main.tf").write_text((module / "main.tf").read_text() + "\n# edited\n")
    elif change == "a new .tf.json file":
        (stack / "extra.tf.json").write_text("{}")
    else:
        terraform = "/bin/false"
    assert _key(stack, tmp_path, terraform) != before


def test_a_tfvars_change_is_the_same_configuration(tree: Path, tmp_path: Path) -> None:
    stack = tree / "environments" / "t" / "staging" / "b"
    before = _key(stack, tmp_path)
    (stack / "terraform.tfvars").write_text("log_retention_days = 1\n")
    assert _key(stack, tmp_path) == before


def test_an_unreadable_configuration_has_no_key(tree: Path, tmp_path: Path) -> None:
    stack = tree / "environments" / "t" / "staging" / "b"
    data = _initialised(stack, tmp_path / "data")
    (data / "modules" / "modules.json").write_text("not json")
    assert validation.configuration_key(stack, data, "/bin/true") is None
    assert validation.configuration_key(stack, tmp_path / "none", "/no/such/terraform") is None
    assert not validation.validated(None)


def _fake_terraform(tmp_path: Path, validate_exit: int) -> tuple[Path, Path]:
    log = tmp_path / "commands.log"
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f'#!/bin/sh\necho "$1" >> {log}\n[ "$1" = validate ] && exit {validate_exit}\nexit 0\n')
    fake.chmod(0o755)
    return fake, log


def _validate(stack: Path, monkeypatch: pytest.MonkeyPatch, fake: Path) -> tuple[bool, str]:
    monkeypatch.setenv(tf.TERRAFORM_BIN_ENV, str(fake))
    monkeypatch.delenv(tf.MIRROR_ENV, raising=False)
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    spec = PipelineSpec(
        stack_dir=stack,
        state_bucket="b",
        state_region="us-east-1",
        account_id="123456789012",
        variables={"team": "t", "stage": stack.parent.name},
        env={},
        stages=("validate",),
    )
    result = run_pipeline(spec)
    return result.ok, result.stages[0].summary


def test_the_stage_validates_once_per_configuration(tree: Path, tmp_path: Path, monkeypatch) -> None:
    fake, log = _fake_terraform(tmp_path, validate_exit=0)
    staging, production = (tree / "environments" / "t" / s / "b" for s in ("staging", "production"))
    # WHEN the staging stack is validated twice and its production twin once
    outcomes = [_validate(s, monkeypatch, fake) for s in (staging, staging, production)]
    # THEN Terraform validated once, and the others say why they did not run it
    assert log.read_text().split() == ["validate"]
    assert outcomes[0] == (True, "valid")
    assert outcomes[1] == outcomes[2] == (True, "valid (this configuration already validated in this process)")
    # AND an edited configuration is validated again (the negative control: a key that ignored the edit would not)
    (staging / "main.tf").write_text((staging / "main.tf").read_text() + "\n# edited\n")
    assert _validate(staging, monkeypatch, fake) == (True, "valid")
    assert log.read_text().split() == ["validate", "validate"]


def test_a_failed_validate_is_not_remembered(tree: Path, tmp_path: Path, monkeypatch) -> None:
    fake, log = _fake_terraform(tmp_path, validate_exit=1)
    stack = tree / "environments" / "t" / "staging" / "b"
    assert [_validate(stack, monkeypatch, fake)[0] for _ in range(2)] == [False, False]
    assert log.read_text().split() == ["validate", "validate"]
