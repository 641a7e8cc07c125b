"""Validate: defence in depth; the entry points validate before they start anything."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.handlers.common import logger
from vending.request import parse_request


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request(event.get("request"))
    logger.append_keys(team=request.team, stage=request.stage, request_id=request.request_id)
    logger.info("request valid")
    return request.model_dump(mode="json")
