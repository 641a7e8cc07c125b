"""ApplyChange: the account's GPU tier SCP and team region fence for the new intent, then its CI role trust, budget
and GPU quotas (member account)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.changes import LifecycleState, apply_change_guardrails, converge_account
from vending.context import Context, logger
from vending.quotas import QuotaState, converge_quotas, pending
from vending.spend.backstop import converge_backstop
from vending.usage_forwarding import ensure_usage_forwarding, platform_bus_arn


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = LifecycleState.model_validate(event)
    request = state.request
    logger.append_keys(team=request.team, request_id=request.request_id, change_id=state.change_id, step="ApplyChange")
    ctx = Context()
    record = ctx.store.require(request.request_id)
    account_id = record.account_id or ""
    org = ctx.client("organizations")
    guardrails = apply_change_guardrails(org, ctx.layout, ctx.store, request, account_id=account_id)
    role = access_role_arn(account_id, ctx.layout.organization.access_role_name)
    member = assume_role_session(ctx.client("sts"), role, f"vending-change-{request.team}", request.home_region)
    settings = converge_account(
        member, ctx.layout, request, account_id=account_id, pipeline_role_arn=ctx.settings.pipeline_role_arn
    )
    # An upgrade (or a new region) requests more; a downgrade records what stays raised (vending.quotas).
    quotas = converge_quotas(
        lambda region: member.client("service-quotas", region_name=region),
        ctx.layout.quota_needs(request.gpu_tier),
        request.regions,
        recorded=[QuotaState.model_validate(q) for q in record.quotas],
    )
    # The live meter's forwarding rule in every region of the new intent (enabled again if it was switched off).
    platform = ctx.settings.platform_account_id or ctx.client("sts").get_caller_identity()["Account"]
    ensure_usage_forwarding(
        lambda region: member.client("events", region_name=region),
        member.client("iam"),
        account_id,
        request.regions,
        platform_bus_arn(ctx.session.region_name or request.home_region, platform, ctx.settings.event_bus_name),
        ctx.layout.organization.allowed_regions,
    )
    # The Budgets backstop's amount follows the (new) tier's monthly budget.
    backstop = converge_backstop(
        ctx.client("budgets"),
        org,
        ctx.layout,
        management_account_id=platform,
        account_id=account_id,
        team=request.team,
        gpu_tier=request.gpu_tier,
        owner_email=request.owner_email,
        execution_role_arn=ctx.settings.backstop_role_arn,
    )
    ctx.store.update(
        request.request_id,
        step="ApplyChange",
        scps=list(guardrails.policies),
        quotas=[q.model_dump() for q in quotas],
    )
    waiting = [f"{q.region} {q.service}/{q.code}" for q in pending(quotas)]
    logger.info(
        "change applied",
        extra={
            "scp_changes": list(guardrails.changes),
            "account_changes": settings,
            "quotas_pending": waiting,
            "backstop": backstop,
        },
    )
    return {"scp_changes": list(guardrails.changes), "account_changes": settings, "quotas_pending": waiting}
