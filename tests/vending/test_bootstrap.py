"""vending.bootstrap in a member account reached through sts:AssumeRole (moto keeps accounts apart by credentials)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from vending.aws.sessions import access_role_arn, assume_role_session
from vending.bootstrap import BOUNDARY_NAME, CI_ROLE_NAME, BootstrapResult, bootstrap_account
from vending.trust import PLAN_ROLE_NAME, WORKFLOW_PATH

REPO = "example-org/team-mlops-infra"


@pytest.fixture
def member(org: Any, member_account: Callable[[str, str], str]) -> tuple[str, boto3.Session]:
    """GIVEN a vended account and a session in it through its access role."""
    account_id = member_account("aws+team-mlops-staging@example.com", "team-mlops-staging")
    session = assume_role_session(
        boto3.client("sts", region_name="us-east-1"),
        access_role_arn(account_id, "OrganizationAccountAccessRole"),
        "vending-bootstrap-team-mlops",
        "us-east-1",
    )
    return account_id, session


def _bootstrap(member: tuple[str, boto3.Session], region: str = "us-east-1") -> BootstrapResult:
    account_id, session = member
    return bootstrap_account(
        session, account_id=account_id, region=region, repository=REPO, stage="staging", team="team-mlops"
    )


def test_bootstrap_state_bucket_locked_down(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a fresh member account
    account_id, session = member
    # WHEN it is bootstrapped
    result = _bootstrap(member)
    # THEN the state bucket is in that account, versioned, KMS-encrypted with the state key, private and TLS-only
    s3 = session.client("s3", region_name="us-east-1")
    bucket = result.state_bucket
    assert bucket == f"tfstate-{account_id}-us-east-1"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": result.kms_key_arn,
    }
    assert f":{account_id}:key/" in result.kms_key_arn
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    statement = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(statement["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    # ... and the key rotates and is reachable through its alias
    kms = session.client("kms", region_name="us-east-1")
    assert kms.get_key_rotation_status(KeyId=result.kms_key_arn)["KeyRotationEnabled"] is True
    assert kms.describe_key(KeyId="alias/terraform-state")["KeyMetadata"]["Arn"] == result.kms_key_arn


def test_bootstrap_writes_into_member_not_platform(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a member account
    # WHEN it is bootstrapped
    result = _bootstrap(member)
    # THEN the platform (management) account got no bucket and no CI role
    platform_s3 = boto3.client("s3", region_name="us-east-1")
    assert result.state_bucket not in [b["Name"] for b in platform_s3.list_buckets()["Buckets"]]
    platform_roles = [r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]]
    assert CI_ROLE_NAME not in platform_roles


def test_bootstrap_ci_role_trust_pins_repo_and_environment(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a member account
    account_id, session = member
    # WHEN it is bootstrapped
    result = _bootstrap(member)
    # THEN GitHub's OIDC provider exists for sts.amazonaws.com ...
    iam = session.client("iam")
    provider_arn = f"arn:aws:iam::{account_id}:oidc-provider/token.actions.githubusercontent.com"
    assert result.oidc_provider_arn == provider_arn
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    # ... the apply role is assumable only by the apply job of this repository's workflow, in the team's staging
    # environment, from main; the plan role only by the plan job in the plan environment (tests/vending/test_trust.py
    # evaluates these documents against the workflow's claims)
    role = iam.get_role(RoleName=CI_ROLE_NAME)["Role"]
    assert result.ci_role_arn == role["Arn"] == f"arn:aws:iam::{account_id}:role/{CI_ROLE_NAME}"
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Federated": provider_arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    workflow = f"{REPO}/{WORKFLOW_PATH}"
    assert statement["Condition"] == {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {
            "token.actions.githubusercontent.com:sub": (
                f"repo:{REPO}:environment:team-mlops-staging:job_workflow_ref:{workflow}@refs/heads/main"
            )
        },
    }
    plan = iam.get_role(RoleName=PLAN_ROLE_NAME)["Role"]
    assert result.plan_role_arn == plan["Arn"]
    [plan_statement] = plan["AssumeRolePolicyDocument"]["Statement"]
    assert plan_statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"] == [
        f"repo:{REPO}:environment:team-mlops-staging-plan:job_workflow_ref:{workflow}@refs/pull/*/merge",
        f"repo:{REPO}:environment:team-mlops-staging-plan:job_workflow_ref:{workflow}@refs/heads/main",
    ]


def test_bootstrap_plan_role_is_read_only_and_bounded(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a member account
    _, session = member
    # WHEN it is bootstrapped
    result = _bootstrap(member)
    # THEN the plan role carries the boundary and its only writes are the state lock object and the state key
    iam = session.client("iam")
    role = iam.get_role(RoleName=PLAN_ROLE_NAME)["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == result.permissions_boundary_arn
    assert iam.list_role_policies(RoleName=PLAN_ROLE_NAME)["PolicyNames"] == ["PlanReadOnly"]
    assert iam.list_attached_role_policies(RoleName=PLAN_ROLE_NAME)["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=PLAN_ROLE_NAME, PolicyName="PlanReadOnly")["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    reads = by_sid["ReadTheAccount"]["Action"]
    assert all(a.split(":", 1)[1].startswith(("Describe", "Get", "List", "BatchGet")) for a in reads)
    assert by_sid["StateLock"]["Resource"] == f"arn:aws:s3:::{result.state_bucket}/*.tflock"
    assert by_sid["StateKey"]["Resource"] == result.kms_key_arn


def test_bootstrap_permissions_boundary_attached(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a member account
    account_id, session = member
    # WHEN it is bootstrapped
    result = _bootstrap(member)
    # THEN the CI role carries the boundary, and the boundary denies long-lived credentials and state tampering
    iam = session.client("iam")
    boundary_arn = f"arn:aws:iam::{account_id}:policy/{BOUNDARY_NAME}"
    assert result.permissions_boundary_arn == boundary_arn
    role = iam.get_role(RoleName=CI_ROLE_NAME)["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary_arn
    version = iam.get_policy(PolicyArn=boundary_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=boundary_arn, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    denies = {s["Sid"]: s for s in document["Statement"] if s["Effect"] == "Deny"}
    assert "iam:CreateAccessKey" in denies["NoLongLivedCredentials"]["Action"]
    assert denies["ProtectStateBucket"]["Resource"] == [
        f"arn:aws:s3:::{result.state_bucket}",
        f"arn:aws:s3:::{result.state_bucket}/*",
    ]
    assert set(iam.list_role_policies(RoleName=CI_ROLE_NAME)["PolicyNames"]) == {"Workloads", "ManageBoundedRoles"}


def test_bootstrap_creates_no_users_or_access_keys(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a member account
    _, session = member
    # WHEN it is bootstrapped
    _bootstrap(member)
    # THEN no IAM user (and so no access key) exists in it
    assert session.client("iam").list_users()["Users"] == []


def test_bootstrap_twice_converges(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a bootstrapped account
    first = _bootstrap(member)
    # WHEN the step runs again, several times (retries, resumes: more than the 5 policy versions IAM keeps)
    results = [_bootstrap(member) for _ in range(6)]
    # THEN nothing fails and the same resources come back; only the first run set up the invocation logging
    assert first.invocation_logging_changes
    assert all(r == first.model_copy(update={"invocation_logging_changes": []}) for r in results)
    _, session = member
    kms = session.client("kms", region_name="us-east-1")
    customer_keys = [
        k
        for k in kms.list_keys()["Keys"]
        if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyManager"] == "CUSTOMER"
    ]
    assert len(customer_keys) == 1
    versions = session.client("iam").list_policy_versions(PolicyArn=first.permissions_boundary_arn)["Versions"]
    assert len(versions) <= 5


def test_bootstrap_outside_us_east_1_uses_location_constraint(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a team whose home region is eu-west-1
    account_id, session = member
    # WHEN it is bootstrapped there
    result = _bootstrap(member, region="eu-west-1")
    # THEN the bucket is created in that region
    assert result.state_bucket == f"tfstate-{account_id}-eu-west-1"
    location = session.client("s3", region_name="eu-west-1").get_bucket_location(Bucket=result.state_bucket)
    assert location["LocationConstraint"] == "eu-west-1"
    assert ":eu-west-1:" in result.kms_key_arn


def test_assume_role_session_access_denied_is_retryable() -> None:
    # GIVEN an STS that refuses the brand-new account's access role (IAM not propagated yet)
    from botocore.stub import Stubber

    from vending.aws.sessions import assume_role_session
    from vending.exceptions import AccessRoleNotReady

    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sts) as stub:
        stub.add_client_error("assume_role", service_error_code="AccessDenied", http_status_code=403)
        # WHEN the platform assumes it
        # THEN the named retryable error is raised, which the state machine backs off on
        with pytest.raises(AccessRoleNotReady):
            role = "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"
            assume_role_session(sts, role, "boot", "us-east-1")
