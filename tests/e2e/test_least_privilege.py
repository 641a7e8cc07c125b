"""Least privilege proven by execution: the whole demo runs with IAM enforced, every AWS call each function makes
is recorded (botocore events on its per-invocation session) and compared with its FunctionSpec grants.

A call without a grant fails the test; grants nothing used are listed (printed and written to
.vend/least-privilege.json for the issue's closing note).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from landing_zone.local.demo import demo_ok, run_demo
from landing_zone.local.runtime import OPERATIONS, Deployment, Emulator, deploy, least_privilege_report
from tests.e2e.conftest import needs_terraform
from vending.functions import LIFECYCLE_KEYS, by_key
from vending.layout import cached_layout
from vending.onboarding import onboarding_entry

pytestmark = [pytest.mark.emulator]
REPORT = Path(__file__).resolve().parents[2] / ".vend" / "least-privilege.json"


@pytest.fixture(scope="module")
def enforced() -> Iterator[Deployment]:
    with Emulator():
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        yield deploy(enforce_iam=True)


def _wait_for(predicate: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


@needs_terraform
def test_every_call_of_every_function_is_granted(enforced: Deployment) -> None:
    # GIVEN the service deployed with IAM enforced
    session = boto3.Session()

    # WHEN the demo runs end to end (three entry points, resend, a bad request), the daily audit runs,
    report = run_demo(enforced, cached_layout(), on_progress=lambda *_: None)
    audit = session.client("lambda").invoke(
        FunctionName=by_key("Audit").name,
        Payload=json.dumps({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}).encode(),
    )
    # AND the daily drift pass starts (for a request with no applied stack: the demo's stacks are heavy to plan; the
    # checks themselves run under IAM in tests/e2e/test_vending_state_machine.py),
    drift = session.client("lambda").invoke(
        FunctionName=by_key("StackDrift").name,
        Payload=json.dumps({"detail": {"requests": ["no-such-team-staging"]}}).encode(),
    )
    # AND a malformed onboarding event arrives (rejected and published, never retried)
    session.client("events").put_events(Entries=[onboarding_entry({"team": "Not A Slug", "stage": "qa"})])
    published = _wait_for(lambda: OPERATIONS.calls.get("StartFromEvent", {}).get("events:PutEvents"))

    table = least_privilege_report(OPERATIONS)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    for key, row in table.items():
        print(
            f"{key:<20} invoked {row['invocations']:>3}  used {len(row['used']):>2}  granted {len(row['granted']):>2}"
            f"  missing {row['missing']}  unused {row['unused']}"
        )

    # THEN nothing was refused, and every call a function made is in its grants
    assert not OPERATIONS.denials, OPERATIONS.denials
    assert {k: r["missing"] for k, r in table.items() if r["missing"]} == {}
    assert demo_ok(report) == []
    assert "FunctionError" not in audit, audit["Payload"].read()
    assert "FunctionError" not in drift and json.loads(drift["Payload"].read()) == {"checks": {}}
    assert published, "StartFromEvent never published the rejection"
    # AND every function of the vending workflow and its entry points ran at least once, except the failure path
    # (RecordFailed runs only when a step fails), the CodeBuild callback (AWS only: locally the worker completes the
    # token) and the day-2 workflow's own functions (tests/e2e/test_lifecycle_state_machine.py runs those)
    day2 = {k for k in LIFECYCLE_KEYS if k != "CheckPipelines"}
    assert {k for k, r in table.items() if not r["invocations"]} == {"RecordFailed", "PipelineBuildEvent", *day2}


def test_unknown_credentials_are_refused(enforced: Deployment) -> None:
    # GIVEN the emulator with IAM enforced, WHEN a caller signs with keys no principal owns
    stranger = boto3.Session(aws_access_key_id="NO-SUCH-ACCESS-KEY", aws_secret_access_key="x", region_name="us-east-1")
    # THEN every service refuses it
    for service, call in (
        ("sts", "get_caller_identity"),
        ("dynamodb", "list_tables"),
        ("stepfunctions", "list_state_machines"),
    ):
        with pytest.raises(Exception, match=r"InvalidClientTokenId|security token"):
            getattr(session_client(stranger, service), call)()
    # AND this process acts as the platform admin role
    assert ":assumed-role/PlatformAdmin/" in boto3.client("sts").get_caller_identity()["Arn"]


def session_client(session: boto3.Session, service: str) -> Any:
    return session.client(service)  # type: ignore[call-overload]
