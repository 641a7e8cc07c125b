"""Routes of the vending API. One resolver: the Lambda handler, `vend api serve` and the OpenAPI spec use it."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from pydantic import ValidationError

from vending.exceptions import InvalidRequest, RequestNotFound, ReservationConflict, VendingError
from vending.handlers.common import Context, logger
from vending.lifecycle import RequestRecord
from vending.request import parse_request
from vending.service import SubmitResult, submit_request

app = APIGatewayRestResolver(enable_validation=True)


def _error(status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@app.exception_handler(InvalidRequest)
def _invalid(e: InvalidRequest) -> Response:
    return _error(400, "InvalidRequest", str(e), e.details)


@app.exception_handler(RequestNotFound)
def _not_found(e: RequestNotFound) -> Response:
    return _error(404, "RequestNotFound", str(e))


@app.exception_handler(ReservationConflict)
def _conflict(e: ReservationConflict) -> Response:
    return _error(409, "ReservationConflict", str(e))


@app.exception_handler(VendingError)
def _vending_error(e: VendingError) -> Response:
    return _error(422, type(e).__name__, str(e))


@app.exception_handler(ValidationError)
def _validation(e: ValidationError) -> Response:
    return _error(400, "InvalidRequest", str(e))


@cache
def _idempotent_submit(table: str) -> Any:
    """Built on first use (not at import): the persistence layer creates a DynamoDB client."""
    persistence = DynamoDBPersistenceLayer(table_name=table)
    config = IdempotencyConfig(event_key_jmespath="[team, stage]", expires_after_seconds=600)

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def submit(*, request: dict[str, Any]) -> dict[str, Any]:
        ctx = Context()
        result = submit_request(ctx.client("stepfunctions"), ctx.store, ctx.settings.state_machine_arn,
                                parse_request(request))
        return result.model_dump()

    return submit


@app.post("/requests", summary="Submit a vending request (idempotent per team and stage)")
def create_request() -> Response:
    try:
        body = app.current_event.json_body
    except (json.JSONDecodeError, TypeError) as e:
        raise InvalidRequest("request: body must be a JSON object") from e
    request = parse_request(body)
    ctx = Context()
    result = SubmitResult.model_validate(
        _idempotent_submit(ctx.settings.idempotency_table)(request=request.model_dump(mode="json")))
    logger.info("request submitted", extra={"request_id": result.request_id, "outcome": result.outcome})
    status = 202 if result.outcome in {"started", "resumed"} else 200
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=result.model_dump_json())


@app.get("/requests/<request_id>", summary="One request with its lifecycle")
def get_request(request_id: str) -> RequestRecord:
    return Context().store.require(request_id)


@app.get("/requests", summary="All requests, optionally filtered by team or status")
def list_requests(team: str | None = None, status: str | None = None) -> dict[str, list[RequestRecord]]:
    return {"requests": Context().store.list(team=team, status=status)}


@app.post("/requests/<request_id>/resume", summary="Resume a FAILED request from its failed step")
def resume_request(request_id: str) -> Response:
    ctx = Context()
    record = ctx.store.require(request_id)
    result = submit_request(ctx.client("stepfunctions"), ctx.store, ctx.settings.state_machine_arn,
                            parse_request(record.request))
    return Response(status_code=202 if result.outcome == "resumed" else 200,
                    content_type=content_types.APPLICATION_JSON, body=result.model_dump_json())
