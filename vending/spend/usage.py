"""Usage capture: instance state-change events of the member accounts, recorded once each, read back as intervals.

In AWS an EventBridge rule in each member account forwards its EC2 instance and SageMaker endpoint and training job
state-change events to the platform account's bus, where the RecordUsage function stores them here. Each event is one
item keyed by account and `<kind>#<resource>#<time>#<state>`, written only if absent: an event delivered twice (or
two copies of the same transition) is counted once. Intervals are built at read time by sorting each resource's
transitions by their time, so events that arrive out of order price the same as in-order ones.

EC2 bills from `running` until the instance leaves it (`stopping`, `shutting-down`; `stopped`/`terminated` close it
too when the earlier transition was lost); `pending` is not billed.
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html
EC2's event names the instance, not its type: the meter looks the type up once (DescribeInstances) and keeps it here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from vending.aws.dynamo import ModelTable, marshal, unmarshal
from vending.aws.errors import error_code
from vending.exceptions import UsageEventInvalid
from vending.usage_forwarding import EC2_DETAIL, ENDPOINT_DETAIL, SOURCE_OF, TRAINING_DETAIL

Kind = Literal["ec2", "sagemaker-endpoint", "sagemaker-training"]
# state -> True (billed from here) / False (billing ends here); states not listed change nothing.
BILLED: dict[Kind, dict[str, bool]] = {
    "ec2": {"running": True, "stopping": False, "stopped": False, "shutting-down": False, "terminated": False},
    "sagemaker-endpoint": {
        "InService": True,
        "Updating": True,
        "SystemUpdating": True,
        "Deleting": False,
        "Failed": False,
        "OutOfService": False,
    },
    "sagemaker-training": {
        "InProgress": True,
        "Completed": False,
        "Failed": False,
        "Stopped": False,
        "Stopping": False,
    },
}
TYPE_PREFIX = "type#"


class UsageEvent(BaseModel):
    account_id: str
    event_key: str  # <kind>#<resource>#<time>#<state>
    kind: Kind
    resource: str
    region: str
    time: str  # ISO 8601, UTC
    state: str
    instance_type: str = ""  # "" when the event does not say (EC2; endpoints)
    count: int = 1
    event_id: str = ""
    config: str = ""  # an endpoint's configuration (where its instance type is)

    @property
    def at(self) -> datetime:
        return parse_time(self.time)


@dataclass(frozen=True)
class Interval:
    kind: Kind
    resource: str
    region: str
    start: datetime
    end: datetime | None  # None: still running
    instance_type: str
    count: int
    config: str = ""

    def hours_within(self, start: datetime, end: datetime) -> float:
        lo, hi = max(self.start, start), min(self.end or end, end)
        return max(0.0, (hi - lo).total_seconds() / 3600)


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sagemaker_state(status: str) -> str:
    """SageMaker's events say IN_SERVICE where its API says InService; keep the API's spelling."""
    return (
        "".join(part.capitalize() for part in status.lower().split("_"))
        if "_" in status or status.isupper()
        else status
    )


def parse_event(event: Mapping[str, Any]) -> UsageEvent:
    """An EventBridge state-change event -> the usage item it records; UsageEventInvalid for anything else."""
    try:
        detail_type, detail = event["detail-type"], event["detail"]
        account, region, when = str(event["account"]), str(event["region"]), parse_time(str(event["time"]))
        kind: Kind
        config = ""
        if detail_type == EC2_DETAIL:
            kind, resource, state = "ec2", detail["instance-id"], detail["state"]
            instance_type, count = "", 1
        elif detail_type == TRAINING_DETAIL:
            kind, resource = "sagemaker-training", detail["TrainingJobName"]
            state = _sagemaker_state(detail["TrainingJobStatus"])
            resources = detail.get("ResourceConfig") or {}
            instance_type, count = str(resources.get("InstanceType", "")), int(resources.get("InstanceCount", 1))
        elif detail_type == ENDPOINT_DETAIL:
            kind, resource = "sagemaker-endpoint", detail["EndpointName"]
            state = _sagemaker_state(detail["EndpointStatus"])
            variants = detail.get("ProductionVariants") or []
            instance_type, config = "", str(detail.get("EndpointConfigName", ""))
            count = int(sum(float(v.get("CurrentInstanceCount", 0) or 0) for v in variants)) or 1
        else:
            raise UsageEventInvalid(f"not a state-change event the meter records: {detail_type!r}")
        # Only AWS puts events with an aws.* source (PutEvents refuses them from anyone else): an event with the right
        # detail-type from any other source is a forgery (a fake "stopped" would end billing early).
        source = event.get("source")
        if source != SOURCE_OF[detail_type]:
            raise UsageEventInvalid(f"{detail_type!r} from source {source!r}, not {SOURCE_OF[detail_type]!r}")
        return UsageEvent(
            account_id=account,
            event_key=f"{kind}#{resource}#{_iso(when)}#{state}",
            kind=kind,
            resource=str(resource),
            region=region,
            time=_iso(when),
            state=str(state),
            instance_type=instance_type,
            count=count,
            event_id=str(event.get("id", "")),
            config=config,
        )
    except UsageEventInvalid:
        raise
    except (KeyError, TypeError, ValueError, ValidationError) as e:
        raise UsageEventInvalid(f"state-change event without {e}: {dict(event).get('detail-type')!r}") from e


def usage_table_definition(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "account_id", "AttributeType": "S"},
            {"AttributeName": "event_key", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "account_id", "KeyType": "HASH"},
            {"AttributeName": "event_key", "KeyType": "RANGE"},
        ],
    }


class UsageStore:
    """The usage table: state-change events and the instance types looked up for them."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table
        self._events = ModelTable(client, table, UsageEvent, keys=("account_id", "event_key"))

    def record(self, event: UsageEvent) -> bool:
        """True if this is the first time the transition is seen; False for a duplicate (nothing written)."""
        try:
            self._events.put(event, condition="attribute_not_exists(event_key)")
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _items(self, account_id: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues=marshal({":a": account_id}),
            ConsistentRead=True,
        )
        for page in pages:
            yield from (unmarshal(i) for i in page.get("Items", []))

    def events(self, account_id: str) -> list[UsageEvent]:
        return self.account(account_id)[0]

    def known_types(self, account_id: str) -> dict[tuple[str, str], str]:
        """(kind, resource) -> instance type, as looked up earlier."""
        return self.account(account_id)[1]

    def account(self, account_id: str) -> tuple[list[UsageEvent], dict[tuple[str, str], str]]:
        """The account's events and its looked-up instance types, from one query (the meter reads both every
        interval; two queries doubled its cost, which grows with the account's history)."""
        events: list[UsageEvent] = []
        types: dict[tuple[str, str], str] = {}
        for item in self._items(account_id):
            if item["event_key"].startswith(TYPE_PREFIX):
                types[(item["kind"], item["resource"])] = item["instance_type"]
            else:
                events.append(UsageEvent.model_validate(item))
        return events, types

    def remember_type(self, account_id: str, kind: str, resource: str, instance_type: str) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=marshal(
                {
                    "account_id": account_id,
                    "event_key": f"{TYPE_PREFIX}{kind}#{resource}",
                    "kind": kind,
                    "resource": resource,
                    "instance_type": instance_type,
                }
            ),
        )


def record_event(store: UsageStore, event: Mapping[str, Any]) -> bool:
    """Record one forwarded state-change event; False when it was already recorded."""
    return store.record(parse_event(event))


def intervals(events: Iterable[UsageEvent], until: datetime) -> list[Interval]:
    """Billed intervals per resource, from its transitions sorted by time (delivery order does not matter).
    Transitions after `until` are ignored, so a reading at a past time is what the meter said then."""
    by_resource: dict[tuple[str, str], list[UsageEvent]] = {}
    for e in events:
        if e.at <= until and e.state in BILLED[e.kind]:
            by_resource.setdefault((e.kind, e.resource), []).append(e)
    out: list[Interval] = []
    for transitions in by_resource.values():
        # At one instant, an end sorts before a start: a stop and restart in the same second bill no gap twice.
        transitions.sort(key=lambda e: (e.at, BILLED[e.kind][e.state]))
        opened: UsageEvent | None = None
        for e in transitions:
            billed = BILLED[e.kind][e.state]
            if billed and opened is None:
                opened = e
            elif not billed and opened is not None:
                out.append(_interval(opened, e.at))
                opened = None
        if opened is not None:
            out.append(_interval(opened, None))
    return out


def _interval(opened: UsageEvent, end: datetime | None) -> Interval:
    return Interval(
        kind=opened.kind,
        resource=opened.resource,
        region=opened.region,
        start=opened.at,
        end=end,
        instance_type=opened.instance_type,
        count=opened.count,
        config=opened.config,
    )
