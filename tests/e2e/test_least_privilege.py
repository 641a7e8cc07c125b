"""Least privilege proven by execution: the whole demo runs with IAM enforced, then a vend that fails and is resumed,
then day 2 (a tier change with its approval, a decommission that fails and is run again, the closure queue). Every AWS
call each function makes is recorded (botocore events on its per-invocation session) and compared with its
FunctionSpec grants; every call made in a member account (the access role the functions assume, the CI roles
Terraform runs as) is recorded by the emulator's authorization and compared with that role's own policies.

A call without a grant fails the test; grants nothing used are listed (printed and written to
.vend/least-privilege.json for the issue's closing note). Each path has a negative control: a grant only that path
used, taken away, is named by the recorder.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from landing_zone.local import faults
from landing_zone.local.authorization.middleware import DECISIONS
from landing_zone.local.demo import demo_ok, request_for, run_demo, send
from landing_zone.local.member_privilege import NEEDS_NO_GRANT, listed, recorded_member_privilege, statement_allows
from landing_zone.local.runtime import OPERATIONS, Deployment, Emulator, deploy, least_privilege_report
from tests.e2e.conftest import needs_terraform
from tests.e2e.test_lifecycle_state_machine import signed_in_as, vend
from tests.e2e.test_vending_state_machine import _access_session, _launch_p5, entered, execution_arn, wait_for
from vending.cli.changes import lifecycle_arn
from vending.functions import by_key
from vending.layout import cached_layout
from vending.lifecycle import RequestStore, Status
from vending.onboarding import onboarding_entry
from vending.pipeline.orchestration import RunStore
from vending.settings import Settings

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
def test_every_call_of_every_function_is_granted(enforced: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the service deployed with IAM enforced
    session = boto3.Session()
    platform_account = session.client("sts").get_caller_identity()["Account"]

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
    # AND a p5 runs in a vended account: its state-change events reach RecordUsage through the account's forwarding rule
    mlops = RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table).require("team-mlops-staging")
    _launch_p5(_access_session(str(mlops.account_id)))
    metered = _wait_for(lambda: OPERATIONS.calls.get("RecordUsage", {}).get("dynamodb:PutItem"))
    # AND a metering interval runs, as its schedule would: the meter reads every account, the fence freezes none
    spend = session.client("lambda").invoke(FunctionName=by_key("SpendFence").name, Payload=b"{}")
    after_demo = _snapshot()
    # AND a vend fails (its Bootstrap crashes on every attempt) and is resumed (its production plan approved)
    _failed_then_resumed(enforced, capsys)
    after_failure = _snapshot()
    # AND day 2 runs on a demo account: a tier change approved by another principal, a decommission that fails
    # (ArchiveState crashes) and is run again, the closure queue drained
    _day2(capsys)
    after_day2 = _snapshot()

    table = least_privilege_report(OPERATIONS, DECISIONS.by_principal)
    members = recorded_member_privilege(platform_account)
    never = sorted(k for k, r in table.items() if not r["invocations"])
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(
        json.dumps({"functions": table, "member_roles": members, "never_invoked": never}, indent=2) + "\n",
        encoding="utf-8",
    )
    with capsys.disabled():
        print()
        for key, row in table.items():
            print(
                f"{key:<20} invoked {row['invocations']:>3}  calls {sum(row['used'].values()):>5}"
                f"  used {len(row['used']):>2}  granted {len(row['granted']):>2}"
                f"  missing {row['missing']}  unused {row['unused']}  authorized beside {row['authorized_beside']}"
            )
        for name, row in members.items():
            print(
                f"member role {name:<36} accounts {len(row['accounts'])}  calls {row['calls']:>5}"
                f"  actions {len(row['used']):>3}  bounded {row['bounded']}  missing {row['missing']}"
                f"  unused {row['unused']}  gone {row['gone']}  sessions {row['sessions'][:6]}"
            )
        print("never invoked:", never)

    # THEN nothing was refused, and every call a function made is in its grants
    assert not OPERATIONS.denials, OPERATIONS.denials
    assert not DECISIONS.denials, DECISIONS.denials[:5]
    assert {k: r["missing"] for k, r in table.items() if r["missing"]} == {}
    assert demo_ok(report) == []
    assert "FunctionError" not in audit, audit["Payload"].read()
    assert "FunctionError" not in drift and json.loads(drift["Payload"].read()) == {"checks": {}}
    assert published, "StartFromEvent never published the rejection"
    assert metered, "RecordUsage never recorded the p5's state changes"
    assert "FunctionError" not in spend, spend["Payload"].read()
    # AND every call made in a member account is granted to the role that made it there: the access role (Bootstrap,
    # ApplyChange, ArchiveState, the audit) and the team's CI roles (Terraform)
    assert {n: r["missing"] for n, r in members.items() if r["missing"]} == {}
    assert {"OrganizationAccountAccessRole"} < set(members), sorted(members)
    assert all(not r["gone"] for r in members.values()), {n: r["gone"] for n, r in members.items()}
    # AND every function ran at least once, except the CodeBuild callback: it runs only in AWS (locally the pipeline
    # worker completes the task token itself)
    assert never == ["PipelineBuildEvent"]

    # AND each path's negative control: a grant taken away that only that path used is named by the recorder
    for before, after in ((after_demo, after_failure), (after_failure, after_day2)):
        only_here = {(k, a) for k, used in after.items() for a in used if a not in before.get(k, {})}
        assert only_here, "the path made no call the earlier ones had not made (the recorder is not recording it)"
        for key, action in sorted(only_here):
            assert action in _report_without(key, action)[key]["missing"], (key, action)
    for name, row in members.items():
        action = next(a for a in row["used"] if a not in NEEDS_NO_GRANT)
        without = recorded_member_privilege(platform_account, _dropping(action))
        assert any(m.startswith(f"{action} in ") for m in without[name]["missing"]), (name, action, without[name])


def _snapshot() -> dict[str, Counter[str]]:
    return {k: Counter(c) for k, c in OPERATIONS.calls.items()}


def _report_without(key: str, action: str) -> dict[str, dict[str, Any]]:
    """The report with every grant of function `key` that names `action` taken away."""
    import landing_zone.local.runtime as runtime

    spec = by_key(key)
    kept = tuple(g for g in spec.grants if not any(fnmatch.fnmatchcase(action, a) for a in g.actions))
    functions = [dataclasses.replace(f, grants=kept) if f.key == key else f for f in runtime.FUNCTIONS]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "FUNCTIONS", functions)
        return least_privilege_report(OPERATIONS)


def _dropping(action: str) -> Any:
    """The roles' policies without the identity statements that allow `action`."""
    from landing_zone.local.authorization import state

    def documents_of(arn: str) -> Any:
        found = state.role_documents(arn)
        if found is None:
            return None
        identity, boundary = found
        kept = tuple(
            {**d, "Statement": [s for s in listed(d.get("Statement")) if not statement_allows(s, action)]}
            for d in identity
        )
        return kept, boundary

    return documents_of


def _failed_then_resumed(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    request = request_for(cached_layout().team("team-frontend"), stage="production", stacks=("bootstrap",))  # type: ignore[arg-type]
    sfn = boto3.client("stepfunctions")
    crash = faults.FaultConfig(
        rules=[faults.FaultRule.model_validate({"lambda": "Bootstrap", "rate": 1.0, "faults": ["crash"]})]
    )
    with faults.injecting(crash):
        send(boto3.Session(), deployment, request, "cli")
        first = wait_for(sfn, execution_arn(deployment, request, 1))
    assert first["status"] == "FAILED", first
    assert entered(sfn, first["executionArn"])[-3:] == ["RecordFailed", "NotifyFailed", "Failed"]
    failed = RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table).require(request.request_id)
    assert (failed.status, failed.failed_step) == (Status.FAILED, "Bootstrap"), failed

    assert send(boto3.Session(), deployment, request, "cli")["outcome"] == "resumed"
    runs = RunStore(boto3.client("dynamodb"), Settings.from_env().pipeline_runs_table)
    run_id = f"{request.request_id}/bootstrap"
    assert _wait_for(lambda: (r := runs.get(run_id)) is not None and r.status == "AWAITING_APPROVAL", timeout=600)
    gated = runs.get(run_id)
    assert gated is not None
    with signed_in_as("PlatformApprover", "approver-session"):  # production applies wait for the approver role
        assert vend(["pipeline", "approve", gated.stack_path, "--approvals", "dynamodb", "--json"]) == 0
    second = wait_for(sfn, execution_arn(deployment, request, 2))
    assert second["status"] == "SUCCEEDED", second
    capsys.readouterr()


def _day2(capsys: pytest.CaptureFixture[str]) -> None:
    request_id = "team-frontend-staging"
    sfn = boto3.client("stepfunctions")
    base = lifecycle_arn(boto3.Session()).replace(":stateMachine:", ":execution:")
    capsys.readouterr()
    assert vend(["request", "update", request_id, "--gpu-tier", "inference", "--json"]) == 0
    filed = json.loads(capsys.readouterr().out)
    assert filed["status"] == "AWAITING_APPROVAL", filed
    with signed_in_as("PlatformApprover", "approver-session"):
        assert vend(["request", "approve", request_id, "--json"]) == 0
    approved = json.loads(capsys.readouterr().out)
    changed = wait_for(sfn, f"{base}:{approved['execution_name']}")
    assert changed["status"] == "SUCCEEDED", changed

    crash = faults.FaultConfig(
        rules=[faults.FaultRule.model_validate({"lambda": "ArchiveState", "rate": 1.0, "faults": ["crash"]})]
    )
    with faults.injecting(crash):
        assert vend(["account", "decommission", request_id, "--yes", "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        stopped = wait_for(sfn, f"{base}:{first['execution_name']}")
    assert stopped["status"] == "FAILED", stopped
    assert vend(["account", "decommission", request_id, "--yes", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["execution_name"] != first["execution_name"]
    retired = wait_for(sfn, f"{base}:{again['execution_name']}")
    assert retired["status"] == "SUCCEEDED", retired
    assert vend(["account", "closures", "--drain", "--json"]) == 0
    queue = json.loads(capsys.readouterr().out)
    assert any(i["status"] == "CLOSED" for i in queue["items"]), queue


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
