"""ArchiveState: every version of the retired account's state bucket into the platform archive bucket."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.changes import LifecycleState
from vending.context import Context, logger
from vending.exceptions import NotConfigured
from vending.retirement import archive_state


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = LifecycleState.model_validate(event)
    logger.append_keys(team=state.request.team, request_id=state.request.request_id, step="ArchiveState")
    ctx = Context()
    record = ctx.store.require(state.request.request_id)
    if not ctx.settings.archive_bucket:
        raise NotConfigured("no platform archive bucket (VEND_ARCHIVE_BUCKET)")
    if not record.state_bucket:
        return {"skipped": "the account never got a state bucket"}
    role = access_role_arn(str(record.account_id), ctx.layout.organization.access_role_name)
    member = assume_role_session(ctx.client("sts"), role, f"vending-archive-{record.team}", state.request.home_region)
    result = archive_state(
        member.client("s3"),
        ctx.client("s3"),
        bucket=record.state_bucket,
        archive_bucket=ctx.settings.archive_bucket,
        account_id=str(record.account_id),
    )
    ctx.store.update(record.request_id, step="ArchiveState")
    logger.info("state archived", extra=result.model_dump())
    return result.model_dump()
