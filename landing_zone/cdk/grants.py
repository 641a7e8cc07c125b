"""vending/functions.py grants -> IAM statements, and the cdk-nag reasons for the wildcards AWS leaves no way around.

Organizations resource types per action come from the Service Authorization Reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from landing_zone.cdk.base import BaseStack
from landing_zone.grant_statements import grant_statements
from vending.functions import Grant

AUDIT_REPORTS_PREFIX = "guardrail-audit/"  # vending.guardrails.audit.publish writes its reports under this prefix

WILDCARD_REASONS = {
    ":budget/vend-backstop-": "A backstop budget is named after its vended account (created at run time) and its "
    "actions get generated ids; scoped to the vend-backstop- budgets of this account and their actions.",
    ":account/": "Vended account IDs are created at run time; scoped to accounts of this organization.",
    ":ou/": "OUs are created from layout.yaml at run time (PlaceInOu); scoped to OUs of this organization.",
    ":root/": "The root ID is not known at deploy time; scoped to the root of this organization.",
    ":policy/o-": "SCPs are created by ApplyGuardrails at run time; scoped to this organization's SCPs.",
    "::aws:policy/": "The AWS-managed FullAWSAccess SCP is read and attached/detached (quarantine); "
    "scoped to AWS-managed service control policies.",
    ":execution:": "Execution names are generated per request attempt; scoped to AccountVending executions.",
    ":role/": "Access roles live in vended accounts whose IDs are only known after CreateAccount; the role "
    "name is fixed by layout.yaml.",
    ":log-stream:": "Lambda creates one log stream per execution environment with a generated name; "
    "scoped to this function's own log group.",
    "ArchiveBucket": "Retirement archives a retired account's whole state bucket (every key and version) under "
    "a prefix named by the account; scoped to the platform archive bucket.",
    f"/{AUDIT_REPORTS_PREFIX}*": "Audit reports are written under a dated key; scoped to the "
    f"{AUDIT_REPORTS_PREFIX} prefix of the reports bucket.",
}


def statements(
    stack: BaseStack, grant: Grant, *, arns: Callable[[str], list[str]], reports_key: kms.IKey
) -> list[iam.PolicyStatement]:
    """One grant -> statements, rendered by landing_zone.grant_statements (the emulator renders the same)."""
    return [
        iam.PolicyStatement.from_json(statement)
        for statement in grant_statements(
            grant, arns=arns, org_arns=stack.org_arns, reports_key_arn=reports_key.key_arn
        )
    ]


def acknowledge_wildcards(stack: BaseStack, role: iam.Role, policy: list[iam.PolicyStatement]) -> None:
    seen: set[str] = set()
    # Active tracing adds xray:PutTraceSegments/PutTelemetryRecords on "*" to every function role.
    star = ["X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions."]
    for statement in policy:
        for resource in statement.resources:
            if "*" not in resource:
                continue
            if resource == "*":
                actions = ", ".join(sorted(statement.actions))
                service = "Cost Explorer" if all(a.startswith("ce:") for a in statement.actions) else "Organizations"
                reason = (
                    f"{actions}: {service} supports no resource-level permissions for these actions "
                    "(Service Authorization Reference), so no ARN can be named"
                )
                if statement.to_statement_json().get("Condition"):
                    reason += (
                        "; narrowed by the condition organizations:PolicyType in SERVICE_CONTROL_POLICY, TAG_POLICY"
                    )
                star.append(reason + ".")
                continue
            rendered = stack.nag(resource)
            finding = f"AwsSolutions-IAM5[Resource::{rendered}]"
            if finding in seen:
                continue
            seen.add(finding)
            stack.acknowledge(role, finding, next(r for marker, r in WILDCARD_REASONS.items() if marker in rendered))
    stack.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", " ".join(star))
