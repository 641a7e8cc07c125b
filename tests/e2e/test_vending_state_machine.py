"""The whole AccountVending state machine, executed by moto's Step Functions interpreter.

These tests drive the real ASL file with the handlers running in-process; nothing imitates the workflow.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local.billing_and_quotas import quota_requests
from landing_zone.local.demo import inspect_state_bucket, request_for, send
from landing_zone.local.execution_history import whole_history
from landing_zone.local.images import amazon_image
from landing_zone.local.runtime import Deployment, Emulator
from tests.e2e.conftest import needs_terraform
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.pipeline import orchestration
from vending.request import VendingRequest
from vending.settings import Settings

pytestmark = [pytest.mark.emulator]


def wait_for(sfn: Any, arn: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            description = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            description = {"status": "RUNNING"}
        if description["status"] != "RUNNING":
            return dict(description)
        time.sleep(0.5)
    raise TimeoutError(arn)


def execution_arn(deployment: Deployment, request: VendingRequest, attempt: int) -> str:
    base = deployment.state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{base}:vend-{request.request_id}-a{attempt}"


def entered(sfn: Any, arn: str) -> list[str]:
    events = whole_history(sfn, arn)
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def record(request: VendingRequest) -> RequestRecord:
    return RequestStore(boto3.client("dynamodb"), "vending-requests").require(request.request_id)


@needs_terraform
def test_state_machine_vends_a_ready_account(emulator: tuple[Emulator, Deployment]) -> None:
    # GIVEN the service deployed into the emulator and team-mlops's request from the layout
    _, deployment = emulator
    layout = cached_layout()
    request = request_for(layout.team("team-mlops"), stacks=("bootstrap",))  # type: ignore[arg-type]
    sfn, org = boto3.client("stepfunctions"), boto3.client("organizations")

    # WHEN it is sent through the CLI path and the execution runs to the end
    reply = send(boto3.Session(), deployment, request, "cli")
    outcome = wait_for(sfn, execution_arn(deployment, request, 1))

    # THEN the interpreter walked every step of the ASL file and the request is READY
    assert reply["outcome"] == "started"
    assert outcome["status"] == "SUCCEEDED", outcome
    states = entered(sfn, outcome["executionArn"])
    for step in (
        "Validate",
        "Reserve",
        "CreateAccount",
        "CheckAccountStatus",
        "PlaceInOu",
        "TagAccount",
        "ApplyGuardrails",
        "Bootstrap",
        "RequestQuotas",
        "StartPipelines",
        "CheckPipelines",
        "RecordReady",
        "NotifyReady",
    ):
        assert step in states
    done = record(request)
    assert done.status == Status.READY
    assert [t.status for t in done.history][-1] == Status.READY
    # AND the training tier's GPU quotas were requested in the new account (as its access role, authorized like AWS),
    # once per quota and region, and the record holds each request PENDING
    needs = layout.quota_needs("training")
    made = {
        region: {r["QuotaCode"]: r["DesiredValue"] for r in quota_requests(str(done.account_id), region)}
        for region in request.regions
    }
    assert all(len(codes) == len(needs) for codes in made.values()) and made["us-west-2"]["L-417A185B"] == 192
    assert {q["request_id"] for q in done.quotas if q["status"] == "PENDING"} == {
        r["Id"] for region in request.regions for r in quota_requests(str(done.account_id), region)
    }
    # AND the account sits in the stage OU with its GPU tier policy attached
    parent = org.list_parents(ChildId=done.account_id)["Parents"][0]["Id"]
    assert org.describe_organizational_unit(OrganizationalUnitId=parent)["OrganizationalUnit"]["Name"] == "Staging"
    own = {
        p["Name"]
        for p in org.list_policies_for_target(TargetId=done.account_id, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }
    assert any("training" in name for name in own)
    # AND ApplyGuardrails (its own role, IAM on) laid down the Budgets backstop: the team's monthly budget in the
    # management account and the APPLY_SCP_POLICY action of vend-freeze on the account, on standby
    from vending.budgets import backstop_action, backstop_name

    budgets = boto3.client("budgets")
    backstop = budgets.describe_budget(
        AccountId=deployment.management_account_id, BudgetName=backstop_name(done.account_id)
    )
    assert float(backstop["Budget"]["BudgetLimit"]["Amount"]) == layout.monthly_budget("team-mlops", "training")
    action = backstop_action(budgets, deployment.management_account_id, str(done.account_id))
    assert action is not None and action["Status"] == "STANDBY"
    # AND its state bucket is versioned, private, TLS-only and holds the applied stack's state
    checks = inspect_state_bucket(boto3.Session(), done, layout)
    assert checks["versioning"] == "Enabled" and checks["public_access_blocked"] and checks["tls_only"]
    assert checks["encryption"] == "aws:kms"
    assert any(key.endswith("team-mlops/staging/bootstrap/terraform.tfstate") for key in checks["state_objects"])

    # WHEN the same request arrives again through the API and the CLI
    accounts = len(org.list_accounts()["Accounts"])
    again = [send(boto3.Session(), deployment, request, via) for via in ("api", "cli")]

    # THEN nothing new is created and the existing account is reported
    assert [r["outcome"] for r in again] == ["already_ready", "already_ready"]
    assert {r["account_id"] for r in again} == {done.account_id}
    assert len(org.list_accounts()["Accounts"]) == accounts


def _usage_events(account_id: str) -> list[Any]:
    from vending.spend.usage import UsageStore

    return UsageStore(boto3.client("dynamodb"), "vending-usage").events(account_id)


def _live(capsys: pytest.CaptureFixture[str], at: datetime) -> dict[str, Any]:
    from vending.cli import main

    capsys.readouterr()
    assert main(["costs", "--live", "--json", "--team", "team-mlops", "--at", at.isoformat()]) == 0
    [meter] = [m for m in json.loads(capsys.readouterr().out)["meters"] if m["request_id"] == "team-mlops-staging"]
    return dict(meter)


def _launch_p5(member: boto3.Session) -> str:
    ec2 = member.client("ec2")
    image = amazon_image(ec2)
    tags = [
        {"Key": k, "Value": v} for k, v in (("team", "team-mlops"), ("stage", "staging"), ("cost-center", "CC-1003"))
    ]
    return str(
        ec2.run_instances(
            ImageId=image,
            InstanceType="p5.48xlarge",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]["InstanceId"]
    )


@needs_terraform
def test_live_meter_prices_what_a_vended_account_runs(
    emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    from landing_zone.local.state_change_events import set_event_clock
    from vending.usage_forwarding import FORWARDING_RULE

    # GIVEN team-mlops's READY account (the test above): its Bootstrap made the forwarding rule in each region
    done = RequestStore(boto3.client("dynamodb"), "vending-requests").require("team-mlops-staging")
    assert done.status == Status.READY and done.account_id
    member = _access_session(done.account_id)
    for region in done.request["regions"]:
        rule = member.client("events", region_name=region).describe_rule(Name=FORWARDING_RULE)
        assert rule["State"] == "ENABLED" and rule["EventBusName"] == "default"
    start = datetime(2026, 12, 3, 10, 30, tzinfo=UTC)
    set_event_clock(lambda: start)
    try:
        # WHEN a p5 is launched there at 10:30 (its events: member bus -> forwarding rule -> the platform bus -> queue
        # -> RecordUsage, each as its own role under IAM) and Bedrock reports Sonnet tokens at 11:50
        _launch_p5(member)
        deadline = time.monotonic() + 60
        while len(_usage_events(done.account_id)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        sonnet = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
        member.client("cloudwatch").put_metric_data(
            Namespace="AWS/Bedrock",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "ModelId", "Value": sonnet}],
                    "Timestamp": start + timedelta(minutes=80),
                    "Value": value,
                }
                for name, value in (("InputTokenCount", 100_000), ("OutputTokenCount", 10_000))
            ],
        )
        # THEN the usage is recorded in the member's name, and `vend costs --live` (as PlatformAdmin, reading the
        # account as its access role) prices it at 12:00: the p5's last hour and 1.5 hours today, plus the tokens
        assert [(e.account_id, e.state) for e in _usage_events(done.account_id)] == [
            (done.account_id, "pending"),
            (done.account_id, "running"),
        ]
        tokens = 100 * 0.003 + 10 * 0.015
        meter = _live(capsys, start + timedelta(minutes=90))
        assert meter["hour_usd"] == pytest.approx(55.04 + tokens)
        assert meter["day_usd"] == pytest.approx(1.5 * 55.04 + tokens)
        assert meter["by_source"] == {
            "ec2:p5.48xlarge": pytest.approx(82.56),
            f"bedrock:{sonnet}": pytest.approx(tokens),
        }

        # AND the negative control: with the capture switched off (the forwarding rule disabled) a second p5 is not
        # seen at all: the meter prices only what the capture recorded
        member.client("events").disable_rule(Name=FORWARDING_RULE)
        _launch_p5(member)
        time.sleep(2)
        assert len(_usage_events(done.account_id)) == 2
        assert _live(capsys, start + timedelta(minutes=90))["day_usd"] == pytest.approx(meter["day_usd"])
    finally:
        set_event_clock(None)
        member.client("events").enable_rule(Name=FORWARDING_RULE)


def _fence_at(at: datetime) -> dict[str, Any]:
    """One metering interval: the SpendFence function invoked as its schedule would, for the interval at `at`."""
    answer = boto3.client("lambda").invoke(
        FunctionName="vending-spend-fence", Payload=json.dumps({"time": at.isoformat(), "detail": {}}).encode()
    )
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return dict(body)


def _freeze_attached(account_id: str) -> bool:
    policies = boto3.client("organizations").list_policies_for_target(
        TargetId=account_id, Filter="SERVICE_CONTROL_POLICY"
    )["Policies"]
    return any(p["Name"] == "vend-freeze" for p in policies)


def _first_interval_frozen(account_id: str, start: datetime, *, minutes: int) -> tuple[datetime, list[str]]:
    """Run the fence every 5 minutes from `start` until it freezes the account; the readings it ran on before."""
    for step in range(0, minutes + 1, 5):
        at = start + timedelta(minutes=step)
        if account_id in _fence_at(at)["frozen"]:
            return at, []
        assert not _freeze_attached(account_id), f"frozen outside a fence run at {at}"
    raise AssertionError(f"{account_id} was not frozen within {minutes} minutes of {start}")


def _crossing(capsys: pytest.CaptureFixture[str], start: datetime, end: datetime, hourly: float) -> datetime:
    """The first minute at which the meter reads the hour over the cap (read as PlatformAdmin: vend costs --live)."""
    at = start
    while at <= end:
        if _live(capsys, at)["hour_usd"] > hourly:
            return at
        at += timedelta(minutes=1)
    raise AssertionError(f"the meter never crossed {hourly} USD/hour between {start} and {end}")


@needs_terraform
def test_spend_fence_freezes_a_runaway_at_the_next_interval_and_an_approved_thaw_lifts_it(
    emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: meter -> fence end to end on the emulator, IAM on, with a controlled clock. The SpendFence function
    (its own role) reads the live meter (usage recorded from the account's state-change events; Bedrock tokens from
    AWS/Bedrock metrics) and attaches vend-freeze; a thaw filed by PlatformAdmin and approved by PlatformApprover
    lifts it."""
    from landing_zone.local.state_change_events import set_event_clock
    from tests.e2e.test_lifecycle_state_machine import signed_in_as
    from vending.cli import main

    done = RequestStore(boto3.client("dynamodb"), "vending-requests").require("team-mlops-staging")
    assert done.status == Status.READY and done.account_id
    caps = cached_layout().spend_caps("team-mlops", done.request["gpu_tier"])
    assert caps is not None
    member = _access_session(done.account_id)
    figures: dict[str, float] = {}
    # GIVEN a day of its own, and five more p5s launched at 09:00 (beside the one the meter test left running)
    day = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    set_event_clock(lambda: day)
    try:
        launched = [_launch_p5(member) for _ in range(5)]
        deadline = time.monotonic() + 60
        while len(_usage_events(done.account_id)) < 12 and time.monotonic() < deadline:
            time.sleep(0.5)
        # WHEN the fence runs every 5 minutes
        frozen_at, _ = _first_interval_frozen(done.account_id, day, minutes=120)
        # THEN it froze at the first interval after the meter crossed the hourly cap
        crossed = _crossing(capsys, frozen_at - timedelta(minutes=5), frozen_at, caps.hourly_usd)
        lag = (frozen_at - crossed).total_seconds() / 60
        assert 0 <= lag <= 5, (crossed, frozen_at)
        figures["p5 minutes from crossing to freeze"] = lag
        assert _freeze_attached(done.account_id)
        # AND the next interval changes nothing (idempotent)
        assert done.account_id in _fence_at(frozen_at + timedelta(minutes=5))["already_frozen"]
        # WHEN the runaway is stopped and a thaw filed by PlatformAdmin is approved by PlatformApprover
        thaw_at = frozen_at + timedelta(minutes=10)
        set_event_clock(lambda: thaw_at)
        member.client("ec2").stop_instances(InstanceIds=launched)
        capsys.readouterr()
        assert main(["spend", "thaw", done.request_id, "--reason", "runaway training job stopped"]) == 0
        with signed_in_as("PlatformApprover", "approver-session"):
            assert main(["spend", "approve", done.request_id, "--json"]) == 0
        # THEN the approval alone detaches nothing (the approver's role may not touch SCPs), and the next interval
        # detaches vend-freeze (an interval an hour on: the CLI's thaw is stamped with the wall clock, not this
        # test's, so the hour's spend is out of the window rather than forgiven)
        assert _freeze_attached(done.account_id)
        after = _fence_at(thaw_at + timedelta(minutes=65))
        assert (after["thawed"], after["frozen"]) == ([done.account_id], []), after
        assert not _freeze_attached(done.account_id)
    finally:
        set_event_clock(None)
    # GIVEN another day, and Bedrock reporting Sonnet tokens worth more than the hourly cap at 14:02
    tokens_day = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)
    sonnet = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
    over = int((caps.hourly_usd * 1.2) / 0.003 * 1000)  # input tokens at 0.003 USD per 1,000
    member.client("cloudwatch").put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[
            {
                "MetricName": "InputTokenCount",
                "Dimensions": [{"Name": "ModelId", "Value": sonnet}],
                "Timestamp": tokens_day + timedelta(minutes=2),
                "Value": over,
            }
        ],
    )
    # WHEN the fence runs every 5 minutes THEN it freezes at the first interval after the crossing
    frozen_at, _ = _first_interval_frozen(done.account_id, tokens_day, minutes=30)
    crossed = _crossing(capsys, tokens_day, frozen_at, caps.hourly_usd)
    lag = (frozen_at - crossed).total_seconds() / 60
    assert 0 <= lag <= 5, (crossed, frozen_at)
    figures["bedrock minutes from crossing to freeze"] = lag
    # AND thawed again the same way, so the account is left as the other tests expect it
    assert main(["spend", "thaw", done.request_id, "--reason", "token flood traced to a test loop"]) == 0
    with signed_in_as("PlatformApprover", "approver-session"):
        assert main(["spend", "approve", done.request_id, "--json"]) == 0
    after = _fence_at(frozen_at + timedelta(minutes=65))
    assert (after["thawed"], after["frozen"]) == ([done.account_id], []), after
    assert not _freeze_attached(done.account_id)
    with capsys.disabled():
        print(f"\nspend fence on the emulator: {figures} (caps {caps.hourly_usd}/h, {caps.daily_usd}/day)")


@needs_terraform
def test_budgets_backstop_freeze_is_adopted_by_the_next_interval_and_thawed_the_same_way(
    emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24 item 4, the backstop: billing data crosses the monthly budget, Budgets attaches vend-freeze as its
    execution role (decided by the emulator's IAM), the SpendFence function adopts the freeze at its next interval
    (once), and a thaw filed by PlatformAdmin and approved by PlatformApprover reverses the action and lifts it."""
    from landing_zone.local.budget_actions import billing_caught_up
    from tests.e2e.test_lifecycle_state_machine import signed_in_as
    from vending.budgets import backstop_action, backstop_name
    from vending.cli import main
    from vending.spend.fence import BACKSTOP_REASON
    from vending.spend.freezes import FreezeStore

    _, deployment = emulator
    mgmt = deployment.management_account_id
    done = RequestStore(boto3.client("dynamodb"), "vending-requests").require("team-mlops-staging")
    account = str(done.account_id)
    amount = cached_layout().monthly_budget("team-mlops", done.request["gpu_tier"])
    assert not _freeze_attached(account)
    # GIVEN billing data that crossed the monthly budget
    (fired,) = billing_caught_up(mgmt, backstop_name(account), amount * 1.1)
    # THEN Budgets froze the account as its execution role
    assert fired["Status"] == "EXECUTION_SUCCESS" and _freeze_attached(account)
    # WHEN the fence's next two intervals run THEN the first adopts the freeze, the second finds it complete
    at = datetime(2026, 12, 9, 16, 0, tzinfo=UTC)
    first, second = _fence_at(at), _fence_at(at + timedelta(minutes=5))
    assert (first["adopted"], first["frozen"], second["adopted"]) == ([account], [], []), (first, second)
    assert account in second["already_frozen"]
    record = FreezeStore(boto3.client("dynamodb"), Settings.from_env().freezes_table).get(account)
    assert record is not None and (record.cap, record.reason) == ("monthly", BACKSTOP_REASON)
    # WHEN a thaw is filed and approved by another principal, and the next interval runs
    assert main(["spend", "thaw", done.request_id, "--reason", "billing anomaly refunded"]) == 0
    with signed_in_as("PlatformApprover", "approver-session"):
        assert main(["spend", "approve", done.request_id, "--json"]) == 0
    capsys.readouterr()
    after = _fence_at(at + timedelta(minutes=70))
    # THEN the action is reversed and vend-freeze is off
    assert (after["thawed"], after["frozen"], after["adopted"]) == ([account], [], []), after
    assert not _freeze_attached(account)
    action = backstop_action(boto3.client("budgets"), mgmt, account)
    assert action is not None and action["Status"] == "REVERSE_SUCCESS"


def _access_session(account_id: str) -> boto3.Session:
    """The platform's own access role in the vended account (what an operator, or a console click, acts as)."""
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="out-of-band"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def _state_versions(s3: Any, bucket: str) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=bucket)
    return sorted((v["Key"], v["VersionId"]) for v in listed.get("Versions", []))


def _states(versions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in versions if not k.endswith(".tflock")]


def _drift(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    from vending.cli import main

    capsys.readouterr()
    code = main(["drift", *args, "--json"])
    return code, dict(json.loads(capsys.readouterr().out))


@needs_terraform
def test_drift_pass_reports_an_out_of_band_change_and_not_an_unchanged_stack(
    emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN team-mlops's READY account with its bootstrap stack applied (the test above)
    done = RequestStore(boto3.client("dynamodb"), "vending-requests").require("team-mlops-staging")
    assert done.status == Status.READY and done.account_id and done.state_bucket
    member = _access_session(done.account_id)
    s3 = member.client("s3")
    state_before = _state_versions(s3, done.state_bucket)

    # WHEN the drift pass runs (`vend drift --check` invokes the StackDrift function, as its schedule does)
    code, clean = _drift(capsys, "--check", "--all", "--request", "team-mlops-staging")

    # THEN the unchanged stack is checked and reported clean: nothing listed as drifted, exit 0
    assert code == 0, clean
    [check] = clean["stacks"]
    assert (check["stack_path"], check["status"]) == ("team-mlops/staging/bootstrap", "CLEAN"), check
    assert check["resources"] == [] and check["commands"] == ["init", "plan", "show"]
    # AND the plan-only pass took the state lock (a new version of the lock object: -lock=true) and released it (no
    # current lock object; a versioned bucket keeps the deleted one as a noncurrent version), and wrote no state
    lock_key = "team-mlops/staging/bootstrap/terraform.tfstate.tflock"
    after = _state_versions(s3, done.state_bucket)
    assert _states(after) == _states(state_before)
    assert len([k for k, _ in after if k == lock_key]) == len([k for k, _ in state_before if k == lock_key]) + 1
    with pytest.raises(ClientError, match=r"404|Not Found"):
        s3.head_object(Bucket=done.state_bucket, Key=lock_key)

    # WHEN the platform changes a tag of the stack's artifacts bucket outside Terraform
    bucket = f"team-mlops-staging-artifacts-{done.account_id}"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["purpose"] == "artifacts"
    tags["purpose"] = "tampered"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
    code, drifted = _drift(capsys, "--check", "--request", "team-mlops-staging")

    # THEN `vend drift` lists the stack with the bucket and the changed attribute, and exits 1
    assert code == 1, drifted
    [check] = drifted["stacks"]
    assert (check["stack_path"], check["status"]) == ("team-mlops/staging/bootstrap", "DRIFTED")
    by_source = {(r["source"], r["address"]): r for r in check["resources"]}
    outside = by_source[("resource_drift", "module.artifacts.aws_s3_bucket.this")]
    assert "tags.purpose" in outside["attributes"]
    assert outside["values"]["tags.purpose"] == ["artifacts", "tampered"]
    planned = by_source[("resource_changes", "module.artifacts.aws_s3_bucket.this")]
    assert planned["actions"] == ["update"] and planned["values"]["tags.purpose"] == ["tampered", "artifacts"]
    assert [r["address"] for r in check["resources"]] == ["module.artifacts.aws_s3_bucket.this"] * len(
        check["resources"]
    ), "only the tampered bucket differs"
    # AND nothing was put back: the check planned, it never applied (the tag is still the tampered one)
    assert {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}["purpose"] == "tampered"
    assert _states(_state_versions(s3, done.state_bucket)) == _states(state_before)
    with pytest.raises(ClientError, match=r"404|Not Found"):
        s3.head_object(Bucket=done.state_bucket, Key=lock_key)
    # AND the last checks are what `vend drift` reads without running them again
    code, listed = _drift(capsys)
    assert code == 1 and [c["status"] for c in listed["stacks"]] == ["DRIFTED"]
    from vending.cli import main

    assert main(["drift"]) == 1
    table = capsys.readouterr().out
    assert "module.artifacts.aws_s3_bucket.this" in table and 'tags.purpose: "artifacts" -> "tampered"' in table
    with capsys.disabled():  # the table people read, in the test log (the closing note quotes it)
        print("\n$ vend drift\n" + table)

    # AND the guardrail audit reports the stack's drift among its findings
    from vending.guardrails.audit import audit_organization
    from vending.pipeline.drift import checks_for_audit

    records = RequestStore(boto3.client("dynamodb"), "vending-requests").list()
    report = audit_organization(
        boto3.client("organizations"),
        cached_layout(),
        records=records,
        stack_checks=checks_for_audit(boto3.client("dynamodb"), "vending-pipeline-runs", records),
    )
    stack_findings = [f for f in report.findings if f.type == "stack_drift"]
    assert [f.target for f in stack_findings] == ["stack:team-mlops/staging/bootstrap"]
    assert "module.artifacts.aws_s3_bucket.this (update: " in stack_findings[0].detail
    assert report.counts()["stack_drift"] == 1 and report.drift == {"checked": 1, "by_status": {"DRIFTED": 1}}

    # AND the plan role the check runs as could not have made (or undone) the change: it may only read
    from vending.pipeline import orchestration

    worker = orchestration.WORKER_SESSION() if orchestration.WORKER_SESSION else boto3.Session()
    run = orchestration.RunStore(boto3.client("dynamodb"), "vending-pipeline-runs").get("team-mlops-staging/bootstrap")
    assert run is not None
    plan_env = orchestration.plan_credentials(worker, run)
    as_plan_role = boto3.client(
        "s3",
        aws_access_key_id=plan_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=plan_env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=plan_env["AWS_SESSION_TOKEN"],
        region_name="us-east-1",
    )
    as_plan_role.get_bucket_tagging(Bucket=bucket)  # reads
    with pytest.raises(ClientError, match="AccessDenied"):
        as_plan_role.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "purpose", "Value": "artifacts"}]})


@needs_terraform
def test_drift_check_that_meets_a_held_state_lock_is_unchecked_and_leaves_the_lock(
    emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the applied stack's state locked by someone else (an apply in progress), and a short lock wait
    from vending.pipeline import runner

    monkeypatch.setattr(runner, "DRIFT_LOCK_TIMEOUT", "2s")
    done = RequestStore(boto3.client("dynamodb"), "vending-requests").require("team-mlops-staging")
    assert done.account_id and done.state_bucket
    s3 = _access_session(done.account_id).client("s3")
    lock_key = "team-mlops/staging/bootstrap/terraform.tfstate.tflock"
    held = {
        "ID": "f00dfeed-0000-4000-8000-000000000001",
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "apply@ci",
        "Version": "1.10.0",
        "Created": "2026-12-03T05:00:00Z",
        "Path": lock_key,
    }
    s3.put_object(
        Bucket=done.state_bucket,
        Key=lock_key,
        Body=json.dumps(held).encode(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="alias/terraform-state",
    )
    try:
        # WHEN the drift pass checks the stack
        code, listed = _drift(capsys, "--check", "--request", "team-mlops-staging")
        # THEN the stack is reported unchecked (FAILED, naming the lock), never clean
        assert code == 1, listed
        [check] = listed["stacks"]
        assert check["status"] == "FAILED" and "lock" in check["message"].lower(), check
        from vending.guardrails.audit import drift_findings

        findings, _ = drift_findings([check])
        assert [f.type for f in findings] == ["drift_unchecked"]
        # AND the other holder's lock is left as it was: a drift check never breaks a lock
        body = s3.get_object(Bucket=done.state_bucket, Key=lock_key)["Body"].read()
        assert json.loads(body)["ID"] == held["ID"]
    finally:
        s3.delete_object(Bucket=done.state_bucket, Key=lock_key)


def test_state_machine_records_failure_and_resumes_from_failed_step(
    emulator: tuple[Emulator, Deployment], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN team-frontend's request and a Terraform runner that cannot find its provider mirror
    _, deployment = emulator
    request = request_for(cached_layout().team("team-frontend"))  # type: ignore[arg-type]
    sfn, org = boto3.client("stepfunctions"), boto3.client("organizations")
    monkeypatch.setenv("VEND_TF_PROVIDER_MIRROR", "")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/nonexistent/terraformrc")

    # WHEN it is vended
    send(boto3.Session(), deployment, request, "cli")
    first = wait_for(sfn, execution_arn(deployment, request, 1))

    # THEN the execution fails through RecordFailed -> NotifyFailed, and the record names the step and reason
    assert first["status"] == "FAILED"
    assert entered(sfn, first["executionArn"])[-3:] == ["RecordFailed", "NotifyFailed", "Failed"]
    failed = record(request)
    assert failed.status == Status.FAILED
    assert failed.failed_step == "CheckPipelines"
    assert "TerraformUnavailable" in (failed.failure_reason or "")
    assert failed.account_id and failed.state_bucket  # what was done before the failure is kept
    accounts = len(org.list_accounts()["Accounts"])

    # WHEN the request is resumed (the same request sent again) with the mirror back: its pipelines are recorded
    # SUCCEEDED at launch, since what is checked here is the workflow's resume (an applied bootstrap is checked by
    # test_state_machine_vends_a_ready_account); a real apply would add a minute of the AWS provider's waits
    monkeypatch.undo()
    from benchmarks.vend_throughput import skipped_launch  # here: importing it sets POWERTOOLS_* defaults

    with pytest.MonkeyPatch.context() as launcher:
        launcher.setattr(orchestration.LocalThreadLauncher, "launch", skipped_launch)
        reply = send(boto3.Session(), deployment, request, "cli")
        second = wait_for(sfn, execution_arn(deployment, request, 2))

    # THEN a second attempt reuses the same account and reaches READY; no account was created
    assert reply["outcome"] == "resumed"
    assert second["status"] == "SUCCEEDED", second
    resumed = record(request)
    assert resumed.status == Status.READY and resumed.attempts == 2
    assert resumed.account_id == failed.account_id
    assert len(org.list_accounts()["Accounts"]) == accounts
    output = json.loads(second["output"])
    assert output["account"]["account_id"] == failed.account_id


def test_state_machine_rejects_a_conflicting_execution(emulator: tuple[Emulator, Deployment]) -> None:
    # GIVEN a request whose team+stage is owned by a running execution (a record in flight)
    _, deployment = emulator
    request = request_for(cached_layout().team("team-backend"), stage="production")  # type: ignore[arg-type]
    store = RequestStore(boto3.client("dynamodb"), "vending-requests")
    store.reserve(request, "vend-someone-else-a1")
    sfn = boto3.client("stepfunctions")

    # WHEN an execution for it is started directly (bypassing the entry points' checks)
    arn = sfn.start_execution(
        stateMachineArn=deployment.state_machine_arn,
        name="conflict-a1",
        input=json.dumps({"request": request.model_dump(mode="json"), "execution": "conflict-a1"}),
    )["executionArn"]
    outcome = wait_for(sfn, arn, timeout=60)

    # THEN Reserve refuses it, the other owner's record is untouched, and no account is created
    assert outcome["status"] == "FAILED"
    assert entered(sfn, arn)[-1] == "Rejected"
    assert store.require(request.request_id).execution_name == "vend-someone-else-a1"
    assert store.require(request.request_id).account_id is None
