"""CheckPipelines: one poll of the runs; the Wait state and the cap live in the state machine."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.context import Context, begin_step, logger
from vending.pipeline.approvals import DynamoDbApprovalStore
from vending.pipeline.orchestration import check_pipelines


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "CheckPipelines")
    ctx = Context()
    result = check_pipelines(
        ctx.runs(),
        state.request,
        polls=int((state.pipelines or {}).get("polls", 0)),
        max_polls=state.settings.pipeline_poll_max,
        approvals=DynamoDbApprovalStore(ctx.client("dynamodb"), ctx.settings.approvals_table),
        launcher=ctx.launcher(),
    )
    if result["done"]:
        ctx.store.update(state.request.request_id, step="CheckPipelines", pipelines=result["runs"])
    return result
