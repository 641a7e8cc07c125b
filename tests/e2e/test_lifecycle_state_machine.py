"""Day 2 on the emulator, through the CLI: vend team-frontend/staging, upgrade it to the inference tier and add the
networking stack in one change (approved by someone else; bootstrap re-applied with the new tier, networking applied),
decommission it with --destroy-stacks (each destroy plan approved, run as the platform's teardown). Both state
machines run in moto's interpreter with the handlers in-process."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from landing_zone.local.runtime import Deployment, Emulator
from tests.e2e.conftest import needs_terraform
from tests.e2e.test_vending_state_machine import wait_for
from vending.budgets import BUDGET_NAME
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
    assert main(["request", "status", REQUEST_ID, "--json"]) == 0
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


@needs_terraform
def test_vend_update_decommission_through_the_cli(
    emulator: tuple[Emulator, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    _, deployment = emulator
    sfn, org = boto3.client("stepfunctions"), boto3.client("organizations")
    # GIVEN team-frontend/staging vended through the CLI
    assert main(["request", "create", "--team", "team-frontend", "--stage", "staging", "--from-layout"]) == 0
    vend = wait_for(
        sfn, deployment.state_machine_arn.replace(":stateMachine:", ":execution:") + f":vend-{REQUEST_ID}-a1"
    )
    assert vend["status"] == "SUCCEEDED", status(capsys)
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

    # WHEN alice asks for the inference tier and the networking stack (one change, so the two pipelines run side by
    # side): it waits for an approval; bob approves and waits for it
    update = ["request", "update", REQUEST_ID, "--gpu-tier", "inference", "--stacks", "bootstrap,networking"]
    assert main([*update, "--by", "alice", "--json"]) == 0
    filed = json.loads(capsys.readouterr().out)
    assert filed["status"] == "AWAITING_APPROVAL" and filed["diff"]["policies"]["attached"] == ["vend-gpu-inference"]
    assert filed["diff"]["stacks"] == {"added": ["networking"], "removed": []}
    assert main(["request", "approve", REQUEST_ID, "--by", "bob", "--wait", "--json"]) == 0
    applied = json.loads(capsys.readouterr().out)
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
    mine = {f"account:{account}", "policy:vend-team-team-frontend"}
    on_account = [f.to_dict() for f in report.findings if f.target in mine]
    with capsys.disabled():
        print(
            "\naudit after the change:",
            json.dumps({"findings": [f.to_dict() for f in report.findings], "budgets": report.budgets}),
        )
    assert on_account == [] and report.budgets == {"checked": 1, "findings": 0}

    # WHEN it is decommissioned with its stacks destroyed: each destroy plan waits for an approval
    assert main(["account", "decommission", REQUEST_ID, "--yes", "--destroy-stacks", "--json"]) == 0
    retired = json.loads(capsys.readouterr().out)
    runs = wait_for_runs(("bootstrap", "networking"), {"AWAITING_APPROVAL"})
    assert {r.action for r in runs.values()} == {"destroy"} and {r.runs_as for r in runs.values()} == {"platform"}
    for run in runs.values():
        assert run.result and run.result["plan_summary"]["destroy"] > 0, run
        approve = ["pipeline", "approve", run.stack_path, "--by", "carol", "--approvals", "dynamodb", "--json"]
        assert main(approve) == 0
    capsys.readouterr()
    base = lifecycle_arn(boto3.Session()).replace(":stateMachine:", ":execution:")
    done = wait_for(sfn, f"{base}:{retired['execution_name']}")
    destroyed = deployment_runs()
    # THEN both stacks are destroyed through the pipeline (as the platform's teardown: the account is quarantined),
    # and it is quarantined, parked in Suspended, its state archived, its closure requested
    assert done["status"] == "SUCCEEDED", done
    assert {s: r.status for s, r in destroyed.items() if r} == {"bootstrap": "SUCCEEDED", "networking": "SUCCEEDED"}
    assert {"FullAWSAccess", "vend-suspended-1"} <= attached(org, account)
    assert not any(name.startswith("vend-gpu-") for name in attached(org, account))
    parent = org.list_parents(ChildId=account)["Parents"][0]["Id"]
    assert org.describe_organizational_unit(OrganizationalUnitId=parent)["OrganizationalUnit"]["Name"] == "Suspended"
    archived = boto3.client("s3").list_objects_v2(Bucket="vending-archive-local", Prefix=f"{account}/")
    assert any(o["Key"].endswith("manifest.json") for o in archived.get("Contents", []))
    after = status(capsys)
    assert after["status"] in {Status.PENDING_CLOSURE, Status.CLOSED}
    # AND the next drain records CLOSED (moto closes at once); nothing is closed twice
    assert main(["account", "closures", "--drain", "--json"]) == 0
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
