"""RequestClosure: queue the account for CloseAccount and drain the queue as far as the quota allows.

Also the scheduled drain: invoked without a request, it only drains (PENDING_CLOSURE -> CLOSED included)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.changes import LifecycleState
from vending.context import Context, logger
from vending.retirement import CLOSE_ONCE, ClosureQueue, drain_closures


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ctx = Context()
    queue = ClosureQueue(ctx.client("dynamodb"), ctx.settings.closures_table)
    org = ctx.session.client("organizations", config=CLOSE_ONCE)
    if "request" not in event:
        return drain_closures(org, queue, ctx.store).model_dump()
    state = LifecycleState.model_validate(event)
    logger.append_keys(team=state.request.team, request_id=state.request.request_id, step="RequestClosure")
    account_id = str(ctx.store.require(state.request.request_id).account_id)
    queue.enqueue(account_id, state.request.request_id)
    report = drain_closures(org, queue, ctx.store)
    polls = int((state.closure or {}).get("polls", 0)) + 1
    item = queue.get(account_id)
    status = item.status.value if item else "MISSING"
    logger.info("closure queue drained", extra={"status": status, "backlog": len(report.backlog), "polls": polls})
    return {
        "status": status,
        "polls": polls,
        "give_up": polls >= state.settings.closure_poll_max,
        "backlog": report.backlog,
        "stopped_by": report.stopped_by,
    }
