"""Emulator gaps in moto 5.2's task-token callbacks, fixed so `.waitForTaskToken` behaves as in AWS:

- SendTaskFailure drops `cause` (only `error` reaches the interpreter), so a callback task failed by a pipeline
  worker would reach the Catch without its reason; this passes it through, so RecordFailed records what failed.
- With HeartbeatSeconds set, a token completed while the task's own Lambda is still running (CheckPipelines finds
  every run already finished and completes its token at once) is only noticed when the heartbeat times out: the
  outcome is stored, but the heartbeat wait starts after it and never looks. AWS completes the task at once; here
  the wait looks for an outcome already delivered before it waits.
- SendTaskSuccess/Heartbeat/Failure look for the token in every execution's worker environment, and an execution
  StartExecution has listed but not yet started has none: the callback answered 500 (AttributeError) whenever it
  crossed a starting execution (the chaos soak met it). Such an execution holds no token; it is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from landing_zone.local.patching import MotoChanged, require


def fix_task_token_callbacks() -> Callable[[], None]:
    """Install the fix; returns the function that undoes it."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    original = require(StepFunctionResponse, "send_task_failure", ("self",))
    require(StepFunctionsParserBackend, "send_task_failure", ("self", "task_token", "error", "cause"))
    original_executions = require(StepFunctionsParserBackend, "_get_executions", ("self", "execution_status"))
    original_wait = require(
        StateTaskServiceCallback,
        "_wait_for_task_token_heartbeat",
        ("self", "env", "callback_endpoint", "heartbeat_endpoint"),
    )
    require(CallbackEndpoint, "get_outcome", ("self",))

    def send_task_failure(self: Any) -> Any:
        backend = self.stepfunction_backend
        if not isinstance(backend, StepFunctionsParserBackend):
            # Without the interpreter moto drops the failure altogether: never what the emulator runs.
            raise MotoChanged("SendTaskFailure reached moto's Step Functions backend without the interpreter")
        backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]

    def wait_with_heartbeat(self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any) -> Any:
        early = callback_endpoint.get_outcome()
        return early if early is not None else original_wait(self, env, callback_endpoint, heartbeat_endpoint)

    StateTaskServiceCallback._wait_for_task_token_heartbeat = wait_with_heartbeat  # type: ignore[method-assign]

    def started_executions(self: Any, execution_status: Any = None) -> list[Any]:
        # Every caller reads `exec_worker.env` (callbacks, map runs): one still starting has neither.
        return [
            e
            for e in original_executions(self, execution_status)
            if getattr(getattr(e, "exec_worker", None), "env", None) is not None
        ]

    StepFunctionsParserBackend._get_executions = started_executions  # type: ignore[method-assign]

    def undo() -> None:
        StepFunctionsParserBackend._get_executions = original_executions  # type: ignore[method-assign]
        StepFunctionResponse.send_task_failure = original  # type: ignore[method-assign]
        StateTaskServiceCallback._wait_for_task_token_heartbeat = original_wait  # type: ignore[method-assign]

    return undo
