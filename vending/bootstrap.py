"""Bootstrap inside a new account, through its access role: the Terraform state bucket, the CI roles, the budget and
Bedrock's model-invocation logging in each of the account's regions (vending.invocation_logging).

The CI roles and their trust policies follow the trust model of vending/trust.py: a read-only plan role and a
separate apply role, each trusted by exactly one job of the workflow.

Everything is create-or-converge, so the step is safe to retry and to resume.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from scps import catalog
from vending.aws.buckets import ensure_private_bucket
from vending.aws.errors import error_code, is_transient
from vending.budgets import ensure_budget
from vending.exceptions import BootstrapFailed
from vending.invocation_logging import ensure_invocation_logging
from vending.settings import STATE_KEY_ALIAS
from vending.trust import APPLY, APPLY_ROLE_NAME, GITHUB_OIDC_HOST, PLAN, PLAN_ROLE_NAME, trust_policy

logger = Logger(child=True)

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
# GitHub's OIDC certificates are trusted by IAM's own CA store; the thumbprint is kept for older API versions.
# https://github.blog/changelog/2023-06-27-github-actions-update-on-oidc-integration-with-aws/
GITHUB_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"
CI_ROLE_NAME = APPLY_ROLE_NAME
# What `terraform plan` reads to refresh every resource type the modules and templates declare (terraform/modules,
# terraform/templates): describe, get and list only. IAM service prefixes, not provider names: OpenSearch Serverless is
# `aoss`, EventBridge rules are `events`, aws_appautoscaling_* is `application-autoscaling`.
# tests/vending/test_plan_role_reads.py derives the list from the HCL and fails on a resource type it cannot map.
PLAN_READ_SERVICES = (
    "aoss",
    "application-autoscaling",
    "autoscaling",
    "bedrock",
    "cloudfront",
    "cloudwatch",
    "ec2",
    "ecs",
    "eks",
    "events",
    "glue",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sagemaker",
    "sqs",
    "ssm",
)
PLAN_READ_VERBS = ("Describe", "Get", "List")
# Services whose read APIs Terraform calls are BatchGet* (aoss: BatchGetCollection refreshes a collection). Only these:
# elsewhere BatchGet* can read data (e.g. sagemaker:BatchGetRecord), which a plan does not need.
PLAN_BATCH_READ_SERVICES = ("aoss",)
BOUNDARY_NAME = "VendingCIBoundary"


class BootstrapResult(BaseModel):
    state_bucket: str
    state_bucket_region: str
    kms_key_arn: str
    oidc_provider_arn: str
    ci_role_arn: str  # the apply role
    plan_role_arn: str
    permissions_boundary_arn: str
    budget_changes: list[str] = []
    invocation_logging_changes: list[str] = []


def state_bucket_name(account_id: str, region: str) -> str:
    return f"tfstate-{account_id}-{region}"


def bootstrap_account(
    session: boto3.Session,
    *,
    account_id: str,
    region: str,
    repository: str,
    stage: str,
    team: str,
    owner_email: str | None = None,
    monthly_budget_usd: float | None = None,
    pipeline_role_arn: str = "",
    regions: tuple[str, ...] = (),
) -> BootstrapResult:
    """`regions`: the account's regions (the request's), each given Bedrock invocation logging; `region` alone when
    empty."""
    budget: list[str] = []
    try:
        key_arn = ensure_state_key(session.client("kms", region_name=region), account_id=account_id, team=team)
        bucket = ensure_state_bucket(
            session.client("s3", region_name=region), account_id=account_id, region=region, kms_key_arn=key_arn
        )
        iam = session.client("iam")
        provider_arn = ensure_github_oidc_provider(iam, account_id=account_id)
        boundary_arn = ensure_permissions_boundary(iam, account_id=account_id, state_bucket=bucket)
        role_arn, plan_role_arn = ensure_ci_roles(
            iam,
            provider_arn=provider_arn,
            boundary_arn=boundary_arn,
            repository=repository,
            stage=stage,
            team=team,
            state_bucket=bucket,
            kms_key_arn=key_arn,
            pipeline_role_arn=pipeline_role_arn,
        )
        logging = ensure_invocation_logging(session, account_id, regions or (region,))
        if owner_email and monthly_budget_usd:
            budget = ensure_budget(
                session.client("budgets", region_name="us-east-1"),
                account_id,
                amount=monthly_budget_usd,
                owner_email=owner_email,
            )
    except ClientError as e:
        if is_transient(e):  # the handler makes it AwsTransient, retried (chaos_soak --seed 1: IAM Throttling)
            raise
        raise BootstrapFailed(f"bootstrap of {account_id}: {error_code(e)}: {e}") from e
    return BootstrapResult(
        state_bucket=bucket,
        state_bucket_region=region,
        kms_key_arn=key_arn,
        oidc_provider_arn=provider_arn,
        ci_role_arn=role_arn,
        plan_role_arn=plan_role_arn,
        permissions_boundary_arn=boundary_arn,
        budget_changes=budget,
        invocation_logging_changes=logging,
    )


# Marks the state key from CreateKey on, so a key whose alias was never made (a step that died between the two
# calls, or a CreateKey the SDK retried after its answer was lost) is found again instead of orphaned.
STATE_KEY_TAG = {"TagKey": "vend:purpose", "TagValue": "terraform-state"}
ORPHAN_KEY_PENDING_DAYS = 7


def _unaliased_state_keys(kms: Any) -> list[dict[str, Any]]:
    """Our tagged state keys that no alias names, oldest first. O(keys in a young account): only runs when the
    alias is missing."""
    aliased = {a.get("TargetKeyId") for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]}
    found = []
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            if key["KeyId"] in aliased:
                continue
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyState") != "Enabled" or meta.get("KeyManager") != "CUSTOMER":
                continue
            tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
            if STATE_KEY_TAG in tags:
                found.append(meta)
    return sorted(found, key=lambda m: m["CreationDate"])


def _create_alias(kms: Any, key_id: str) -> None:
    try:
        kms.create_alias(AliasName=STATE_KEY_ALIAS, TargetKeyId=key_id)
    except ClientError as e:
        # A CreateAlias the SDK retried after its answer was lost finds its own alias: fine if it names this key.
        if error_code(e) != "AlreadyExistsException":
            raise
        if kms.describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"]["KeyId"] != key_id:
            raise


def ensure_state_key(kms: Any, *, account_id: str, team: str) -> str:
    try:
        return str(kms.describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"]["Arn"])
    except ClientError as e:
        if error_code(e) != "NotFoundException":
            raise
    stray = _unaliased_state_keys(kms)
    if stray:
        key, extra = stray[0], stray[1:]
        for duplicate in extra:  # made by a retried CreateKey: nothing was ever encrypted with it
            kms.schedule_key_deletion(KeyId=duplicate["KeyId"], PendingWindowInDays=ORPHAN_KEY_PENDING_DAYS)
        logger.info("state key adopted", extra={"key": key["Arn"], "duplicates_deleted": len(extra)})
        kms.enable_key_rotation(KeyId=key["KeyId"])
        _create_alias(kms, key["KeyId"])
        return str(key["Arn"])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    key = kms.create_key(
        Description=f"Terraform state of {team}",
        KeyUsage="ENCRYPT_DECRYPT",
        Policy=json.dumps(policy),
        Tags=[{"TagKey": "team", "TagValue": team}, STATE_KEY_TAG],
    )["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    _create_alias(kms, key["KeyId"])
    for duplicate in _unaliased_state_keys(kms):  # a CreateKey the SDK sent twice leaves a second key behind
        kms.schedule_key_deletion(KeyId=duplicate["KeyId"], PendingWindowInDays=ORPHAN_KEY_PENDING_DAYS)
    logger.info("state key created", extra={"key": key["Arn"]})
    return str(key["Arn"])


def tls_only_policy(bucket: str) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                # A write that asks for another encryption (SSE-S3 is what a backend with `encrypt = true` and no
                # kms_key_id sends) is refused; one that asks for none gets the bucket default, the state key (Null:
                # the header is present; IfExists would deny its absence too).
                "Sid": "DenyNonKmsWrites",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                },
            },
        ],
    }


def ensure_state_bucket(s3: Any, *, account_id: str, region: str, kms_key_arn: str) -> str:
    bucket = state_bucket_name(account_id, region)
    if ensure_private_bucket(s3, bucket, region=region, kms_key_arn=kms_key_arn):
        logger.info("state bucket created", extra={"bucket": bucket})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket)))
    return bucket


def ensure_github_oidc_provider(iam: Any, *, account_id: str) -> str:
    arn = f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"
    existing = {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
    if arn in existing:
        return arn
    try:
        created = iam.create_open_id_connect_provider(
            Url=GITHUB_OIDC_URL, ClientIDList=["sts.amazonaws.com"], ThumbprintList=[GITHUB_THUMBPRINT]
        )
    except ClientError as e:
        if error_code(e) != "EntityAlreadyExists":  # a retried call whose answer was lost: the provider is there
            raise
        return arn
    return str(created["OpenIDConnectProviderArn"])


def boundary_policy(account_id: str, state_bucket: str) -> dict[str, Any]:
    """The most the CI role (and any role it creates) can ever do: no users or keys, no org changes, no tampering with
    the platform's anchors in the account (the CI roles' trust, policies and boundary, the boundary's versions, the
    GitHub OIDC provider, the state bucket and its key). The same anchors are protected by the SCP baseline
    (scps/render.py), which also binds principals the boundary does not (a team's human admins); the lists are shared
    (scps/catalog.py) so the two cannot drift apart."""
    boundary_arn = f"arn:aws:iam::{account_id}:policy/{BOUNDARY_NAME}"
    ci_roles = [f"arn:aws:iam::{account_id}:role/{name}" for name in catalog.TEAM_CI_ROLE_NAMES]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AllowWorkloads", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Sid": "NoLongLivedCredentials",
                "Effect": "Deny",
                "Action": ["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateAccessKey"],
                "Resource": "*",
            },
            {
                "Sid": "NoOrganizationsOrAccount",
                "Effect": "Deny",
                "Action": ["organizations:*", "account:*"],
                "Resource": "*",
            },
            {
                "Sid": "ProtectStateBucket",
                "Effect": "Deny",
                "Action": list(catalog.STATE_BUCKET_MUTATIONS),
                "Resource": [f"arn:aws:s3:::{state_bucket}", f"arn:aws:s3:::{state_bucket}/*"],
            },
            {
                "Sid": "ProtectStateKey",
                "Effect": "Deny",
                "Action": list(catalog.STATE_KEY_MUTATIONS),
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": STATE_KEY_ALIAS}},
            },
            {
                "Sid": "ProtectStateKeyAlias",
                "Effect": "Deny",
                "Action": list(catalog.STATE_KEY_ALIAS_MUTATIONS),
                "Resource": f"arn:aws:kms:*:{account_id}:{STATE_KEY_ALIAS}",
            },
            {
                "Sid": "ProtectBoundary",
                "Effect": "Deny",
                "Action": list(catalog.BOUNDARY_POLICY_MUTATIONS),
                "Resource": boundary_arn,
            },
            # Neither CI role may change its own or the other's trust, policies or boundary (the apply role attaching
            # PowerUserAccess to the plan role, or trusting a new repository, is a widening the pipeline cannot see).
            {
                "Sid": "ProtectCIRoles",
                "Effect": "Deny",
                "Action": list(catalog.ROLE_MUTATIONS),
                "Resource": ci_roles,
            },
            {
                "Sid": "ProtectGithubOidcProvider",
                "Effect": "Deny",
                "Action": list(catalog.OIDC_PROVIDER_MUTATIONS),
                "Resource": f"arn:aws:iam::{account_id}:oidc-provider/{catalog.GITHUB_OIDC_HOST}",
            },
            {
                "Sid": "NewRolesCarryTheBoundary",
                "Effect": "Deny",
                "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}},
            },
            {
                "Sid": "NoBoundaryRemoval",
                "Effect": "Deny",
                "Action": "iam:DeleteRolePermissionsBoundary",
                "Resource": "*",
            },
        ],
    }


def ensure_permissions_boundary(iam: Any, *, account_id: str, state_bucket: str) -> str:
    arn = f"arn:aws:iam::{account_id}:policy/{BOUNDARY_NAME}"
    document = json.dumps(boundary_policy(account_id, state_bucket))
    try:
        iam.get_policy(PolicyArn=arn)
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        for old in [v for v in versions if not v["IsDefaultVersion"]][:-3]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=old["VersionId"])  # stay under the 5-version cap
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    except ClientError as e:
        if error_code(e) != "NoSuchEntity":
            raise
        try:
            iam.create_policy(
                PolicyName=BOUNDARY_NAME,
                PolicyDocument=document,
                Description="Permissions boundary for the vended CI role and the roles it creates",
            )
        except ClientError as created:
            if error_code(created) != "EntityAlreadyExists":  # a retried CreatePolicy whose answer was lost
                raise
    return arn


def _ensure_role(iam: Any, name: str, *, trust: dict[str, Any], boundary_arn: str, description: str) -> dict[str, Any]:
    document = json.dumps(trust)
    try:
        role: dict[str, Any] = iam.get_role(RoleName=name)["Role"]
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=document)
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary_arn)
    except ClientError as e:
        if error_code(e) != "NoSuchEntity":
            raise
        try:
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=document,
                PermissionsBoundary=boundary_arn,
                MaxSessionDuration=3600,
                Description=description,
            )["Role"]
        except ClientError as created:
            # The SDK retried a CreateRole whose answer was lost: the role is ours, made with this very document.
            if error_code(created) != "EntityAlreadyExists":
                raise
            role = iam.get_role(RoleName=name)["Role"]
    return role


def ensure_ci_roles(
    iam: Any,
    *,
    provider_arn: str,
    boundary_arn: str,
    repository: str,
    stage: str,
    team: str,
    state_bucket: str,
    kms_key_arn: str,
    pipeline_role_arn: str = "",
) -> tuple[str, str]:
    """Both CI roles, (apply, plan), each trusting its job of the repository's workflow and the platform pipeline.
    Bootstrap and every repository change go through here, so no trust is ever left on an old repository."""
    where = {"provider_arn": provider_arn, "boundary_arn": boundary_arn, "repository": repository}
    apply_arn = ensure_ci_role(iam, **where, stage=stage, team=team, pipeline_role_arn=pipeline_role_arn)
    plan_arn = ensure_plan_role(
        iam,
        **where,
        stage=stage,
        team=team,
        state_bucket=state_bucket,
        kms_key_arn=kms_key_arn,
        pipeline_role_arn=pipeline_role_arn,
    )
    return apply_arn, plan_arn


def ensure_plan_role(
    iam: Any,
    *,
    provider_arn: str,
    boundary_arn: str,
    repository: str,
    stage: str,
    team: str,
    state_bucket: str,
    kms_key_arn: str,
    pipeline_role_arn: str = "",
) -> str:
    """The read-only role of the plan job: reads the account and the state, takes the S3 state lock; writes nothing
    else. A plan job that is compromised (pull requests run the author's code) cannot change the account."""
    trust = trust_policy(
        PLAN,
        provider_arn=provider_arn,
        repository=repository,
        team=team,
        stage=stage,
        pipeline_role_arn=pipeline_role_arn,
    )
    role = _ensure_role(
        iam,
        PLAN_ROLE_NAME,
        trust=trust,
        boundary_arn=boundary_arn,
        description=f"GitHub Actions plan (read-only) for {repository} ({team}-{stage})",
    )
    iam.put_role_policy(
        RoleName=PLAN_ROLE_NAME,
        PolicyName="PlanReadOnly",
        PolicyDocument=json.dumps(plan_policy(state_bucket=state_bucket, kms_key_arn=kms_key_arn)),
    )
    return str(role["Arn"])


def plan_policy(*, state_bucket: str, kms_key_arn: str) -> dict[str, Any]:
    """The plan role's only policy: read the account, take the state lock, use the state key."""
    reads = sorted(
        [f"{service}:{verb}*" for service in PLAN_READ_SERVICES for verb in PLAN_READ_VERBS]
        + [f"{service}:BatchGet*" for service in PLAN_BATCH_READ_SERVICES]
    )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadTheAccount", "Effect": "Allow", "Action": [*reads, "sts:GetCallerIdentity"], "Resource": "*"},
            {
                "Sid": "StateLock",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{state_bucket}/*.tflock",
            },
            {
                "Sid": "StateKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": kms_key_arn,
            },
        ],
    }


def ensure_ci_role(
    iam: Any,
    *,
    provider_arn: str,
    boundary_arn: str,
    repository: str,
    stage: str,
    team: str,
    pipeline_role_arn: str = "",
) -> str:
    """The apply role: only the apply job, from the default branch, in the environment with required reviewers (and
    the platform pipeline, which applies what the vending workflow runs)."""
    trust = trust_policy(
        APPLY,
        provider_arn=provider_arn,
        repository=repository,
        team=team,
        stage=stage,
        pipeline_role_arn=pipeline_role_arn,
    )
    role = _ensure_role(
        iam,
        CI_ROLE_NAME,
        trust=trust,
        boundary_arn=boundary_arn,
        description=f"GitHub Actions apply for {repository} ({team}-{stage})",
    )
    # PowerUserAccess-shaped (inline, so it exists in every partition and in the emulator); IAM changes are
    # limited by the boundary to roles that carry the boundary themselves.
    iam.put_role_policy(
        RoleName=CI_ROLE_NAME,
        PolicyName="Workloads",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"}
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName=CI_ROLE_NAME,
        PolicyName="ManageBoundedRoles",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "iam:CreateRole",
                            "iam:DeleteRole",
                            "iam:GetRole",
                            "iam:TagRole",
                            "iam:UntagRole",
                            "iam:PassRole",
                            "iam:AttachRolePolicy",
                            "iam:DetachRolePolicy",
                            "iam:PutRolePolicy",
                            "iam:DeleteRolePolicy",
                            "iam:GetRolePolicy",
                            "iam:ListRolePolicies",
                            "iam:ListAttachedRolePolicies",
                            "iam:UpdateAssumeRolePolicy",
                            "iam:CreateServiceLinkedRole",
                            "iam:CreateOpenIDConnectProvider",
                            "iam:GetOpenIDConnectProvider",
                            "iam:DeleteOpenIDConnectProvider",
                            "iam:TagOpenIDConnectProvider",
                            "iam:ListInstanceProfilesForRole",
                            "iam:CreatePolicy",
                            "iam:DeletePolicy",
                            "iam:GetPolicy",
                            "iam:GetPolicyVersion",
                            "iam:ListPolicyVersions",
                            "iam:CreatePolicyVersion",
                            "iam:DeletePolicyVersion",
                            "iam:TagPolicy",
                        ],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    return str(role["Arn"])
