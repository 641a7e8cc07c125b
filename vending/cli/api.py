"""`vend api`: the vending API outside API Gateway.

- `vend api spec [--output PATH | --check]` writes (or checks) the OpenAPI document generated from the resolver.
- `vend api serve [--port N] [--emulator]` serves the same resolver over HTTP on 127.0.0.1: each HTTP request is
  translated into an API Gateway REST proxy event, and the resolver's proxy response back into HTTP.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vending.portal.site import CORS_ALLOW_HEADERS
from vending.request import MAX_BODY_BYTES
from vending.settings import REPO_ROOT

SPEC_PATH = REPO_ROOT / "docs" / "openapi.json"
API_TITLE = "Account vending API"
API_DESCRIPTION = (
    "Submit and follow account vending requests for LLM teams. In AWS the API is API Gateway REST with IAM "
    "(SigV4) authorization, and its resource policy admits only the platform-admin role."
)


def openapi_json() -> str:
    """The OpenAPI document of the resolver, with the SigV4 (IAM) security scheme API Gateway enforces."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    from vending.api import routes as api_routes

    sigv4 = APIKey(
        name="Authorization",
        in_=APIKeyIn.header,  # type: ignore[call-arg]  # pydantic alias of "in"
        description="AWS Signature Version 4 (IAM authorization); only the platform-admin role may call",
        openapi_extensions={"x-amazon-apigateway-authtype": "awsSigv4"},
    )
    text = api_routes.app.get_openapi_json_schema(
        title=API_TITLE,
        version=_package_version(),
        description=API_DESCRIPTION,
        security_schemes={"sigv4": sigv4},
        security=[{"sigv4": []}],
    )
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def _package_version() -> str:
    import tomllib

    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


# --- HTTP <-> API Gateway REST proxy events ----------------------------------------------------------------------


def http_to_event(
    method: str, target: str, headers: dict[str, str], body: bytes, *, source_ip: str = "127.0.0.1"
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the Lambda integration would receive it."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    # No binary media types are configured on the REST API, so API Gateway hands a body over as text; bytes that are
    # not UTF-8 are passed on base64-encoded, so the resolver refuses them (400) instead of reading replaced text.
    try:
        text, encoded = (body.decode("utf-8") if body else None), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    return {
        "resource": parts.path,
        "path": parts.path,
        "httpMethod": method.upper(),
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": encoded,
        "requestContext": {
            "resourcePath": parts.path,
            "path": parts.path,
            "httpMethod": method.upper(),
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "accountId": os.environ.get("VEND_PLATFORM_ACCOUNT_ID", "123456789012"),
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
        },
    }


class _Context:
    """The bits of a Lambda context the powertools logger reads."""

    function_name = "vending-api-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:vending-api-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def _error_body(code: str, message: str, errors: list[dict[str, str]] | None = None) -> bytes:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return json.dumps(body).encode()


SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=[A-Za-z0-9]+/\d{8}/[a-z0-9-]+/execute-api/aws4_request, ?"
    r"SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$"
)


@cache
def _routes() -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    """Path templates of the spec -> the methods each allows (for 405 on undeclared methods, like a gateway)."""
    spec = json.loads(openapi_json())
    return tuple(
        (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), frozenset(m.upper() for m in methods))
        for path, methods in spec["paths"].items()
    )


def allowed_methods(path: str) -> frozenset[str] | None:
    """The methods the spec declares for this path, or None when no route matches it."""
    return next((methods for pattern, methods in _routes() if pattern.match(path)), None)


class ApiRequestHandler(BaseHTTPRequestHandler):
    server_version = "vend-api"
    protocol_version = "HTTP/1.1"
    # Buffered: the status line, headers and body leave in one send (handle_one_request flushes after each request).
    # Unbuffered, the body was a second small write held by Nagle until the client's delayed ACK: 40 ms per call on a
    # keep-alive connection (a 404 took 56 ms, a third of it the fuzzer's whole run).
    wbufsize = -1

    def _handle(self) -> None:
        json_type = {"Content-Type": "application/json"}
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(HTTPStatus.BAD_REQUEST, json_type, _error_body("BadRequest", "invalid Content-Length"))
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would otherwise be parsed as the next request
            self._send(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                json_type,
                _error_body(
                    "PayloadTooLarge",
                    f"request: body over {MAX_BODY_BYTES} bytes",
                    [{"field": "request", "message": f"body over {MAX_BODY_BYTES} bytes"}],
                ),
            )
            return
        body = self.rfile.read(length) if length else b""  # read before any early answer (keep-alive)
        path = urlsplit(self.path).path
        allowed = allowed_methods(path)
        if allowed is not None and self.command not in allowed:
            self._send(
                HTTPStatus.METHOD_NOT_ALLOWED,
                {**json_type, "Allow": ", ".join(sorted(allowed))},
                _error_body("MethodNotAllowed", f"{self.command} is not allowed on {path}"),
            )
            return
        if self.server.require_sigv4:  # type: ignore[attr-defined]
            # Structural check only (API Gateway verifies the signature in AWS): an unsigned request is refused
            # with 401 and a malformed signature with 403, so clients that forget to sign fail here too.
            auth = self.headers.get("Authorization", "")
            if not auth:
                self._send(
                    HTTPStatus.UNAUTHORIZED,
                    json_type,
                    _error_body("MissingAuthenticationToken", "requests must be signed with SigV4 (IAM)"),
                )
                return
            if not SIGV4.match(auth):
                self._send(
                    HTTPStatus.FORBIDDEN,
                    json_type,
                    _error_body("IncompleteSignature", "the Authorization header is not a SigV4 signature"),
                )
                return
        signer = None
        lookup = getattr(self.server, "secrets", None)
        if lookup is not None and self.server.require_sigv4 and self.headers.get("Authorization"):  # type: ignore[attr-defined]
            # As API Gateway's IAM authorization: the signature is checked and the signer becomes the identity.
            from vending.cli.sigv4 import Refusal, signer_arn

            verdict = signer_arn(self.command, self.path, dict(self.headers.items()), body, lookup)
            if isinstance(verdict, Refusal):
                self._send(HTTPStatus.FORBIDDEN, json_type, _error_body(verdict.code, verdict.message))
                return
            signer = verdict
        try:
            event = http_to_event(
                self.command, self.path, dict(self.headers.items()), body, source_ip=self.client_address[0]
            )
            if signer:
                event["requestContext"]["identity"]["userArn"] = signer
            from vending.api.routes import resolve

            factory = getattr(self.server, "session_factory", None)
            if factory is None:
                result = resolve(event, _Context())
            else:  # on the emulator: as the Api function's role, one session per request (one Lambda invocation)
                from vending.context import invocation_session

                session = factory()
                with invocation_session(lambda: session):
                    result = resolve(event, _Context())
        except Exception as e:  # a crash must still answer JSON (API Gateway would say "Internal server error")
            self.log_error("resolver crashed: %s: %s", type(e).__name__, e)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"Content-Type": "application/json"},
                _error_body("InternalError", f"{type(e).__name__}: {e}"),
            )
            return
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        self._send(int(result.get("statusCode", 200)), headers, raw)

    def do_OPTIONS(self) -> None:
        """A CORS preflight, answered without a signature as API Gateway's mock OPTIONS method does: only for the
        portal's origin (`cors_origin`) and only on the spec's paths."""
        origin = getattr(self.server, "cors_origin", None)
        if not origin:
            self._handle()  # no portal: OPTIONS is a method like any other (405 where the spec does not declare it)
            return
        allowed = allowed_methods(urlsplit(self.path).path)
        if allowed is None or self.headers.get("Origin") != origin:
            self._send(HTTPStatus.FORBIDDEN, {"Content-Type": "application/json"}, _error_body("Forbidden", "no CORS"))
            return
        self._send(
            HTTPStatus.NO_CONTENT,
            {
                "Access-Control-Allow-Methods": ", ".join(sorted(allowed)),
                "Access-Control-Allow-Headers": ", ".join(CORS_ALLOW_HEADERS),
                "Access-Control-Max-Age": "600",
            },
            b"",
        )

    def _send(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        origin = getattr(self.server, "cors_origin", None)
        if origin:  # as the gateway responses and the Lambda's answers carry it in AWS (landing_zone/cdk/api.py)
            headers = {**headers, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        if self.close_connection:  # say so: a keep-alive client would otherwise reuse a socket we are about to close
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 (HTML) for any method without a do_<METHOD>; every method goes to the resolver
        # side instead, which answers 405 JSON for methods the spec does not declare.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("VEND_API_QUIET") != "1":
            super().log_message(format, *args)


class ApiServer(ThreadingHTTPServer):
    request_queue_size = 64  # the default backlog of 5 refuses bursts from a fuzzer or a portal
    daemon_threads = True


def make_server(
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    require_sigv4: bool = True,
    secrets: Any = None,
    session_factory: Callable[[], Any] | None = None,
    cors_origin: str | None = None,
) -> ThreadingHTTPServer:
    """`secrets` (vending.cli.sigv4.SecretLookup): signatures are verified and the signer is the caller; without it
    only their form is checked, and routes that act on someone's behalf answer 403 NotSigned. `session_factory`: the
    resolver's calls are made with a session it returns per request (the Api function's role on the emulator), else
    with this process's credentials. `cors_origin`: the hosted portal's origin, which may call and read answers."""
    _routes()  # the spec is generated once, before threads serve: powertools' schema generation is not thread-safe
    server = ApiServer((host, port), ApiRequestHandler)
    server.require_sigv4 = require_sigv4  # type: ignore[attr-defined]
    server.secrets = secrets  # type: ignore[attr-defined]
    server.session_factory = session_factory  # type: ignore[attr-defined]
    server.cors_origin = cors_origin  # type: ignore[attr-defined]
    return server


# --- commands ----------------------------------------------------------------------------------------------------


def _spec(args: argparse.Namespace) -> int:
    text = openapi_json()
    if args.check:
        committed = Path(args.output).read_text(encoding="utf-8") if Path(args.output).exists() else ""
        if committed != text:
            print(f"{args.output} is out of date: run `vend api spec`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    def run(secrets: Any = None, session_factory: Callable[[], Any] | None = None) -> int:
        server = make_server(
            args.port, require_sigv4=not args.no_auth, secrets=secrets, session_factory=session_factory
        )
        print(f"vending API on http://127.0.0.1:{server.server_address[1]}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0

    if not args.emulator:
        return run()
    with args.hooks.require("emulator_environment")(args.emulator_port) as info:
        print(f"emulator at {info['endpoint']}", flush=True)
        if info.get("exports"):  # to call the API signed as the platform admin from another shell
            print(f"as the platform admin (emulator-only keys):\n{info['exports']}", flush=True)
        # The resolver acts as the Api function's role, as in AWS: the emulator decides each call against its grants.
        return run(
            None if args.unverified else args.hooks.require("signing_secrets"), args.hooks.require("api_session")
        )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("api", help="the vending REST API: OpenAPI spec and a local HTTP server")
    commands = parser.add_subparsers(dest="api_command", required=True)

    spec = commands.add_parser("spec", help="write the OpenAPI document generated from the resolver")
    spec.add_argument("--output", default=str(SPEC_PATH), help="where to write it (default: docs/openapi.json)")
    spec.add_argument("--check", action="store_true", help="exit 1 if the file differs from the generated spec")
    spec.set_defaults(func=_spec)

    serve = commands.add_parser("serve", help="serve the API over HTTP on 127.0.0.1 (API Gateway proxy events)")
    serve.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0 picks a free one)")
    serve.add_argument(
        "--emulator",
        action="store_true",
        help="start the local emulator (moto) and deploy the vending resources into it first",
    )
    serve.add_argument("--emulator-port", type=int, default=0, help="emulator port (default: a free one)")
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="accept unsigned requests (by default a SigV4 Authorization header is required, as in AWS)",
    )
    serve.add_argument(
        "--unverified",
        action="store_true",
        help="with --emulator: check only the SigV4 header's form, not the signature (for a fuzzer that cannot sign); "
        "routes that act on someone's behalf then answer 403 NotSigned",
    )
    serve.set_defaults(func=_serve)
