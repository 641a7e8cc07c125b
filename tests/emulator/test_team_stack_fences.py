"""The vending pipeline runs a team's stack as that team's CI roles, so the SCPs fence what it applies.

GIVEN a team-frontend account (GPU tier none) vended on the emulator with IAM enforced: placed in its OU, its
guardrails attached, bootstrapped with the platform pipeline's role in its CI roles' trust. WHEN the pipeline worker
(VendingPipelineRole) runs a stack that launches an EC2 instance with the policy stage left out (init, plan, apply):

- a p5.48xlarge is refused at apply by the GPU tier SCP: the plan runs as TeamCIPlanRole, the apply as TeamCIRole;
- its clean twin, a t3.micro, applies (the negative control: the fence, not the roles, refuses the GPU), and after
  a quarantine only the platform's teardown (the access role) can destroy it;
- as the account's access role (how the pipeline ran team stacks before: a role every fence exempts) the same p5
  applies, which is what a team could slip past the SCPs through the platform's own pipeline.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local import runtime
from landing_zone.local.authorization.middleware import DECISIONS
from landing_zone.local.images import amazon_image
from vending import invocation_logging
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.bootstrap import bootstrap_account
from vending.guardrails.account import apply_account_guardrails
from vending.layout import cached_layout
from vending.org_tree import ensure_ou_path, parent_of
from vending.pipeline import orchestration
from vending.pipeline import terraform as tf
from vending.pipeline.orchestration import PipelineRun, run_credentials
from vending.pipeline.runner import PipelineSpec, run_pipeline
from vending.retirement import quarantine_account
from vending.settings import REPO_ROOT, Settings

TEAM, STAGE, REGION = "team-frontend", "staging", runtime.REGION
REGIONS = (REGION, "us-west-2")  # the account's regions: Bootstrap turns invocation logging on in each
TEMPLATE = REPO_ROOT / "terraform" / "environments" / TEAM / STAGE / "bootstrap"
INSTANCE_TF = """
variable "instance_type" {
  type = string
}

variable "image_id" {
  type = string
}

resource "aws_instance" "probe" {
  ami           = var.image_id
  instance_type = var.instance_type
}
"""

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.emulator,
    pytest.mark.skipif(tf.unavailable_reason() is not None, reason=f"Terraform not usable: {tf.unavailable_reason()}"),
]


@pytest.fixture(scope="module")
def vended() -> Iterator[dict[str, Any]]:
    with runtime.Emulator():
        deployment = runtime.deploy()
        admin = boto3.Session(region_name=REGION)
        org, layout = admin.client("organizations"), cached_layout()
        status = org.create_account(Email="fence-probe@example.com", AccountName="fence-probe")["CreateAccountStatus"]
        account_id = (
            status.get("AccountId")
            or org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"][
                "AccountId"
            ]
        )
        target = ensure_ou_path(org, layout.ou_for_stage(STAGE))
        org.move_account(AccountId=account_id, SourceParentId=parent_of(org, account_id), DestinationParentId=target)
        apply_account_guardrails(org, layout, account_id=account_id, team=TEAM, stage=STAGE, gpu_tier="none")
        member = assume_role_session(
            admin.client("sts"), access_role_arn(account_id, layout.organization.access_role_name), "probe", REGION
        )
        result = bootstrap_account(
            member,
            account_id=account_id,
            region=REGION,
            repository="example-org/team-frontend-infra",
            stage=STAGE,
            team=TEAM,
            pipeline_role_arn=Settings.from_env().pipeline_role_arn,
            regions=REGIONS,
        )
        image = amazon_image(member.client("ec2"))
        yield {
            "account_id": account_id,
            "bucket": result.state_bucket,
            "image": image,
            "access_role": layout.organization.access_role_name,
            "member": member,
            "management": deployment.management_account_id,
        }


def _stack(tmp_path: Path, name: str) -> Path:
    """A team stack folder (terraform/environments/<team>/<stage>/<name>) from the bootstrap stack's scaffolding."""
    stack = tmp_path / "environments" / TEAM / STAGE / name
    stack.mkdir(parents=True)
    for file in ("versions.tf", "providers.tf", "variables.tf", ".terraform.lock.hcl"):
        shutil.copyfile(TEMPLATE / file, stack / file)
    backend = (TEMPLATE / "backend.tf").read_text(encoding="utf-8")
    (stack / "backend.tf").write_text(backend.replace("/bootstrap/", f"/{name}/"), encoding="utf-8")
    (stack / "main.tf").write_text(INSTANCE_TF, encoding="utf-8")
    return stack


def _run(
    vended: dict[str, Any], tmp_path: Path, instance_type: str, runs_as: str, *, name: str = "", destroy: bool = False
) -> Any:
    name = name or f"probe-{instance_type.replace('.', '-')}-{runs_as}"
    run = PipelineRun(
        run_id=f"probe/{name}",
        request_id="probe",
        stack=name,
        stack_path=f"{TEAM}/{STAGE}/{name}",
        account_id=vended["account_id"],
        state_bucket=vended["bucket"],
        state_region=REGION,
        access_role_name=vended["access_role"],
        variables={},
        gate="auto",
        runs_as=runs_as,
    )
    env, apply_env = run_credentials(orchestration.WORKER_SESSION(), run)
    spec = PipelineSpec(
        stack_dir=_stack(tmp_path, name),
        state_bucket=vended["bucket"],
        state_region=REGION,
        account_id=vended["account_id"],
        variables={
            "team": TEAM,
            "stage": STAGE,
            "cost_center": "CC-1001",
            "gpu_tier": "none",
            "regions": [REGION],
            "instance_type": instance_type,
            "image_id": vended["image"],
        },
        env=env,
        apply_env=apply_env,
        stages=("init", "plan", "apply"),  # the policy stage bypassed: only the SCPs stand in the way
        platform_credentials=runs_as == "platform",
        destroy=destroy,
    )
    return run_pipeline(spec)


def test_gpu_stack_in_tier_none_is_refused_by_the_scp_when_the_policy_stage_is_bypassed(
    vended: dict[str, Any], tmp_path: Path
) -> None:
    before = len(DECISIONS.denials)
    result = _run(vended, tmp_path, "p5.48xlarge", "team")
    assert (result.ok, result.failed_stage) == (False, "apply"), result.message
    denials = [d for d in DECISIONS.denials[before:] if d.action == "ec2:RunInstances"]
    assert denials, [d.message for d in DECISIONS.denials[before:]]
    assert "assumed-role/TeamCIRole/" in denials[0].message
    assert "explicit deny in a service control policy" in denials[0].message
    # AND nothing else was refused on the way: the plan role read and locked the state, the apply role wrote it
    assert {d.action for d in DECISIONS.denials[before:]} == {"ec2:RunInstances"}


def test_as_the_exempt_access_role_the_gpu_would_apply(vended: dict[str, Any], tmp_path: Path) -> None:
    """What the pipeline did before: the access role is exempt from the GPU fence, so the p5 applies."""
    result = _run(vended, tmp_path, "p5.48xlarge", "platform")
    assert result.ok, f"{result.message}\n{result.stages[-1].output_tail}"


def test_bootstrap_left_invocation_logging_on_in_each_region(vended: dict[str, Any]) -> None:
    """Bootstrap ran as the access role with IAM enforced (the emulator refuses a destination Bedrock could not
    deliver to): each region logs to the account's own group through the role only Bedrock assumes."""
    account, member = vended["account_id"], vended["member"]
    for region in REGIONS:
        config = member.client("bedrock", region_name=region).get_model_invocation_logging_configuration()
        assert config["loggingConfig"] == invocation_logging.intended_config(account), region
    assert invocation_logging.ensure_invocation_logging(member, account, REGIONS) == []  # converged: nothing to do


def _team_admin(vended: dict[str, Any]) -> boto3.Session:
    """A team's own administrator role in its account (not a platform role): every fence applies to it. Made by the
    platform's access role (the stage OU makes anyone else give a new role the CI boundary)."""
    account, member = vended["account_id"], vended["member"]
    iam = member.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{vended['management']}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    if not iam.list_roles(PathPrefix="/team/")["Roles"]:
        iam.create_role(RoleName="TeamAdmin", Path="/team/", AssumeRolePolicyDocument=json.dumps(trust))
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_role_policy(RoleName="TeamAdmin", PolicyName="admin", PolicyDocument=json.dumps(everything))
    return assume_role_session(
        boto3.Session(region_name=REGION).client("sts"),
        f"arn:aws:iam::{account}:role/team/TeamAdmin",
        "team-admin",
        REGION,
    )


def _refused(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"].get("Message", ""))


def test_a_team_role_cannot_turn_invocation_logging_off_or_repoint_it_the_platform_can(
    vended: dict[str, Any],
) -> None:
    account, member = vended["account_id"], vended["member"]
    team = _team_admin(vended)
    bedrock, logs, iam = team.client("bedrock"), team.client("logs"), team.client("iam")
    other = {**invocation_logging.intended_config(account), "textDataDeliveryEnabled": False}
    writes = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    # WHEN a team's admin turns the logging off, repoints it, deletes its log group or rewrites its role
    refusals = {
        "bedrock:DeleteModelInvocationLoggingConfiguration": _refused(
            bedrock.delete_model_invocation_logging_configuration
        ),
        "bedrock:PutModelInvocationLoggingConfiguration": _refused(
            lambda: bedrock.put_model_invocation_logging_configuration(loggingConfig=other)
        ),
        "logs:DeleteLogGroup": _refused(lambda: logs.delete_log_group(logGroupName=invocation_logging.LOG_GROUP)),
        "logs:PutRetentionPolicy": _refused(
            lambda: logs.put_retention_policy(logGroupName=invocation_logging.LOG_GROUP, retentionInDays=1)
        ),
        "iam:PutRolePolicy": _refused(
            lambda: iam.put_role_policy(
                RoleName=invocation_logging.ROLE_NAME,
                PolicyName="WriteInvocationLogs",
                PolicyDocument=json.dumps(writes),
            )
        ),
    }
    # THEN each is refused by the SCPs, naming the action
    for action, message in refusals.items():
        assert f"perform: {action}" in message and "explicit deny in a service control policy" in message, message
    # AND what it refused is still in place
    config = member.client("bedrock").get_model_invocation_logging_configuration()["loggingConfig"]
    assert config == invocation_logging.intended_config(account)
    # AND the controls: the same admin reads the configuration and manages a log group of its own (the SCPs, not its
    # identity, refused the above), and the platform's access role may write the configuration
    assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == config
    logs.create_log_group(logGroupName="/team/app")
    logs.put_retention_policy(logGroupName="/team/app", retentionInDays=1)
    logs.delete_log_group(logGroupName="/team/app")
    member.client("bedrock").put_model_invocation_logging_configuration(loggingConfig=config)


def test_a_team_role_cannot_break_the_usage_forwarding_the_platform_can(vended: dict[str, Any]) -> None:
    """The live meter's forwarding (vending.usage_forwarding), made as Bootstrap makes it (the access role, IAM
    enforced): a team's admin cannot delete, disable, repattern or retarget the rule, nor pass its role to a rule of
    its own, nor forge an aws.* state change; the events of the account are delivered to the platform's bus."""
    from landing_zone.local.state_change_events import DELIVERIES
    from vending.usage_forwarding import FORWARDING_RULE, ROLE_NAME, ensure_usage_forwarding, platform_bus_arn

    account, member = vended["account_id"], vended["member"]
    bus = platform_bus_arn(REGION, vended["management"], Settings.from_env().event_bus_name)
    ensure_usage_forwarding(
        lambda r: member.client("events", region_name=r),
        member.client("iam"),
        account,
        REGIONS,
        bus,
        cached_layout().organization.allowed_regions,
    )
    team = _team_admin(vended)
    events = team.client("events")
    role = f"arn:aws:iam::{account}:role/{ROLE_NAME}"
    refusals = {
        "events:DeleteRule": _refused(lambda: events.delete_rule(Name=FORWARDING_RULE, Force=True)),
        "events:DisableRule": _refused(lambda: events.disable_rule(Name=FORWARDING_RULE)),
        "events:PutRule": _refused(lambda: events.put_rule(Name=FORWARDING_RULE, EventPattern='{"source":["x"]}')),
        "events:PutTargets": _refused(
            lambda: events.put_targets(Rule=FORWARDING_RULE, Targets=[{"Id": "platform-meter", "Arn": bus}])
        ),
        "events:RemoveTargets": _refused(lambda: events.remove_targets(Rule=FORWARDING_RULE, Ids=["platform-meter"])),
    }
    events.put_rule(Name="team-rule", EventPattern='{"source":["team.app"]}')
    refusals["iam:PassRole"] = _refused(
        lambda: events.put_targets(Rule="team-rule", Targets=[{"Id": "t", "Arn": bus, "RoleArn": role}])
    )
    for action, message in refusals.items():
        assert f"perform: {action}" in message and "explicit deny in a service control policy" in message, message
    # AND a forged state change is refused by EventBridge itself (only AWS puts aws.* sources)
    forged = events.put_events(
        Entries=[{"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification", "Detail": "{}"}]
    )
    assert forged["Entries"][0].get("ErrorCode") == "NotAuthorizedForSourceException"
    # AND the controls: the team's own rule (no role) is its to change and delete; the access role may disable and
    # enable the forwarding rule
    events.put_targets(Rule="team-rule", Targets=[{"Id": "t", "Arn": bus}])
    events.remove_targets(Rule="team-rule", Ids=["t"])
    events.delete_rule(Name="team-rule")
    member.client("events").disable_rule(Name=FORWARDING_RULE)
    member.client("events").enable_rule(Name=FORWARDING_RULE)
    # AND the account's state changes reach the platform's bus as the role (IAM and SCPs decided as AWS would)
    DELIVERIES.reset()
    ec2 = member.client("ec2")
    [instance] = ec2.run_instances(ImageId=vended["image"], InstanceType="t3.micro", MinCount=1, MaxCount=1)[
        "Instances"
    ]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    assert DELIVERIES.failed == [] and DELIVERIES.delivered == 4


def test_a_team_role_cannot_remove_or_rewrite_a_mandatory_tag_through_any_tagging_call(vended: dict[str, Any]) -> None:
    """The cost-tag fence after create (DenyRemovingMandatoryTags, DenyChangingMandatoryTags) as AWS decides it: EC2
    names the resources of CreateTags/DeleteTags by id and DeleteTags its keys in `Tags`; CloudWatch Logs'
    UntagLogGroup lists its keys in `tags`; DeleteTags without keys deletes every tag and carries no aws:TagKeys
    (DenyRemovingEveryTag); every tagging call is decided on the resource's own tags (aws:ResourceTag). Each shape
    reaches the SCP with the keys and tags AWS would put in its request context."""
    member, team = vended["member"], _team_admin(vended)
    keys = list(cached_layout().organization.mandatory_tags)
    first, tags = keys[0], {key: "platform-set" for key in keys}
    # GIVEN resources the platform made with every mandatory tag (an instance, a log group, a topic)
    [instance] = member.client("ec2").run_instances(
        ImageId=vended["image"],
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )["Instances"]
    instance_id, group = instance["InstanceId"], "/team/tag-fence"
    member.client("logs").create_log_group(logGroupName=group, tags=tags)
    group_arn = f"arn:aws:logs:{REGION}:{vended['account_id']}:log-group:{group}"
    topic = member.client("sns").create_topic(Name="tag-fence", Tags=[{"Key": k, "Value": v} for k, v in tags.items()])[
        "TopicArn"
    ]
    ec2, logs, sns = team.client("ec2"), team.client("logs"), team.client("sns")
    rewrite = [{"Key": first, "Value": "team-set"}]
    # WHEN a team's admin removes or rewrites a mandatory tag, through each shape of tagging call
    refusals = {
        ("ec2:DeleteTags", "keys in Tags"): _refused(
            lambda: ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": first}])
        ),
        ("ec2:DeleteTags", "no keys: every tag"): _refused(lambda: ec2.delete_tags(Resources=[instance_id])),
        ("ec2:CreateTags", "rewrite"): _refused(lambda: ec2.create_tags(Resources=[instance_id], Tags=rewrite)),
        ("logs:UntagLogGroup", "keys in tags"): _refused(
            lambda: logs.untag_log_group(logGroupName=group, tags=[first])
        ),
        ("logs:UntagResource", "tagKeys"): _refused(
            lambda: logs.untag_resource(resourceArn=group_arn, tagKeys=[first])
        ),
        ("logs:TagResource", "rewrite"): _refused(
            lambda: logs.tag_resource(resourceArn=group_arn, tags={first: "team-set"})
        ),
        ("sns:UntagResource", "TagKeys"): _refused(lambda: sns.untag_resource(ResourceArn=topic, TagKeys=[first])),
        ("sns:TagResource", "rewrite"): _refused(lambda: sns.tag_resource(ResourceArn=topic, Tags=rewrite)),
    }
    # THEN each is refused by the SCPs, naming the action
    for (action, shape), message in refusals.items():
        assert f"perform: {action}" in message and "explicit deny in a service control policy" in message, (
            shape,
            message,
        )
    # AND the tags are as the platform set them
    described = member.client("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])["Tags"]
    assert {t["Key"]: t["Value"] for t in described} == tags
    assert member.client("logs").list_tags_for_resource(resourceArn=group_arn)["tags"] == tags
    listed = member.client("sns").list_tags_for_resource(ResourceArn=topic)["Tags"]
    assert {t["Key"]: t["Value"] for t in listed} == tags
    # AND the controls: a tag that is not mandatory is the team's to add and remove on the same resources (the keys,
    # not the calls, are fenced), and the platform may rewrite a mandatory one
    ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "scratch", "Value": "1"}])
    ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": "scratch"}])
    logs.tag_resource(resourceArn=group_arn, tags={"scratch": "1"})
    logs.untag_log_group(logGroupName=group, tags=["scratch"])
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "scratch", "Value": "1"}])
    sns.untag_resource(ResourceArn=topic, TagKeys=["scratch"])
    member.client("ec2").create_tags(Resources=[instance_id], Tags=rewrite)
    member.client("ec2").terminate_instances(InstanceIds=[instance_id])
    member.client("logs").delete_log_group(logGroupName=group)
    member.client("sns").delete_topic(TopicArn=topic)


def test_a_team_role_cannot_take_the_ci_boundary_off_a_role_it_made(vended: dict[str, Any]) -> None:
    """AWS puts the boundary a role carries now in iam:PermissionsBoundary for a delete of it (and for every other
    action on the role that has the key), not the requested one: a fence that reads "the boundary is not the CI one"
    passes the removal of the CI boundary itself. KeepBoundaryOnRoles refuses it whatever the boundary."""
    from scps import catalog

    account, member, team = vended["account_id"], vended["member"], _team_admin(vended)
    boundary = f"arn:aws:iam::{account}:policy/{catalog.CI_BOUNDARY_NAME}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam = team.client("iam")
    # GIVEN a role the team's admin made, carrying the CI boundary (the stage fence lets it make no other)
    iam.create_role(RoleName="team-app", AssumeRolePolicyDocument=json.dumps(trust), PermissionsBoundary=boundary)
    # WHEN it takes the boundary off THEN the SCPs refuse it, and the role still carries the boundary
    message = _refused(lambda: iam.delete_role_permissions_boundary(RoleName="team-app"))
    assert "perform: iam:DeleteRolePermissionsBoundary" in message and "service control policy" in message, message
    assert iam.get_role(RoleName="team-app")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    # AND the boundary itself cannot be rewritten: IAM's policy operations are authorized on the policy their
    # PolicyArn names (not on policy/*, which no fence naming the boundary matches)
    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    for action, call in (
        (
            "iam:CreatePolicyVersion",
            lambda: iam.create_policy_version(PolicyArn=boundary, PolicyDocument=document, SetAsDefault=True),
        ),
        ("iam:DeletePolicy", lambda: iam.delete_policy(PolicyArn=boundary)),
    ):
        message = _refused(call)
        assert f"perform: {action} on resource: {boundary}" in message and "service control policy" in message, message
    assert len(iam.list_policy_versions(PolicyArn=boundary)["Versions"]) == 1
    # AND the controls: the team's admin may still work on the role (an inline policy, a description), and the
    # platform's access role may take the boundary off
    iam.update_role_description(RoleName="team-app", Description="the team's app role")
    member.client("iam").delete_role_permissions_boundary(RoleName="team-app")
    assert "PermissionsBoundary" not in member.client("iam").get_role(RoleName="team-app")["Role"]
    member.client("iam").delete_role(RoleName="team-app")


def test_a_t3_applies_as_the_team_roles_and_after_quarantine_only_the_platform_teardown_destroys_it(
    vended: dict[str, Any], tmp_path: Path
) -> None:
    """The clean twin of the GPU case: a t3.micro applies as the team's roles with no denial. Then a decommission
    quarantines the account: the team's roles may do nothing any more (so GitHub's jobs cannot either), and the
    stack's teardown runs as the access role (runs_as="platform"). Quarantine is for good: this test runs last."""
    name = "probe-t3-micro-team"
    before = len(DECISIONS.denials)
    applied = _run(vended, tmp_path / "apply", "t3.micro", "team", name=name)
    assert applied.ok, f"{applied.message}\n{applied.stages[-1].output_tail}"
    assert DECISIONS.denials[before:] == []

    quarantine_account(boto3.Session(region_name=REGION).client("organizations"), cached_layout(), vended["account_id"])
    before = len(DECISIONS.denials)
    refused = _run(vended, tmp_path / "team", "t3.micro", "team", name=name, destroy=True)
    assert not refused.ok and refused.failed_stage in {"init", "plan"}, refused.message
    assert DECISIONS.denials[before:]
    assert all("service control policy" in d.message for d in DECISIONS.denials[before:]), DECISIONS.denials[before:]
    torn_down = _run(vended, tmp_path / "platform", "t3.micro", "platform", name=name, destroy=True)
    assert torn_down.ok, f"{torn_down.message}\n{torn_down.stages[-1].output_tail}"
    assert torn_down.plan_summary["destroy"] == 1
