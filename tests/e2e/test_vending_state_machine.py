"""The whole AccountVending state machine, executed by moto's Step Functions interpreter.

These tests drive the real ASL file with the handlers running in-process; nothing imitates the workflow.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from landing_zone.local.billing_and_quotas import quota_requests
from landing_zone.local.demo import inspect_state_bucket, request_for, send
from landing_zone.local.runtime import Deployment, Emulator
from tests.e2e.conftest import needs_terraform, terraform_ready
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.request import VendingRequest

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
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
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

    # WHEN the request is resumed (the same request sent again) with Terraform back
    monkeypatch.undo()
    if (why := terraform_ready()) is not None:
        pytest.skip(f"resume half needs Terraform: {why}")
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
