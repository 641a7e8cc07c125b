"""The onboarding event contract (EventBridge envelope) and its rejection event."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vending.exceptions import InvalidRequest, RequestTooLarge
from vending.request import MAX_BODY_BYTES, describe_errors, invalid, load_json
from vending.settings import Settings

ONBOARDING_SOURCE = "platform.onboarding"
ONBOARDING_DETAIL_TYPE = "Team Onboarding Requested"
REJECTED_DETAIL_TYPE = "Team Onboarding Rejected"

# The rule that routes onboarding events; the CDK stack and the local runtime both use it.
ONBOARDING_EVENT_PATTERN = {"source": [ONBOARDING_SOURCE], "detail-type": [ONBOARDING_DETAIL_TYPE]}


# The envelope around a request: EventBridge's fields are well under this (an event is at most 256 KB).
MAX_ENVELOPE_BYTES = MAX_BODY_BYTES + 4096


class OnboardingEvent(BaseModel):
    """The EventBridge envelope as delivered through SQS. `detail` is left raw: the request model judges it, so a
    detail that is not an object is rejected naming `request` instead of failing the batch record."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    source: str
    detail_type: str = Field(alias="detail-type")
    detail: Any = None


def parse_envelope(body: str) -> OnboardingEvent:
    """An SQS message body, within the limits, as an onboarding event; InvalidRequest otherwise."""
    data = load_json(body, max_bytes=MAX_ENVELOPE_BYTES)
    if not isinstance(data, dict):
        raise invalid([{"field": "event", "message": "the message body is not an EventBridge event object"}])
    try:
        event = OnboardingEvent.model_validate(data)
    except ValidationError as e:
        raise invalid([{"field": f"event.{p['field']}", "message": p["message"]} for p in describe_errors(e)]) from e
    # The request inside gets the same size limit as an API body or a --file document.
    size = len(json.dumps(event.detail).encode())
    if size > MAX_BODY_BYTES:
        raise RequestTooLarge(
            f"request: detail is {size} bytes, over the {MAX_BODY_BYTES}-byte limit",
            details=[{"field": "request", "message": f"body over {MAX_BODY_BYTES} bytes"}],
        )
    return event


def onboarding_entry(detail: dict[str, Any], bus: str = "default") -> dict[str, Any]:
    """A PutEvents entry in the real envelope, as an onboarding portal would send it."""
    return {
        "Source": ONBOARDING_SOURCE,
        "DetailType": ONBOARDING_DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }


def publish_rejection(events: Any, settings: Settings, detail: Any, error: InvalidRequest) -> None:
    events.put_events(
        Entries=[
            {
                "Source": settings.event_source,
                "DetailType": REJECTED_DETAIL_TYPE,
                "EventBusName": settings.event_bus_name,
                "Detail": json.dumps({"request": detail, "errors": error.details, "message": str(error)}, default=str),
            }
        ]
    )
