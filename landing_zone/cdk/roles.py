"""The platform roles the service relies on besides the functions' own: PlatformAdmin, the role the `vend` CLI and the
API's callers act as (the configured vending:platformAdminRoleArn: the stack creates it, with PLATFORM_ADMIN_GRANTS),
and PlatformApprover, the second principal that approves changes and gated plans (vending.aws.identity: the
requester's principal can never approve its own change).

Its policy is landing_zone.grant_statements.approver_role_statements, the same statements the emulator's
PlatformApprover holds, so a missing grant fails locally (tests/e2e/test_lifecycle_state_machine.py approves as it).
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam

from landing_zone.cdk.base import BaseStack
from landing_zone.cdk.grants import WILDCARD_REASONS
from landing_zone.cdk.storage import Storage
from landing_zone.grant_statements import (
    PLATFORM_APPROVER_ROLE,
    PORTAL_ADMIN_ROLE,
    PORTAL_APPROVER_ROLE,
    admin_role_statements,
    api_caller_role_statements,
    approver_role_statements,
    backstop_role_statements,
    backstop_role_trust,
    lead_role_names,
)
from vending.budgets import BACKSTOP_ROLE_NAME


def approver_role_arn() -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{PLATFORM_APPROVER_ROLE}"


def portal_role_arns() -> tuple[str, str]:
    """The hosted portal's admin and approver roles (landing_zone.cdk.portal makes them)."""
    return (
        f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{PORTAL_ADMIN_ROLE}",
        f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{PORTAL_APPROVER_ROLE}",
    )


def build_approver_role(stack: BaseStack, storage: Storage) -> iam.Role:
    """Assumable by principals of this account that IAM lets assume it (an approvers' permission set), never by the
    platform-admin role: an admin who could become the approver would approve its own changes."""
    tables = storage.tables
    role = iam.Role(
        stack,
        "PlatformApproverRole",
        role_name=PLATFORM_APPROVER_ROLE,
        assumed_by=iam.AccountRootPrincipal(),
        description="Approves vending changes and gated Terraform plans; cannot file changes or vend",
        max_session_duration=Duration.hours(1),
    )
    assert role.assume_role_policy is not None
    role.assume_role_policy.add_statements(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            conditions={"ArnEquals": {"aws:PrincipalArn": stack.config.platform_admin_role_arn}},
        )
    )
    for statement in approver_role_statements(
        requests_table=tables["requests_table"].table_arn,
        changes_table=tables["changes_table"].table_arn,
        approvals_table=tables["approvals_table"].table_arn,
        lifecycle_state_machine=stack.lifecycle_state_machine_arn,
        freezes_table=tables["freezes_table"].table_arn,
    ):
        role.add_to_policy(iam.PolicyStatement.from_json(statement))
    executions = stack.lifecycle_state_machine_arn.replace(":stateMachine:", ":execution:")
    stack.acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{stack.nag(executions)}:*]",
        "`vend request approve --wait` follows the change's execution; its name is generated per change, so the "
        "grant names the AccountLifecycle machine's executions.",
    )
    stack.acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "states:ListStateMachines supports no resource-level permissions; the CLI finds the lifecycle machine by name.",
    )
    return role


def build_admin_role(stack: BaseStack, arns: Callable[[str], list[str]], *, reports_key_arn: str) -> iam.Role:
    """The role named by vending:platformAdminRoleArn, with the CLI's grants rendered like a function's. Assumable by
    principals of this account that IAM lets assume it (the platform team's permission set)."""
    path, _, name = stack.config.platform_admin_role_arn.split(":role", 1)[1].rpartition("/")
    role = iam.Role(
        stack,
        "PlatformAdminRole",
        role_name=name,
        path=f"{path}/" if path else "/",
        assumed_by=iam.AccountRootPrincipal(),
        description="The vend CLI and the vending API's callers: least privilege (landing_zone.grant_statements)",
        max_session_duration=Duration.hours(4),
    )
    assert role.assume_role_policy is not None
    role.assume_role_policy.add_statements(  # the approver never becomes the admin (it would approve its own change)
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            conditions={"ArnEquals": {"aws:PrincipalArn": approver_role_arn()}},
        )
    )
    executions = stack.lifecycle_state_machine_arn.replace(":stateMachine:", ":execution:")
    policy = admin_role_statements(
        arns=arns, org_arns=stack.org_arns, lifecycle_executions=f"{executions}:*", reports_key_arn=reports_key_arn
    )
    seen: set[str] = set()
    for statement in policy:
        role.add_to_policy(iam.PolicyStatement.from_json(statement))
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            if "*" not in resource or resource == "*":
                continue
            rendered = stack.nag(resource)
            if rendered in seen:
                continue
            seen.add(rendered)
            reason = next((r for marker, r in WILDCARD_REASONS.items() if marker in rendered), None)
            if ":execution:" in rendered:
                reason = "Execution names are generated per request, change and attempt; scoped to the executions of "
                reason += "the service's two state machines (the CLI follows them)."
            stack.acknowledge(role, f"AwsSolutions-IAM5[Resource::{rendered}]", reason or _missing(rendered))
    stack.acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "states:ListStateMachines and ce:GetCostAndUsage support no resource-level permissions; Organizations' "
        "account-less reads and CreatePolicy/EnablePolicyType (narrowed to SERVICE_CONTROL_POLICY) neither.",
    )
    return role


def backstop_role_arn(stack: BaseStack) -> str:
    """The Budgets backstop's execution role, or "" when the stack is not given vend-freeze's id."""
    if not stack.config.freeze_policy_id:
        return ""
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{BACKSTOP_ROLE_NAME}"


def build_backstop_role(stack: BaseStack) -> iam.Role | None:
    """The role AWS Budgets assumes for the spend fence's backstop action (vending.spend.backstop): trusted by
    budgets.amazonaws.com for this account only, allowed to attach and detach exactly vend-freeze on member accounts.
    The emulator makes the same role from the same statements (landing_zone/local/runtime.py)."""
    policy_id = stack.config.freeze_policy_id
    if not policy_id:
        return None
    mgmt, org = stack.config.management_account_id, stack.config.organization_id
    policy_arn = f"arn:{Aws.PARTITION}:organizations::{mgmt}:policy/{org}/service_control_policy/{policy_id}"
    trust = backstop_role_trust(Aws.ACCOUNT_ID)  # the same statement as the emulator's role
    role = iam.Role(
        stack,
        "BudgetsFreezeRole",
        role_name=BACKSTOP_ROLE_NAME,
        assumed_by=iam.ServicePrincipal(trust["Principal"]["Service"], conditions=trust["Condition"]),
        description="AWS Budgets attaches vend-freeze to a member account whose billed spend crossed its budget",
        max_session_duration=Duration.hours(1),
    )
    for statement in backstop_role_statements(freeze_policy_arn=policy_arn, account_targets=stack.org_arns("account")):
        role.add_to_policy(iam.PolicyStatement.from_json(statement))
    stack.acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{stack.nag(stack.org_arns('account')[0])}]",
        "Vended account IDs are created at run time; the action targets the member account it was made for, and "
        "the policy resource names vend-freeze exactly.",
    )
    return role


def _missing(resource: str) -> str:
    raise ValueError(f"PlatformAdmin: no reason recorded for the wildcard resource {resource}")


def lead_role_arns(stack: BaseStack) -> list[str]:
    """The layout's team leads as role ARNs: a name is a role of this (the platform) account."""
    leads = sorted({lead for team in stack.layout.teams for lead in team.leads})
    return [
        lead if lead.startswith("arn:") else f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{lead}" for lead in leads
    ]


def api_caller_role(
    stack: BaseStack, construct_id: str, name: str, *, assumed_by: iam.IPrincipal, description: str, api_arn: str
) -> iam.Role:
    """A role that may call the vending API and nothing else (the API decides what it sees and does); one-hour
    sessions. The team leads' roles and the hosted portal's admin and approver roles are such roles."""
    role = iam.Role(
        stack,
        construct_id,
        role_name=name,
        assumed_by=assumed_by,
        description=description,
        max_session_duration=Duration.hours(1),
    )
    for statement in api_caller_role_statements(api_arn=api_arn):
        role.add_to_policy(iam.PolicyStatement.from_json(statement))
    stack.acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{stack.nag(api_arn)}]",
        "The role calls the API's routes (which ones: the API's resource policy); the resolver decides what it sees.",
    )
    return role


def build_lead_roles(stack: BaseStack, api_arn: str) -> list[iam.Role]:
    """The team-lead roles the layout names (by name: roles of this account, like the emulator's), each allowed to
    call the vending API only; the API decides per team what a lead sees and does (vending.api.access). Assumable by
    principals of this account that IAM lets assume it (the team's permission set)."""
    return [
        api_caller_role(
            stack,
            f"TeamLead{''.join(ch for ch in name if ch.isalnum())}",
            name,
            assumed_by=iam.AccountRootPrincipal(),
            description="A team lead of the vending portal: calls the vending API, which scopes it to its teams",
            api_arn=api_arn,
        )
        for name in lead_role_names(stack.layout)
    ]
