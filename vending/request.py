"""The vending request: one model, validated up front, with a deterministic id (team + stage)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vending.exceptions import InvalidRequest
from vending.layout import TEAM_SLUG, Layout, cached_layout

# Stacks a team may ask for; each lives in terraform/environments/<team>/<stage>/<stack>/.
KNOWN_STACKS = ("bootstrap", "networking", "eks", "cloudfront")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
COST_CENTER = re.compile(r"^CC-\d{4,6}$")
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def _layout() -> Layout:
    return cached_layout()


class VendingRequest(BaseModel):
    """What a team asks for. Unknown fields are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    team: str = Field(description="Team slug, e.g. team-mlops")
    stage: Literal["staging", "production"]
    owner_email: str
    cost_center: str = Field(description="Cost center, CC-NNNN")
    gpu_tier: str = Field(description="A GPU tier of the layout: none, inference, training")
    regions: tuple[str, ...] = Field(description="A non-empty subset of the region allow-list")
    stacks: tuple[str, ...] = Field(("bootstrap",), description="Terraform stacks to deploy")
    repository: str = Field(description="GitHub owner/repo trusted by the CI role")

    @field_validator("team")
    @classmethod
    def _team(cls, v: str) -> str:
        if not TEAM_SLUG.match(v):
            raise ValueError("must be 3-40 lowercase letters, digits or hyphens, starting with a letter")
        return v

    @field_validator("owner_email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not EMAIL.match(v):
            raise ValueError(f"{v!r} is not an e-mail address")
        return v.lower()

    @field_validator("cost_center")
    @classmethod
    def _cost_center(cls, v: str) -> str:
        if not COST_CENTER.match(v):
            raise ValueError(f"{v!r} must look like CC-1234")
        return v

    @field_validator("gpu_tier")
    @classmethod
    def _tier(cls, v: str) -> str:
        tiers = sorted(_layout().gpu_tiers)
        if v not in tiers:
            raise ValueError(f"{v!r} is not a GPU tier; choose one of {tiers}")
        return v

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        allowed = _layout().organization.allowed_regions
        if not v:
            raise ValueError("at least one region is required")
        outside = [r for r in v if r not in allowed]
        if outside:
            raise ValueError(f"{outside} not in the allow-list {list(allowed)}")
        if len(set(v)) != len(v):
            raise ValueError("regions repeat")
        return v

    @field_validator("stacks")
    @classmethod
    def _stacks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in KNOWN_STACKS]
        if not v:
            raise ValueError("at least one stack is required")
        if unknown:
            raise ValueError(f"unknown stacks {unknown}; known: {list(KNOWN_STACKS)}")
        return tuple(dict.fromkeys(v))

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str) -> str:
        if not REPOSITORY.match(v):
            raise ValueError(f"{v!r} must be a GitHub owner/repo")
        return v

    @model_validator(mode="after")
    def _bootstrap_first(self) -> VendingRequest:
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


def request_id_for(team: str, stage: str) -> str:
    return f"{team}-{stage}"


def execution_name(request_id: str, attempt: int) -> str:
    return f"vend-{request_id}-a{attempt}"


def describe_errors(error: ValidationError) -> list[dict[str, str]]:
    """One entry per bad field, naming the field: what the API, CLI and events report back."""
    out = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "request"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        out.append({"field": field, "message": message})
    return out


def parse_request(data: Any) -> VendingRequest:
    """Validate raw input; raise InvalidRequest listing every bad field (nothing else happens)."""
    if not isinstance(data, dict):
        raise InvalidRequest("request: must be a JSON object")
    try:
        return VendingRequest.model_validate(data)
    except ValidationError as e:
        problems = describe_errors(e)
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise InvalidRequest(message, details=problems) from e
