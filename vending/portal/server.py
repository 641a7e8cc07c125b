"""The portal over HTTP on 127.0.0.1 (`vend console`): a thin http.server front of vending.portal.app.Portal."""

from __future__ import annotations

import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vending.portal.app import MAX_FORM_BYTES, SECURITY_HEADERS, Answer, Portal, Request, parse_target


class PortalHandler(BaseHTTPRequestHandler):
    server_version = "vend-portal"
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one send: see vending/cli/api.py's ApiRequestHandler (Nagle, 40 ms a call)

    def _serve(self) -> None:
        portal: Portal = self.server.portal  # type: ignore[attr-defined]
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_FORM_BYTES:
            self.close_connection = True
            self._send(Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"form too large", {"Content-Type": "text/plain"}))
            return
        body = self.rfile.read(length) if length else b""
        path, query = parse_target(self.path)
        request = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            answer = portal.handle(request)
        except Exception as e:  # a crash answers 500 without details a browser should not see
            self.log_error("portal crashed: %s: %s", type(e).__name__, e)
            answer = Answer(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error", {"Content-Type": "text/plain"})
        self._send(answer)

    do_GET = _serve
    do_POST = _serve

    def do_HEAD(self) -> None:
        self._send(Answer(HTTPStatus.METHOD_NOT_ALLOWED, b"", {"Allow": "GET, POST"}))

    def _send(self, answer: Answer) -> None:
        self.send_response(int(answer.status))
        for name, value in {**SECURITY_HEADERS, **answer.headers}.items():
            self.send_header(name, value)
        for value in answer.cookies:
            self.send_header("Set-Cookie", value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("VEND_PORTAL_QUIET") != "1":
            super().log_message(format, *args)


class PortalServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def make_portal_server(portal: Portal, port: int = 0, host: str = "127.0.0.1") -> PortalServer:
    server = PortalServer((host, port), PortalHandler)
    server.portal = portal  # type: ignore[attr-defined]
    return server


def serve_in_thread(portal: Portal, port: int = 0) -> tuple[PortalServer, str]:
    """Start serving on 127.0.0.1 in a daemon thread; the caller shuts the server down."""
    server = make_portal_server(portal, port)
    # shutdown() waits for serve_forever's next poll: the default half second made every stop take that long.
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="vend-portal", daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
