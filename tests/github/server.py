"""A local GitHub REST API for `vend github configure`, held to GitHub's published OpenAPI description.

Every request is validated against `@octokit/openapi`'s api.github.com description (pinned by package-lock.json here,
installed by scripts/setup.sh with `npm ci`) before it is served, and every response after: a request the description
does not allow (unknown path or method, bad parameter, bad body) is refused with 422 and counted as a violation, and so
is a response of ours that the description does not allow (so the client is tested against GitHub's real shapes).
Responses start from the description's own examples, with the state's values on top.

It keeps the state the set up touches (repositories' OIDC subject customization, environments with their reviewers,
branch policies and variables, users, teams) and authenticates as GitHub does: the App's RS256 JWT (checked against
the App's public key) for /app and the installation look-up, the installation token it issued for everything else.
It listens on 127.0.0.1 only; nothing leaves the machine.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import jwt
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

SPEC_PATH = Path(__file__).parent / "node_modules/@octokit/openapi/generated/api.github.com.json"
# The description's server: requests are validated as if sent to it (the local server stands in for it).
GITHUB_HOST = "https://api.github.com"


@cache
def description() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        raise FileNotFoundError(f"{SPEC_PATH} is missing: run scripts/setup.sh (npm ci in tests/github)")
    return json.loads(SPEC_PATH.read_text())


@cache
def openapi() -> OpenAPI:
    # Taken as published: checking the 13 MB description itself takes ~15 s, and is GitHub's job.
    return OpenAPI.from_dict(description(), config=Config(spec_validator_cls=None))


def example(name: str) -> Any:
    """A value of the description's components/examples, copied."""
    return copy.deepcopy(description()["components"]["examples"][name]["value"])


@dataclass
class Violation:
    kind: str  # "request" or "response"
    method: str
    path: str
    error: str


@dataclass
class Environment:
    id: int
    name: str
    prevent_self_review: bool = False
    reviewers: list[dict[str, Any]] = field(default_factory=list)  # [{"type": "User"|"Team", "id": int}]
    wait_timer: int = 0
    branch_policy: dict[str, bool] | None = None
    branch_policies: dict[int, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)


@dataclass
class Repository:
    owner: str
    name: str
    oidc_sub: dict[str, Any] = field(default_factory=lambda: {"use_default": True})
    environments: dict[str, Environment] = field(default_factory=dict)


class GitHubState:
    def __init__(self, *, app_id: int, public_key: str, installation_id: int = 4242) -> None:
        # The client side (githubkit) caches the App's JWT and installation token per App and installation; the tests
        # give each client its own cache (vending.github_setup.app_client), so a state never sees another's token.
        self.app_id = app_id
        self.public_key = public_key
        self.installation_id = installation_id
        self.repositories: dict[str, Repository] = {}
        self.users: dict[str, int] = {}
        self.teams: dict[tuple[str, str], int] = {}
        self.tokens: set[str] = set()
        self._ids = itertools.count(1000)

    def next_id(self) -> int:
        return next(self._ids)

    def add_repository(self, full_name: str) -> Repository:
        owner, _, name = full_name.partition("/")
        return self.repositories.setdefault(full_name.lower(), Repository(owner, name))

    def add_user(self, login: str) -> int:
        return self.users.setdefault(login.lower(), self.next_id())

    def add_team(self, org: str, slug: str) -> int:
        return self.teams.setdefault((org.lower(), slug.lower()), self.next_id())


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


ROUTES = Map(
    [
        Rule("/repos/<owner>/<repo>/installation", methods=["GET"], endpoint="installation"),
        Rule("/app/installations/<int:installation_id>/access_tokens", methods=["POST"], endpoint="token"),
        Rule("/users/<username>", methods=["GET"], endpoint="user"),
        Rule("/orgs/<org>/teams/<team_slug>", methods=["GET"], endpoint="team"),
        Rule("/repos/<owner>/<repo>/actions/oidc/customization/sub", methods=["GET", "PUT"], endpoint="oidc"),
        Rule("/repos/<owner>/<repo>/environments", methods=["GET"], endpoint="environments"),
        Rule("/repos/<owner>/<repo>/environments/<env>", methods=["GET", "PUT"], endpoint="environment"),
        Rule(
            "/repos/<owner>/<repo>/environments/<env>/deployment-branch-policies",
            methods=["GET", "POST"],
            endpoint="branch_policies",
        ),
        Rule(
            "/repos/<owner>/<repo>/environments/<env>/deployment-branch-policies/<int:policy_id>",
            methods=["DELETE"],
            endpoint="branch_policy",
        ),
        Rule("/repos/<owner>/<repo>/environments/<env>/variables", methods=["GET", "POST"], endpoint="variables"),
        Rule("/repos/<owner>/<repo>/environments/<env>/variables/<name>", methods=["PATCH"], endpoint="variable"),
    ]
)
APP_ENDPOINTS = {"installation", "token"}  # authenticated with the App's JWT, not an installation token


class GitHubServer:
    """The WSGI app; `calls`, `validated` and `violations` are its instruments."""

    def __init__(self, state: GitHubState, *, validate: bool = True) -> None:
        self.state = state
        self.validate = validate  # off only in the negative control that shows what validation catches
        self.calls: list[tuple[str, str]] = []
        self.writes: list[tuple[str, str]] = []
        self.validated = 0
        self.violations: list[Violation] = []
        self._lock = threading.Lock()

    # --- WSGI -----------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            response = self._serve(request)
        return response(environ, start_response)

    def _serve(self, request: Request) -> Response:
        body = request.get_data()
        self.calls.append((request.method, request.path))
        if request.method != "GET" and not request.path.startswith("/app/"):  # a token is not a write to the repo
            self.writes.append((request.method, request.path))
        api_request = MockRequest(
            GITHUB_HOST,
            request.method.lower(),
            request.path,
            args=dict(request.args),
            headers=dict(request.headers),
            data=body or None,
            content_type=request.mimetype or "application/json",
        )
        if self.validate:
            try:
                openapi().validate_request(api_request)
            except Exception as e:
                self.violations.append(Violation("request", request.method, request.path, _describe(e)))
                return _json(422, {"message": f"request not allowed by GitHub's OpenAPI description: {_describe(e)}"})
        try:
            adapter = ROUTES.bind("api.github.com")
            endpoint, params = adapter.match(request.path, method=request.method)
            self._authenticate(request, str(endpoint))
            payload = json.loads(body) if body else None
            status, result = getattr(self, f"_{endpoint}")(request.method, payload, request.args, **params)
        except ApiError as e:
            status, result = e.status, {"message": e.message, "documentation_url": "https://docs.github.com/rest"}
        except NotFound:
            status, result = 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        except HTTPException as e:
            status, result = e.code or 500, {"message": str(e), "documentation_url": "https://docs.github.com/rest"}
        response = _json(status, result)
        if self.validate:
            try:
                openapi().validate_response(
                    api_request,
                    MockResponse(response.get_data(), status_code=status, content_type="application/json"),
                )
                self.validated += 1
            except Exception as e:
                self.violations.append(Violation("response", request.method, request.path, _describe(e)))
        return response

    def _authenticate(self, request: Request, endpoint: str) -> None:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if endpoint in APP_ENDPOINTS:
            if scheme.lower() != "bearer":
                raise ApiError(401, "A JSON web token could not be decoded")
            try:
                claims = jwt.decode(credential, self.state.public_key, algorithms=["RS256"])
            except jwt.PyJWTError as e:
                raise ApiError(401, f"A JSON web token could not be decoded: {e}") from e
            if str(claims.get("iss")) != str(self.state.app_id):
                raise ApiError(401, "'Issuer' claim ('iss') must be the App's id")
            return
        if scheme.lower() not in {"token", "bearer"} or credential not in self.state.tokens:
            raise ApiError(401, "Bad credentials")

    # --- endpoints: (method, body, query, **path params) -> (status, body) ----------------------------------------
    def _repository(self, owner: str, repo: str) -> Repository:
        found = self.state.repositories.get(f"{owner}/{repo}".lower())
        if found is None:
            raise ApiError(404, "Not Found")
        return found

    def _installation(self, method: str, body: Any, query: Any, owner: str, repo: str) -> tuple[int, Any]:
        self._repository(owner, repo)
        installation = example("installation")
        installation.update(id=self.state.installation_id, app_id=self.state.app_id)
        return 200, installation

    def _token(self, method: str, body: Any, query: Any, installation_id: int) -> tuple[int, Any]:
        if installation_id != self.state.installation_id:
            raise ApiError(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        self.state.tokens.add(token)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {**example("installation-token"), "token": token, "expires_at": expires}

    def _user(self, method: str, body: Any, query: Any, username: str) -> tuple[int, Any]:
        user_id = self.state.users.get(username.lower())
        if user_id is None:
            raise ApiError(404, "Not Found")
        # user_view_type is the description's discriminator between its public and private user; the example lacks it.
        user = {**example("public-user-default-response"), "user_view_type": "public"}
        return 200, {**user, "login": username, "id": user_id}

    def _team(self, method: str, body: Any, query: Any, org: str, team_slug: str) -> tuple[int, Any]:
        team_id = self.state.teams.get((org.lower(), team_slug.lower()))
        if team_id is None:
            raise ApiError(404, "Not Found")
        return 200, self._team_json(team_slug, team_id)

    @staticmethod
    def _team_json(slug: str, team_id: int) -> dict[str, Any]:
        team = example("team-full")
        # The description's example predates two required fields of its schema (team.type, organization.archived_at).
        team["organization"].setdefault("archived_at", None)
        return {**team, "slug": slug, "id": team_id, "type": "organization"}

    def _oidc(self, method: str, body: Any, query: Any, owner: str, repo: str) -> tuple[int, Any]:
        repository = self._repository(owner, repo)
        if method == "GET":
            return 200, repository.oidc_sub
        keys = body.get("include_claim_keys") or []
        if not body["use_default"] and (not keys or len(set(keys)) != len(keys)):
            raise ApiError(422, "include_claim_keys must be a non-empty array of unique claim keys")
        repository.oidc_sub = {"use_default": body["use_default"], **({"include_claim_keys": keys} if keys else {})}
        return 201, {}

    def _environments(self, method: str, body: Any, query: Any, owner: str, repo: str) -> tuple[int, Any]:
        repository = self._repository(owner, repo)
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
        envs = sorted(repository.environments.values(), key=lambda e: e.name)
        chunk = envs[(page - 1) * per_page : page * per_page]
        return 200, {"total_count": len(envs), "environments": [self._environment_json(repository, e) for e in chunk]}

    def _environment(self, method: str, body: Any, query: Any, owner: str, repo: str, env: str) -> tuple[int, Any]:
        repository = self._repository(owner, repo)
        if method == "GET":
            if env not in repository.environments:
                raise ApiError(404, "Not Found")
            return 200, self._environment_json(repository, repository.environments[env])
        body = body or {}
        environment = repository.environments.setdefault(env, Environment(self.state.next_id(), env))
        reviewers = body.get("reviewers")
        if reviewers is not None:
            if len(reviewers) > 6:
                raise ApiError(422, "reviewers: at most 6")
            for r in reviewers:
                known = self.state.users.values() if r["type"] == "User" else self.state.teams.values()
                if r["id"] not in known:
                    raise ApiError(422, f"reviewer {r} does not exist")
            environment.reviewers = [{"type": r["type"], "id": r["id"]} for r in reviewers]
        if "prevent_self_review" in body:
            environment.prevent_self_review = bool(body["prevent_self_review"])
        if "wait_timer" in body:
            environment.wait_timer = int(body["wait_timer"])
        if "deployment_branch_policy" in body:
            policy = body["deployment_branch_policy"]
            if policy is not None and policy["protected_branches"] == policy["custom_branch_policies"]:
                raise ApiError(422, "exactly one of protected_branches and custom_branch_policies must be true")
            environment.branch_policy = policy
            if not (policy or {}).get("custom_branch_policies"):
                environment.branch_policies.clear()  # as GitHub does when custom policies are turned off
        return 200, self._environment_json(repository, environment)

    def _environment_json(self, repository: Repository, e: Environment) -> dict[str, Any]:
        rules: list[dict[str, Any]] = []
        if e.wait_timer:
            rules.append({"id": e.id * 10 + 1, "node_id": "GA_1", "type": "wait_timer", "wait_timer": e.wait_timer})
        if e.reviewers:
            rules.append(
                {
                    "id": e.id * 10 + 2,
                    "node_id": "GA_2",
                    "type": "required_reviewers",
                    "prevent_self_review": e.prevent_self_review,
                    "reviewers": [{"type": r["type"], "reviewer": self._reviewer_json(r)} for r in e.reviewers],
                }
            )
        if e.branch_policy:
            rules.append({"id": e.id * 10 + 3, "node_id": "GA_3", "type": "branch_policy"})
        full = f"{repository.owner}/{repository.name}"
        return {
            **example("environment"),
            "id": e.id,
            "name": e.name,
            "url": f"{GITHUB_HOST}/repos/{full}/environments/{e.name}",
            "html_url": f"https://github.com/{full}/deployments/activity_log?environments_filter={e.name}",
            "created_at": _now(),
            "updated_at": _now(),
            "protection_rules": rules,
            "deployment_branch_policy": e.branch_policy,
        }

    def _reviewer_json(self, reviewer: dict[str, Any]) -> dict[str, Any]:
        if reviewer["type"] == "User":
            login = next(k for k, v in self.state.users.items() if v == reviewer["id"])
            user = example("public-user-default-response")
            return {k: user[k] for k in _simple_user_keys() if k in user} | {"login": login, "id": reviewer["id"]}
        slug = next(k[1] for k, v in self.state.teams.items() if v == reviewer["id"])
        team = self._team_json(slug, reviewer["id"])
        return {k: team[k] for k in _team_keys() if k in team} | {"parent": None}

    def _env(self, owner: str, repo: str, env: str) -> Environment:
        environment = self._repository(owner, repo).environments.get(env)
        if environment is None:
            raise ApiError(404, "Not Found")
        return environment

    def _branch_policies(self, method: str, body: Any, query: Any, owner: str, repo: str, env: str) -> tuple[int, Any]:
        environment = self._env(owner, repo, env)
        if method == "GET":
            policies = sorted(environment.branch_policies.values(), key=lambda p: p["id"])
            return 200, {"total_count": len(policies), "branch_policies": policies}
        if not (environment.branch_policy or {}).get("custom_branch_policies"):
            raise ApiError(404, "custom deployment branch policies are not enabled for this environment")
        kind = body.get("type", "branch")
        if any(p["name"] == body["name"] and p["type"] == kind for p in environment.branch_policies.values()):
            raise ApiError(303, "a policy with this name pattern already exists")
        policy = {"id": self.state.next_id(), "node_id": "BP_1", "name": body["name"], "type": kind}
        environment.branch_policies[policy["id"]] = policy
        return 200, policy

    def _branch_policy(
        self, method: str, body: Any, query: Any, owner: str, repo: str, env: str, policy_id: int
    ) -> tuple[int, Any]:
        environment = self._env(owner, repo, env)
        if environment.branch_policies.pop(policy_id, None) is None:
            raise ApiError(404, "Not Found")
        return 204, None

    def _variables(self, method: str, body: Any, query: Any, owner: str, repo: str, env: str) -> tuple[int, Any]:
        environment = self._env(owner, repo, env)
        if method == "GET":
            page, per_page = int(query.get("page", 1)), int(query.get("per_page", 10))
            names = sorted(environment.variables)
            chunk = names[(page - 1) * per_page : page * per_page]
            stamp = _now()
            variables = [
                {"name": n, "value": environment.variables[n], "created_at": stamp, "updated_at": stamp} for n in chunk
            ]
            return 200, {"total_count": len(names), "variables": variables}
        if body["name"] in environment.variables:
            raise ApiError(409, "Already exists")
        environment.variables[body["name"]] = body["value"]
        return 201, {}

    def _variable(
        self, method: str, body: Any, query: Any, owner: str, repo: str, env: str, name: str
    ) -> tuple[int, Any]:
        environment = self._env(owner, repo, env)
        if name not in environment.variables:
            raise ApiError(404, "Not Found")
        new_name = body.get("name", name)
        value = body.get("value", environment.variables.pop(name))
        environment.variables.pop(name, None)
        environment.variables[new_name] = value
        return 204, None


def _schema_keys(name: str) -> list[str]:
    return list(description()["components"]["schemas"][name]["properties"])


def _simple_user_keys() -> list[str]:
    return _schema_keys("simple-user")


def _team_keys() -> list[str]:
    return _schema_keys("team")


def _json(status: int, body: Any) -> Response:
    if body is None or status == 204:
        return Response(status=status)
    return Response(json.dumps(body), status=status, content_type="application/json")


def _describe(error: Exception) -> str:
    """openapi-core's error with its cause (the schema errors name the field)."""
    parts = [f"{type(error).__name__}: {error}"]
    cause = error.__cause__ or error.__context__
    while cause is not None and len(parts) < 4:
        parts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__
    return " <- ".join(parts)[:2000]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalGitHub:
    """The server on 127.0.0.1 in a thread: `with LocalGitHub(state) as gh: gh.url`."""

    def __init__(self, state: GitHubState, *, validate: bool = True) -> None:
        self.app = GitHubServer(state, validate=validate)
        self._server = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LocalGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
