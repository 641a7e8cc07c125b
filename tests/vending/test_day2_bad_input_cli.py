# ruff: noqa: F811  (the fixtures imported from test_changes are the parameters of these tests)
"""Bad day-2 input through the `vend` CLI (issue 23): an empty or malformed id, an empty or oversized --by, an
oversized field; each exits 2 with a message naming it (never a traceback), and nothing changes: not the record, not
the changes table, not the account's tags, no execution."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.vending.test_changes import REGION, changes, frontend, lifecycle_machine  # noqa: F401
from vending.changes import ChangeStore
from vending.lifecycle import RequestRecord, RequestStore

HUGE = "x" * 10_000


def _tags(account_id: str) -> dict[str, str]:
    org = boto3.client("organizations", region_name=REGION)
    return {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=account_id)["Tags"]}


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["request", "update", "", "--gpu-tier", "inference"], "request_id: empty"),
        (["request", "update", " ", "--gpu-tier", "inference"], "request_id: empty"),
        (["request", "update", HUGE, "--gpu-tier", "inference"], "request_id: 'xxxx"),
        (["request", "approve", ""], "id: empty"),
        (["request", "status", ""], "request_id: empty"),
        (["request", "resume", ""], "request_id: empty"),
        (["account", "decommission", "", "--yes"], "request_id: empty"),
        (["request", "update", "team-frontend-staging", "--gpu-tier", "inference", "--by", ""], "--by: empty"),
        (["request", "update", "team-frontend-staging", "--owner-email", f"{HUGE}@example.com"], "owner_email"),
        (["request", "update", "team-frontend-staging", "--gpu-tier", HUGE], "gpu_tier"),
        (["request", "update", "team-frontend-staging", "--gpu-tier", "inference", "--by", HUGE], "--by: 10000"),
        (["request", "approve", "team-frontend-staging", "--by", HUGE], "--by: 10000"),
    ],
)
def test_bad_day2_input_exits_2_naming_it_and_changes_nothing(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    lifecycle_machine: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    names: str,
) -> None:
    from vending.aws.identity import principal_from_arn
    from vending.cli import caller, main

    monkeypatch.setenv("VEND_LIFECYCLE_STATE_MACHINE_ARN", lifecycle_machine)
    admin = principal_from_arn("arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice")
    monkeypatch.setattr(caller, "caller_principal", lambda _sts: admin)
    tags = _tags(str(frontend.account_id))
    # WHEN the command runs with one bad value
    try:
        code: Any = main(argv)
    except SystemExit as e:  # argparse refuses a bad argument type itself (exit 2, usage on stderr)
        code = e.code
    out, err = capsys.readouterr()
    # THEN it exits 2 naming the value, with no traceback
    assert code == 2, (out, err)
    assert names in out + err, (out, err)
    assert "Traceback" not in out + err
    # AND nothing changed
    assert store.require(frontend.request_id) == frontend
    assert changes.for_request(frontend.request_id) == []
    assert _tags(str(frontend.account_id)) == tags
    sfn = boto3.client("stepfunctions", region_name=REGION)
    assert sfn.list_executions(stateMachineArn=lifecycle_machine)["executions"] == []
