"""vending/functions.py grants -> IAM policy statements (plain JSON), for the CDK stack and the local emulator alike,
so the emulator decides against exactly the statements that are deployed.

Organizations resource types per action come from the Service Authorization Reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vending.functions import Grant, by_key
from vending.trust import APPLY_ROLE_NAME, PLAN_ROLE_NAME

# An empty tuple means the action supports no resource-level permissions: "*" is the only valid resource.
ORG_ACTION_RESOURCES: dict[str, tuple[str, ...]] = {
    "organizations:DescribeOrganization": (),
    "organizations:ListRoots": (),
    "organizations:ListAccounts": (),
    "organizations:ListPolicies": (),
    "organizations:CreateAccount": (),
    "organizations:ListCreateAccountStatus": (),
    "organizations:DescribeCreateAccountStatus": (),
    "organizations:CreatePolicy": (),
    "organizations:ListOrganizationalUnitsForParent": ("ou", "root"),
    "organizations:ListAccountsForParent": ("ou", "root"),
    "organizations:ListChildren": ("ou", "root"),
    "organizations:CreateOrganizationalUnit": ("ou", "root"),
    "organizations:ListParents": ("account", "ou"),
    "organizations:DescribeAccount": ("account",),
    "organizations:CloseAccount": ("account",),
    "organizations:ListPoliciesForTarget": ("account", "ou", "root"),
    "organizations:ListTargetsForPolicy": ("policy", "awspolicy"),
    "organizations:DescribePolicy": ("policy", "awspolicy"),
    "organizations:ListTagsForResource": ("account", "ou", "root", "policy"),
    "organizations:TagResource": ("account",),
    "organizations:MoveAccount": ("account", "ou", "root"),
    "organizations:AttachPolicy": ("account", "ou", "root", "policy", "awspolicy"),
    "organizations:DetachPolicy": ("account", "ou", "root", "policy", "awspolicy"),
    "organizations:UpdatePolicy": ("policy",),
    "organizations:DeletePolicy": ("policy",),
    "organizations:EnablePolicyType": ("root",),
}
# Where "*" is unavoidable, a condition still narrows the write to the policy types the platform manages.
MANAGED_POLICY_TYPES = ["SERVICE_CONTROL_POLICY", "TAG_POLICY"]
ORG_POLICY_TYPE_CONDITION_ACTIONS = frozenset({"organizations:CreatePolicy", "organizations:EnablePolicyType"})


def grant_statements(
    grant: Grant,
    *,
    arns: Callable[[str], list[str]],
    org_arns: Callable[[str], list[str]],
    reports_key_arn: str | None = None,
) -> list[dict[str, Any]]:
    """One grant -> statements. Organizations actions are split by the resource types each one supports."""
    out: list[dict[str, Any]] = []
    for symbol in grant.resources:
        if symbol != "organization":
            out.append({"Effect": "Allow", "Action": list(grant.actions), "Resource": arns(symbol)})
            if symbol == "reports_bucket" and "s3:PutObject" in grant.actions and reports_key_arn:
                # The bucket is SSE-KMS: writing an object needs a data key from the bucket's key.
                out.append({"Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": [reports_key_arn]})
            if symbol == "reports_bucket" and "s3:GetObject" in grant.actions and reports_key_arn:
                # ... and reading one needs the bucket's key to decrypt its data key.
                out.append({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [reports_key_arn]})
            continue
        by_kinds: dict[tuple[str, ...], list[str]] = {}
        for action in grant.actions:
            if action not in ORG_ACTION_RESOURCES:
                raise KeyError(f"{action}: add its resource types to ORG_ACTION_RESOURCES")
            by_kinds.setdefault(ORG_ACTION_RESOURCES[action], []).append(action)
        for kinds, actions in by_kinds.items():
            if kinds:
                out.append(
                    {
                        "Effect": "Allow",
                        "Action": sorted(actions),
                        "Resource": [arn for kind in kinds for arn in org_arns(kind)],
                    }
                )
                continue
            conditioned = sorted(a for a in actions if a in ORG_POLICY_TYPE_CONDITION_ACTIONS)
            plain = sorted(a for a in actions if a not in ORG_POLICY_TYPE_CONDITION_ACTIONS)
            if plain:
                out.append({"Effect": "Allow", "Action": plain, "Resource": "*"})
            if conditioned:
                out.append(
                    {
                        "Effect": "Allow",
                        "Action": conditioned,
                        "Resource": "*",
                        "Condition": {"StringEquals": {"organizations:PolicyType": MANAGED_POLICY_TYPES}},
                    }
                )
    return out


def pipeline_role_statements(
    *, runs_table: str, approvals_table: str, access_role: str, state_machines: list[str]
) -> list[dict[str, Any]]:
    """What the pipeline worker's role may do (CodeBuild's project role in AWS, the worker's role on the emulator):
    its run records and approvals, the vended accounts' CI roles (a team's stacks plan as its plan role and apply as
    its apply role, vending.trust) and access role (only a decommission's teardown), and the workflows' task
    tokens."""
    ci_roles = [f"arn:aws:iam::*:role/{name}" for name in (PLAN_ROLE_NAME, APPLY_ROLE_NAME)]
    return [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": [runs_table]},
        {  # the runner records approval requests for gated applies
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            "Resource": [approvals_table],
        },
        {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": [*ci_roles, access_role]},
        {  # the worker heartbeats the workflow's task token while Terraform runs and completes it when done
            "Effect": "Allow",
            "Action": ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
            "Resource": state_machines,
        },
    ]


PLATFORM_APPROVER_ROLE = "PlatformApprover"


def backstop_role_trust(account_id: str) -> dict[str, Any]:
    """The Budgets backstop's execution role is assumed by AWS Budgets acting for this account only (the confused
    deputy guard: https://docs.aws.amazon.com/cost-management/latest/userguide/security-iam.html)."""
    return {
        "Effect": "Allow",
        "Principal": {"Service": "budgets.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


def backstop_role_statements(*, freeze_policy_arn: str, account_targets: list[str]) -> list[dict[str, Any]]:
    """What Budgets may do as the backstop's execution role: attach and detach exactly vend-freeze (its policy ARN),
    on member accounts only (no OU, no root, no other policy): AttachPolicy is authorized on the policy and on the
    target, so each must be listed. The CDK stack and the emulator both use this."""
    return [
        {
            "Effect": "Allow",
            "Action": ["organizations:AttachPolicy", "organizations:DetachPolicy"],
            "Resource": [freeze_policy_arn, *account_targets],
        }
    ]


def approver_role_statements(
    *,
    requests_table: str,
    changes_table: str,
    approvals_table: str,
    lifecycle_state_machine: str,
    freezes_table: str,
) -> list[dict[str, Any]]:
    """What the PlatformApprover role may do: exactly `vend request approve` and `vend pipeline approve` (read the
    change and its request, record the approval, start the approved change and follow it). It files no change and
    vends nothing, so it is a second principal, not a second admin. The CDK stack and the emulator both use this."""
    executions = lifecycle_state_machine.replace(":stateMachine:", ":execution:") + ":*"
    return [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [requests_table]},
        {  # the change awaiting approval: found by request id (a scan of the small changes table), then saved
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:PutItem"],
            "Resource": [changes_table],
        },
        {  # a pipeline plan's pending approval, approved by a conditional update
            "Effect": "Allow",
            "Action": ["dynamodb:Query", "dynamodb:UpdateItem"],
            "Resource": [approvals_table],
        },
        {  # `vend spend approve`: the thaw found (a scan of the small freezes table) and recorded; SpendFence detaches
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:PutItem"],
            "Resource": [freezes_table],
        },
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [lifecycle_state_machine]},
        {"Effect": "Allow", "Action": ["states:DescribeExecution"], "Resource": [executions]},
        {  # the CLI finds the lifecycle machine by name when VEND_LIFECYCLE_STATE_MACHINE_ARN is not set
            "Effect": "Allow",
            "Action": ["states:ListStateMachines"],
            "Resource": "*",
        },
    ]


PLATFORM_ADMIN_ROLE = "PlatformAdmin"
# What the `vend` CLI (the platform-admin role) does in-process, over the same symbolic resources as the functions'
# grants: what the API does (requests, changes, decommission, the closure backlog), the audit and its remediation,
# `vend guardrails apply`, draining closures, following executions, reading pipeline runs and approving plans.
# tests/e2e/test_lifecycle_state_machine.py records every call the CLI makes as this role and fails on one not granted.
PLATFORM_ADMIN_GRANTS: tuple[Grant, ...] = (
    *by_key("Api").grants,
    *by_key("Audit").grants,
    *by_key("ApplyGuardrails").grants,
    *by_key("RequestClosure").grants,
    Grant(("organizations:TagResource", "organizations:CreateOrganizationalUnit"), ("organization",)),
    Grant(("states:DescribeExecution",), ("executions",)),
    Grant(("dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query"), ("pipeline_runs_table",)),
    Grant(("dynamodb:Query", "dynamodb:UpdateItem"), ("approvals_table",)),
    Grant(("lambda:InvokeFunction",), ("drift_function",)),  # `vend drift --check`
    # `vend costs --live` reads the usage and keeps the instance types it looked up (vending.spend.meter).
    Grant(("dynamodb:Query", "dynamodb:PutItem"), ("usage_table",)),
)
# Actions that take no resource-level permission: "*" is the only resource AWS accepts for them.
# pricing:GetProducts: `vend costs prices --refresh` (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awspricelist.html)
PLATFORM_ADMIN_UNSCOPED = ("states:ListStateMachines", "ce:GetCostAndUsage", "pricing:GetProducts")


def admin_role_statements(
    *,
    arns: Callable[[str], list[str]],
    org_arns: Callable[[str], list[str]],
    lifecycle_executions: str,
    reports_key_arn: str | None = None,
) -> list[dict[str, Any]]:
    """PlatformAdmin's policy, rendered like a function's (the CDK stack provisions the role with it)."""
    out = [
        s
        for grant in PLATFORM_ADMIN_GRANTS
        for s in grant_statements(grant, arns=arns, org_arns=org_arns, reports_key_arn=reports_key_arn)
    ]
    out.append({"Effect": "Allow", "Action": ["states:DescribeExecution"], "Resource": [lifecycle_executions]})
    out.append({"Effect": "Allow", "Action": list(PLATFORM_ADMIN_UNSCOPED), "Resource": "*"})
    return out


def admin_granted_actions() -> list[str]:
    return sorted({a for grant in PLATFORM_ADMIN_GRANTS for a in grant.actions} | set(PLATFORM_ADMIN_UNSCOPED))


# The roles the hosted portal hands to a browser for the platform's people (the Cognito groups platform-admins and
# platform-approvers map to them): API callers only, so the session a browser tab holds can do nothing in AWS but call
# the API, which treats them as the platform admin and the approver (vending.api.access). The CLI keeps PlatformAdmin.
PORTAL_ADMIN_ROLE = "PortalAdmin"
PORTAL_APPROVER_ROLE = "PortalApprover"


def api_caller_role_statements(*, api_arn: str) -> list[dict[str, Any]]:
    """What a team lead's role and the portal roles may do: call the vending API (which decides who sees and does
    what: vending.api.access). Nothing in AWS directly; the emulator's roles hold the same statement."""
    return [{"Effect": "Allow", "Action": ["execute-api:Invoke"], "Resource": [api_arn]}]


def lead_role_names(layout: Any) -> list[str]:
    """The lead roles the platform account holds: every `leads:` entry of the layout given as a role name (an ARN
    names a role managed elsewhere)."""
    return sorted({lead for team in layout.teams for lead in team.leads if not lead.startswith("arn:")})
