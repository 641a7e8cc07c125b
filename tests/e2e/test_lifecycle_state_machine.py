"""Day 2 on the emulator, through the CLI: vend team-frontend/staging, upgrade it to the inference tier and add the
networking stack in one change (approved by someone else; bootstrap re-applied with the new tier, networking applied),
remove networking by another change (approved; destroyed as the team's CI roles), decommission it with
--destroy-stacks (the destroy plan approved, run as the platform's teardown). Both state machines run in moto's
interpreter with the handlers in-process."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from landing_zone.grant_statements import admin_granted_actions
from landing_zone.local.billing_and_quotas import quota_requests
from landing_zone.local.runtime import Deployment, Emulator
from tests.e2e.conftest import needs_terraform
from tests.e2e.test_vending_state_machine import wait_for
from vending.budgets import BUDGET_NAME
from vending.changes import ChangeStore
from vending.cli import main
from vending.cli.changes import lifecycle_arn
from vending.guardrails.audit import audit_organization
from vending.guardrails.audit import member_budgets as budgets_through_access_role
from vending.layout import cached_layout
from vending.lifecycle import RequestStore, Status
from vending.settings import Settings

pytestmark = [pytest.mark.emulator]
REQUEST_ID = "team-frontend-staging"


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert vend(["request", "status", REQUEST_ID, "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def attached(org: Any, target: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def deployment_runs() -> dict[str, Any]:
    from vending.pipeline.orchestration import RunStore

    runs = RunStore(boto3.client("dynamodb"), Settings.from_env().pipeline_runs_table)
    return {stack: runs.get(f"{REQUEST_ID}/{stack}") for stack in ("bootstrap", "networking")}


def wait_for_runs(stacks: tuple[str, ...], statuses: set[str], timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = deployment_runs()
        if all(runs[s] is not None and runs[s].status in statuses for s in stacks):
            return runs
        failed = {s: r.message for s, r in runs.items() if r is not None and r.status == "FAILED"}
        assert not failed, failed
        time.sleep(1)
    raise TimeoutError(f"runs of {stacks} not {statuses}: {deployment_runs()}")


def member_budgets(account_id: str) -> Any:
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="check"
    )["Credentials"]
    return boto3.client(
        "budgets",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


_IN_CLI = threading.Event()
# AWS authorizes these for every principal: no grant can (or need) name them.
NEEDS_NO_GRANT = frozenset({"sts:GetCallerIdentity"})


def vend(argv: list[str]) -> int:
    """`vend …` in this process, its AWS calls recorded (the test's own reads are not the CLI's)."""
    _IN_CLI.set()
    try:
        return main(argv)
    finally:
        _IN_CLI.clear()


@contextlib.contextmanager
def calls_as_this_principal() -> Iterator[Counter[str]]:
    """Every AWS call this process signs with its current (platform-admin) keys, as IAM actions: what PlatformAdmin's
    grants must cover. The functions run as their own roles and the approver with its own keys, so neither counts."""
    from botocore.client import BaseClient

    from landing_zone.local.runtime import iam_action

    key, used = os.environ["AWS_ACCESS_KEY_ID"], Counter[str]()
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        credentials = self._request_signer._credentials
        if _IN_CLI.is_set() and credentials is not None and credentials.access_key == key:
            used[iam_action(self._service_model.operation_model(operation_name))] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield used
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextlib.contextmanager
def signed_in_as(role: str, session_name: str) -> Iterator[str]:
    """This process (the CLI) signed in as another platform role of the emulator, then back to the admin."""
    sts = boto3.client("sts")
    account = sts.get_caller_identity()["Account"]
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session_name)[
        "Credentials"
    ]
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    before = {name: os.environ.get(name) for name in names}
    os.environ.update(
        zip(names, (credentials[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")), strict=True)
    )
    boto3.DEFAULT_SESSION = None
    try:
        yield f"arn:aws:iam::{account}:role/{role}"
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = None


@needs_terraform
def test_vend_update_decommission_through_the_cli(
    emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    with calls_as_this_principal() as used:
        _day2(emulator, capsys)
    # AND every call the CLI made as the platform admin is granted to PlatformAdmin (landing_zone.grant_statements: the
    # policy the CDK stack gives the role)
    granted = admin_granted_actions()
    missing = sorted(a for a in used if a not in NEEDS_NO_GRANT and not any(fnmatch.fnmatchcase(a, g) for g in granted))
    with capsys.disabled():
        print(f"\nPlatformAdmin: used {dict(sorted(used.items()))}; missing {missing}")
    assert missing == []
    assert used, "no call was recorded as the platform admin (the recorder is broken)"
    # (negative control: without one grant the CLI used, the same check names it)
    dropped = next(a for a in sorted(used) if a not in NEEDS_NO_GRANT)
    assert dropped in [a for a in used if not any(fnmatch.fnmatchcase(a, g) for g in granted if g != dropped)]


def _day2(emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str]) -> None:
    _, deployment = emulator
    sfn, org = boto3.client("stepfunctions"), boto3.client("organizations")
    # GIVEN team-frontend/staging vended through the CLI
    assert vend(["request", "create", "--team", "team-frontend", "--stage", "staging", "--from-layout"]) == 0
    vended = wait_for(
        sfn, deployment.state_machine_arn.replace(":stateMachine:", ":execution:") + f":vend-{REQUEST_ID}-a1"
    )
    assert vended["status"] == "SUCCEEDED", status(capsys)
    ready = status(capsys)
    account = ready["account_id"]
    assert ready["status"] == "READY" and "vend-gpu-none" in attached(org, account)
    # AND its budget exists with both alerts (created by the Bootstrap step)
    budgets = member_budgets(account)
    assert (
        float(budgets.describe_budget(AccountId=account, BudgetName=BUDGET_NAME)["Budget"]["BudgetLimit"]["Amount"])
        == 500
    )
    assert (
        len(budgets.describe_notifications_for_budget(AccountId=account, BudgetName=BUDGET_NAME)["Notifications"]) == 2
    )

    # WHEN the admin asks for the inference tier and the networking stack (one change, so the two pipelines run side by
    # side): it waits for an approval, recorded as the signed-in principal (a --by naming someone else is refused)
    update = ["request", "update", REQUEST_ID, "--gpu-tier", "inference", "--stacks", "bootstrap,networking"]
    capsys.readouterr()
    assert vend([*update, "--by", "arn:aws:iam::123456789012:role/SomeoneElse", "--json"]) == 2
    assert "IdentityMismatch" in capsys.readouterr().err
    assert vend([*update, "--json"]) == 0
    filed = json.loads(capsys.readouterr().out)
    admin_arn = f"arn:aws:iam::{boto3.client('sts').get_caller_identity()['Account']}:role/PlatformAdmin"
    assert (filed["requested_by"], filed["requested_session"]) == (admin_arn, "emulator"), filed
    assert filed["status"] == "AWAITING_APPROVAL" and filed["diff"]["policies"]["attached"] == ["vend-gpu-inference"]
    assert filed["diff"]["stacks"] == {"added": ["networking"], "removed": []}
    # AND the same admin cannot approve it: compared as principals, whatever --by says
    assert vend(["request", "approve", REQUEST_ID, "--json"]) == 2
    refused = capsys.readouterr().err
    with capsys.disabled():
        print("\nself-approval on the emulator:", refused.strip())
    assert "SelfApproval" in refused and admin_arn in refused
    # AND the approver role (another principal, its own least-privilege policy) approves and waits for it
    # (it starts the change; the admin follows it)
    with signed_in_as("PlatformApprover", "approver-session") as approver_arn:
        assert vend(["request", "approve", REQUEST_ID, "--json"]) == 0
    approved = json.loads(capsys.readouterr().out)
    assert (approved["approved_by"], approved["approved_session"]) == (approver_arn, "approver-session"), approved
    lifecycle = next(
        m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "AccountLifecycle"
    )
    wait_for(sfn, lifecycle.replace(":stateMachine:", ":execution:") + ":" + approved["execution_name"])
    applied = (
        ChangeStore(boto3.client("dynamodb"), Settings.from_env().changes_table)
        .require(approved["change_id"])
        .model_dump(mode="json")
    )
    # THEN the change is applied: the GPU tier policy is swapped, the budget follows the tier, the record is READY
    assert applied["status"] == "APPLIED", applied
    assert "vend-gpu-inference" in attached(org, account) and "vend-gpu-none" not in attached(org, account)
    assert (
        float(budgets.describe_budget(AccountId=account, BudgetName=BUDGET_NAME)["Budget"]["BudgetLimit"]["Amount"])
        == 5000
    )
    updated = status(capsys)
    assert updated["status"] == "READY" and updated["request"]["gpu_tier"] == "inference"
    assert [h["status"] for h in updated["history"]][-2:] == ["UPDATING", "READY"]
    # AND the upgrade asked Service Quotas in the account for the inference tier's GPU quotas (the none tier had none)
    inference = {n.name: n.value for n in cached_layout().quota_needs("inference")}
    assert {q["name"]: q["requested"] for q in updated["quotas"] if q["status"] == "PENDING"} == inference
    assert {r["QuotaName"] for r in quota_requests(account, "us-east-1")} == set(inference)
    # AND the added stack was applied, and the existing one applied again with the new tier (its second attempt)
    applied_runs = {s: r["status"] for s, r in updated["pipelines"].items()}
    assert applied_runs == {"bootstrap": "SUCCEEDED", "networking": "SUCCEEDED"}
    runs = deployment_runs()
    with capsys.disabled():
        stages = {s: {st["name"]: st["seconds"] for st in (r.result or {}).get("stages", [])} for s, r in runs.items()}
        print("\nchange pipelines (seconds per stage):", json.dumps(stages))
    assert (runs["networking"].action, runs["networking"].attempt) == ("apply", 1)
    assert (runs["bootstrap"].attempt, runs["bootstrap"].variables["gpu_tier"]) == (2, "inference")
    # AND the audit (SCPs, OUs, tags from the records; the budget read inside the account) finds nothing on it
    layout = cached_layout()
    report = audit_organization(
        org,
        layout,
        records=RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table).list(),
        budgets_for=budgets_through_access_role(boto3.client("sts"), layout.organization.access_role_name),
    )
    mine = {f"account:{account}", "policy:vend-team-team-frontend-staging"}
    on_account = [f.to_dict() for f in report.findings if f.target in mine]
    with capsys.disabled():
        print(
            "\naudit after the change:",
            json.dumps({"findings": [f.to_dict() for f in report.findings], "budgets": report.budgets}),
        )
    assert on_account == [] and report.budgets == {"checked": 1, "findings": 0}

    # WHEN a change removes the networking stack: it needs an approval (a destroy), then the stack is destroyed through
    # the pipeline as the team's own CI roles (the account is not quarantined: the SCPs bind the destroy too)
    member = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="check-vpcs"
    )["Credentials"]
    ec2 = boto3.client(
        "ec2",
        aws_access_key_id=member["AccessKeyId"],
        aws_secret_access_key=member["SecretAccessKey"],
        aws_session_token=member["SessionToken"],
    )

    def vpcs() -> list[str]:
        return [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]

    assert vpcs(), "networking applied no VPC: the removal below would prove nothing"
    assert vend(["request", "update", REQUEST_ID, "--stacks", "bootstrap", "--json"]) == 0
    removal = json.loads(capsys.readouterr().out)
    assert removal["status"] == "AWAITING_APPROVAL" and removal["diff"]["stacks"]["removed"] == ["networking"]
    with signed_in_as("PlatformApprover", "dave"):
        assert vend(["request", "approve", REQUEST_ID, "--json"]) == 0
    removal = json.loads(capsys.readouterr().out)
    wait_for(sfn, lifecycle.replace(":stateMachine:", ":execution:") + ":" + removal["execution_name"])
    removed = deployment_runs()["networking"]
    assert (removed.action, removed.status, removed.runs_as) == ("destroy", "SUCCEEDED", "team"), removed
    assert removed.result and removed.result["plan_summary"]["destroy"] > 0, removed.result
    after_removal = status(capsys)
    assert after_removal["status"] == "READY" and after_removal["request"]["stacks"] == ["bootstrap"]
    # AND the VPC it made is gone from the account (read as the platform, through the access role)
    assert vpcs() == []

    # WHEN it is decommissioned with its stacks destroyed: each destroy plan waits for an approval
    assert vend(["account", "decommission", REQUEST_ID, "--yes", "--destroy-stacks", "--json"]) == 0
    retired = json.loads(capsys.readouterr().out)
    runs = {"bootstrap": wait_for_runs(("bootstrap",), {"AWAITING_APPROVAL"})["bootstrap"]}
    assert {r.action for r in runs.values()} == {"destroy"} and {r.runs_as for r in runs.values()} == {"platform"}
    for run in runs.values():
        assert run.result and run.result["plan_summary"]["destroy"] > 0, run
        with signed_in_as("PlatformApprover", "carol"):  # gated plans are approved by the approver role
            assert vend(["pipeline", "approve", run.stack_path, "--approvals", "dynamodb", "--json"]) == 0
    capsys.readouterr()
    base = lifecycle_arn(boto3.Session()).replace(":stateMachine:", ":execution:")
    done = wait_for(sfn, f"{base}:{retired['execution_name']}")
    destroyed = deployment_runs()
    # THEN the remaining stack is destroyed through the pipeline (as the platform's teardown: the account is
    # quarantined), and it is quarantined, parked in Suspended, its state archived, its closure requested
    assert done["status"] == "SUCCEEDED", done
    assert {s: (r.action, r.status) for s, r in destroyed.items() if r} == {
        "bootstrap": ("destroy", "SUCCEEDED"),
        "networking": ("destroy", "SUCCEEDED"),
    }
    assert destroyed["networking"].attempt == removed.attempt  # destroyed once, by the change: not again
    assert {"FullAWSAccess", "vend-suspended-1"} <= attached(org, account)
    assert not any(name.startswith("vend-gpu-") for name in attached(org, account))
    parent = org.list_parents(ChildId=account)["Parents"][0]["Id"]
    assert org.describe_organizational_unit(OrganizationalUnitId=parent)["OrganizationalUnit"]["Name"] == "Suspended"
    archived = boto3.client("s3").list_objects_v2(Bucket="vending-archive-local", Prefix=f"{account}/")
    assert any(o["Key"].endswith("manifest.json") for o in archived.get("Contents", []))
    after = status(capsys)
    assert after["status"] in {Status.PENDING_CLOSURE, Status.CLOSED}
    # AND the next drain records CLOSED (moto closes at once); nothing is closed twice
    assert vend(["account", "closures", "--drain", "--json"]) == 0
    queue = json.loads(capsys.readouterr().out)
    assert [i["status"] for i in queue["items"] if i["account_id"] == account] == ["CLOSED"]
    assert status(capsys)["status"] == "CLOSED"
    with capsys.disabled():
        print(
            "\nday2:",
            json.dumps(
                {
                    "ready": ready["status"],
                    "updated": updated["status"],
                    "pipelines_after_change": applied_runs,
                    "retired": after["status"],
                    "closed": "CLOSED",
                    "account": account,
                }
            ),
        )
