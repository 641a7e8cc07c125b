"""The state-change events AWS emits and moto does not: EC2 instance state changes and SageMaker endpoint status
changes, put on the account's default event bus the moment the emulated call changes the state, so the member
accounts' forwarding rules and the usage capture (vending.spend.usage) see what they would see in AWS.

- RunInstances: `pending`, then `running` (moto starts instances at once); StartInstances the same;
  StopInstances: `stopping`, `stopped`; TerminateInstances: `shutting-down`, `terminated`.
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
- CreateEndpoint: `IN_SERVICE` (moto's endpoints are in service at once); DeleteEndpoint: `DELETING`.
  https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
Training jobs are not emitted: moto completes them at creation, so their events would bill nothing.

Event times come from `clock` (UTC now unless a test or the demo drives it: `set_event_clock`), so a scenario can
run hours in seconds.

And cross-account forwarding as AWS does it: a rule whose target is another account's event bus delivers the event
itself (its account, time, id, region and resources), where moto 5.2.5 puts a new event in the receiving account,
stamped with that account and the current time, so the platform would record every member's usage as its own.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
moto's default target input also drops the event's `account`, which AWS delivers (an SQS target gets the whole event):
`targets_get_the_whole_event` puts it back.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from landing_zone.local.patching import MotoChanged, replaced, require

Clock = Callable[[], datetime]
EC2_DETAIL = "EC2 Instance State-change Notification"
ENDPOINT_DETAIL = "SageMaker Endpoint State Change"
_INSTANCES_PARAMS = ("self", "instance_ids")
_RUN_PARAMS = ("self", "image_id", "count", "user_data", "security_group_names", "kwargs")


def _utc_now() -> datetime:
    return datetime.now(UTC)


_clock: list[Clock] = [_utc_now]


def set_event_clock(clock: Clock | None) -> None:
    """The clock of the events the emulator emits from now on (None: UTC now)."""
    _clock[0] = clock or _utc_now


def event_clock() -> datetime:
    return _clock[0]()


def _emit(
    account_id: str, region: str, source: str, detail_type: str, detail: dict[str, Any], arn: str, at: datetime
) -> None:
    """Deliver the event to every rule of the account's default bus, as PutEvents does, except that a rule whose
    target moto cannot deliver to (a Lambda function, a schedule's) is skipped rather than failing the EC2 or SageMaker
    call: in AWS a delivery never fails the API call that caused the event."""
    import uuid

    from moto.events.models import events_backends

    event: Any = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": at.timestamp(),  # moto's own form: its targets format it as ISO 8601
        "region": region,
        "resources": [arn],
        "detail": detail,
        "ingestion-time": at.timestamp(),
    }
    bus = events_backends[account_id][region].describe_event_bus("default")
    for rule in list(bus.rules.values()):
        if getattr(rule, "state", "ENABLED") != "ENABLED":
            continue
        try:
            rule.send_to_targets(copy.deepcopy(event))
        except NotImplementedError:
            continue


def _instance_events(instance: Any, states: tuple[str, ...], clock: Clock) -> None:
    backend = instance.ec2_backend
    arn = f"arn:aws:ec2:{backend.region_name}:{backend.account_id}:instance/{instance.id}"
    at = clock()
    for state in states:
        _emit(
            backend.account_id,
            backend.region_name,
            "aws.ec2",
            EC2_DETAIL,
            {"instance-id": instance.id, "state": state},
            arn,
            at,
        )


def _endpoint_event(backend: Any, endpoint: Any, status: str, clock: Clock) -> None:
    detail = {
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.arn,
        "EndpointConfigName": endpoint.endpoint_config_name,
        "ProductionVariants": [
            {
                "VariantName": v.get("VariantName"),
                "CurrentInstanceCount": v.get("CurrentInstanceCount", v.get("InitialInstanceCount", 1)),
                "DesiredInstanceCount": v.get("DesiredInstanceCount", v.get("InitialInstanceCount", 1)),
            }
            for v in endpoint.production_variants
        ],
        "EndpointStatus": status,
        "Tags": {},
    }
    _emit(backend.account_id, backend.region_name, "aws.sagemaker", ENDPOINT_DETAIL, detail, endpoint.arn, clock())


@contextlib.contextmanager
def state_change_events(clock: Clock | None = None) -> Iterator[None]:
    """Emit the events until exit; `clock` gives each event's time."""
    from moto.ec2.models.instances import InstanceBackend
    from moto.sagemaker.models import SageMakerModelBackend

    now = clock or event_clock

    def after_run(original: Any) -> Any:
        def run_instances(
            self: Any, image_id: str, count: int, user_data: Any, security_group_names: Any, **kwargs: Any
        ) -> Any:
            reservation = original(self, image_id, count, user_data, security_group_names, **kwargs)
            for instance in reservation.instances:
                _instance_events(instance, ("pending", "running"), now)
            return reservation

        return run_instances

    def after(states: tuple[str, ...]) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            def change(self: Any, instance_ids: list[str]) -> Any:
                changed = original(self, instance_ids)
                for instance, _previous in changed:
                    _instance_events(instance, states, now)
                return changed

            return change

        return make

    def after_create_endpoint(original: Any) -> Any:
        def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
            endpoint = original(self, endpoint_name, endpoint_config_name, tags)
            _endpoint_event(self, endpoint, "IN_SERVICE", now)
            return endpoint

        return create_endpoint

    def before_delete_endpoint(original: Any) -> Any:
        def delete_endpoint(self: Any, endpoint_name: str) -> None:
            endpoint = self.endpoints.get(endpoint_name)
            original(self, endpoint_name)  # raises for an unknown endpoint: then there is nothing to say
            if endpoint is not None:
                _endpoint_event(self, endpoint, "DELETING", now)

        return delete_endpoint

    with contextlib.ExitStack() as stack:
        stack.enter_context(replaced(InstanceBackend, "run_instances", _RUN_PARAMS, after_run))
        stack.enter_context(
            replaced(InstanceBackend, "start_instances", _INSTANCES_PARAMS, after(("pending", "running")))
        )
        stack.enter_context(
            replaced(InstanceBackend, "stop_instances", _INSTANCES_PARAMS, after(("stopping", "stopped")))
        )
        stack.enter_context(
            replaced(InstanceBackend, "terminate_instances", _INSTANCES_PARAMS, after(("shutting-down", "terminated")))
        )
        stack.enter_context(
            replaced(
                SageMakerModelBackend,
                "create_endpoint",
                ("self", "endpoint_name", "endpoint_config_name", "tags"),
                after_create_endpoint,
            )
        )
        stack.enter_context(
            replaced(SageMakerModelBackend, "delete_endpoint", ("self", "endpoint_name"), before_delete_endpoint)
        )
        yield


def _is_bus(arn: str) -> bool:
    return arn.startswith("arn:aws:events:") and ":event-bus/" in arn


@contextlib.contextmanager
def cross_account_events_keep_their_envelope() -> Iterator[None]:
    from moto.events.models import Rule, events_backends

    lock = threading.Lock()  # the targets list is swapped while moto's own delivery runs

    def make(original: Any) -> Any:
        def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
            buses = [t for t in self.targets if _is_bus(t["Arn"])]
            if not buses:
                original(self, original_event, transform_input)
                return
            if not self.event_pattern.matches_event(original_event):
                return
            with lock:
                saved = self.targets
                self.targets = [t for t in saved if not _is_bus(t["Arn"])]
                try:
                    original(self, original_event, transform_input)
                finally:
                    self.targets = saved
            for target in buses:
                _arn, _aws, _events, region, account, resource = target["Arn"].split(":", 5)
                bus = events_backends[account][region].describe_event_bus(resource.split("/", 1)[1])
                for rule in list(bus.rules.values()):
                    rule.send_to_targets(copy.deepcopy(original_event))

        return send_to_targets

    with replaced(Rule, "send_to_targets", ("self", "original_event", "transform_input"), make):
        yield


_MOTO_TEMPLATE = (
    '{"id": "<id>", "time": <time>, "version": "0", "detail-type": "<detail-type>", "source": "<source>", '
    '"region": "<region>", "resources": <resources>, "detail": <detail>}'
)


@contextlib.contextmanager
def targets_get_the_whole_event() -> Iterator[None]:
    from moto.events.utils import EventTemplateParser

    template = require(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE")
    if template != _MOTO_TEMPLATE:
        raise MotoChanged("moto's EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE changed; review the emulator patch")
    if "account" not in require(EventTemplateParser, "DEFAULT_EVENT_INPUT_PATHS_MAP"):
        raise MotoChanged("moto's default input paths no longer map the event's account; review the emulator patch")
    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template.replace(
        '"version": "0", ', '"version": "0", "account": "<account>", '
    )
    try:
        yield
    finally:
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template
