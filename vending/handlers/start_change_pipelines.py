"""StartChangePipelines: runs for the stacks a change adds, and again for applied stacks whose variables the change
moved (GPU tier, regions); stacks applied with the same variables are kept. Stacks the change removes are destroyed
(plan -destroy, apply). CheckPipelines awaits all of them (`stacks`)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.changes import LifecycleState
from vending.context import Context, logger
from vending.pipeline.orchestration import start_destroys, start_pipelines


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = LifecycleState.model_validate(event)
    request = state.request
    logger.append_keys(team=request.team, request_id=request.request_id, step="StartChangePipelines")
    ctx = Context()
    record = ctx.store.update(request.request_id, step="StartChangePipelines")
    where = {
        "account_id": record.account_id or "",
        "state_bucket": record.state_bucket or "",
        "state_region": request.home_region,
        "access_role_name": ctx.layout.organization.access_role_name,
    }
    lost = state.settings.pipeline_heartbeat_seconds
    runs, launcher = ctx.runs(), ctx.launcher()
    if state.operation == "decommission":
        # Retiring: nothing is applied any more; every destroy plan waits for a human (`vend pipeline approve`).
        # The account is quarantined, so the team's roles may do nothing: the teardown runs as the platform's access
        # role, and the runner refuses a stack that would run code of its own with it (platform_run_refusals).
        started: dict[str, str] = {}
        destroying = start_destroys(
            runs,
            launcher,
            request,
            state.destroy_stacks,
            gate="manual",
            lost_after_seconds=lost,
            runs_as="platform",
            **where,
        )
    else:
        started = start_pipelines(runs, launcher, request, lost_after_seconds=lost, **where)
        destroying = start_destroys(runs, launcher, request, state.destroy_stacks, lost_after_seconds=lost, **where)
    awaited = [*started, *(s for s in destroying if s not in started)]
    return {
        "done": False,
        "polls": 0,
        "stacks": awaited,
        "runs": {stack: {"status": s} for stack, s in {**started, **destroying}.items()},
    }
