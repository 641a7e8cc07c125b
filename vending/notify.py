"""Outcome events on EventBridge, for chat-ops, ticketing and the onboarding portal."""

from __future__ import annotations

from typing import Any

from vending.exceptions import EventPublishFailed
from vending.lifecycle import RequestRecord, Status
from vending.settings import Settings

READY = "Team Account Ready"
FAILED = "Team Account Failed"


def publish_outcome(events: Any, settings: Settings, record: RequestRecord) -> str:
    detail_type = READY if record.status == Status.READY else FAILED
    detail = record.model_dump_json(
        include={
            "request_id",
            "team",
            "stage",
            "status",
            "account_id",
            "ou_path",
            "scps",
            "state_bucket",
            "ci_role_arn",
            "pipelines",
            "failed_step",
            "failure_reason",
            "attempts",
            "execution_name",
        }
    )
    response = events.put_events(
        Entries=[
            {
                "Source": settings.event_source,
                "DetailType": detail_type,
                "Detail": detail,
                "EventBusName": settings.event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise EventPublishFailed(f"PutEvents rejected the {detail_type} event: {response['Entries']}")
    return detail_type
