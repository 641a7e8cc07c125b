"""StartPipelines: one Terraform pipeline run per requested stack."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger
from vending.lifecycle import Status
from vending.pipeline.orchestration import start_pipelines


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "StartPipelines")
    ctx = Context()
    record = ctx.store.update(state.request.request_id, status=Status.PIPELINES, step="StartPipelines")
    started = start_pipelines(
        ctx.runs(),
        ctx.launcher(),
        state.request,
        account_id=state.account_id(),
        state_bucket=record.state_bucket or "",
        state_region=state.request.home_region,
        access_role_name=ctx.layout.organization.access_role_name,
        lost_after_seconds=state.settings.pipeline_heartbeat_seconds,
    )
    return {"done": False, "polls": 0, "runs": {stack: {"status": s} for stack, s in started.items()}}
