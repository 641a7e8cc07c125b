"""`vend github configure` against a local GitHub that holds every request and response to GitHub's published OpenAPI
description (server.py): GIVEN a bootstrapped request, WHEN the set up runs, THEN the repository has what the trust
model and the workflow need, a second run writes nothing, a dry run writes nothing, drift is put back, and no call
violates the description (with negative controls showing a violation is caught)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.github.conftest import ACCOUNT, REGION, REPO, REVIEWER_TEAM, STAGE, TEAM, bootstrapped_record
from tests.github.server import GitHubState, LocalGitHub, Violation
from vending.exceptions import GitHubSetupFailed, InvalidRequest, NotConfigured
from vending.github_setup import GitHubAppSettings, app_client, configure_for_record
from vending.layout import cached_layout
from vending.trust import APPLY, PLAN, SUBJECT_CLAIM_KEYS

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "terraform.yml"


def configure(record: Any, settings: GitHubAppSettings, secretsmanager: Any, *, dry_run: bool = False) -> Any:
    return configure_for_record(
        record, layout=cached_layout(), settings=settings, secretsmanager=secretsmanager, dry_run=dry_run
    )


def assert_clean(server: LocalGitHub) -> None:
    """Every call was checked against the description, request and response, and none violated it."""
    assert server.app.violations == []
    assert server.app.validated == len(server.app.calls) > 0


def repository(state: GitHubState) -> Any:
    return state.repositories[REPO.lower()]


def workflow_variables() -> dict[str, set[str]]:
    """The `vars.X` each job of the workflow reads, keyed by the environment suffix of the job."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    out = {}
    for job in (PLAN, APPLY):
        text = yaml.safe_dump(jobs[job.job])
        assert jobs[job.job]["environment"] == "${{ matrix.environment }}" + job.environment_suffix
        out[job.environment_suffix] = set(re.findall(r"\bvars\.([A-Z0-9_]+)", text))
    return out


def test_configure_first_run_sets_subject_environments_and_the_workflow_variables(
    github: LocalGitHub, state: GitHubState, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    # GIVEN a repository with GitHub's defaults  WHEN the set up runs
    result = configure(record, settings, secretsmanager)

    # THEN the OIDC subject carries the claim keys the roles' trust policies are written for
    repo = repository(state)
    assert repo.oidc_sub == {"use_default": False, "include_claim_keys": list(SUBJECT_CLAIM_KEYS)}
    plan_env, apply_env = repo.environments[f"{TEAM}-{STAGE}-plan"], repo.environments[f"{TEAM}-{STAGE}"]
    # the apply environment is the gate: the layout's reviewer team, no self-review, deployments from main only
    assert apply_env.reviewers == [{"type": "Team", "id": state.teams[REVIEWER_TEAM]}]
    assert apply_env.prevent_self_review is True
    assert apply_env.branch_policy == {"protected_branches": False, "custom_branch_policies": True}
    assert [(p["name"], p["type"]) for p in apply_env.branch_policies.values()] == [("main", "branch")]
    # the plan environment runs pull requests from any branch, without reviewers
    assert plan_env.reviewers == [] and plan_env.branch_policy is None
    # every variable each job reads is set in its environment, with the bootstrapped account's values
    reads = workflow_variables()
    assert set(plan_env.variables) == reads["-plan"]
    assert set(apply_env.variables) == reads[""]
    assert plan_env.variables["PLAN_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT}:role/TeamCIPlanRole"
    assert apply_env.variables["APPLY_ROLE_ARN"] == record.ci_role_arn
    for env in (plan_env, apply_env):
        assert env.variables["AWS_ACCOUNT_ID"] == ACCOUNT
        assert env.variables["TF_STATE_BUCKET"] == record.state_bucket
        assert env.variables["TF_STATE_REGION"] == REGION
    # the writes reported are the writes the server received
    assert [(c.method, c.path) for c in result.writes] == github.app.writes
    assert_clean(github)


def test_configure_second_run_makes_zero_writes(
    github: LocalGitHub, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    configure(record, settings, secretsmanager)
    writes_before = list(github.app.writes)

    again = configure(record, settings, secretsmanager)

    assert again.writes == []
    assert github.app.writes == writes_before
    assert again.reads > 0
    assert_clean(github)


def test_configure_dry_run_prints_the_writes_a_real_run_then_sends(
    github: LocalGitHub, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    dry = configure(record, settings, secretsmanager, dry_run=True)
    assert github.app.writes == []  # the dry run sent nothing but reads (and the installation token)
    assert [m for m, _ in github.app.calls if m != "GET"] == ["POST"]  # POST /app/installations/.../access_tokens
    assert (
        dry.dry_run and len(dry.writes) == 1 + 2 + 1 + 4 + 4
    )  # subject, 2 environments, 1 branch policy, 4+4 variables

    real = configure(record, settings, secretsmanager)

    assert real.writes == dry.writes
    assert_clean(github)


def test_configure_puts_back_what_a_team_changed_and_nothing_else(
    github: LocalGitHub, state: GitHubState, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    configure(record, settings, secretsmanager)
    repo = repository(state)
    apply_env = repo.environments[f"{TEAM}-{STAGE}"]
    # GIVEN a team that widened its gate: default subject, no reviewers, a branch pattern beside main, a role swapped
    repo.oidc_sub = {"use_default": True}
    apply_env.reviewers, apply_env.prevent_self_review = [], False
    extra = {"id": 99, "node_id": "BP_x", "name": "*", "type": "branch"}
    apply_env.branch_policies[99] = extra
    apply_env.variables["APPLY_ROLE_ARN"] = "arn:aws:iam::111111111111:role/Other"
    apply_env.variables["TEAM_OWN"] = "kept"

    result = configure(record, settings, secretsmanager)

    base = f"/repos/{REPO}"
    assert [(c.method, c.path) for c in result.writes] == [
        ("PUT", f"{base}/actions/oidc/customization/sub"),
        ("PUT", f"{base}/environments/{TEAM}-{STAGE}"),
        ("DELETE", f"{base}/environments/{TEAM}-{STAGE}/deployment-branch-policies/99"),
        ("PATCH", f"{base}/environments/{TEAM}-{STAGE}/variables/APPLY_ROLE_ARN"),
    ]
    assert apply_env.reviewers and apply_env.prevent_self_review
    assert [p["name"] for p in apply_env.branch_policies.values()] == ["main"]
    assert apply_env.variables["APPLY_ROLE_ARN"] == record.ci_role_arn
    assert apply_env.variables["TEAM_OWN"] == "kept"
    assert configure(record, settings, secretsmanager).writes == []
    assert_clean(github)


def test_configure_paginates_variables(
    github: LocalGitHub, state: GitHubState, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    """More variables than a page (30): the ones we own are found on the second page, not created twice."""
    configure(record, settings, secretsmanager)
    plan_env = repository(state).environments[f"{TEAM}-{STAGE}-plan"]
    for i in range(40):
        plan_env.variables[f"A{i:02d}"] = "x"  # sort before ours: ours land on page 2

    assert configure(record, settings, secretsmanager).writes == []
    assert_clean(github)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"state_bucket": None, "status": "BOOTSTRAPPING"}, "has no state_bucket yet"),
        ({"account_id": None, "status": "CREATING"}, "has no account_id"),
        ({"status": "SUSPENDED"}, "is SUSPENDED: its account is retired"),
    ],
)
def test_configure_refuses_a_request_not_bootstrapped_or_retired(
    github: LocalGitHub, settings: GitHubAppSettings, secretsmanager: Any, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        configure(bootstrapped_record(**overrides), settings, secretsmanager)
    assert github.app.calls == []


def test_configure_refuses_without_reviewers_and_changes_nothing(
    github: LocalGitHub, settings: GitHubAppSettings, secretsmanager: Any
) -> None:
    """A team with no reviewers would get an apply environment without a gate: refused before any call."""
    record = bootstrapped_record(team="team-unlisted", request_id="team-unlisted-staging")
    with pytest.raises(InvalidRequest, match="github_reviewers: no required reviewers"):
        configure(record, settings, secretsmanager)
    assert github.app.calls == []


def test_configure_unknown_reviewer_is_refused_before_any_write(
    github: LocalGitHub, state: GitHubState, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    del state.teams[REVIEWER_TEAM]
    with pytest.raises(InvalidRequest, match="team 'example-org/team-mlops-leads' does not exist"):
        configure(record, settings, secretsmanager)
    assert github.app.writes == []
    assert_clean(github)


def test_configure_default_reviewers_setting_serves_teams_the_layout_lacks(
    github: LocalGitHub, state: GitHubState, settings: GitHubAppSettings, secretsmanager: Any
) -> None:
    record = bootstrapped_record(team="team-unlisted", request_id="team-unlisted-staging")
    with_default = GitHubAppSettings(**{**settings.__dict__, "default_reviewers": ("octocat",)})
    configure(record, with_default, secretsmanager)
    apply_env = repository(state).environments["team-unlisted-staging"]
    assert apply_env.reviewers == [{"type": "User", "id": state.users["octocat"]}]
    assert_clean(github)


def test_configure_without_the_app_setting_is_not_configured(secretsmanager: Any, record: Any) -> None:
    with pytest.raises(NotConfigured, match="VEND_GITHUB_APP_ID"):
        configure(record, GitHubAppSettings(app_id="", private_key_secret=""), secretsmanager)


def test_configure_app_not_installed_on_the_repository(
    github: LocalGitHub, settings: GitHubAppSettings, secretsmanager: Any
) -> None:
    record = bootstrapped_record(request={"repository": "example-org/elsewhere", "regions": [REGION]})
    with pytest.raises(GitHubSetupFailed, match="not installed on example-org/elsewhere"):
        configure(record, settings, secretsmanager)
    assert github.app.writes == []


def test_configure_with_another_key_is_refused_by_the_server(
    github: LocalGitHub, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    """Negative control of the server's authentication: a JWT signed with a key that is not the App's."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    with pytest.raises(GitHubSetupFailed, match="HTTP 401"):
        app_client(settings, pem, REPO)
    assert github.app.writes == []


# --- negative controls of the validation itself ---------------------------------------------------------------------


def test_server_reports_a_malformed_request_as_a_violation(
    github: LocalGitHub, settings: GitHubAppSettings, app_key: Any
) -> None:
    from githubkit.exception import RequestFailed

    from tests.github.conftest import _pem

    client = app_client(settings, _pem(app_key), REPO)
    env = f"/repos/{REPO}/environments/{TEAM}-{STAGE}"
    bad = [
        ("PUT", env, {"reviewers": [{"type": "User", "id": "octocat"}]}),  # id must be an integer
        ("PUT", f"/repos/{REPO}/actions/oidc/customization/sub", {"include_claim_keys": ["repo"]}),  # no use_default
        ("PUT", env, {"deployment_branch_policy": {"protected_branches": True}, "colour": "red"}),  # unknown field
        ("POST", f"{env}/variables", {"name": "X"}),  # no value
        ("PUT", f"/repos/{REPO}/environments/{TEAM}-{STAGE}/variables/X", {"value": "1"}),  # method not in spec
    ]
    for method, path, body in bad:
        with pytest.raises(RequestFailed) as refused:
            client.request(method, path, json=body)
        assert refused.value.response.status_code == 422
    assert [(v.kind, v.method, v.path) for v in github.app.violations] == [("request", m, p) for m, p, _ in bad]
    assert "is not of type 'integer'" in github.app.violations[0].error
    assert repository(github.app.state).environments == {}  # refused requests changed nothing


def test_server_reports_a_response_outside_the_description(
    github: LocalGitHub, state: GitHubState, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    """Plant a fault in the server: the subject customization answered with a string where a boolean belongs."""
    repository(state).oidc_sub = {"use_default": "no"}
    configure(record, settings, secretsmanager, dry_run=True)
    kinds = [(v.kind, v.path) for v in github.app.violations]
    assert ("response", f"/repos/{REPO}/actions/oidc/customization/sub") in kinds
    assert isinstance(github.app.violations[0], Violation)


def test_configure_environment_names_are_the_ones_the_roles_trust(record: Any) -> None:
    from vending.github_setup import desired_setup

    setup = desired_setup(record, ("octocat",))
    assert [e.name for e in setup.environments] == [PLAN.environment(TEAM, STAGE), APPLY.environment(TEAM, STAGE)]


# --- the vend step and the CLI ----------------------------------------------------------------------------------------


def test_github_step_without_the_app_setting_is_a_noop_that_says_so(github: LocalGitHub, record: Any) -> None:
    from vending.github_setup import github_step

    out = github_step(
        record,
        layout=cached_layout(),
        settings=GitHubAppSettings(app_id="", private_key_secret=""),
        secretsmanager=None,
    )
    assert out["status"] == "skipped" and "vend github configure team-mlops-staging" in out["reason"]
    assert github.app.calls == []


def test_github_step_with_the_app_setting_configures_the_repository(
    github: LocalGitHub, state: GitHubState, settings: GitHubAppSettings, secretsmanager: Any, record: Any
) -> None:
    from vending.github_setup import github_step

    out = github_step(record, layout=cached_layout(), settings=settings, secretsmanager=secretsmanager)
    assert out["status"] == "configured" and len(out["writes"]) == 12
    assert repository(state).environments[f"{TEAM}-{STAGE}"].reviewers
    assert_clean(github)


def test_cli_github_configure_dry_run_then_run_then_nothing_to_change(
    github: LocalGitHub,
    state: GitHubState,
    settings: GitHubAppSettings,
    secretsmanager: Any,
    record: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`vend github configure <id>` reads the record from the requests table and the App's key from its secret."""
    import boto3

    from vending.cli import main
    from vending.lifecycle import RequestStore

    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="vending-requests",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
    )
    RequestStore(ddb, "vending-requests")._put(record, condition="attribute_not_exists(request_id)")
    for name, value in {
        "VEND_REQUESTS_TABLE": "vending-requests",
        "VEND_GITHUB_APP_ID": settings.app_id,
        "VEND_GITHUB_APP_PRIVATE_KEY_SECRET": settings.private_key_secret,
        "VEND_GITHUB_API_URL": settings.api_url,
    }.items():
        monkeypatch.setenv(name, value)

    assert main(["github", "configure", record.request_id, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert github.app.writes == []
    assert f"{REPO}: " in dry and "would write 12" in dry
    assert f"PUT /repos/{REPO}/actions/oidc/customization/sub" in dry
    assert '"include_claim_keys": ["repo", "context", "job_workflow_ref"]' in dry

    assert main(["github", "configure", record.request_id]) == 0
    assert "wrote 12" in capsys.readouterr().out
    assert len(github.app.writes) == 12

    assert main(["github", "configure", record.request_id, "--json"]) == 0
    assert '"writes": []' in capsys.readouterr().out
    assert len(github.app.writes) == 12
    assert_clean(github)
    print(
        f"local GitHub: {len(github.app.calls)} calls, {github.app.validated} validated, "
        f"{len(github.app.violations)} violations"
    )


@pytest.mark.parametrize("reviewers", [["not a login"], ["-bad"], ["org/"], [f"user{i}" for i in range(7)]])
def test_layout_refuses_github_reviewers_github_would_refuse(reviewers: list[str]) -> None:
    from pydantic import ValidationError

    from vending.layout import DEFAULT_LAYOUT, Layout

    data = yaml.safe_load(Path(DEFAULT_LAYOUT).read_text())
    data["teams"][0]["github_reviewers"] = reviewers
    with pytest.raises(ValidationError, match="github_reviewers"):
        Layout.model_validate(data)
    data["teams"][0]["github_reviewers"] = ["octocat", "example-org/platform-leads"]
    Layout.model_validate(data)  # the control: well-formed reviewers load


@pytest.mark.parametrize(
    ("secret", "allowed"),
    [
        ("vend/github-app-private-key-AbC123", True),  # the App's key, with the suffix Secrets Manager appends
        ("vend/github-app-private-key-other-AbC123", False),  # a longer name sharing the prefix
        ("team-mlops/db-password-AbC123", False),
    ],
)
def test_bootstrap_role_reads_only_the_github_app_secret(secret: str, allowed: bool) -> None:
    """The Bootstrap function's role, rendered as the emulator and the stack render it, decided by scps.evaluate."""
    from landing_zone.local.runtime import _function_policy
    from scps.evaluate import Policies, Request, decide
    from vending.functions import FUNCTIONS
    from vending.settings import Settings

    account = "123456789012"
    spec = next(f for f in FUNCTIONS if f.key == "Bootstrap")
    policy = _function_policy(
        spec, account=account, organization_id="o-abcdefghij", settings=Settings.from_env(), layout=cached_layout()
    )
    request = Request(
        action="secretsmanager:GetSecretValue",
        resource=f"arn:aws:secretsmanager:us-east-1:{account}:secret:{secret}",
        principal_arn=f"arn:aws:iam::{account}:role/{spec.name}",
        literal_resource=True,
    )
    assert decide(request, Policies(identity=[policy])).allowed is allowed
