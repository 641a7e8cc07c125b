"""RecordReady: the request is done."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.changes import ChangeStore, settle_resumed_change
from vending.context import Context, begin_step, logger, metrics
from vending.lifecycle import Status


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "RecordReady")
    runs = (state.pipelines or {}).get("runs")  # what CheckPipelines' callback reported
    # A stack destroyed on the way (a resumed change) keeps its run in the runs table, not on the record.
    kept = {s: r for s, r in runs.items() if s in state.request.stacks} if runs is not None else None
    fields = {"pipelines": kept} if kept is not None else {}
    ctx = Context()
    record = ctx.store.update(state.request.request_id, status=Status.READY, step="RecordReady", **fields)
    # A resumed change that had failed: its intent is the account's now.
    changes = ChangeStore(ctx.client("dynamodb"), ctx.settings.changes_table)
    settle_resumed_change(ctx.store, changes, record, record.execution_name)
    metrics.add_metric(name="AccountsReady", unit="Count", value=1)
    logger.info("request ready", extra={"account_id": record.account_id})
    return {"status": record.status.value, "account_id": record.account_id}
