"""The spend fence's backstop in AWS Budgets: where the fence's meter misses a runaway (an uncounted source, a fence
that did not run), billing data catches up within hours and the management account's Budgets attaches `vend-freeze`
itself (APPLY_SCP_POLICY, automatic). Laid down at vend (ApplyGuardrails) and at every change (ApplyChange: the amount
follows the tier); removed at retirement (vending.budgets.remove_backstop). The fence adopts a freeze Budgets made
(vending.spend.fence.adopt_backstop_freezes).
https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-controls.html
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from vending.budgets import ensure_backstop
from vending.layout import Layout
from vending.spend.fence import ensure_freeze_policy

logger = Logger(child=True)


def converge_backstop(
    budgets: Any,
    org: Any,
    layout: Layout,
    *,
    management_account_id: str,
    account_id: str,
    team: str,
    gpu_tier: str,
    owner_email: str,
    execution_role_arn: str,
) -> list[str]:
    """Ensure the account's backstop budget (its monthly budget) and freeze action; vend-freeze is created if the
    organization lacks it (the same path as the fence). With no execution role configured (a deployment that has
    not set up the backstop: VEND_BACKSTOP_ROLE_ARN empty) nothing is done and that is logged."""
    if not execution_role_arn or not management_account_id:
        logger.warning("no backstop execution role (or platform account) configured: no Budgets backstop laid down")
        return []
    return ensure_backstop(
        budgets,
        management_account_id=management_account_id,
        account_id=account_id,
        amount=layout.monthly_budget(team, gpu_tier),
        policy_id=ensure_freeze_policy(org, layout),
        execution_role_arn=execution_role_arn,
        notify_email=owner_email,
    )
