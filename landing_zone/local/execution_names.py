"""StartExecution names an execution once, as AWS does, however many callers race.

AWS makes an execution's name unique within its state machine atomically: of any number of simultaneous
StartExecution calls with one name and one input, one starts the execution and every other is answered with it (or
refused with ExecutionAlreadyExists when the input differs). moto looks for the name, then appends the new execution,
with nothing held in between: two callers that both look before either appends both start one, and the service's
"one request, one execution" promise (intake and the CLI both rest on the name) would pass here and fail nowhere. A
lock held across moto's look-and-append closes the gap; it guards both of moto's backends, the plain one (mock_aws)
and the interpreter the emulator runs.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from landing_zone.local.patching import replaced

# One lock for every state machine: a start is a look, an append and (in the interpreter) a thread spawned, so
# serialising all of them costs nothing a test or the demo can see, and a per-machine map would need its own lock.
_NAMING = threading.RLock()


def _atomic(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def start_execution(*args: Any, **kwargs: Any) -> Any:
        with _NAMING:
            return original(*args, **kwargs)

    return start_execution


@contextlib.contextmanager
def execution_names_unique() -> Iterator[None]:
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    with (
        replaced(
            StepFunctionBackend, "start_execution", ("self", "state_machine_arn", "name", "execution_input"), _atomic
        ),
        replaced(
            StepFunctionsParserBackend,
            "start_execution",
            ("self", "state_machine_arn", "name", "execution_input", "trace_header"),
            _atomic,
        ),
    ):
        yield
