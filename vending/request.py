"""The vending request: one strict model for every entry point (API, CLI, event), with a deterministic id.

Strict because every field ends up somewhere AWS or GitHub parses it: the account e-mail and name go to
Organizations, the cost center and owner into tags, the repository into the CI role's trusted OIDC subject. So
patterns are ASCII-only (`\\d` and `\\w` match far more than ASCII), and lengths stop at what those services accept.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vending.exceptions import InvalidRequest, RequestTooLarge
from vending.layout import Layout, cached_layout

# The stacks of a request are names of folders under terraform/environments/<team>/<stage>/ or of the platform's
# stack templates (vending.pipeline.stacks resolves them before anything is created).
STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", re.ASCII)
MAX_STACKS = 10
TEAM = re.compile(r"[a-z][a-z0-9-]{1,38}[a-z0-9]", re.ASCII)
COST_CENTER = re.compile(r"CC-[0-9]{4,6}", re.ASCII)
# GitHub: an owner is 1-39 alphanumerics or single hyphens, not at either end; a repository name is 1-100 of
# [A-Za-z0-9._-], and `.`/`..` are not names (they would turn the CI role's trusted subject into a path).
GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}", re.ASCII)
GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}", re.ASCII)
# Organizations: CreateAccount Email is 6-64 characters, AccountName 1-50; tag values are at most 256.
# https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html
MAX_EMAIL = 64
MIN_EMAIL = 6
MAX_ACCOUNT_NAME = 50
MAX_TAG_VALUE = 256
# A request is a few hundred bytes and two levels deep; anything far past that is refused before it is parsed.
MAX_BODY_BYTES = 16 * 1024
MAX_DEPTH = 8


def _layout() -> Layout:
    return cached_layout()


class VendingRequest(BaseModel):
    """What a team asks for. Unknown fields are rejected so typos never pass silently; nothing is trimmed or
    coerced (a number is not a string, a string is not a list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str = Field(
        description="Team slug, e.g. team-mlops",
        min_length=3,
        max_length=40,
        json_schema_extra={"pattern": r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"},
    )
    stage: Literal["staging", "production"]
    owner_email: str = Field(
        description="The team's contact (tagged on the account)", min_length=MIN_EMAIL, max_length=MAX_EMAIL
    )
    cost_center: str = Field(
        description="Cost center, CC-NNNN", max_length=9, json_schema_extra={"pattern": r"^CC-[0-9]{4,6}$"}
    )
    gpu_tier: str = Field(
        description="A GPU tier of the layout: none, inference, training", min_length=1, max_length=40
    )
    regions: tuple[str, ...] = Field(
        description="A non-empty subset of the region allow-list", min_length=1, max_length=20
    )
    stacks: tuple[str, ...] = Field(
        ("bootstrap",), description="Terraform stacks to deploy", min_length=1, max_length=MAX_STACKS
    )
    repository: str = Field(
        description="GitHub owner/repo trusted by the CI role",
        min_length=3,
        max_length=140,
        json_schema_extra={"pattern": r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$"},
    )

    @field_validator("team")
    @classmethod
    def _team(cls, v: str) -> str:
        if not TEAM.fullmatch(v) or "--" in v:
            raise ValueError("must be 3-40 lowercase ASCII letters, digits or single hyphens, starting with a letter")
        return v

    @field_validator("owner_email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not v.isascii() or not v.isprintable():
            raise ValueError("must be printable ASCII")
        try:
            # email-validator is what pydantic's EmailStr uses; called directly because EmailStr also accepts a
            # display name ("Name <a@b.c>") and internationalized addresses, which tags and Organizations refuse.
            checked = validate_email(v, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as e:
            raise ValueError(f"not an e-mail address: {e}") from e
        return checked.normalized.lower()

    @field_validator("cost_center")
    @classmethod
    def _cost_center(cls, v: str) -> str:
        if not COST_CENTER.fullmatch(v):
            raise ValueError("must look like CC-1234 (ASCII digits, 4 to 6)")
        return v

    @field_validator("gpu_tier")
    @classmethod
    def _tier(cls, v: str) -> str:
        tiers = sorted(_layout().gpu_tiers)
        if v not in tiers:
            raise ValueError(f"not a GPU tier of the layout; choose one of {tiers}")
        return v

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        allowed = _layout().organization.allowed_regions
        outside = [r for r in v if r not in allowed]
        if outside:
            raise ValueError(f"{len(outside)} region(s) not in the allow-list {list(allowed)}")
        if len(set(v)) != len(v):
            raise ValueError("regions repeat")
        return v

    @field_validator("stacks")
    @classmethod
    def _stacks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in v if not STACK_NAME.fullmatch(s)]
        if bad:
            raise ValueError(f"{len(bad)} stack name(s) are not 2-40 lowercase ASCII letters, digits or hyphens")
        return tuple(dict.fromkeys(v))

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str) -> str:
        owner, _, name = v.partition("/")
        if not GITHUB_OWNER.fullmatch(owner):
            raise ValueError(
                "must be a GitHub owner/repo: the owner is 1-39 ASCII letters, digits or single hyphens, "
                "not at either end"
            )
        if not GITHUB_REPO.fullmatch(name) or name in {".", ".."}:
            raise ValueError("must be a GitHub owner/repo: the name is 1-100 of A-Z a-z 0-9 . _ - and not '.' or '..'")
        return v

    @model_validator(mode="after")
    def _fits_aws(self) -> VendingRequest:
        # The account's name and e-mail are derived from team and stage; Organizations caps both.
        problems = []
        if len(account_name_for(self.team, self.stage)) > MAX_ACCOUNT_NAME:
            problems.append(
                f"account name {account_name_for(self.team, self.stage)!r} is over "
                f"{MAX_ACCOUNT_NAME} characters (Organizations' limit)"
            )
        email = _layout().account_email(self.team, self.stage)
        if len(email) > MAX_EMAIL:
            problems.append(f"account e-mail {email!r} is over {MAX_EMAIL} characters (Organizations' limit)")
        if problems:
            raise ValueError("team: " + "; ".join(problems))
        # The bootstrap stack is what the others build on; it always runs, and first.
        if self.stacks[0] != "bootstrap":
            object.__setattr__(self, "stacks", ("bootstrap", *(s for s in self.stacks if s != "bootstrap")))
        return self

    @property
    def request_id(self) -> str:
        """Deterministic: the same team and stage is the same request, however it arrives."""
        return request_id_for(self.team, self.stage)

    @property
    def home_region(self) -> str:
        return self.regions[0]


def account_name_for(team: str, stage: str) -> str:
    return f"{team}-{stage}"


def request_id_for(team: str, stage: str) -> str:
    return f"{team}-{stage}"


# A request id is `<team>-<stage>` (the team slug's pattern); a change id adds `.c<n>` (vending.changes).
REQUEST_ID = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]-(staging|production)$")
CHANGE_ID = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]-(staging|production)\.c[0-9]{1,9}$")


def check_request_id(value: Any, *, field: str = "request_id", change: bool = False) -> str:
    """A request id (or, with `change`, a request or change id) as every day-2 command and route takes it: anything
    else is InvalidRequest naming the field, before any table is read."""
    text = value if isinstance(value, str) else ""
    if REQUEST_ID.match(text) or (change and CHANGE_ID.match(text)):
        return text
    shown = repr(text[:60]) + ("..." if len(text) > 60 else "") if text.strip() else "empty"
    expected = "<team>-<stage>" + (" or <team>-<stage>.c<n>" if change else "")
    message = f"{shown}: expected {expected}, e.g. team-mlops-staging"
    raise InvalidRequest(f"{field}: {message}", details=[{"field": field, "message": message}])


def execution_name(request_id: str, attempt: int) -> str:
    return f"vend-{request_id}-a{attempt}"


def describe_errors(error: ValidationError) -> list[dict[str, str]]:
    """One entry per bad field, naming the field: what the API, CLI and events report back."""
    out = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"]]
        message = str(item["msg"]).removeprefix("Value error, ")
        if not loc and message.startswith("team: "):  # the model-level check is about the team's derived names
            loc, message = ["team"], message.removeprefix("team: ")
        field = ".".join(loc) or "request"
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        out.append({"field": field, "message": message})
    return out


def parse_request(data: Any) -> VendingRequest:
    """Validate raw input; raise InvalidRequest listing every bad field (nothing else happens)."""
    if not isinstance(data, dict):
        raise InvalidRequest(
            "request: must be a JSON object",
            details=[{"field": "request", "message": f"must be a JSON object, not {_kind(data)}"}],
        )
    try:
        return VendingRequest.model_validate(data)
    except ValidationError as e:
        raise invalid(describe_errors(e)) from e
    except RecursionError as e:  # a nested dict built in Python (not from a body): still bad input, never a crash
        raise invalid([{"field": "request", "message": "nested too deeply"}]) from e


def invalid(problems: list[dict[str, str]]) -> InvalidRequest:
    return InvalidRequest("; ".join(f"{p['field']}: {p['message']}" for p in problems), details=problems)


def _kind(data: Any) -> str:
    return {
        list: "an array",
        str: "a string",
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(data), type(data).__name__)


def check_body(raw: bytes | str | None, *, max_bytes: int = MAX_BODY_BYTES) -> str:
    """Refuse a body before it is parsed: too large (RequestTooLarge, HTTP 413), not UTF-8, or nested deeper than
    MAX_DEPTH (InvalidRequest, 400). A JSON parser recurses per bracket, so depth is counted here, not by it."""
    if raw is None:
        raw = b""
    size = len(raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise RequestTooLarge(
            f"request: body is {size} bytes, over the {max_bytes}-byte limit",
            details=[{"field": "request", "message": f"body over {max_bytes} bytes"}],
        )
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise invalid([{"field": "request", "message": f"body is not UTF-8 (byte {e.start})"}]) from e
    else:
        text = raw
    depth, deepest, in_string, escaped = 0, 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise invalid([{"field": "request", "message": f"nested deeper than {MAX_DEPTH} levels"}])
        elif ch in "]}":
            depth -= 1
    return text


def parse_body(raw: bytes | str | None) -> VendingRequest:
    """A request document as it arrives (HTTP body, --file): limits, JSON, then the model."""
    return parse_request(load_json(raw))


def load_json(raw: bytes | str | None, *, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """JSON text within the limits, without duplicate keys or NaN; InvalidRequest naming `request` otherwise."""
    text = check_body(raw, max_bytes=max_bytes)
    if not text.strip():
        raise invalid([{"field": "request", "message": "empty: expected a JSON object"}])
    try:
        # The hooks raise InvalidRequest, which is not a ValueError, so it passes through json untouched.
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError as e:  # JSONDecodeError
        raise invalid([{"field": "request", "message": f"not JSON: {e}"}]) from e


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise invalid([{"field": key, "message": "given twice"}])
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise invalid([{"field": "request", "message": f"not JSON: {name} is not a JSON value"}])
