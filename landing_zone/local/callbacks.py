"""Emulator gap: moto's SendTaskFailure handler drops `cause` (5.2: it passes only `error` to the interpreter), so
a callback task failed by a pipeline worker would reach the Catch without its reason. AWS keeps the cause; this
passes it through, so RecordFailed records what failed exactly as it does in AWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def pass_task_failure_cause() -> Callable[[], None]:
    """Install the fix; returns the function that undoes it."""
    import inspect

    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.send_task_failure

    def send_task_failure(self: Any) -> Any:
        backend = self.stepfunction_backend
        if "cause" not in inspect.signature(backend.send_task_failure).parameters:
            return original(self)  # the backend without the interpreter has no cause to keep
        backend.send_task_failure(self._get_param("taskToken"), error=self._get_param("error"),
                                  cause=self._get_param("cause"))
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]

    def undo() -> None:
        StepFunctionResponse.send_task_failure = original  # type: ignore[method-assign]

    return undo
