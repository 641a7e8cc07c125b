"""Render the guardrail SCPs from the layout and pack them into as few policies as the quotas allow.

Placement (the layout's `guardrails` section):
- OU level: the statement groups listed in `guardrails.ou_guardrails` (baseline, region allow-list, cost tags,
  quarantine), packed per OU into `<prefix><ou-slug>-<n>`; inherited by every OU and account below.
- Account level: one shared policy per GPU tier (`<prefix>gpu-<tier>`) attached to each team account.
- FullAWSAccess (AWS-managed, attached by default) stays everywhere except `guardrails.deny_full_aws_access`, and
  counts against the per-target quota.
SCP quotas: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from scps import catalog
from vending.exceptions import GuardrailLimitExceeded
from vending.layout import GpuTier, Layout

FULL_AWS_ACCESS = "FullAWSAccess"
VERSION = "2012-10-17"
_EMPTY_POLICY_CHARS = len('{"Version":"2012-10-17","Statement":[]}')

Document = dict[str, Any]


@dataclass(frozen=True)
class Statement:
    group: str
    body: Document
    # False only where the statement cannot stop the platform from operating the account (see platform_exempt()).
    exempts_platform: bool

    @property
    def sid(self) -> str:
        return str(self.body["Sid"])

    @property
    def chars(self) -> int:
        return len(minify(self.body))


@dataclass(frozen=True)
class RenderedPolicy:
    name: str
    description: str
    kind: str  # "ou" or "tier"
    statements: tuple[Statement, ...]

    @property
    def document(self) -> Document:
        return {"Version": VERSION, "Statement": [s.body for s in self.statements]}

    @property
    def content(self) -> str:
        return minify(self.document)

    @property
    def chars(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class TargetBudget:
    """What one kind of target carries and how much room that leaves under the quotas."""

    target: str
    policies: tuple[str, ...]
    full_aws_access: bool
    max_policies: int
    max_chars: int
    policy_chars: dict[str, int] = field(default_factory=dict)

    @property
    def attached(self) -> int:
        return len(self.policies) + int(self.full_aws_access)

    @property
    def slots_left(self) -> int:
        return self.max_policies - self.attached

    @property
    def chars_left(self) -> int:
        """Room for more statements: the free characters in our policies plus every free slot."""
        return sum(self.max_chars - c for c in self.policy_chars.values()) + max(self.slots_left, 0) * self.max_chars

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "policies": list(self.policies), "full_aws_access": self.full_aws_access,
                "attached": self.attached, "max_policies": self.max_policies, "slots_left": self.slots_left,
                "policy_chars": self.policy_chars, "chars_left": self.chars_left}


@dataclass(frozen=True)
class GuardrailSet:
    """Every SCP the layout asks for and where each goes."""

    policies: dict[str, RenderedPolicy]
    ou_policies: dict[str, tuple[str, ...]]  # OU path -> policy names attached directly to it
    tier_policies: dict[str, str]  # GPU tier -> policy name attached to each account of that tier
    no_full_aws_access: frozenset[str]  # OU paths where FullAWSAccess must not be attached
    max_policy_chars: int
    max_policies_per_target: int
    prefix: str

    def owns(self, policy_name: str) -> bool:
        return policy_name.startswith(self.prefix)

    def ou_budget(self, path: str) -> TargetBudget:
        names = self.ou_policies.get(path, ())
        return TargetBudget(f"OU {path}", names, path not in self.no_full_aws_access, self.max_policies_per_target,
                            self.max_policy_chars, {n: self.policies[n].chars for n in names})

    def tier_budget(self, tier: str) -> TargetBudget:
        name = self.tier_policies[tier]
        return TargetBudget(f"account (GPU tier {tier})", (name,), True, self.max_policies_per_target,
                            self.max_policy_chars, {name: self.policies[name].chars})

    def budgets(self, layout: Layout) -> list[TargetBudget]:
        return [self.ou_budget(ou.path) for ou in layout.ous] + [self.tier_budget(t) for t in self.tier_policies]

    def governing(self, ou_path: str, tier: str | None) -> list[str]:
        """Names of the SCPs that govern an account at `ou_path` (root, each OU on the path, the account)."""
        names = [FULL_AWS_ACCESS]
        parts = ou_path.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            names += self.ou_policies.get(path, ())
        if tier:
            names.append(self.tier_policies[tier])
        return sorted(set(names))


def minify(document: Document) -> str:
    """The exact text uploaded: AWS counts every character, whitespace included, against the size quota."""
    return json.dumps(document, separators=(",", ":"))


def platform_principals(layout: Layout) -> list[str]:
    return [f"arn:aws:iam::*:role/{name}" for name in layout.organization.platform_role_names]


def _unless_platform(layout: Layout, condition: Document | None = None) -> Document:
    merged = dict(condition or {})
    merged["ArnNotLike"] = {"aws:PrincipalArn": platform_principals(layout)}
    return merged


def _deny(sid: str, *, action: str | list[str] | None = None, not_action: list[str] | None = None,
          resource: str | list[str] = "*", condition: Document | None = None) -> Document:
    body: Document = {"Sid": sid, "Effect": "Deny"}
    if action is not None:
        body["Action"] = action
    if not_action is not None:
        body["NotAction"] = not_action
    body["Resource"] = resource
    if condition:
        body["Condition"] = condition
    return body


def baseline(layout: Layout) -> list[Statement]:
    roles = [f"arn:aws:iam::*:role/{name}" for name in layout.organization.platform_role_names]
    bucket = f"arn:aws:s3:::{layout.guardrails.state_bucket_prefix}*"
    return [
        # No exemption: nobody, the platform included, takes an account out of the organization.
        Statement("baseline", _deny("DenyLeaveOrganization", action="organizations:LeaveOrganization"), False),
        # No exemption needed: the root user is not a role; the platform never signs in as root.
        Statement("baseline", _deny("DenyRootUser", action="*",
                                    condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}), False),
        Statement("baseline", _deny("ProtectPlatformRoles", action=list(catalog.ROLE_MUTATIONS), resource=roles,
                                    condition=_unless_platform(layout)), True),
        Statement("baseline", _deny("ProtectStateBuckets", action=list(catalog.STATE_BUCKET_MUTATIONS),
                                    resource=[bucket, f"{bucket}/*"], condition=_unless_platform(layout)), True),
        Statement("baseline", _deny("ProtectCloudTrail", action=list(catalog.CLOUDTRAIL_MUTATIONS),
                                    condition=_unless_platform(layout)), True),
    ]


def region_allow_list(layout: Layout) -> list[Statement]:
    condition = _unless_platform(
        layout, {"StringNotEquals": {"aws:RequestedRegion": list(layout.organization.allowed_regions)}})
    return [Statement("region-allow-list", _deny("DenyOutsideAllowedRegions",
                                                 not_action=list(layout.guardrails.global_service_exemptions),
                                                 condition=condition), True)]


def cost_tags(layout: Layout) -> list[Statement]:
    """One statement per key: a Null condition on several keys in one statement would only deny when ALL are absent."""
    out = []
    for key in layout.organization.mandatory_tags:
        sid = "RequireTag" + "".join(part.capitalize() for part in key.replace("_", "-").split("-"))
        cond = {"Null": {f"aws:RequestTag/{key}": "true"}}
        out.append(Statement("cost-tags", _deny(f"{sid}OnRunInstances", action="ec2:RunInstances",
                                                resource=list(catalog.TAG_ON_CREATE_EC2_RUN_RESOURCES),
                                                condition=cond), False))
        out.append(Statement("cost-tags", _deny(f"{sid}OnCreate", action=list(catalog.TAG_ON_CREATE_ACTIONS),
                                                condition=cond), False))
    return out


def quarantine(layout: Layout) -> list[Statement]:
    del layout
    body = {"Sid": "QuarantineReadOnly", "Effect": "Allow", "Action": list(catalog.QUARANTINE_ALLOWED), "Resource": "*"}
    return [Statement("quarantine", body, False)]


def gpu_tier(layout: Layout, name: str, tier: GpuTier) -> list[Statement]:
    """Deny accelerated instance types outside the tier's allowance. A tier without allowance denies every family."""
    fam = layout.accelerated_families
    ec2: Document = {"StringLike": {"ec2:InstanceType": list(fam.ec2)}}
    if tier.ec2_instance_types:
        ec2["StringNotLike"] = {"ec2:InstanceType": list(tier.ec2_instance_types)}
    sm: Document = {"ForAnyValue:StringLike": {"sagemaker:InstanceTypes": list(fam.sagemaker)}}
    if tier.sagemaker_instance_types:
        allowed = [*tier.sagemaker_instance_types, *layout.guardrails.sagemaker_general_purpose_instance_types]
        sm["ForAnyValue:StringNotLike"] = {"sagemaker:InstanceTypes": allowed}
    slug = "".join(p.capitalize() for p in name.split("-"))
    return [
        Statement(f"gpu-{name}", _deny(f"GpuTier{slug}Ec2", action="ec2:RunInstances",
                                       resource="arn:aws:ec2:*:*:instance/*", condition=ec2), False),
        Statement(f"gpu-{name}", _deny(f"GpuTier{slug}SageMaker", action=list(catalog.SAGEMAKER_INSTANCE_ACTIONS),
                                       condition=sm), False),
    ]


GROUPS = {"baseline": baseline, "region-allow-list": region_allow_list, "cost-tags": cost_tags,
          "quarantine": quarantine}


def pack(statements: list[Statement], max_chars: int, where: str) -> list[tuple[Statement, ...]]:
    """First-fit decreasing on exact minified sizes; fails precisely if one statement alone is too large."""
    bins: list[tuple[list[Statement], int]] = []
    for stmt in sorted(statements, key=lambda s: (-s.chars, s.sid)):
        alone = _EMPTY_POLICY_CHARS + stmt.chars
        if alone > max_chars:
            raise GuardrailLimitExceeded(
                f"{where}: statement {stmt.sid} ({stmt.group}) renders to {alone} characters on its own; "
                f"scp_limits.max_policy_chars is {max_chars} (over by {alone - max_chars})")
        for i, (members, size) in enumerate(bins):
            if size + 1 + stmt.chars <= max_chars:
                members.append(stmt)
                bins[i] = (members, size + 1 + stmt.chars)
                break
        else:
            bins.append(([stmt], alone))
    # Keep the declared order inside each policy so that a reader sees the groups as written.
    order = {id(s): i for i, s in enumerate(statements)}
    return [tuple(sorted(members, key=lambda s: order[id(s)])) for members, _ in bins]


def _slug(path: str) -> str:
    return path.lower().replace("/", "-")


def render(layout: Layout) -> GuardrailSet:
    g = layout.guardrails
    limits = layout.organization.scp_limits
    policies: dict[str, RenderedPolicy] = {}
    ou_policies: dict[str, tuple[str, ...]] = {}
    for path, groups in g.ou_guardrails.items():
        statements = [s for group in groups for s in GROUPS[group](layout)]
        names = []
        for i, members in enumerate(pack(statements, limits.max_policy_chars, f"OU {path}"), start=1):
            name = f"{g.policy_name_prefix}{_slug(path)}-{i}"
            kinds = ", ".join(sorted({s.group for s in members}))
            policies[name] = RenderedPolicy(name, f"Guardrails for OU {path} ({kinds}); rendered by vend from the "
                                                  f"layout, do not edit by hand", "ou", members)
            names.append(name)
        ou_policies[path] = tuple(names)
    tier_policies: dict[str, str] = {}
    for tier_name, tier in layout.gpu_tiers.items():
        statements = gpu_tier(layout, tier_name, tier)
        packed = pack(statements, limits.max_policy_chars, f"GPU tier {tier_name}")
        if len(packed) > 1:
            raise GuardrailLimitExceeded(
                f"GPU tier {tier_name}: needs {len(packed)} policies of at most {limits.max_policy_chars} characters "
                f"(together {_EMPTY_POLICY_CHARS + sum(s.chars + 1 for s in statements) - 1}); one per tier is "
                f"supported (over by {len(packed) - 1} policy)")
        name = f"{g.policy_name_prefix}gpu-{tier_name}"
        policies[name] = RenderedPolicy(name, f"GPU tier {tier_name}: {tier.description}"[:500], "tier", packed[0])
        tier_policies[tier_name] = name
    rendered = GuardrailSet(policies, ou_policies, tier_policies, frozenset(g.deny_full_aws_access),
                            limits.max_policy_chars, limits.max_policies_per_target, g.policy_name_prefix)
    for budget in rendered.budgets(layout):
        if budget.slots_left < 0:
            ours = ", ".join(budget.policies)
            fa = "FullAWSAccess + " if budget.full_aws_access else ""
            raise GuardrailLimitExceeded(
                f"{budget.target}: needs {budget.attached} SCPs attached ({fa}{len(budget.policies)} rendered: "
                f"{ours}); scp_limits.max_policies_per_target is {budget.max_policies} "
                f"(over by {-budget.slots_left})")
    return rendered
