"""Bootstrap: state bucket and CI role inside the new account, through its access role."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.bootstrap import bootstrap_account
from vending.context import Context, begin_step, logger
from vending.github_setup import GitHubAppSettings, github_step
from vending.lifecycle import Status
from vending.usage_forwarding import ensure_usage_forwarding, platform_bus_arn


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "Bootstrap")
    ctx, request, account_id = Context(), state.request, state.account_id()
    ctx.store.update(request.request_id, status=Status.BOOTSTRAPPING, step="Bootstrap")
    role = access_role_arn(account_id, ctx.layout.organization.access_role_name)
    member = assume_role_session(ctx.client("sts"), role, f"vending-bootstrap-{request.team}", request.home_region)
    result = bootstrap_account(
        member,
        account_id=account_id,
        region=request.home_region,
        repository=request.repository,
        stage=request.stage,
        team=request.team,
        owner_email=request.owner_email,
        monthly_budget_usd=ctx.layout.monthly_budget(request.team, request.gpu_tier),
        pipeline_role_arn=ctx.settings.pipeline_role_arn,
        regions=request.regions,
    )
    record = ctx.store.update(
        request.request_id, step="Bootstrap", state_bucket=result.state_bucket, ci_role_arn=result.ci_role_arn
    )
    logger.info("account bootstrapped", extra={"bucket": result.state_bucket, "ci_role": result.ci_role_arn})
    # The live meter's usage capture: the account's state-change events, forwarded to this account's bus.
    platform = ctx.settings.platform_account_id or ctx.client("sts").get_caller_identity()["Account"]
    forwarding = ensure_usage_forwarding(
        lambda region: member.client("events", region_name=region),
        member.client("iam"),
        account_id,
        request.regions,
        platform_bus_arn(ctx.session.region_name or request.home_region, platform, ctx.settings.event_bus_name),
        ctx.layout.organization.allowed_regions,
    )
    logger.info("usage forwarding converged", extra={"rules": len(forwarding)})
    # The team's repository, once the roles it must name exist: a no-op that says so without a GitHub App setting.
    settings = GitHubAppSettings.from_env()
    github = github_step(
        record,
        layout=ctx.layout,
        settings=settings,
        secretsmanager=ctx.client("secretsmanager") if settings.enabled else None,
    )
    logger.info("github set up", extra={"github": github.get("status"), "writes": len(github.get("writes", []))})
    return {**result.model_dump(), "github": github}
