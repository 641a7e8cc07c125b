"""vending.changes: validation naming the field, the SCP diff, approvals, the race with a running vend, apply."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import boto3
import pytest

from scps.render import render
from tests.organization_pages import all_policies
from vending import context
from vending.accounts import place_in_ou, tag_account
from vending.changes import (
    ChangeStatus,
    ChangeStore,
    apply_change_guardrails,
    approve_change,
    begin_change,
    finish_change,
    lifecycle_input,
    plan_change,
    request_change,
)
from vending.exceptions import ChangeNotAllowed, InvalidRequest, SelfApproval
from vending.guardrails.account import apply_account_guardrails
from vending.guardrails.audit import audit_organization
from vending.guardrails.intent import layout_for_records, team_layout
from vending.guardrails.reconcile import reconcile_organization
from vending.handlers import start_change_pipelines
from vending.layout import Layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.pipeline.orchestration import RunStore, start_destroys, start_pipelines
from vending.request import VendingRequest
from vending.workflow import WorkflowSettings

REGION = "us-east-1"
CHANGES_TABLE = "vending-changes"
# Two principals, as vending.aws.identity records them (a role session becomes its role's ARN + the session name).
ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin"
APPROVER = "arn:aws:iam::123456789012:role/PlatformApprover"


@pytest.fixture
def changes(ddb: Any) -> ChangeStore:
    ddb.create_table(
        TableName=CHANGES_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "change_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "change_id", "KeyType": "HASH"}],
    )
    return ChangeStore(ddb, CHANGES_TABLE)


@pytest.fixture
def lifecycle_machine(aws: None) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="lifecycle-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return str(
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="AccountLifecycle",
            roleArn=role,
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        )["stateMachineArn"]
    )


@pytest.fixture
def frontend(
    org: Any,
    store: RequestStore,
    make_request: Callable[..., VendingRequest],
    layout: Layout,
    member_account: Callable[[str, str], str],
) -> RequestRecord:
    """GIVEN team-frontend/staging vended: READY, its account in the staging OU with the guardrails of tier none."""
    request = make_request(
        team="team-frontend",
        owner_email="frontend-leads@example.com",
        cost_center="CC-1001",
        gpu_tier="none",
        regions=["us-east-1"],
        repository="example-org/team-frontend-infra",
    )
    account_id = member_account(layout.account_email("team-frontend", "staging"), "team-frontend-staging")
    store.reserve(request, "vend-team-frontend-staging-a1")
    result = apply_account_guardrails(
        org, layout, account_id=account_id, team="team-frontend", stage="staging", gpu_tier="none"
    )
    store.update(request.request_id, step="PlaceInOu", account_id=account_id, ou_path=result.ou_path)
    return store.update(request.request_id, status=Status.READY, step="RecordReady")


def _attached(org: Any, account_id: str) -> set[str]:
    return {
        p["Name"]
        for p in org.list_policies_for_target(TargetId=account_id, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def test_plan_change_tier_upgrade_diff_and_approval(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout
) -> None:
    # WHEN an upgrade to the inference tier is planned (dry run)
    change = plan_change(store, changes, layout, frontend.request_id, {"gpu_tier": "inference"}, by="alice")
    # THEN the diff swaps the GPU tier SCP, the budget follows the tier, and an approval is required
    assert change.diff["policies"]["attached"] == ["vend-gpu-inference"]
    assert change.diff["policies"]["detached"] == ["vend-gpu-none"]
    assert change.diff["budget"] == {"monthly_usd": {"from": 500.0, "to": 5000.0}}
    # AND the inference tier's GPU quotas will be requested (the none tier needs none, so nothing stays above it)
    assert change.diff["quotas"]["above_tier"] == [] and change.diff["quotas"]["new_regions"] == []
    assert "ec2 Running On-Demand G and VT instances: 0 -> 64" in change.diff["quotas"]["request"]
    assert len(change.diff["quotas"]["request"]) == len(layout.quota_needs("inference"))
    assert change.diff["fields"] == {"gpu_tier": {"from": "none", "to": "inference"}}
    assert change.approval_reasons == ["GPU tier upgrade none -> inference"]
    # AND nothing was recorded
    assert changes.for_request(frontend.request_id) == []
    assert store.require(frontend.request_id) == frontend


def test_plan_change_regions_stacks_repository_diff(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout
) -> None:
    # WHEN regions, stacks and repository change together
    change = plan_change(
        store,
        changes,
        layout,
        frontend.request_id,
        {
            "regions": ["us-east-1", "eu-west-1"],
            "stacks": ["bootstrap", "networking"],
            "repository": "example-org/frontend-next",
        },
        by="alice",
    )
    # THEN the team policy is updated (its regions), the stack is added and the CI trust moves to the new repository
    assert change.diff["policies"]["updated"] == ["vend-team-team-frontend-staging"]
    assert change.diff["policies"]["attached"] == change.diff["policies"]["detached"] == []
    assert change.diff["stacks"] == {"added": ["networking"], "removed": []}
    assert change.diff["trust"]["ci_role_sub"] == {
        "from": "repo:example-org/team-frontend-infra:environment:team-frontend-staging:job_workflow_ref:"
        "example-org/team-frontend-infra/.github/workflows/terraform.yml@refs/heads/main",
        "to": "repo:example-org/frontend-next:environment:team-frontend-staging:job_workflow_ref:"
        "example-org/frontend-next/.github/workflows/terraform.yml@refs/heads/main",
    }
    # AND a staging change without a tier upgrade needs no approval
    assert change.approval_reasons == []


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"gpu_tier": "quantum"}, "gpu_tier"),
        ({"regions": ["ap-south-1"]}, "regions"),
        ({"stacks": ["bootstrap", "mainframe"]}, "stacks"),
        ({"repository": "not a repo"}, "repository"),
        ({"cost_center": "CC-9999"}, "cost_center"),
        ({}, "request"),
    ],
)
def test_request_change_rejects_bad_fields_naming_them(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    given: dict[str, Any],
    field: str,
    lifecycle_machine: str,
) -> None:
    # WHEN a bad change is filed
    with pytest.raises(InvalidRequest) as raised:
        request_change(
            store,
            changes,
            layout,
            frontend.request_id,
            given,
            by="alice",
            sfn=boto3.client("stepfunctions", region_name=REGION),
            state_machine_arn=lifecycle_machine,
            settings=WorkflowSettings(),
        )
    # THEN the error names the field, and nothing changed
    assert str(raised.value).startswith(f"{field}:") or field in {d["field"] for d in raised.value.details}
    assert store.require(frontend.request_id) == frontend
    assert changes.for_request(frontend.request_id) == []


def test_plan_change_removing_a_stack_destroys_it_after_an_approval(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout
) -> None:
    # GIVEN team-frontend/staging with bootstrap and networking applied
    store.update(frontend.request_id, step="x", request={**frontend.request, "stacks": ["bootstrap", "networking"]})
    asked: list[tuple[str, str]] = []

    def preview(record: RequestRecord, stack: str) -> dict[str, Any]:
        asked.append((record.request_id, stack))
        return {"state": "s3://b/k", "destroy": 3, "resources": ["a.b", "c.d", "e.f"]}

    # WHEN a change leaves networking out (dry run)
    change = plan_change(
        store, changes, layout, frontend.request_id, {"stacks": ["bootstrap"]}, by="alice", preview_destroy=preview
    )
    # THEN the diff lists it removed with its destroy plan, and even a staging change waits for an approval
    assert change.diff["stacks"] == {"added": [], "removed": ["networking"]}
    assert change.diff["destroy_plans"] == {
        "networking": {"state": "s3://b/k", "destroy": 3, "resources": ["a.b", "c.d", "e.f"]}
    }
    assert asked == [("team-frontend-staging", "networking")]
    assert change.approval_reasons == ["removes stacks ['networking'] (terraform destroy)"]
    assert change.status == ChangeStatus.AWAITING_APPROVAL
    # AND without a preview the plan is said to come when the change runs (None), and nothing was recorded
    assert plan_change(store, changes, layout, frontend.request_id, {"stacks": ["bootstrap"]}, by="a").diff[
        "destroy_plans"
    ] == {"networking": None}
    assert changes.for_request(frontend.request_id) == []


def test_approved_removal_starts_the_lifecycle_with_the_stacks_to_destroy(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    store.update(frontend.request_id, step="x", request={**frontend.request, "stacks": ["bootstrap", "networking"]})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    filed = request_change(store, changes, layout, frontend.request_id, {"stacks": ["bootstrap"]}, by="alice", **kwargs)
    assert filed.status == ChangeStatus.AWAITING_APPROVAL and not filed.execution_name
    approved = approve_change(store, changes, frontend.request_id, by="bob", **kwargs)
    execution = sfn.describe_execution(
        executionArn=lifecycle_machine.replace(":stateMachine:", ":execution:") + ":" + approved.execution_name
    )
    state = json.loads(execution["input"])
    assert state["destroy_stacks"] == ["networking"] and state["request"]["stacks"] == ["bootstrap"]


@pytest.mark.parametrize(
    "status", [Status.FAILED, Status.RETIRING, Status.SUSPENDED, Status.CLOSED, Status.CREATING, Status.UPDATING]
)
def test_request_change_refused_unless_ready(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, status: Status
) -> None:
    # GIVEN the request is not READY (failed, retiring, or a vend/change running)
    before = store.update(frontend.request_id, status=status, step="Elsewhere")
    # WHEN a change is filed THEN it is refused naming the request, and nothing changes
    with pytest.raises(ChangeNotAllowed, match=rf"^request: team-frontend-staging is {status.value}"):
        plan_change(store, changes, layout, frontend.request_id, {"gpu_tier": "inference"}, by="alice")
    assert store.require(frontend.request_id) == before


def test_change_racing_a_running_vend_does_not_begin(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    # GIVEN a staging change filed while the request was READY (started at once, no approval needed)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    change = request_change(
        store,
        changes,
        layout,
        frontend.request_id,
        {"stacks": ["bootstrap", "networking"]},
        by="alice",
        sfn=sfn,
        state_machine_arn=lifecycle_machine,
        settings=WorkflowSettings(),
    )
    assert change.status == ChangeStatus.RUNNING and change.execution_name
    # AND a vend of the same team+stage took the record before the change's first step ran
    racing = store.update(
        frontend.request_id,
        status=Status.PIPELINES,
        step="StartPipelines",
        execution_name="vend-team-frontend-staging-a2",
    )
    # WHEN the change's BeginChange step runs
    with pytest.raises(ChangeNotAllowed, match="PIPELINES under execution vend-team-frontend-staging-a2"):
        begin_change(store, changes, change.change_id, change.execution_name)
    # THEN the vend's record is untouched; the failure path marks only the change FAILED
    assert store.require(frontend.request_id) == racing
    failed = finish_change(store, changes, change.change_id, error="ChangeNotAllowed: raced a vend")
    assert failed.status == ChangeStatus.FAILED
    assert store.require(frontend.request_id) == racing


def test_change_applied_end_to_end_swaps_the_tier_policy(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, org: Any, lifecycle_machine: str
) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    # GIVEN an upgrade filed by alice: it waits
    change = request_change(
        store,
        changes,
        layout,
        frontend.request_id,
        {"gpu_tier": "inference"},
        by=ADMIN,
        session="alice",
        sfn=sfn,
        state_machine_arn=lifecycle_machine,
        settings=WorkflowSettings(),
    )
    assert change.status == ChangeStatus.AWAITING_APPROVAL and not change.execution_name
    # WHEN alice approves her own change THEN it is refused; so is the same role under another session name (session
    # names are the caller's choice, they identify nobody), and so is a legacy free-text record's author
    for by, session in ((ADMIN, "alice"), (ADMIN, "bob"), (ADMIN.upper(), None)):
        with pytest.raises(SelfApproval, match="another principal"):
            approve_change(
                store,
                changes,
                frontend.request_id,
                by=by,
                session=session,
                sfn=sfn,
                state_machine_arn=lifecycle_machine,
                settings=WorkflowSettings(),
            )
    # WHEN the approver role approves it THEN its execution starts, the approver recorded as a principal
    approved = approve_change(
        store,
        changes,
        frontend.request_id,
        by=APPROVER,
        session="bob",
        sfn=sfn,
        state_machine_arn=lifecycle_machine,
        settings=WorkflowSettings(),
    )
    assert (approved.approved_by, approved.approved_session) == (APPROVER, "bob")
    assert approved.execution_name.startswith("change-team-frontend-staging")
    assert sfn.describe_execution(
        executionArn=lifecycle_machine.replace(":stateMachine:", ":execution:") + ":" + approved.execution_name
    )["status"] in {"RUNNING", "SUCCEEDED"}
    # WHEN the steps run (BeginChange, the guardrail part of ApplyChange, FinishChange)
    updating = begin_change(store, changes, approved.change_id, approved.execution_name)
    assert updating.status == Status.UPDATING and updating.request["gpu_tier"] == "inference"
    assert begin_change(store, changes, approved.change_id, approved.execution_name) == updating  # a retry: no-op
    apply_account_guardrails(
        org, layout, account_id=str(frontend.account_id), team="team-frontend", stage="staging", gpu_tier="inference"
    )
    done = finish_change(store, changes, approved.change_id)
    # THEN the account carries the inference tier policy instead of none's, the record is READY with the new intent
    assert "vend-gpu-inference" in _attached(org, str(frontend.account_id))
    assert "vend-gpu-none" not in _attached(org, str(frontend.account_id))
    record = store.require(frontend.request_id)
    assert record.status == Status.READY and record.request["gpu_tier"] == "inference"
    assert [t.status for t in record.history][-2:] == [Status.UPDATING, Status.READY]
    assert done.status == ChangeStatus.APPLIED and done.requested_at
    assert (done.requested_by, done.requested_session) == (ADMIN, "alice")


def test_production_change_always_waits_for_approval(
    org: Any, store: RequestStore, changes: ChangeStore, layout: Layout, make_request: Callable[..., VendingRequest]
) -> None:
    request = make_request(stage="production")
    store.reserve(request, "vend-team-mlops-production-a1")
    store.update(request.request_id, status=Status.READY, step="RecordReady", account_id="210987654321")
    change = plan_change(store, changes, layout, request.request_id, {"owner_email": "new@example.com"}, by="alice")
    assert change.approval_reasons == ["production account"]


def _team_fence(org: Any, name: str) -> list[str]:
    policy = next(p for p in all_policies(org, "SERVICE_CONTROL_POLICY") if p["Name"] == name)
    content = json.loads(org.describe_policy(PolicyId=policy["Id"])["Policy"]["Content"])
    fence = next(s for s in content["Statement"] if s["Sid"] == "DenyOutsideTeamRegions")
    return list(fence["Condition"]["StringNotEquals"]["aws:RequestedRegion"])


def test_regions_change_rewrites_the_team_region_fence_and_the_audit_is_clean(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, org: Any, lifecycle_machine: str
) -> None:
    # GIVEN team-frontend/staging placed, tagged and the whole org reconciled: the audit finds nothing
    account_id = str(frontend.account_id)
    request = VendingRequest.model_validate(frontend.request)
    place_in_ou(org, store, request, layout, account_id)
    tag_account(org, store, request, account_id)
    store.update(frontend.request_id, status=Status.READY, step="RecordReady")
    reconcile_organization(org, layout, dry_run=False, records=store.list())
    assert audit_organization(org, layout, records=store.list()).findings == []
    assert _team_fence(org, "vend-team-team-frontend-staging") == ["us-east-1"]
    # WHEN a second region is asked for: the dry run names the fence it rewrites
    planned = plan_change(store, changes, layout, frontend.request_id, {"regions": ["us-east-1", "eu-west-1"]}, by="a")
    assert planned.diff["region_fence"] == {
        "policy": "vend-team-team-frontend-staging",
        "from": ["us-east-1"],
        "to": ["us-east-1", "eu-west-1"],
    }
    assert planned.diff["policies"]["updated"] == ["vend-team-team-frontend-staging"]
    change = request_change(
        store,
        changes,
        layout,
        frontend.request_id,
        {"regions": ["us-east-1", "eu-west-1"]},
        by="alice",
        sfn=boto3.client("stepfunctions", region_name=REGION),
        state_machine_arn=lifecycle_machine,
        settings=WorkflowSettings(),
    )
    updating = begin_change(store, changes, change.change_id, change.execution_name)
    # (between BeginChange and ApplyChange the intent has moved and the account has not: the audit sees the drift)
    drift = audit_organization(org, layout, records=store.list()).findings
    assert [(f.type, f.target) for f in drift] == [("policy_drift", "policy:vend-team-team-frontend-staging")]
    result = apply_change_guardrails(
        org, layout, store, VendingRequest.model_validate(updating.request), account_id=account_id
    )
    finish_change(store, changes, change.change_id)
    # THEN the team policy was updated in place (same policy, new regions), nothing attached or detached
    assert "update_policy vend-team-team-frontend-staging" in result.changes
    assert not [c for c in result.changes if c.startswith(("attach", "detach"))]
    assert _team_fence(org, "vend-team-team-frontend-staging") == ["us-east-1", "eu-west-1"]
    # AND the audit over the records reports nothing, for the account or anywhere else
    assert audit_organization(org, layout, records=store.list()).findings == []


def test_layout_for_records_fences_each_stage_by_its_own_record_never_the_union(
    frontend: RequestRecord, store: RequestStore, layout: Layout, make_request: Callable[..., VendingRequest]
) -> None:
    # GIVEN staging asks for us-east-1 + eu-west-1 and production (READY) for us-west-2
    store.update(frontend.request_id, step="x", request={**frontend.request, "regions": ["eu-west-1", "us-east-1"]})
    prod = make_request(team="team-frontend", stage="production", regions=["us-west-2"])
    store.reserve(prod, "vend-team-frontend-production-a1")
    store.update(prod.request_id, status=Status.READY, step="RecordReady", account_id="210987654321")
    # THEN each stage's fence is its own record's regions, in the allow-list's order; other teams keep the layout's
    fenced = layout_for_records(layout, store.list())
    team = fenced.team("team-frontend")
    assert team is not None
    assert (team.regions_for("staging"), team.regions_for("production")) == (("us-east-1", "eu-west-1"), ("us-west-2",))
    assert fenced.team("team-backend") == layout.team("team-backend")
    assert team_layout(layout, store, "team-frontend") == fenced
    # AND the rendered policies say the same: production's account cannot reach eu-west-1, staging's not us-west-2
    rendered = render(fenced)

    def fence(stage: str) -> list[str]:
        document = rendered.policies[rendered.team_policies[("team-frontend", stage)]].document
        statement = next(s for s in document["Statement"] if s["Sid"] == "DenyOutsideTeamRegions")
        return list(statement["Condition"]["StringNotEquals"]["aws:RequestedRegion"])

    assert fence("staging") == ["us-east-1", "eu-west-1"] and fence("production") == ["us-west-2"]
    # WHEN production is retired THEN its stage falls back to the layout's regions, staging keeps its own
    store.update(prod.request_id, status=Status.RETIRING, step="RetireAccount")
    retired = team_layout(layout, store, "team-frontend").team("team-frontend")
    assert retired is not None and retired.regions_for("staging") == ("us-east-1", "eu-west-1")
    assert retired.regions_for("production") == layout.team("team-frontend").regions  # type: ignore[union-attr]


class _Launcher:
    launched: ClassVar[list[str]] = []

    def __init__(self, *_: Any) -> None:
        pass

    def launch(self, run_id: str) -> None:
        _Launcher.launched.append(run_id)


def _where(record: RequestRecord) -> dict[str, Any]:
    """Where a record's stacks run: its account, a state bucket and the access role."""
    return {
        "account_id": str(record.account_id),
        "state_bucket": "b",
        "state_region": "us-east-1",
        "access_role_name": "OrganizationAccountAccessRole",
    }


def _applied(run_store: RunStore, request: VendingRequest, where: dict[str, Any]) -> None:
    """Every stack of `request` started and recorded SUCCEEDED, as after a vend."""
    start_pipelines(run_store, _Launcher(), request, **where)
    for stack in request.stacks:
        run = run_store.get(f"{request.request_id}/{stack}")
        assert run is not None
        run_store.put(run.model_copy(update={"status": "SUCCEEDED"}))


def test_change_pipelines_handler_reruns_applied_stacks_with_the_new_tier(
    frontend: RequestRecord,
    store: RequestStore,
    run_store: RunStore,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN team-frontend's bootstrap stack applied at vend time (tier none)
    monkeypatch.setattr(context, "LocalThreadLauncher", _Launcher)
    _Launcher.launched = []
    old = VendingRequest.model_validate(frontend.request)
    _applied(run_store, old, _where(frontend))
    _Launcher.launched = []
    # WHEN the change workflow's StartChangePipelines runs for an upgrade to the inference tier
    new = old.model_copy(update={"gpu_tier": "inference"})
    state = lifecycle_input("change", new, execution="change-x", settings=WorkflowSettings(), change_id="c1")
    out = start_change_pipelines.handler(state, lambda_context)
    # THEN the applied stack is run again (same task-token pipeline step follows), with the new tier as variable
    assert out == {"done": False, "polls": 0, "stacks": ["bootstrap"], "runs": {"bootstrap": {"status": "QUEUED"}}}
    assert _Launcher.launched == ["team-frontend-staging/bootstrap"]
    rerun = run_store.get("team-frontend-staging/bootstrap")
    assert rerun is not None and (rerun.attempt, rerun.variables["gpu_tier"]) == (2, "inference")


def test_change_pipelines_handler_destroys_removed_stacks_and_awaits_them(
    frontend: RequestRecord,
    store: RequestStore,
    run_store: RunStore,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN bootstrap and networking applied to team-frontend/staging
    monkeypatch.setattr(context, "LocalThreadLauncher", _Launcher)
    old = VendingRequest.model_validate({**frontend.request, "stacks": ["bootstrap", "networking"]})
    _applied(run_store, old, _where(frontend))
    _Launcher.launched = []
    # WHEN the approved change that removes networking reaches StartChangePipelines
    new = old.model_copy(update={"stacks": ("bootstrap",)})
    state = lifecycle_input(
        "change", new, execution="change-x", settings=WorkflowSettings(), change_id="c1", destroy_stacks=["networking"]
    )
    out = start_change_pipelines.handler(state, lambda_context)
    # THEN networking runs as a destroy (next attempt), bootstrap is kept, and both are awaited
    assert out["stacks"] == ["bootstrap", "networking"]
    assert out["runs"] == {"bootstrap": {"status": "SUCCEEDED"}, "networking": {"status": "QUEUED"}}
    assert _Launcher.launched == ["team-frontend-staging/networking"]
    destroy = run_store.get("team-frontend-staging/networking")
    assert destroy is not None and (destroy.action, destroy.attempt, destroy.result) == ("destroy", 2, None)
    # AND a retried step starts nothing twice
    _Launcher.launched = []
    start_change_pipelines.handler(state, lambda_context)
    assert _Launcher.launched == []


def test_decommission_destroys_every_stack_behind_a_manual_gate_and_applies_nothing(
    frontend: RequestRecord,
    store: RequestStore,
    run_store: RunStore,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN team-frontend/staging with bootstrap and networking applied (with tier none variables)
    monkeypatch.setattr(context, "LocalThreadLauncher", _Launcher)
    request = VendingRequest.model_validate({**frontend.request, "stacks": ["bootstrap", "networking"]})
    _applied(run_store, request, _where(frontend))
    _Launcher.launched = []
    # WHEN `vend account decommission --destroy-stacks` reaches StartDestroys (the retirement branch)
    state = lifecycle_input(
        "decommission",
        request,
        execution="retire-team-frontend-staging-g0-a1",
        settings=WorkflowSettings(),
        destroy_stacks=list(request.stacks),
    )
    out = start_change_pipelines.handler(state, lambda_context)
    # THEN each stack runs as a destroy, even on staging behind the manual gate (`vend pipeline approve`), and both
    # are awaited; nothing is applied
    assert out["stacks"] == ["bootstrap", "networking"]
    assert sorted(_Launcher.launched) == ["team-frontend-staging/bootstrap", "team-frontend-staging/networking"]
    runs = [run_store.get(f"team-frontend-staging/{s}") for s in request.stacks]
    assert [(r.action, r.gate) for r in runs if r] == [("destroy", "manual"), ("destroy", "manual")]


def test_cli_decommission_destroy_stacks_starts_the_retirement_with_every_stack(
    frontend: RequestRecord,
    lifecycle_machine: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vending.cli import main

    monkeypatch.setenv("VEND_LIFECYCLE_STATE_MACHINE_ARN", lifecycle_machine)
    assert main(["account", "decommission", frontend.request_id, "--destroy-stacks", "--yes", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.describe_execution(
        executionArn=lifecycle_machine.replace(":stateMachine:", ":execution:") + ":" + started["execution_name"]
    )
    state = json.loads(execution["input"])
    assert (state["operation"], state["destroy_stacks"]) == ("decommission", ["bootstrap"])


def test_finish_change_records_the_runs_of_the_stacks_the_account_keeps(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    # GIVEN an approved change that adds networking and removes eks, run to its pipelines
    store.update(frontend.request_id, step="x", request={**frontend.request, "stacks": ["bootstrap", "eks"]})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    request_change(
        store, changes, layout, frontend.request_id, {"stacks": ["bootstrap", "networking"]}, by="alice", **kwargs
    )
    change = approve_change(store, changes, frontend.request_id, by="bob", **kwargs)
    begin_change(store, changes, change.change_id, change.execution_name)
    # WHEN FinishChange runs with what CheckPipelines reported
    ok = {"status": "SUCCEEDED", "message": "applied"}
    finish_change(store, changes, change.change_id, pipelines={"bootstrap": ok, "networking": ok, "eks": ok})
    # THEN the record shows the added stack SUCCEEDED, and not the destroyed one
    record = store.require(frontend.request_id)
    assert record.status == Status.READY and record.pipelines == {"bootstrap": ok, "networking": ok}


def test_tier_change_retags_the_account_and_the_audit_is_clean(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, org: Any, lifecycle_machine: str
) -> None:
    # GIVEN team-frontend/staging placed, tagged (gpu-tier none) and the org reconciled
    account_id = str(frontend.account_id)
    request = VendingRequest.model_validate(frontend.request)
    place_in_ou(org, store, request, layout, account_id)
    tag_account(org, store, request, account_id)
    store.update(frontend.request_id, status=Status.READY, step="RecordReady")
    reconcile_organization(org, layout, dry_run=False, records=store.list())
    # WHEN an approved upgrade to the inference tier is applied
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    request_change(store, changes, layout, frontend.request_id, {"gpu_tier": "inference"}, by="alice", **kwargs)
    change = approve_change(store, changes, frontend.request_id, by="bob", **kwargs)
    updating = begin_change(store, changes, change.change_id, change.execution_name)
    apply_change_guardrails(org, layout, store, VendingRequest.model_validate(updating.request), account_id=account_id)
    finish_change(store, changes, change.change_id)
    # THEN the account's gpu-tier tag follows the record, and the audit finds nothing (no tag drift, no SCP drift)
    tags = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=account_id)["Tags"]}
    assert tags["gpu-tier"] == "inference"
    assert audit_organization(org, layout, records=store.list()).findings == []


def test_cli_dry_run_shows_the_region_fence_and_the_destroy_plan(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vending.aws.identity import principal_from_arn
    from vending.aws.sessions import access_role_arn, assume_role_session
    from vending.cli import caller, main

    # (moto's mock answers GetCallerIdentity with a made-up `sts::…:user/moto`; here the CLI is an admin session)
    admin_session = "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice"
    monkeypatch.setattr(caller, "caller_principal", lambda _sts: principal_from_arn(admin_session))

    # GIVEN team-frontend/staging with networking applied: its state in the account's state bucket
    account_id = str(frontend.account_id)
    bucket = f"tfstate-{account_id}-us-east-1"
    store.update(
        frontend.request_id,
        step="x",
        state_bucket=bucket,
        request={**frontend.request, "stacks": ["bootstrap", "networking"]},
    )
    sts = boto3.client("sts", region_name=REGION)
    member = assume_role_session(sts, access_role_arn(account_id, "OrganizationAccountAccessRole"), "test", REGION)
    s3 = member.client("s3")
    s3.create_bucket(Bucket=bucket)
    state = {"resources": [{"mode": "managed", "type": "aws_vpc", "name": "this", "instances": [{}]}]}
    s3.put_object(Bucket=bucket, Key="team-frontend/staging/networking/terraform.tfstate", Body=json.dumps(state))
    # WHEN a change of regions that drops networking is dry-run through the CLI
    argv = ["request", "update", frontend.request_id, "--regions", "us-east-1,eu-west-1", "--stacks", "bootstrap"]
    assert main([*argv, "--dry-run", "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)["diff"]
    # THEN it names the fence it rewrites and the destroy plan read from the account's state
    assert diff["region_fence"] == {
        "policy": "vend-team-team-frontend-staging",
        "from": ["us-east-1"],
        "to": ["us-east-1", "eu-west-1"],
    }
    assert diff["destroy_plans"]["networking"] == {
        "state": f"s3://{bucket}/team-frontend/staging/networking/terraform.tfstate",
        "destroy": 1,
        "resources": ["aws_vpc.this"],
    }
    # AND the table says the same, and nothing was recorded
    assert main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "vend-team-team-frontend-staging: us-east-1 -> us-east-1, eu-west-1" in text
    assert "1 to destroy" in text and "aws_vpc.this" in text
    assert store.require(frontend.request_id).request["stacks"] == ["bootstrap", "networking"]
    assert changes.for_request(frontend.request_id) == []


def test_resume_after_a_failed_destroy_destroys_it_again_and_records_only_kept_stacks(
    frontend: RequestRecord,
    store: RequestStore,
    run_store: RunStore,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vending.handlers import record_ready
    from vending.handlers import start_pipelines as start_pipelines_handler

    # GIVEN a change that removed networking failed while destroying it: the record is FAILED with the new intent
    # (bootstrap only) and still lists networking among its pipelines; the destroy run is FAILED
    monkeypatch.setattr(context, "LocalThreadLauncher", _Launcher)
    old = VendingRequest.model_validate({**frontend.request, "stacks": ["bootstrap", "networking"]})
    where = _where(frontend)
    start_pipelines(run_store, _Launcher(), old, **where)
    new = old.model_copy(update={"stacks": ("bootstrap",)})
    start_destroys(run_store, _Launcher(), new, ["networking"], **where)
    bootstrap, networking = (run_store.get(f"team-frontend-staging/{s}") for s in ("bootstrap", "networking"))
    assert bootstrap is not None and networking is not None
    run_store.put(bootstrap.model_copy(update={"status": "SUCCEEDED"}))
    run_store.put(networking.model_copy(update={"status": "FAILED", "message": "destroy: DependencyViolation"}))
    ok = {"status": "SUCCEEDED", "message": ""}
    store.update(
        frontend.request_id,
        status=Status.FAILED,
        step="ChangeFailed",
        request=new.model_dump(mode="json"),
        pipelines={"bootstrap": ok, "networking": ok},
    )
    _Launcher.launched = []
    # WHEN `vend request resume` reaches StartPipelines of the vending workflow
    state: dict[str, Any] = {
        "request": new.model_dump(mode="json"),
        "execution": "vend-team-frontend-staging-a2",
        "account": {"account_id": str(frontend.account_id), "state": "SUCCEEDED"},
    }
    out = start_pipelines_handler.handler(state, lambda_context)
    # THEN the unfinished destroy runs again (the kept stack is not re-applied) and is awaited with the rest
    assert out["stacks"] == ["bootstrap", "networking"]
    assert _Launcher.launched == ["team-frontend-staging/networking"]
    again = run_store.get("team-frontend-staging/networking")
    assert again is not None and (again.action, again.status) == ("destroy", "QUEUED")
    # AND when it is done, RecordReady records only the stacks the account keeps
    state["pipelines"] = {"done": True, "runs": {"bootstrap": ok, "networking": ok}}
    record_ready.handler(state, lambda_context)
    assert store.require(frontend.request_id).pipelines == {"bootstrap": ok}


def test_quota_diff_downgrade_lists_what_stays_above_the_tier(layout: Layout, make_request: Any) -> None:
    from vending.changes import quota_diff

    # GIVEN a training team moving down to inference
    old = make_request(team="team-mlops", gpu_tier="training")
    new = old.model_copy(update={"gpu_tier": "inference"})
    diff = quota_diff(layout, old, new)
    # THEN nothing is requested and the P and Trn quotas (and the G/VT quotas raised past inference's) stay above it
    assert diff["request"] == []
    assert "ec2 Running On-Demand P instances" in diff["above_tier"]
    assert "ec2 Running On-Demand G and VT instances" in diff["above_tier"]
    assert "ec2 Running On-Demand Inf instances" not in diff["above_tier"]
    # AND a change that moves neither tier nor regions has no quota diff
    assert quota_diff(layout, old, old) == {}


def test_a_failed_change_converged_by_resume_is_recorded_applied_once(
    frontend: RequestRecord,
    store: RequestStore,
    changes: ChangeStore,
    layout: Layout,
    lifecycle_machine: str,
    lambda_context: Any,
) -> None:
    from vending.handlers import record_ready

    # GIVEN an approved change that failed while it ran (the soak: a bootstrap worker died under it)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    request_change(store, changes, layout, frontend.request_id, {"gpu_tier": "inference"}, by="alice", **kwargs)
    change = approve_change(store, changes, frontend.request_id, by="bob", **kwargs)
    begin_change(store, changes, change.change_id, change.execution_name)
    finish_change(store, changes, change.change_id, error="WorkerDied: bootstrap")
    failed = store.require(frontend.request_id)
    assert (failed.status, failed.failed_change) == (Status.FAILED, change.change_id)
    assert failed.request["gpu_tier"] == "inference"  # the record keeps the change's intent
    # WHEN `vend request resume` converges the account through the vending workflow and reaches RecordReady (twice:
    # a retried step)
    store.update(frontend.request_id, status=Status.PIPELINES, step="StartPipelines", execution_name="vend-x-a2")
    state = {
        "request": failed.request,
        "execution": "vend-x-a2",
        "account": {"account_id": frontend.account_id, "state": "SUCCEEDED"},
    }
    for _ in range(2):
        record_ready.handler(state, lambda_context)
    # THEN the change is APPLIED by that execution, once, and the record lets go of it
    applied = changes.require(change.change_id)
    assert (applied.status, applied.resumed_by) == (ChangeStatus.APPLIED, "vend-x-a2")
    record = store.require(frontend.request_id)
    assert (record.status, record.failed_change) == (Status.READY, None)
    assert [c.status for c in changes.for_request(frontend.request_id)] == [ChangeStatus.APPLIED]


def test_a_change_that_never_began_is_not_applied_by_a_later_resume(
    frontend: RequestRecord, store: RequestStore, changes: ChangeStore, layout: Layout, lifecycle_machine: str
) -> None:
    # GIVEN a change refused at BeginChange (a vend held the record): the record never took its intent
    sfn = boto3.client("stepfunctions", region_name=REGION)
    kwargs: dict[str, Any] = {"sfn": sfn, "state_machine_arn": lifecycle_machine, "settings": WorkflowSettings()}
    change = request_change(
        store, changes, layout, frontend.request_id, {"stacks": ["bootstrap", "networking"]}, by="alice", **kwargs
    )
    store.update(frontend.request_id, status=Status.PIPELINES, step="StartPipelines", execution_name="vend-x-a2")
    with pytest.raises(ChangeNotAllowed):
        begin_change(store, changes, change.change_id, change.execution_name)
    finish_change(store, changes, change.change_id, error="ChangeNotAllowed: raced a vend")
    # THEN the record names no failed change for a resume to settle, and the change stays FAILED
    assert store.require(frontend.request_id).failed_change is None
    assert changes.require(change.change_id).status == ChangeStatus.FAILED


@pytest.mark.parametrize("operation", ["change", "decommission"])
def test_every_settings_path_of_the_lifecycle_machine_is_in_its_input(make_request: Any, operation: str) -> None:
    import re as re_

    import step_functions
    from vending.changes import lifecycle_input

    # GIVEN the settings a caller holds (the CLI and the API pass the vend's WorkflowSettings)
    payload = lifecycle_input(operation, make_request(), execution="x", settings=WorkflowSettings())
    # THEN every $.settings.<key> the AccountLifecycle machine reads is there (a Wait's SecondsPath that names a
    # missing key fails the execution with States.Runtime, past every Catch: the soak met it at WaitForClosureQuota)
    asl = step_functions.LIFECYCLE_ASL_PATH.read_text(encoding="utf-8")
    keys = set(re_.findall(r"\$\.settings\.([A-Za-z_]+)", asl))
    assert "closure_poll_seconds" in keys
    assert keys <= set(payload["settings"]), keys - set(payload["settings"])
