"""The live meter (vending.spend): state-change events recorded once and priced over any window, Bedrock tokens from
CloudWatch priced per model, unknown types reported unpriced, on moto in-process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from landing_zone.local.images import amazon_image
from tests.vending.conftest import REGION, load_event
from vending.exceptions import UsageEventInvalid
from vending.lifecycle import RequestRecord, Status
from vending.spend.meter import LiveMeter, read_live, read_meter, sparkline
from vending.spend.prices import PriceBook
from vending.spend.usage import UsageStore, intervals, parse_event, record_event, usage_table_definition

ACCOUNT = "123456789012"
USAGE_TABLE = "vending-usage"
P5 = 55.04  # the snapshot's us-east-1 p5.48xlarge
AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def ec2_event(instance: str, state: str, when: datetime, event_id: str | None = None) -> dict[str, Any]:
    event = load_event("ec2_instance_state_change")
    event.update(time=when.strftime("%Y-%m-%dT%H:%M:%SZ"), account=ACCOUNT, id=event_id or f"{instance}-{state}-{when}")
    event["detail"] = {"instance-id": instance, "state": state}
    return event


@pytest.fixture
def usage(ddb: Any) -> UsageStore:
    ddb.create_table(**usage_table_definition(USAGE_TABLE))
    return UsageStore(ddb, USAGE_TABLE)


@pytest.fixture
def prices() -> PriceBook:
    return PriceBook.load()


@pytest.fixture
def record() -> RequestRecord:
    return RequestRecord(
        request_id="team-mlops-staging",
        team="team-mlops",
        stage="staging",
        status=Status.READY,
        request={"regions": [REGION]},
        account_id=ACCOUNT,
    )


def clients_for(account_id: str, service: str, region: str) -> Any:
    assert account_id == ACCOUNT
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


@pytest.fixture
def p5(aws: None) -> str:
    """A p5.48xlarge in moto (the meter looks its type up by id)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    image = amazon_image(ec2)
    return str(
        ec2.run_instances(ImageId=image, InstanceType="p5.48xlarge", MinCount=1, MaxCount=1)["Instances"][0][
            "InstanceId"
        ]
    )


def live(usage: UsageStore, prices: PriceBook, record: RequestRecord, at: datetime = AT) -> LiveMeter:
    [meter] = read_live(clients_for, [record], prices, usage, at)
    return meter


def test_p5_running_90_minutes_across_an_hour_boundary(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, p5: str
) -> None:
    # GIVEN a p5 running since 10:30 (the events say only its id; the meter looks its type up)
    record_event(usage, ec2_event(p5, "pending", AT - timedelta(minutes=91)))
    record_event(usage, ec2_event(p5, "running", AT - timedelta(minutes=90)))
    # WHEN the meter reads at 12:00
    meter = live(usage, prices, record)
    # THEN the last hour is one instance-hour, today 1.5, and the two hours of the sparkline split it at 11:00
    assert meter.reading.hour_usd == pytest.approx(P5)
    assert meter.reading.day_usd == pytest.approx(1.5 * P5)
    assert meter.reading.by_source == {"ec2:p5.48xlarge": pytest.approx(1.5 * P5)}
    assert meter.hourly[-2:] == [pytest.approx(P5 / 2), pytest.approx(P5)] and not any(meter.hourly[:-2])
    assert meter.unpriced == {}
    assert sparkline(meter.hourly).endswith("▅█")


def test_start_stop_start_bills_only_the_running_spans(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, p5: str
) -> None:
    # GIVEN running 09:00-09:30, stopped, running again 11:40 until now
    for state, minute in (("running", 0), ("stopping", 30), ("stopped", 31), ("pending", 159), ("running", 160)):
        record_event(usage, ec2_event(p5, state, AT.replace(hour=9) + timedelta(minutes=minute)))
    meter = live(usage, prices, record)
    # THEN today is 30 + 20 minutes, the last hour 20 minutes
    assert meter.reading.day_usd == pytest.approx(P5 * 50 / 60, abs=1e-3)
    assert meter.reading.hour_usd == pytest.approx(P5 * 20 / 60, abs=1e-3)


def test_duplicate_and_out_of_order_events_price_as_in_order_ones(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, p5: str
) -> None:
    events = [ec2_event(p5, "running", AT.replace(hour=8)), ec2_event(p5, "stopping", AT.replace(hour=10))]
    # GIVEN the stop delivered first, then the start, then the start again (EventBridge delivers at least once)
    assert record_event(usage, events[1]) is True
    assert record_event(usage, events[0]) is True
    assert record_event(usage, events[0]) is False  # the redelivery changes nothing
    # ... and a second copy of the transition under another event id is still one transition
    assert record_event(usage, {**events[0], "id": "another-id"}) is False
    meter = live(usage, prices, record)
    # THEN two hours, counted once
    assert meter.reading.day_usd == pytest.approx(2 * P5)
    assert meter.reading.hour_usd == 0
    assert len(usage.events(ACCOUNT)) == 2


def test_reading_at_a_past_time_ignores_later_transitions(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, p5: str
) -> None:
    record_event(usage, ec2_event(p5, "running", AT.replace(hour=8)))
    record_event(usage, ec2_event(p5, "stopping", AT.replace(hour=10)))
    # WHEN read at 09:30 THEN it was still running then
    assert live(usage, prices, record, AT.replace(hour=9, minute=30)).reading.day_usd == pytest.approx(1.5 * P5)


def test_unknown_instance_type_is_reported_unpriced_not_zero(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, aws: None
) -> None:
    # GIVEN an instance of a type the snapshot has no price for, and one EC2 no longer knows at all
    ec2 = boto3.client("ec2", region_name=REGION)
    image = amazon_image(ec2)
    odd = ec2.run_instances(ImageId=image, InstanceType="p5.4xlarge", MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    record_event(usage, ec2_event(odd, "running", AT - timedelta(hours=2)))
    record_event(usage, ec2_event("i-0gone0000000000", "running", AT - timedelta(hours=1)))
    meter = live(usage, prices, record)
    # THEN nothing is priced, and both are listed with their instance-hours
    assert meter.reading.day_usd == 0 and meter.reading.by_source == {}
    assert meter.unpriced == {
        "ec2:p5.4xlarge (us-east-1, instance-hours)": pytest.approx(2.0),
        "ec2:i-0gone0000000000 (type unknown) (us-east-1, instance-hours)": pytest.approx(1.0),
    }


def test_looked_up_type_is_remembered(usage: UsageStore, prices: PriceBook, record: RequestRecord, p5: str) -> None:
    record_event(usage, ec2_event(p5, "running", AT - timedelta(hours=1)))
    live(usage, prices, record)
    # GIVEN the instance terminated and gone from EC2 THEN the meter still knows its type
    boto3.client("ec2", region_name=REGION).terminate_instances(InstanceIds=[p5])
    assert usage.known_types(ACCOUNT) == {("ec2", p5): "p5.48xlarge"}


def put_tokens(model: str, minute: datetime, input_tokens: float, output_tokens: float) -> None:
    cw = boto3.client("cloudwatch", region_name=REGION)
    cw.put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "ModelId", "Value": model}],
                "Timestamp": minute,
                "Value": value,
            }
            for name, value in (("InputTokenCount", input_tokens), ("OutputTokenCount", output_tokens))
        ],
    )


def test_bedrock_tokens_are_priced_per_model(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, aws: None
) -> None:
    # GIVEN Sonnet through the US profile 20 minutes ago, Haiku 3 hours ago, and a model the snapshot does not price
    sonnet, haiku = "us.anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"
    put_tokens(sonnet, AT - timedelta(minutes=20), 1_000_000, 200_000)
    put_tokens(haiku, AT - timedelta(hours=3), 500_000, 100_000)
    put_tokens("meta.llama3-70b-instruct-v1:0", AT - timedelta(minutes=5), 10_000, 1_000)
    meter = live(usage, prices, record)
    # THEN each at its own price per 1,000 tokens (Sonnet 0.003/0.015, Haiku 0.0008/0.004)
    sonnet_usd, haiku_usd = 1000 * 0.003 + 200 * 0.015, 500 * 0.0008 + 100 * 0.004
    assert meter.reading.by_source == {
        f"bedrock:{sonnet}": pytest.approx(sonnet_usd),
        f"bedrock:{haiku}": pytest.approx(haiku_usd),
    }
    assert meter.reading.hour_usd == pytest.approx(sonnet_usd)
    assert meter.reading.day_usd == pytest.approx(sonnet_usd + haiku_usd)
    assert meter.unpriced == {
        "bedrock:meta.llama3-70b-instruct-v1:0 (us-east-1, input tokens)": 10_000,
        "bedrock:meta.llama3-70b-instruct-v1:0 (us-east-1, output tokens)": 1_000,
    }


def test_negative_control_no_captured_events_reads_zero(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, p5: str
) -> None:
    # GIVEN a p5 running in the account but no event recorded (capture switched off): the meter cannot see it, and
    # this test says so: the meter prices what the capture recorded, nothing else
    meter = live(usage, prices, record)
    assert meter.reading.day_usd == 0 and meter.reading.hour_usd == 0
    # WHEN its running event is recorded THEN the same reading prices it
    record_event(usage, ec2_event(p5, "running", AT - timedelta(hours=1)))
    assert live(usage, prices, record).reading.hour_usd == pytest.approx(P5)


def test_read_meter_gives_one_reading_per_live_account(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, p5: str
) -> None:
    record_event(usage, ec2_event(p5, "running", AT - timedelta(hours=1)))
    closed = record.model_copy(update={"request_id": "team-old-staging", "status": Status.CLOSED})
    no_account = record.model_copy(update={"request_id": "team-new-staging", "account_id": None})
    [reading] = read_meter(clients_for, [record, closed, no_account], prices, usage, AT)
    assert (reading.team, reading.stage, reading.account_id, reading.request_id) == (
        "team-mlops",
        "staging",
        ACCOUNT,
        "team-mlops-staging",
    )
    assert reading.at == AT and reading.hour_usd == pytest.approx(P5)


def test_training_job_events_carry_their_type(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, aws: None
) -> None:
    def job(status: str, when: datetime) -> dict[str, Any]:
        event = load_event("sagemaker_training_job_state_change")
        event.update(time=when.strftime("%Y-%m-%dT%H:%M:%SZ"), account=ACCOUNT)
        event["detail"].update(
            TrainingJobStatus=status, ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 2}
        )
        return event

    record_event(usage, job("InProgress", AT - timedelta(hours=2)))
    record_event(usage, job("Completed", AT - timedelta(hours=1)))
    meter = live(usage, prices, record)
    assert meter.reading.by_source == {
        "sagemaker:ml.g5.xlarge": pytest.approx(2 * prices.hourly("sagemaker", REGION, "ml.g5.xlarge"))
    }  # type: ignore[operator]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update({"detail-type": "EC2 Spot Instance Interruption Warning"}),
        lambda e: e["detail"].pop("instance-id"),
        lambda e: e.update(time="yesterday"),
    ],
)
def test_bad_event_is_a_clear_error_and_records_nothing(
    usage: UsageStore, mutate: Callable[[dict[str, Any]], Any]
) -> None:
    event = ec2_event("i-1", "running", AT)
    mutate(event)
    with pytest.raises(UsageEventInvalid):
        record_event(usage, event)
    assert usage.events(ACCOUNT) == []


def test_recorded_payload_parses() -> None:
    # The recorded AWS example: pending is a transition the meter keeps but does not bill.
    parsed = parse_event(load_event("ec2_instance_state_change"))
    assert (parsed.kind, parsed.resource, parsed.state, parsed.time) == (
        "ec2",
        "i-abcd1111",
        "pending",
        "2015-11-11T21:29:54Z",
    )
    assert intervals([parsed], datetime(2016, 1, 1, tzinfo=UTC)) == []


def test_endpoint_events_priced_by_their_configuration(
    usage: UsageStore, prices: PriceBook, record: RequestRecord, aws: None
) -> None:
    from landing_zone.local.sagemaker import current_endpoint_instance_types

    # GIVEN an endpoint of two ml.g5.xlarge in service from 10:00 to 11:00, deleted since (its configuration stays)
    sm = boto3.client("sagemaker", region_name=REGION)
    with current_endpoint_instance_types():
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

    def endpoint(status: str, when: datetime) -> dict[str, Any]:
        event = ec2_event("unused", "running", when)
        event.update({"source": "aws.sagemaker", "detail-type": "SageMaker Endpoint State Change"})
        event["detail"] = {
            "EndpointName": "e",
            "EndpointConfigName": "c",
            "EndpointStatus": status,
            "ProductionVariants": [{"VariantName": "v", "CurrentInstanceCount": 2}],
        }
        return event

    record_event(usage, endpoint("IN_SERVICE", AT.replace(hour=10)))
    record_event(usage, endpoint("DELETING", AT.replace(hour=11)))
    meter = live(usage, prices, record)
    rate = prices.hourly("sagemaker", REGION, "ml.g5.xlarge")
    assert rate and meter.reading.by_source == {"sagemaker:ml.g5.xlarge": pytest.approx(2 * rate)}
    assert usage.known_types(ACCOUNT) == {("sagemaker-endpoint", "e"): "ml.g5.xlarge"}


def test_fence_reader_binds_the_meter_to_an_invocation(
    usage: UsageStore, record: RequestRecord, p5: str, layout: Any
) -> None:
    # GIVEN what the SpendFence handler passes: an invocation's context (clients, settings, layout)
    from types import SimpleNamespace

    from vending.spend.meter import fence_reader

    record_event(usage, ec2_event(p5, "running", AT - timedelta(hours=1)))
    ctx = SimpleNamespace(
        client=lambda name: boto3.client(name, region_name=REGION),
        settings=SimpleNamespace(usage_table=USAGE_TABLE),
        layout=layout,
    )
    # WHEN the fence reads the meter through it (the access role assumed in the account, as in AWS)
    [reading] = fence_reader(ctx)([record], AT)
    # THEN it gets the same reading
    assert (reading.request_id, reading.hour_usd) == ("team-mlops-staging", pytest.approx(P5))
