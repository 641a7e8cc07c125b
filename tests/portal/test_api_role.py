"""The portal's resolver acts as the Api function's role on the emulator (issue 25): the emulator decides its calls
against that role's grants as AWS would, while the caller stays the signed-in principal. A timeline needs
states:GetExecutionHistory (denied without the grant); GET /spend reads the spend fence's stored readings with one
Query per account, never a member account's role, and each caller sees only its teams' readings."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from landing_zone.local.runtime import OPERATIONS, function_role_name
from tests.portal.test_portal import BACKEND, FRONTEND, _ready
from vending.functions import by_key
from vending.request import execution_name
from vending.spend.reading import SpendReading
from vending.spend.readings import TTL_ATTRIBUTE, ReadingStore

pytestmark = [pytest.mark.emulator]

API_ROLE = function_role_name(by_key("Api"))
FRONTEND_ACCOUNT, BACKEND_ACCOUNT = "210987654331", "210987654332"


@pytest.fixture(scope="module")
def seeded(console: tuple[str, Any, Any]) -> Any:
    _ready("team-frontend", FRONTEND_ACCOUNT)
    _ready("team-backend", BACKEND_ACCOUNT)
    return console


def _call(portal: Any, role: str, path: str) -> tuple[int, Any]:
    """GET through the portal's own seam (the Api role acts), as `role` signed in."""
    return portal.api(SimpleNamespace(arn=f"arn:aws:sts::{portal.account}:assumed-role/{role}/t"), "GET", path)  # type: ignore[no-any-return]


def _policy(account: str) -> dict[str, Any]:
    from moto.iam.models import iam_backends

    role = iam_backends[account]["global"].get_role(API_ROLE)
    return json.loads(role.policies["least-privilege"])  # type: ignore[no-any-return]


def _put_policy(account: str, policy: dict[str, Any]) -> None:
    """As an operator editing the deployed role (straight into the emulator's IAM, outside any caller's grants)."""
    from moto.iam.models import iam_backends

    iam_backends[account]["global"].put_role_policy(API_ROLE, "least-privilege", json.dumps(policy))


def test_timeline_reads_history_as_the_api_role_and_is_denied_without_the_grant(seeded: Any) -> None:
    _, portal, deployment = seeded
    account = portal.account
    # GIVEN an execution of team-frontend's first attempt that has ended (its input is refused at the first step)
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=deployment.state_machine_arn, name=execution_name(FRONTEND, 1), input=json.dumps({"x": 1})
    )["executionArn"]
    deadline = time.monotonic() + 90
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
    # WHEN the admin opens the timeline THEN the Api role reads the execution's steps
    OPERATIONS.reset()
    status, body = _call(portal, "PlatformAdmin", f"/requests/{FRONTEND}/timeline")
    assert status == 200, body
    assert [r["attempt"] for r in body["executions"]] == [1] and body["executions"][0]["steps"], body
    assert OPERATIONS.calls["Api"]["states:GetExecutionHistory"] >= 1  # made as the Api role, recorded under it
    # NEGATIVE CONTROL: without states:GetExecutionHistory in the Api role's policy, the emulator denies the call
    granted = _policy(account)
    narrowed = {
        **granted,
        "Statement": [s for s in granted["Statement"] if "states:GetExecutionHistory" not in s["Action"]],
    }
    assert narrowed["Statement"] != granted["Statement"]
    _put_policy(account, narrowed)
    try:
        with pytest.raises(Exception, match=r"vending-api-role.*not authorized to perform: states:GetExecutionHistory"):
            _call(portal, "PlatformAdmin", f"/requests/{FRONTEND}/timeline")
    finally:
        _put_policy(account, granted)
    assert _call(portal, "PlatformAdmin", f"/requests/{FRONTEND}/timeline")[0] == 200


def _reading(team: str, account: str, at: datetime, hour: float, day: float) -> SpendReading:
    return SpendReading(team, "staging", account, f"{team}-staging", at, hour, day, {"ec2:g5.xlarge": day})


def test_spend_shows_stored_readings_scoped_to_the_caller_without_assuming_any_role(seeded: Any) -> None:
    _, portal, _ = seeded
    ddb = boto3.client("dynamodb")
    table = "vending-usage"
    # GIVEN no reading stored yet THEN /spend falls back to Cost Explorer, which the Api role may call
    status, body = _call(portal, "PlatformAdmin", "/spend")
    assert status == 200 and body["source"] == "Cost Explorer", body
    assert not any("unavailable" in n for n in body["notes"]), body
    # AND the usage table expires the readings (TTL on expires_at), as the CDK stack sets it
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)
    # GIVEN the fence stored readings for both teams (team-frontend: two, 2 h and 10 min ago)
    now = datetime.now(UTC)
    store = ReadingStore(ddb, table)
    store.put(_reading("team-frontend", FRONTEND_ACCOUNT, now - timedelta(hours=2, minutes=10), 0.5, 1.0))
    store.put(_reading("team-frontend", FRONTEND_ACCOUNT, now - timedelta(minutes=10), 1.5, 3.25))
    store.put(_reading("team-backend", BACKEND_ACCOUNT, now - timedelta(minutes=5), 9.0, 99.0))
    # WHEN the admin reads /spend
    OPERATIONS.reset()
    status, body = _call(portal, "PlatformAdmin", "/spend")
    # THEN both show from the stored readings: the latest values, top sources and the hourly sparkline
    assert status == 200 and body["source"] == "live meter", body
    rows = {r["request_id"]: r for r in body["teams"]}
    assert set(rows) >= {FRONTEND, BACKEND}
    front = rows[FRONTEND]
    assert (front["hour_usd"], front["day_usd"], front["top_sources"]) == (1.5, 3.25, [["ec2:g5.xlarge", 3.25]])
    assert len(front["hourly_usd"]) == 24 and front["hourly_usd"][-1] == 1.5 and front["hourly_usd"][-3] == 0.5
    # AND the Api role only queried the usage table: it assumed no role in any member account
    api_calls = OPERATIONS.calls["Api"]
    assert api_calls["dynamodb:Query"] >= 2 and "sts:AssumeRole" not in api_calls, dict(api_calls)
    assert not [d for d in OPERATIONS.denials if d.key == "Api"]
    # WHEN team-frontend's lead reads it THEN only its own reading shows; team-backend's account is nowhere
    status, body = _call(portal, "TeamFrontendLead", "/spend")
    assert status == 200 and [r["request_id"] for r in body["teams"]] == [FRONTEND], body
    assert BACKEND_ACCOUNT not in json.dumps(body) and "99.0" not in json.dumps(body)
    # NEGATIVE CONTROL: team-backend's lead does see its reading
    status, body = _call(portal, "TeamBackendLead", "/spend")
    assert [(r["request_id"], r["day_usd"]) for r in body["teams"]] == [(BACKEND, 99.0)], body
