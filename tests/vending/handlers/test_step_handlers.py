"""The state machine's Lambda handlers, called directly with the recorded state document and a fake context."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from vending import context
from vending.exceptions import InvalidRequest, InvalidWorkflowState
from vending.handlers import (
    apply_guardrails,
    bootstrap,
    check_account_status,
    check_pipelines,
    create_account,
    notify,
    place_in_ou,
    record_failed,
    record_ready,
    request_quotas,
    reserve,
    start_pipelines,
    tag_account,
    validate_request,
)
from vending.lifecycle import RequestStore, Status
from vending.pipeline.orchestration import RunStore

Payload = Callable[[str], dict[str, Any]]


class FakeLauncher:
    launched: ClassVar[list[str]] = []

    def __init__(self, *_: Any) -> None:
        pass

    def launch(self, run_id: str) -> None:
        FakeLauncher.launched.append(run_id)


@pytest.fixture
def state(event_payload: Payload) -> dict[str, Any]:
    return event_payload("state_input")


@pytest.fixture
def vend(org: Any, store: RequestStore, state: dict[str, Any], lambda_context: Any) -> Callable[[str], dict[str, Any]]:
    """Run the workflow's steps in order up to (and including) the named one; returns the state document."""
    order = [
        "Reserve",
        "CreateAccount",
        "CheckAccountStatus",
        "PlaceInOu",
        "TagAccount",
        "ApplyGuardrails",
        "Bootstrap",
        "RequestQuotas",
    ]
    steps = {
        "Reserve": (reserve, "reservation"),
        "CreateAccount": (create_account, "account"),
        "CheckAccountStatus": (check_account_status, "account"),
        "PlaceInOu": (place_in_ou, "placement"),
        "TagAccount": (tag_account, "tags"),
        "ApplyGuardrails": (apply_guardrails, "guardrails"),
        "Bootstrap": (bootstrap, "bootstrap"),
        "RequestQuotas": (request_quotas, "quotas"),
    }

    def _run(until: str) -> dict[str, Any]:
        for name in order[: order.index(until) + 1]:
            module, result_path = steps[name]
            state[result_path] = json.loads(json.dumps(module.handler(state, lambda_context)))
        return state

    return _run


def test_validate_request_handler_returns_normalised_request(state: dict[str, Any], lambda_context: Any) -> None:
    # GIVEN the execution input with stacks out of order
    state["request"]["stacks"] = ["eks", "bootstrap"]
    # WHEN ValidateRequest runs
    result = validate_request.handler(state, lambda_context)
    # THEN the state comes back with the request normalised (bootstrap first) and the rest kept
    assert result["request"]["stacks"] == ["bootstrap", "eks"]
    assert result["execution"] == state["execution"]


def test_validate_request_handler_applies_the_deployments_cadence(
    state: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a deployment configured to poll every second, and an input that asked for AWS's defaults
    monkeypatch.setenv("VEND_WORKFLOW_SETTINGS", '{"account_poll_seconds": 1}')
    state["settings"] = {"account_poll_seconds": 30, "pipeline_poll_seconds": 30}
    # WHEN ValidateRequest runs
    result = validate_request.handler(state, lambda_context)
    # THEN the deployment's value wins and the others are kept
    assert result["settings"] == {"account_poll_seconds": 1, "pipeline_poll_seconds": 30}


def test_validate_request_handler_rejects_invalid(state: dict[str, Any], lambda_context: Any) -> None:
    # GIVEN an execution input whose request is invalid
    state["request"]["regions"] = ["ap-south-1"]
    # WHEN ValidateRequest runs
    # THEN InvalidRequest (the Catch's error name) names the field
    with pytest.raises(InvalidRequest, match="regions"):
        validate_request.handler(state, lambda_context)


def test_reserve_handler_reserves(store: RequestStore, state: dict[str, Any], lambda_context: Any) -> None:
    # GIVEN no record
    # WHEN Reserve runs (twice: a Lambda retry)
    first = reserve.handler(state, lambda_context)
    again = reserve.handler(state, lambda_context)
    # THEN the request is PENDING under this execution, attempt 1
    assert first == again == {"status": "PENDING", "attempts": 1, "account_id": None}
    assert store.require("team-mlops-staging").execution_name == "vend-team-mlops-staging-a1"


def test_create_account_handler_starts_creation(
    vend: Callable[[str], dict[str, Any]],
    store: RequestStore,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a reserved request, and metrics on as in Lambda (a module run earlier on this worker may have turned
    # them off: the benchmarks some emulator tests import set POWERTOOLS_METRICS_DISABLED when imported)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    # WHEN CreateAccount runs
    account = vend("CreateAccount")["account"]
    # THEN the creation is started and saved, and the metric is emitted
    assert account["state"] == "IN_PROGRESS"
    assert store.require("team-mlops-staging").create_account_request_id == account["create_account_request_id"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("AccountCreationsStarted" in doc for doc in emf)
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AccountVending" for doc in emf)


def test_check_account_status_handler_reports_account(
    vend: Callable[[str], dict[str, Any]], store: RequestStore
) -> None:
    # GIVEN a creation started in moto (complete at once)
    # WHEN CheckAccountStatus runs
    account = vend("CheckAccountStatus")["account"]
    # THEN the account is SUCCEEDED and recorded
    assert account["state"] == "SUCCEEDED" and account["polls"] == 1
    assert store.require("team-mlops-staging").account_id == account["account_id"]


def test_check_account_status_handler_needs_account(state: dict[str, Any], lambda_context: Any) -> None:
    # GIVEN a state without $.account
    # WHEN CheckAccountStatus runs
    # THEN it fails clearly
    with pytest.raises(InvalidWorkflowState, match=r"\$\.account"):
        check_account_status.handler(state, lambda_context)


def test_place_tag_and_guardrail_handlers(vend: Callable[[str], dict[str, Any]], store: RequestStore, org: Any) -> None:
    # GIVEN a created account
    # WHEN PlaceInOu, TagAccount and ApplyGuardrails run
    document = vend("ApplyGuardrails")
    account_id = document["account"]["account_id"]
    # THEN the account is in Workloads/Staging, tagged, and governed by the OU and tier SCPs
    assert document["placement"]["ou_path"] == "Workloads/Staging"
    assert org.list_parents(ChildId=account_id)["Parents"][0]["Id"] == document["placement"]["ou_id"]
    assert document["tags"]["cost-center"] == "CC-1003"
    record = store.require("team-mlops-staging")
    assert record.status == Status.GUARDRAILS
    assert record.scps == document["guardrails"]["policies"]
    assert any("training" in p for p in record.scps)


def test_bootstrap_handler_records_bucket_and_role(vend: Callable[[str], dict[str, Any]], store: RequestStore) -> None:
    # GIVEN a placed and governed account
    # WHEN Bootstrap runs through the account's access role
    document = vend("Bootstrap")
    account_id = document["account"]["account_id"]
    # THEN the member account's bucket and CI role are recorded
    record = store.require("team-mlops-staging")
    assert record.status == Status.BOOTSTRAPPING
    assert record.state_bucket == document["bootstrap"]["state_bucket"] == f"tfstate-{account_id}-us-east-1"
    assert record.ci_role_arn == f"arn:aws:iam::{account_id}:role/TeamCIRole"
    # without a GitHub App setting the GitHub step is a no-op that says so (tests/github covers it configured)
    assert document["bootstrap"]["github"]["status"] == "skipped"
    assert "VEND_GITHUB_APP_ID" in document["bootstrap"]["github"]["reason"]


def test_request_quotas_handler_records_the_tiers_requests(
    vend: Callable[[str], dict[str, Any]], store: RequestStore, state: dict[str, Any], lambda_context: Any
) -> None:
    from landing_zone.local.billing_and_quotas import emulated_service_quotas, quota_requests
    from vending.layout import cached_layout

    with emulated_service_quotas():
        # GIVEN a bootstrapped training account in two regions WHEN RequestQuotas runs, and runs again (a retry)
        document = vend("RequestQuotas")
        account_id = document["account"]["account_id"]
        again = request_quotas.handler(state, lambda_context)
        # THEN every quota of the training tier is requested once per region, in the new account, and recorded
        needs = cached_layout().quota_needs("training")
        for region in ("us-east-1", "us-west-2"):
            assert len(quota_requests(account_id, region)) == len(needs)
        record = store.require("team-mlops-staging")
        assert len(record.quotas) == 2 * len(needs) and all(q["status"] == "PENDING" for q in record.quotas)
        assert {q["request_id"] for q in record.quotas} == {r["Id"] for r in quota_requests(account_id)} | {
            r["Id"] for r in quota_requests(account_id, "us-west-2")
        }
        assert document["quotas"]["pending"] == again["pending"] and len(again["pending"]) == 2 * len(needs)
        assert record.step == "RequestQuotas" and record.status == Status.BOOTSTRAPPING


class FakeTaskTokens:
    """Stands in for Step Functions' SendTask* API (moto's mock_aws has no running callback task to complete)."""

    sent: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def send_task_success(self, **kwargs: Any) -> None:
        self.sent.append(("success", kwargs))

    def send_task_failure(self, **kwargs: Any) -> None:
        self.sent.append(("failure", kwargs))


@pytest.fixture
def task_tokens(monkeypatch: pytest.MonkeyPatch) -> type[FakeTaskTokens]:
    FakeTaskTokens.sent = []
    real = context.Context.client
    monkeypatch.setattr(
        context.Context, "client", lambda self, name: FakeTaskTokens() if name == "stepfunctions" else real(self, name)
    )
    return FakeTaskTokens


def test_pipeline_handlers_start_and_check(
    reserved: RequestStore,
    run_store: RunStore,
    state: dict[str, Any],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    task_tokens: type[FakeTaskTokens],
) -> None:
    # GIVEN a bootstrapped account and a launcher that only records launches
    monkeypatch.setattr(context, "LocalThreadLauncher", FakeLauncher)
    FakeLauncher.launched = []
    reserved.update(
        "team-mlops-staging", step="Bootstrap", account_id="111122223333", state_bucket="tfstate-111122223333-us-east-1"
    )
    state["account"] = {"account_id": "111122223333", "state": "SUCCEEDED"}
    # WHEN StartPipelines runs
    state["pipelines"] = start_pipelines.handler(state, lambda_context)
    # THEN one run is launched for the bootstrap stack, with the recorded bucket
    assert state["pipelines"] == {
        "done": False,
        "polls": 0,
        "stacks": ["bootstrap"],
        "runs": {"bootstrap": {"status": "QUEUED"}},
    }
    assert FakeLauncher.launched == ["team-mlops-staging/bootstrap"]
    run = run_store.get("team-mlops-staging/bootstrap")
    assert run is not None and run.state_bucket == "tfstate-111122223333-us-east-1"
    # AND WHEN CheckPipelines arrives (as a .waitForTaskToken task) while it runs
    assert check_pipelines.handler({**state, "task_token": "tok-1"}, lambda_context) == {"outcome": "running"}
    # THEN it leaves the token waiting, stored with the runs
    assert task_tokens.sent == []
    assert run_store.get_callback("team-mlops-staging").task_token == "tok-1"  # type: ignore[union-attr]
    # AND WHEN the run succeeds and RecordReady runs with what the callback reported
    run_store.put(run.model_copy(update={"status": "SUCCEEDED", "message": "applied"}))
    state["pipelines"] = {"done": True, "runs": {"bootstrap": {"status": "SUCCEEDED", "message": "applied"}}}
    record_ready.handler(state, lambda_context)
    # THEN the runs are recorded on the request
    assert reserved.require("team-mlops-staging").pipelines == {
        "bootstrap": {"status": "SUCCEEDED", "message": "applied"}
    }


def test_check_pipelines_handler_failed_run(
    reserved: RequestStore,
    run_store: RunStore,
    state: dict[str, Any],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    task_tokens: type[FakeTaskTokens],
) -> None:
    # GIVEN a started run that failed
    monkeypatch.setattr(context, "LocalThreadLauncher", FakeLauncher)
    state["account"] = {"account_id": "111122223333", "state": "SUCCEEDED"}
    state["pipelines"] = start_pipelines.handler(state, lambda_context)
    run = run_store.get("team-mlops-staging/bootstrap")
    assert run is not None
    run_store.put(run.model_copy(update={"status": "FAILED", "message": "init: backend bucket missing"}))
    # WHEN CheckPipelines runs
    check_pipelines.handler({**state, "task_token": "tok-1"}, lambda_context)
    # THEN its token fails with PipelineFailed naming the stack and the message
    name, call = task_tokens.sent[0]
    assert (name, call["error"], call["taskToken"]) == ("failure", "PipelineFailed", "tok-1")
    assert "bootstrap: init: backend bucket missing" in call["cause"]


def test_check_pipelines_handler_needs_a_task_token(state: dict[str, Any], lambda_context: Any) -> None:
    # GIVEN a state document without $$.Task.Token (the ASL must call it with .waitForTaskToken)
    # WHEN CheckPipelines runs, THEN it refuses clearly
    with pytest.raises(InvalidWorkflowState, match="task_token"):
        check_pipelines.handler(state, lambda_context)


def test_record_ready_and_notify_handlers(
    reserved: RequestStore, state: dict[str, Any], lambda_context: Any, published: Callable[[], list[dict[str, Any]]]
) -> None:
    # GIVEN a request whose pipelines are done
    reserved.update("team-mlops-staging", status=Status.PIPELINES, step="CheckPipelines", account_id="111122223333")
    # WHEN RecordReady and Notify run
    assert record_ready.handler(state, lambda_context) == {"status": "READY", "account_id": "111122223333"}
    assert notify.handler(state, lambda_context) == {"detail_type": "Team Account Ready"}
    # THEN the record is READY and "Team Account Ready" is published
    assert reserved.require("team-mlops-staging").status == Status.READY
    [event] = published()
    assert (event["detail-type"], event["detail"]["account_id"]) == ("Team Account Ready", "111122223333")


def test_record_failed_handler_uses_history_step(
    reserved: RequestStore,
    event_payload: Payload,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    published: Callable[[], list[dict[str, Any]]],
) -> None:
    # GIVEN the Catch's document after CheckAccountStatus failed (the history says which state)
    document = event_payload("state_record_failed")
    seen: list[str] = []
    monkeypatch.setattr(record_failed, "failed_state", lambda _sfn, arn: seen.append(arn) or "CheckAccountStatus")
    reserved.update("team-mlops-staging", status=Status.CREATING, step="CreateAccount")
    # WHEN RecordFailed and Notify run
    result = record_failed.handler(document, lambda_context)
    notify.handler(document, lambda_context)
    # THEN the request is FAILED with the step from the history and the reason from the Cause
    assert seen == [document["execution_arn"]]
    reason = "AccountCreationFailed: CreateAccount car-0123456789abcdef failed: INTERNAL_FAILURE"
    assert result == {"status": "FAILED", "failed_step": "CheckAccountStatus", "reason": reason}
    record = reserved.require("team-mlops-staging")
    assert (record.status, record.failed_step, record.failure_reason) == (Status.FAILED, "CheckAccountStatus", reason)
    [event] = published()
    assert event["detail-type"] == "Team Account Failed"
    assert event["detail"]["failed_step"] == "CheckAccountStatus"


def test_record_failed_handler_falls_back_to_record_step(
    reserved: RequestStore, event_payload: Payload, lambda_context: Any
) -> None:
    # GIVEN a failure document without the execution ARN and a record last at Bootstrap
    document = event_payload("state_record_failed")
    del document["execution_arn"]
    reserved.update("team-mlops-staging", status=Status.BOOTSTRAPPING, step="Bootstrap")
    # WHEN RecordFailed runs
    result = record_failed.handler(document, lambda_context)
    # THEN the step is the record's last step
    assert result["failed_step"] == "Bootstrap"
