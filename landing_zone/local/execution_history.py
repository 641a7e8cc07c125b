"""GetExecutionHistory paged as AWS pages it.

moto answers every GetExecutionHistory with the whole history and ignores maxResults, reverseOrder and nextToken.
AWS returns at most maxResults events (100 when it is absent or 0; 1,000 at most), oldest first unless reverseOrder,
with a nextToken while more remain, and refuses a token it did not hand out for that call (InvalidToken). Two reasons
to emulate it: a client that reads only the first page (`maxResults=1000`, no token) misses events in AWS and would
not here; and a client that follows a running execution (the demo polls every half second) re-read and re-serialized
the whole growing history on every poll: 610 calls and 15 s of the serializer's CPU in the least-privilege test.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from landing_zone.local.patching import replaced

DEFAULT_PAGE = 100
LARGEST_PAGE = 1000
FOLLOW_PAGE = 10


def _token(arn: str, reverse: bool, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([arn, reverse, offset]).encode()).decode()


def _offset(token: str, arn: str, reverse: bool) -> int:
    """Where the page a token names starts; InvalidToken unless it was handed out for this execution and order."""
    from moto.stepfunctions.exceptions import InvalidToken

    try:
        their_arn, their_reverse, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as e:
        raise InvalidToken("the token was not handed out by GetExecutionHistory") from e
    if their_arn != arn or their_reverse is not reverse or not isinstance(offset, int) or offset < 0:
        raise InvalidToken("the token was handed out for another execution or order")
    return offset


def history_page(
    events: Sequence[Any], arn: str, *, max_results: Any = None, reverse: Any = False, token: Any = None
) -> dict[str, Any]:
    """One page of an execution's events, as AWS answers GetExecutionHistory."""
    from moto.stepfunctions.exceptions import ValidationException

    if max_results is not None and (not isinstance(max_results, int) or not 0 <= max_results <= LARGEST_PAGE):
        raise ValidationException(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {LARGEST_PAGE}"
        )
    size = max_results or DEFAULT_PAGE
    reverse = bool(reverse)
    ordered = list(reversed(events)) if reverse else list(events)
    start = _offset(token, arn, reverse) if token else 0
    page: dict[str, Any] = {"events": ordered[start : start + size]}
    if start + size < len(ordered):
        page["nextToken"] = _token(arn, reverse, start + size)
    return page


@contextlib.contextmanager
def execution_history_paged() -> Iterator[None]:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def make(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def get_execution_history(self: Any) -> Any:
            whole = original(self).result  # ExecutionDoesNotExist and the rest as moto raises them
            arn = self._get_param("executionArn")
            return ActionResult(
                history_page(
                    whole["events"],
                    arn,
                    max_results=self._get_param("maxResults"),
                    reverse=self._get_param("reverseOrder"),
                    token=self._get_param("nextToken"),
                )
            )

        return get_execution_history

    with replaced(StepFunctionResponse, "get_execution_history", ("self",), make):
        yield


def whole_history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of an execution, oldest first, page after page (one page of 1,000 is not all of it in AWS)."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 1000})
    return [event for page in pages for event in page["events"]]


def events_after(sfn: Any, arn: str, last_id: int) -> list[dict[str, Any]]:
    """The execution's events after event `last_id`, oldest first. Read newest first, a page at a time, up to the
    first event already seen: a poll costs what happened since the last one, not the whole history again. Pages of
    FOLLOW_PAGE events: a half-second poll finds a few new ones, and a page of AWS's default 100 re-sent (and the
    emulator re-serialized) up to 100 old events, input and output included, every poll."""
    fresh: list[dict[str, Any]] = []
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, reverseOrder=True, PaginationConfig={"PageSize": FOLLOW_PAGE}
    )
    for page in pages:
        for event in page["events"]:
            if event["id"] <= last_id:
                return fresh[::-1]
            fresh.append(event)
    return fresh[::-1]
