"""GitHub set up for a vended account: what the team's repository needs before its CI can assume the account's roles.

From the request's record and the trust model (vending/trust.py), through GitHub's REST API (githubkit):

- the repository's OIDC subject template: `use_default: false`, `include_claim_keys: SUBJECT_CLAIM_KEYS`, so the
  `sub` claim names the environment and the workflow ref the roles' trust policies expect;
- the plan environment `<team>-<stage>-plan`: no reviewers and no branch policy (pull requests from any branch plan);
- the apply environment `<team>-<stage>`: required reviewers (the apply gate; self-review refused) and deployments
  from `main` only (a custom branch policy; any other policy is removed). Without it GitHub creates the environment
  on first use with no protection, and the gate silently disappears;
- the variables the workflow reads (.github/workflows/terraform.yml): AWS_ACCOUNT_ID, TF_STATE_BUCKET and
  TF_STATE_REGION in both, PLAN_ROLE_ARN in the plan environment, APPLY_ROLE_ARN in the apply environment. Other
  variables are left as they are.

Everything is read first and only the differences are written, so a second run writes nothing. The writes are data
(`Call`): `--dry-run` prints them, a real run sends exactly them.

Credentials: a GitHub App (VEND_GITHUB_APP_ID; its private key in the Secrets Manager secret named by
VEND_GITHUB_APP_PRIVATE_KEY_SECRET, by default `vend/github-app-private-key`), installed on the team's repository with
the Administration (environments, OIDC customization) and Variables permissions, read and write. Never a static token.
Without the setting the vend step is a no-op that says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from vending.exceptions import GitHubSetupFailed, InvalidRequest, NotConfigured
from vending.layout import Layout
from vending.lifecycle import RETIRED, RequestRecord
from vending.trust import APPLY, DEFAULT_BRANCH_REF, PLAN, PLAN_ROLE_NAME, SUBJECT_CLAIM_KEYS, CiJob

GITHUB_API_URL = "https://api.github.com"
# The Secrets Manager secret holding the App's private key, unless VEND_GITHUB_APP_PRIVATE_KEY_SECRET names another:
# the Bootstrap function is granted this name only (vending/functions.py: github_app_secret).
DEFAULT_PRIVATE_KEY_SECRET = "vend/github-app-private-key"  # noqa: S105 (a secret's name, not a secret)
MAIN_BRANCH = DEFAULT_BRANCH_REF.removeprefix("refs/heads/")
# GitHub: "You can list up to six users or teams as reviewers."
MAX_REVIEWERS = 6
# A reviewer is a user login or an organization team (`org/team-slug`).
_LOGIN = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"
REVIEWER = re.compile(rf"(?P<org>{_LOGIN})/(?P<team>[A-Za-z0-9._-]{{1,100}})|(?P<user>{_LOGIN})", re.ASCII)
# The largest page each list endpoint returns (GitHub's docs: per_page "max 100"; variables: "max 30").
_PAGE = 100
_VARIABLES_PAGE = 30


@dataclass(frozen=True)
class GitHubAppSettings:
    """Read from the environment at call time. app_id empty: GitHub set up is off."""

    app_id: str
    private_key_secret: str  # a Secrets Manager secret id or ARN holding the App's PEM private key
    api_url: str = GITHUB_API_URL
    default_reviewers: tuple[str, ...] = ()  # for teams the layout gives none (VEND_GITHUB_REVIEWERS, comma list)

    @classmethod
    def from_env(cls) -> GitHubAppSettings:
        env = os.environ.get
        return cls(
            app_id=env("VEND_GITHUB_APP_ID", "").strip(),
            private_key_secret=env("VEND_GITHUB_APP_PRIVATE_KEY_SECRET", "").strip() or DEFAULT_PRIVATE_KEY_SECRET,
            api_url=env("VEND_GITHUB_API_URL", GITHUB_API_URL).rstrip("/"),
            default_reviewers=tuple(r.strip() for r in env("VEND_GITHUB_REVIEWERS", "").split(",") if r.strip()),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.app_id)

    def require(self) -> None:
        if not self.app_id or not self.private_key_secret:
            raise NotConfigured(
                "GitHub set up needs a GitHub App: VEND_GITHUB_APP_ID and VEND_GITHUB_APP_PRIVATE_KEY_SECRET "
                "(the Secrets Manager secret holding its private key)"
            )


@dataclass(frozen=True)
class Call:
    """One write to GitHub's REST API."""

    method: str
    path: str
    body: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "body": self.body}


@dataclass(frozen=True)
class EnvironmentSpec:
    name: str
    reviewers: tuple[str, ...]  # empty: no required reviewers
    main_only: bool  # deployments from the default branch only
    variables: dict[str, str]


@dataclass(frozen=True)
class RepositorySetup:
    """What the repository must look like for this request (pure: from the record, the trust model, the layout)."""

    owner: str
    repo: str
    environments: tuple[EnvironmentSpec, ...]
    subject_claim_keys: tuple[str, ...] = SUBJECT_CLAIM_KEYS

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.repo}"


@dataclass
class ConfigureResult:
    repository: str
    dry_run: bool
    reads: int = 0
    writes: list[Call] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "dry_run": self.dry_run,
            "reads": self.reads,
            "writes": [c.as_dict() for c in self.writes],
        }


def role_arn(account_id: str, role_name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{role_name}"


def reviewers_for(team: str, layout: Layout, settings: GitHubAppSettings) -> tuple[str, ...]:
    """The apply environment's reviewers: the layout's team entry, else the deployment's default list."""
    spec = layout.team(team)
    reviewers = (spec.github_reviewers if spec else ()) or settings.default_reviewers
    if not reviewers:
        raise InvalidRequest(
            f"github_reviewers: no required reviewers for {team}'s apply environment; set `github_reviewers` for the "
            "team in landing_zone/layout.yaml (or VEND_GITHUB_REVIEWERS): without them the apply gate does not exist"
        )
    return validate_reviewers(reviewers)


def validate_reviewers(reviewers: tuple[str, ...]) -> tuple[str, ...]:
    bad = [r for r in reviewers if not REVIEWER.fullmatch(r)]
    if bad:
        raise InvalidRequest(f"github_reviewers: {bad} are not GitHub user logins or org/team slugs")
    if len(set(reviewers)) > MAX_REVIEWERS:
        raise InvalidRequest(f"github_reviewers: {len(set(reviewers))} reviewers, GitHub allows {MAX_REVIEWERS}")
    return tuple(dict.fromkeys(reviewers))


def desired_setup(record: RequestRecord, reviewers: tuple[str, ...]) -> RepositorySetup:
    """The repository's set up for a bootstrapped request (its account, state bucket and roles exist)."""
    if record.status in RETIRED:
        raise InvalidRequest(
            f"request: {record.request_id} is {record.status.value}: its account is retired, no CI may deploy to it"
        )
    missing = [n for n in ("account_id", "state_bucket", "ci_role_arn") if not getattr(record, n)]
    if missing:
        raise InvalidRequest(
            f"request: {record.request_id} is {record.status.value} and has no {', '.join(missing)} yet; "
            "GitHub is set up once the account is bootstrapped"
        )
    request = record.request
    owner, _, repo = str(request["repository"]).partition("/")
    regions = request.get("regions") or ()
    if not regions:
        raise InvalidRequest(f"request: {record.request_id} has no region")
    account_id, bucket, apply_role = str(record.account_id), str(record.state_bucket), str(record.ci_role_arn)
    common = {
        "AWS_ACCOUNT_ID": account_id,
        "TF_STATE_BUCKET": bucket,
        "TF_STATE_REGION": str(regions[0]),  # the home region: bootstrap made the bucket there
    }
    role_variables = {
        PLAN: {"PLAN_ROLE_ARN": role_arn(account_id, PLAN_ROLE_NAME)},
        APPLY: {"APPLY_ROLE_ARN": apply_role},
    }

    def environment(job: CiJob) -> EnvironmentSpec:
        gated = not job.read_only
        return EnvironmentSpec(
            name=job.environment(record.team, record.stage),
            reviewers=reviewers if gated else (),
            main_only=gated,
            variables={**common, **role_variables[job]},
        )

    return RepositorySetup(owner=owner, repo=repo, environments=(environment(PLAN), environment(APPLY)))


class _Reader:
    """The reads, counted; a 404 is None."""

    def __init__(self, github: Any) -> None:
        self.github = github
        self.count = 0

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        from githubkit.exception import RequestFailed

        self.count += 1
        try:
            return self.github.request("GET", path, params=params).json()
        except RequestFailed as e:
            if e.response.status_code == 404:
                return None
            raise GitHubSetupFailed(f"GET {path}: HTTP {e.response.status_code}: {_message(e)}") from e

    def pages(self, path: str, key: str, size: int = _PAGE) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self.get(path, {"per_page": size, "page": page})
            items = (body or {}).get(key, [])
            yield from items
            if len(items) < size:
                return
            page += 1


def _message(e: Any) -> str:
    try:
        return str(e.response.json().get("message", ""))
    except Exception:
        return e.response.text[:200]


def plan_writes(github: Any, setup: RepositorySetup) -> tuple[list[Call], int]:
    """Read the repository and return the writes that bring it to `setup`, in order, and the number of reads."""
    read = _Reader(github)
    base = f"/repos/{setup.owner}/{setup.repo}"
    writes: list[Call] = []

    sub = read.get(f"{base}/actions/oidc/customization/sub")
    if sub is None:
        raise GitHubSetupFailed(f"repository {setup.repository}: not found, or the GitHub App is not installed on it")
    want_sub = {"use_default": False, "include_claim_keys": list(setup.subject_claim_keys)}
    if sub.get("use_default", True) or list(sub.get("include_claim_keys") or []) != want_sub["include_claim_keys"]:
        writes.append(Call("PUT", f"{base}/actions/oidc/customization/sub", want_sub))

    reviewer_ids = {r: _reviewer(read, r) for env in setup.environments for r in env.reviewers}
    # One list instead of a GET per environment: GitHub's description documents no 404 for "Get an environment".
    environments = {e["name"]: e for e in read.pages(f"{base}/environments", "environments")}
    for env in setup.environments:
        env_path = f"{base}/environments/{env.name}"
        actual = environments.get(env.name)
        body = _environment_body(env, reviewer_ids)
        if actual is None or not _environment_matches(actual, body):
            writes.append(Call("PUT", env_path, body))
        if env.main_only:
            policies = list(read.pages(f"{env_path}/deployment-branch-policies", "branch_policies")) if actual else []
            wanted = {(MAIN_BRANCH, "branch")}
            have = {(p["name"], p.get("type", "branch")): p for p in policies}
            writes += [
                Call("POST", f"{env_path}/deployment-branch-policies", {"name": name, "type": kind})
                for name, kind in sorted(wanted - set(have))
            ]
            writes += [
                Call("DELETE", f"{env_path}/deployment-branch-policies/{p['id']}")
                for key, p in sorted(have.items())
                if key not in wanted  # any other pattern would let another branch deploy past the gate
            ]
        variables = read.pages(f"{env_path}/variables", "variables", _VARIABLES_PAGE) if actual else iter(())
        existing = {v["name"]: v["value"] for v in variables}
        for name, value in env.variables.items():
            if name not in existing:
                writes.append(Call("POST", f"{env_path}/variables", {"name": name, "value": value}))
            elif existing[name] != value:
                writes.append(Call("PATCH", f"{env_path}/variables/{name}", {"name": name, "value": value}))
    return writes, read.count


def _reviewer(read: _Reader, reviewer: str) -> dict[str, Any]:
    match = REVIEWER.fullmatch(reviewer)
    if not match:
        raise InvalidRequest(f"github_reviewers: {reviewer!r} is not a GitHub user login or org/team slug")
    if match["user"]:
        found = read.get(f"/users/{match['user']}")
        kind = "User"
    else:
        found = read.get(f"/orgs/{match['org']}/teams/{match['team']}")
        kind = "Team"
    if not found:
        raise InvalidRequest(f"github_reviewers: {kind.lower()} {reviewer!r} does not exist on GitHub")
    return {"type": kind, "id": int(found["id"])}


def _environment_body(env: EnvironmentSpec, reviewer_ids: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if env.main_only:
        return {
            "prevent_self_review": True,
            "reviewers": [reviewer_ids[r] for r in env.reviewers],
            "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
        }
    return {"reviewers": [], "deployment_branch_policy": None}


def _environment_matches(actual: dict[str, Any], body: dict[str, Any]) -> bool:
    """Does the environment GitHub returned already have the protection `body` would set?"""
    rule = next((r for r in actual.get("protection_rules") or [] if r.get("type") == "required_reviewers"), None)
    have_reviewers = {(r.get("type"), (r.get("reviewer") or {}).get("id")) for r in (rule or {}).get("reviewers") or []}
    want_reviewers = {(r["type"], r["id"]) for r in body["reviewers"]}
    if have_reviewers != want_reviewers:
        return False
    if want_reviewers and not (rule or {}).get("prevent_self_review", False):
        return False
    want_policy = body["deployment_branch_policy"]
    have_policy = actual.get("deployment_branch_policy")
    if want_policy is None or have_policy is None:
        return want_policy == have_policy
    return all(have_policy.get(k) == v for k, v in want_policy.items())


def configure_repository(github: Any, setup: RepositorySetup, *, dry_run: bool = False) -> ConfigureResult:
    """Bring the repository to `setup`: read, then send only the differing writes (none when dry_run)."""
    from githubkit.exception import RequestFailed

    writes, reads = plan_writes(github, setup)
    result = ConfigureResult(repository=setup.repository, dry_run=dry_run, reads=reads, writes=writes)
    if dry_run:
        return result
    for call in writes:
        try:
            github.request(call.method, call.path, json=call.body)
        except RequestFailed as e:
            raise GitHubSetupFailed(
                f"{call.method} {call.path}: HTTP {e.response.status_code}: {_message(e)}"
                f" (the App needs Administration and Variables: read and write on {setup.repository})"
            ) from e
    return result


def app_client(settings: GitHubAppSettings, private_key: str, repository: str) -> Any:
    """A githubkit client authenticated as the App's installation on `repository` (a short-lived token)."""
    from githubkit import AppAuthStrategy, GitHub
    from githubkit.cache import MemCacheStrategy
    from githubkit.exception import RequestFailed

    # Its own token cache: githubkit's default is process-wide, keyed by App and installation, so a rotated key or
    # another server would be answered from the cache. One run needs one installation token.
    app = GitHub(
        AppAuthStrategy(settings.app_id, private_key), base_url=settings.api_url, cache_strategy=MemCacheStrategy()
    )
    owner, _, repo = repository.partition("/")
    try:
        with app:
            installation = app.rest.apps.get_repo_installation(owner, repo).parsed_data
    except RequestFailed as e:
        raise GitHubSetupFailed(
            f"GitHub App {settings.app_id} is not installed on {repository} (HTTP {e.response.status_code})"
        ) from e
    return app.with_auth(app.auth.as_installation(installation.id))


def private_key_from_secret(secretsmanager: Any, secret_id: str) -> str:
    return str(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"])


def configure_for_record(
    record: RequestRecord,
    *,
    layout: Layout,
    settings: GitHubAppSettings,
    secretsmanager: Any,
    dry_run: bool = False,
) -> ConfigureResult:
    """`vend github configure` and the vend step: the record's repository, set up with the App's credentials."""
    settings.require()
    setup = desired_setup(record, reviewers_for(record.team, layout, settings))
    github = app_client(
        settings, private_key_from_secret(secretsmanager, settings.private_key_secret), setup.repository
    )
    with github:  # one HTTP client for the run (githubkit otherwise builds one, TLS context and all, per call)
        return configure_repository(github, setup, dry_run=dry_run)


def github_step(
    record: RequestRecord, *, layout: Layout, settings: GitHubAppSettings, secretsmanager: Any
) -> dict[str, Any]:
    """The vend step, run by Bootstrap once the account's roles exist (vending/handlers/bootstrap.py): configure the
    repository when a GitHub App is configured, else say that it was skipped and what to do instead."""
    if not settings.enabled:
        return {
            "status": "skipped",
            "reason": "no GitHub App configured (VEND_GITHUB_APP_ID): run `vend github configure "
            f"{record.request_id}` with one, or set the repository up by hand (README: GitHub set up)",
        }
    result = configure_for_record(record, layout=layout, settings=settings, secretsmanager=secretsmanager)
    return {"status": "configured", **result.as_dict()}
