"""Who may assume a vended account's CI roles, decided by the project's one evaluator (scps.evaluate) on the trust
policies IAM holds after bootstrap and after a repository change.

- GIVEN a bootstrapped account WHEN the platform pipeline's role, another role of the management account, or a role
  of the member account itself asks THEN only the pipeline's role is admitted (to both roles), and GitHub's jobs
  still only by their own claims.
- GIVEN a repository change (vending.changes.converge_account) THEN both trusts move: the old repository's claims are
  refused and the new one's admitted, for the plan role as for the apply role (before the fix the plan role kept
  trusting the old repository).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from scps import evaluate
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.bootstrap import bootstrap_account
from vending.changes import converge_account
from vending.exceptions import NotConfigured
from vending.layout import Layout
from vending.request import VendingRequest
from vending.trust import APPLY, APPLY_ROLE_NAME, GITHUB_OIDC_HOST, PLAN, PLAN_ROLE_NAME, subject, trust_policy

TEAM, STAGE, REGION = "team-mlops", "staging", "us-east-1"
OLD_REPO, NEW_REPO = "example-org/team-mlops-infra", "example-org/mlops-platform"
MANAGEMENT = "123456789012"
PIPELINE_ROLE = f"arn:aws:iam::{MANAGEMENT}:role/VendingPipelineRole"


def _admits_role(trust: dict[str, Any], role_arn: str, caller_session_arn: str) -> bool:
    """sts:AssumeRole by a role session; its identity policy allows it, so the trust policy decides."""
    request = evaluate.Request(
        action="sts:AssumeRole",
        resource=role_arn,
        principal=evaluate.Principal.from_arn(caller_session_arn),
        literal_resource=True,
    )
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    policies = evaluate.Policies(
        identity=[allow_all], resource=trust, resource_account=role_arn.split(":")[4], resource_kind="trust"
    )
    return evaluate.decide(request, policies).allowed


def _admits_job(trust: dict[str, Any], role_arn: str, sub: str) -> bool:
    """sts:AssumeRoleWithWebIdentity with GitHub's claims, as the emulator's middleware decides it."""
    provider = f"arn:aws:iam::{role_arn.split(':')[4]}:oidc-provider/{GITHUB_OIDC_HOST}"
    request = evaluate.Request(
        action="sts:AssumeRoleWithWebIdentity",
        resource=role_arn,
        principal_arn=provider,
        principal=evaluate.Principal(arn="", federated=provider),
        context={f"{GITHUB_OIDC_HOST}:sub": sub, f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"},
        literal_resource=True,
    )
    policies = evaluate.Policies(resource=trust, resource_account=role_arn.split(":")[4], resource_kind="trust")
    return evaluate.decide(request, policies).allowed


def _trusts(session: boto3.Session) -> dict[str, tuple[str, dict[str, Any]]]:
    roles = {r["RoleName"]: r for r in session.client("iam").list_roles()["Roles"]}
    return {
        job: (roles[name]["Arn"], roles[name]["AssumeRolePolicyDocument"])
        for job, name in (("plan", PLAN_ROLE_NAME), ("apply", APPLY_ROLE_NAME))
    }


def _job_subjects(repository: str) -> dict[str, list[str]]:
    """Each job's subjects (every ref it runs from) for a repository."""
    return {
        job.job: [subject(repository, job.environment(TEAM, STAGE), ref.replace("*", "42")) for ref in job.refs]
        for job in (PLAN, APPLY)
    }


@pytest.fixture
def member(org: Any, member_account: Callable[[str, str], str]) -> tuple[str, boto3.Session]:
    account_id = member_account("aws+team-mlops-staging@example.com", "team-mlops-staging")
    session = assume_role_session(
        boto3.client("sts", region_name=REGION),
        access_role_arn(account_id, "OrganizationAccountAccessRole"),
        "trust-test",
        REGION,
    )
    bootstrap_account(
        session,
        account_id=account_id,
        region=REGION,
        repository=OLD_REPO,
        stage=STAGE,
        team=TEAM,
        pipeline_role_arn=PIPELINE_ROLE,
    )
    return account_id, session


def test_only_the_platform_pipeline_role_is_trusted_besides_github(member: tuple[str, boto3.Session]) -> None:
    account_id, session = member
    callers = {
        "the platform pipeline": f"arn:aws:sts::{MANAGEMENT}:assumed-role/VendingPipelineRole/plan-bootstrap",
        "another management role": f"arn:aws:sts::{MANAGEMENT}:assumed-role/VendingAuditRole/x",
        "the member's access role": f"arn:aws:sts::{account_id}:assumed-role/OrganizationAccountAccessRole/x",
        "a team role of the member": f"arn:aws:sts::{account_id}:assumed-role/team-mlops-workload/x",
        "a role of another account named alike": "arn:aws:sts::210987654321:assumed-role/VendingPipelineRole/x",
    }
    for job, (role_arn, trust) in _trusts(session).items():
        admitted = {who for who, arn in callers.items() if _admits_role(trust, role_arn, arn)}
        assert admitted == {"the platform pipeline"}, (job, admitted)


def test_trust_policy_refuses_a_wildcard_pipeline_principal() -> None:
    for bad in ("arn:aws:iam::*:role/VendingPipelineRole", "arn:aws:iam::123456789012:root", "*"):
        with pytest.raises(NotConfigured, match="one role ARN"):
            trust_policy(
                APPLY,
                provider_arn="arn:aws:iam::1:oidc-provider/x",
                repository=OLD_REPO,
                team=TEAM,
                stage=STAGE,
                pipeline_role_arn=bad,
            )


def test_a_repository_change_moves_both_trusts(member: tuple[str, boto3.Session], layout: Layout) -> None:
    """The repository-change trust table: (repository, job) -> roles that admit it, before and after the change."""
    account_id, session = member

    def table() -> dict[tuple[str, str], set[str]]:
        trusts = _trusts(session)
        return {
            (repo, job): {
                role for role, (arn, trust) in trusts.items() if all(_admits_job(trust, arn, sub) for sub in subs)
            }
            for repo in (OLD_REPO, NEW_REPO)
            for job, subs in _job_subjects(repo).items()
        }

    assert table() == {
        (OLD_REPO, "plan"): {"plan"},
        (OLD_REPO, "apply"): {"apply"},
        (NEW_REPO, "plan"): set(),
        (NEW_REPO, "apply"): set(),
    }
    changed = VendingRequest.model_validate(
        {
            "team": TEAM,
            "stage": STAGE,
            "owner_email": "mlops@example.com",
            "cost_center": "CC-1001",
            "gpu_tier": "none",
            "regions": [REGION],
            "stacks": ["bootstrap"],
            "repository": NEW_REPO,
        }
    )
    changes = converge_account(session, layout, changed, account_id=account_id, pipeline_role_arn=PIPELINE_ROLE)
    assert len([c for c in changes if c.startswith("ci_role_trust")]) == 2
    # THEN the new repository's jobs are admitted by their own role only, and the old repository by neither
    assert table() == {
        (OLD_REPO, "plan"): set(),
        (OLD_REPO, "apply"): set(),
        (NEW_REPO, "plan"): {"plan"},
        (NEW_REPO, "apply"): {"apply"},
    }
    # AND the platform pipeline is still admitted by both
    pipeline = f"arn:aws:sts::{MANAGEMENT}:assumed-role/VendingPipelineRole/apply-bootstrap"
    assert all(_admits_role(trust, arn, pipeline) for arn, trust in _trusts(session).values())
