"""Defects a green suite let through while the emulator checked identity policies against "*" only (issue: the
emulator decides as AWS does). Each test runs the project's real policy on the emulator and, as its negative
control, the policy as it was before the fix, which the emulator must refuse with AWS's denial."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local import runtime
from landing_zone.local.authorization.middleware import DECISIONS
from landing_zone.local.images import amazon_image
from tests.emulator.test_authorization import Env, _code, _denied, _unique, new_member
from vending.functions import FUNCTIONS, FunctionSpec, Grant
from vending.layout import cached_layout
from vending.retirement import archive_state, quarantine_account
from vending.settings import Settings


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with runtime.Emulator():
        yield Env(runtime.deploy().management_account_id)


def _spec(key: str) -> FunctionSpec:
    return next(f for f in FUNCTIONS if f.key == key)


def _role_with_policy_of(env: Env, spec: FunctionSpec) -> boto3.Session:
    """A role holding exactly the policy the emulator (and the CDK stack) renders for `spec`."""
    org_id = env.client("organizations").describe_organization()["Organization"]["Id"]
    policy = runtime._function_policy(
        spec, account=env.account, organization_id=org_id, settings=Settings.from_env(), layout=cached_layout()
    )
    return env.role(*policy["Statement"])[0]


def _without(spec: FunctionSpec, action: str) -> FunctionSpec:
    grants = tuple(
        Grant(tuple(a for a in g.actions if a != action), g.resources)
        for g in spec.grants
        if any(a != action for a in g.actions)
    )
    return dataclasses.replace(spec, grants=grants)


def _member(env: Env) -> tuple[str, boto3.Session]:
    created = new_member(env)
    return str(created["id"]), created["session"]


def test_create_account_with_tags_needs_tag_resource(env: Env) -> None:
    """Defect 1: CreateAccount with Tags is also authorized as organizations:TagResource."""
    # GIVEN the CreateAccount function's policy, and the same policy as it was (no TagResource)
    fixed = env.client("organizations", _role_with_policy_of(env, _spec("CreateAccount")))
    before = env.client(
        "organizations", _role_with_policy_of(env, _without(_spec("CreateAccount"), "organizations:TagResource"))
    )
    tags = [{"Key": "team", "Value": "team-x"}]
    # WHEN each creates a tagged account THEN the old policy is refused on TagResource, the fixed one is not
    error = _denied(lambda: before.create_account(Email=f"{_unique('a')}@example.com", AccountName="a", Tags=tags))
    assert _code(error) == "AccessDeniedException"
    assert "organizations:TagResource" in str(error) and "no identity-based policy allows" in str(error)
    fixed.create_account(Email=f"{_unique('b')}@example.com", AccountName="b", Tags=tags)


def test_quarantined_account_still_lets_the_platform_in(env: Env) -> None:
    """Defect 3: the quarantine must not lock out the platform's roles (an SCP allow-list would bind them too)."""
    layout = cached_layout()
    account, access = _member(env)
    org = env.client("organizations")
    # GIVEN a team role in the account, and the account quarantined the way retirement quarantines it
    iam = env.client("iam", access)
    trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{env.account}:root"}, "Action": "sts:AssumeRole"}
    iam.create_role(
        RoleName="TeamAdmin", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )
    iam.put_role_policy(
        RoleName="TeamAdmin",
        PolicyName="admin",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    quarantine_account(org, layout, account)
    team, _ = env.assume(f"arn:aws:iam::{account}:role/TeamAdmin")
    # WHEN the access role writes (destroying stacks, archiving state need writes) THEN it may
    env.client("s3", access).create_bucket(Bucket=_unique("platform-write"))
    # AND a team role may use the quarantine's read-only list but nothing else: the quarantine's explicit deny
    env.client("iam", team).list_roles()
    error = _denied(lambda: env.client("s3", team).create_bucket(Bucket=_unique("team-write")))
    assert "with an explicit deny in a service control policy" in str(error)
    # AND the negative control: an allow-list quarantine (FullAWSAccess detached) binds the access role as well
    allow_list = org.create_policy(
        Name=_unique("allow-list"),
        Description="the quarantine before the fix",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:List*", "s3:Get*"], "Resource": "*"}],
            }
        ),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=allow_list, TargetId=account)
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=account)
    try:
        error = _denied(lambda: env.client("s3", access).create_bucket(Bucket=_unique("locked-out")))
        assert "because no service control policy allows the s3:CreateBucket action" in str(error)
    finally:
        org.attach_policy(PolicyId="p-FullAWSAccess", TargetId=account)


def test_archive_state_writes_the_sse_kms_archive(env: Env) -> None:
    """Defect 4: ArchiveState writes an SSE-KMS bucket (kms:GenerateDataKey) and asks HeadObject of keys not archived
    yet (s3:ListBucket, or S3 answers 403 instead of 404)."""
    account, access = _member(env)
    source = env.client("s3", access)
    bucket = _unique("tfstate")
    source.create_bucket(Bucket=bucket)
    source.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    source.put_object(Bucket=bucket, Key="team/stack/terraform.tfstate", Body=b"{}")
    archive_bucket = Settings.from_env().archive_bucket
    # GIVEN the ArchiveState policy as it is, and as it was (no ListBucket, no kms:GenerateDataKey)
    fixed = env.client("s3", _role_with_policy_of(env, _spec("ArchiveState")))
    old = _without(_without(_spec("ArchiveState"), "s3:ListBucket"), "kms:GenerateDataKey")
    before = env.client("s3", _role_with_policy_of(env, old))
    # WHEN the old one archives THEN HeadObject of a missing key is 403, not 404 (the code raises on it)
    with pytest.raises(ClientError) as caught:
        archive_state(source, before, bucket=bucket, archive_bucket=archive_bucket, account_id=account)
    assert caught.value.response["Error"]["Code"] in ("403", "AccessDenied"), caught.value.response
    # AND with ListBucket alone the write is refused by the archive's key
    list_only = env.client("s3", _role_with_policy_of(env, _without(_spec("ArchiveState"), "kms:GenerateDataKey")))
    denied_before = len(DECISIONS.denials)
    with pytest.raises(ClientError):
        archive_state(source, list_only, bucket=bucket, archive_bucket=archive_bucket, account_id=account)
    assert any(d.action == "kms:GenerateDataKey" for d in DECISIONS.denials[denied_before:])
    # AND the fixed policy archives every version
    result = archive_state(source, fixed, bucket=bucket, archive_bucket=archive_bucket, account_id=account)
    assert result.copied == 1 and result.versions == 1


def test_rendered_guardrails_are_enforced_on_a_team_role(env: Env) -> None:
    """The real rendered SCPs, attached the way vending attaches them, decide a team's own calls on the emulator:
    the GPU tier, the region allow-list and the cost tags (each with its allowed twin)."""
    from vending.guardrails.account import apply_account_guardrails
    from vending.org_tree import ensure_ou_path, parent_of

    layout = cached_layout()
    account, access = _member(env)
    org = env.client("organizations")
    # GIVEN an inference-tier staging account in its OU with its guardrails, and a team admin role inside it
    target = ensure_ou_path(org, layout.ou_for_stage("staging"))
    org.move_account(AccountId=account, SourceParentId=parent_of(org, account), DestinationParentId=target)
    apply_account_guardrails(
        org, layout, account_id=account, team="team-backend", stage="staging", gpu_tier="inference"
    )
    iam = env.client("iam", access)
    trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{env.account}:root"}, "Action": "sts:AssumeRole"}
    iam.create_role(
        RoleName="TeamAdmin", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="TeamAdmin", PolicyName="admin", PolicyDocument=json.dumps(admin))
    team, _ = env.assume(f"arn:aws:iam::{account}:role/TeamAdmin")
    tags = [
        {"Key": "team", "Value": "team-backend"},
        {"Key": "stage", "Value": "staging"},
        {"Key": "cost-center", "Value": "CC-1002"},
    ]

    def run(instance_type: str, region: str = "us-east-1", with_tags: bool = True) -> Any:
        ec2 = team.client("ec2", region_name=region)
        extra = {"TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]} if with_tags else {}
        return lambda: ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType=instance_type, **extra
        )

    # WHEN the team launches THEN its tier's GPU is allowed and a training GPU is refused by an SCP
    run("g5.xlarge")()
    error = _denied(run("p5.48xlarge"))
    assert _code(error) == "UnauthorizedOperation" and "explicit deny in a service control policy" in str(error)
    # AND a region outside the allow-list is refused, one inside is not
    run("t3.micro", region="us-west-2")()
    assert "service control policy" in str(_denied(run("t3.micro", region="ap-southeast-2")))
    # AND a launch without the mandatory cost tags is refused
    assert "service control policy" in str(_denied(run("t3.micro", with_tags=False)))
    # AND the team cannot make itself a platform role (every fence exempts those names): CreateRole is refused
    team_iam = team.client("iam")
    for name in layout.organization.platform_role_names:
        if name == layout.organization.access_role_name:
            continue  # exists in every account already
        error = _denied(
            lambda name=name: team_iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
            )
        )
        assert "explicit deny in a service control policy" in str(error), name


def test_pipeline_worker_acts_as_the_pipeline_role(env: Env) -> None:
    """A local pipeline run is a CodeBuild build: its worker acts as the role rendered from the project role's
    statements (landing_zone.grant_statements), not as the platform admin, so a grant the build lacks fails locally."""
    from vending.pipeline import orchestration

    # GIVEN the emulator's worker identity
    assert orchestration.WORKER_SESSION is not None
    worker = orchestration.WORKER_SESSION()
    arn = worker.client("sts").get_caller_identity()["Arn"]
    # THEN it is the pipeline role
    assert f":assumed-role/{runtime.PIPELINE_ROLE}/" in arn
    # AND it reads its run records but may not touch the requests table (a grant the project role does not have)
    settings = Settings.from_env()
    worker.client("dynamodb").get_item(TableName=settings.pipeline_runs_table, Key={"run_id": {"S": "none"}})
    error = _denied(
        lambda: worker.client("dynamodb").get_item(TableName=settings.requests_table, Key={"request_id": {"S": "x"}})
    )
    assert "dynamodb:GetItem" in str(error) and "no identity-based policy allows" in str(error)


def test_spend_fence_freezes_as_its_own_role_and_the_emulator_enforces_the_freeze(env: Env) -> None:
    """The spend fence (issue 24 item 4) as the SpendFence function's role, with IAM and SCPs decided by the emulator:
    the freeze record, the attach and the notification are each granted; the attached vend-freeze then denies the
    team's p5 launch and not its t3 launch nor the platform's access role; an approved thaw lifts it. The negative
    control is the role without organizations:AttachPolicy: refused after the record is written, which the real
    role's next interval then completes."""
    from datetime import UTC, datetime, timedelta

    from vending.exceptions import FenceIncomplete
    from vending.spend.fence import approve_thaw, event_notifier, fence, request_thaw
    from vending.spend.freezes import FreezeStore
    from vending.spend.reading import SpendReading

    layout, settings = cached_layout(), Settings.from_env()
    account, access = _member(env)
    # GIVEN a team admin role in a member account, and an AMI it can launch
    trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{env.account}:root"}, "Action": "sts:AssumeRole"}
    iam = env.client("iam", access)
    iam.create_role(
        RoleName="TeamAdmin", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )
    admin_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="TeamAdmin", PolicyName="admin", PolicyDocument=json.dumps(admin_policy))
    team, _ = env.assume(f"arn:aws:iam::{account}:role/TeamAdmin")
    ami = amazon_image(env.client("ec2", access))

    def launch(session: boto3.Session, instance_type: str) -> Any:
        return env.client("ec2", session).run_instances(ImageId=ami, InstanceType=instance_type, MinCount=1, MaxCount=1)

    launch(team, "p5.48xlarge")  # not frozen yet: the team may launch p5
    now = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    reading = SpendReading("team-mlops", "staging", account, "team-mlops-staging", now, 300.0, 300.0, {})

    def run_fence(session: boto3.Session, at: datetime) -> Any:
        return fence(
            [reading],
            layout,
            env.client("organizations", session),
            FreezeStore(env.client("dynamodb", session), settings.freezes_table),
            event_notifier(env.client("events", session), bus=settings.event_bus_name, source=settings.event_source),
            at,
        )

    # WHEN the fence runs as its role without AttachPolicy THEN the emulator refuses the attach (after the write)
    crippled = _role_with_policy_of(env, _without(_spec("SpendFence"), "organizations:AttachPolicy"))
    with pytest.raises(FenceIncomplete) as incomplete:
        run_fence(crippled, now)
    error = incomplete.value.__cause__
    assert isinstance(error, ClientError) and _code(error) == "AccessDeniedException"
    assert "organizations:AttachPolicy" in str(error) and account in str(incomplete.value)
    # WHEN the next interval runs as the real role THEN it completes that freeze
    report = run_fence(_role_with_policy_of(env, _spec("SpendFence")), now + timedelta(minutes=5))
    assert report.completed == [account]
    # THEN the team's p5 launch is denied by the SCP, its t3 launch and the platform's p5 launch are not
    denied = _denied(lambda: launch(team, "p5.48xlarge"))
    assert "with an explicit deny in a service control policy" in str(denied)
    launch(team, "t3.micro")
    launch(access, "p5.48xlarge")
    # WHEN a thaw is filed and approved by another principal THEN the team may launch p5 again
    freezes = FreezeStore(env.client("dynamodb"), settings.freezes_table)
    request_thaw(
        freezes, account, by="arn:aws:iam::111111111111:role/PlatformAdmin", session=None, reason="ok", now=now
    )
    approve_thaw(
        freezes,
        env.client("organizations"),
        layout,
        account,
        by="arn:aws:iam::111111111111:role/PlatformApprover",
        session=None,
        now=now + timedelta(minutes=30),
    )
    launch(team, "p5.48xlarge")
