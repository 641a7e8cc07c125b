"""The spend freeze SCP (issue 24 item 4), decided by scps.evaluate on the whole path of a frozen team account.

Each denial names the freeze statement that causes it, and the same request passes once that statement is deleted
(causation, as in test_bedrock_tiers.py); the platform's roles are never denied; what runs keeps running."""

from __future__ import annotations

from typing import Any

import pytest
from policy_sentry.querying.actions import get_action_data

from scps import catalog
from scps.evaluate import Policies, Request, decide
from scps.render import freeze, render
from vending.layout import Layout, load_layout

LAYOUT = load_layout()
RENDERED = render(LAYOUT)
ACCOUNT = "111122223333"
TEAM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/TeamCIRole"
PLATFORM = [f"arn:aws:iam::{ACCOUNT}:role/{n}" for n in LAYOUT.organization.platform_role_names]
TEAM, STAGE = "team-mlops", "staging"  # the training tier: p5 is allowed to it until it is frozen
FULL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TAGS = {"aws:RequestTag/team": TEAM, "aws:RequestTag/stage": STAGE, "aws:RequestTag/cost-center": "CC-1003"}
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*"
HAIKU_PROFILE = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"


def _levels(*, frozen: bool, drop: tuple[str, ...] = ()) -> list[list[Any]]:
    """Root, Workloads, the stage OU and the account (FullAWSAccess with its tier, team and, frozen, the freeze)."""
    levels: list[list[Any]] = [[FULL]]
    for path in ("Workloads", LAYOUT.ou_for_stage(STAGE)):
        levels.append([FULL, *(RENDERED.policies[n].document for n in RENDERED.ou_policies.get(path, ()))])
    names = [RENDERED.tier_policies["training"], RENDERED.team_policies[(TEAM, STAGE)]]
    if frozen:
        names.append(RENDERED.freeze_policy)
    docs = [RENDERED.policies[n].document for n in names]
    docs = [{**d, "Statement": [s for s in d["Statement"] if s["Sid"] not in drop]} for d in docs]
    levels.append([FULL, *docs])
    return levels


def _decide(
    action: str,
    resource: str = "*",
    context: dict[str, Any] | None = None,
    *,
    frozen: bool = True,
    principal: str = TEAM_ROLE,
    drop: tuple[str, ...] = (),
) -> tuple[bool, str | None]:
    request = Request(action, resource, principal, {"aws:RequestedRegion": "us-east-1", **(context or {})})
    decision = decide(request, Policies(identity=[FULL], scps=_levels(frozen=frozen, drop=drop)))
    return decision.allowed, decision.statement


LAUNCH = "FreezeAcceleratedLaunches"
FROZEN_DENIES = [
    ("p5 launch", "ec2:RunInstances", INSTANCE, {"ec2:InstanceType": "p5.48xlarge", **TAGS}, LAUNCH),
    ("g5 start", "ec2:StartInstances", INSTANCE, {"ec2:InstanceType": "g5.xlarge"}, LAUNCH),
    ("trn1 fleet", "ec2:CreateFleet", INSTANCE, {"ec2:InstanceType": "trn1.32xlarge", **TAGS}, LAUNCH),
    ("InvokeModel", "bedrock:InvokeModel", TITAN, {}, "FreezeBedrockTokens"),
    # Converse and ConverseStream are authorized as InvokeModel and InvokeModelWithResponseStream.
    ("stream on a profile", "bedrock:InvokeModelWithResponseStream", HAIKU_PROFILE, {}, "FreezeBedrockTokens"),
    ("batch inference", "bedrock:CreateModelInvocationJob", "*", TAGS, "FreezeBedrockTokens"),
    ("endpoint", "sagemaker:CreateEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/x", TAGS,
     "FreezeSageMakerCreates"),
    ("training job", "sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/x",
     {"sagemaker:InstanceTypes": ["ml.p5.48xlarge"], **TAGS}, "FreezeSageMakerCreates"),
    ("processing job", "sagemaker:CreateProcessingJob", "*", TAGS, "FreezeSageMakerCreates"),
    ("transform job", "sagemaker:CreateTransformJob", "*", TAGS, "FreezeSageMakerCreates"),
    ("tuning job", "sagemaker:CreateHyperParameterTuningJob", "*", TAGS, "FreezeSageMakerCreates"),
    ("notebook", "sagemaker:CreateNotebookInstance", "*", TAGS, "FreezeSageMakerCreates"),
    ("endpoint scale-up", "sagemaker:UpdateEndpointWeightsAndCapacities", "*", {}, "FreezeSageMakerCreates"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "action", "resource", "context", "sid"), FROZEN_DENIES, ids=[c[0] for c in FROZEN_DENIES]
)
def test_freeze_denies_new_spend_for_team_roles_only(
    name: str, action: str, resource: str, context: dict[str, Any], sid: str
) -> None:
    # GIVEN a frozen training-tier account WHEN a team role asks THEN the freeze's statement denies it
    assert _decide(action, resource, context) == (False, sid)
    # AND without the freeze (or with that one statement deleted) the tier allowed the same request: the freeze is
    # the cause
    assert _decide(action, resource, context, frozen=False)[0], name
    assert _decide(action, resource, context, drop=(sid,))[0], name
    # AND the platform's roles are never denied it (they stop instances and lift the freeze)
    for platform in PLATFORM:
        assert _decide(action, resource, context, principal=platform)[0], (name, platform)


KEEPS_RUNNING = [
    ("t3 launch", "ec2:RunInstances", INSTANCE, {"ec2:InstanceType": "t3.micro", **TAGS}),
    ("m5 start", "ec2:StartInstances", INSTANCE, {"ec2:InstanceType": "m5.large"}),
    ("stop the p5", "ec2:StopInstances", INSTANCE, {"ec2:InstanceType": "p5.48xlarge"}),
    ("terminate the p5", "ec2:TerminateInstances", INSTANCE, {"ec2:InstanceType": "p5.48xlarge"}),
    ("describe", "ec2:DescribeInstances", "*", {}),
    ("serve from the running endpoint", "sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/x",
     {}),
    ("delete an endpoint", "sagemaker:DeleteEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/x", {}),
    ("stop a training job", "sagemaker:StopTrainingJob", "*", {}),
    ("read the bucket", "s3:GetObject", "arn:aws:s3:::team-data/x", {}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "action", "resource", "context"), KEEPS_RUNNING, ids=[c[0] for c in KEEPS_RUNNING])
def test_freeze_keeps_what_runs_running(name: str, action: str, resource: str, context: dict[str, Any]) -> None:
    # GIVEN a frozen account WHEN a team role works with what it has, or launches a CPU type THEN it may
    assert _decide(action, resource, context) == (True, None), name


def test_freeze_is_rendered_within_the_quotas_with_room_for_a_tier_swap() -> None:
    # GIVEN the packaged layout's quotas (5,120 characters, 5 SCPs per target)
    limits = LAYOUT.organization.scp_limits
    policy = RENDERED.policies[RENDERED.freeze_policy]
    # THEN vend-freeze is one minified policy well within the size quota
    assert RENDERED.freeze_policy == "vend-freeze" and policy.kind == "freeze"
    assert policy.chars <= limits.max_policy_chars
    # AND every frozen team account carries FullAWSAccess + tier + team + freeze = 4 of 5: the one free slot is what a
    # tier change needs (the new tier's policy is attached before the old one is detached)
    frozen = [b for b in RENDERED.budgets(LAYOUT) if b.target.startswith("frozen account")]
    assert len(frozen) == 2 * len(LAYOUT.teams)
    assert {b.attached for b in frozen} == {4} and {b.slots_left for b in frozen} == {1}


def test_freeze_actions_are_real_and_typed_launches_accept_the_instance_type() -> None:
    # GIVEN the freeze's action lists THEN each one is an action of the IAM reference
    for action in (*catalog.FREEZE_EC2_LAUNCHES, *catalog.FREEZE_SAGEMAKER_CREATES, *catalog.FREEZE_BEDROCK):
        service, name = action.split(":")
        assert get_action_data(service, name).get(service), action
    # AND every typed launch carries ec2:InstanceType on its instance (or reservation) resource: the key the freeze
    # tests, so an accelerated launch cannot slip past it
    for action in catalog.FREEZE_EC2_LAUNCHES:
        rows = get_action_data("ec2", action.split(":")[1])["ec2"]
        assert any("ec2:InstanceType" in r["condition_keys"] for r in rows), action


def test_freeze_every_statement_exempts_the_platform_roles() -> None:
    # GIVEN the lock-out check of test_render (every statement that could stop the platform carries the exemption)
    arns = [f"arn:aws:iam::*:role/{n}" for n in LAYOUT.organization.platform_role_names]
    for statement in freeze(LAYOUT):
        # THEN each freeze statement carries it
        assert statement.exempts_platform
        assert statement.body["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == arns, statement.sid


def test_freeze_follows_the_layouts_accelerated_families() -> None:
    # GIVEN a layout that counts a new accelerated family WHEN rendered THEN the freeze denies launching it
    data = load_layout().model_dump(mode="json")
    data["accelerated_families"]["ec2"].append("x9gpu*")
    layout = Layout.model_validate(data)
    sid = next(s for s in freeze(layout) if s.sid == "FreezeAcceleratedLaunches")
    assert "x9gpu*" in sid.body["Condition"]["StringLike"]["ec2:InstanceType"]
