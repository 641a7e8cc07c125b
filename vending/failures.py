"""Which state failed, read from the execution history (the Catch itself does not say)."""

from __future__ import annotations

import json
from typing import Any

TASK_FAILURES = {"LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut"}


def failed_state(sfn: Any, execution_arn: str) -> str | None:
    """The name of the last Task state entered before the last task failure."""
    last_entered: str | None = None
    last_failed: str | None = None
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            if event["type"] == "TaskStateEntered":
                last_entered = event["stateEnteredEventDetails"]["name"]
            elif event["type"] in TASK_FAILURES:
                last_failed = last_entered
    return last_failed


def reason_from(error: dict[str, Any]) -> str:
    """'ErrorName: message' from a Catch's {Error, Cause}; Cause is the Lambda error JSON."""
    try:
        cause = json.loads(error.get("Cause") or "{}")
        message = cause.get("errorMessage", "") if isinstance(cause, dict) else str(cause)
    except json.JSONDecodeError:
        message = str(error.get("Cause", ""))
    name = error.get("Error", "Unknown")
    return f"{name}: {message}" if message else str(name)
