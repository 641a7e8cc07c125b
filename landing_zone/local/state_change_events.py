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
A delivery to another account's or region's bus is authorized as AWS authorizes it (_delivery_refused): without a
RoleArn, or as a role that may not put the event there (its policy, the SCPs of its account, the bus's policy), the
event is not delivered and the failure is counted (DELIVERIES), as AWS counts the rule's FailedInvocations.
PutEvents refuses entries whose source starts with "aws." (only AWS services emit those; moto 5.2.5 accepts them):
`aws_sources_are_reserved`.
moto's default target input also drops the event's `account`, which AWS delivers (an SQS target gets the whole event):
`targets_get_the_whole_event` puts it back.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from landing_zone.local.patching import MotoChanged, replaced, require

logger = logging.getLogger(__name__)
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


@dataclass(frozen=True)
class FailedInvocation:
    rule: str
    target: str
    reason: str


@dataclass
class Deliveries:
    """Every event a rule handed to another account's (or region's) bus, or failed to: AWS counts the latter in the
    rule's FailedInvocations metric; here tests and the demo read them."""

    delivered: int = 0
    failed: list[FailedInvocation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.delivered = 0
            self.failed.clear()

    def record(self, failure: FailedInvocation | None) -> None:
        with self._lock:
            if failure is None:
                self.delivered += 1
            else:
                self.failed.append(failure)


DELIVERIES = Deliveries()


def _delivery_refused(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> str | None:
    """Why EventBridge would not deliver `event` from `rule` to the bus `target`, or None. Same account and region:
    delivered. Otherwise the target needs a RoleArn when the bus is in another region, or when the bus's policy admits
    the sender only through its organization ("you must specify a RoleArn": PutTargets); EventBridge assumes the role
    (its trust must admit events.amazonaws.com for this rule) and puts the event as the role, "and any SCPs affecting
    this account are applied": decided by the emulator's evaluator, like any call of the role.
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html"""
    from landing_zone.local.authorization import middleware, state
    from scps import evaluate

    _arn, _aws, _events, region, account, _resource = target["Arn"].split(":", 5)
    if account == rule.account_id and region == rule.region_name:
        return None
    keys = {"events:source": event.get("source", ""), "events:detail-type": event.get("detail-type", "")}
    role = target.get("RoleArn")
    if not role:
        if region != rule.region_name:
            return "a bus in another region is a target only with a RoleArn"
        # The account-to-account grant: the bus's policy must name the sender's account; an organization grant does
        # not count without a role (no aws:PrincipalOrgID is set for it).
        policy, owner = state.resource_policy(target["Arn"], "events:PutEvents", region)
        sender = f"arn:aws:iam::{rule.account_id}:root"
        request = evaluate.Request(
            action="events:PutEvents",
            resource=target["Arn"],
            principal_arn=sender,
            context={**keys, "aws:PrincipalAccount": rule.account_id, "aws:RequestedRegion": region},
            principal=evaluate.Principal(arn=sender, account=rule.account_id),
            literal_resource=True,
        )
        allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        decision = evaluate.decide(
            request, evaluate.Policies(identity=(allow_all,), resource=policy, resource_account=owner or account)
        )
        if decision.allowed:
            return None
        return (
            f"no RoleArn, and the bus's policy does not admit account {rule.account_id} by its id ({decision.reason})"
        )
    source = {"aws:SourceAccount": rule.account_id, "aws:SourceArn": rule.arn}
    denied = middleware.decide_as_service_role(
        role, "events.amazonaws.com", source, "events:PutEvents", target["Arn"], region, keys
    )
    return None if denied is None else f"{denied.action} refused ({denied.reason}): {denied.message}"


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
                refused = _delivery_refused(self, target, original_event)
                DELIVERIES.record(FailedInvocation(self.arn, target["Arn"], refused) if refused else None)
                if refused:
                    logger.warning("FailedInvocation %s -> %s: %s", self.arn, target["Arn"], refused)
                    continue
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


RESERVED_SOURCE_PREFIX = "aws."


@contextlib.contextmanager
def aws_sources_are_reserved() -> Iterator[None]:
    """PutEvents answers an entry whose Source starts with "aws." with NotAuthorizedForSourceException and puts nothing
    (customer events "can have any value here, as long as it doesn't begin with 'aws.'"): without it, a team could put
    a fake `stopped` state change on its bus and its forwarding rule would carry it to the meter. The emulator's own
    state-change events (_emit) do not go through PutEvents."""
    from moto.events.models import EventsBackend

    def make(original: Any) -> Any:
        def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if len(events) > 10:
                return list(original(self, events))  # moto's own validation error
            out: list[dict[str, Any] | None] = []
            allowed = []
            for entry in events:
                if str(entry.get("Source") or "").startswith(RESERVED_SOURCE_PREFIX):
                    out.append(
                        {
                            "ErrorCode": "NotAuthorizedForSourceException",
                            "ErrorMessage": "Not authorized for the source.",
                        }
                    )
                else:
                    out.append(None)
                    allowed.append(entry)
            answers = iter(original(self, allowed) if allowed else [])
            return [entry if entry is not None else next(answers) for entry in out]

        return put_events

    with replaced(EventsBackend, "put_events", ("self", "events"), make):
        yield
