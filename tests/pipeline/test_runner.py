"""The runner's pure parts: stack keys, plan summaries and digests, the spec checks; no Terraform needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.plans import change, plan
from vending.exceptions import InvalidPipelineSpec, StackNotFound, TerraformUnavailable
from vending.pipeline import terraform as tf
from vending.pipeline.runner import PipelineSpec, plan_digest, run_pipeline, stack_key, state_key, summarize_plan
from vending.settings import REPO_ROOT

STACK = REPO_ROOT / "terraform" / "environments" / "team-mlops" / "staging" / "bootstrap"


def spec(**overrides) -> PipelineSpec:
    base = {"stack_dir": STACK, "state_bucket": "b", "state_region": "us-east-1", "account_id": "123456789012",
            "variables": {"team": "team-mlops", "stage": "staging"}, "env": {}}
    return PipelineSpec(**{**base, **overrides})


def test_stack_key_is_folder_path_under_environments():
    # GIVEN the stack folder, WHEN keyed, THEN the key is its path relative to terraform/environments
    assert stack_key(STACK) == "team-mlops/staging/bootstrap"
    assert state_key(STACK) == "team-mlops/staging/bootstrap/terraform.tfstate"


def test_stack_key_outside_repo_uses_environments_component(tmp_path):
    # GIVEN a checkout elsewhere (CodeBuild), WHEN keyed, THEN the part after environments/ is the key
    other = tmp_path / "src" / "terraform" / "environments" / "shared" / "staging" / "networking"
    other.mkdir(parents=True)
    assert stack_key(other) == "shared/staging/networking"


def test_summarize_plan_counts_actions():
    # GIVEN a plan with a create, an update, a replace and a no-op
    doc = plan(change("a.x", "a", {}), change("b.x", "b", {}, actions=("update",)),
               change("c.x", "c", {}, actions=("delete", "create")), change("d.x", "d", {}, actions=("no-op",)))
    # WHEN summarised, THEN each kind is counted and listed
    s = summarize_plan(doc)
    assert (s["add"], s["change"], s["replace"], s["destroy"], s["no_op"]) == (1, 1, 1, 0, 1)
    assert s["has_changes"] and s["resources"]["replace"] == ["c.x"]


def test_plan_digest_changes_with_the_change_set():
    # GIVEN two plans differing in one attribute, WHEN digested, THEN the digests differ (and are stable)
    one = plan(change("a.x", "a", {"instance_type": "g5.xlarge"}))
    two = plan(change("a.x", "a", {"instance_type": "p5.48xlarge"}))
    assert plan_digest(one) == plan_digest(one) != plan_digest(two)


def test_run_pipeline_unknown_stage_is_refused():
    with pytest.raises(InvalidPipelineSpec, match="unknown pipeline stages"):
        run_pipeline(spec(stages=("fmt", "deploy")))


def test_run_pipeline_stage_contradicting_folder_is_refused(monkeypatch, tmp_path):
    # GIVEN a working mirror setting, and variables saying production for a staging folder
    (tmp_path / "registry.terraform.io").mkdir()
    monkeypatch.setenv(tf.MIRROR_ENV, str(tmp_path))
    monkeypatch.setenv(tf.PLUGIN_CACHE_ENV, str(tmp_path / "cache"))
    # WHEN run, THEN the contradiction is refused before any stage
    with pytest.raises(InvalidPipelineSpec, match="contradicts the stack path"):
        run_pipeline(spec(variables={"team": "team-mlops", "stage": "production"}))


def test_run_pipeline_without_mirror_raises_terraform_unavailable(monkeypatch, tmp_path):
    # GIVEN no mirror setting and a TF_CLI_CONFIG_FILE naming a missing file
    monkeypatch.delenv(tf.MIRROR_ENV, raising=False)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    # WHEN the pipeline starts, THEN TerraformUnavailable names the setting (raised, not a failed stage)
    with pytest.raises(TerraformUnavailable, match="VEND_TF_PROVIDER_MIRROR"):
        run_pipeline(spec())


def test_run_pipeline_missing_stack_dir_is_refused():
    with pytest.raises(StackNotFound, match="does not exist"):
        run_pipeline(spec(stack_dir=Path("/nonexistent/stack")))


def test_changed_stacks_module_change_reaches_callers_transitively():
    from vending.pipeline.ci import changed_stacks

    # GIVEN a change to the s3 module (used by bootstrap directly and by cloudfront through its origin bucket)
    stacks = changed_stacks(["terraform/modules/s3/main.tf"], REPO_ROOT / "terraform")
    # THEN bootstrap and cloudfront stacks are planned, networking is not
    assert "team-frontend/staging/cloudfront" in stacks and "team-mlops/production/bootstrap" in stacks
    assert not any(s.endswith("/networking") for s in stacks)


def test_changed_stacks_stack_folder_and_shared_files():
    from vending.pipeline.ci import all_stacks, changed_stacks

    root = REPO_ROOT / "terraform"
    assert changed_stacks(["terraform/environments/shared/staging/eks/terraform.tfvars"], root) == [
        "shared/staging/eks"]
    assert changed_stacks(["policies/checkov.yaml"], root) == all_stacks(root)
    assert changed_stacks(["README.md"], root) == []
