"""ApplyGuardrails: reconcile the SCPs that govern the account (its OU's and its GPU tier's)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger
from vending.guardrails.account import apply_account_guardrails
from vending.guardrails.intent import team_layout
from vending.lifecycle import Status
from vending.spend.backstop import converge_backstop


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "ApplyGuardrails")
    ctx = Context()
    ctx.store.update(state.request.request_id, status=Status.GUARDRAILS, step="ApplyGuardrails")
    result = apply_account_guardrails(
        ctx.client("organizations"),
        # The team's region fence as its records say (a change may have moved it since layout.yaml was written).
        team_layout(ctx.layout, ctx.store, state.request.team),
        account_id=state.account_id(),
        team=state.request.team,
        stage=state.request.stage,
        gpu_tier=state.request.gpu_tier,
    )
    # The spend fence's backstop in the management account's Budgets (this function runs there).
    backstop = converge_backstop(
        ctx.client("budgets"),
        ctx.client("organizations"),
        ctx.layout,
        management_account_id=ctx.settings.platform_account_id,
        account_id=state.account_id(),
        team=state.request.team,
        gpu_tier=state.request.gpu_tier,
        owner_email=state.request.owner_email,
        execution_role_arn=ctx.settings.backstop_role_arn,
    )
    ctx.store.update(state.request.request_id, step="ApplyGuardrails", scps=list(result.policies))
    logger.info("guardrails in place", extra={"scps": list(result.policies), "backstop": backstop})
    return result.model_dump(mode="json")
