"""Every http.server front sends a response's status line, headers and body in one write to the socket.

Two writes on a keep-alive connection meet Nagle's algorithm and the client's delayed ACK: the body waited 40 ms for
the ACK of the headers, on every call (the API fuzzer's run went from 108 s to 34 s once the writes were one).
"""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from landing_zone.local.hosted_portal import SiteHandler
from vending.cli.api import ApiRequestHandler
from vending.portal.server import PortalHandler


class _Recorder(io.RawIOBase):
    def __init__(self, writes: list[bytes]) -> None:
        self.writes = writes

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.writes.append(bytes(b))
        return len(b)


class _Connection:
    """What socketserver.StreamRequestHandler asks of a socket: each write that reaches it is recorded."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.writes: list[bytes] = []

    def makefile(self, mode: str, buffering: int = -1) -> Any:
        if "r" in mode:
            return io.BufferedReader(io.BytesIO(self.request))  # type: ignore[arg-type]
        return io.BufferedWriter(_Recorder(self.writes)) if buffering else _Recorder(self.writes)

    def sendall(self, b: bytes) -> None:  # the unbuffered path (wbufsize = 0) writes through this
        self.writes.append(bytes(b))

    def settimeout(self, _: Any) -> None:
        pass


# Each handler's cheapest complete answer: no resolver, portal or site behind it.
CASES = [
    (ApiRequestHandler, SimpleNamespace(), b"DELETE /requests HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
    (PortalHandler, SimpleNamespace(portal=None), b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413"),
    (SiteHandler, SimpleNamespace(site=SimpleNamespace(csp="default-src 'none'")), b"POST /x HTTP/1.1\r\n\r\n", b"404"),
]


@pytest.mark.parametrize(("handler", "server", "request_bytes", "status"), CASES, ids=["api", "portal", "site"])
def test_a_response_leaves_in_one_write(
    handler: Any, server: Any, request_bytes: bytes, status: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler, "log_message", lambda *_: None)
    connection = _Connection(request_bytes)
    handler(connection, ("127.0.0.1", 1), server)
    assert len(connection.writes) == 1, connection.writes
    assert connection.writes[0].startswith(b"HTTP/1.1 " + status)


def test_the_unbuffered_default_is_seen_as_two_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The negative control: http.server's default (wbufsize = 0) is the two-write answer the test above refuses
    monkeypatch.setattr(ApiRequestHandler, "wbufsize", 0)
    monkeypatch.setattr(ApiRequestHandler, "log_message", lambda *_: None)
    connection = _Connection(CASES[0][2])
    ApiRequestHandler(connection, ("127.0.0.1", 1), SimpleNamespace())
    assert len(connection.writes) == 2
