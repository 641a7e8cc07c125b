"""The portal served in-process (landing_zone.local.console.start_console) against the deployed emulator, and a small
HTTP client that keeps its cookies and does not follow redirects, so every answer can be inspected."""

from __future__ import annotations

import http.client
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from landing_zone.local.runtime import Deployment, Emulator, deploy


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    text: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class Client:
    url: str
    cookies: dict[str, str] = field(default_factory=dict)
    seen: list[Reply] = field(default_factory=list)  # every answer, for the no-keys check

    def request(
        self, method: str, path: str, form: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        body = urlencode(form or {}, doseq=True).encode() if form is not None else None
        sent = dict(headers or {})
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        answer = conn.getresponse()
        reply = Reply(answer.status, answer.getheaders(), answer.read().decode("utf-8", errors="replace"))
        conn.close()
        for value in reply.set_cookies():
            name, _, rest = value.partition("=")
            content = rest.split(";", 1)[0]
            if "Max-Age=0" in value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = content
        self.seen.append(reply)
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, form, headers)

    def csrf(self, page: Reply) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        return found.group(1)

    def sign_in(self, principal: str) -> Reply:
        page = self.get("/signin")
        reply = self.post("/signin", {"csrf": self.csrf(page), "principal": principal})
        assert reply.status == 303 and reply.header("Location") == "/", reply
        return reply


@pytest.fixture(scope="module")
def console() -> Iterator[tuple[str, Any, Deployment]]:
    """GIVEN the service deployed on the emulator (IAM enforced) and the portal served against it."""
    from landing_zone.local.console import start_console

    with Emulator() as running:  # restores the environment when it stops
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        os.environ["VEND_PORTAL_QUIET"] = "1"
        deployment = deploy()
        server, url, portal = start_console()
        try:
            yield url, portal, deployment
        finally:
            server.shutdown()
            server.server_close()
        del running


def client(url: str, principal: str | None = None) -> Client:
    c = Client(url)
    if principal:
        c.sign_in(principal)
    return c
