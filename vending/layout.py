"""The organisation layout as a typed, validated model (one source of truth for OUs, teams, tiers)."""

from __future__ import annotations

import ipaddress
import os
import re
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Stage = Literal["staging", "production"]
STAGES: tuple[Stage, ...] = ("staging", "production")
MAX_OU_DEPTH = 5  # https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
# The data stays beside the deployment it describes; the model is a leaf every layer may import.
DEFAULT_LAYOUT = Path(__file__).resolve().parent.parent / "landing_zone" / "layout.yaml"
TEAM_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
# Bedrock model ids (`anthropic.claude-3-5-haiku-20241022-v1:0`, a `*` for a family) and system (cross-region)
# inference profile ids: the model id behind a geography prefix (`us.`, `eu.`, `apac.`...). Global profiles route to
# every commercial region, so no region fence can hold them: they are not accepted.
BEDROCK_MODEL = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9.:*-]+$")
BEDROCK_PROFILE = re.compile(r"^(?!global\.)[a-z]{2,4}\.[a-z0-9-]+\.[A-Za-z0-9.:-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScpLimits(_Strict):
    max_policy_chars: Annotated[int, Field(ge=1024, le=10240)] = 5120
    max_policies_per_target: Annotated[int, Field(ge=2, le=10)] = 5


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


QUOTA_CODE = re.compile(r"^L-[0-9A-F]{8}$")
# SageMaker names its per-instance-type quotas "<type> for endpoint usage", "<type> for training job usage".
SAGEMAKER_QUOTA_NAME = re.compile(r"^(ml\.[a-z0-9]+\.[a-z0-9]+) for (endpoint|training job) usage$")


class QuotaNeed(_Strict):
    """One Service Quota a tier's accounts need, in each of the team's regions (vending.quotas asks for it)."""

    service: Literal["ec2", "sagemaker"]
    name: str  # the quota's name as Service Quotas lists it; how a quota without a verified code is found
    code: str | None = None  # L-XXXXXXXX when verified; else found by name (ListServiceQuotas)
    value: Annotated[float, Field(gt=0)]

    @field_validator("code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None and not QUOTA_CODE.match(value):
            raise ValueError(f"{value!r} is not a Service Quotas code (L-XXXXXXXX)")
        return value


OnFreeze = Literal["keep_running", "stop"]


class SpendCaps(_Strict):
    """The run-time spend fence (vending.spend.fence): crossing either cap freezes the account within one metering
    interval. Priced usage in USD: the 60 minutes ending at a reading, and the UTC day up to it."""

    hourly_usd: Annotated[float, Field(gt=0)]
    daily_usd: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _hourly_within_daily(self) -> SpendCaps:
        if self.hourly_usd > self.daily_usd:
            raise ValueError(
                f"hourly_usd ({self.hourly_usd:g}) is above daily_usd ({self.daily_usd:g}): an hour's spend counts "
                "toward its day, so the hourly cap could never be the one that trips"
            )
        return self


class GpuTier(_Strict):
    description: str = ""
    ec2_instance_types: tuple[str, ...] = ()
    sagemaker_instance_types: tuple[str, ...] = ()
    # The AWS Budget every account of this tier gets (vending.budgets), overridable per team.
    monthly_budget_usd: Annotated[float, Field(gt=0)] = 1000.0
    # The run-time fence (vending.spend.fence), overridable per team; None: the tier's accounts are not fenced.
    spend_caps: SpendCaps | None = None
    # What a freeze does to what already runs: keep it running (new launches, invocations and creates are denied) or
    # stop the account's accelerated instances too.
    on_freeze: OnFreeze = "keep_running"
    # The capacity the tier's accounts are asked for at vend (vending.quotas): EC2 vCPU quotas per family and
    # SageMaker instance-count quotas per instance type.
    service_quotas: tuple[QuotaNeed, ...] = ()

    @model_validator(mode="after")
    def _quotas_fit_the_tier(self) -> GpuTier:
        seen: set[tuple[str, str]] = set()
        for need in self.service_quotas:
            if (need.service, need.name) in seen:
                raise ValueError(f"service_quotas: {need.service} {need.name!r} is listed twice")
            seen.add((need.service, need.name))
            if need.service == "sagemaker":
                # A quota for a type the tier's guardrails deny would be capacity nobody may use.
                match = SAGEMAKER_QUOTA_NAME.match(need.name)
                if match is None:
                    raise ValueError(f"service_quotas: {need.name!r} is not '<type> for endpoint|training job usage'")
                if not any(fnmatchcase(match.group(1), p) for p in self.sagemaker_instance_types):
                    raise ValueError(f"service_quotas: {match.group(1)} is not in the tier's sagemaker_instance_types")
        return self

    # What a team of this tier may invoke on Bedrock (scps.render.bedrock_tier): foundation models by id, and system
    # inference profiles by id (their destination regions come from Layout.bedrock_profile_regions).
    bedrock_models: tuple[str, ...] = ()
    bedrock_inference_profiles: tuple[str, ...] = ()
    # Provisioned throughput, model customization and model import (and invoking what they make).
    bedrock_customization: bool = False

    @field_validator("bedrock_models")
    @classmethod
    def _model_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [m for m in value if not BEDROCK_MODEL.match(m)]
        if bad:
            raise ValueError(f"{bad}: not Bedrock model ids (<provider>.<model>[:<version>])")
        return value

    @field_validator("bedrock_inference_profiles")
    @classmethod
    def _profile_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in value if not BEDROCK_PROFILE.match(p)]
        if bad:
            raise ValueError(f"{bad}: not geographic inference profile ids (<geo>.<provider>.<model>; no global.)")
        return value


class AcceleratedFamilies(_Strict):
    ec2: tuple[str, ...]
    sagemaker: tuple[str, ...]


# A GitHub user login, or an organization's team as `org/team-slug` (vending.github_setup resolves them).
GITHUB_REVIEWER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}(?:/[A-Za-z0-9._-]{1,100})?", re.ASCII)


# A team lead (TeamSpec.leads): a role name of the platform account, or a role ARN (path allowed).
LEAD_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
LEAD_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/(?:[\w+=,.@/-]*/)?[\w+=,.@-]{1,64}", re.ASCII)


class TeamSpec(_Strict):
    slug: str
    owner_email: str
    cost_center: str
    gpu_tier: str
    regions: tuple[str, ...]
    repository: str
    stacks: tuple[str, ...] = ("bootstrap",)
    # A stage whose account may use other regions than `regions` (each stage's account gets its own fence, never
    # the union): filled from the live vending records (vending.guardrails.intent.layout_for_records) or the layout.
    stage_regions: dict[Stage, tuple[str, ...]] = Field(default_factory=dict)
    monthly_budget_usd: Annotated[float, Field(gt=0)] | None = None
    # Overrides of the GPU tier's run-time fence (vending.spend.fence).
    spend_caps: SpendCaps | None = None
    on_freeze: OnFreeze | None = None
    # The required reviewers of the team's apply environment (`vend github configure`, vending/github_setup.py):
    # GitHub user logins or `org/team-slug`, at most 6.
    github_reviewers: tuple[str, ...] = ()
    # The team's leads (the portal and the API, vending.api.access): IAM role names, resolved in the platform account
    # the API runs in, or role ARNs. A lead sees and acts on this team's requests, findings and spend only.
    leads: tuple[str, ...] = ()

    @field_validator("leads")
    @classmethod
    def _leads(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [lead for lead in value if not (LEAD_ROLE_NAME.fullmatch(lead) or LEAD_ROLE_ARN.fullmatch(lead))]
        if bad:
            raise ValueError(f"{bad}: each is an IAM role name (1-64 of A-Z a-z 0-9 +=,.@_-) or a role ARN")
        if len({lead.lower() for lead in value}) != len(value):
            raise ValueError("a lead is listed twice")
        return value

    @field_validator("github_reviewers")
    @classmethod
    def _github_reviewers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in value if not GITHUB_REVIEWER.fullmatch(r)]
        if bad:
            raise ValueError(f"{bad}: each is a GitHub user login or an org/team-slug")
        if len(set(value)) > 6:
            raise ValueError("GitHub allows at most 6 required reviewers")
        return value

    def regions_for(self, stage: str) -> tuple[str, ...]:
        """The regions the team's account of `stage` may use."""
        return self.stage_regions.get(stage, self.regions)  # type: ignore[call-overload]

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not TEAM_SLUG.match(value):
            raise ValueError("lowercase letters, digits and hyphens, 3-40 characters")
        return value


GuardrailGroup = Literal["baseline", "region-allow-list", "cost-tags", "quarantine", "gpu-fence"]

# AWS's own region-deny example (Organizations user guide, "Deny access to AWS based on the requested AWS Region":
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_examples_general.html), as
# published; AWS_REGION_DENY_EXAMPLE minus REGIONAL_IN_AWS_EXAMPLE is the exemption (tests/scps/test_render.py).
AWS_REGION_DENY_EXAMPLE: tuple[str, ...] = (
    "a4b:*",
    "access-analyzer:*",
    "account:*",
    "acm:*",
    "activate:*",
    "artifact:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "billing:*",
    "billingconductor:*",
    "budgets:*",
    "ce:*",
    "chatbot:*",
    "chime:*",
    "cloudfront:*",
    "cloudtrail:LookupEvents",
    "compute-optimizer:*",
    "config:*",
    "consoleapp:*",
    "consolidatedbilling:*",
    "cur:*",
    "datapipeline:GetAccountLimits",
    "devicefarm:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "ecr-public:*",
    "fms:*",
    "freetier:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "invoicing:*",
    "iq:*",
    "kms:*",
    "license-manager:ListReceivedLicenses",
    "lightsail:Get*",
    "mobileanalytics:*",
    "networkmanager:*",
    "notifications-contacts:*",
    "notifications:*",
    "organizations:*",
    "payments:*",
    "pricing:*",
    "quicksight:DescribeAccountSubscription",
    "resource-explorer-2:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "route53:*",
    "route53domains:*",
    "s3:CreateMultiRegionAccessPoint",
    "s3:DeleteMultiRegionAccessPoint",
    "s3:DescribeMultiRegionAccessPointOperation",
    "s3:GetAccountPublicAccessBlock",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetMultiRegionAccessPoint",
    "s3:GetMultiRegionAccessPointPolicy",
    "s3:GetMultiRegionAccessPointPolicyStatus",
    "s3:GetStorageLensConfiguration",
    "s3:GetStorageLensDashboard",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:ListStorageLensConfigurations",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutMultiRegionAccessPointPolicy",
    "savingsplans:*",
    "shield:*",
    "sso:*",
    "sts:*",
    "support:*",
    "supportapp:*",
    "supportplans:*",
    "sustainability:*",
    "tag:GetResources",
    "tax:*",
    "trustedadvisor:*",
    "vendor-insights:ListEntitledSecurityProfiles",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
)
# Entries of AWS's example that name regional services: exempting them would let a team use them in any region.
REGIONAL_IN_AWS_EXAMPLE: dict[str, str] = {
    "wafv2:*": "a web ACL lives in a region (CLOUDFRONT scope is called in us-east-1, which the allow-list keeps)",
    "chime:*": "the Chime SDK (meetings, messaging, voice) is regional",
    "kms:*": "keys are regional and billable; an exemption lets a team create and use keys in any region",
    "acm:*": "certificates are regional (CloudFront's live in us-east-1, which the allow-list keeps)",
    "config:*": "recorders and rules are regional; the platform's own roles, which run Config, are exempt anyway",
    "access-analyzer:*": "analyzers are regional; the platform's own roles are exempt anyway",
    "resource-explorer-2:*": "indexes and views are regional",
}
# Global services have their endpoint in us-east-1 (or us-west-2): callable whatever the allow-list says.
DEFAULT_GLOBAL_SERVICE_EXEMPTIONS: tuple[str, ...] = tuple(
    a for a in AWS_REGION_DENY_EXAMPLE if a not in REGIONAL_IN_AWS_EXAMPLE
)


_DEFAULT_TAG_VALUE_FORMATS: dict[str, tuple[str, ...]] = {"cost-center": ("CC-*",)}


def _default_ou_guardrails() -> dict[str, tuple[GuardrailGroup, ...]]:
    return {"Workloads": ("baseline", "region-allow-list", "cost-tags")}


class GuardrailSettings(_Strict):
    """Where the SCPs go and the knobs they are rendered with (scps/ renders, vending.guardrails reconciles)."""

    policy_name_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")] = "vend-"
    # The bootstrap names state buckets tfstate-{account_id}-{region}; the SCP protects the prefix.
    state_bucket_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,40}$")] = "tfstate-"
    global_service_exemptions: tuple[str, ...] = DEFAULT_GLOBAL_SERVICE_EXEMPTIONS
    # Non-accelerated SageMaker families: listed so that a request mixing CPU and allowed accelerator instance types
    # (a multi-variant endpoint config) is not denied by the ForAnyValue:StringNotLike test. Must not overlap
    # accelerated_families.sagemaker (checked below).
    sagemaker_general_purpose_instance_types: tuple[str, ...] = (
        "ml.t2.*",
        "ml.t3.*",
        "ml.m*",
        "ml.c*",
        "ml.r*",
        "ml.x*",
    )
    # Statement groups attached to each OU (inherited by everything below it). The GPU tier policy goes on accounts.
    ou_guardrails: dict[str, tuple[GuardrailGroup, ...]] = Field(default_factory=_default_ou_guardrails)
    # OUs where the AWS-managed FullAWSAccess must NOT be attached (allow-list strategy: only `quarantine` allows).
    deny_full_aws_access: tuple[str, ...] = ()
    # Accounts directly in these OUs are platform or parked accounts: no team tags, no GPU tier policy.
    non_team_ous: tuple[str, ...] = ("Platform", "Suspended")
    # Account tag that names the GPU tier (set by TagAccount next to organization.mandatory_tags).
    gpu_tier_tag: str = "gpu-tier"
    # Member accounts that are not vended (the platform's own, log archive, ...): account id -> the non-team OU it
    # lives in. With the management account and the vending records, the only accounts the audit knows.
    platform_accounts: dict[str, str] = Field(default_factory=dict)
    audit_concurrency: Annotated[int, Field(ge=1, le=32)] = 8
    # Alias of the state bucket's KMS key (vending.bootstrap.STATE_KEY_ALIAS); the baseline protects the key by it.
    state_key_alias: Annotated[str, Field(pattern=r"^alias/[A-Za-z0-9/_-]{1,250}$")] = "alias/terraform-state"
    # Value formats the Organizations tag policy enforces (tag policy wildcard syntax), by mandatory tag key. The team
    # tag's value is set per team account; stage values come from the stages.
    tag_value_formats: dict[str, tuple[str, ...]] = Field(default_factory=lambda: _DEFAULT_TAG_VALUE_FORMATS.copy())


class NetworkSettings(_Strict):
    """VPC address space: one block per team and stage, so no two team VPCs overlap (peering, transit gateway,
    shared services stay possible). Stacks carve their VPCs out of their team's block (terraform/tools)."""

    pool: str = "10.0.0.0/8"
    block_prefix: Annotated[int, Field(ge=8, le=20)] = 16
    # Ranges outside any team's reach (the shared stacks' VPCs, on-premises ranges).
    reserved: tuple[str, ...] = ()
    allocations: dict[str, dict[Stage, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _blocks_fit_and_never_overlap(self) -> NetworkSettings:
        pool = self._network(self.pool, "network.pool")
        taken: list[tuple[str, ipaddress.IPv4Network]] = [
            (f"network.reserved[{i}]", self._network(r, f"network.reserved[{i}]")) for i, r in enumerate(self.reserved)
        ]
        for team, stages in self.allocations.items():
            for stage, cidr in stages.items():
                where = f"network.allocations.{team}.{stage}"
                block = self._network(cidr, where)
                if block.prefixlen != self.block_prefix or not block.subnet_of(pool):
                    raise ValueError(f"{where}: {cidr} must be a /{self.block_prefix} inside {self.pool}")
                clash = next((name for name, other in taken if block.overlaps(other)), None)
                if clash:
                    raise ValueError(f"{where}: {cidr} overlaps {clash}")
                taken.append((where, block))
        return self

    @staticmethod
    def _network(cidr: str, where: str) -> ipaddress.IPv4Network:
        try:
            return ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as e:
            raise ValueError(f"{where}: {cidr!r} is not an IPv4 network ({e})") from e

    def block_for(self, team: str, stage: str) -> str | None:
        return self.allocations.get(team, {}).get(stage)  # type: ignore[call-overload]


class Layout(_Strict):
    organization: OrganizationSettings
    ous: tuple[OuSpec, ...]
    stage_ous: dict[Stage, str]
    gpu_tiers: dict[str, GpuTier]
    accelerated_families: AcceleratedFamilies
    teams: tuple[TeamSpec, ...] = ()
    guardrails: GuardrailSettings = GuardrailSettings()
    network: NetworkSettings = NetworkSettings()
    # System inference profile id -> every region it may route a request to (from any source region).
    bedrock_profile_regions: dict[str, tuple[str, ...]] = Field(default_factory=dict)

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
            for where, regions in (
                ("regions", team.regions),
                *((f"stage_regions.{s}", r) for s, r in team.stage_regions.items()),
            ):
                outside = set(regions) - set(self.organization.allowed_regions)
                if outside:
                    raise ValueError(f"teams.{team.slug}.{where}: {sorted(outside)} not in the allow-list")
                if not regions:
                    raise ValueError(f"teams.{team.slug}.{where}: at least one region")
        self._guardrails_resolve(paths)
        return self

    def _guardrails_resolve(self, paths: set[str]) -> None:
        g = self.guardrails
        listed_ous = (
            ("ou_guardrails", tuple(g.ou_guardrails)),
            ("deny_full_aws_access", g.deny_full_aws_access),
            ("non_team_ous", g.non_team_ous),
        )
        for where, listed in listed_ous:
            unknown = sorted(set(listed) - paths)
            if unknown:
                raise ValueError(f"guardrails.{where}: OUs {unknown} are not declared in ous")
        for account_id, path in g.platform_accounts.items():
            if not re.fullmatch(r"\d{12}", account_id):
                raise ValueError(f"guardrails.platform_accounts: {account_id!r} is not a 12-digit account id")
            if path not in g.non_team_ous:
                raise ValueError(f"guardrails.platform_accounts.{account_id}: {path!r} is not one of non_team_ous")
        if g.deny_full_aws_access:
            # Without FullAWSAccess only an SCP Allow can let a call through, and an Allow binds every principal of the
            # account, the platform's roles included: it would lock the platform out (the quarantine group is a Deny
            # that exempts them instead).
            raise ValueError(
                f"guardrails.deny_full_aws_access: {list(g.deny_full_aws_access)} would lock the platform's roles out "
                "(SCP allow-lists cannot exempt a principal); fence these OUs with the 'quarantine' group instead"
            )
        for key in g.tag_value_formats:
            if key not in self.organization.mandatory_tags:
                raise ValueError(f"guardrails.tag_value_formats: {key!r} is not a mandatory tag")
        for team in self.teams:
            formats = g.tag_value_formats.get("cost-center", ("*",))
            if not any(fnmatchcase(team.cost_center, f) for f in formats):
                raise ValueError(f"teams.{team.slug}.cost_center: {team.cost_center!r} does not match {list(formats)}")
        families = self.accelerated_families.sagemaker
        for pattern in g.sagemaker_general_purpose_instance_types:
            clash = [f for f in families if fnmatchcase(pattern.rstrip("*"), f) or fnmatchcase(f.rstrip("*"), pattern)]
            if clash:
                raise ValueError(f"guardrails.sagemaker_general_purpose_instance_types: {pattern!r} overlaps {clash}")
        for name, tier in self.gpu_tiers.items():
            for kind, allowed, fams in (
                ("ec2_instance_types", tier.ec2_instance_types, self.accelerated_families.ec2),
                ("sagemaker_instance_types", tier.sagemaker_instance_types, families),
            ):
                stray = [t for t in allowed if not any(fnmatchcase(t.rstrip("*"), f) for f in fams)]
                if stray:
                    raise ValueError(f"gpu_tiers.{name}.{kind}: {stray} are not in an accelerated family")
            unrouted = [p for p in tier.bedrock_inference_profiles if not self.bedrock_profile_regions.get(p)]
            if unrouted:
                raise ValueError(
                    f"gpu_tiers.{name}.bedrock_inference_profiles: {unrouted} have no destination regions in "
                    "bedrock_profile_regions (the allow-list must name the model in each)"
                )
        for profile, regions in self.bedrock_profile_regions.items():
            bad = [r for r in regions if not REGION.match(r)]
            if bad or not BEDROCK_PROFILE.match(profile):
                raise ValueError(f"bedrock_profile_regions.{profile}: not a profile id, or {bad} not region names")

    def team(self, slug: str) -> TeamSpec | None:
        return next((t for t in self.teams if t.slug == slug), None)

    def tag_keys(self) -> tuple[str, ...]:
        """Account tags the guardrails read: the mandatory cost tags plus the GPU tier."""
        return (*self.organization.mandatory_tags, self.guardrails.gpu_tier_tag)

    def ou_for_stage(self, stage: str) -> str:
        return self.stage_ous[stage]  # type: ignore[index]

    def account_email(self, team: str, stage: str, generation: int = 0) -> str:
        """Generation n > 0 (a re-onboarding after closure: a closed account keeps its e-mail for good) adds a
        plus-address suffix `.r<n>` to the local part."""
        email = self.organization.account_email_pattern.format(team=team, stage=stage)
        if generation <= 0:
            return email
        local, _, domain = email.rpartition("@")
        return f"{local}{'' if '+' in local else '+'}.r{generation}@{domain}"

    def quota_needs(self, tier: str) -> tuple[QuotaNeed, ...]:
        return self.gpu_tiers[tier].service_quotas

    def monthly_budget(self, team: str, tier: str) -> float:
        """The team's override, else its GPU tier's monthly amount (USD)."""
        spec = self.team(team)
        if spec is not None and spec.monthly_budget_usd is not None:
            return spec.monthly_budget_usd
        return self.gpu_tiers[tier].monthly_budget_usd

    def spend_caps(self, team: str, tier: str) -> SpendCaps | None:
        """The team's override, else its GPU tier's caps; None when neither fences the account."""
        spec = self.team(team)
        if spec is not None and spec.spend_caps is not None:
            return spec.spend_caps
        found = self.gpu_tiers.get(tier)
        return found.spend_caps if found is not None else None

    def on_freeze(self, team: str, tier: str) -> OnFreeze:
        spec = self.team(team)
        if spec is not None and spec.on_freeze is not None:
            return spec.on_freeze
        found = self.gpu_tiers.get(tier)
        return found.on_freeze if found is not None else "keep_running"


# libyaml's safe loader when PyYAML was built with it (the wheels are): a sixth of the pure-Python one's time for the
# same document, and the CLI and every test reading the layout pay it.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_layout(path: str | Path | None = None) -> Layout:
    """Load and validate a layout file (default: $VEND_LAYOUT_FILE or the packaged layout.yaml)."""
    chosen = Path(path or os.environ.get("VEND_LAYOUT_FILE") or DEFAULT_LAYOUT)
    with chosen.open(encoding="utf-8") as handle:
        return Layout.model_validate(yaml.load(handle, Loader=_SAFE_LOADER))  # noqa: S506 (a safe loader, C or Python)


@lru_cache(maxsize=4)
def cached_layout(path: str | None = None) -> Layout:
    return load_layout(path)
