"""The organisation layout as a typed, validated model (one source of truth for OUs, teams, tiers)."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Stage = Literal["staging", "production"]
STAGES: tuple[Stage, ...] = ("staging", "production")
MAX_OU_DEPTH = 5  # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
DEFAULT_LAYOUT = Path(__file__).with_name("layout.yaml")
TEAM_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScpLimits(_Strict):
    max_policy_chars: int = Field(5120, ge=1024, le=10240)
    max_policies_per_target: int = Field(5, ge=2, le=10)


class OrganizationSettings(_Strict):
    account_email_pattern: str
    access_role_name: str = "OrganizationAccountAccessRole"
    platform_role_names: tuple[str, ...]
    allowed_regions: tuple[str, ...]
    scp_limits: ScpLimits = ScpLimits()
    mandatory_tags: tuple[str, ...] = ("team", "stage", "cost-center")

    @field_validator("account_email_pattern")
    @classmethod
    def _pattern_has_placeholders(cls, value: str) -> str:
        if "{team}" not in value or "{stage}" not in value or "@" not in value:
            raise ValueError("must contain {team}, {stage} and an @domain")
        return value

    @field_validator("allowed_regions")
    @classmethod
    def _regions_look_like_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in value if not REGION.match(r)]
        if bad or not value:
            raise ValueError(f"not AWS region names: {bad or 'empty list'}")
        return value

    @field_validator("platform_role_names")
    @classmethod
    def _access_role_is_protected(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one platform role must be exempt from the guardrails")
        return value


class OuSpec(_Strict):
    path: str

    @field_validator("path")
    @classmethod
    def _depth(cls, value: str) -> str:
        parts = value.split("/")
        if any(not p for p in parts):
            raise ValueError(f"empty OU name in {value!r}")
        if len(parts) > MAX_OU_DEPTH:
            raise ValueError(f"{value!r} nests {len(parts)} deep; Organizations allows {MAX_OU_DEPTH}")
        return value


class GpuTier(_Strict):
    description: str = ""
    ec2_instance_types: tuple[str, ...] = ()
    sagemaker_instance_types: tuple[str, ...] = ()


class AcceleratedFamilies(_Strict):
    ec2: tuple[str, ...]
    sagemaker: tuple[str, ...]


class TeamSpec(_Strict):
    slug: str
    owner_email: str
    cost_center: str
    gpu_tier: str
    regions: tuple[str, ...]
    repository: str
    stacks: tuple[str, ...] = ("bootstrap",)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not TEAM_SLUG.match(value):
            raise ValueError("lowercase letters, digits and hyphens, 3-40 characters")
        return value


class Layout(_Strict):
    organization: OrganizationSettings
    ous: tuple[OuSpec, ...]
    stage_ous: dict[Stage, str]
    gpu_tiers: dict[str, GpuTier]
    accelerated_families: AcceleratedFamilies
    teams: tuple[TeamSpec, ...] = ()

    @model_validator(mode="after")
    def _references_resolve(self) -> Layout:
        paths = {ou.path for ou in self.ous}
        for ou in self.ous:
            parent = ou.path.rpartition("/")[0]
            if parent and parent not in paths:
                raise ValueError(f"ous: {ou.path!r} has no parent entry {parent!r}")
        for stage, path in self.stage_ous.items():
            if path not in paths:
                raise ValueError(f"stage_ous.{stage}: OU {path!r} is not declared in ous")
        for team in self.teams:
            if team.gpu_tier not in self.gpu_tiers:
                raise ValueError(f"teams.{team.slug}.gpu_tier: unknown tier {team.gpu_tier!r}")
            outside = set(team.regions) - set(self.organization.allowed_regions)
            if outside:
                raise ValueError(f"teams.{team.slug}.regions: {sorted(outside)} not in the allow-list")
        return self

    def team(self, slug: str) -> TeamSpec | None:
        return next((t for t in self.teams if t.slug == slug), None)

    def ou_for_stage(self, stage: str) -> str:
        return self.stage_ous[stage]  # type: ignore[index]

    def account_email(self, team: str, stage: str) -> str:
        return self.organization.account_email_pattern.format(team=team, stage=stage)


def load_layout(path: str | Path | None = None) -> Layout:
    """Load and validate a layout file (default: $VEND_LAYOUT_FILE or the packaged layout.yaml)."""
    chosen = Path(path or os.environ.get("VEND_LAYOUT_FILE") or DEFAULT_LAYOUT)
    with chosen.open(encoding="utf-8") as handle:
        return Layout.model_validate(yaml.safe_load(handle))


@lru_cache(maxsize=4)
def cached_layout(path: str | None = None) -> Layout:
    return load_layout(path)
