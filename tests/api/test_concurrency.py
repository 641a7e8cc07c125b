"""One answer per request: 20 identical submissions at once (API and CLI paths) start one execution, the caller that
started it is told `started`, every other caller `already_running` with that same execution; never a 409."""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_api import GOOD

CALLERS = 20
SWITCH_SECONDS = 0.0001


def _all_at_once(fn: Any) -> list[Any]:
    barrier = threading.Barrier(CALLERS)
    results: list[Any] = [None] * CALLERS

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as e:  # a crash is an answer the test must see, not a dead thread
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CALLERS)]
    # Threads take turns every 0.1 ms instead of CPython's 5 ms, so calls interleave inside each other. Calibrated on
    # the route test with routes.py's lock removed: caught in 8 of 10 runs of 600 calls at 5 ms, 20 of 20 runs of
    # 200 calls at 0.1 ms.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_SECONDS)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(switch)
    return results


def _executions(aws: dict[str, Any]) -> list[str]:
    listed = aws["stepfunctions"].list_executions(stateMachineArn=aws["state_machine_arn"])["executions"]
    return [e["name"] for e in listed]


def test_concurrent_api_submissions_one_execution_one_answer(call: Any, aws: dict[str, Any]) -> None:
    # GIVEN 20 API callers posting the identical request at the same moment
    # WHEN they all POST /requests
    answers = _all_at_once(lambda: call("POST", "/requests", GOOD))
    # THEN one execution exists; one caller got 202 started, the 19 others 200 already_running naming it
    assert not [a for a in answers if isinstance(a, Exception)], answers
    statuses = Counter(status for status, _ in answers)
    outcomes = Counter(body["outcome"] for _, body in answers)
    arns = {body["execution_arn"] for _, body in answers}
    print(
        f"\nAPI x{CALLERS}: HTTP {dict(statuses)}, outcomes {dict(outcomes)}, executions {_executions(aws)}, "
        f"distinct execution ARNs in answers {len(arns)}"
    )
    assert _executions(aws) == ["vend-team-mlops-staging-a1"]
    assert statuses == {202: 1, 200: CALLERS - 1}
    assert outcomes == {"started": 1, "already_running": CALLERS - 1}
    assert len(arns) == 1 and next(iter(arns)).endswith(":vend-team-mlops-staging-a1")


def test_concurrent_cli_submissions_one_execution_one_answer(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 20 admins running `vend request create --file req.json --json` at the same moment
    from vending.cli import requests as cli

    path = tmp_path / "req.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")

    def create() -> Any:
        session = cli._session()
        return cli._submit(session, cli._store(session), cli.request_from_file(str(path))).model_dump()

    # WHEN they submit through the CLI's path (plain StartExecution, no idempotency table)
    answers = _all_at_once(create)
    # THEN the same: one execution, one `started`, 19 `already_running` naming it
    assert not [a for a in answers if isinstance(a, Exception)], answers
    outcomes = Counter(a["outcome"] for a in answers)
    arns = {a["execution_arn"] for a in answers}
    with capsys.disabled():
        print(
            f"\nCLI x{CALLERS}: outcomes {dict(outcomes)}, executions {_executions(aws)}, "
            f"distinct execution ARNs in answers {len(arns)}"
        )
    assert _executions(aws) == ["vend-team-mlops-staging-a1"]
    assert outcomes == {"started": 1, "already_running": CALLERS - 1}
    assert len(arns) == 1


def test_concurrent_calls_to_different_routes_each_get_their_own_answer(call: Any, aws: dict[str, Any]) -> None:
    # GIVEN callers on different routes at the same moment (the hosted portal's tab fetches a request and a filtered
    # list together; `vend api serve` answers each on its own thread, through the one module-level resolver)
    routes = [
        ("GET", "/requests?status=READY&team=team-mlops"),
        ("GET", "/requests/team-mlops-staging"),
        ("GET", "/requests/team-mlops-staging/timeline"),
        ("POST", "/requests/Not_A_Slug/resume"),
        ("POST", "/preview"),
    ]
    body = {"POST": GOOD}
    alone = {path: call(method, path, body.get(method)) for method, path in routes}  # one caller at a time
    assert len({status for status, _ in alone.values()}) > 1, alone  # routes that answer apart, or a mix-up is unseen
    start = itertools.count()  # next() on it is atomic (C, under the GIL); a generator would not be

    def walk() -> list[tuple[str, Any, Any]]:
        first = next(start)  # each thread starts on another route and walks them all twice
        answered = []
        for method, path in (routes[(first + k) % len(routes)] for k in range(2 * len(routes))):
            answered.append((path, alone[path], call(method, path, body.get(method))))
        return answered

    # WHEN 20 threads call at once
    walks = _all_at_once(walk)
    # THEN each call got the answer its route gives alone: never another route's arguments, never a 500
    assert not [w for w in walks if isinstance(w, Exception)], walks
    wrong = [a for w in walks for a in w if a[1] != a[2]]
    assert not wrong, wrong[:5]
