"""The live meter: what each team's account runs, priced per hour and per day, minutes after it runs.

Cost Explorer trails usage by up to a day; the meter prices what it sees directly instead:
- GPU instance-hours from the recorded EC2 and SageMaker state-change events (vending.spend.usage), the EC2 and
  endpoint instance types looked up in the member account (DescribeInstances, DescribeEndpoint(Config)) once each;
- Bedrock tokens from the `AWS/Bedrock` CloudWatch metrics `InputTokenCount`/`OutputTokenCount` per `ModelId` in each
  of the team's regions, at one-minute resolution so any window ending at `at` is exact
  (https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring.html#runtime-cloudwatch-metrics);
- prices from the snapshot (vending.spend.prices). Usage without a price is listed as unpriced, never as $0.

`clients_for(account_id, service, region)` is a boto3 client in the member account (`member_clients` builds one
through the account's access role, like the quota and budget steps reach it). `fence_reader` binds it all for the
SpendFence function (vending.spend.interval).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vending.aws.sessions import access_role_arn, assume_role_session
from vending.lifecycle import RETIRED, RequestRecord
from vending.spend.prices import PriceBook
from vending.spend.reading import SpendReading
from vending.spend.usage import Interval, UsageStore, intervals

ClientsFor = Callable[[str, str, str], Any]
HOURS = 24  # the sparkline's length
BEDROCK_NAMESPACE = "AWS/Bedrock"
TOKEN_METRICS = {"input": "InputTokenCount", "output": "OutputTokenCount"}
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class LiveMeter:
    """A reading with what `vend costs --live` shows beside it."""

    reading: SpendReading
    unpriced: dict[str, float]  # today's usage without a price: "<source> (<unit>)" -> quantity
    hourly: list[float]  # priced USD of each of the 24 hours ending at `at`, oldest first
    top_sources: list[tuple[str, float]] = field(default_factory=list)  # today's, largest first


@dataclass
class _Usage:
    """One account's usage over the day, ready to price over any window ending by `at`."""

    intervals: list[Interval]
    tokens: dict[tuple[str, str, str], list[tuple[datetime, float]]]  # (region, model, input|output) -> minutes


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def member_clients(sts: Any, role_name: str, session_name: str = "vending-meter") -> ClientsFor:
    """clients_for through each account's access role; one assumed session per account and region."""
    sessions: dict[tuple[str, str], Any] = {}

    def clients_for(account_id: str, service: str, region: str) -> Any:
        key = (account_id, region)
        if key not in sessions:
            sessions[key] = assume_role_session(sts, access_role_arn(account_id, role_name), session_name, region)
        return sessions[key].client(service, region_name=region)

    return clients_for


def _metered(records: Iterable[RequestRecord]) -> list[RequestRecord]:
    return [r for r in records if r.account_id and r.status not in RETIRED]


def _regions(record: RequestRecord) -> list[str]:
    return list(record.request.get("regions") or [])


# --- instance types ----------------------------------------------------------------------------------------------


def _ec2_types(ec2: Any, ids: list[str]) -> dict[str, str]:
    # A filter (not InstanceIds) so an id EC2 no longer lists is simply absent instead of failing the whole call.
    found: dict[str, str] = {}
    pages = ec2.get_paginator("describe_instances").paginate(Filters=[{"Name": "instance-id", "Values": ids}])
    for page in pages:
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                found[instance["InstanceId"]] = instance["InstanceType"]
    return found


def _endpoint_type(sagemaker: Any, interval: Interval) -> str:
    """The instance type of an endpoint's configuration (the event names it; DescribeEndpoint if it did not)."""
    try:
        config = interval.config or sagemaker.describe_endpoint(EndpointName=interval.resource)["EndpointConfigName"]
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    except ClientError:
        return ""  # deleted since: its usage stays unpriced and says so
    types = {v.get("InstanceType", "") for v in variants}
    return types.pop() if len(types) == 1 else ""


def _with_types(
    found: list[Interval],
    account_id: str,
    usage: UsageStore,
    clients_for: ClientsFor,
    known: dict[tuple[str, str], str],
) -> list[Interval]:
    """Fill in the instance type of EC2 instances and endpoints, looked up once and remembered in the usage table
    (`known`: what was looked up before)."""
    known = dict(known)
    missing: dict[tuple[str, str], dict[str, Interval]] = {}
    for i in found:
        if not i.instance_type and (i.kind, i.resource) not in known:
            missing.setdefault((i.kind, i.region), {})[i.resource] = i
    for (kind, region), resources in missing.items():
        if kind == "ec2":
            looked = _ec2_types(clients_for(account_id, "ec2", region), sorted(resources))
        else:
            sagemaker = clients_for(account_id, "sagemaker", region)
            looked = {name: _endpoint_type(sagemaker, i) for name, i in resources.items()}
        for resource, instance_type in looked.items():
            if instance_type:
                usage.remember_type(account_id, kind, resource, instance_type)
                known[(kind, resource)] = instance_type
    return [
        i if i.instance_type else Interval(**{**i.__dict__, "instance_type": known.get((i.kind, i.resource), "")})
        for i in found
    ]


# --- Bedrock tokens ----------------------------------------------------------------------------------------------


def _bedrock_models(cloudwatch: Any) -> set[str]:
    models: set[str] = set()
    for metric in TOKEN_METRICS.values():
        pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace=BEDROCK_NAMESPACE, MetricName=metric)
        for page in pages:
            for m in page.get("Metrics", []):
                dims = {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}
                if set(dims) == {"ModelId"}:
                    models.add(dims["ModelId"])
    return models


def _bedrock_tokens(
    cloudwatch: Any, region: str, start: datetime, end: datetime
) -> dict[tuple[str, str, str], list[tuple[datetime, float]]]:
    models = sorted(_bedrock_models(cloudwatch))
    if not models:
        return {}
    queries, keys = [], {}
    for n, model in enumerate(models):
        for direction, metric in TOKEN_METRICS.items():
            qid = f"m{n}{direction}"
            keys[qid] = (region, model, direction)
            queries.append(
                {
                    "Id": qid,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": BEDROCK_NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": [{"Name": "ModelId", "Value": model}],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
            )
    out: dict[tuple[str, str, str], list[tuple[datetime, float]]] = {}
    for at in range(0, len(queries), 500):  # GetMetricData takes at most 500 queries
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries[at : at + 500], StartTime=start, EndTime=end
        )
        for page in pages:
            for result in page.get("MetricDataResults", []):
                points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                out.setdefault(keys[result["Id"]], []).extend((_utc(t), float(v)) for t, v in points)
    return out


# --- pricing -----------------------------------------------------------------------------------------------------


def _price(
    usage: _Usage, prices: PriceBook, start: datetime, end: datetime
) -> tuple[dict[str, float], dict[str, float]]:
    """(priced USD by source, unpriced quantity by source) in [start, end)."""
    priced: dict[str, float] = {}
    unpriced: dict[str, float] = {}
    for i in usage.intervals:
        hours = i.hours_within(start, end) * i.count
        if hours <= 0:
            continue
        service = "ec2" if i.kind == "ec2" else "sagemaker"
        rate = prices.hourly(service, i.region, i.instance_type) if i.instance_type else None
        name = f"{service}:{i.instance_type or i.resource + ' (type unknown)'}"
        if rate is None:
            unpriced[f"{name} ({i.region}, instance-hours)"] = (
                unpriced.get(f"{name} ({i.region}, instance-hours)", 0) + hours
            )
        else:
            priced[name] = priced.get(name, 0.0) + hours * rate
    for (region, model, direction), points in usage.tokens.items():
        tokens = sum(v for t, v in points if start <= t < end)
        if tokens <= 0:
            continue
        token_price = prices.tokens(region, model)
        name = f"bedrock:{model}"
        if token_price is None:
            key = f"{name} ({region}, {direction} tokens)"
            unpriced[key] = unpriced.get(key, 0) + tokens
        else:
            rate = token_price.input_per_1k if direction == "input" else token_price.output_per_1k
            priced[name] = priced.get(name, 0.0) + tokens / 1000 * rate
    return priced, unpriced


def _account_usage(
    record: RequestRecord, clients_for: ClientsFor, usage: UsageStore, start: datetime, at: datetime
) -> _Usage:
    account_id = str(record.account_id)
    events, known = usage.account(account_id)
    found = [i for i in intervals(events, at) if i.end is None or i.end > start]
    tokens: dict[tuple[str, str, str], list[tuple[datetime, float]]] = {}
    for region in _regions(record):
        tokens.update(_bedrock_tokens(clients_for(account_id, "cloudwatch", region), region, start, at))
    return _Usage(_with_types(found, account_id, usage, clients_for, known), tokens)


def read_live(
    clients_for: ClientsFor,
    records: Iterable[RequestRecord],
    prices: PriceBook,
    usage: UsageStore,
    at: datetime,
    *,
    hours: int = HOURS,
) -> list[LiveMeter]:
    """One LiveMeter per team account: the reading at `at`, today's unpriced usage and the last `hours` hours (the
    sparkline; 0 for the fence, which needs only the last hour and the day: fewer metrics read)."""
    at = _utc(at)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    start = min(midnight, at - timedelta(hours=max(hours, 1)))
    out: list[LiveMeter] = []
    for record in _metered(records):
        used = _account_usage(record, clients_for, usage, start, at)
        hour, _ = _price(used, prices, at - timedelta(hours=1), at)
        day, unpriced = _price(used, prices, midnight, at)
        hourly = [
            round(sum(_price(used, prices, at - timedelta(hours=h), at - timedelta(hours=h - 1))[0].values()), 4)
            for h in range(hours, 0, -1)
        ]
        reading = SpendReading(
            team=record.team,
            stage=record.stage,
            account_id=str(record.account_id),
            request_id=record.request_id,
            at=at,
            hour_usd=round(sum(hour.values()), 4),
            day_usd=round(sum(day.values()), 4),
            by_source={k: round(v, 4) for k, v in sorted(day.items())},
            unpriced={k: round(v, 4) for k, v in sorted(unpriced.items())},
        )
        top = sorted(reading.by_source.items(), key=lambda kv: -kv[1])
        out.append(LiveMeter(reading, dict(reading.unpriced), hourly, top))
    return out


def read_meter(
    clients_for: ClientsFor, records: Iterable[RequestRecord], prices: PriceBook, usage: UsageStore, at: datetime
) -> list[SpendReading]:
    """The readings the fence acts on: per team account, last hour's and today's priced usage up to `at`."""
    return [m.reading for m in read_live(clients_for, records, prices, usage, at, hours=0)]


def fence_reader(ctx: Any) -> Callable[[list[RequestRecord], datetime], list[SpendReading]]:
    """read_meter bound to one invocation's clients (a vending.context.Context: its sts and dynamodb clients, its
    settings and layout), as the spend fence reads it every interval."""
    clients_for = member_clients(ctx.client("sts"), ctx.layout.organization.access_role_name, "vending-meter-fence")
    usage = UsageStore(ctx.client("dynamodb"), ctx.settings.usage_table)
    prices = PriceBook.load()

    def read(records: list[RequestRecord], at: datetime) -> list[SpendReading]:
        return read_meter(clients_for, records, prices, usage, at)

    return read


def sparkline(values: list[float]) -> str:
    """▁ for nothing, █ for the largest hour; one character per hour."""
    top = max(values, default=0.0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[0] if v <= 0 else SPARK[max(1, round(v / top * (len(SPARK) - 1)))] for v in values)
