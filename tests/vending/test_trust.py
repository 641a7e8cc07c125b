"""The trust model against the real workflow: the roles bootstrap creates, evaluated against the OIDC claims each job of
.github/workflows/terraform.yml would present (GIVEN the parsed workflow, WHEN a job asks, THEN only its role admits).

The claims are built from the workflow file as GitHub documents them, not from vending/trust.py: environment names per
job from `environment:`, the events and refs each job runs on from `on:` and the job's `if:`, and the workflow path
from where the file is. The subject carries job_workflow_ref because the repository's OIDC subject is customized to
include it (vending/trust.py explains why AWS needs that).
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from vending.aws.sessions import access_role_arn, assume_role_session
from vending.bootstrap import bootstrap_account

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILE = REPO_ROOT / ".github" / "workflows" / "terraform.yml"
WORKFLOW_PATH = WORKFLOW_FILE.relative_to(REPO_ROOT).as_posix()
REPO = "example-org/team-mlops-infra"
TEAM, STAGE = "team-mlops", "staging"
HOST = "token.actions.githubusercontent.com"
# One run per way the workflow can start: (event_name, ref).
EVENTS = {"pull_request": "refs/pull/42/merge", "push": "refs/heads/main", "workflow_dispatch": "refs/heads/main"}


def _matrix_entry() -> dict[str, str]:
    """What the discover job feeds the matrix, for this team and stage (the real command)."""
    out = subprocess.run(
        [sys.executable, "-m", "vending.pipeline.ci", "--all", "--matrix"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    return next(e for e in json.loads(out) if e["stack"].startswith(f"{TEAM}/{STAGE}/"))


def _expression(text: str, context: dict[str, str]) -> str:
    """Substitute ${{ a.b }} with the context's values (the subset the workflow uses in environment names)."""
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: context[m.group(1)], text)


def _job_runs(condition: str | None, context: dict[str, str]) -> bool:
    """Evaluate a job's `if:` (==, !=, &&, || over context values and quoted strings)."""
    if not condition:
        return True
    expr = re.sub(r"\b(github|needs)\.[\w.]+", lambda m: repr(context[m.group(0)]), condition)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    leftover = re.sub(r"'[^']*'|==|!=|\band\b|\bor\b|[\s()]", "", expr)
    assert leftover == "", f"cannot evaluate {condition!r}: {leftover!r}"
    return bool(eval(expr, {"__builtins__": {}}))  # noqa: S307 - only quoted literals and comparisons remain


def _oidc_jobs() -> list[dict[str, Any]]:
    """Each (job, event) of the workflow that requests an OIDC token, with the claims it would present."""
    workflow = yaml.safe_load(WORKFLOW_FILE.read_text())
    triggers = workflow.get("on", workflow.get(True))  # PyYAML reads the bare key `on` as True
    entry = _matrix_entry()
    runs = []
    for name, job in workflow["jobs"].items():
        if job.get("permissions", {}).get("id-token") != "write":
            continue
        for event in triggers:
            ref = EVENTS[event]
            context = {
                "github.event_name": event,
                "github.ref": ref,
                "needs.discover.outputs.matrix": "[x]",
                "matrix.environment": entry["environment"],
                "matrix.stack": entry["stack"],
            }
            if not _job_runs(job.get("if"), context):
                continue
            environment = _expression(job["environment"], context)
            runs.append(
                {
                    "job": name,
                    "event": event,
                    "claims": {
                        "aud": "sts.amazonaws.com",
                        "sub": f"repo:{REPO}:environment:{environment}:job_workflow_ref:{REPO}/{WORKFLOW_PATH}@{ref}",
                    },
                }
            )
    return runs


def _admits(policy: dict[str, Any], provider_arn: str, claims: dict[str, str]) -> bool:
    """IAM's evaluation of a trust policy for AssumeRoleWithWebIdentity: an Allow whose principal, action and every
    condition (StringEquals / StringLike; a list of values is any-of) match, and no Deny."""

    def matches(statement: dict[str, Any]) -> bool:
        if statement.get("Principal", {}).get("Federated") != provider_arn:
            return False
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "sts:AssumeRoleWithWebIdentity" not in actions:
            return False
        for operator, keys in statement.get("Condition", {}).items():
            for key, expected in keys.items():
                assert key.startswith(f"{HOST}:"), key
                value = claims.get(key.split(":", 1)[1])
                values = expected if isinstance(expected, list) else [expected]
                if operator == "StringEquals":
                    ok = value in values
                elif operator == "StringLike":
                    ok = value is not None and any(fnmatch.fnmatchcase(value, v) for v in values)
                else:
                    raise AssertionError(f"the evaluator does not know {operator}")
                if not ok:
                    return False
        return True

    statements = policy["Statement"]
    return any(s["Effect"] == "Allow" and matches(s) for s in statements) and not any(
        s["Effect"] == "Deny" and matches(s) for s in statements
    )


@pytest.fixture
def roles(org: Any, member_account: Callable[[str, str], str]) -> dict[str, Any]:
    """GIVEN a vended account bootstrapped for the team's repository: the trust policies IAM holds for its CI roles."""
    account_id = member_account("aws+team-mlops-staging@example.com", "team-mlops-staging")
    session = assume_role_session(
        boto3.client("sts", region_name="us-east-1"),
        access_role_arn(account_id, "OrganizationAccountAccessRole"),
        "trust-test",
        "us-east-1",
    )
    result = bootstrap_account(
        session, account_id=account_id, region="us-east-1", repository=REPO, stage=STAGE, team=TEAM
    )
    iam = session.client("iam")
    by_arn = {r["Arn"]: r for r in iam.list_roles()["Roles"]}
    return {
        "provider": result.oidc_provider_arn,
        "plan": by_arn[result.plan_role_arn]["AssumeRolePolicyDocument"],
        "apply": by_arn[result.ci_role_arn]["AssumeRolePolicyDocument"],
    }


def test_trust_each_job_assumes_only_its_own_role(roles: dict[str, Any]) -> None:
    runs = _oidc_jobs()
    # the workflow has a plan job on pull requests and on main, and an apply job on pushes to main only
    assert {(r["job"], r["event"]) for r in runs} >= {("plan", "pull_request"), ("plan", "push"), ("apply", "push")}
    assert not [r for r in runs if r["job"] == "apply" and r["event"] != "push"]
    for run in runs:
        admitted = {name for name in ("plan", "apply") if _admits(roles[name], roles["provider"], run["claims"])}
        # THEN each job's claims are admitted by exactly the role of that job
        assert admitted == {run["job"]}, (run, admitted)


def test_trust_other_repositories_branches_workflows_and_audiences_are_refused(roles: dict[str, Any]) -> None:
    workflow_ref = f"{REPO}/{WORKFLOW_PATH}"
    refused = {
        "another repository": f"repo:evil-org/fork:environment:{TEAM}-{STAGE}:job_workflow_ref:"
        f"evil-org/fork/{WORKFLOW_PATH}@refs/heads/main",
        "a pull request in the apply environment": f"repo:{REPO}:environment:{TEAM}-{STAGE}:job_workflow_ref:"
        f"{workflow_ref}@refs/pull/42/merge",
        "a feature branch": f"repo:{REPO}:environment:{TEAM}-{STAGE}-plan:job_workflow_ref:"
        f"{workflow_ref}@refs/heads/feature",
        "another workflow of the repository": f"repo:{REPO}:environment:{TEAM}-{STAGE}:job_workflow_ref:"
        f"{REPO}/.github/workflows/other.yml@refs/heads/main",
        "another team's environment": f"repo:{REPO}:environment:team-backend-{STAGE}:job_workflow_ref:"
        f"{workflow_ref}@refs/heads/main",
        "the default subject (no job_workflow_ref)": f"repo:{REPO}:environment:{TEAM}-{STAGE}",
        "a pull request without an environment": f"repo:{REPO}:pull_request",
    }
    for why, sub in refused.items():
        for role in ("plan", "apply"):
            assert not _admits(roles[role], roles["provider"], {"aud": "sts.amazonaws.com", "sub": sub}), (why, role)
    # AND a token minted for another audience is refused even with the right subject
    good = f"repo:{REPO}:environment:{TEAM}-{STAGE}:job_workflow_ref:{workflow_ref}@refs/heads/main"
    assert _admits(roles["apply"], roles["provider"], {"aud": "sts.amazonaws.com", "sub": good})
    assert not _admits(roles["apply"], roles["provider"], {"aud": "https://github.com/example-org", "sub": good})


def test_trust_policy_is_the_policy_language_version_that_substitutes_variables() -> None:
    from vending.trust import JOBS, trust_policy

    # GIVEN each job's trust policy
    for job in JOBS:
        policy = trust_policy(
            job, provider_arn="arn:aws:iam::1:oidc-provider/x", repository=REPO, team=TEAM, stage=STAGE
        )
        # THEN it names the 2012-10-17 language: without it IAM reads the document in the 2008 language, where
        # condition values are literal text (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html)
        assert policy["Version"] == "2012-10-17"
        assert set(policy) == {"Version", "Statement"}
