"""Organizations calls for the guardrails: backoff on throttling, pagination, and an honest call counter."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from vending.aws.errors import error_code, raise_if_throttled
from vending.exceptions import ConcurrentUpdate, NotConfigured, OrganizationsThrottled

Sleep = Callable[[float], None]


class ApiCallCounter:
    """Counts Organizations API calls on a client through a botocore event hook, one per call the code makes.

    `before-parameter-build` fires for every call (ours, and each of our retries) before any stub or emulator can
    short-circuit it, unlike `before-call`, which botocore's Stubber answers first. botocore's own internal retry
    attempts (if its retry mode retries throttling) are not re-emitted, so they are not counted.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> ApiCallCounter:
        """Count the calls of one client (Organizations, or the DynamoDB client the records come from)."""
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-parameter-build.{service}", self._count)
        return self

    def _count(self, model: Any = None, **_: Any) -> None:
        with self._lock:
            self.calls[getattr(model, "name", "unknown")] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "by_operation": dict(sorted(self.calls.items()))}


class Backoff:
    """Exponential backoff with full jitter on throttling (TooManyRequests, ConcurrentModification...).

    After `attempts` the named retryable error propagates, so the state machine (or the next audit) retries later.
    """

    def __init__(self, attempts: int = 6, base: float = 0.2, cap: float = 8.0, sleep: Sleep = time.sleep) -> None:
        if attempts < 1:
            raise NotConfigured(f"a backoff makes at least one attempt, not {attempts}")
        self.attempts, self.base, self.cap, self.sleep = attempts, base, cap, sleep
        self.throttled = 0
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., Any], what: str, **kwargs: Any) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn(**kwargs)
            except ClientError as e:
                try:
                    raise_if_throttled(e, what)
                except OrganizationsThrottled:
                    with self._lock:
                        self.throttled += 1
                    if attempt == self.attempts:
                        raise
                    self.sleep(random.uniform(0, min(self.cap, self.base * 2**attempt)))
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(self, client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Yield the items of every page; each page is one call, retried on its own when throttled."""
        fn = getattr(client, operation)
        token: str | None = None
        while True:
            params = dict(kwargs, NextToken=token) if token else dict(kwargs)
            page = self.call(fn, f"{operation} {kwargs}", **params)
            yield from page.get(result_key, [])
            token = page.get("NextToken")
            if not token:
                return


TAG_POLICY_DESCRIPTION = "Tag keys and values; rendered by vend from the layout, do not edit by hand"


def delete_policy(b: Backoff, org: Any, policy_id: str, policy_type: str, what: str) -> None:
    """DeletePolicy, settled when the policy is gone. A DeletePolicy retried after its answer was lost finds no policy:
    Organizations answers PolicyNotFoundException, or AccessDenied where it authorizes the call on the policy's ARN,
    which a deleted policy no longer has (its type is part of it). Either way, if the policies of its type no longer
    include it, it is deleted; while it exists, the refusal stands."""
    try:
        b.call(org.delete_policy, what, PolicyId=policy_id)
    except ClientError as e:
        code = error_code(e)
        if code == "PolicyNotFoundException":
            return
        if code not in {"AccessDenied", "AccessDeniedException"}:
            raise
        if all(p["Id"] != policy_id for p in b.pages(org, "list_policies", "Policies", Filter=policy_type)):
            return
        raise


def create_policy(b: Backoff, org: Any, *, name: str, policy_type: str, content: str, description: str) -> str:
    """CreatePolicy, returning the policy's id. A CreatePolicy retried after its answer was lost (or raced by another
    converger of the same rendering) is refused DuplicatePolicyException: the policy of that name is the one made,
    and its id is read back; its content is converged like any existing policy's on the next pass."""
    try:
        out = b.call(
            org.create_policy,
            f"CreatePolicy {name}",
            Name=name,
            Description=description,
            Type=policy_type,
            Content=content,
        )
        return str(out["Policy"]["PolicySummary"]["Id"])
    except ClientError as e:
        if error_code(e) != "DuplicatePolicyException":
            raise
    found = [p["Id"] for p in b.pages(org, "list_policies", "Policies", Filter=policy_type) if p["Name"] == name]
    if not found:
        # Organizations not showing it yet (eventually consistent): the step is retried.
        raise ConcurrentUpdate(f"CreatePolicy {name}: refused as a duplicate, yet no {policy_type} has that name yet")
    return str(found[0])
