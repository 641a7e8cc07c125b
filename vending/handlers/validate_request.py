"""Validate: defence in depth (the entry points validate before they start anything), and the deployment's
polling cadence, so a request submitted from anywhere waits the way this deployment is configured to."""

import json
import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vending.aws.errors import transient_as_retryable
from vending.context import logger
from vending.request import parse_request


@logger.inject_lambda_context(clear_state=True)
@transient_as_retryable
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request(event.get("request"))
    logger.append_keys(team=request.team, stage=request.stage, request_id=request.request_id)
    settings = event.get("settings") or {}
    if os.environ.get("VEND_WORKFLOW_SETTINGS"):
        settings = {**settings, **json.loads(os.environ["VEND_WORKFLOW_SETTINGS"])}
    logger.info("request valid", extra={"settings": settings})
    return {**event, "request": request.model_dump(mode="json"), "settings": settings}
