"""Attacks from a team account against the rendered SCPs, evaluated with scps.evaluate on real request contexts.

Every attack names the statement(s) that must stop it; test_bypass_named_statement_is_the_cause deletes them and
asserts the request then passes, so no case is green because some other statement happens to deny it."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scps import catalog
from scps.evaluate import Request, denying_statements
from scps.families import EC2_ACCELERATED, EC2_GENERAL_PURPOSE
from scps.render import FULL_AWS_ACCESS, render
from vending.layout import load_layout

LAYOUT = load_layout()
RENDERED = render(LAYOUT)
TEAM_ROLE = "arn:aws:iam::111122223333:role/team-ci"
PLATFORM = [f"arn:aws:iam::111122223333:role/{n}" for n in LAYOUT.organization.platform_role_names]
TAGS = {
    "aws:RequestTag/team": "team-frontend",
    "aws:RequestTag/stage": "staging",
    "aws:RequestTag/cost-center": "CC-1001",
    "aws:RequestedRegion": "us-east-1",
}
INSTANCE = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"


def _docs(team: str, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The SCPs governing the team's staging account; `drop` deletes statements by Sid (the causation check)."""
    spec = LAYOUT.team(team)
    assert spec is not None
    names = [n for n in RENDERED.governing(LAYOUT.ou_for_stage("staging"), spec.gpu_tier) if n != FULL_AWS_ACCESS]
    docs = [RENDERED.policies[n].document for n in [*names, RENDERED.team_policies[(team, "staging")]]]
    return [{**d, "Statement": [s for s in d["Statement"] if s["Sid"] not in drop]} for d in docs]


def _req(
    team: str,
    action: str,
    context: dict[str, Any],
    resource: str = "*",
    principal: str = TEAM_ROLE,
    drop: tuple[str, ...] = (),
) -> list[str]:
    return denying_statements(
        _docs(team, drop), Request(action, resource, principal, {"aws:RequestedRegion": "us-east-1", **context})
    )


def _tags(team: str) -> dict[str, str]:
    spec = LAYOUT.team(team)
    assert spec is not None
    return {**TAGS, "aws:RequestTag/team": team, "aws:RequestTag/cost-center": spec.cost_center}


ACCOUNT = "111122223333"
STATE_BUCKET = f"tfstate-{ACCOUNT}-us-east-1"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/VendingCIBoundary"


# (team, action, resource, context, the statements that stop it): each must be denied for a team principal and
# allowed for the platform, and allowed once its named statements are deleted.
ATTACKS: list[tuple[str, str, str, dict[str, Any], tuple[str, ...]]] = [
    (
        "team-frontend",
        "ec2:ModifyInstanceAttribute",
        INSTANCE,
        {"ec2:InstanceType": "m5.large", "ec2:Attribute/InstanceType": "g5.xlarge"},
        ("GpuTierNoneEc2Modify",),
    ),
    ("team-frontend", "ec2:StartInstances", INSTANCE, {"ec2:InstanceType": "g5.xlarge"}, ("GpuTierNoneEc2",)),
    ("team-frontend", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "p5.48xlarge"}, ("GpuTierNoneEc2",)),
    ("team-frontend", "ec2:CreateFleet", INSTANCE, {**TAGS, "ec2:InstanceType": "g6.xlarge"}, ("GpuTierNoneEc2",)),
    (
        "team-frontend",
        "ec2:CreateCapacityReservation",
        "arn:aws:ec2:us-east-1:111122223333:capacity-reservation/cr-1",
        {"ec2:InstanceType": "p4d.24xlarge"},
        ("GpuTierNoneEc2",),
    ),
    ("team-mlops", "ec2:PurchaseCapacityBlock", "*", {}, ("DenyUntypedCapacity",)),
    ("team-mlops", "ec2:RequestSpotInstances", "*", {}, ("DenyUntypedCapacity",)),
    ("team-mlops", "ec2:RequestSpotFleet", "*", {}, ("DenyUntypedCapacity",)),
    ("team-frontend", "ec2:AllocateHosts", "*", {}, ("DenyHostsWithoutInstanceType",)),  # by family: no type to check
    (
        "team-frontend",
        "autoscaling:CreateAutoScalingGroup",
        "*",
        {"autoscaling:InstanceTypes": ["m5.large", "g5.xlarge"]},
        ("GpuTierNoneAsgOverrides",),
    ),
    (
        "team-backend",
        "autoscaling:UpdateAutoScalingGroup",
        "*",
        {"autoscaling:InstanceTypes": ["m5.large", "g5.xlarge", "p5.48xlarge"]},
        ("GpuTierInferenceAsgOverrides",),
    ),
    (
        "team-frontend",
        "autoscaling:CreateLaunchConfiguration",
        "*",
        {"autoscaling:InstanceType": "g4dn.xlarge"},
        ("GpuTierNoneAsgLaunchConfiguration",),
    ),
    ("team-frontend", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "f1.2xlarge"}, ("GpuTierNoneEc2",)),
    (
        "team-mlops",
        "ec2:RunInstances",
        INSTANCE,
        {**_tags("team-mlops"), "ec2:InstanceType": "vt1.3xlarge"},
        ("GpuTierTrainingEc2",),
    ),
    (
        "team-mlops",
        "ec2:RunInstances",
        INSTANCE,
        {**_tags("team-mlops"), "ec2:InstanceType": "f2.12xlarge"},
        ("GpuTierTrainingEc2",),
    ),
    (
        "team-frontend",
        "sagemaker:CreateDataQualityJobDefinition",
        "*",
        {"sagemaker:InstanceTypes": ["ml.g5.xlarge"]},
        ("GpuTierNoneSageMaker",),
    ),
    (
        "team-frontend",
        "sagemaker:CreateModelBiasJobDefinition",
        "*",
        {"sagemaker:InstanceTypes": ["ml.p3.2xlarge"]},
        ("GpuTierNoneSageMaker",),
    ),
    (
        "team-frontend",
        "sagemaker:CreateMonitoringSchedule",
        "*",
        {"sagemaker:InstanceTypes": ["ml.g4dn.xlarge"]},
        ("GpuTierNoneSageMaker",),
    ),
    (
        "team-backend",
        "sagemaker:UpdateMonitoringSchedule",
        "*",
        {"sagemaker:InstanceTypes": ["ml.p5.48xlarge"]},
        ("GpuTierInferenceSageMaker",),
    ),
    (
        "team-backend",
        "sagemaker:UpdateTrainingJob",
        "*",
        {"sagemaker:InstanceTypes": ["ml.trn1.32xlarge"]},
        ("GpuTierInferenceSageMaker",),
    ),
    (
        "team-backend",
        "sagemaker:CreateEndpointConfig",
        "*",
        {
            **_tags("team-backend"),
            "sagemaker:InstanceTypes": ["ml.m5.large"],
            "sagemaker:AcceleratorTypes": ["ml.eia2.medium"],
        },
        ("DenyElasticInference",),
    ),
    (
        "team-frontend",
        "codebuild:CreateFleet",
        "*",
        {**TAGS, "codebuild:computeConfiguration.instanceType": "g5.xlarge"},
        ("GpuTierNoneCodeBuildFleet",),
    ),
    (
        "team-frontend",
        "cloud9:CreateEnvironmentEC2",
        "*",
        {"cloud9:InstanceType": "g4dn.xlarge"},
        ("GpuTierNoneCloud9",),
    ),
    # GPU and commitments by another door (issue 20)
    (
        "team-mlops",
        "codebuild:CreateProject",
        "*",
        {**_tags("team-mlops"), "codebuild:environment.type": "LINUX_GPU_CONTAINER"},
        ("DenyCodeBuildGpuProjects",),
    ),
    (
        "team-mlops",
        "codebuild:StartBuild",
        "*",
        {"codebuild:environment.type": "LINUX_GPU_CONTAINER"},  # environmentTypeOverride on an ordinary project
        ("DenyCodeBuildGpuProjects",),
    ),
    (
        "team-mlops",
        "codebuild:CreateFleet",
        "*",
        {**_tags("team-mlops"), "codebuild:environmentType": "LINUX_GPU_CONTAINER"},
        ("DenyCodeBuildGpuFleets",),
    ),
    ("team-mlops", "appstream:CreateFleet", "*", _tags("team-mlops"), ("DenyUntypedCapacity",)),
    ("team-mlops", "appstream:CreateImageBuilder", "*", _tags("team-mlops"), ("DenyUntypedCapacity",)),
    ("team-mlops", "workspaces:CreateWorkspaces", "*", _tags("team-mlops"), ("DenyUntypedCapacity",)),
    ("team-mlops", "workspaces:ModifyWorkspaceProperties", "*", {}, ("DenyUntypedCapacity",)),
    ("team-mlops", "gamelift:CreateFleet", "*", _tags("team-mlops"), ("DenyUntypedCapacity",)),
    ("team-mlops", "savingsplans:CreateSavingsPlan", "*", {}, ("DenyUntypedCapacity",)),
    ("team-mlops", "ec2:PurchaseReservedInstancesOffering", "*", {}, ("DenyUntypedCapacity",)),
    ("team-mlops", "ec2:PurchaseHostReservation", "*", {}, ("DenyUntypedCapacity",)),
    ("team-mlops", "sagemaker:CreateTrainingPlan", "*", {}, ("DenyUntypedCapacity",)),
    ("team-mlops", "rds:PurchaseReservedDBInstancesOffering", "*", {}, ("DenyUntypedCapacity",)),
    (
        "team-mlops",
        "ec2:ModifyHosts",
        "arn:aws:ec2:us-east-1:111122223333:dedicated-host/h-1",
        {"ec2:Attribute/InstanceFamily": "p5"},
        ("DenyHostFamilyChange",),
    ),
    # tags
    ("team-frontend", "ec2:DeleteTags", INSTANCE, {"aws:TagKeys": ["cost-center"]}, ("DenyRemovingMandatoryTags",)),
    # DeleteTags without Tags deletes every tag, and AWS sets no aws:TagKeys for it
    ("team-frontend", "ec2:DeleteTags", INSTANCE, {}, ("DenyRemovingEveryTag",)),
    ("team-frontend", "sagemaker:DeleteTags", "*", {"aws:TagKeys": ["Name", "team"]}, ("DenyRemovingMandatoryTags",)),
    (
        "team-frontend",
        "ec2:CreateTags",
        INSTANCE,
        {
            "aws:ResourceTag/team": "team-frontend",
            "aws:RequestTag/cost-center": "CC-9999",
            "aws:TagKeys": ["cost-center"],
        },
        ("DenyChangingMandatoryTags", "RequireOwnCostCenterTag"),
    ),
    (
        "team-frontend",
        "ec2:RunInstances",
        INSTANCE,
        {**TAGS, "aws:RequestTag/cost-center": "", "ec2:InstanceType": "m5.large"},
        ("RequireTagCostCenterOnRunInstances", "RequireOwnCostCenterTag"),
    ),
    (
        "team-frontend",
        "ec2:RunInstances",
        INSTANCE,
        {**TAGS, "aws:RequestTag/team": "team-mlops", "ec2:InstanceType": "m5.large"},
        ("RequireOwnTeamTag",),
    ),
    (
        "team-frontend",
        "ec2:RunInstances",
        INSTANCE,
        {**TAGS, "aws:RequestTag/cost-center": "CC-1003", "ec2:InstanceType": "m5.large"},
        ("RequireOwnCostCenterTag",),
    ),
    (
        "team-frontend",
        "ec2:RunInstances",
        INSTANCE,
        {**TAGS, "aws:RequestTag/stage": "production", "ec2:InstanceType": "m5.large"},
        ("RequireOwnStageTag",),
    ),
    (
        "team-frontend",
        "rds:CreateDBInstance",
        "*",
        {k: v for k, v in TAGS.items() if k != "aws:RequestTag/stage"},
        ("RequireTagStageOnCreate",),
    ),
    # baseline: security services and finding suppression
    ("team-frontend", "guardduty:DeleteDetector", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "config:StopConfigurationRecorder", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "securityhub:DisableSecurityHub", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "access-analyzer:DeleteAnalyzer", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "guardduty:ArchiveFindings", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "securityhub:BatchUpdateFindings", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "securityhub:CreateAutomationRule", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "access-analyzer:UpdateFindings", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "inspector2:CreateFilter", "*", {}, ("ProtectSecurityServices",)),
    ("team-frontend", "cloudtrail:DeleteEventDataStore", "*", {}, ("ProtectActivityLogs",)),
    (
        "team-frontend",
        "kms:ScheduleKeyDeletion",
        "arn:aws:kms:us-east-1:111122223333:key/k-1",
        {"kms:ResourceAliases": ["alias/terraform-state"]},
        ("ProtectStateKey",),
    ),
    (
        "team-frontend",
        "kms:PutKeyPolicy",
        "arn:aws:kms:us-east-1:111122223333:key/k-1",
        {"kms:ResourceAliases": ["alias/terraform-state"]},
        ("ProtectStateKey",),
    ),
    (
        "team-frontend",
        "kms:UpdateAlias",
        "arn:aws:kms:us-east-1:111122223333:alias/terraform-state",
        {},
        ("ProtectStateKeyAlias",),
    ),
    # baseline: the platform's anchors (the CI roles, the boundary's versions, the OIDC provider, the state bucket)
    *[
        ("team-frontend", action, f"arn:aws:iam::{ACCOUNT}:role/{role}", ctx, ("ProtectPlatformRoles",))
        for role in ("TeamCIRole", "TeamCIPlanRole")
        for action, ctx in (
            ("iam:UpdateAssumeRolePolicy", {}),
            ("iam:AttachRolePolicy", {"iam:PolicyARN": "arn:aws:iam::aws:policy/PowerUserAccess"}),
            ("iam:PutRolePolicy", {}),
            ("iam:DeleteRolePolicy", {}),
            ("iam:DetachRolePolicy", {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ("iam:PutRolePermissionsBoundary", {"iam:PermissionsBoundary": BOUNDARY}),
            ("iam:DeleteRole", {}),
        )
    ],
    *[
        (
            "team-frontend",
            "iam:DeleteRolePermissionsBoundary",
            f"arn:aws:iam::{ACCOUNT}:role/{role}",
            {"iam:PermissionsBoundary": BOUNDARY},  # the boundary the role carries now
            ("ProtectPlatformRoles", "KeepBoundaryOnRoles"),
        )
        for role in ("TeamCIRole", "TeamCIPlanRole")
    ],
    # a role a team makes carries the CI boundary, whoever makes it
    ("team-frontend", "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/escape", {}, ("RequireCIBoundaryOnRoles",)),
    (
        "team-frontend",
        "iam:CreateRole",
        f"arn:aws:iam::{ACCOUNT}:role/escape",
        {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/Open"},
        ("RequireCIBoundaryOnRoles",),
    ),
    (
        "team-frontend",
        "iam:DeleteRolePermissionsBoundary",
        f"arn:aws:iam::{ACCOUNT}:role/app-role",
        {"iam:PermissionsBoundary": BOUNDARY},  # AWS puts the role's current boundary in a delete's context
        ("KeepBoundaryOnRoles",),
    ),
    *[
        ("team-frontend", action, f"arn:aws:iam::{ACCOUNT}:policy/VendingCIBoundary", {}, ("ProtectCIAnchors",))
        for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion")
    ],
    *[
        (
            "team-frontend",
            action,
            f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com",
            {},
            ("ProtectCIAnchors",),
        )
        for action in (
            "iam:DeleteOpenIDConnectProvider",
            "iam:UpdateOpenIDConnectProviderThumbprint",
            "iam:AddClientIDToOpenIDConnectProvider",
        )
    ],
    ("team-frontend", "s3:PutBucketPolicy", f"arn:aws:s3:::{STATE_BUCKET}", {}, ("ProtectStateBuckets",)),
    (
        "team-frontend",
        "s3:DeleteObjectVersion",
        f"arn:aws:s3:::{STATE_BUCKET}/team-frontend/staging/bootstrap/terraform.tfstate",
        {},
        ("ProtectStateBuckets",),
    ),
    # regions: team-frontend asked for us-east-1 only (us-west-2 and eu-west-1 are in the org allow-list)
    ("team-frontend", "ec2:DescribeInstances", "*", {"aws:RequestedRegion": "us-west-2"}, ("DenyOutsideTeamRegions",)),
    (
        "team-frontend",
        "wafv2:CreateWebACL",
        "*",
        {"aws:RequestedRegion": "ap-south-1"},
        ("DenyOutsideAllowedRegions", "DenyOutsideTeamRegions"),
    ),
    (
        "team-frontend",
        "chime:CreateAppInstance",
        "*",
        {"aws:RequestedRegion": "eu-west-1"},
        ("DenyOutsideTeamRegions",),
    ),
    (
        "team-frontend",
        "kms:Encrypt",
        "arn:aws:kms:ap-south-1:111122223333:key/k-3",
        {"aws:RequestedRegion": "ap-south-1"},
        ("DenyOutsideAllowedRegions", "DenyOutsideTeamRegions"),
    ),
    # CreateBucket sent to us-east-1 with the bucket's region in the body
    (
        "team-frontend",
        "s3:CreateBucket",
        "arn:aws:s3:::team-frontend-data",
        {"s3:LocationConstraint": "ap-southeast-1"},
        ("DenyBucketsOutsideAllowedRegions", "DenyBucketsOutsideTeamRegions"),
    ),
    (
        "team-frontend",
        "s3:CreateBucket",
        "arn:aws:s3:::team-frontend-data",
        {"s3:LocationConstraint": "us-west-2"},
        ("DenyBucketsOutsideTeamRegions",),
    ),
]

NEW_BILLABLE = catalog.TAG_ON_CREATE_BILLABLE[catalog.TAG_ON_CREATE_BILLABLE.index("apprunner:CreateService") :]


@pytest.mark.parametrize(
    ("team", "action", "resource", "context", "sids"), ATTACKS, ids=[f"{a[1]}-{i}" for i, a in enumerate(ATTACKS)]
)
def test_bypass_denied_for_team_allowed_for_platform(
    team: str, action: str, resource: str, context: dict[str, Any], sids: tuple[str, ...]
) -> None:
    # GIVEN an attack request from a team principal THEN exactly the named guardrails deny it
    assert sorted(_req(team, action, context, resource)) == sorted(sids), (team, action, context)
    # AND the platform's roles are never denied the same request
    for arn in PLATFORM:
        assert _req(team, action, context, resource, principal=arn) == [], arn


@pytest.mark.parametrize(
    ("team", "action", "resource", "context", "sids"), ATTACKS, ids=[f"{a[1]}-{i}" for i, a in enumerate(ATTACKS)]
)
def test_bypass_named_statement_is_the_cause(
    team: str, action: str, resource: str, context: dict[str, Any], sids: tuple[str, ...]
) -> None:
    # GIVEN the attack's named statements exist in the rendered SCPs
    present = {s["Sid"] for d in _docs(team) for s in d["Statement"]}
    assert set(sids) <= present, set(sids) - present
    # WHEN they are deleted THEN the same request passes: the named fence, and nothing else, is what stops it
    assert _req(team, action, context, resource, drop=sids) == []


@pytest.mark.parametrize("action", NEW_BILLABLE)
@pytest.mark.parametrize("key", ["team", "stage", "cost-center"])
def test_bypass_billable_create_needs_every_tag(action: str, key: str) -> None:
    # GIVEN a billable create from the list with all tags but one
    context = {k: v for k, v in TAGS.items() if k != f"aws:RequestTag/{key}"}
    sid = f"RequireTag{''.join(p.capitalize() for p in key.split('-'))}OnCreate"
    # THEN exactly that tag's rule denies it, and with the rule deleted it passes
    assert _req("team-frontend", action, context) == [sid]
    assert _req("team-frontend", action, context, drop=(sid,)) == []
    # AND with every tag at the account's own value it is allowed
    assert _req("team-frontend", action, TAGS) == []


ORDINARY = [
    ("team-frontend", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "m7i.large"}),
    ("team-frontend", "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-1", TAGS),
    (
        "team-backend",
        "ec2:RunInstances",
        INSTANCE,
        {
            **TAGS,
            "aws:RequestTag/team": "team-backend",
            "aws:RequestTag/cost-center": "CC-1002",
            "ec2:InstanceType": "g6e.xlarge",
        },
    ),
    (
        "team-backend",
        "autoscaling:CreateAutoScalingGroup",
        "*",
        {"autoscaling:InstanceTypes": ["m5.large", "c7g.large", "g5.xlarge"]},
    ),
    ("team-frontend", "autoscaling:CreateAutoScalingGroup", "*", {"autoscaling:InstanceTypes": ["m5.large"]}),
    (
        "team-backend",
        "sagemaker:CreateEndpointConfig",
        "*",
        {**_tags("team-backend"), "sagemaker:InstanceTypes": ["ml.m5.large", "ml.g6e.xlarge"]},
    ),
    (
        "team-mlops",
        "sagemaker:CreateTrainingJob",
        "*",
        {**_tags("team-mlops"), "sagemaker:InstanceTypes": ["ml.trn1n.32xlarge"]},
    ),
    ("team-frontend", "ec2:StopInstances", INSTANCE, {"ec2:InstanceType": "g5.xlarge"}),
    ("team-frontend", "ec2:TerminateInstances", INSTANCE, {"ec2:InstanceType": "p5.48xlarge"}),
    (
        "team-frontend",
        "ec2:CreateTags",
        INSTANCE,
        {"aws:RequestTag/Name": "web", "aws:TagKeys": ["Name"], "aws:ResourceTag/team": "team-frontend"},
    ),
    ("team-frontend", "ec2:DeleteTags", INSTANCE, {"aws:TagKeys": ["Name"]}),
    (
        "team-frontend",
        "kms:ScheduleKeyDeletion",
        "arn:aws:kms:us-east-1:111122223333:key/k-2",
        {"kms:ResourceAliases": ["alias/app"]},
    ),
    ("team-frontend", "iam:ListRoles", "*", {"aws:RequestedRegion": "us-west-2"}),  # global service
    # the CI roles may still manage the roles they create (bounded), and a team its own buckets in its regions
    ("team-frontend", "iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/app-role", {}),
    ("team-frontend", "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/app-role", {"iam:PermissionsBoundary": BOUNDARY}),
    ("team-frontend", "iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/app-policy", {}),
    ("team-frontend", "iam:CreateOpenIDConnectProvider", f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.x", {}),
    ("team-frontend", "s3:CreateBucket", "arn:aws:s3:::team-frontend-data", {}),  # us-east-1: no LocationConstraint
    ("team-frontend", "s3:PutObject", f"arn:aws:s3:::{STATE_BUCKET}/team-frontend/staging/x.tflock", {}),
    ("team-frontend", "codebuild:CreateProject", "*", {**TAGS, "codebuild:environment.type": "LINUX_CONTAINER"}),
    ("team-frontend", "kafka:CreateClusterV2", "*", TAGS),
    ("team-frontend", "cloudfront:CreateDistribution", "*", {"aws:RequestedRegion": "us-east-1"}),
    ("team-frontend", "guardduty:GetFindings", "*", {}),
]


@pytest.mark.parametrize(
    ("team", "action", "resource", "context"), ORDINARY, ids=[f"{a[1]}-{i}" for i, a in enumerate(ORDINARY)]
)
def test_bypass_ordinary_requests_allowed(team: str, action: str, resource: str, context: dict[str, Any]) -> None:
    assert _req(team, action, context, resource) == []


ALL_TYPES = [f"{f}.{size}" for f in (*EC2_ACCELERATED, *EC2_GENERAL_PURPOSE) for size in ("large", "48xlarge")]


@settings(max_examples=300, deadline=None)
@given(
    team=st.sampled_from([t.slug for t in LAYOUT.teams]),
    instance_type=st.sampled_from(ALL_TYPES),
    action=st.sampled_from(
        [
            "ec2:RunInstances",
            "ec2:StartInstances",
            "ec2:CreateFleet",
            "ec2:CreateCapacityReservation",
            "ec2:ModifyInstanceAttribute",
        ]
    ),
)
def test_bypass_property_allowed_iff_cpu_or_in_tier(team: str, instance_type: str, action: str) -> None:
    # GIVEN any known instance type on any action that names it
    spec = LAYOUT.team(team)
    assert spec is not None
    tier = LAYOUT.gpu_tiers[spec.gpu_tier]
    ctx = {**TAGS, "aws:RequestTag/team": team, "aws:RequestTag/cost-center": spec.cost_center}
    if action == "ec2:ModifyInstanceAttribute":
        ctx.update({"ec2:InstanceType": "m5.large", "ec2:Attribute/InstanceType": instance_type})
    else:
        ctx["ec2:InstanceType"] = instance_type
    denied = bool(_req(team, action, ctx, INSTANCE))
    # THEN it is allowed iff it is not accelerated or the team's tier grants it
    in_tier = any(fnmatchcase(instance_type, p) for p in tier.ec2_instance_types)
    accelerated = instance_type.split(".")[0] in EC2_ACCELERATED
    assert denied == (accelerated and not in_tier), (team, instance_type, action)


@settings(max_examples=200, deadline=None)
@given(
    team=st.sampled_from([t.slug for t in LAYOUT.teams]),
    types=st.lists(st.sampled_from(ALL_TYPES), min_size=1, max_size=4),
)
def test_bypass_property_asg_overrides(team: str, types: list[str]) -> None:
    # GIVEN any mix of override types on an Auto Scaling group
    spec = LAYOUT.team(team)
    assert spec is not None
    tier = LAYOUT.gpu_tiers[spec.gpu_tier]
    denied = bool(_req(team, "autoscaling:CreateAutoScalingGroup", {"autoscaling:InstanceTypes": types}))
    # THEN it is denied iff one of them is accelerated and outside the tier
    bad = [
        t
        for t in types
        if t.split(".")[0] in EC2_ACCELERATED and not any(fnmatchcase(t, p) for p in tier.ec2_instance_types)
    ]
    assert denied == bool(bad), (team, types)
