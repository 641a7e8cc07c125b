"""CheckPipelines: a `.waitForTaskToken` task. Stores the token with the runs (the last worker to finish completes
it), relaunches approved plans, and completes it at once when the runs already say how it ends."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger
from vending.exceptions import InvalidWorkflowState
from vending.pipeline.approvals import DynamoDbApprovalStore
from vending.pipeline.orchestration import check_pipelines


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "CheckPipelines")
    token = event.get("task_token")
    if not token:
        raise InvalidWorkflowState("CheckPipelines needs task_token ($$.Task.Token): a .waitForTaskToken task")
    ctx = Context()
    outcome = check_pipelines(
        ctx.runs(),
        ctx.client("stepfunctions"),
        state.request,
        task_token=str(token),
        execution=state.execution,
        polls=int((state.pipelines or {}).get("polls", 0)),
        max_polls=state.settings.pipeline_poll_max,
        heartbeat_seconds=state.settings.pipeline_heartbeat_seconds,
        approvals=DynamoDbApprovalStore(ctx.client("dynamodb"), ctx.settings.approvals_table),
        launcher=ctx.launcher(),
        # A change's StartChangePipelines names what to await (its destroys too); the approval loop carries it.
        stacks=(state.pipelines or {}).get("stacks"),
    )
    return {"outcome": outcome}  # the task's result is what the token is completed with, not this
