"""PlaceInOu: the stage OU from the layout, created if missing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.accounts import place_in_ou
from vending.aws.errors import transient_as_retryable
from vending.context import Context, begin_step, logger


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = begin_step(event, "PlaceInOu")
    ctx = Context()
    return place_in_ou(ctx.client("organizations"), ctx.store, state.request, ctx.layout, state.account_id())
