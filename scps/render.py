"""Render the guardrail SCPs from the layout and pack them into as few policies as the quotas allow.

Placement (the layout's `guardrails` section):
- OU level: the statement groups listed in `guardrails.ou_guardrails` (baseline, region allow-list, cost tags,
  quarantine), packed per OU into `<prefix><ou-slug>-<n>`; inherited by every OU and account below.
- Stage OUs (`stage_ous`): also the stage pin (`RequireOwnStageTag`: a tag named stage carries the OU's own stage).
- Account level: one shared policy per GPU tier (`<prefix>gpu-<tier>`) attached to each team account, and one per team
  (`<prefix>team-<slug>`: its regions, its team and cost-center values), teams outside the layout included
  (vending.guardrails.intent.layout_for_records makes their team from their records).
- FullAWSAccess (AWS-managed, attached by default) stays everywhere except `guardrails.deny_full_aws_access`, and
  counts against the per-target quota.
SCP quotas: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from scps import bedrock, catalog
from scps.families import general_purpose_patterns
from scps.tag_policy import tag_policies
from vending.exceptions import GuardrailLimitExceeded
from vending.layout import GpuTier, Layout, TeamSpec

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
        return {
            "target": self.target,
            "policies": list(self.policies),
            "full_aws_access": self.full_aws_access,
            "attached": self.attached,
            "max_policies": self.max_policies,
            "slots_left": self.slots_left,
            "policy_chars": self.policy_chars,
            "chars_left": self.chars_left,
        }


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
    # (team slug, stage) -> the per-team policy of that stage's account (its regions, its team tag value): one per
    # stage, so a staging account asking for a region never widens production's fence (no union of the two).
    team_policies: dict[tuple[str, str], str] = field(default_factory=dict)
    team_tiers: dict[str, str] = field(default_factory=dict)
    # Organizations tag policies (scps.tag_policy): name -> content, the org-wide one's name (attached at every stage
    # OU) and team slug -> the team's own (attached at each of its accounts).
    tag_policies: dict[str, str] = field(default_factory=dict)
    org_tag_policy: str = ""
    team_tag_policies: dict[str, str] = field(default_factory=dict)
    # The spend freeze (vending.spend.fence): attached to an account while its freeze record stands, beside the rest.
    freeze_policy: str = ""

    def owns(self, policy_name: str) -> bool:
        return policy_name.startswith(self.prefix)

    def ou_budget(self, path: str) -> TargetBudget:
        names = self.ou_policies.get(path, ())
        return TargetBudget(
            f"OU {path}",
            names,
            path not in self.no_full_aws_access,
            self.max_policies_per_target,
            self.max_policy_chars,
            {n: self.policies[n].chars for n in names},
        )

    def tier_budget(self, tier: str) -> TargetBudget:
        name = self.tier_policies[tier]
        return TargetBudget(
            f"account (GPU tier {tier})",
            (name,),
            True,
            self.max_policies_per_target,
            self.max_policy_chars,
            {name: self.policies[name].chars},
        )

    def team_policy(self, team: str, stage: str) -> str | None:
        """The per-team policy of the team's `stage` account; None for a team the layout does not render."""
        return self.team_policies.get((team, stage))

    def account_budget(self, team: str, stage: str) -> TargetBudget:
        """A team account carries FullAWSAccess, its tier's policy and its team policy."""
        names = (self.tier_policies[self.team_tiers[team]], self.team_policies[(team, stage)])
        return TargetBudget(
            f"account of {team} ({stage})",
            names,
            True,
            self.max_policies_per_target,
            self.max_policy_chars,
            {n: self.policies[n].chars for n in names},
        )

    def frozen_account_budget(self, team: str, stage: str) -> TargetBudget:
        """A frozen team account: FullAWSAccess, its tier's policy, its team policy and the freeze."""
        names = (self.tier_policies[self.team_tiers[team]], self.team_policies[(team, stage)], self.freeze_policy)
        return TargetBudget(
            f"frozen account of {team} ({stage})",
            names,
            True,
            self.max_policies_per_target,
            self.max_policy_chars,
            {n: self.policies[n].chars for n in names},
        )

    def budgets(self, layout: Layout) -> list[TargetBudget]:
        return (
            [self.ou_budget(ou.path) for ou in layout.ous]
            + [self.tier_budget(t) for t in self.tier_policies]
            + [self.account_budget(team, stage) for team, stage in self.team_policies]
            + [self.frozen_account_budget(team, stage) for team, stage in self.team_policies if self.freeze_policy]
        )

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
    # Keys under one operator are ANDed, like separate operators: merge, never replace a caller's ArnNotLike.
    merged["ArnNotLike"] = {**merged.get("ArnNotLike", {}), "aws:PrincipalArn": platform_principals(layout)}
    return merged


def _deny(
    sid: str,
    *,
    action: str | list[str] | None = None,
    not_action: list[str] | None = None,
    resource: str | list[str] = "*",
    condition: Document | None = None,
) -> Document:
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
        Statement(
            "baseline",
            _deny("DenyRootUser", action="*", condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}),
            False,
        ),
        # The team's CI roles are not platform roles (every fence applies to them), but only the platform may change
        # their trust, policies or boundary: a team that could would widen the plan role or its own trust. Nor the role
        # Bedrock writes the invocation log with: a team that emptied its policy would silence the log.
        Statement(
            "baseline",
            _deny(
                "ProtectPlatformRoles",
                action=list(catalog.ROLE_MUTATIONS),
                resource=[
                    *roles,
                    *(f"arn:aws:iam::*:role/{name}" for name in catalog.TEAM_CI_ROLE_NAMES),
                    f"arn:aws:iam::*:role/{catalog.INVOCATION_LOGGING_ROLE_NAME}",
                    f"arn:aws:iam::*:role/{catalog.USAGE_FORWARDING_ROLE_NAME}",
                ],
                condition=_unless_platform(layout),
            ),
            True,
        ),
        # What the CI roles stand on: the boundary's versions (a new default would widen every bounded role) and the
        # GitHub OIDC provider they trust. Each action names one resource type, so one statement holds both lists.
        Statement(
            "baseline",
            _deny(
                "ProtectCIAnchors",
                action=[*catalog.BOUNDARY_POLICY_MUTATIONS, *catalog.OIDC_PROVIDER_MUTATIONS],
                resource=[
                    f"arn:aws:iam::*:policy/{catalog.CI_BOUNDARY_NAME}",
                    f"arn:aws:iam::*:oidc-provider/{catalog.GITHUB_OIDC_HOST}",
                ],
                condition=_unless_platform(layout),
            ),
            True,
        ),
        Statement(
            "baseline",
            _deny(
                "ProtectStateBuckets",
                action=list(catalog.STATE_BUCKET_MUTATIONS),
                resource=[bucket, f"{bucket}/*"],
                condition=_unless_platform(layout),
            ),
            True,
        ),
        # Who did what (CloudTrail) and who invoked which model with what prompt (Bedrock's invocation logging): only
        # the platform configures, narrows or removes either. One statement: same resource, same exemption (its own
        # would cost ~170 characters, which the Suspended OU's policy does not have).
        Statement(
            "baseline",
            _deny(
                "ProtectActivityLogs",
                action=[*catalog.CLOUDTRAIL_MUTATIONS, *catalog.BEDROCK_LOGGING_MUTATIONS],
                condition=_unless_platform(layout),
            ),
            True,
        ),
        Statement(
            "baseline",
            _deny(
                "ProtectSecurityServices",
                action=[*catalog.SECURITY_SERVICE_MUTATIONS, *catalog.FINDING_SUPPRESSION],
                condition=_unless_platform(layout),
            ),
            True,
        ),
        # kms:ResourceAliases finds the key whatever its id; the alias itself cannot be deleted or repointed.
        Statement(
            "baseline",
            _deny(
                "ProtectStateKey",
                action=list(catalog.STATE_KEY_MUTATIONS),
                condition=_unless_platform(
                    layout, {"ForAnyValue:StringEquals": {"kms:ResourceAliases": layout.guardrails.state_key_alias}}
                ),
            ),
            True,
        ),
        Statement(
            "baseline",
            _deny(
                "ProtectStateKeyAlias",
                action=list(catalog.STATE_KEY_ALIAS_MUTATIONS),
                resource=f"arn:aws:kms:*:*:{layout.guardrails.state_key_alias}",
                condition=_unless_platform(layout),
            ),
            True,
        ),
    ]


def _region_statement(
    layout: Layout, sid: str, regions: tuple[str, ...], also_exempt: tuple[str, ...] = ()
) -> Statement:
    """Deny requests outside `regions`; Bedrock invocations are fenced by _invoke_region_statement instead.
    `also_exempt`: role ARN patterns exempt besides the platform's."""
    condition = _unless_platform(layout, {"StringNotEquals": {"aws:RequestedRegion": list(regions)}})
    if also_exempt:
        condition["ArnNotLike"]["aws:PrincipalArn"] = [*condition["ArnNotLike"]["aws:PrincipalArn"], *also_exempt]
    not_action = [*layout.guardrails.global_service_exemptions, *catalog.BEDROCK_INVOKE]
    return Statement("region-allow-list", _deny(sid, not_action=not_action, condition=condition), True)


def _invoke_region_statement(layout: Layout, sid: str, regions: tuple[str, ...]) -> Statement:
    """Deny Bedrock invocations outside `regions`, except those a cross-region inference profile called in one of
    `regions` routed elsewhere: AWS evaluates the routed call in its destination region, and "if any destination Region
    in a cross-Region inference profile is blocked in your SCPs, the request will fail"
    (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html). bedrock:InferenceProfileArn
    is set by Bedrock, never by the caller; AWS's own exemption uses it, on the invoke actions only
    (https://repost.aws/knowledge-center/bedrock-access-denied-exception). Which models stays the tier's fence."""
    condition = _unless_platform(
        layout,
        {
            "StringNotEquals": {"aws:RequestedRegion": list(regions)},
            "ArnNotLike": {"bedrock:InferenceProfileArn": bedrock.profile_sources(regions)},
        },
    )
    return Statement("region-allow-list", _deny(sid, action=list(catalog.BEDROCK_INVOKE), condition=condition), True)


def _bucket_region_statement(layout: Layout, sid: str, regions: tuple[str, ...]) -> Statement:
    """CreateBucket names the bucket's region in its body: a request sent to an allowed region's endpoint may place the
    bucket anywhere. The key is absent for us-east-1 (no LocationConstraint), which aws:RequestedRegion decides.
    A legacy alias ("EU") is refused even where its region is allowed: fail closed."""
    condition = _unless_platform(
        layout,
        {"Null": {"s3:LocationConstraint": "false"}, "StringNotEquals": {"s3:LocationConstraint": list(regions)}},
    )
    return Statement("region-allow-list", _deny(sid, action="s3:CreateBucket", condition=condition), True)


def region_allow_list(layout: Layout) -> list[Statement]:
    regions = layout.organization.allowed_regions
    return [
        _region_statement(layout, "DenyOutsideAllowedRegions", regions),
        _invoke_region_statement(layout, "DenyInvokeOutsideAllowedRegions", regions),
        _bucket_region_statement(layout, "DenyBucketsOutsideAllowedRegions", regions),
    ]


def _tag_sid(key: str) -> str:
    return "".join(part.capitalize() for part in key.replace("_", "-").split("-"))


def cost_tags(layout: Layout) -> list[Statement]:
    """On create, every mandatory tag must be present and non-empty; afterwards it can be neither removed nor changed.

    One statement per key: conditions on several keys in one statement are ANDed. `StringNotLike "?*"` matches an
    absent key as well as an empty value: a negated operator is true when the key is missing from the request
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
    """
    keys = list(layout.organization.mandatory_tags)
    out = []
    creates = [*catalog.TAG_ON_CREATE_ACTIONS, *catalog.TAG_ON_CREATE_BILLABLE]
    for key in keys:
        sid = "RequireTag" + _tag_sid(key)
        cond = _unless_platform(layout, {"StringNotLike": {f"aws:RequestTag/{key}": "?*"}})
        out.append(
            Statement(
                "cost-tags",
                _deny(
                    f"{sid}OnRunInstances",
                    action="ec2:RunInstances",
                    resource=list(catalog.TAG_ON_CREATE_EC2_RUN_RESOURCES),
                    condition=cond,
                ),
                True,
            )
        )
        out.append(Statement("cost-tags", _deny(f"{sid}OnCreate", action=creates, condition=cond), True))
    out.append(
        Statement(
            "cost-tags",
            _deny(
                "DenyRemovingMandatoryTags",
                action=list(catalog.TAG_REMOVAL_ACTIONS),
                condition=_unless_platform(layout, {"ForAnyValue:StringEquals": {"aws:TagKeys": keys}}),
            ),
            True,
        )
    )
    # EC2's DeleteTags without Tags deletes every tag of the resources it names, and AWS then puts no aws:TagKeys in
    # the request: the statement above (any of the keys removed) does not match, so this one refuses the keyless form.
    out.append(
        Statement(
            "cost-tags",
            _deny(
                "DenyRemovingEveryTag",
                action="ec2:DeleteTags",
                condition=_unless_platform(layout, {"Null": {"aws:TagKeys": "true"}}),
            ),
            True,
        )
    )
    # A resource that carries the team tag was created under the rule above: its mandatory tags are final for teams.
    first = keys[0]
    out.append(
        Statement(
            "cost-tags",
            _deny(
                "DenyChangingMandatoryTags",
                action=list(catalog.TAG_WRITE_ACTIONS),
                condition=_unless_platform(
                    layout,
                    {"Null": {f"aws:ResourceTag/{first}": "false"}, "ForAnyValue:StringEquals": {"aws:TagKeys": keys}},
                ),
            ),
            True,
        )
    )
    return out


def quarantine(layout: Layout) -> list[Statement]:
    """Everything but the read-only allow-list is denied, except to the platform's roles. A Deny, not an allow-list:
    an SCP Allow binds every principal in the account, OrganizationAccountAccessRole included (exemptions exist only
    as Deny conditions), so an allow-list would stop the platform destroying stacks and archiving state."""
    body = _deny(
        "QuarantineReadOnly",
        not_action=list(catalog.QUARANTINE_ALLOWED),
        condition=_unless_platform(layout),
    )
    return [Statement("quarantine", body, True)]


def _single_valued(layout: Layout, key: str, families: tuple[str, ...], allowed: tuple[str, ...]) -> Document:
    cond: Document = {"StringLike": {key: list(families)}}
    if allowed:
        cond["StringNotLike"] = {key: list(allowed)}
    return _unless_platform(layout, cond)


def _multi_valued(
    layout: Layout, key: str, families: tuple[str, ...], allowed: tuple[str, ...], general_purpose: tuple[str, ...]
) -> Document:
    """Deny when any listed type is accelerated and any listed type is neither allowed nor general purpose: a request
    mixing CPU types with an allowed accelerator passes, one naming a disallowed accelerator does not."""
    cond: Document = {"ForAnyValue:StringLike": {key: list(families)}}
    if allowed:
        cond["ForAnyValue:StringNotLike"] = {key: [*allowed, *general_purpose]}
    return _unless_platform(layout, cond)


def ec2_general_purpose(layout: Layout) -> tuple[str, ...]:
    from scps.families import EC2_GENERAL_PURPOSE

    return general_purpose_patterns(EC2_GENERAL_PURPOSE, layout.accelerated_families.ec2)


def gpu_tier(layout: Layout, name: str, tier: GpuTier) -> list[Statement]:
    """Deny accelerated instance types outside the tier's allowance on every action that names an instance type.

    The condition keys and the actions that accept them come from the IAM reference (scps/coverage.py lists them and
    tests/scps/test_coverage.py checks both directions). Keys exist only on the actions that accept them, so a
    service-wide action pattern fences exactly the catalogue's actions and any the service adds later.
    """
    fam = layout.accelerated_families
    ec2_allowed = tier.ec2_instance_types
    sm_allowed = tier.sagemaker_instance_types
    sm_general = layout.guardrails.sagemaker_general_purpose_instance_types
    slug = "".join(p.capitalize() for p in name.split("-"))
    group = f"gpu-{name}"

    def deny(sid: str, condition: Document, **kw: Any) -> Statement:
        return Statement(group, _deny(f"GpuTier{slug}{sid}", condition=condition, **kw), True)

    single: list[tuple[str, str, dict[str, Any]]] = [
        # Every EC2 action on an instance (launch, start, capacity reservations, fleets, dedicated hosts, RI
        # exchanges) except reading it and winding it down.
        ("Ec2", "ec2:InstanceType", {"not_action": list(catalog.EC2_INSTANCE_WIND_DOWN)}),
        # ModifyInstanceAttribute InstanceType=... (then StartInstances), ModifyHosts and any other attribute change.
        ("Ec2Modify", "ec2:Attribute/InstanceType", {"action": "ec2:*"}),
        ("AsgLaunchConfiguration", "autoscaling:InstanceType", {"action": "autoscaling:*"}),
        ("Cloud9", "cloud9:InstanceType", {"action": "cloud9:*"}),
        ("CodeBuildFleet", "codebuild:computeConfiguration.instanceType", {"action": "codebuild:*"}),
        ("CodeBuildProject", "codebuild:environment.computeConfiguration.instanceType", {"action": "codebuild:*"}),
    ]
    out = [deny(sid, _single_valued(layout, key, fam.ec2, ec2_allowed), **kw) for sid, key, kw in single]
    out.append(
        deny(
            "AsgOverrides",
            _multi_valued(layout, "autoscaling:InstanceTypes", fam.ec2, ec2_allowed, ec2_general_purpose(layout)),
            action="autoscaling:*",
        )
    )
    out.append(
        deny(
            "SageMaker",
            _multi_valued(layout, "sagemaker:InstanceTypes", fam.sagemaker, sm_allowed, sm_general),
            action="sagemaker:*",
        )
    )
    return out


def bedrock_tier(layout: Layout, name: str, tier: GpuTier) -> list[Statement]:
    """Bedrock by tier: invoke only the tier's foundation models and inference profiles (with the profile's model in
    each destination region, scps.bedrock); provisioned throughput, customization and import only where the tier says.
    NotResource keeps the list to one ARN per entry (an ArnNotLike condition has no key for the invoked resource)."""
    slug = "".join(p.capitalize() for p in name.split("-"))
    allowed = bedrock.allowance(layout, tier)
    invoke = _deny(f"BedrockTier{slug}Invoke", action=list(catalog.BEDROCK_INVOKE), condition=_unless_platform(layout))
    if allowed.arns:  # the Resource element becomes NotResource in place (Condition stays last, as _deny puts it)
        invoke = {
            ("NotResource" if k == "Resource" else k): (list(allowed.arns) if k == "Resource" else v)
            for k, v in invoke.items()
        }
    out = [Statement(f"gpu-{name}", invoke, True)]
    if not tier.bedrock_customization:
        out.append(
            Statement(
                f"gpu-{name}",
                _deny(
                    f"BedrockTier{slug}Customization",
                    action=list(catalog.BEDROCK_CUSTOMIZATION),
                    condition=_unless_platform(layout),
                ),
                True,
            )
        )
    return out


def gpu_fence(layout: Layout) -> list[Statement]:
    """The tier-independent part of the GPU fence: what names no instance type, or an accelerator no tier grants."""
    return [
        # Launches that name no type a tier can check, accelerators chosen by a parameter no key exposes, and
        # commitments: denied to team principals in every tier (catalog.py says why for each list).
        Statement(
            "gpu-fence",
            _deny(
                "DenyUntypedCapacity",
                action=[
                    *catalog.UNTYPED_CAPACITY_ACTIONS,
                    *catalog.UNTYPED_ACCELERATED_ACTIONS,
                    *catalog.COMMITMENT_ACTIONS,
                ],
                condition=_unless_platform(layout),
            ),
            True,
        ),
        # AllocateHosts may name a family instead of a type: then no tier can be checked.
        Statement(
            "gpu-fence",
            _deny(
                "DenyHostsWithoutInstanceType",
                action="ec2:AllocateHosts",
                condition=_unless_platform(layout, {"Null": {"ec2:InstanceType": "true"}}),
            ),
            True,
        ),
        # CodeBuild's GPU environments (LINUX_GPU_CONTAINER, on T4/A10G hosts) name no instance type; no tier grants
        # them.
        # Projects and builds (an override in StartBuild) carry environment.type, fleets environmentType.
        Statement(
            "gpu-fence",
            _deny(
                "DenyCodeBuildGpuProjects",
                action="codebuild:*",
                condition=_unless_platform(layout, {"StringLike": {"codebuild:environment.type": "*GPU*"}}),
            ),
            True,
        ),
        Statement(
            "gpu-fence",
            _deny(
                "DenyCodeBuildGpuFleets",
                action="codebuild:*",
                condition=_unless_platform(layout, {"StringLike": {"codebuild:environmentType": "*GPU*"}}),
            ),
            True,
        ),
        # ModifyHosts may switch a host to another instance family: a family is no type a tier can check.
        Statement(
            "gpu-fence",
            _deny(
                "DenyHostFamilyChange",
                action="ec2:ModifyHosts",
                condition=_unless_platform(layout, {"Null": {"ec2:Attribute/InstanceFamily": "false"}}),
            ),
            True,
        ),
        # Elastic Graphics and Elastic Inference are retired accelerators that no tier grants.
        Statement(
            "gpu-fence",
            _deny(
                "DenyElasticGpus",
                action="ec2:*",
                condition=_unless_platform(layout, {"Null": {"ec2:ElasticGpuType": "false"}}),
            ),
            True,
        ),
        Statement(
            "gpu-fence",
            _deny(
                "DenyElasticInference",
                action="sagemaker:*",
                condition=_unless_platform(layout, {"Null": {"sagemaker:AcceleratorTypes": "false"}}),
            ),
            True,
        ),
    ]


def _own_tag(layout: Layout, group: str, key: str, value: str) -> Statement:
    """Whenever a request writes tag `key` (on create or later), its value must be the account's own. Presence on create
    is the OU's cost-tags group; together: present, non-empty and this account's value."""
    condition = _unless_platform(
        layout, {"Null": {f"aws:RequestTag/{key}": "false"}, "StringNotEquals": {f"aws:RequestTag/{key}": value}}
    )
    return Statement(group, _deny(f"RequireOwn{_tag_sid(key)}Tag", action="*", condition=condition), True)


def team_policy(layout: Layout, team: TeamSpec, stage: str) -> list[Statement]:
    """Per team account: its own stage's regions (a subset of the org allow-list), its own team and cost-center tag
    values."""
    team_key, _stage_key, cost_key = _tag_roles(layout)
    regions = team.regions_for(stage)
    # The usage forwarding's role puts the account's state changes on the platform's bus, in the platform's region,
    # whatever the team's regions (EventBridge applies the account's SCPs to it). It may do nothing else (its policy),
    # and neither a team nor anyone else can change it, pass it or use it from another rule (vending.usage_forwarding).
    # The OU-level allow-list has no room for this exemption: the platform's region must be allowed there instead.
    forwarding = (f"arn:aws:iam::*:role/{catalog.USAGE_FORWARDING_ROLE_NAME}",)
    out = [
        _region_statement(layout, "DenyOutsideTeamRegions", regions, forwarding),
        _invoke_region_statement(layout, "DenyInvokeOutsideTeamRegions", regions),
        _bucket_region_statement(layout, "DenyBucketsOutsideTeamRegions", regions),
        _own_tag(layout, "team", team_key, team.slug),
    ]
    if cost_key:
        out.append(_own_tag(layout, "team", cost_key, team.cost_center))
    return out


def stage_policy(layout: Layout, stage: str) -> list[Statement]:
    """Per stage OU (team accounts only): the stage tag names the OU's own stage (a staging account cannot label its
    spend production), and every role a team makes carries the CI boundary, whoever makes it (the boundary's own
    NewRolesCarryTheBoundary binds only bounded principals; this binds a team's human admins too). Not in the baseline:
    the platform's own accounts deploy with roles (CDK's) that carry no such boundary."""
    _team_key, stage_key, _cost_key = _tag_roles(layout)
    out = [_own_tag(layout, "stage", stage_key, stage)] if stage_key else []
    boundary = f"arn:aws:iam::*:policy/{catalog.CI_BOUNDARY_NAME}"
    out.append(
        Statement(
            "stage",
            _deny(
                "RequireCIBoundaryOnRoles",
                action=["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
                condition=_unless_platform(layout, {"ArnNotLike": {"iam:PermissionsBoundary": boundary}}),
            ),
            True,
        )
    )
    # Apart, without the boundary condition: for a delete, iam:PermissionsBoundary is the boundary the role carries
    # now, so under the condition above removing the CI boundary itself would be allowed.
    out.append(
        Statement(
            "stage",
            _deny(
                "KeepBoundaryOnRoles", action="iam:DeleteRolePermissionsBoundary", condition=_unless_platform(layout)
            ),
            True,
        )
    )
    # The log group Bedrock's invocation logging writes to in a team account (vending/invocation_logging.py): the
    # baseline keeps its configuration and role; this keeps the log itself. Here rather than in the baseline: only team
    # accounts are given the log, and the Suspended OU's quarantine already denies these to teams.
    group = f"arn:aws:logs:*:*:log-group:{catalog.INVOCATION_LOG_GROUP}"
    out.append(
        Statement(
            "stage",
            _deny(
                "ProtectInvocationLogGroup",
                action=list(catalog.INVOCATION_LOG_GROUP_MUTATIONS),
                resource=[group, f"{group}:*"],
                condition=_unless_platform(layout),
            ),
            True,
        )
    )
    # The live meter's usage forwarding (vending/usage_forwarding.py): a team that deleted, disabled or retargeted the
    # rule would run GPUs the meter never sees. And its role: passing it would let a team's own rule (or any service
    # EventBridge could be asked to act for) carry it; its trust admits only the forwarding rule, this says so twice.
    # One statement: each action names one resource type. Here: only team accounts are given the forwarding.
    out.append(
        Statement(
            "stage",
            _deny(
                "ProtectUsageForwarding",
                action=[*catalog.USAGE_FORWARDING_RULE_MUTATIONS, "iam:PassRole"],
                resource=[
                    f"arn:aws:events:*:*:rule/{catalog.USAGE_FORWARDING_RULE}",
                    f"arn:aws:iam::*:role/{catalog.USAGE_FORWARDING_ROLE_NAME}",
                ],
                condition=_unless_platform(layout),
            ),
            True,
        )
    )
    return out


def _tag_roles(layout: Layout) -> tuple[str, str | None, str | None]:
    """(team key, stage key, cost-center key) among the mandatory tags: the first is the team's; the others by name."""
    keys = layout.organization.mandatory_tags
    stage = next((k for k in keys[1:] if k == "stage"), None)
    cost = next((k for k in keys[1:] if k.replace("_", "-") == "cost-center"), None)
    return keys[0], stage, cost


def freeze(layout: Layout) -> list[Statement]:
    """The spend freeze (vending.spend.fence), attached to a team account that crossed its hourly or daily cap: no new
    accelerated capacity, no Bedrock tokens, no SageMaker creates or scale-ups; what runs keeps running (stopping,
    terminating, describing and invoking an endpoint stay allowed). Never the platform's roles: they stop instances
    (on_freeze: stop) and lift the freeze."""
    accelerated = list(layout.accelerated_families.ec2)
    return [
        Statement(
            "freeze",
            _deny(
                "FreezeAcceleratedLaunches",
                action=list(catalog.FREEZE_EC2_LAUNCHES),
                condition=_unless_platform(layout, {"StringLike": {"ec2:InstanceType": accelerated}}),
            ),
            True,
        ),
        Statement(
            "freeze",
            _deny("FreezeBedrockTokens", action=list(catalog.FREEZE_BEDROCK), condition=_unless_platform(layout)),
            True,
        ),
        Statement(
            "freeze",
            _deny(
                "FreezeSageMakerCreates",
                action=list(catalog.FREEZE_SAGEMAKER_CREATES),
                condition=_unless_platform(layout),
            ),
            True,
        ),
    ]


def freeze_policy(layout: Layout) -> RenderedPolicy:
    name = f"{layout.guardrails.policy_name_prefix}freeze"
    packed = pack(freeze(layout), layout.organization.scp_limits.max_policy_chars, "the spend freeze")
    return RenderedPolicy(
        name,
        "Spend freeze: the account crossed its hourly or daily cap; lifted by an approved thaw (vend spend thaw)",
        "freeze",
        packed[0],
    )


GROUPS = {
    "baseline": baseline,
    "region-allow-list": region_allow_list,
    "cost-tags": cost_tags,
    "quarantine": quarantine,
    "gpu-fence": gpu_fence,
}


def pack(statements: list[Statement], max_chars: int, where: str) -> list[tuple[Statement, ...]]:
    """First-fit decreasing on exact minified sizes; fails precisely if one statement alone is too large."""
    bins: list[tuple[list[Statement], int]] = []
    for stmt in sorted(statements, key=lambda s: (-s.chars, s.sid)):
        alone = _EMPTY_POLICY_CHARS + stmt.chars
        if alone > max_chars:
            raise GuardrailLimitExceeded(
                f"{where}: statement {stmt.sid} ({stmt.group}) renders to {alone} characters on its own; "
                f"scp_limits.max_policy_chars is {max_chars} (over by {alone - max_chars})"
            )
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
    stage_of = {path: stage for stage, path in layout.stage_ous.items()}
    paths = list(dict.fromkeys([*g.ou_guardrails, *stage_of]))
    for path in paths:
        statements = [s for group in g.ou_guardrails.get(path, ()) for s in GROUPS[group](layout)]
        if path in stage_of:
            statements += stage_policy(layout, stage_of[path])
        if not statements:
            continue
        names = []
        for i, members in enumerate(pack(statements, limits.max_policy_chars, f"OU {path}"), start=1):
            name = f"{g.policy_name_prefix}{_slug(path)}-{i}"
            kinds = ", ".join(sorted({s.group for s in members}))
            policies[name] = RenderedPolicy(
                name,
                f"Guardrails for OU {path} ({kinds}); rendered by vend from the layout, do not edit by hand",
                "ou",
                members,
            )
            names.append(name)
        ou_policies[path] = tuple(names)
    tier_policies: dict[str, str] = {}
    for tier_name, tier in layout.gpu_tiers.items():
        statements = gpu_tier(layout, tier_name, tier) + bedrock_tier(layout, tier_name, tier)
        packed = pack(statements, limits.max_policy_chars, f"GPU tier {tier_name}")
        if len(packed) > 1:
            raise GuardrailLimitExceeded(
                f"GPU tier {tier_name}: needs {len(packed)} policies of at most {limits.max_policy_chars} characters "
                f"(together {_EMPTY_POLICY_CHARS + sum(s.chars + 1 for s in statements) - 1}); one per tier is "
                f"supported (over by {len(packed) - 1} policy)"
            )
        name = f"{g.policy_name_prefix}gpu-{tier_name}"
        policies[name] = RenderedPolicy(name, f"GPU tier {tier_name}: {tier.description}"[:500], "tier", packed[0])
        tier_policies[tier_name] = name
    team_policies: dict[tuple[str, str], str] = {}
    for team in layout.teams:
        for stage in layout.stage_ous:
            name = f"{g.policy_name_prefix}team-{team.slug}-{stage}"
            packed = pack(team_policy(layout, team, stage), limits.max_policy_chars, f"team {team.slug} ({stage})")
            policies[name] = RenderedPolicy(
                name,
                f"Team {team.slug}, {stage}: its regions and team tag; rendered by vend from the layout, do not edit "
                "by hand",
                "team",
                packed[0],
            )
            team_policies[(team.slug, stage)] = name
    frozen = freeze_policy(layout)
    policies[frozen.name] = frozen
    rendered = GuardrailSet(
        policies,
        ou_policies,
        tier_policies,
        frozenset(g.deny_full_aws_access),
        limits.max_policy_chars,
        limits.max_policies_per_target,
        g.policy_name_prefix,
        team_policies,
        {t.slug: t.gpu_tier for t in layout.teams},
        {name: json.dumps(doc, separators=(",", ":")) for name, doc in tag_policies(layout).items()},
        f"{g.policy_name_prefix}tags",
        {t.slug: f"{g.policy_name_prefix}tags-{t.slug}" for t in layout.teams},
        frozen.name,
    )
    for budget in rendered.budgets(layout):
        if budget.slots_left < 0:
            ours = ", ".join(budget.policies)
            fa = "FullAWSAccess + " if budget.full_aws_access else ""
            raise GuardrailLimitExceeded(
                f"{budget.target}: needs {budget.attached} SCPs attached ({fa}{len(budget.policies)} rendered: "
                f"{ours}); scp_limits.max_policies_per_target is {budget.max_policies} "
                f"(over by {-budget.slots_left})"
            )
    return rendered
