"""The onboarding event contract (EventBridge envelope) and its rejection event."""

from __future__ import annotations

import json
from typing import Any

from vending.exceptions import InvalidRequest
from vending.settings import Settings

ONBOARDING_SOURCE = "platform.onboarding"
ONBOARDING_DETAIL_TYPE = "Team Onboarding Requested"
REJECTED_DETAIL_TYPE = "Team Onboarding Rejected"

# The rule that routes onboarding events; the CDK stack and the local runtime both use it.
ONBOARDING_EVENT_PATTERN = {"source": [ONBOARDING_SOURCE], "detail-type": [ONBOARDING_DETAIL_TYPE]}


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
