"""The state-change events AWS emits and moto does not: EC2 instance state changes and SageMaker endpoint status
changes, put on the account's default event bus the moment the emulated call changes the state, so the member
accounts' forwarding rules and the usage capture (vending.spend.usage) see what they would see in AWS.

- RunInstances: `pending`, then `running` (moto starts instances at once); StartInstances the same;
  StopInstances: `stopping`, `stopped`; TerminateInstances: `shutting-down`, `terminated`.
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
- CreateEndpoint: `IN_SERVICE` (moto's endpoints are in service at once); DeleteEndpoint: `DELETING`.
  https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
Training jobs are not emitted: moto completes them at creation, so their events would bill nothing.

Event times come from `clock` (UTC now unless a test drives it), so a scenario can run hours in seconds.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from landing_zone.local.patching import replaced

Clock = Callable[[], datetime]
EC2_DETAIL = "EC2 Instance State-change Notification"
ENDPOINT_DETAIL = "SageMaker Endpoint State Change"
_INSTANCES_PARAMS = ("self", "instance_ids")
_RUN_PARAMS = ("self", "image_id", "count", "user_data", "security_group_names", "kwargs")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _emit(
    account_id: str, region: str, source: str, detail_type: str, detail: dict[str, Any], arn: str, at: datetime
) -> None:
    from moto.events.models import events_backends

    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": [arn],
        "Time": at.timestamp(),  # as PutEvents hands it to the backend: targets format it as ISO 8601
    }
    [answer] = events_backends[account_id][region].put_events([entry])
    if "EventId" not in answer:
        raise RuntimeError(f"the emulator could not put the {detail_type} event: {answer}")


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

    now = clock or _utc_now

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
