"""Routes of the vending API. One resolver: the Lambda handler, `vend api serve` and the OpenAPI spec use it."""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import BaseModel, ValidationError

from vending.context import Context, logger
from vending.exceptions import InvalidRequest, RequestNotFound, ReservationConflict, VendingError
from vending.lifecycle import RequestRecord
from vending.request import VendingRequest, parse_request
from vending.service import Outcome, SubmitResult, submit_request

app = APIGatewayRestResolver(enable_validation=True)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API returns: a code, a message and, for bad input, one entry per bad field."""

    code: str
    message: str
    errors: list[FieldError] | None = None


def _documented(*codes: int, ok: type[BaseModel] | None = None) -> dict[int, Any]:
    """OpenAPI responses: the success codes with the result model, the error codes with ErrorBody."""
    text = {200: "Done, or nothing to do", 202: "Accepted: an execution was started", 400: "Invalid input",
            401: "Not signed (IAM authorization, answered by API Gateway)",
            403: "Signature invalid or caller not the platform-admin role (API Gateway)",
            404: "No such request", 409: "A submission for this team and stage is in progress",
            415: "The body is not JSON", 422: "The request cannot be processed"}
    return {code: {"description": text[code],
                   "content": {"application/json": {"model": ok if code < 300 else ErrorBody}}}
            for code in (*codes, 401, 403, 415)}



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


@app.exception_handler(RequestValidationError)
def _request_validation(e: RequestValidationError) -> Response:
    """Body, path or query that fails the models: 400 naming each bad field, like parse_request does."""
    problems = []
    for item in e.errors():
        loc = [str(p) for p in item.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header"}:
            loc = loc[1:]
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if item.get("type") == "extra_forbidden":
            message = "unknown field"
        elif item.get("type") == "json_invalid":
            loc, message = [], "body must be a JSON object"
        problems.append({"field": ".".join(loc) or "request", "message": message})
    return _error(400, "InvalidRequest", "; ".join(f"{p['field']}: {p['message']}" for p in problems), problems)


@app.not_found
def _route_not_found(e: Exception) -> Response:
    return _error(404, "RouteNotFound", f"no route {app.current_event.http_method} {app.current_event.path}")


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_type(e: RequestUnsupportedContentType) -> Response:
    return _error(415, "UnsupportedMediaType", "send the body as application/json")


@app.exception_handler(ValueError)
def _malformed_multipart(e: ValueError) -> Response:
    # powertools' body parser raises a bare ValueError for a multipart/form-data body without a boundary: bad input,
    # not a crash. Any other ValueError is a bug and stays one.
    if "multipart/form-data" in str(e):
        return _error(415, "UnsupportedMediaType", "send the body as application/json")
    raise e


@app.exception_handler(IdempotencyAlreadyInProgressError)
def _in_progress(e: IdempotencyAlreadyInProgressError) -> Response:
    return _error(409, "RequestInProgress", "the same team and stage is being submitted right now; retry shortly")


# Built without clients at import; the handler registers the Lambda context so in-progress records expire.
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="name", expires_after_seconds=3600)


@cache
def _idempotent_start(table: str) -> Any:
    """StartExecution made idempotent per execution name (a client's retry of the same POST replays the first
    answer instead of racing it). Built on first use: the persistence layer creates a DynamoDB client."""
    persistence = DynamoDBPersistenceLayer(table_name=table)

    @idempotent_function(data_keyword_argument="execution", persistence_store=persistence, config=IDEMPOTENCY)
    def start(*, execution: dict[str, str]) -> dict[str, str]:
        ctx = Context()
        ctx.client("stepfunctions").start_execution(stateMachineArn=ctx.settings.state_machine_arn,
                                                    name=execution["name"], input=execution["input"])
        return {"name": execution["name"]}

    return start


def _submit(request: VendingRequest) -> SubmitResult:
    ctx = Context()
    start = _idempotent_start(ctx.settings.idempotency_table)
    return submit_request(ctx.client("stepfunctions"), ctx.store, ctx.settings.state_machine_arn, request,
                          start=lambda name, payload: start(execution={"name": name, "input": payload}))


@app.post("/requests", summary="Submit a vending request (idempotent per team and stage)",
          responses=_documented(200, 202, 400, 409, 422, ok=SubmitResult))
def create_request(request: Annotated[VendingRequest, Body(description="What the team asks for")],
                   ) -> Response[SubmitResult]:
    result = _submit(request)
    logger.info("request submitted", extra={"request_id": result.request_id, "outcome": result.outcome})
    status = 202 if result.outcome in {Outcome.STARTED, Outcome.RESUMED} else 200
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=result)


@app.get("/requests/<request_id>", summary="One request with its lifecycle",
         responses=_documented(200, 400, 404, 422, ok=RequestRecord))
def get_request(request_id: str) -> RequestRecord:
    return Context().store.require(request_id)


class RequestList(BaseModel):
    requests: list[RequestRecord]


@app.get("/requests", summary="All requests, optionally filtered by team or status",
         responses=_documented(200, 400, 422, ok=RequestList))
def list_requests(team: str | None = None, status: str | None = None) -> dict[str, list[RequestRecord]]:
    return {"requests": Context().store.list(team=team, status=status)}


@app.post("/requests/<request_id>/resume", summary="Resume a FAILED request from its failed step",
          responses=_documented(200, 202, 400, 404, 422, ok=SubmitResult))
def resume_request(request_id: str) -> Response[SubmitResult]:
    result = _submit(parse_request(Context().store.require(request_id).request))
    return Response(status_code=202 if result.outcome == Outcome.RESUMED else 200,
                    content_type=content_types.APPLICATION_JSON, body=result)
