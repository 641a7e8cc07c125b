"""RequestQuotas: the tier's Service Quotas in the new account, in each of its regions, through its access role."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.context import Context, begin_step, logger
from vending.quotas import QuotaState, converge_quotas, pending


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "RequestQuotas")
    ctx, request, account_id = Context(), state.request, state.account_id()
    record = ctx.store.require(request.request_id)
    role = access_role_arn(account_id, ctx.layout.organization.access_role_name)
    member = assume_role_session(ctx.client("sts"), role, f"vending-quotas-{request.team}", request.home_region)
    quotas = converge_quotas(
        lambda region: member.client("service-quotas", region_name=region),
        ctx.layout.quota_needs(request.gpu_tier),
        request.regions,
        recorded=[QuotaState.model_validate(q) for q in record.quotas],
    )
    ctx.store.update(request.request_id, step="RequestQuotas", quotas=[q.model_dump() for q in quotas])
    waiting = pending(quotas)
    logger.info("quotas converged", extra={"quotas": len(quotas), "pending": len(waiting)})
    return {"quotas": len(quotas), "pending": [f"{q.region} {q.service}/{q.code}" for q in waiting]}
