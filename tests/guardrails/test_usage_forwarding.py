"""The live meter's usage forwarding as AWS runs it (issue 24): the member account's rule targets the platform's bus as
the VendUsageForwarding role; the emulator delivers only what AWS would deliver (decided as the role, against its
policy, the account's SCPs and the bus's policy), a team cannot break the rule or use the role (the SCPs, each probe
with the statement removed as its negative control), and the audit reports the forwarding off or changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from landing_zone.local.images import amazon_image
from landing_zone.local.state_change_events import (
    DELIVERIES,
    aws_sources_are_reserved,
    cross_account_events_keep_their_envelope,
    state_change_events,
    targets_get_the_whole_event,
)
from scps.render import render
from tests.guardrails.conftest import policy_id, record_for, vend_account
from vending.exceptions import AccessRoleNotReady, BootstrapFailed, UsageEventInvalid
from vending.guardrails.audit import audit_organization, member_sessions
from vending.guardrails.effective import PROBES, allowed, intended_levels
from vending.guardrails.intent import build_intent, layout_for_records
from vending.guardrails.reconcile import reconcile_organization
from vending.layout import Layout
from vending.preflight import Status, check_platform_region_allowed
from vending.spend.usage import parse_event
from vending.usage_forwarding import (
    FORWARDING_RULE,
    POLICY_NAME,
    ROLE_NAME,
    USAGE_EVENT_PATTERN,
    ensure_usage_forwarding,
    intended_target,
    platform_bus_arn,
    platform_bus_statement,
    role_policy,
    trust_policy,
)

PLATFORM_REGION = "us-east-1"
TEAM_REGIONS = ["us-west-2"]  # a team whose regions exclude the platform's
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def vended(org: Any, layout: Layout) -> dict[str, Any]:
    """team-backend's staging account, its SCPs as reconcile lays them down for a record in us-west-2 only, a session
    inside it, and the platform's bus (the management account's default bus, admitting the organization) -> a queue."""
    account = vend_account(org, layout, "team-backend", "staging")
    record = record_for(layout, "team-backend", "staging", account, regions=TEAM_REGIONS)
    reconcile_organization(org, layout, dry_run=False, records=[record])
    platform = boto3.client("sts", region_name=PLATFORM_REGION).get_caller_identity()["Account"]
    bus = platform_bus_arn(PLATFORM_REGION, platform, "default")
    events = boto3.client("events", region_name=PLATFORM_REGION)
    org_id = org.describe_organization()["Organization"]["Id"]
    events.put_permission(
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [platform_bus_statement(bus, org_id)]})
    )
    sqs = boto3.client("sqs", region_name=PLATFORM_REGION)
    url = sqs.create_queue(QueueName="usage")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="usage", EventPattern=json.dumps(USAGE_EVENT_PATTERN))
    events.put_targets(Rule="usage", Targets=[{"Id": "q", "Arn": queue}])
    inside = member_sessions(boto3.client("sts", region_name=PLATFORM_REGION), layout.organization.access_role_name)
    return {"account": account, "record": record, "session": inside(account), "bus": bus, "sqs": sqs, "url": url}


def _ensure(v: dict[str, Any], layout: Layout) -> list[str]:
    s = v["session"]
    return ensure_usage_forwarding(
        lambda r: s.client("events", region_name=r),
        s.client("iam"),
        v["account"],
        TEAM_REGIONS,
        v["bus"],
        layout.organization.allowed_regions,
    )


@pytest.fixture
def emulated() -> Iterator[None]:
    DELIVERIES.reset()
    with state_change_events(lambda: T0), cross_account_events_keep_their_envelope(), targets_get_the_whole_event():
        yield


def _launch(v: dict[str, Any]) -> list[dict[str, Any]]:
    """A p5 launched in the member's team region; what reached the platform's queue."""
    ec2 = v["session"].client("ec2", region_name=TEAM_REGIONS[0])
    image = amazon_image(ec2)
    ec2.run_instances(ImageId=image, InstanceType="p5.48xlarge", MinCount=1, MaxCount=1)
    messages = v["sqs"].receive_message(QueueUrl=v["url"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


# ---- Bootstrap's half ----


def test_forwarding_names_its_role_and_is_idempotent(org: Any, layout: Layout, vended: dict[str, Any]) -> None:
    # GIVEN a vended account WHEN the forwarding is ensured twice (a retried Bootstrap)
    _ensure(vended, layout)
    [arn] = _ensure(vended, layout)
    account, s = vended["account"], vended["session"]
    # THEN the rule's one target is the platform's bus, as the role
    assert arn == f"arn:aws:events:{TEAM_REGIONS[0]}:{account}:rule/{FORWARDING_RULE}"
    events = s.client("events", region_name=TEAM_REGIONS[0])
    assert events.list_targets_by_rule(Rule=FORWARDING_RULE)["Targets"] == [intended_target(account, vended["bus"])]
    # AND the role trusts only EventBridge for this account's forwarding rule, and may only put on the platform's bus
    role = s.client("iam").get_role(RoleName=ROLE_NAME)["Role"]
    assert role["AssumeRolePolicyDocument"] == trust_policy(account)
    assert trust_policy(account)["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:events:*:{account}:rule/{FORWARDING_RULE}"},
    }
    policy = s.client("iam").get_role_policy(RoleName=ROLE_NAME, PolicyName=POLICY_NAME)["PolicyDocument"]
    assert policy == role_policy(vended["bus"])


def test_forwarding_refused_when_the_platform_region_is_not_allowed(layout: Layout, vended: dict[str, Any]) -> None:
    # GIVEN an allow-list without the platform's region WHEN the forwarding is ensured THEN a clear error, nothing made
    s = vended["session"]
    with pytest.raises(BootstrapFailed, match=r"platform's region us-east-1 is not in organization\.allowed_regions"):
        ensure_usage_forwarding(
            lambda r: s.client("events", region_name=r),
            s.client("iam"),
            vended["account"],
            TEAM_REGIONS,
            vended["bus"],
            ("us-west-2", "eu-west-1"),
        )
    assert s.client("events", region_name=TEAM_REGIONS[0]).list_rules(NamePrefix=FORWARDING_RULE)["Rules"] == []
    assert [r for r in s.client("iam").list_roles()["Roles"] if r["RoleName"] == ROLE_NAME] == []
    # AND the preflight says so before the first deploy (and passes in an allowed region)
    assert check_platform_region_allowed(layout, "ap-south-1").status is Status.FAIL
    assert check_platform_region_allowed(layout, PLATFORM_REGION).status is Status.PASS


# ---- delivery as AWS decides it (the emulator) ----


def test_delivered_as_the_role_to_the_platform_region_outside_the_team_regions(
    layout: Layout, vended: dict[str, Any], emulated: None
) -> None:
    # GIVEN the forwarding of an account whose team regions exclude the platform's, under its real SCPs
    _ensure(vended, layout)
    # WHEN a p5 is launched in its region
    bodies = _launch(vended)
    # THEN its events reached the platform's queue in the member's name (the region fence exempts the role)
    assert [(b["account"], b["region"], b["detail"]["state"]) for b in bodies] == [
        (vended["account"], TEAM_REGIONS[0], "pending"),
        (vended["account"], TEAM_REGIONS[0], "running"),
    ]
    assert DELIVERIES.failed == [] and DELIVERIES.delivered == 2


def test_not_delivered_when_the_team_fence_does_not_exempt_the_role(
    org: Any, layout: Layout, vended: dict[str, Any], emulated: None
) -> None:
    # GIVEN the team policy as before the exemption (the negative control of the test above)
    _ensure(vended, layout)
    name = render(layout_for_records(layout, [vended["record"]])).team_policy("team-backend", "staging")
    assert name
    pid = policy_id(org, name)
    doc = json.loads(org.describe_policy(PolicyId=pid)["Policy"]["Content"])
    for statement in doc["Statement"]:
        if statement["Sid"] == "DenyOutsideTeamRegions":
            arns = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
            statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"] = [a for a in arns if ROLE_NAME not in a]
    org.update_policy(PolicyId=pid, Content=json.dumps(doc))
    # WHEN a p5 is launched THEN nothing reaches the platform: the SCP denied the role's PutEvents
    assert _launch(vended) == []
    assert len(DELIVERIES.failed) == 2 and DELIVERIES.delivered == 0
    assert "explicit deny in a service control policy" in DELIVERIES.failed[0].reason


def test_not_delivered_without_a_role_arn(layout: Layout, vended: dict[str, Any], emulated: None) -> None:
    # GIVEN the rule as the old code made it: the platform's bus as target, no RoleArn (the bus admits the org only)
    _ensure(vended, layout)
    events = vended["session"].client("events", region_name=TEAM_REGIONS[0])
    events.put_targets(Rule=FORWARDING_RULE, Targets=[{"Id": "platform-meter", "Arn": vended["bus"]}])
    # WHEN a p5 is launched THEN nothing is delivered, each event a failed invocation
    assert _launch(vended) == []
    assert [f.reason for f in DELIVERIES.failed] == ["a bus in another region is a target only with a RoleArn"] * 2


def test_not_delivered_without_a_role_arn_same_region_org_grant(
    layout: Layout, vended: dict[str, Any], emulated: None
) -> None:
    # GIVEN a forwarding rule in the platform's own region without RoleArn: only the organization admits it
    s = vended["session"]
    events = s.client("events", region_name=PLATFORM_REGION)
    events.put_rule(Name=FORWARDING_RULE, EventPattern=json.dumps(USAGE_EVENT_PATTERN))
    events.put_targets(Rule=FORWARDING_RULE, Targets=[{"Id": "platform-meter", "Arn": vended["bus"]}])
    ec2 = s.client("ec2", region_name=PLATFORM_REGION)
    image = amazon_image(ec2)
    ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    # THEN not delivered: an organization grant needs a role
    assert DELIVERIES.delivered == 0 and len(DELIVERIES.failed) == 2
    assert "does not admit account" in DELIVERIES.failed[0].reason


def test_not_delivered_when_the_roles_policy_is_removed(layout: Layout, vended: dict[str, Any], emulated: None) -> None:
    _ensure(vended, layout)
    vended["session"].client("iam").delete_role_policy(RoleName=ROLE_NAME, PolicyName=POLICY_NAME)
    assert _launch(vended) == []
    assert len(DELIVERIES.failed) == 2
    assert "events:PutEvents refused" in DELIVERIES.failed[0].reason
    assert "no identity-based policy allows" in DELIVERIES.failed[0].reason


def test_not_delivered_when_an_scp_denies(org: Any, layout: Layout, vended: dict[str, Any], emulated: None) -> None:
    _ensure(vended, layout)
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "events:PutEvents", "Resource": "*"}]}
    pid = org.create_policy(
        Name="deny-put-events", Description="test", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(deny)
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=pid, TargetId=vended["account"])
    assert _launch(vended) == []
    assert len(DELIVERIES.failed) == 2
    assert "explicit deny in a service control policy" in DELIVERIES.failed[0].reason


def test_a_teams_own_rule_cannot_use_the_role(layout: Layout, vended: dict[str, Any], emulated: None) -> None:
    # GIVEN a rule of the team's own (were it able to pass the role: the SCP denies that, see below) naming the role
    _ensure(vended, layout)
    events = vended["session"].client("events", region_name=TEAM_REGIONS[0])
    events.put_rule(Name="mine", EventPattern=json.dumps({"source": ["aws.ec2"]}))
    events.put_targets(Rule="mine", Targets=[intended_target(vended["account"], vended["bus"])])
    _launch(vended)
    # THEN the role's trust refuses EventBridge for that rule: only the forwarding rule's events are delivered
    assert DELIVERIES.delivered == 2
    assert [f.rule.rsplit("/", 1)[-1] for f in DELIVERIES.failed] == ["mine", "mine"]
    assert all("sts:AssumeRole refused" in f.reason for f in DELIVERIES.failed)


# ---- forged state changes ----


def test_moto_as_shipped_accepts_an_aws_source_and_the_patch_refuses_it(aws: None) -> None:
    events = boto3.client("events", region_name=PLATFORM_REGION)
    entries = [
        {"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification", "Detail": '{"state":"stopped"}'},
        {"Source": "team.app", "DetailType": "x", "Detail": "{}"},
    ]
    # GIVEN plain moto: the forged entry is accepted (the control)
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    # WHEN the emulator's patch is on THEN it is refused as AWS refuses it, the other entry kept in its place
    with aws_sources_are_reserved():
        answer = events.put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert "EventId" in answer["Entries"][1]


def test_record_usage_takes_only_aws_sources() -> None:
    event = {
        "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change Notification",
        "account": "111122223333",
        "region": "us-east-1",
        "time": "2026-12-03T09:00:00Z",
        "detail": {"instance-id": "i-1", "state": "stopped"},
    }
    assert parse_event(event).state == "stopped"
    for forged in ("team.app", "aws.sagemaker", None):
        with pytest.raises(UsageEventInvalid, match="from source"):
            parse_event({**event, "source": forged})


# ---- the SCPs: each probe denied to team roles, allowed to the platform, and only by its statement ----

FORWARDING_PROBES = {
    "usage forwarding rule deleted": "ProtectUsageForwarding",
    "usage forwarding rule disabled": "ProtectUsageForwarding",
    "usage forwarding rule repatterned": "ProtectUsageForwarding",
    "usage forwarding rule retargeted": "ProtectUsageForwarding",
    "usage forwarding rule untargeted": "ProtectUsageForwarding",
    "usage forwarding role passed": "ProtectUsageForwarding",
    "usage forwarding role rewritten": "ProtectPlatformRoles",
}


def _levels(layout: Layout, team: str, account: str, drop: str = "", **request: Any) -> list[list[Any]]:
    record = record_for(layout, team, "staging", account, **request)
    intent = build_intent(layout, [record]).get(account)
    assert intent is not None
    levels = intended_levels(render(layout_for_records(layout, [record])), intent)
    return [[{**d, "Statement": [s for s in d["Statement"] if s.get("Sid") != drop]} for d in docs] for docs in levels]


@pytest.mark.parametrize("team", ["team-frontend", "team-backend", "team-mlops"])
@pytest.mark.parametrize("name", sorted(FORWARDING_PROBES))
def test_forwarding_probe_denied_to_team_roles_and_only_by_its_statement(layout: Layout, team: str, name: str) -> None:
    account = "222233334444"
    probe = next(p for p in PROBES if p.name == name)
    assert not allowed(_levels(layout, team, account), probe, account, team)
    platform = probe.__class__(
        probe.name,
        probe.action,
        probe.resource,
        tuple(
            (k, f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole" if k == "aws:PrincipalArn" else v)
            for k, v in probe.context
        ),
    )
    assert allowed(_levels(layout, team, account), platform, account, team)
    # the negative control: without its statement the same probe passes
    assert allowed(_levels(layout, team, account, drop=FORWARDING_PROBES[name]), probe, account, team)


def test_the_forwarding_role_may_put_into_the_platform_region_only_by_its_exemption(layout: Layout) -> None:
    account = "222233334444"
    probe = next(p for p in PROBES if p.name == "usage forwarding role passed")
    put = probe.__class__(
        "forwarding put",
        "events:PutEvents",
        f"arn:aws:events:{PLATFORM_REGION}:111111111111:event-bus/default",
        (
            ("aws:PrincipalArn", f"arn:aws:iam::{account}:role/{ROLE_NAME}"),
            ("aws:RequestedRegion", PLATFORM_REGION),
        ),
    )
    levels = _levels(layout, "team-backend", account, regions=TEAM_REGIONS)
    assert allowed(levels, put, account, "team-backend")
    # the negative control: another role of the team, the same call, is fenced out of the platform's region
    other = (("aws:PrincipalArn", f"arn:aws:iam::{account}:role/x"), ("aws:RequestedRegion", PLATFORM_REGION))
    team_role = put.__class__(put.name, put.action, put.resource, other)
    assert not allowed(levels, team_role, account, "team-backend")


# ---- the audit ----


def _findings(org: Any, layout: Layout, v: dict[str, Any], sessions: Any = None) -> list[tuple[str, str]]:
    sessions = sessions or member_sessions(
        boto3.client("sts", region_name=PLATFORM_REGION), layout.organization.access_role_name
    )
    report = audit_organization(org, layout, records=[v["record"]], sessions_for=sessions, usage_bus_arn=v["bus"])
    return sorted((f.type, f.detail) for f in report.findings if f.type.startswith("usage_forwarding"))


def test_audit_usage_forwarding_clean(org: Any, layout: Layout, vended: dict[str, Any]) -> None:
    _ensure(vended, layout)
    sessions = member_sessions(boto3.client("sts", region_name=PLATFORM_REGION), layout.organization.access_role_name)
    report = audit_organization(
        org, layout, records=[vended["record"]], sessions_for=sessions, usage_bus_arn=vended["bus"]
    )
    assert [f for f in report.findings if f.type.startswith("usage_forwarding")] == []
    assert report.usage_forwarding == {"checked": 1, "findings": 0}


def _disable(events: Any, v: dict[str, Any]) -> None:
    events.disable_rule(Name=FORWARDING_RULE)


def _delete(events: Any, v: dict[str, Any]) -> None:
    events.remove_targets(Rule=FORWARDING_RULE, Ids=["platform-meter"])
    events.delete_rule(Name=FORWARDING_RULE)


def _retarget(events: Any, v: dict[str, Any]) -> None:
    other = v["bus"].replace(":event-bus/default", ":event-bus/elsewhere")
    events.put_targets(Rule=FORWARDING_RULE, Targets=[{**intended_target(v["account"], v["bus"]), "Arn": other}])


def _repattern(events: Any, v: dict[str, Any]) -> None:
    events.put_rule(Name=FORWARDING_RULE, EventPattern=json.dumps({"source": ["aws.sagemaker"]}))


def _drop_role_arn(events: Any, v: dict[str, Any]) -> None:
    events.put_targets(Rule=FORWARDING_RULE, Targets=[{"Id": "platform-meter", "Arn": v["bus"]}])


def _role_policy(events: Any, v: dict[str, Any]) -> None:
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:*", "Resource": "*"}]}
    v["session"].client("iam").put_role_policy(
        RoleName=ROLE_NAME, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wide)
    )


def _role_trust(events: Any, v: dict[str, Any]) -> None:
    trust = trust_policy(v["account"])
    del trust["Statement"][0]["Condition"]
    v["session"].client("iam").update_assume_role_policy(RoleName=ROLE_NAME, PolicyDocument=json.dumps(trust))


def _role_deleted(events: Any, v: dict[str, Any]) -> None:
    iam = v["session"].client("iam")
    iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName=POLICY_NAME)
    iam.delete_role(RoleName=ROLE_NAME)


R = TEAM_REGIONS[0]
PLANTED = {
    "disabled": (_disable, "usage_forwarding_off", f"{R}: rule {FORWARDING_RULE} is DISABLED"),
    "deleted": (_delete, "usage_forwarding_off", f"{R}: rule {FORWARDING_RULE} is missing"),
    "retargeted": (_retarget, "usage_forwarding_drift", f"{R}: rule {FORWARDING_RULE}'s targets are"),
    "repatterned": (_repattern, "usage_forwarding_drift", f"{R}: rule {FORWARDING_RULE}'s pattern is"),
    "role arn dropped": (_drop_role_arn, "usage_forwarding_drift", f"{R}: rule {FORWARDING_RULE}'s targets are"),
    "role policy": (_role_policy, "usage_forwarding_drift", f"role {ROLE_NAME}'s policy {POLICY_NAME} differs"),
    "role trust": (_role_trust, "usage_forwarding_drift", f"role {ROLE_NAME} trusts other than EventBridge"),
    "role deleted": (_role_deleted, "usage_forwarding_drift", f"role {ROLE_NAME} or its policy {POLICY_NAME} is"),
}


@pytest.mark.parametrize("fault", sorted(PLANTED))
def test_audit_reports_each_planted_fault(org: Any, layout: Layout, vended: dict[str, Any], fault: str) -> None:
    # GIVEN a clean forwarding (no findings) WHEN one fault is planted THEN the audit reports exactly it
    _ensure(vended, layout)
    assert _findings(org, layout, vended) == []
    plant, kind, detail = PLANTED[fault]
    plant(vended["session"].client("events", region_name=R), vended)
    found = _findings(org, layout, vended)
    assert len(found) == 1 and found[0][0] == kind and found[0][1].startswith(detail), found
    assert found[0][1].endswith("(team-backend-staging)")
    # AND the next Bootstrap / change converges it back
    _ensure(vended, layout)
    assert _findings(org, layout, vended) == []


def test_audit_usage_forwarding_unreadable(org: Any, layout: Layout, vended: dict[str, Any]) -> None:
    def denied(account_id: str) -> Any:
        raise AccessRoleNotReady(f"cannot assume arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole")

    assert _findings(org, layout, vended, denied) == [
        (
            "usage_forwarding_unreadable",
            f"cannot read usage forwarding: cannot assume arn:aws:iam::{vended['account']}:role/"
            "OrganizationAccountAccessRole",
        )
    ]


def test_audit_without_the_bus_does_not_check_forwarding(org: Any, layout: Layout, vended: dict[str, Any]) -> None:
    sessions = member_sessions(boto3.client("sts", region_name=PLATFORM_REGION), layout.organization.access_role_name)
    report = audit_organization(org, layout, records=[vended["record"]], sessions_for=sessions)
    assert report.usage_forwarding is None
