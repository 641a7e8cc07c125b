"""A corpus of malformed vending requests, and a runner that sends each through the three entry points: the API
Lambda handler, `vend request create --file`, and the EventBridge -> SQS StartFromEvent handler.

Each case is (name, body bytes, fields the rejection must name). Counted per entry point: accepted, 5xx (or a crash,
or a record SQS would redeliver), rejections that do not name every expected field, accounts created, executions
started. `python -m tests.api.corpus` prints the counts (moto in-process, nothing else needed).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GOOD: dict[str, Any] = {
    "team": "team-mlops",
    "stage": "staging",
    "owner_email": "mlops-leads@example.com",
    "cost_center": "CC-1003",
    "gpu_tier": "training",
    "regions": ["us-east-1"],
    "stacks": ["bootstrap"],
    "repository": "example-org/team-mlops-infra",
}

BAD_VALUES: dict[str, list[Any]] = {
    "team": [
        "Team_MLOps",
        "ab",
        "t" * 41,
        "team--x",
        "-team",
        "team-",
        "team-x\n",
        " team-mlops",
        "t\u0435am-mlops",
        "team-\u0661\u0662",
        7,
        None,
        ["team-mlops"],
        "",
        "t" + "e" * 37 + "\u00e9",
    ],
    "stage": ["dev", "Staging", "", None, 1, ["staging"], "staging\n", "production "],
    "owner_email": [
        "not-an-email",
        "a..b@example..com",
        "a" * 10_000 + "@example.com",
        "Team <t@example.com>",
        "t\u00fc@example.com",
        "t@ex\u00e4mple.com",
        "t@localhost",
        "t@example.test",
        "t@[10.0.0.1]",
        '"t t"@example.com',
        "t@example.com\n",
        "@example.com",
        "t@",
        "",
        42,
        None,
        "a" * 53 + "@example.com",
    ],
    "cost_center": [
        "CC-\uff11\uff12\uff13\uff14",
        "CC-\u0661\u0662\u0663\u0664",
        "1234",
        "CC-12",
        "CC-1234567",
        "cc-1234",
        "CC-1234\n",
        "CC-12a4",
        1234,
        None,
        "C" * 300,
    ],
    "gpu_tier": ["quantum", "", "Training", "training ", None, 3, ["none"]],
    "regions": [
        [],
        ["mars-north-1"],
        ["us-east-1", "us-east-1"],
        "us-east-1",
        [7],
        [None],
        {"a": 1},
        ["us-east-1"] * 30,
        ["us-east-\uff11"],
        None,
    ],
    "stacks": [
        [],
        ["Kafka"],
        ["../../etc"],
        ["boot strap"],
        "bootstrap",
        [1],
        ["kafka"],
        ["x" * 50],
        ["bootstrap"] * 11,
        None,
    ],
    "repository": [
        "example-org/..",
        "example-org/.",
        "no",
        "https://github.com/example-org/x",
        "-org/x",
        "org-/x",
        "o--rg/x",
        "a" * 40 + "/x",
        "org/" + "x" * 101,
        "org/x y",
        "org/x\n",
        "org/\u00e9",
        "org/x/y",
        "",
        None,
        5,
    ],
}

# Bodies that are not a request object at all: every rejection names `request`.
RAW: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("whitespace", b"  \n"),
    ("x", b"x"),
    ("string", b'"x"'),
    ("null", b"null"),
    ("number", b"42"),
    ("true", b"true"),
    ("array", b"[1, 2]"),
    ("empty array", b"[]"),
    ("array holding a valid request", json.dumps([GOOD]).encode()),
    ("array of pairs", json.dumps([[k, v] for k, v in GOOD.items()]).encode()),
    ("truncated", json.dumps(GOOD).encode()[:-5]),
    ("trailing garbage", json.dumps(GOOD).encode() + b"}"),
    ("deep arrays 6 kB", b"[" * 6000 + b"]" * 6000),
    ("deep objects", b'{"a":' * 3000 + b"1" + b"}" * 3000),
    ("deep inside a field", json.dumps({**GOOD, "regions": "X"}).encode().replace(b'"X"', b"[" * 200 + b"]" * 200)),
    ("nine levels", b"[" * 9 + b"]" * 9),
    ("NaN", b'{"team": NaN}'),
    ("Infinity", b'{"team": Infinity}'),
    ("invalid UTF-8", b'{"team": "\xff\xfe"}'),
    ("latin-1 bytes", '{"team": "t\u00e9am"}'.encode("latin-1")),
    ("UTF-16", json.dumps(GOOD).encode("utf-16")),
    ("huge body", json.dumps({**GOOD, "owner_email": "a" * 20_000 + "@example.com"}).encode()),
    ("huge padding", json.dumps(GOOD).encode()[:-1] + b"," + b" " * 20_000 + b"}"),
]


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    fields: frozenset[str]


def cases() -> list[Case]:
    out = [Case(name, body, frozenset({"request"})) for name, body in RAW]
    for name, values in BAD_VALUES.items():
        for i, value in enumerate(values):
            out.append(
                Case(f"{name}[{i}]={str(value)[:30]!r}", json.dumps({**GOOD, name: value}).encode(), frozenset({name}))
            )
    for missing in ("team", "stage", "owner_email", "cost_center", "gpu_tier", "regions", "repository"):
        out.append(
            Case(
                f"missing {missing}",
                json.dumps({k: v for k, v in GOOD.items() if k != missing}).encode(),
                frozenset({missing}),
            )
        )
    out.append(Case("unknown field", json.dumps({**GOOD, "colour": "red"}).encode(), frozenset({"colour"})))
    out.append(Case("duplicate key", json.dumps(GOOD).encode()[:-1] + b', "team": "team-other"}', frozenset({"team"})))
    out.append(
        Case(
            "every field wrong",
            json.dumps(
                {
                    "team": "X",
                    "stage": "qa",
                    "owner_email": "no",
                    "cost_center": "1",
                    "gpu_tier": "h100",
                    "regions": ["mars-1"],
                    "stacks": ["Kafka"],
                    "repository": "no",
                }
            ).encode(),
            frozenset({"team", "stage", "owner_email", "cost_center", "gpu_tier", "regions", "stacks", "repository"}),
        )
    )
    return out


NOT_APPLICABLE = "not applicable"


@dataclass
class Tally:
    cases: int = 0
    accepted: int = 0
    server_errors: int = 0
    unnamed: int = 0
    failures: list[str] = field(default_factory=list)

    not_applicable: int = 0

    def judge(self, case: Case, *, accepted: bool, crashed: bool, named: set[str] | None, detail: str) -> None:
        if detail == NOT_APPLICABLE:
            self.not_applicable += 1
            return
        self.cases += 1
        if crashed:
            self.server_errors += 1
            self.failures.append(f"5xx/crash {case.name}: {detail[:200]}")
        elif accepted:
            self.accepted += 1
            self.failures.append(f"accepted {case.name}: {detail[:200]}")
        elif named is None or {f.split(".")[0] for f in named} != case.fields:  # each field, and only those
            self.unnamed += 1
            self.failures.append(f"not naming {sorted(case.fields)} {case.name}: {sorted(named or [])} {detail[:200]}")


def _fields(errors: Any) -> set[str] | None:
    if not isinstance(errors, list):
        return None
    return {str(e.get("field")) for e in errors if isinstance(e, dict)}


def via_api(case: Case) -> tuple[bool, bool, set[str] | None, str]:
    from tests.api.conftest import _Ctx
    from vending.api.handler import handler
    from vending.cli.api import http_to_event

    try:
        result = handler(http_to_event("POST", "/requests", {"Content-Type": "application/json"}, case.body), _Ctx())
    except Exception as e:
        return False, True, None, f"{type(e).__name__}: {e}"
    status = int(result["statusCode"])
    body = json.loads(result.get("body") or "{}")
    return status < 400, status >= 500, _fields(body.get("errors")), f"{status} {result.get('body')}"


def via_cli(case: Case, work: Path) -> tuple[bool, bool, set[str] | None, str]:
    from vending.cli import main

    path = work / f"{uuid.uuid4().hex}.json"
    path.write_bytes(case.body)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["request", "create", "--file", str(path), "--json"])
    except BaseException as e:  # SystemExit from argparse or a traceback: both are crashes here
        return False, True, None, f"{type(e).__name__}: {e}"
    if code == 0:
        return True, False, None, out.getvalue()
    try:
        errors = json.loads(out.getvalue()).get("errors")
    except ValueError:
        errors = None
    return False, code != 2, _fields(errors), f"exit {code} {out.getvalue()[:300]} {err.getvalue()[:300]}"


def via_event(case: Case) -> tuple[bool, bool, set[str] | None, str]:
    from tests.api.conftest import _Ctx
    from vending.handlers import start_from_event

    try:
        detail = case.body.decode("utf-8")
    except UnicodeDecodeError:
        # PutEvents' Detail and an SQS body are Unicode strings: bytes that are not UTF-8 cannot reach this path.
        return False, False, None, NOT_APPLICABLE
    head = json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Team Onboarding Requested",
            "source": "platform.onboarding",
            "account": "123456789012",
            "time": "2026-11-26T09:00:00Z",
            "region": "us-east-1",
            "resources": [],
        }
    )
    envelope = head[:-1] + ', "detail": ' + detail + "}"  # the detail's text as sent, even when it is not JSON
    message = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "r",
        "body": envelope,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764147600000",
            "SenderId": "A",
            "ApproximateFirstReceiveTimestamp": "1764147600000",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:vending-onboarding",
        "awsRegion": "us-east-1",
    }
    answers: list[Any] = []
    real = start_from_event.record_handler

    def recording(record: Any) -> Any:  # the handler's answer per record, as the batch processor sees it
        answers.append(real(record))
        return answers[-1]

    start_from_event.record_handler = recording  # type: ignore[assignment]
    try:
        result = start_from_event.handler({"Records": [message]}, _Ctx())
    except Exception as e:
        return False, True, None, f"{type(e).__name__}: {e}"
    finally:
        start_from_event.record_handler = real  # type: ignore[assignment]
    if result.get("batchItemFailures"):
        return False, True, None, f"record failed (SQS would redeliver it): {result}"
    answer = answers[0] if answers else {}
    if not isinstance(answer, dict) or answer.get("outcome") != "rejected":
        return True, False, None, str(answer)
    return False, False, _fields(answer.get("errors")), str(answer)[:300]


def run_corpus(org: Any, sfn: Any, state_machine_arn: str) -> dict[str, Any]:
    """Every case through every entry point; the caller provides moto with the tables and the state machine."""
    accounts_before = len(org.list_accounts()["Accounts"])
    tallies = {"api": Tally(), "cli": Tally(), "event": Tally()}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases():
            for entry, send in (("api", via_api), ("cli", lambda c: via_cli(c, Path(tmp))), ("event", via_event)):
                accepted, crashed, named, detail = send(case)
                tallies[entry].judge(case, accepted=accepted, crashed=crashed, named=named, detail=detail)
    executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return {
        "cases": len(cases()),
        "per_entry_point": {
            k: {
                "sent": t.cases,
                "not_applicable": t.not_applicable,
                "accepted": t.accepted,
                "5xx": t.server_errors,
                "rejections_not_naming_the_field": t.unnamed,
            }
            for k, t in tallies.items()
        },
        "accepted": sum(t.accepted for t in tallies.values()),
        "5xx": sum(t.server_errors for t in tallies.values()),
        "rejections_not_naming_the_field": sum(t.unnamed for t in tallies.values()),
        "accounts_created": len(org.list_accounts()["Accounts"]) - accounts_before,
        "executions_started": len(executions),
        "failures": [f"{k}: {f}" for k, t in tallies.items() for f in t.failures],
    }


def main() -> int:
    import os

    from tests.api.conftest import fake_aws_env, moto_vending

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    fake_aws_env(os.environ.__setitem__, lambda name: os.environ.pop(name, None))
    with moto_vending() as aws:
        os.environ["VEND_STATE_MACHINE_ARN"] = aws["state_machine_arn"]
        report = run_corpus(aws["organizations"], aws["stepfunctions"], aws["state_machine_arn"])
    print(json.dumps({k: v for k, v in report.items() if k != "failures"}, indent=2))
    for failure in report["failures"]:
        print(failure)
    bad = report["accepted"] + report["5xx"] + report["rejections_not_naming_the_field"]
    return 1 if bad or report["accounts_created"] or report["executions_started"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
