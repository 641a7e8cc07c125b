"""The Terraform tree keeps its promises: folder layout, boilerplate in sync, backend keys, module conventions."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import hcl2
import pytest

from vending.layout import load_layout
from vending.settings import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"
ENVIRONMENTS = TERRAFORM / "environments"
MODULES = TERRAFORM / "modules"
STACKS = sorted(p.parent for p in ENVIRONMENTS.glob("*/*/*/main.tf"))
MODULE_DIRS = sorted(p.parent for p in MODULES.glob("*/main.tf"))
REQUIRED_MODULES = {"networking", "eks", "bedrock", "sagemaker", "ecs", "lambda", "iam", "s3", "glue", "cloudfront",
                    "bedrock-knowledge-base"}


from vending.pipeline import templates as sync_stacks  # noqa: E402


def _hcl(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


def test_environments_every_team_has_bootstrap_in_both_stages():
    # GIVEN the teams of the layout, WHEN the environments tree is read, THEN each has staging and production bootstrap
    for team in load_layout().teams:
        for stage in ("staging", "production"):
            assert (ENVIRONMENTS / team.slug / stage / "bootstrap" / "main.tf").exists(), (team.slug, stage)


def test_environments_only_known_teams_stages_and_stacks():
    allowed_teams = {t.slug for t in load_layout().teams} | {"shared"}
    for stack in STACKS:
        team, stage, name = stack.relative_to(ENVIRONMENTS).parts
        assert team in allowed_teams and stage in ("staging", "production")
        assert name in ("networking", "cloudfront", "eks", "bootstrap", *sync_stacks.template_names()), stack


def test_environments_stack_files_present_and_lock_committed():
    for stack in STACKS:
        for name in ("main.tf", "versions.tf", "backend.tf", "providers.tf", "variables.tf", ".terraform.lock.hcl"):
            assert (stack / name).exists(), stack / name


def test_environments_boilerplate_in_sync_with_templates():
    # GIVEN the templates, WHEN the sync tool checks, THEN no stack drifted (run terraform/tools/sync_stacks.py)
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_stacks", TERRAFORM / "tools" / "sync_stacks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0


def test_environments_backend_key_is_folder_path_with_lockfile():
    for stack in STACKS:
        backend = _hcl(stack / "backend.tf")["terraform"][0]["backend"][0]["s3"]
        assert backend["key"][0] == f"{stack.relative_to(ENVIRONMENTS).as_posix()}/terraform.tfstate"
        assert backend["use_lockfile"][0] is True
        assert "bucket" not in backend, "the bucket is the vended account's, given at init"


def test_environments_providers_pin_account_and_cost_tags():
    text = (TERRAFORM / "templates" / "providers.tf").read_text()
    assert "allowed_account_ids = [var.account_id]" in text
    for tag in ("team", "stage", "stack", '"cost-center"'):
        assert re.search(rf"^\s*{re.escape(tag)}\s*=", text, re.M), tag
    assert '"= 5.100.0"' in (TERRAFORM / "templates" / "versions.tf").read_text().replace("version = ", "")


def test_environments_production_differs_from_staging_only_by_values():
    # GIVEN every staging stack, WHEN compared with its production twin, THEN only terraform.tfvars differs
    for stack in (s for s in STACKS if s.parent.name == "staging"):
        twin = stack.parent.parent / "production" / stack.name
        assert twin.is_dir(), twin
        for path in stack.glob("*.tf"):
            if path.name != "backend.tf":
                assert path.read_text() == (twin / path.name).read_text(), path


def test_environments_main_holds_module_calls_only():
    for stack in STACKS:
        top = set(_hcl(stack / "main.tf"))
        assert top == {"module"}, f"{stack}/main.tf declares {top - {'module'}}"


def test_modules_required_set_and_files():
    assert {m.name for m in MODULE_DIRS} >= REQUIRED_MODULES
    for module in MODULE_DIRS:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md", "examples/basic/main.tf"):
            assert (module / name).exists(), module / name


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_modules_variables_described_typed(module):
    for block in _hcl(module / "variables.tf").get("variable", []):
        for name, body in block.items():
            assert body.get("description", [""])[0].strip(), f"{module.name}.{name} has no description"
            assert "type" in body, f"{module.name}.{name} has no type"


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_modules_outputs_never_fail(module):
    for block in _hcl(module / "outputs.tf").get("output", []):
        for name, body in block.items():
            assert str(body["value"][0]).startswith("${try("), f"{module.name} output {name} is not wrapped in try()"
            assert body.get("description"), f"{module.name} output {name} has no description"


def test_modules_readmes_are_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("module_docs", TERRAFORM / "tools" / "module_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run terraform/tools/module_docs.py"


def test_modules_sagemaker_tier_prefixes_match_layout():
    # GIVEN the sagemaker module's early tier check, THEN it mirrors layout.yaml's SageMaker tiers exactly
    text = (MODULES / "sagemaker" / "main.tf").read_text()
    for name, tier in load_layout().gpu_tiers.items():
        line = re.search(rf"^\s*{name}\s*=\s*\[(.*)\]", text, re.M)
        assert line, name
        prefixes = re.findall(r'"([^"]+)"', line.group(1))
        assert prefixes == [p.rstrip("*") for p in tier.sagemaker_instance_types], name


def test_checkov_suppressions_have_reasons():
    pattern = re.compile(r"checkov:skip=([A-Z0-9_]+)(:?)(.*)")
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text().splitlines():
            found = pattern.search(line)
            if found:
                assert found.group(2) == ":" and len(found.group(3).strip()) > 15, f"{path}: {line.strip()}"
