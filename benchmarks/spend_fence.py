"""The spend fence under a controlled clock (issue 24 item 4), read through the real meter: minutes from crossing a cap
to the freeze, false freezes over a generated week of ordinary usage per tier, and the meter's accuracy.

    .venv/bin/python benchmarks/spend_fence.py [--days 7] [--seed 24] [--offsets 12] [--plant-offsets 3] [--json]
    .venv/bin/python benchmarks/spend_fence.py --plant half-price   # run everything on a meter broken on purpose

The workload is generated as what the meter reads, never as dollars: EC2 instances launched in the member account
(moto's RunInstances, so the meter's DescribeInstances finds their types) and a SageMaker endpoint, with their
state-change events (the shapes of landing_zone.local.state_change_events) recorded through the real UsageStore
(vending.spend.usage.record_event); Bedrock token counts put into the member account's CloudWatch as the `AWS/Bedrock`
metrics the meter queries (InputTokenCount/OutputTokenCount, dimension ModelId, Sum; inference-profile ids for the
Claude models, as the teams invoke them). Every metering interval (vending.spend.fence.INTERVAL_MINUTES) the SpendFence
handler's own pair runs at the reading's time: vending.spend.interval.run_interval with
vending.spend.meter.fence_reader (the access role assumed in each account, the committed price snapshot), against
moto's Organizations, DynamoDB and EventBridge; the SCPs then attached to the account are decided by scps.evaluate.

The reference is an oracle kept simple and independent of the meter: the same workload's spend minute by minute,
priced from vending/spend/prices.json read here with json (not through vending.spend.prices), so a broken meter (a
wrong price, an interval counted twice, tokens read with the wrong period) moves the figures:
- Meter deviation: the largest |meter - oracle| over every reading (hour and day), in USD. Must be ~0 (<= 0.01).
- Crossing: an ordinary day, then a runaway (six p5.48xlarge launched; a Claude 3.5 Sonnet token flood) starting at
  each minute offset 0..N-1 of an hour; the crossing minute is the first minute the oracle's rolling hour (or day)
  exceeds the cap; N = the minute of the freeze - the crossing minute, at most one interval. The fence runs from an
  hour before the runaway (the ordinary week below covers the rest); not frozen within an hour of crossing is a
  failure. After the freeze a team role's GPU launch (p5 for training, g5 for inference) and InvokeModel, decided on
  the attached SCPs, are denied, the platform's allowed, a t3 allowed; after an approved thaw the GPU launch passes.
- False freezes: each tier's ordinary week (diurnal load, weekday training runs, lognormal noise, bursts) must freeze
  nothing; beside it the week's peak hour and day as a share of the caps (the headroom). The none tier runs only
  m5/t3 instances, which the snapshot does not price: the meter lists them as unpriced and reads $0, so that tier's
  caps are unreachable (printed as a finding, not hidden).
- Negative controls: (a) planted meter faults (--plant, and a small run of each printed at the end): `half-price`
  (every instance price x0.5), `token-period` (GetMetricData asked with Period 3600 instead of 60), `double-count`
  (every billed interval counted twice); each must fail the deviation figure and move the crossing figure or the
  false-freeze count. (b) a 15-minute interval exceeds 5 minutes (tests/benchmarks), and caps at 80 % of each week's
  own peaks freeze every account with priced usage.

Emulator shortcuts, none of which changes a reading: tokens are put as one datum per 5 minutes (the sum of those
minutes, at the block's first minute) instead of one per minute: every window the meter prices ends on an interval
tick, so it holds whole blocks and the Sum is the same (the aggregation is gcd(5, interval) minutes, so a 15-minute
control stays exact). moto 5.2.5's GetMetricData compares every datum with every period of every query
(O(periods x data): ~1 s per reading of one day); `indexed_cloudwatch` answers AWS/Bedrock MetricStat queries from
an index with moto's own Statistics (tests/benchmarks check it equal to moto's answer), anything else goes to moto.
moto accepts PutMetricData in the reserved AWS/ namespace, which AWS refuses (there Bedrock itself writes them).
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import math
import os
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.setdefault(_k, "testing")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

import vending.spend.meter as meter  # noqa: E402
from landing_zone.local.dynamodb import atomic_conditional_writes  # noqa: E402
from landing_zone.local.images import amazon_image  # noqa: E402
from landing_zone.local.organizations import aws_like_organizations  # noqa: E402
from landing_zone.local.sagemaker import current_endpoint_instance_types  # noqa: E402
from scps.evaluate import Policies, Request, decide  # noqa: E402
from vending.aws.sessions import access_role_arn, assume_role_session  # noqa: E402
from vending.guardrails.account import apply_account_guardrails  # noqa: E402
from vending.layout import Layout, SpendCaps, load_layout  # noqa: E402
from vending.lifecycle import RequestStore, Status, requests_table_definition  # noqa: E402
from vending.org_tree import resolve_ou_paths  # noqa: E402
from vending.request import VendingRequest  # noqa: E402
from vending.spend.fence import INTERVAL_MINUTES, approve_thaw, request_thaw  # noqa: E402
from vending.spend.freezes import FreezeStore, freezes_table_definition  # noqa: E402
from vending.spend.interval import run_interval  # noqa: E402
from vending.spend.prices import PriceBook  # noqa: E402
from vending.spend.reading import SpendReading  # noqa: E402
from vending.spend.usage import EC2_DETAIL, ENDPOINT_DETAIL, UsageStore, record_event, usage_table_definition  # noqa: E402

REGION = "us-east-1"
FREEZES = "vending-freezes"
REQUESTS = "vending-requests"
USAGE = "vending-usage"
PRICES_JSON = Path(__file__).resolve().parent.parent / "vending" / "spend" / "prices.json"
START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # a Monday
MINUTES_PER_DAY = 24 * 60
AGGREGATE_MINUTES = 5  # tokens put per block of this many minutes (see the docstring); gcd with the interval
MAX_DEVIATION_USD = 0.01
SONNET = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"  # the profile the rag-bedrock app invokes
HAIKU = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"
TEAM_OF_TIER = {"none": "team-frontend", "inference": "team-backend", "training": "team-mlops"}
PLATFORM_ROLE = "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
TEAM_ROLE = "arn:aws:iam::{account}:role/TeamAdmin"


# --- the workload: what the meter reads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """`count` instances of one type running in minutes [start, end) (end None: until the end of the workload)."""

    service: str  # ec2 | sagemaker (an endpoint)
    instance_type: str
    count: int
    start: int
    end: int | None
    region: str = REGION


@dataclass
class Workload:
    minutes: int
    runs: list[Run] = field(default_factory=list)
    tokens: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)  # (region, ModelId, dir) -> per minute

    def run(self, service: str, instance_type: str, count: int, start: int, end: int | None) -> None:
        start = max(start, 0)
        end = None if end is None or end >= self.minutes else end
        if count > 0 and (end is None or end > start):
            self.runs.append(Run(service, instance_type, count, start, end))

    def add_tokens(
        self, model: str, minute: int, input_tokens: float, output_tokens: float, region: str = REGION
    ) -> None:
        for direction, n in (("input", input_tokens), ("output", output_tokens)):
            if n > 0:
                series = self.tokens.setdefault((region, model, direction), [0] * self.minutes)
                series[minute] += round(n)


def _diurnal(minute_of_day: int, weekday: bool) -> float:
    """Load shape: a working-day bell (peak ~14:00 UTC), a low night, a quieter weekend."""
    hour = minute_of_day / 60
    bell = math.exp(-(((hour - 14.0) / 3.5) ** 2))
    return (0.15 + 0.85 * bell) * (1.0 if weekday else 0.35)


def ordinary_week(tier: str, days: int, seed: int) -> Workload:
    """One account of `tier` doing its ordinary work (what the caps must leave room for), as instances and tokens.
    Sized with the public prices in mind (a p5.48xlarge ~55 USD/h, Sonnet 3/15 USD per million tokens) but priced
    only by the meter and by the oracle, both from prices.json."""
    rng = random.Random(f"{tier}-{seed}")
    w = Workload(days * MINUTES_PER_DAY)
    for day in range(days):
        weekday = (START + timedelta(days=day)).weekday() < 5
        base = day * MINUTES_PER_DAY
        if tier == "none":
            w.run("ec2", "m5.large", 3, base, base + MINUTES_PER_DAY)
            if weekday:  # CI and dev boxes in working hours
                w.run("ec2", "t3.large", rng.randint(4, 10), base + 8 * 60, base + 19 * 60)
        if tier == "inference":
            # A two-instance endpoint all week (below), up to 4 g5 more at the peak, and the RAG app's tokens.
            extra = [round(4 * _diurnal(hour * 60, weekday) * rng.uniform(0.6, 1.1)) for hour in range(24)]
            for i in range(max(extra)):  # the autoscaler's i-th instance runs through each stretch of hours needing it
                hour = 0
                while hour < 24:
                    if extra[hour] <= i:
                        hour += 1
                        continue
                    first = hour
                    while hour < 24 and extra[hour] > i:
                        hour += 1
                    w.run("ec2", "g5.xlarge", 1, base + first * 60, base + hour * 60)
        if tier == "training":
            w.run("ec2", "g5.xlarge", 4, base + 7 * 60, base + 20 * 60)  # dev boxes
            if weekday and rng.random() < 0.7:  # a training run most weekdays: p4d or two p5 for a few hours
                start = base + rng.randint(8, 15) * 60
                if rng.random() < 0.5:
                    w.run("ec2", "p4d.24xlarge", 2, start, start + rng.randint(3, 8) * 60)
                else:
                    w.run("ec2", "p5.48xlarge", 2, start, start + rng.randint(2, 5) * 60)
            if rng.random() < 0.3:  # an overnight Trainium job
                start = base + 20 * 60
                w.run("ec2", "trn1.32xlarge", 1, start, start + 8 * 60)
        for m in range(MINUTES_PER_DAY):
            load = _diurnal(m, weekday)
            if rng.random() < 0.002:  # a burst: a batch re-embedding or a load test for a while
                load *= rng.uniform(2.0, 4.0)
            at = base + m

            def noisy(millions: float, load: float = load) -> float:
                return millions * 1e6 * load * rng.lognormvariate(0.0, 0.35)

            if tier == "inference":
                w.add_tokens(HAIKU, at, noisy(0.10), noisy(0.02))
                w.add_tokens(SONNET, at, noisy(0.02), noisy(0.004))
                w.add_tokens(TITAN, at, noisy(0.5), 0, region="us-west-2")  # its second region
            if tier == "training":
                w.add_tokens(SONNET, at, noisy(0.03), noisy(0.006))
                w.add_tokens(COHERE, at, noisy(0.3), 0)
    if tier == "inference":
        w.run("sagemaker", "ml.g5.xlarge", 2, 0, None)
    return w


def runaway(w: Workload, kind: str, start: int) -> None:
    """From minute `start` on: six p5.48xlarge launched, or a Sonnet flood (1 M input, 120 k output tokens a minute)."""
    if kind == "p5":
        w.run("ec2", "p5.48xlarge", 6, start, None)
    else:
        for m in range(start, w.minutes):
            w.add_tokens(SONNET, m, 1_000_000, 120_000)


# --- the oracle: the same workload priced minute by minute from prices.json -------------------------------------


class Oracle:
    """USD per minute of a workload, priced from the snapshot file with json (nothing of vending.spend.prices)."""

    def __init__(self, w: Workload, prices_file: Path = PRICES_JSON) -> None:
        book = json.loads(prices_file.read_text(encoding="utf-8"))
        cost = [0.0] * w.minutes
        self.unpriced_hours: dict[str, float] = {}
        for r in w.runs:
            entry = book[r.service].get(r.region, {}).get(r.instance_type)
            end = w.minutes if r.end is None else r.end
            if entry is None:
                key = f"{r.service}:{r.instance_type}"
                self.unpriced_hours[key] = self.unpriced_hours.get(key, 0.0) + r.count * (end - r.start) / 60
                continue
            per_minute = float(entry["usd"]) * r.count / 60
            for m in range(r.start, end):
                cost[m] += per_minute
        for (region, model_id, direction), series in w.tokens.items():
            model = re.sub(r"^(us|eu|apac)\.", "", model_id)  # a profile bills as its model
            rate = float(book["bedrock"][region][model][f"{direction}_per_1k"]) / 1000
            for m, n in enumerate(series):
                cost[m] += n * rate
        self.cost = cost
        self.prefix = [0.0]
        for c in cost:
            self.prefix.append(self.prefix[-1] + c)

    def window(self, start: int, end: int) -> float:
        """USD spent in minutes [start, end)."""
        n = len(self.cost)
        return self.prefix[max(min(end, n), 0)] - self.prefix[max(min(start, n), 0)]

    def reading(self, minute: int) -> tuple[float, float]:
        """(last hour, today) at START + minute, as the meter should read it."""
        return self.window(minute - 60, minute), self.window(minute - minute % MINUTES_PER_DAY, minute)

    def crossing(self, caps: SpendCaps, after: int) -> int | None:
        """The first minute (> after) at whose end the rolling hour or the day so far exceeds a cap."""
        for minute in range(after + 1, len(self.cost) + 1):
            hour, day = (
                self.window(minute - 60, minute),
                self.window((minute - 1) // MINUTES_PER_DAY * MINUTES_PER_DAY, minute),
            )
            if hour > caps.hourly_usd or day > caps.daily_usd:
                return minute
        return None

    def peaks(self, first: int = 0, last: int | None = None) -> tuple[float, float]:
        """The largest rolling hour and day-so-far among the readings at minutes (first, last]."""
        last = len(self.cost) if last is None else last
        hour = max((self.window(m - 60, m) for m in range(first + 1, last + 1)), default=0.0)
        days = range(first // MINUTES_PER_DAY * MINUTES_PER_DAY, last, MINUTES_PER_DAY)
        day = max((self.window(d, min(d + MINUTES_PER_DAY, last)) for d in days), default=0.0)
        return hour, day


# --- moto's CloudWatch, indexed -----------------------------------------------------------------------------------

BEDROCK = meter.BEDROCK_NAMESPACE


def _key(namespace: str, name: str, dimensions: Any) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return namespace, name, tuple(sorted((d.name, d.value) for d in dimensions))


def _index(backend: Any) -> dict[tuple[Any, ...], tuple[list[datetime], list[Any]]]:
    """(namespace, name, dimensions) -> (sorted timestamps, data) of the backend's AWS/Bedrock data, kept up to date
    incrementally (PutMetricData only appends)."""
    index: dict[tuple[Any, ...], tuple[list[datetime], list[Any]]] = backend.__dict__.setdefault("_bench_index", {})
    seen = backend.__dict__.get("_bench_seen", 0)
    for md in backend.metric_data[seen:]:
        if md.namespace != BEDROCK:
            continue
        stamps, data = index.setdefault(_key(md.namespace, md.name, md.dimensions), ([], []))
        at = bisect.bisect_right(stamps, md.timestamp)
        stamps.insert(at, md.timestamp)
        data.insert(at, md)
    backend._bench_seen = len(backend.metric_data)
    return index


@contextlib.contextmanager
def indexed_cloudwatch() -> Iterator[None]:
    """moto's GetMetricData and ListMetrics for AWS/Bedrock MetricStat queries from an index, with moto's semantics
    (periods from StartTime, data in [StartTime, EndTime), moto's Statistics); every other call goes to moto."""
    from moto.cloudwatch.models import CloudWatchBackend, Statistics

    original_get, original_filter = CloudWatchBackend.get_metric_data, CloudWatchBackend.get_filtered_metrics

    def get_metric_data(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        simple = all(
            "MetricStat" in q
            and q["MetricStat"]["Metric"]["Namespace"] == BEDROCK
            and q["MetricStat"]["Metric"].get("Dimensions")  # without: moto sums every series of the name
            and not q["MetricStat"].get("Unit")
            for q in queries
        )
        if not simple or start_time.replace(microsecond=0) >= end_time.replace(microsecond=0):
            return original_get(self, queries, start_time, end_time, scan_by)
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        index = _index(self)
        out = []
        for q in queries:
            stat = q["MetricStat"]
            metric = stat["Metric"]
            dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            stamps, data = index.get((BEDROCK, metric["MetricName"], dims), ([], []))
            period = timedelta(seconds=int(stat["Period"]))
            buckets: dict[int, list[Any]] = {}
            for i in range(bisect.bisect_left(stamps, start), bisect.bisect_left(stamps, end)):
                buckets.setdefault((stamps[i] - start) // period, []).append(data[i])
            values, timestamps = [], []
            for n in sorted(buckets):
                stats = Statistics([stat["Stat"]], start + n * period)
                stats.metric_data = buckets[n]
                values.append(stats.get_statistics_for_type(stat["Stat"]))
                timestamps.append(stats.timestamp)
            if scan_by == "TimestampDescending":  # moto's default, as AWS's
                values.reverse()
                timestamps.reverse()
            label = q.get("Label") or f"{metric['MetricName']} {stat['Stat']}"
            if q.get("ReturnData", True):
                out.append(
                    {
                        "id": q["Id"],
                        "label": label,
                        "values": values,
                        "timestamps": timestamps,
                        "status_code": "Complete",
                    }
                )
        return out

    def get_filtered_metrics(
        self: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]
    ) -> list[Any]:
        if namespace != BEDROCK or dimensions or not metric_name:
            return original_filter(self, metric_name, namespace, dimensions)
        return [data[0] for (_, name, _), (_, data) in _index(self).items() if name == metric_name and data]

    CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]
    CloudWatchBackend.get_filtered_metrics = get_filtered_metrics  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudWatchBackend.get_metric_data = original_get  # type: ignore[method-assign]
        CloudWatchBackend.get_filtered_metrics = original_filter  # type: ignore[method-assign]


# --- the organization, the member accounts and what runs in them ---------------------------------------------------


def _iso(minute: int) -> str:
    return (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Org:
    """moto's Organizations, DynamoDB and EventBridge with the layout's OU tree; accounts vended per team, their
    records READY in the requests table (what run_interval meters), their usage in the usage table."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.org = boto3.client("organizations", region_name=REGION)
        self.org.create_organization(FeatureSet="ALL")
        resolve_ou_paths(self.org, [ou.path for ou in layout.ous])
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        for definition in (freezes_table_definition(FREEZES), requests_table_definition(REQUESTS)):
            self.ddb.create_table(**definition)
        self.ddb.create_table(**usage_table_definition(USAGE))
        self.freezes = FreezeStore(self.ddb, FREEZES)
        self.store = RequestStore(self.ddb, REQUESTS)
        self.usage = UsageStore(self.ddb, USAGE)
        self.events = boto3.client("events", region_name=REGION)
        self.sts = boto3.client("sts", region_name=REGION)
        self.sent: list[str] = []
        self.readings: list[SpendReading] = []
        ctx = SimpleNamespace(
            client=lambda name: boto3.client(name, region_name=REGION),
            settings=SimpleNamespace(usage_table=USAGE),
            layout=layout,
        )
        self._read = meter.fence_reader(ctx)  # what the SpendFence handler reads with

    def vend(self, team: str, stage: str = "staging") -> str:
        spec = self.layout.team(team)
        assert spec is not None
        out = self.org.create_account(Email=self.layout.account_email(team, stage), AccountName=f"{team}-{stage}")
        account = str(out["CreateAccountStatus"]["AccountId"])
        apply_account_guardrails(
            self.org, self.layout, account_id=account, team=team, stage=stage, gpu_tier=spec.gpu_tier
        )
        request = VendingRequest.model_validate(
            {
                "team": team,
                "stage": stage,
                "owner_email": spec.owner_email,
                "cost_center": spec.cost_center,
                "gpu_tier": spec.gpu_tier,
                "regions": spec.regions_for(stage),
                "repository": spec.repository,
            }
        )
        self.store.reserve(request, f"vend-{team}-{stage}")
        self.store.update(request.request_id, status=Status.READY, step="RecordReady", account_id=account)
        return account

    def member(self, account: str, service: str, region: str) -> Any:
        role = access_role_arn(account, self.layout.organization.access_role_name)
        return assume_role_session(self.sts, role, "spend-bench-workload", region).client(service)  # type: ignore[call-overload]

    def _record(
        self, account: str, region: str, source: str, detail_type: str, arn: str, minute: int, detail: dict[str, Any]
    ) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": _iso(minute),
            "region": region,
            "resources": [arn],
            "detail": detail,
        }
        record_event(self.usage, event)

    def emit(self, account: str, w: Workload, aggregate: int = AGGREGATE_MINUTES) -> None:
        """Launch the workload's instances in the account and record their state changes; put its token counts into
        the account's CloudWatch, one datum per `aggregate` minutes."""
        images: dict[str, str] = {}
        for n, r in enumerate(w.runs):
            if r.service == "ec2":
                ec2 = self.member(account, "ec2", r.region)
                if r.region not in images:
                    images[r.region] = amazon_image(ec2)
                launched = ec2.run_instances(
                    ImageId=images[r.region], InstanceType=r.instance_type, MinCount=r.count, MaxCount=r.count
                )
                for instance in launched["Instances"]:
                    iid = instance["InstanceId"]
                    arn = f"arn:aws:ec2:{r.region}:{account}:instance/{iid}"
                    changes = [(r.start, "pending"), (r.start, "running")]
                    if r.end is not None:
                        changes += [(r.end, "stopping"), (r.end, "stopped")]
                    for minute, state in changes:
                        self._record(
                            account, r.region, "aws.ec2", EC2_DETAIL, arn, minute, {"instance-id": iid, "state": state}
                        )
            else:
                sm = self.member(account, "sagemaker", r.region)
                name = f"endpoint-{n}"
                role = f"arn:aws:iam::{account}:role/SageMakerExecution"
                sm.create_model(
                    ModelName=name,
                    ExecutionRoleArn=role,
                    PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"},
                )
                variant = {
                    "VariantName": "main",
                    "ModelName": name,
                    "InstanceType": r.instance_type,
                    "InitialInstanceCount": r.count,
                }
                sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
                arn = sm.create_endpoint(EndpointName=name, EndpointConfigName=name)["EndpointArn"]
                changes = [(r.start, "IN_SERVICE")] + ([(r.end, "DELETING")] if r.end is not None else [])
                for minute, status in changes:
                    detail = {
                        "EndpointName": name,
                        "EndpointArn": arn,
                        "EndpointConfigName": name,
                        "ProductionVariants": [
                            {"VariantName": "main", "CurrentInstanceCount": r.count, "DesiredInstanceCount": r.count}
                        ],
                        "EndpointStatus": status,
                        "Tags": {},
                    }
                    self._record(account, r.region, "aws.sagemaker", ENDPOINT_DETAIL, arn, minute, detail)
        by_region: dict[str, list[dict[str, Any]]] = {}
        for (region, model, direction), series in w.tokens.items():
            for block in range(0, w.minutes, aggregate):
                total = sum(series[block : block + aggregate])
                if total:
                    by_region.setdefault(region, []).append(
                        {
                            "MetricName": meter.TOKEN_METRICS[direction],
                            "Dimensions": [{"Name": "ModelId", "Value": model}],
                            "Timestamp": START + timedelta(minutes=block),
                            "Value": float(total),
                            "Unit": "Count",
                        }
                    )
        for region, data in by_region.items():
            cw = self.member(account, "cloudwatch", region)
            for at in range(0, len(data), 1000):  # PutMetricData takes at most 1,000 data
                cw.put_metric_data(Namespace=meter.BEDROCK_NAMESPACE, MetricData=data[at : at + 1000])

    def interval(self, minute: int, run_id: str) -> Any:
        """One SpendFence invocation at START + minute: run_interval with the handler's meter; readings kept."""

        def read(records: list[Any], at: datetime) -> list[SpendReading]:
            got = self._read(records, at)
            self.readings.extend(got)
            return got

        return run_interval(
            read=read,
            store=self.store,
            freezes=self.freezes,
            layout=self.layout,
            org=self.org,
            events=self.events,
            sts=self.sts,
            bus="default",
            source="platform.vending",
            now=START + timedelta(minutes=minute),
            run_id=run_id,
        )

    def notify_log(self) -> list[str]:
        """The outcome events put on the bus (the fence's notifier), as 'detail-type account'."""
        return list(self.sent)

    def attached_documents(self, account: str) -> list[list[Any]]:
        """The SCP documents on the account's path as Organizations holds them: root, each OU, the account."""
        levels: list[list[Any]] = []
        target = account
        while True:
            levels.insert(0, self._documents(target))
            parent = self.org.list_parents(ChildId=target)["Parents"][0]
            if parent["Type"] == "ROOT":
                return [self._documents(parent["Id"]), *levels]
            target = parent["Id"]

    def _documents(self, target: str) -> list[Any]:
        return [
            json.loads(self.org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"])
            for p in self.org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
        ]

    def allowed(self, account: str, action: str, resource: str, context: dict[str, Any], principal: str) -> bool:
        full = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        request = Request(
            action, resource, principal.format(account=account), {"aws:RequestedRegion": REGION, **context}
        )
        return decide(request, Policies(identity=[full], scps=self.attached_documents(account))).allowed

    def attached_names(self, account: str) -> set[str]:
        return {
            p["Name"]
            for p in self.org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"]
        }


def ticks(start: int, end: int) -> Iterator[int]:
    """The interval ticks in (start, end] (multiples of INTERVAL_MINUTES)."""
    first = (start // INTERVAL_MINUTES + 1) * INTERVAL_MINUTES
    yield from range(max(first, INTERVAL_MINUTES), end + 1, INTERVAL_MINUTES)


@dataclass
class Deviation:
    """The meter against the oracle over every reading: the largest absolute error of the hour and day figures."""

    readings: int = 0
    max_usd: float = 0.0
    worst: str = ""

    def add(self, reading: SpendReading, oracle: Oracle) -> None:
        minute = round((reading.at - START).total_seconds() / 60)
        hour, day = oracle.reading(minute)
        self.readings += 1
        for what, got, want in (("hour", reading.hour_usd, hour), ("day", reading.day_usd, day)):
            error = abs(got - want)
            if error > self.max_usd:
                self.max_usd, self.worst = (
                    error,
                    f"{reading.team} {what} at {reading.at:%a %H:%M}: meter {got:.4f} oracle {want:.4f}",
                )

    def merge(self, other: Deviation) -> None:
        self.readings += other.readings
        if other.max_usd > self.max_usd:
            self.max_usd, self.worst = other.max_usd, other.worst

    def to_dict(self) -> dict[str, Any]:
        return {"readings": self.readings, "max_usd": round(self.max_usd, 6), "worst": self.worst}


def _aggregate() -> int:
    return math.gcd(AGGREGATE_MINUTES, INTERVAL_MINUTES)


class _RecordingEvents:
    """The events client the fence publishes with, noting each entry's detail type and account."""

    def __init__(self, client: Any, sent: list[str]) -> None:
        self._client, self._sent = client, sent

    def put_events(self, **kwargs: Any) -> Any:
        for entry in kwargs.get("Entries", []):
            self._sent.append(f"{entry['DetailType']} {json.loads(entry['Detail']).get('account_id')}")
        return self._client.put_events(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@contextlib.contextmanager
def emulator(layout: Layout) -> Iterator[Org]:
    with (
        mock_aws(),
        aws_like_organizations(),
        atomic_conditional_writes(),
        current_endpoint_instance_types(),
        indexed_cloudwatch(),
    ):
        env = Org(layout)
        env.events = _RecordingEvents(env.events, env.sent)
        yield env


# --- the measurements -----------------------------------------------------------------------------------------------


# The accelerated type each tier may launch until it is frozen.
GPU_OF_TIER = {"inference": "g5.xlarge", "training": "p5.48xlarge"}


def _probes(team: str, tier: str, account: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    spec_tags = {"aws:RequestTag/team": team, "aws:RequestTag/stage": "staging"}
    instance = f"arn:aws:ec2:{REGION}:{account}:instance/*"
    return {
        "gpu launch": ("ec2:RunInstances", instance, {"ec2:InstanceType": GPU_OF_TIER[tier], **spec_tags}),
        "t3 launch": ("ec2:RunInstances", instance, {"ec2:InstanceType": "t3.micro", **spec_tags}),
        "InvokeModel": (
            "bedrock:InvokeModel",
            f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-text-v2:0",
            {},
        ),
        "stop an instance": ("ec2:StopInstances", instance, {"ec2:InstanceType": GPU_OF_TIER[tier]}),
    }


def crossing_to_freeze(
    layout: Layout, kind: str, team: str, offsets: Sequence[int], seed: int, *, checks: bool = True
) -> dict[str, Any]:
    """For each runaway start offset, the minutes from the cap's crossing (the oracle's) to the fence's freeze (read
    through the meter). None: frozen before the crossing or not within an hour after it (both failures)."""
    spec = layout.team(team)
    assert spec is not None
    caps = layout.spend_caps(team, spec.gpu_tier)
    assert caps is not None
    figures: list[int | None] = []
    early: list[int] = []
    deviation = Deviation()
    out: dict[str, Any] = {}
    for offset in offsets:
        with emulator(layout) as env:
            account_id = env.vend(team)
            w = ordinary_week(spec.gpu_tier, 2, seed)
            start = MINUTES_PER_DAY + 9 * 60 + offset  # day 2, from 09:00 + offset
            runaway(w, kind, start)
            env.emit(account_id, w, _aggregate())
            oracle = Oracle(w)
            crossed = oracle.crossing(caps, after=start - 1)
            assert crossed is not None, "the runaway never crosses the cap: the workload is mis-sized"
            frozen_at = None
            for minute in ticks(start - 60, min(crossed + 60, w.minutes)):
                report = env.interval(minute, f"interval-{minute}")
                if account_id in report.frozen:
                    frozen_at = minute
                    break
            for reading in env.readings:
                deviation.add(reading, oracle)
            if frozen_at is not None and frozen_at < crossed:
                early.append(frozen_at - crossed)
            figures.append(frozen_at - crossed if frozen_at is not None and frozen_at >= crossed else None)
            if checks and offset == offsets[0] and frozen_at is not None:
                probes = _probes(team, spec.gpu_tier, account_id)
                out["after_freeze"] = {
                    name: {
                        "team": env.allowed(account_id, *probe, TEAM_ROLE),
                        "platform": env.allowed(account_id, *probe, PLATFORM_ROLE),
                    }
                    for name, probe in probes.items()
                }
                out["notifications"] = env.notify_log()
                admin, approver = (
                    f"arn:aws:iam::{account_id}:role/PlatformAdmin",
                    f"arn:aws:iam::{account_id}:role/PlatformApprover",
                )
                thaw_at = START + timedelta(minutes=frozen_at + 30)
                request_thaw(env.freezes, account_id, by=admin, session=None, reason="runaway stopped", now=thaw_at)
                approve_thaw(env.freezes, env.org, layout, account_id, by=approver, session=None, now=thaw_at)
                out["after_thaw"] = {
                    "gpu launch (team)": env.allowed(account_id, *probes["gpu launch"], TEAM_ROLE),
                    "freeze attached": "vend-freeze" in env.attached_names(account_id),
                }
    measured = [f for f in figures if f is not None]
    return {
        "kind": kind,
        "team": team,
        "caps": caps.model_dump(),
        "interval_minutes": INTERVAL_MINUTES,
        "offsets": len(figures),
        "not_frozen_in_time": sum(1 for f in figures if f is None) - len(early),
        "frozen_before_crossing": early,
        "minutes_after_crossing": {
            "max": max(measured) if len(measured) == len(figures) else None,
            "min": min(measured, default=None),
            "all": figures,
        },
        "deviation": deviation.to_dict(),
        **out,
    }


def false_freezes(
    layout: Layout, days: int, seed: int, *, caps_scale: float | None = None, hours: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Fence an ordinary week of every tier through the meter; caps_scale (the negative control) sets each team's caps
    to that share of the week's own peak hour and peak day (teams with no priced usage keep theirs). `hours` (first,
    last) fences only the readings in those hours of the week (the quick test's slice; peaks are then the slice's)."""
    out: dict[str, Any] = {}
    weeks = {tier: ordinary_week(tier, days, seed) for tier in TEAM_OF_TIER}
    oracles = {tier: Oracle(w) for tier, w in weeks.items()}
    first, last = (hours[0] * 60, hours[1] * 60) if hours else (0, days * MINUTES_PER_DAY)
    peaks = {tier: o.peaks(first, last) for tier, o in oracles.items()}
    base = layout
    if caps_scale is not None:
        data = layout.model_dump(mode="json")
        for team in data["teams"]:
            peak_hour, peak_day = peaks[team["gpu_tier"]]
            if peak_hour > 0:
                team["spend_caps"] = {"hourly_usd": peak_hour * caps_scale, "daily_usd": peak_day * caps_scale}
        base = Layout.model_validate(data)
    deviation = Deviation()
    with emulator(base) as env:
        accounts: dict[str, str] = {}  # tier -> account
        for tier, team in TEAM_OF_TIER.items():
            accounts[tier] = env.vend(team)
            env.emit(accounts[tier], weeks[tier], _aggregate())
        tier_of = {a: t for t, a in accounts.items()}
        minutes = days * MINUTES_PER_DAY
        frozen: dict[str, int] = {}
        should_freeze = {a for t, a in accounts.items() if caps_scale is not None and peaks[t][0] > 0}
        for minute in ticks(first, last):
            report = env.interval(minute, f"interval-{minute}")
            for account_id in report.frozen:
                frozen.setdefault(account_id, minute)
            if caps_scale is not None and should_freeze <= set(frozen):
                break  # the control has its answer; the rest of the week would only re-read frozen accounts
        for reading in env.readings:
            deviation.add(reading, oracles[tier_of[reading.account_id]])
        read_at = START + timedelta(minutes=minute - (INTERVAL_MINUTES if minute % MINUTES_PER_DAY == 0 else 0))
        live = {m.reading.account_id: m for m in meter.read_live(
            lambda a, s, r: env.member(a, s, r), env.store.list(), PriceBook.load(), env.usage, read_at
        )}  # fmt: skip
        for tier, team in TEAM_OF_TIER.items():
            spec = base.team(team)
            assert spec is not None
            caps = base.spend_caps(team, spec.gpu_tier)
            assert caps is not None
            peak_hour, peak_day = peaks[tier]
            out[tier] = {
                "team": team,
                "caps": caps.model_dump(),
                "week_usd": round(oracles[tier].window(0, minutes), 2),
                "peak_hour_usd": round(peak_hour, 2),
                "peak_day_usd": round(peak_day, 2),
                "peak_hour_of_cap": round(peak_hour / caps.hourly_usd, 3),
                "peak_day_of_cap": round(peak_day / caps.daily_usd, 3),
                "unpriced_instance_hours_week": {k: round(v, 1) for k, v in oracles[tier].unpriced_hours.items()},
                "meter_unpriced_last_day": live[accounts[tier]].unpriced,
                "frozen": accounts[tier] in frozen,
            }
        out["readings"] = len(env.readings)
        out["deviation"] = deviation.to_dict()
        out["false_freezes"] = len(frozen) if caps_scale is None else None
        out["frozen"] = len(frozen)
        out["should_freeze"] = len(should_freeze) if caps_scale is not None else 0
    return out


# --- planted meter faults (negative controls) ------------------------------------------------------------------------


def _token_period(seconds: int) -> Callable[..., Any]:
    original = meter._bedrock_tokens

    class Paginator:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def paginate(self, **kwargs: Any) -> Any:
            for q in kwargs.get("MetricDataQueries", []):
                q["MetricStat"]["Period"] = seconds
            return self.inner.paginate(**kwargs)

    class CloudWatch:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def get_paginator(self, name: str) -> Any:
            inner = self.inner.get_paginator(name)
            return Paginator(inner) if name == "get_metric_data" else inner

    def tokens(cloudwatch: Any, region: str, start: datetime, end: datetime) -> Any:
        return original(CloudWatch(cloudwatch), region, start, end)

    return tokens


@contextlib.contextmanager
def planted(fault: str | None) -> Iterator[None]:
    """A meter broken on purpose: `half-price` (instance prices x0.5), `token-period` (GetMetricData asked for hourly
    sums where the meter means per-minute ones), `double-count` (every billed interval counted twice)."""
    if fault is None:
        yield
        return
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    if fault == "half-price":
        hourly = PriceBook.hourly
        patch(PriceBook, "hourly", lambda self, *a: None if (p := hourly(self, *a)) is None else p * 0.5)
    elif fault == "token-period":
        patch(meter, "_bedrock_tokens", _token_period(3600))
    elif fault == "double-count":
        intervals = meter.intervals
        patch(meter, "intervals", lambda events, until: 2 * intervals(events, until))
    else:
        raise ValueError(f"unknown fault {fault!r}: one of {', '.join(FAULTS)}")
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


FAULTS = ("half-price", "token-period", "double-count")


def verdicts(crossing: list[dict[str, Any]], deviation_usd: float, week: dict[str, Any] | None) -> dict[str, bool]:
    out = {
        "deviation": deviation_usd <= MAX_DEVIATION_USD,
        "crossing": all(
            c["minutes_after_crossing"]["max"] is not None and c["minutes_after_crossing"]["max"] <= INTERVAL_MINUTES
            for c in crossing
        ),
    }
    if week is not None:
        out["false_freezes"] = week["false_freezes"] == 0
    return out


def control(layout: Layout, fault: str, offsets: Sequence[int], days: int, seed: int) -> dict[str, Any]:
    """One planted fault on a small configuration: every figure, and which verdicts it fails."""
    with planted(fault):
        crossing = [
            crossing_to_freeze(layout, "p5", "team-mlops", offsets, seed, checks=False),
            crossing_to_freeze(layout, "bedrock", "team-backend", offsets, seed, checks=False),
        ]
        week = false_freezes(layout, days, seed)
    deviation = max([c["deviation"]["max_usd"] for c in crossing] + [week["deviation"]["max_usd"]])
    return {
        "fault": fault,
        "crossing": {c["kind"]: c["minutes_after_crossing"]["all"] for c in crossing},
        "frozen_before_crossing": {c["kind"]: c["frozen_before_crossing"] for c in crossing},
        "false_freezes": week["false_freezes"],
        "deviation_usd": round(deviation, 4),
        "passes": verdicts(crossing, deviation, week),
    }


def spread(n: int) -> list[int]:
    """n runaway start minutes spread over the hour (12: every 5 minutes plus 0..4 in turn, so every phase of the
    5-minute interval is tried)."""
    if n >= 60:
        return list(range(60))
    return sorted({i * 60 // n + i % 5 for i in range(n)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--offsets", type=int, default=12, help="runaway start offsets, spread over the hour")
    parser.add_argument("--plant", choices=FAULTS, help="run everything on a meter broken this way (must FAIL)")
    parser.add_argument("--plant-offsets", type=int, default=3, help="offsets of each planted control's small run")
    parser.add_argument("--plant-days", type=int, default=1, help="days of each planted control's ordinary week")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    layout = load_layout()
    began = time.monotonic()
    with planted(args.plant):
        crossing = [
            crossing_to_freeze(layout, "p5", "team-mlops", spread(args.offsets), args.seed),
            crossing_to_freeze(layout, "bedrock", "team-backend", spread(args.offsets), args.seed),
        ]
        week = false_freezes(layout, args.days, args.seed)
        caps_control = false_freezes(layout, args.days, args.seed, caps_scale=0.8)
    deviation = Deviation()
    for c in crossing:
        deviation.merge(Deviation(c["deviation"]["readings"], c["deviation"]["max_usd"], c["deviation"]["worst"]))
    deviation.merge(Deviation(week["deviation"]["readings"], week["deviation"]["max_usd"], week["deviation"]["worst"]))
    measured = time.monotonic() - began
    controls = []
    if args.plant is None:
        controls = [control(layout, fault, spread(args.plant_offsets), args.plant_days, args.seed) for fault in FAULTS]
    result: dict[str, Any] = {
        "planted": args.plant,
        "crossing": crossing,
        "ordinary_week": week,
        "meter_deviation": deviation.to_dict(),
        "negative_control_caps": caps_control,
        "planted_controls": controls,
        "seconds": {"measurement": round(measured, 1), "total": round(time.monotonic() - began, 1)},
    }
    passes = verdicts(crossing, deviation.max_usd, week)
    passes["caps_control"] = caps_control["frozen"] == caps_control["should_freeze"] > 0
    passes["planted_controls_fail"] = all(not all(c["passes"].values()) for c in controls)
    result["passes"] = passes
    ok = all(passes.values())
    result["ok"] = ok
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print(result, args)
    return 0 if ok else 1


def _print(result: dict[str, Any], args: argparse.Namespace) -> None:
    if result["planted"]:
        print(f"PLANTED METER FAULT: {result['planted']}")
    for c in result["crossing"]:
        m = c["minutes_after_crossing"]
        print(
            f"crossing {c['kind']:<8} {c['team']:<14} caps {c['caps']}: frozen {m['min']}..{m['max']} min after "
            f"crossing over {c['offsets']} start offsets (interval {c['interval_minutes']} min); not frozen in time "
            f"{c['not_frozen_in_time']}, frozen before crossing {len(c['frozen_before_crossing'])}"
        )
        if "after_freeze" in c:
            print(f"  after the freeze: {c['after_freeze']}")
            print(f"  after the thaw:   {c['after_thaw']}")
    week = result["ordinary_week"]
    print(f"ordinary week ({args.days} days, {week['readings']} meter readings): false freezes {week['false_freezes']}")
    for tier in TEAM_OF_TIER:
        t = week[tier]
        print(
            f"  {tier:<10} {t['team']:<14} week {t['week_usd']:>9,.2f} USD  peak hour {t['peak_hour_usd']:>7,.2f} "
            f"({t['peak_hour_of_cap']:.0%} of {t['caps']['hourly_usd']:g})  peak day {t['peak_day_usd']:>8,.2f} "
            f"({t['peak_day_of_cap']:.0%} of {t['caps']['daily_usd']:g})"
        )
        if t["unpriced_instance_hours_week"]:
            print(
                f"    FINDING: unpriced by the snapshot (the meter reads $0 for them): "
                f"{t['unpriced_instance_hours_week']} instance-hours this week; meter's last day: "
                f"{t['meter_unpriced_last_day']}"
            )
    d = result["meter_deviation"]
    print(f"meter deviation from the oracle: max {d['max_usd']:.6f} USD over {d['readings']} readings {d['worst']}")
    cc = result["negative_control_caps"]
    print(f"negative control (caps at 80% of each week's peaks): {cc['frozen']} of {cc['should_freeze']} accounts "
          "with priced usage frozen")  # fmt: skip
    for c in result["planted_controls"]:
        failed = [k for k, v in c["passes"].items() if not v]
        print(
            f"planted {c['fault']:<13} deviation {c['deviation_usd']:>9.4f} USD  minutes after crossing {c['crossing']}"
            f"  frozen before crossing {c['frozen_before_crossing']}  false freezes {c['false_freezes']}  -> fails "
            f"{failed or 'NOTHING (the control did not bite)'}"
        )
    s = result["seconds"]
    print(f"run time: {s['measurement']} s measurement, {s['total']} s with the planted controls")
    print(f"verdicts: {result['passes']}")
    print("OK" if result["ok"] else "FAILED")


if __name__ == "__main__":
    sys.exit(main())
