"""Day 2 beside the vending deployment in the emulator: the AccountLifecycle state machine (change requests,
retirement), its tables and the platform archive bucket. Called by runtime.deploy() once the functions exist."""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from typing import Any

import boto3

import step_functions
from landing_zone.local.patching import MotoChanged, require
from vending.functions import LIFECYCLE_KEYS
from vending.retirement import ensure_archive_bucket
from vending.settings import Settings

ARCHIVE_BUCKET = "vending-archive-local"
LIFECYCLE_ROLE = "AccountLifecycleStateMachineRole"


def install_update_budget() -> None:
    """Emulator gap: moto's Budgets has no UpdateBudget, which a tier change needs (the amount follows the tier).
    This adds it to the emulator only, replacing the stored budget's limit and type as AWS does; notifications stay.
    Checked by tests/e2e/test_lifecycle_state_machine.py (the budget goes 500 -> 5000 USD)."""
    from moto.budgets.responses import BudgetsResponse

    existing = getattr(BudgetsResponse, "update_budget", None)
    if existing is not None:
        if getattr(existing, "emulator_patch", False):
            return  # installed by an earlier deploy in this process
        # moto grew its own UpdateBudget: read it against AWS's (limit and type replaced, notifications kept) and
        # drop this patch, rather than silently running whichever moto ships.
        raise MotoChanged(f"moto {version('moto')}: BudgetsResponse now has update_budget; review and drop the patch")
    require(BudgetsResponse, "_get_param")

    def update_budget(self: Any) -> str:
        account_id, new = self._get_param("AccountId"), self._get_param("NewBudget")
        stored = self.backend.budgets[account_id].get(new["BudgetName"])
        if stored is None:
            from moto.budgets.exceptions import NotFoundException

            raise NotFoundException(f"Unable to update budget: {new['BudgetName']} - the budget doesn't exist.")
        stored.budget.update({k: v for k, v in new.items() if k in {"BudgetLimit", "TimeUnit", "BudgetType"}})
        return "{}"

    update_budget.emulator_patch = True  # type: ignore[attr-defined]
    BudgetsResponse.update_budget = update_budget  # type: ignore[attr-defined]


def deploy_lifecycle(session: boto3.Session, *, function_arns: dict[str, str], account: str) -> str:
    """Create what AccountLifecycle needs and return its ARN (also exported as VEND_LIFECYCLE_STATE_MACHINE_ARN)."""
    os.environ.setdefault("VEND_ARCHIVE_BUCKET", ARCHIVE_BUCKET)
    install_update_budget()
    settings = Settings.from_env()
    ddb = session.client("dynamodb")
    existing = set(ddb.list_tables()["TableNames"])
    for table, key in ((settings.changes_table, "change_id"), (settings.closures_table, "account_id")):
        if table not in existing:
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                SSESpecification={"Enabled": True},
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
    ensure_archive_bucket(
        session.client("s3"), settings.archive_bucket, kms_key_arn=os.environ.get("VEND_ARCHIVE_KEY_ARN") or None
    )
    iam = session.client("iam")
    trust: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=LIFECYCLE_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=LIFECYCLE_ROLE,
        PolicyName="invoke",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": [function_arns[k] for k in LIFECYCLE_KEYS],
                    }
                ],
            }
        ),
    )
    definition = step_functions.render(
        {f"{k}FunctionArn": function_arns[k] for k in LIFECYCLE_KEYS}, step_functions.LIFECYCLE_ASL_PATH
    )
    arn = str(
        session.client("stepfunctions").create_state_machine(
            name=step_functions.LIFECYCLE_STATE_MACHINE_NAME, definition=definition, roleArn=role
        )["stateMachineArn"]
    )
    os.environ["VEND_LIFECYCLE_STATE_MACHINE_ARN"] = arn
    return arn
