"""Guardrail audit on an EventBridge schedule: intended vs actual SCPs, OUs and tags; report, metrics, alert."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from vending.context import Context, logger, metrics
from vending.exceptions import RemediationNotAllowed
from vending.guardrails.audit import (
    BackstopFor,
    management_backstop,
    member_budgets,
    member_sessions,
    run_scheduled_audit,
)
from vending.guardrails.inventory import ConfigAggregatorInventory
from vending.pipeline.drift import checks_for_audit
from vending.spend.freezes import FreezeStore
from vending.usage_forwarding import platform_bus_arn


class AuditEvent(BaseModel):
    """The schedule's event. The scheduled audit only reads and reports: its role has no Organizations write
    permission (least privilege); remediation is an operator's `vend audit --remediate`."""

    detail: dict[str, Any] = {}


def _inventory(ctx: Context) -> ConfigAggregatorInventory | None:
    # The organization's Config aggregator (optional): without it the detective GPU check is skipped and says so.
    name = os.environ.get("VEND_CONFIG_AGGREGATOR", "")
    return ConfigAggregatorInventory(ctx.client("config"), name) if name else None


def _backstop(ctx: Context) -> BackstopFor | None:
    # The Budgets backstop (vending.spend.backstop), when configured: its actions live in this account's Budgets.
    if not (ctx.settings.backstop_role_arn and ctx.settings.platform_account_id):
        return None
    return management_backstop(ctx.client("budgets"), ctx.settings.platform_account_id)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AuditEvent.model_validate(event)
    if request.detail.get("remediate"):
        raise RemediationNotAllowed(
            "the scheduled audit does not remediate; run `vend audit --remediate` with admin credentials"
        )
    ctx = Context()
    logger.append_keys(step="GuardrailAudit")
    # Intent comes from the vending records (one Scan), never from the accounts' own tags.
    records = list(ctx.store.list())
    summary = run_scheduled_audit(
        org=ctx.client("organizations"),
        s3=ctx.client("s3"),
        events=ctx.client("events"),
        layout=ctx.layout,
        records=records,
        # The frozen accounts (the spend fence's table): `vend-freeze` is intended exactly there.
        frozen=FreezeStore(ctx.client("dynamodb"), ctx.settings.freezes_table).frozen_accounts(),
        # and where the Budgets backstop attached it before the fence's next interval recorded it (a note).
        backstop_for=_backstop(ctx),
        # The stacks' last drift checks (the StackDrift pass runs an hour before), read beside their runs.
        stack_checks=checks_for_audit(ctx.client("dynamodb"), ctx.settings.pipeline_runs_table, records),
        inventory=_inventory(ctx),
        # Each vended account's budget is read inside it, through the platform's access role.
        budgets_for=member_budgets(ctx.client("sts"), ctx.layout.organization.access_role_name),
        # and its Bedrock invocation logging, in each of its regions.
        sessions_for=member_sessions(ctx.client("sts"), ctx.layout.organization.access_role_name),
        # and its usage forwarding to this account's bus (the live meter), in each of its regions.
        usage_bus_arn=platform_bus_arn(
            ctx.session.region_name or "us-east-1",
            ctx.settings.platform_account_id or ctx.client("sts").get_caller_identity()["Account"],
            ctx.settings.event_bus_name,
        ),
        bucket=ctx.settings.reports_bucket,
        event_bus=ctx.settings.event_bus_name,
        source=ctx.settings.event_source,
        metrics=metrics,
        remediate=False,
    )
    logger.info("guardrail audit done", extra=summary)
    return summary
