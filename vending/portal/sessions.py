"""Signed-in sessions, kept on the server: the browser holds only a random session id (an HttpOnly, SameSite=Strict
cookie), never the temporary AWS credentials the sign-in obtained."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Choice:
    """A principal one may sign in as (locally: a role of the emulator)."""

    key: str
    label: str
    description: str


@dataclass(frozen=True)
class SignedIn:
    arn: str  # the caller ARN as STS reports it (an assumed-role session ARN)
    credentials: dict[str, str]  # AccessKeyId, SecretAccessKey, SessionToken: stay on the server
    expires_at: float  # epoch seconds


class SignIn(Protocol):
    """How the portal signs someone in: the deployment layer provides it (landing_zone.local.console on the emulator;
    in AWS the portal is static assets whose browser calls are signed by an identity pool's short-lived session)."""

    def choices(self) -> list[Choice]: ...

    def sign_in(self, key: str) -> SignedIn: ...


@dataclass
class PortalSession:
    sid: str
    label: str
    signed_in: SignedIn
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def arn(self) -> str:
        return self.signed_in.arn


class Sessions:
    """Session id -> session, in memory (the console is one process); an expired session is gone."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._items: dict[str, PortalSession] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def create(self, label: str, signed_in: SignedIn) -> PortalSession:
        session = PortalSession(sid=secrets.token_urlsafe(32), label=label, signed_in=signed_in)
        with self._lock:
            self._items[session.sid] = session
        return session

    def get(self, sid: str | None) -> PortalSession | None:
        if not sid:
            return None
        with self._lock:
            session = self._items.get(sid)
            if session is not None and session.signed_in.expires_at <= self._clock():
                del self._items[sid]
                return None
            return session

    def delete(self, sid: str | None) -> None:
        with self._lock:
            self._items.pop(sid or "", None)

    def __len__(self) -> int:
        return len(self._items)
