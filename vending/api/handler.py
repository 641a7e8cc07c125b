"""The vending REST API (API Gateway REST, IAM auth). Thin routes over vending.api.routes."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.api.routes import IDEMPOTENCY, resolve
from vending.context import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    IDEMPOTENCY.register_lambda_context(context)
    return resolve(event, context)
