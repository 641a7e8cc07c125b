"""The emulator's EC2 and SageMaker state-change events (landing_zone/local/state_change_events.py), which moto does
not emit: plain moto puts nothing on the bus (the control), the patch puts what AWS would, and the usage capture and
the meter price what the patch emitted."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from landing_zone.local.images import amazon_image
from landing_zone.local.patching import MotoChanged
from landing_zone.local.sagemaker import current_endpoint_instance_types
from landing_zone.local.state_change_events import state_change_events
from vending.lifecycle import RequestRecord, Status
from vending.spend.meter import read_live
from vending.spend.prices import PriceBook
from vending.spend.usage import UsageStore, record_event, usage_table_definition

ACCOUNT = "123456789012"
REGION = "us-east-1"
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def captured(aws: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    """The events a rule on the default bus matches for aws.ec2 and aws.sagemaker (the pattern of the member accounts'
    forwarding rule), as the rule hands them to its targets. Read at the rule, not through a queue target: moto's
    default input template drops the event's `account`, which AWS delivers and the usage capture keys on."""
    from moto.events.models import Rule

    seen: list[dict[str, Any]] = []
    original = Rule.send_to_targets

    def spy(self: Any, event: Any, transform_input: bool = True) -> None:
        if self.name == "state-changes" and self.event_pattern.matches_event(event):
            delivered = json.loads(json.dumps(event))
            # moto keeps the time as epoch seconds until a target formats it; AWS delivers ISO 8601
            delivered["time"] = datetime.fromtimestamp(float(delivered["time"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            seen.append(delivered)
        original(self, event, transform_input)

    monkeypatch.setattr(Rule, "send_to_targets", spy)
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="state-changes", EventPattern=json.dumps({"source": ["aws.ec2", "aws.sagemaker"]}))

    def drain() -> list[dict[str, Any]]:
        out = list(seen)
        seen.clear()
        return out

    return drain


def launch(instance_type: str = "p5.48xlarge") -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = amazon_image(ec2)
    return str(
        ec2.run_instances(ImageId=image, InstanceType=instance_type, MinCount=1, MaxCount=1)["Instances"][0][
            "InstanceId"
        ]
    )


def states(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"].get("state") or e["detail"].get("EndpointStatus") for e in events]


def test_moto_as_shipped_emits_no_state_change_event(captured: Callable[[], list[dict[str, Any]]]) -> None:
    # GIVEN plain moto WHEN an instance is launched, stopped and terminated THEN nothing reaches the bus: the control
    # that shows the events below come from the patch (drop it once moto emits them)
    instance = launch()
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.stop_instances(InstanceIds=[instance])
    ec2.terminate_instances(InstanceIds=[instance])
    assert captured() == []


def test_instance_lifecycle_emits_the_aws_events(captured: Callable[[], list[dict[str, Any]]]) -> None:
    clock = Clock()
    ec2 = boto3.client("ec2", region_name=REGION)
    with state_change_events(clock):
        instance = launch()
        first = captured()
        clock.now += timedelta(minutes=30)
        ec2.stop_instances(InstanceIds=[instance])
        ec2.start_instances(InstanceIds=[instance])
        ec2.terminate_instances(InstanceIds=[instance])
        rest = captured()
    assert states(first) == ["pending", "running"]
    assert states(rest) == ["stopping", "stopped", "pending", "running", "shutting-down", "terminated"]
    event = first[1]
    assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
        "aws.ec2",
        "EC2 Instance State-change Notification",
        ACCOUNT,
        REGION,
    )
    assert event["detail"] == {"instance-id": instance, "state": "running"}
    assert event["resources"] == [f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}"]
    assert (first[0]["time"], rest[0]["time"]) == ("2026-12-03T09:00:00Z", "2026-12-03T09:30:00Z")
    # AND once the patch is gone moto is as shipped again
    launch()
    assert captured() == []


def test_endpoint_create_and_delete_emit_status_events(captured: Callable[[], list[dict[str, Any]]]) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    with current_endpoint_instance_types(), state_change_events(Clock()):
        sm.create_model(
            ModelName="m",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/sm",
            PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/llm:1"},
        )
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 2}
            ],
        )
        sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
        sm.delete_endpoint(EndpointName="e")
        events = captured()
    assert states(events) == ["IN_SERVICE", "DELETING"]
    assert events[0]["detail"]["EndpointConfigName"] == "c"
    assert events[0]["detail"]["ProductionVariants"][0]["CurrentInstanceCount"] == 2


def test_guard_refuses_a_moto_whose_signature_changed(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ec2.models.instances import InstanceBackend

    monkeypatch.setattr(InstanceBackend, "stop_instances", lambda self, instance_ids, force=False: [])
    with pytest.raises(MotoChanged, match="stop_instances"), state_change_events():
        pass


def test_meter_prices_what_the_emulator_emitted(captured: Callable[[], list[dict[str, Any]]]) -> None:
    # GIVEN a p5 launched at 09:00 and stopped at 10:30 on the emulator, its events recorded by the usage capture,
    # one of them delivered twice
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**usage_table_definition("usage"))
    usage, clock = UsageStore(ddb, "usage"), Clock()
    with state_change_events(clock):
        instance = launch()
        clock.now = T0 + timedelta(minutes=90)
        boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[instance])
    emitted = captured()
    recorded = [record_event(usage, e) for e in [*emitted, emitted[1]]]
    assert recorded == [True, True, True, True, False]
    record = RequestRecord(
        request_id="team-a-staging", team="team-a", stage="staging", status=Status.READY,
        request={"regions": [REGION]}, account_id=ACCOUNT,
    )  # fmt: skip
    # WHEN the meter reads at 11:00
    [meter] = read_live(
        lambda a, s, r: boto3.client(s, region_name=r), [record], PriceBook.load(), usage, T0 + timedelta(hours=2)
    )
    # THEN 1.5 p5 instance-hours today, half an hour of it in the last hour
    p5 = 55.04
    assert meter.reading.day_usd == pytest.approx(1.5 * p5)
    assert meter.reading.hour_usd == pytest.approx(0.5 * p5)


MEMBER = "111122223333"


def member_session() -> boto3.Session:
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole", RoleSessionName="member-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def platform_queue() -> tuple[Any, str]:
    """The platform's rule -> SQS queue (what RecordUsage consumes), in the default account."""
    from vending.usage_forwarding import USAGE_EVENT_PATTERN

    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="usage")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="usage", EventPattern=json.dumps(USAGE_EVENT_PATTERN))
    events.put_targets(Rule="usage", Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def member_launch(session: boto3.Session) -> str:
    ec2 = session.client("ec2")
    image = amazon_image(ec2)
    return str(
        ec2.run_instances(ImageId=image, InstanceType="p5.48xlarge", MinCount=1, MaxCount=1)["Instances"][0][
            "InstanceId"
        ]
    )


def test_moto_as_shipped_forwards_as_the_receiver_and_drops_the_account(aws: None) -> None:
    # GIVEN the member's forwarding rule and the platform's queue, plain moto apart from the emitted events
    from vending.usage_forwarding import ensure_usage_forwarding, platform_bus_arn

    sqs, url = platform_queue()
    member = member_session()
    ensure_usage_forwarding(
        lambda r: member.client("events", region_name=r),
        member.client("iam"),
        MEMBER,
        [REGION],
        platform_bus_arn(REGION, ACCOUNT, "default"),
        [REGION],
    )
    with state_change_events(Clock()):
        member_launch(member)
    # THEN the platform gets events without the member's account and stamped now, not at the event's time: the
    # control of the two patches below
    bodies = received(sqs, url)
    assert bodies and all("account" not in b for b in bodies)
    assert all(b["time"] != "2026-12-03T09:00:00Z" for b in bodies)


def test_forwarded_events_reach_the_platform_as_aws_delivers_them_and_are_metered(aws: None) -> None:
    from landing_zone.local.state_change_events import (
        cross_account_events_keep_their_envelope,
        targets_get_the_whole_event,
    )
    from vending.usage_forwarding import ensure_usage_forwarding, platform_bus_arn

    sqs, url = platform_queue()
    member = member_session()
    # GIVEN the Bootstrap's forwarding rule in the member account
    [rule] = ensure_usage_forwarding(
        lambda r: member.client("events", region_name=r),
        member.client("iam"),
        MEMBER,
        [REGION],
        platform_bus_arn(REGION, ACCOUNT, "default"),
        [REGION],
    )
    # AND the platform's bus admitting the member (by its id: this test's member is in no organization)
    boto3.client("events", region_name=REGION).put_permission(
        Action="events:PutEvents", Principal=MEMBER, StatementId="member"
    )
    assert rule == f"arn:aws:events:{REGION}:{MEMBER}:rule/vending-usage-forwarding"
    clock = Clock()
    with state_change_events(clock), cross_account_events_keep_their_envelope(), targets_get_the_whole_event():
        instance = member_launch(member)
        clock.now = T0 + timedelta(minutes=30)
        member.client("ec2").terminate_instances(InstanceIds=[instance])
        bodies = received(sqs, url)
    # THEN the platform's queue has the member's events, with the member's account and the events' own times
    assert [(b["account"], b["detail"]["state"], b["time"]) for b in bodies] == [
        (MEMBER, "pending", "2026-12-03T09:00:00Z"),
        (MEMBER, "running", "2026-12-03T09:00:00Z"),
        (MEMBER, "shutting-down", "2026-12-03T09:30:00Z"),
        (MEMBER, "terminated", "2026-12-03T09:30:00Z"),
    ]
    # AND recorded and metered in the member's name: half an hour of a p5
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**usage_table_definition("usage"))
    usage = UsageStore(ddb, "usage")
    assert all(record_event(usage, b) for b in bodies)
    record = RequestRecord(
        request_id="team-a-staging", team="team-a", stage="staging", status=Status.READY,
        request={"regions": [REGION]}, account_id=MEMBER,
    )  # fmt: skip

    def clients_for(account: str, service: str, region: str) -> Any:
        assert account == MEMBER
        return member.client(service, region_name=region)

    [meter] = read_live(clients_for, [record], PriceBook.load(), usage, T0 + timedelta(hours=1))
    assert meter.reading.day_usd == pytest.approx(0.5 * 55.04)


def test_whole_event_guard_refuses_a_changed_template(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.events.utils import EventTemplateParser

    from landing_zone.local.state_change_events import targets_get_the_whole_event

    monkeypatch.setattr(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", '{"id": "<id>", "account": "<account>"}')
    with pytest.raises(MotoChanged, match="DEFAULT_EVENT_INPUT_TEMPLATE"), targets_get_the_whole_event():
        pass


def test_a_target_moto_cannot_deliver_to_never_fails_the_call(captured: Callable[[], list[dict[str, Any]]]) -> None:
    # GIVEN a rule whose target moto cannot deliver to (a Lambda function), beside the capturing rule
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="a-lambda", EventPattern=json.dumps({"source": ["aws.ec2"]}))
    events.put_targets(Rule="a-lambda", Targets=[{"Id": "f", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"}])
    # WHEN an instance is launched THEN the launch succeeds and the other rule still gets its events
    with state_change_events(Clock()):
        launch()
    assert states(captured()) == ["pending", "running"]
