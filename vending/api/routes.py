"""Routes of the vending API. One resolver: the Lambda handler, `vend api serve` and the OpenAPI spec use it."""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import BaseModel, Field, ValidationError

from vending.api.access import Access, access_for
from vending.aws.identity import MAX_PRINCIPAL_ARN, Principal, check_claim, principal_from_arn
from vending.context import Context, logger
from vending.exceptions import (
    InvalidRequest,
    NotPermitted,
    NotSigned,
    RequestNotFound,
    RequestTooLarge,
    ReservationConflict,
    VendingError,
)
from vending.intake import submit
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord
from vending.request import VendingRequest, check_body, check_request_id, parse_body, parse_request
from vending.service import Outcome, SubmitResult, find_state_machine_arn

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
    text = {
        200: "Done, or nothing to do",
        202: "Accepted: an execution was started",
        400: "Invalid input",
        401: "Not signed (IAM authorization, answered by API Gateway)",
        403: "Signature invalid (API Gateway), or the caller may not see or act on this team (NotPermitted)",
        404: "No such request",
        409: "Another execution owns this team and stage",
        413: "The body is over the size limit (not parsed)",
        415: "The body is not JSON",
        422: "The request cannot be processed",
    }
    return {
        code: {"description": text[code], "content": {"application/json": {"model": ok if code < 300 else ErrorBody}}}
        for code in (*codes, 401, 403, 415)
    }


def _error(status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


@app.exception_handler(RequestTooLarge)
def _too_large(e: RequestTooLarge) -> Response:
    return _error(413, "PayloadTooLarge", str(e), e.details)


@app.exception_handler(InvalidRequest)
def _invalid(e: InvalidRequest) -> Response:
    return _error(400, "InvalidRequest", str(e), e.details)


@app.exception_handler(NotSigned)
def _not_signed(e: NotSigned) -> Response:
    return _error(403, "NotSigned", str(e))


def _signed_caller() -> Principal:
    """The caller API Gateway authenticated (IAM authorization puts the signer's ARN in the request context); a body
    never decides who acts."""
    arn = app.current_event.request_context.identity.user_arn
    if not arn:
        raise NotSigned("caller: the request carries no IAM identity; this API takes IAM-signed (SigV4) calls only")
    return principal_from_arn(arn)


@app.exception_handler(NotPermitted)
def _not_permitted(e: NotPermitted) -> Response:
    return _error(403, "NotPermitted", str(e))


def caller_access() -> Access | None:
    """What the signed caller may see and do (vending.api.access), or None for an unsigned event. Only a local server
    without a gateway (tests, `vend api serve --no-auth`) passes one: API Gateway's IAM authorization never does, and
    every route that acts on someone's behalf refuses it (NotSigned)."""
    arn = app.current_event.request_context.identity.user_arn
    if not arn:
        return None
    from vending.settings import Settings

    settings = Settings.from_env()
    # API Gateway always sends requestContext.accountId; a hand-made event may not (powertools' accessor raises then).
    context = app.current_event.raw_event.get("requestContext") or {}
    account = str(context.get("accountId") or "") or settings.platform_account_id
    if not account:
        raise NotPermitted("caller: the API's own account is unknown, so no role name can be resolved")
    access = access_for(principal_from_arn(arn), account, cached_layout(), settings)
    if access.role.value == "none":
        raise NotPermitted(f"caller: {access.principal.arn} is neither a platform principal nor a team lead")
    return access


def team_of(request_id: str) -> str:
    """The team of a request id (`<team>-<stage>`) or change id (`<team>-<stage>.c<n>`)."""
    return request_id.partition(".")[0].rsplit("-", 1)[0]


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


# Built without clients at import; the handler registers the Lambda context so in-progress records expire.
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="name", expires_after_seconds=3600)


def _idempotent_start(ctx: Context) -> Any:
    """StartExecution made idempotent per execution name (a client's retry of the same POST replays the first
    answer instead of racing it). Built per invocation, on the invocation's session: a cached persistence layer
    would keep the first caller's credentials. The stored answer names the caller that started it, so a replay
    tells every other caller it did not."""
    persistence = DynamoDBPersistenceLayer(
        table_name=ctx.settings.idempotency_table, boto3_client=ctx.client("dynamodb")
    )

    @idempotent_function(data_keyword_argument="execution", persistence_store=persistence, config=IDEMPOTENCY)
    def start(*, execution: dict[str, str]) -> dict[str, str]:
        ctx.client("stepfunctions").start_execution(
            stateMachineArn=execution["state_machine_arn"], name=execution["name"], input=execution["input"]
        )
        return {"name": execution["name"], "caller": execution["caller"]}

    return start


def _submit(request: VendingRequest) -> SubmitResult:
    ctx = Context()
    sfn = ctx.client("stepfunctions")
    # Like the CLI: the configured ARN, else the state machine found by name (what `vend local up` deploys).
    arn = ctx.settings.state_machine_arn or find_state_machine_arn(sfn)
    idempotent = _idempotent_start(ctx)

    def start(name: str, payload: str) -> bool:
        caller = uuid.uuid4().hex
        try:
            answer = idempotent(execution={"name": name, "input": payload, "caller": caller, "state_machine_arn": arn})
        except IdempotencyAlreadyInProgressError:
            return False  # another caller is starting this very execution: submit_request joins it
        return bool(answer.get("caller") == caller)

    return submit(sfn, ctx.store, arn, request, terraform_root=ctx.settings.terraform_root, start=start)


PORTAL_ORIGIN_ENV = "VEND_PORTAL_ORIGIN"


def with_cors(result: dict[str, Any], origin: str | None) -> dict[str, Any]:
    """The hosted portal (static files on another origin, VEND_PORTAL_ORIGIN) may read the answer; no other origin
    may. API Gateway answers the preflight (OPTIONS) itself; the answer's own header is the Lambda's to give."""
    if origin:
        headers = dict(result.get("headers") or {})
        headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
        result = {**result, "headers": headers}
    return result


# One event at a time, as one Lambda execution environment takes them. Powertools keeps the event being resolved on
# the module-level `app` (the route, its arguments, the validated body), so two threads resolving at once answer with
# each other's route (`vend api serve` and the consoles serve each request on its own thread). In Lambda it is never
# contended.
_ONE_EVENT_AT_A_TIME = threading.RLock()


def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The resolver behind a body check (and the hosted portal's CORS header: with_cors)."""
    with _ONE_EVENT_AT_A_TIME:
        return with_cors(_resolve(event, context), os.environ.get(PORTAL_ORIGIN_ENV) or None)


def _resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Size and nesting are refused (413/400) before any JSON parser sees the body, since a parser recurses once per
    bracket. The Lambda handler and `vend api serve` both answer through here."""
    body = event.get("body")
    submitting = event.get("httpMethod") == "POST" and event.get("path") == "/requests"
    if body or submitting:
        try:
            raw = base64.b64decode(body or "") if event.get("isBase64Encoded") else (body or "")
            # POST /requests: the body goes through the same parse as --file (an object, no duplicate keys, no NaN)
            # before powertools' validation, which would take a one-element array for the object it holds.
            parse_body(raw) if submitting else check_body(raw)
        except RequestTooLarge as e:
            return _proxy(_error(413, "PayloadTooLarge", str(e), e.details))
        except InvalidRequest as e:
            return _proxy(_error(400, "InvalidRequest", str(e), e.details))
        except ValueError:
            return _proxy(
                _error(
                    400,
                    "InvalidRequest",
                    "request: body is not valid base64",
                    [{"field": "request", "message": "body is not valid base64"}],
                )
            )
    return app.resolve(event, context)


def _proxy(response: Response) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "multiValueHeaders": {},
        "body": response.body,
        "isBase64Encoded": False,
    }


@app.post(
    "/requests",
    summary="Submit a vending request (idempotent per team and stage)",
    responses=_documented(200, 202, 400, 409, 413, 422, ok=SubmitResult),
)
def create_request(
    request: Annotated[VendingRequest, Body(description="What the team asks for")],
) -> Response[SubmitResult]:
    if (access := caller_access()) is not None:
        access.require_act(request.team, "submit a request")
    result = _submit(request)
    logger.info("request submitted", extra={"request_id": result.request_id, "outcome": result.outcome})
    status = 202 if result.outcome in {Outcome.STARTED, Outcome.RESUMED} else 200
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=result)


@app.get(
    "/requests/<request_id>",
    summary="One request with its lifecycle",
    responses=_documented(200, 400, 404, 422, ok=RequestRecord),
)
def get_request(request_id: str) -> RequestRecord:
    check_request_id(request_id)
    if (access := caller_access()) is not None:
        access.require_team(team_of(request_id))
    return Context().store.require(request_id)


class RequestList(BaseModel):
    requests: list[RequestRecord]


@app.get(
    "/requests",
    summary="All requests, optionally filtered by team or status",
    responses=_documented(200, 400, 422, ok=RequestList),
)
def list_requests(team: str | None = None, status: str | None = None) -> dict[str, list[RequestRecord]]:
    access = caller_access()
    if access is not None and team is not None:
        access.require_team(team)
    found = Context().store.list(team=team, status=status)
    return {"requests": [r for r in found if access is None or access.can_see(r.team)]}


@app.post(
    "/requests/<request_id>/resume",
    summary="Resume a FAILED request from its failed step",
    responses=_documented(200, 202, 400, 404, 422, ok=SubmitResult),
)
def resume_request(request_id: str) -> Response[SubmitResult]:
    check_request_id(request_id)
    if (access := caller_access()) is not None:
        access.require_admin("resume a request")
    result = _submit(parse_request(Context().store.require(check_request_id(request_id)).request))
    return Response(
        status_code=202 if result.outcome == Outcome.RESUMED else 200,
        content_type=content_types.APPLICATION_JSON,
        body=result,
    )


# --- day 2: change requests, approvals, retirement (vending.changes, vending.retirement) -----------------------------


class ChangeBody(BaseModel):
    """The fields to change (at least one) and who asks."""

    model_config = {"extra": "forbid"}

    gpu_tier: str | None = None
    regions: list[str] | None = None
    stacks: list[str] | None = None
    repository: str | None = None
    owner_email: str | None = None
    # Who asks is the request's signer (IAM authorization), never this field: if given, it must name the signer.
    requested_by: str | None = Field(None, min_length=1, max_length=MAX_PRINCIPAL_ARN)
    dry_run: bool = False


class ApprovalBody(BaseModel):
    """The approver is the request's signer; `approved_by`, if given, must name the signer."""

    model_config = {"extra": "forbid"}

    approved_by: str | None = Field(None, min_length=1, max_length=MAX_PRINCIPAL_ARN)


class DecommissionResult(BaseModel):
    request_id: str
    execution_name: str
    status: str
    account_id: str | None = None


def _lifecycle_arn(ctx: Context) -> str:
    """Like the vending machine (and the CLI): the configured ARN, else the AccountLifecycle machine found by name."""
    from vending.workflow import LIFECYCLE_STATE_MACHINE_NAME

    return ctx.settings.lifecycle_state_machine_arn or find_state_machine_arn(
        ctx.client("stepfunctions"), LIFECYCLE_STATE_MACHINE_NAME
    )


def _lifecycle_stores() -> tuple[Context, Any]:
    from vending.changes import ChangeStore

    ctx = Context()
    return ctx, ChangeStore(ctx.client("dynamodb"), ctx.settings.changes_table)


@app.patch(
    "/requests/<request_id>",
    summary="Change a READY account (tier, regions, stacks, repository, owner)",
    responses=_documented(200, 202, 400, 404, 413, 422),
)
def change_request(request_id: str, body: Annotated[ChangeBody, Body(description="What to change")]) -> Response[Any]:
    from vending.changes import plan_change, request_change
    from vending.service import settings_from_env

    check_request_id(request_id)
    who = check_claim("requested_by", body.requested_by, _signed_caller())
    access = caller_access()
    assert access is not None  # signed: _signed_caller() refused an unsigned call
    access.require_act(team_of(request_id), "file a change")
    # A change a team lead files always waits for a platform approval: a team never widens what it may do alone.
    review = None if access.role.value == "admin" else f"filed by a lead of {team_of(request_id)}"
    ctx, changes = _lifecycle_stores()
    data = body.model_dump(exclude_none=True, exclude={"requested_by", "dry_run"})
    if body.dry_run:
        change = plan_change(
            ctx.store, changes, ctx.layout, request_id, data, by=who.arn, session=who.session, review=review
        )
    else:
        change = request_change(
            ctx.store,
            changes,
            ctx.layout,
            request_id,
            data,
            by=who.arn,
            session=who.session,
            sfn=ctx.client("stepfunctions"),
            state_machine_arn=_lifecycle_arn(ctx),
            settings=settings_from_env(),
            review=review,
        )
    status = 200 if body.dry_run or change.needs_approval else 202
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={**change.model_dump(mode="json"), "needs_approval": change.needs_approval},
    )


@app.post(
    "/requests/<request_id>/approve",
    summary="Approve the change waiting on a request (not by its requester)",
    responses=_documented(202, 400, 404, 413, 422),
)
def approve_request_change(
    request_id: str, body: Annotated[ApprovalBody, Body(description="Optional: approved_by names the signer")]
) -> Response[Any]:
    from vending.changes import approve_change
    from vending.service import settings_from_env

    check_request_id(request_id, change=True)
    who = check_claim("approved_by", body.approved_by, _signed_caller())
    access = caller_access()
    assert access is not None
    access.require_approver()
    ctx, changes = _lifecycle_stores()
    change = approve_change(
        ctx.store,
        changes,
        request_id,
        by=who.arn,
        session=who.session,
        sfn=ctx.client("stepfunctions"),
        state_machine_arn=_lifecycle_arn(ctx),
        settings=settings_from_env(),
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=change.model_dump(mode="json"))


@app.post(
    "/requests/<request_id>/decommission",
    summary="Retire the account: quarantine, Suspended OU, archive the state, close within the quota",
    responses=_documented(202, 400, 404, 422, ok=DecommissionResult),
)
def decommission_request(
    request_id: str,
    destroy_stacks: Annotated[
        bool, Query(description="destroy every stack through the pipeline first (each plan waits for approval)")
    ] = False,
) -> Response[DecommissionResult]:
    from vending.decommission import start_decommission
    from vending.service import settings_from_env

    check_request_id(request_id)
    if (access := caller_access()) is not None:
        access.require_admin("decommission an account")
    ctx, changes = _lifecycle_stores()
    name, record = start_decommission(
        ctx.store,
        changes,
        request_id,
        sfn=ctx.client("stepfunctions"),
        state_machine_arn=_lifecycle_arn(ctx),
        settings=settings_from_env(),
        destroy_stacks=destroy_stacks,
    )
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body=DecommissionResult(
            request_id=request_id, execution_name=name, status=record.status.value, account_id=record.account_id
        ),
    )


# The read routes (vending.api.reads) register on the same resolver; imported last, as they use what is defined here.
from vending.api import reads as _reads  # noqa: E402,F401
