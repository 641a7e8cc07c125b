"""The three LLM workload templates, end to end on the emulator: each applies, a second plan finds nothing to change
(the provider reads back what it wrote), and its destroy leaves nothing behind.

Real Terraform through the pipeline runner against moto in server mode with the emulator's completions of EKS,
Bedrock and OpenSearch Serverless (landing_zone/local/llm_services.py). The three run side by side: most of their
time is the AWS provider's own waits. IAM is decided on these calls by the demo (tests/e2e/test_least_privilege.py
runs every layout stack with the authorization on); here the subject is what the emulator answers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from vending.bootstrap import ensure_permissions_boundary
from vending.pipeline import terraform as tf
from vending.pipeline.runner import DESTROY_STAGES, PipelineResult, PipelineSpec, run_pipeline
from vending.settings import REPO_ROOT

ENVIRONMENTS = REPO_ROOT / "terraform" / "environments"
TEAMS = {
    "team-mlops": {"cost_center": "CC-1003", "gpu_tier": "training", "regions": ["us-east-1", "us-west-2"]},
    "team-backend": {"cost_center": "CC-1002", "gpu_tier": "inference", "regions": ["us-east-1", "us-west-2"]},
}
STACKS = (
    "team-mlops/staging/eks-gpu-serving",
    "team-backend/staging/rag-bedrock",
    "team-mlops/staging/sagemaker-endpoint",
)
APPLY_STAGES = ("init", "plan", "approval", "apply")

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.emulator,
    pytest.mark.skipif(tf.unavailable_reason() is not None, reason=f"Terraform not usable: {tf.unavailable_reason()}"),
]


@dataclass
class Cycle:
    applied: PipelineResult
    replanned: PipelineResult | None = None
    destroyed: PipelineResult | None = None


def _spec(account: Any, stack: str, **overrides: Any) -> PipelineSpec:
    team, stage, _ = stack.split("/")
    base = {
        "stack_dir": ENVIRONMENTS / stack,
        "state_bucket": account.state_bucket,
        "state_region": account.region,
        "account_id": account.account_id,
        "variables": {"team": team, "stage": stage, **TEAMS[team]},
        "env": account.terraform_env(),
    }
    return PipelineSpec(**{**base, **overrides})


def _inventory(account: Any) -> dict[str, Any]:
    """What the templates make that outlives nothing else: clusters, their security groups, guardrails, collections,
    endpoints."""
    groups = account.client("ec2").describe_security_groups()["SecurityGroups"]
    return {
        "clusters": account.client("eks").list_clusters()["clusters"],
        "cluster_security_groups": sorted(
            g["GroupName"] for g in groups if g["GroupName"].startswith("eks-cluster-sg")
        ),
        "guardrails": [g["name"] for g in account.client("bedrock").list_guardrails()["guardrails"]],
        "collections": [
            c["name"] for c in account.client("opensearchserverless").list_collections()["collectionSummaries"]
        ],
        "endpoints": [e["EndpointName"] for e in account.client("sagemaker").list_endpoints()["Endpoints"]],
    }


def _cycle(account: Any, stack: str) -> Cycle:
    cycle = Cycle(applied=run_pipeline(_spec(account, stack, stages=APPLY_STAGES)))
    if not cycle.applied.ok:
        return cycle
    cycle.replanned = run_pipeline(_spec(account, stack, stages=("init", "plan")))
    cycle.destroyed = run_pipeline(_spec(account, stack, destroy=True, stages=DESTROY_STAGES))
    return cycle


@pytest.fixture(scope="module")
def account() -> Any:
    from landing_zone.local.pipeline_account import start_emulated_account

    emulated = start_emulated_account(team="team-mlops", stage="staging")
    # The boundary every template role carries, as the vending bootstrap makes it.
    ensure_permissions_boundary(
        emulated.client("iam"), account_id=emulated.account_id, state_bucket=emulated.state_bucket
    )
    yield emulated
    emulated.stop()


@pytest.fixture(scope="module")
def cycles(account: Any) -> dict[str, Cycle]:
    with ThreadPoolExecutor(max_workers=len(STACKS)) as pool:
        futures = {stack: pool.submit(_cycle, account, stack) for stack in STACKS}
        return {stack: future.result() for stack, future in futures.items()}


def _why(result: PipelineResult | None) -> str:
    return (
        "not run" if result is None else f"{result.message}\n{result.stages[-1].output_tail if result.stages else ''}"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_template_applies_and_a_second_plan_is_empty(cycles: dict[str, Cycle], stack: str) -> None:
    # GIVEN the template's stack for its team, WHEN it is applied, THEN the apply succeeds and created resources
    cycle = cycles[stack]
    assert cycle.applied.ok, _why(cycle.applied)
    assert cycle.applied.plan_summary["add"] > 0
    # AND a plan right after it finds nothing to add, change or replace: the read-back matches what was written
    assert cycle.replanned is not None and cycle.replanned.ok, _why(cycle.replanned)
    summary = cycle.replanned.plan_summary
    assert not summary["has_changes"], summary


@pytest.mark.parametrize("stack", STACKS)
def test_template_destroy_removes_every_resource(cycles: dict[str, Cycle], stack: str) -> None:
    # WHEN the stack is destroyed (plan -destroy, then apply), THEN it succeeds and removes what it had created
    cycle = cycles[stack]
    assert cycle.destroyed is not None and cycle.destroyed.ok, _why(cycle.destroyed)
    assert cycle.destroyed.plan_summary["destroy"] == cycle.applied.plan_summary["add"]


def test_nothing_is_left_in_the_account_after_the_destroys(account: Any, cycles: dict[str, Cycle]) -> None:
    # GIVEN every template applied and destroyed, THEN no cluster, cluster security group (EKS made it, EKS deletes
    # it), guardrail, collection or endpoint is left
    assert all(c.destroyed is not None and c.destroyed.ok for c in cycles.values())
    assert _inventory(account) == {
        "clusters": [],
        "cluster_security_groups": [],
        "guardrails": [],
        "collections": [],
        "endpoints": [],
    }
