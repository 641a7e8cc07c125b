"""StartPipelines: one Terraform pipeline run per requested stack; on a resume, also the destroys a failed change left
unfinished (stacks the record had that the request no longer has)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger
from vending.lifecycle import Status
from vending.pipeline.orchestration import pending_destroys, start_destroys, start_pipelines


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "StartPipelines")
    ctx = Context()
    record = ctx.store.update(state.request.request_id, status=Status.PIPELINES, step="StartPipelines")
    runs, launcher = ctx.runs(), ctx.launcher()
    where = {
        "account_id": state.account_id(),
        "state_bucket": record.state_bucket or "",
        "state_region": state.request.home_region,
        "access_role_name": ctx.layout.organization.access_role_name,
    }
    lost = state.settings.pipeline_heartbeat_seconds
    started = start_pipelines(runs, launcher, state.request, lost_after_seconds=lost, **where)
    leftover = pending_destroys(runs, state.request, list(record.pipelines))
    destroying = start_destroys(runs, launcher, state.request, leftover, lost_after_seconds=lost, **where)
    return {
        "done": False,
        "polls": 0,
        "stacks": [*started, *destroying],
        "runs": {stack: {"status": s} for stack, s in {**started, **destroying}.items()},
    }
