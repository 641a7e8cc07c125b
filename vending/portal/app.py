"""The self-service portal: server-rendered pages over the vending API's resolver.

Every page gets its data from vending.api.routes (the same resolver API Gateway invokes), called with the signed-in
principal as requestContext.identity.userArn, so the portal never shows or does more than the API lets that
principal (vending.api.access). No front-end build: Jinja2 templates (autoescaped), one CSS and one JS file; every
page works without JS (the JS validates fields as you type and refreshes a running timeline).
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from vending.exceptions import ApiRefused
from vending.portal.sessions import PortalSession, Sessions, SignIn

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "vend_portal"
PRE_COOKIE = "vend_portal_pre"  # the sign-in form's CSRF token (double submit), before any session exists
MAX_FORM_BYTES = 16 * 1024
STATIC = {"portal.css": "text/css; charset=utf-8", "portal.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = {
    # Scripts and styles from this origin only (no inline script), no framing, forms post here only.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
TERMINAL = {"READY", "FAILED", "CLOSED", "SUSPENDED", "PENDING_CLOSURE"}
RECORD_WAIT_SECONDS = 15.0
FIELD_ORDER = ("team", "stage", "owner_email", "cost_center", "gpu_tier", "regions", "stacks", "repository")


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def cookie(self, name: str) -> str | None:
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)


class _LambdaContext:
    function_name = "vending-portal-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:vending-portal-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def api_event(
    method: str, path: str, *, caller: str, account: str, body: Any = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway REST proxy event as IAM authorization hands it to the resolver: the caller's ARN in
    requestContext.identity.userArn, the API's account in requestContext.accountId."""
    now = datetime.now(UTC)
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": path,
            "path": path,
            "httpMethod": method,
            "stage": "portal",
            "requestId": str(uuid.uuid4()),
            "accountId": account,
            "apiId": "portal",
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "identity": {"sourceIp": "127.0.0.1", "userArn": caller},
        },
    }


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = lambda v: "" if v is None else (f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min")
    env.filters["when"] = lambda v: (v or "")[:19].replace("T", " ")
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    return env


class Portal:
    """One portal: the sign-in provider, the sessions, and the API's account (where its role names resolve)."""

    def __init__(
        self,
        sign_in: SignIn,
        *,
        account: str,
        sessions: Sessions | None = None,
        resolver_session: Callable[[], Any] | None = None,
    ) -> None:
        """`resolver_session`: the session the resolver's calls are made with, one per API call (the Api function's
        role on the emulator: landing_zone.local.console); None: this process's credentials (the Lambda's own)."""
        self.sign_in_provider = sign_in
        self.account = account
        self.resolver_session = resolver_session
        self.sessions = sessions or Sessions()
        self.env = _templates()
        self.routes: list[tuple[str, re.Pattern[str], Any]] = [
            ("GET", re.compile(r"^/signin$"), self.signin_page),
            ("POST", re.compile(r"^/signin$"), self.signin_post),
            ("POST", re.compile(r"^/signout$"), self.signout),
            ("GET", re.compile(r"^/$"), self.my_requests),
            ("GET", re.compile(r"^/requests/new$"), self.new_request),
            ("POST", re.compile(r"^/requests/new$"), self.submit_request),
            ("POST", re.compile(r"^/validate$"), self.validate),
            ("GET", re.compile(r"^/requests/(?P<rid>[a-z0-9-]+)$"), self.request_page),
            ("POST", re.compile(r"^/requests/(?P<rid>[a-z0-9-]+)/resume$"), self.resume),
            ("POST", re.compile(r"^/requests/(?P<rid>[a-z0-9-]+)/change$"), self.change),
            ("GET", re.compile(r"^/accounts/(?P<rid>[a-z0-9-]+)$"), self.account_page),
            ("GET", re.compile(r"^/accounts/(?P<rid>[a-z0-9-]+)/guide\.md$"), self.guide),
            ("GET", re.compile(r"^/changes$"), self.changes_page),
            ("POST", re.compile(r"^/changes/(?P<cid>[a-z0-9.-]+)/approve$"), self.approve),
            ("GET", re.compile(r"^/findings$"), self.findings_page),
            ("GET", re.compile(r"^/spend$"), self.spend_page),
        ]

    # --- plumbing ---------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Answer:
        if req.method == "GET" and req.path.startswith("/static/"):
            return self.static(req.path.removeprefix("/static/"))
        for method, pattern, view in self.routes:
            found = pattern.match(req.path)
            if found and method == req.method:
                return self._guarded(view, req, found.groupdict())
        if any(p.match(req.path) for _, p, _ in self.routes):
            return self.page(
                req,
                "error.html",
                HTTPStatus.METHOD_NOT_ALLOWED,
                title="Not allowed",
                message=f"{req.method} is not allowed here",
            )
        return self.page(req, "error.html", HTTPStatus.NOT_FOUND, title="Not found", message=f"No page at {req.path}")

    def _guarded(self, view: Any, req: Request, params: dict[str, str]) -> Answer:
        session = self.sessions.get(req.cookie(SESSION_COOKIE))
        if view not in (self.signin_page, self.signin_post) and session is None:
            if req.method == "GET":
                return redirect("/signin")
            return self.page(req, "error.html", HTTPStatus.UNAUTHORIZED, title="Signed out", message="Sign in first.")
        if req.method == "POST" and session is not None and view is not self.signin_post:
            token = req.headers.get("x-csrf-token") or (req.form().get("csrf") or [""])[0]
            if not hmac.compare_digest(token.encode(), session.csrf.encode()):
                return self.page(
                    req,
                    "error.html",
                    HTTPStatus.FORBIDDEN,
                    session=session,
                    title="Refused",
                    message="The form's CSRF token is missing or wrong: reload the page and try again.",
                )
        try:
            return view(req, session, **params)
        except ApiRefused as e:
            return self.page(
                req,
                "error.html",
                e.status,
                session=session,
                title=f"{e.status} {e.body.get('code', '')}",
                message=e.body.get("message", ""),
            )

    def api(
        self, session: PortalSession, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        from vending.api.routes import resolve

        event = api_event(method, path, caller=session.arn, account=self.account, body=body, query=query)
        if self.resolver_session is None:
            result = resolve(event, _LambdaContext())
        else:  # one invocation of the Api function: its role acts, the signed-in principal is only the caller
            from vending.context import invocation_session

            acting = self.resolver_session()
            with invocation_session(lambda: acting):
                result = resolve(event, _LambdaContext())
        text = result.get("body") or ""
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ", ".join(values)
        kind = headers.get("content-type", "")
        return int(result["statusCode"]), (json.loads(text) if "json" in kind and text else text)

    def api_ok(
        self, session: PortalSession, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> Any:
        status, answer = self.api(session, method, path, body, query)
        if status >= 400:
            raise ApiRefused(status, answer if isinstance(answer, dict) else {"message": str(answer)})
        return answer

    def render(self, name: str, **context: Any) -> bytes:
        return self.env.get_template(name).render(**context).encode("utf-8")

    def page(
        self, req: Request, name: str, status: int = 200, *, session: PortalSession | None = None, **context: Any
    ) -> Answer:
        me = context.pop("me", None)
        if session is not None and me is None:
            status_me, me = self.api(session, "GET", "/me")
            me = me if status_me == 200 else None
        body = self.render(name, session=session, me=me, path=req.path, **context)
        return Answer(int(status), body, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})

    def static(self, name: str) -> Answer:
        if name not in STATIC:
            return Answer(404, b"not found", {"Content-Type": "text/plain"})
        return Answer(
            200, (HERE / "static" / name).read_bytes(), {"Content-Type": STATIC[name], "Cache-Control": "max-age=300"}
        )

    # --- sign in and out ----------------------------------------------------------------------------------------

    def signin_page(self, req: Request, session: PortalSession | None, error: str = "") -> Answer:
        token = secrets.token_urlsafe(32)
        answer = self.page(
            req,
            "signin.html",
            HTTPStatus.BAD_REQUEST if error else 200,
            choices=self.sign_in_provider.choices(),
            pre=token,
            error=error,
            me=None,
        )
        answer.cookies.append(cookie(PRE_COOKIE, token, max_age=600))
        return answer

    def signin_post(self, req: Request, session: PortalSession | None) -> Answer:
        form = req.form()
        sent, kept = (form.get("csrf") or [""])[0], req.cookie(PRE_COOKIE) or ""
        if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
            return self.page(
                req,
                "error.html",
                HTTPStatus.FORBIDDEN,
                title="Refused",
                message="The sign-in form's CSRF token is missing or wrong: reload the sign-in page.",
                me=None,
            )
        key = (form.get("principal") or [""])[0]
        choices = {c.key: c for c in self.sign_in_provider.choices()}
        if key not in choices:
            return self.signin_page(req, None, error="Choose who you are from the list.")
        signed = self.sign_in_provider.sign_in(key)
        created = self.sessions.create(choices[key].label, signed)
        if session is not None:
            self.sessions.delete(session.sid)
        answer = redirect("/")
        answer.cookies += [
            cookie(SESSION_COOKIE, created.sid, max_age=max(int(signed.expires_at - time.time()), 0)),
            cookie(PRE_COOKIE, "", max_age=0),
        ]
        return answer

    def signout(self, req: Request, session: PortalSession | None) -> Answer:
        self.sessions.delete(session.sid if session else None)
        answer = redirect("/signin")
        answer.cookies.append(cookie(SESSION_COOKIE, "", max_age=0))
        return answer

    # --- pages --------------------------------------------------------------------------------------------------

    def my_requests(self, req: Request, session: PortalSession) -> Answer:
        listed = self.api_ok(session, "GET", "/requests")["requests"]
        listed.sort(key=lambda r: r.get("updated_at") or "", reverse=True)
        return self.page(req, "requests.html", session=session, requests=listed)

    def _form_fields(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """The request form from the request model's JSON schema; choices (tiers, regions, stack templates) from the
        layout."""
        from vending.layout import cached_layout
        from vending.pipeline.templates import catalogue
        from vending.request import VendingRequest

        schema = VendingRequest.model_json_schema()
        layout = cached_layout()
        options: dict[str, list[tuple[str, str]]] = {
            "gpu_tier": [(n, f"{n}: {t.description}") for n, t in layout.gpu_tiers.items()],
            "regions": [(r, r) for r in layout.organization.allowed_regions],
            "stacks": [(n, f"{n}: {t.description}") for n, t in sorted(catalogue().items()) if n != "bootstrap"],
        }
        required = set(schema.get("required", []))
        fields = []
        for name in FIELD_ORDER:
            prop = schema["properties"][name]
            kind = "select" if "enum" in prop or name in ("gpu_tier",) else "text"
            choices = [(v, v) for v in prop.get("enum", [])] or options.get(name, [])
            if prop.get("type") == "array":
                kind = "checkboxes"
            fields.append(
                {
                    "name": name,
                    "label": name.replace("_", " ").capitalize(),
                    "help": prop.get("description", ""),
                    "kind": kind,
                    "required": name in required,
                    "pattern": prop.get("pattern"),
                    "minlength": prop.get("minLength"),
                    "maxlength": prop.get("maxLength"),
                    "choices": choices,
                    "value": values.get(name, [] if kind == "checkboxes" else ""),
                    "input_type": "email" if name == "owner_email" else "text",
                }
            )
        return fields

    @staticmethod
    def draft_from(form: dict[str, list[str]]) -> dict[str, Any]:
        draft: dict[str, Any] = {}
        for name in FIELD_ORDER:
            if name in ("regions", "stacks"):
                picked = [v for v in form.get(name, []) if v]
                if name == "stacks":
                    picked = ["bootstrap", *[p for p in picked if p != "bootstrap"]]
                if picked:
                    draft[name] = picked
            elif (value := (form.get(name) or [""])[0].strip()) != "":
                draft[name] = value
        return draft

    def new_request(self, req: Request, session: PortalSession) -> Answer:
        preview = self.api_ok(session, "POST", "/preview", {})
        return self.page(
            req,
            "new_request.html",
            session=session,
            fields=self._form_fields({}),
            errors={},
            preview=preview["preview"],
        )

    def submit_request(self, req: Request, session: PortalSession) -> Answer:
        form = req.form()
        draft = self.draft_from(form)
        checked = self.api_ok(session, "POST", "/preview", draft)
        errors: dict[str, list[str]] = {}
        for e in checked["errors"]:
            errors.setdefault(e["field"].split(".")[0], []).append(e["message"])
        if (form.get("action") or ["submit"])[0] == "preview" or errors:
            return self.page(
                req,
                "new_request.html",
                HTTPStatus.BAD_REQUEST if errors else 200,
                session=session,
                fields=self._form_fields(draft),
                errors=errors,
                preview=checked["preview"],
            )
        status, answer = self.api(session, "POST", "/requests", draft)
        if status >= 400:
            for e in answer.get("errors") or [{"field": "request", "message": answer.get("message", "")}]:
                errors.setdefault(e["field"].split(".")[0], []).append(e["message"])
            return self.page(
                req,
                "new_request.html",
                status,
                session=session,
                fields=self._form_fields(draft),
                errors=errors,
                preview=checked["preview"],
            )
        rid = answer["request_id"]
        # The workflow's Reserve step writes the record a moment after the execution starts: wait for it (bounded), so
        # the request's page exists when the browser gets there.
        deadline = time.monotonic() + RECORD_WAIT_SECONDS
        while self.api(session, "GET", f"/requests/{rid}")[0] == HTTPStatus.NOT_FOUND and time.monotonic() < deadline:
            time.sleep(0.25)
        return redirect(f"/requests/{rid}")

    def validate(self, req: Request, session: PortalSession) -> Answer:
        """The form's as-you-type check (JS): the draft's field errors and the preview, rendered."""
        draft = self.draft_from(req.form())
        checked = self.api_ok(session, "POST", "/preview", draft)
        body = {
            "valid": checked["valid"],
            "errors": checked["errors"],
            "preview_html": self.render("_preview.html", preview=checked["preview"]).decode(),
        }
        return Answer(200, json.dumps(body).encode(), {"Content-Type": "application/json", "Cache-Control": "no-store"})

    def request_page(self, req: Request, session: PortalSession, rid: str) -> Answer:
        record = self.api_ok(session, "GET", f"/requests/{rid}")
        timeline = self.api_ok(session, "GET", f"/requests/{rid}/timeline")
        changes = [c for c in self.api_ok(session, "GET", "/changes")["changes"] if c["request_id"] == rid]
        if (req.query.get("fragment") or [""])[0] == "timeline":
            body = self.render(
                "_timeline.html", record=record, timeline=timeline, terminal=record["status"] in TERMINAL
            )
            return Answer(200, body, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})
        from vending.layout import cached_layout

        return self.page(
            req,
            "request.html",
            session=session,
            record=record,
            timeline=timeline,
            changes=changes,
            terminal=record["status"] in TERMINAL,
            tiers=list(cached_layout().gpu_tiers),
            notice=(req.query.get("notice") or [""])[0],
        )

    def resume(self, req: Request, session: PortalSession, rid: str) -> Answer:
        before = self.api_ok(session, "GET", f"/requests/{rid}")["attempts"]
        self.api_ok(session, "POST", f"/requests/{rid}/resume")
        # The new attempt's Reserve step moves the record off FAILED a moment later: wait for it (bounded), so the page
        # shows the running attempt and refreshes itself.
        deadline = time.monotonic() + RECORD_WAIT_SECONDS
        while time.monotonic() < deadline:
            now = self.api_ok(session, "GET", f"/requests/{rid}")
            if now["attempts"] > before or now["status"] != "FAILED":
                break
            time.sleep(0.25)
        return redirect(f"/requests/{rid}?notice=resumed")

    def change(self, req: Request, session: PortalSession, rid: str) -> Answer:
        form = req.form()
        body: dict[str, Any] = {}
        if tier := (form.get("gpu_tier") or [""])[0]:
            body["gpu_tier"] = tier
        status, answer = self.api(session, "PATCH", f"/requests/{rid}", body)
        if status >= 400:
            raise ApiRefused(status, answer)
        notice = "change-awaits-approval" if answer.get("needs_approval") else "change-started"
        return redirect(f"/requests/{rid}?notice={notice}")

    def account_page(self, req: Request, session: PortalSession, rid: str) -> Answer:
        found = self.api_ok(session, "GET", f"/requests/{rid}/account")
        return self.page(req, "account.html", session=session, record=found["record"], view=found["view"])

    def guide(self, req: Request, session: PortalSession, rid: str) -> Answer:
        text = self.api_ok(session, "GET", f"/requests/{rid}/guide")
        return Answer(
            200,
            str(text).encode("utf-8"),
            {
                "Content-Type": "text/markdown; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{rid}-guide.md"',
                "Cache-Control": "no-store",
            },
        )

    def changes_page(self, req: Request, session: PortalSession) -> Answer:
        changes = self.api_ok(session, "GET", "/changes")["changes"]
        return self.page(
            req, "changes.html", session=session, changes=changes, notice=(req.query.get("notice") or [""])[0]
        )

    def approve(self, req: Request, session: PortalSession, cid: str) -> Answer:
        self.api_ok(session, "POST", f"/requests/{cid}/approve", {})
        return redirect("/changes?notice=approved")

    def findings_page(self, req: Request, session: PortalSession) -> Answer:
        return self.page(req, "findings.html", session=session, report=self.api_ok(session, "GET", "/findings"))

    def spend_page(self, req: Request, session: PortalSession) -> Answer:
        return self.page(req, "spend.html", session=session, spend=self.api_ok(session, "GET", "/spend"))


def cookie(name: str, value: str, *, max_age: int) -> str:
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"


def redirect(location: str) -> Answer:
    return Answer(HTTPStatus.SEE_OTHER, b"", {"Location": location, "Cache-Control": "no-store"})


def parse_target(target: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(target)
    return parts.path, parse_qs(parts.query, keep_blank_values=True)
