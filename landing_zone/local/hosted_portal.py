"""`vend console --hosted`: the portal as AWS hosts it, on the emulator. The static files are served as CloudFront
would (same files, same Content-Security-Policy) on one origin, and the vending API on another: the browser signs
every call with SigV4 from a one-hour role session, the API server verifies the signature as API Gateway does
(vending.cli.sigv4, with the emulator's secrets) and answers the CORS preflight for the portal's origin only.

Sign-in is the one local stand-in: instead of Cognito's hosted UI and identity pool, POST /local/sign-in assumes the
chosen principal's role (landing_zone.local.console.EmulatorSignIn) and hands the browser that temporary session, as
GetCredentialsForIdentity would. It takes JSON only, so a page on another origin cannot get one (the preflight fails).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from landing_zone.grant_statements import PORTAL_ADMIN_ROLE, PORTAL_APPROVER_ROLE
from landing_zone.local.console import EmulatorSignIn
from vending.layout import cached_layout
from vending.portal.site import (
    CONTENT_TYPES,
    config,
    connect_sources,
    content_security_policy,
    request_schema_json,
    site_files,
)

MAX_SIGN_IN_BYTES = 1024


class SiteHandler(BaseHTTPRequestHandler):
    server_version = "vend-site"
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one send: see vending/cli/api.py's ApiRequestHandler (Nagle, 40 ms a call)

    def do_GET(self) -> None:
        site: HostedSite = self.server.site  # type: ignore[attr-defined]
        name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
        if name == "local/principals":
            self._json(200, [asdict(c) for c in site.sign_in.choices()])
        elif name == "config.json":
            self._json(200, site.config)
        elif name == "request-schema.json":
            self._send(200, CONTENT_TYPES[".json"], site.schema)
        elif name in site.files:
            path = site.files[name]
            self._send(200, CONTENT_TYPES[path.suffix], path.read_bytes())
        else:
            self._send(404, "text/plain", b"not found")

    do_HEAD = do_GET  # as CloudFront answers HEAD for the same files

    def do_POST(self) -> None:
        site: HostedSite = self.server.site  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= MAX_SIGN_IN_BYTES else b""
        if self.path != "/local/sign-in" or self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            self._send(404, "text/plain", b"not found")
            return
        try:
            key = json.loads(body or b"{}").get("principal", "")
            signed = site.sign_in.sign_in(str(key))
        except (ValueError, AttributeError) as e:
            self._json(400, {"message": str(e)})
            return
        self._json(200, {**signed.credentials, "Expiration": int(signed.expires_at), "Arn": signed.arn})

    def _json(self, status: int, value: Any) -> None:
        self._send(status, "application/json", json.dumps(value).encode())

    def _send(self, status: int, content_type: str, raw: bytes | str) -> None:
        data = raw.encode() if isinstance(raw, str) else raw
        site: HostedSite = self.server.site  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in {
            "Content-Type": content_type,
            "Content-Security-Policy": site.csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            "Content-Length": str(len(data)),
        }.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # the browser test's own report says what was fetched
        pass


class HostedSite:
    """The two servers of the hosted portal on 127.0.0.1: the static site and the signed API."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        site_port: int = 0,
        api_port: int = 0,
        sign_in: dict[str, Any] | None = None,
    ) -> None:
        """`sign_in`: config.json's signIn (default: the local stand-in); a test passes a Cognito one to walk the
        browser's Cognito flow against endpoints it answers itself."""
        from landing_zone.local.cli import api_session, signing_secrets
        from vending.cli.api import make_server

        session = session or boto3.Session()
        account = str(session.client("sts").get_caller_identity()["Account"])
        self.sign_in = EmulatorSignIn(account, cached_layout(), session, (PORTAL_ADMIN_ROLE, PORTAL_APPROVER_ROLE))
        self.site_server = ThreadingHTTPServer(("127.0.0.1", site_port), SiteHandler)
        self.site_server.daemon_threads = True
        self.site_server.site = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.site_server.server_address[1]}"
        self.api_server = make_server(
            api_port, secrets=signing_secrets, session_factory=api_session, cors_origin=self.url
        )
        self.api_url = f"http://127.0.0.1:{self.api_server.server_address[1]}"
        self.files = site_files()
        self.schema = request_schema_json()
        self.config = config(
            self.api_url,
            session.region_name or "us-east-1",
            sign_in or {"kind": "local", "url": "/local/sign-in", "principalsUrl": "/local/principals"},
        )
        self.csp = content_security_policy(connect_sources(self.config))

    def start(self) -> HostedSite:
        for server in (self.site_server, self.api_server):
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="vend-hosted-portal", daemon=True
            ).start()
        return self

    def stop(self) -> None:
        for server in (self.site_server, self.api_server):
            server.shutdown()
            server.server_close()
