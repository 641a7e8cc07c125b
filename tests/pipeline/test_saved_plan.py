"""The CI workflow's reviewed-plan path: the plan stage saves the plan file; a later run with `init,apply` and no plan
stage applies exactly that file (real Terraform against the emulator)."""

from __future__ import annotations

import pytest

from vending.pipeline import terraform as tf
from vending.pipeline.runner import PipelineSpec, run_pipeline
from vending.settings import REPO_ROOT

_terraform_ready = tf.unavailable_reason

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.emulator,
    pytest.mark.skipif(_terraform_ready() is not None, reason=f"Terraform not usable: {_terraform_ready()}"),
]

STACK = REPO_ROOT / "terraform" / "environments" / "team-mlops" / "staging" / "bootstrap"
VARIABLES = {"cost_center": "CC-1003", "gpu_tier": "training", "regions": ["us-east-1", "us-west-2"]}


def _spec_fields(account, stack, variables, saved_plan):
    return {
        "stack_dir": stack,
        "state_bucket": account.state_bucket,
        "state_region": account.region,
        "account_id": account.account_id,
        "variables": variables,
        "env": account.terraform_env(),
        "saved_plan": saved_plan,
    }


def test_run_pipeline_applies_the_saved_plan_without_planning_again(tmp_path):
    from landing_zone.local.pipeline_account import start_emulated_account

    account = start_emulated_account(team="team-mlops", stage="staging")
    try:
        base = _spec_fields(account, STACK, VARIABLES, tmp_path / "stack.tfplan")
        # GIVEN a plan job's run: init and plan, the plan saved outside the run
        planned = run_pipeline(PipelineSpec(**base, stages=("init", "plan")))
        assert planned.ok, planned.message
        assert (tmp_path / "stack.tfplan").stat().st_size > 0
        # WHEN the apply job runs init and apply only, with that file
        applied = run_pipeline(PipelineSpec(**base, stages=("init", "apply")))
        # THEN it applied the saved plan (no plan stage ran) and the state is in the bucket
        assert applied.ok, f"{applied.message}\n{applied.stages[-1].output_tail}"
        assert [s.name for s in applied.stages] == ["init", "apply"]
        assert applied.stages[-1].summary.startswith("Apply complete!")
        keys = [o["Key"] for o in account.client("s3").list_objects_v2(Bucket=account.state_bucket)["Contents"]]
        assert "team-mlops/staging/bootstrap/terraform.tfstate" in keys
        # AND a missing saved plan is refused, not re-planned
        missing = run_pipeline(PipelineSpec(**{**base, "saved_plan": tmp_path / "none.tfplan"}, stages=("apply",)))
        assert (missing.ok, missing.failed_stage) == (False, "apply")
        assert "no saved plan at" in missing.message
    finally:
        account.stop()


def test_platform_run_refuses_a_provisioner_at_apply_whether_planned_in_the_run_or_saved(tmp_path):
    from landing_zone.local.pipeline_account import start_emulated_account

    # GIVEN a stack whose only resource runs a local-exec provisioner (the builtin provider: no lock entry needed)
    stack = tmp_path / "stack"
    stack.mkdir()
    marker = tmp_path / "ran-as-the-platform"
    (stack / "main.tf").write_text(
        'terraform {\n  backend "s3" {}\n}\n\n'
        'resource "terraform_data" "x" {\n'
        '  provisioner "local-exec" {\n'
        f'    command = "touch {marker}"\n'
        "  }\n}\n",
        encoding="utf-8",
    )
    (stack / ".terraform.lock.hcl").write_text("# no providers\n", encoding="utf-8")
    account = start_emulated_account(team="team-mlops", stage="staging")
    try:
        base = {**_spec_fields(account, stack, {}, tmp_path / "stack.tfplan"), "platform_credentials": True}
        # WHEN a platform-run plans and applies in one run (the apply reads the plan stage's own JSON)
        in_run = run_pipeline(PipelineSpec(**base, stages=("init", "plan", "apply")))
        # AND a platform-run applies the plan it saved (the apply shows the saved file itself)
        saved = run_pipeline(PipelineSpec(**base, stages=("init", "apply")))
        # THEN both are refused at apply, naming the provisioner, and it never ran
        for result in (in_run, saved):
            assert (result.ok, result.failed_stage) == (False, "apply"), result.message
            assert "provisioner 'local-exec' would run as the platform's role" in result.message
        assert not marker.exists()
        # AND the same stack applies (its provisioner runs) when it is not a platform-run: the refusal is the guard's
        as_team = {**base, "platform_credentials": False}
        team_run = run_pipeline(PipelineSpec(**as_team, stages=("init", "plan", "apply")))
        assert team_run.ok, f"{team_run.message}\n{team_run.stages[-1].output_tail}"
        assert marker.exists()
    finally:
        account.stop()
