"""TagAccount: the cost tags, on the account in Organizations."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.accounts import tag_account
from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "TagAccount")
    ctx = Context()
    return tag_account(ctx.client("organizations"), ctx.store, state.request, state.account_id())
