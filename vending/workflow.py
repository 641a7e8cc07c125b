"""The data that flows through the state machine, and the execution input the entry points build."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from vending.accounts import AccountProgress
from vending.exceptions import InvalidWorkflowState
from vending.request import VendingRequest

# The day-2 machine (step_functions.LIFECYCLE_STATE_MACHINE_NAME; the stack names both machines, side by side).
LIFECYCLE_STATE_MACHINE_NAME = "AccountLifecycle"


class WorkflowSettings(BaseModel):
    """Cadence, backoff and caps. AWS defaults; the local emulator passes short waits."""

    account_poll_seconds: int = 15  # first wait for CreateAccount; then x backoff, up to the cap
    account_poll_backoff: float = 2.0
    account_poll_cap_seconds: int = 120
    account_poll_max: int = 60  # about 2 hours at the cap: Organizations usually finishes in a few minutes
    pipeline_poll_seconds: int = 30  # only while a production plan awaits approval; Terraform itself calls back
    pipeline_poll_max: int = 240  # 2 hours of waiting for an approver
    pipeline_heartbeat_seconds: int = 900  # a worker beats every third of this; silence ends a lost run
    pipeline_timeout_seconds: int = 7200  # one CheckPipelines wait, however busy the workers


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
