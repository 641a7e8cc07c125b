"""The data that flows through the state machine, and the execution input the entry points build."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from vending.accounts import AccountProgress
from vending.exceptions import InvalidWorkflowState
from vending.request import VendingRequest


class WorkflowSettings(BaseModel):
    """Polling cadence and caps. AWS defaults; the local emulator passes short waits."""

    account_poll_seconds: int = 30
    account_poll_max: int = 60  # 30 minutes: Organizations usually finishes in a few
    pipeline_poll_seconds: int = 30
    pipeline_poll_max: int = 240  # 2 hours of Terraform


class WorkflowState(BaseModel):
    """The execution's state document. Steps add keys with ResultPath; unknown keys pass through."""

    model_config = ConfigDict(extra="allow")

    request: VendingRequest
    execution: str = ""
    settings: WorkflowSettings = WorkflowSettings()
    account: AccountProgress | None = None
    pipelines: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def account_id(self) -> str:
        if not self.account or not self.account.account_id:
            raise InvalidWorkflowState("no account id in the execution state")
        return self.account.account_id


def execution_input(
    request: VendingRequest, execution: str, settings: WorkflowSettings | None = None
) -> dict[str, Any]:
    return {
        "request": request.model_dump(mode="json"),
        "execution": execution,
        "settings": (settings or WorkflowSettings()).model_dump(),
    }
