"""End to end: real Terraform against moto in server mode, state in the vended account's bucket.

Needs the Terraform CLI and a provider mirror (VEND_TF_PROVIDER_MIRROR or an existing TF_CLI_CONFIG_FILE); skips with
the reason otherwise.
"""

from __future__ import annotations

import json

import pytest

from vending.pipeline import terraform as tf
from vending.pipeline.approvals import FileApprovalStore
from vending.pipeline.runner import DESTROY_STAGES, PIPELINE_STAGES, PipelineSpec, run_pipeline
from vending.settings import REPO_ROOT

ENVIRONMENTS = REPO_ROOT / "terraform" / "environments"
MLOPS = {"cost_center": "CC-1003", "gpu_tier": "training", "regions": ["us-east-1", "us-west-2"]}


_terraform_ready = tf.unavailable_reason


pytestmark = [
    pytest.mark.terraform,
    pytest.mark.emulator,
    pytest.mark.skipif(_terraform_ready() is not None, reason=f"Terraform not usable: {_terraform_ready()}"),
]


@pytest.fixture(scope="module")
def account():
    from landing_zone.local.pipeline_account import start_emulated_account

    emulated = start_emulated_account(team="team-mlops", stage="staging")
    yield emulated
    emulated.stop()


def _spec(account, stack: str, **overrides) -> PipelineSpec:
    team, stage, _ = stack.split("/")
    base = {
        "stack_dir": ENVIRONMENTS / stack,
        "state_bucket": account.state_bucket,
        "state_region": account.region,
        "account_id": account.account_id,
        "variables": {"team": team, "stage": stage, **MLOPS},
        "env": account.terraform_env(),
    }
    return PipelineSpec(**{**base, **overrides})


def test_run_pipeline_bootstrap_staging_applies_and_stores_state(account):
    # GIVEN a vended account (assumed-role credentials) with a versioned state bucket in the emulator
    seen: list[str] = []
    # WHEN the team-mlops staging bootstrap pipeline runs with the automatic gate
    result = run_pipeline(_spec(account, "team-mlops/staging/bootstrap"), on_stage=lambda s: seen.append(s.name))
    # THEN every stage ran in order and succeeded, timed
    assert result.ok, f"{result.message}\n{result.stages[-1].output_tail}"
    assert [s.name for s in result.stages] == list(PIPELINE_STAGES) == seen
    assert all(s.seconds >= 0 for s in result.stages)
    assert result.plan_summary["add"] > 0 and result.approval["mode"] == "automatic"
    assert result.policy["ok"] and result.policy["checkov"]["ok"]
    # AND the state object is in the bucket under the folder path, and the S3 lock file is gone
    keys = [o["Key"] for o in account.client("s3").list_objects_v2(Bucket=account.state_bucket)["Contents"]]
    assert "team-mlops/staging/bootstrap/terraform.tfstate" in keys
    assert not any(k.endswith(".tflock") for k in keys)
    # AND default_tags reached the resources
    tags = account.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId="/platform/team")
    assert {t["Key"]: t["Value"] for t in tags["TagList"]}["cost-center"] == "CC-1003"


def test_run_pipeline_production_waits_for_recorded_approval(account, tmp_path):
    # GIVEN the production bootstrap stack and an empty approval store (apply left out to keep the test fast)
    store = FileApprovalStore(tmp_path / "approvals.json")
    spec = _spec(account, "team-mlops/production/bootstrap", stages=("init", "plan", "approval"))
    # WHEN it runs, THEN it stops at approval and records a pending request for that plan
    first = run_pipeline(spec, approvals=store)
    assert (first.ok, first.status, first.failed_stage) == (False, "awaiting_approval", "approval")
    assert "vend pipeline approve team-mlops/production/bootstrap" in first.message
    # WHEN someone approves and the pipeline runs again
    store.approve("team-mlops/production/bootstrap", by="alice@example.com")
    second = run_pipeline(spec, approvals=store)
    # THEN the same plan is recognised as approved, with who approved it
    assert second.ok and second.plan_digest == first.plan_digest
    assert second.approval["approved_by"] == "alice@example.com"


def test_run_pipeline_wrong_account_is_refused_by_allowed_account_ids(account):
    # GIVEN credentials for the vended account but a spec naming another account
    spec = _spec(
        account,
        "team-mlops/staging/bootstrap",
        account_id="111111111111",
        variables={"team": "team-mlops", "stage": "staging", **MLOPS},
        stages=("init", "plan"),
    )
    # WHEN planned, THEN the provider's allowed_account_ids check stops it, naming the account it was given
    result = run_pipeline(spec)
    assert not result.ok and result.failed_stage == "plan"
    assert "AWS account ID not allowed" in result.stages[-1].summary
    assert account.account_id in result.stages[-1].output_tail


def test_run_pipeline_destroy_plans_destroy_and_applies_it_keeping_the_state_versions(account):
    # GIVEN the staging bootstrap stack applied (a no-op when the first test already did)
    applied = run_pipeline(_spec(account, "team-mlops/staging/bootstrap"))
    assert applied.ok, applied.message
    s3 = account.client("s3")
    key = "team-mlops/staging/bootstrap/terraform.tfstate"
    # WHEN it is destroyed (the stages a removed stack runs: no policy stage)
    result = run_pipeline(_spec(account, "team-mlops/staging/bootstrap", destroy=True, stages=DESTROY_STAGES))
    # THEN the plan was a destroy plan (nothing added) and its apply removed every resource
    assert result.ok, f"{result.message}\n{result.stages[-1].output_tail}"
    assert [s.name for s in result.stages] == list(DESTROY_STAGES)
    assert result.plan_summary["destroy"] > 0 and result.plan_summary["add"] == 0
    assert "Destroy complete!" in result.stages[-1].summary or "Apply complete!" in result.stages[-1].summary
    assert "/platform/team" not in {
        p["Name"] for p in account.client("ssm").describe_parameters().get("Parameters", [])
    }
    # AND the state object is still there (now empty), with its earlier versions kept for the archive
    state = json.loads(s3.get_object(Bucket=account.state_bucket, Key=key)["Body"].read())
    assert [r for r in state.get("resources", []) if r["mode"] == "managed"] == []
    versions = s3.list_object_versions(Bucket=account.state_bucket, Prefix=key).get("Versions", [])
    assert len(versions) >= 2
