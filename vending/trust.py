"""The CI trust model, written once: which repository and which workflow job may assume which role of a vended account.

A team's stacks (terraform/environments/<team>/<stage>/<stack>/) run in the team's repository (the request's
`repository`, layout.yaml) by .github/workflows/terraform.yml:

- job `plan` (pull requests, and pushes to main before an apply) runs in the GitHub environment `<team>-<stage>-plan`
  and assumes the read-only plan role (TeamCIPlanRole): it can read the account and the state, and take the state
  lock, nothing else;
- job `apply` (pushes to main only, after the environment's required reviewers approved) runs in the environment
  `<team>-<stage>` and assumes the apply role (TeamCIRole), bounded by VendingCIBoundary.

IAM evaluates only some OIDC claims as condition keys (`aud`, `sub`; GitHub's docs: "support for custom claims for
OIDC is unavailable in AWS"), so `job_workflow_ref` is bound through the subject: the repository customizes its OIDC
subject to `repo`, `context` and `job_workflow_ref`
(PUT /repos/{owner}/{repo}/actions/oidc/customization/sub with include_claim_keys=SUBJECT_CLAIM_KEYS), giving
`repo:<owner/repo>:environment:<env>:job_workflow_ref:<owner/repo>/.github/workflows/terraform.yml@<ref>`.
bootstrap renders the roles' trust policies from this module; tests/vending/test_trust.py evaluates them against the
claims each job of the workflow presents.

The platform's own pipeline (the CodeBuild project's role in the management account; VendingPipelineRole on the
emulator) runs the same stacks for the vending workflow, so each role's trust also admits that one role by ARN: it
plans as the plan role and applies as the apply role, fenced by the account's SCPs and the boundary like the team's
own CI, never as a role the fences exempt. Nothing else is trusted; the SCPs and the boundary keep a team from
editing either trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vending.exceptions import NotConfigured

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
WORKFLOW_PATH = ".github/workflows/terraform.yml"
DEFAULT_BRANCH_REF = "refs/heads/main"
PULL_REQUEST_REF = "refs/pull/*/merge"  # the ref of a pull_request run (StringLike: any pull request number)
SUBJECT_CLAIM_KEYS = ("repo", "context", "job_workflow_ref")
PLAN_ROLE_NAME = "TeamCIPlanRole"
APPLY_ROLE_NAME = "TeamCIRole"  # deliberately NOT a platform role: the guardrails apply to it
GITHUB_SID = "GitHubWorkflowJob"
PIPELINE_SID = "PlatformPipeline"


@dataclass(frozen=True)
class CiJob:
    """One job of the workflow: the role it assumes, the environment it runs in, the refs it may run from."""

    job: str  # the job id in the workflow
    role_name: str
    environment_suffix: str  # environment = <team>-<stage><suffix>
    refs: tuple[str, ...]  # IAM StringLike patterns for the ref in job_workflow_ref
    read_only: bool

    def environment(self, team: str, stage: str) -> str:
        return f"{team}-{stage}{self.environment_suffix}"


PLAN = CiJob(
    job="plan",
    role_name=PLAN_ROLE_NAME,
    environment_suffix="-plan",
    refs=(PULL_REQUEST_REF, DEFAULT_BRANCH_REF),
    read_only=True,
)
APPLY = CiJob(
    job="apply", role_name=APPLY_ROLE_NAME, environment_suffix="", refs=(DEFAULT_BRANCH_REF,), read_only=False
)
JOBS = (PLAN, APPLY)


def job_workflow_ref(repository: str, ref: str) -> str:
    return f"{repository}/{WORKFLOW_PATH}@{ref}"


def subject(repository: str, environment: str, ref: str) -> str:
    """The `sub` claim of a job in an environment, under the SUBJECT_CLAIM_KEYS customization."""
    return f"repo:{repository}:environment:{environment}:job_workflow_ref:{job_workflow_ref(repository, ref)}"


def trust_policy(
    job: CiJob, *, provider_arn: str, repository: str, team: str, stage: str, pipeline_role_arn: str = ""
) -> dict[str, Any]:
    """Only `job` of the workflow, in this repository and this team/stage's environment, from its refs; and, when
    given, the platform pipeline's role (one ARN, no wildcard)."""
    environment = job.environment(team, stage)
    subjects = [subject(repository, environment, ref) for ref in job.refs]
    platform: list[dict[str, Any]] = []
    if pipeline_role_arn:
        if "*" in pipeline_role_arn or ":role/" not in pipeline_role_arn:
            raise NotConfigured(
                f"VEND_PIPELINE_ROLE_ARN: the pipeline role must be one role ARN, got {pipeline_role_arn!r}"
            )
        platform.append(
            {
                "Sid": PIPELINE_SID,
                "Effect": "Allow",
                "Principal": {"AWS": pipeline_role_arn},
                "Action": "sts:AssumeRole",
            }
        )
    return {
        "Version": "2012-10-17",
        "Statement": [
            *platform,
            {
                "Sid": GITHUB_SID,
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": AUDIENCE},
                    "StringLike": {f"{GITHUB_OIDC_HOST}:sub": subjects if len(subjects) > 1 else subjects[0]},
                },
            },
        ],
    }
