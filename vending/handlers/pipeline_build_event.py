"""PipelineBuildEvent (AWS): EventBridge "CodeBuild Build State Change" for the pipeline project. A build that
ended without recording its run's outcome fails the run; the request's waiting CheckPipelines task is settled."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.context import Context, logger
from vending.exceptions import InvalidWorkflowState
from vending.pipeline.orchestration import on_build_finished

RUN_ID_VARIABLE = "VEND_RUN_ID"  # set by CodeBuildLauncher as an environment override


def run_id_of(detail: dict[str, Any]) -> str:
    variables = detail.get("additional-information", {}).get("environment", {}).get("environment-variables", [])
    for variable in variables:
        if variable.get("name") == RUN_ID_VARIABLE:
            return str(variable["value"])
    build = detail.get("build-id", "?")
    raise InvalidWorkflowState(f"build {build} has no {RUN_ID_VARIABLE}: not a vending pipeline build")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event.get("detail") or {}
    run_id = run_id_of(detail)
    logger.append_keys(run_id=run_id, build_status=detail.get("build-status"))
    ctx = Context()
    status, build = str(detail.get("build-status", "")), str(detail.get("build-id", ""))
    outcome = on_build_finished(ctx.runs(), ctx.client("stepfunctions"), run_id, status, build)
    return {"run_id": run_id, "outcome": outcome}
