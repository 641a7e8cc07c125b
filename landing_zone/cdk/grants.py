"""vending/functions.py grants -> IAM statements, and the cdk-nag reasons for the wildcards AWS leaves no way around.

Organizations resource types per action come from the Service Authorization Reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from landing_zone.cdk.base import BaseStack
from vending.functions import Grant

AUDIT_REPORTS_PREFIX = "guardrail-audit/"  # vending.guardrails.audit.publish writes its reports under this prefix

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
    "organizations:EnablePolicyType": ("root",),
}
# Where "*" is unavoidable, a condition still narrows the write to service control policies.
ORG_POLICY_TYPE_CONDITION_ACTIONS = frozenset({"organizations:CreatePolicy", "organizations:EnablePolicyType"})

_WILDCARD_REASONS = {
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
    """One grant -> statements. Organizations actions are split by the resource types each one supports."""
    out: list[iam.PolicyStatement] = []
    for symbol in grant.resources:
        if symbol != "organization":
            out.append(iam.PolicyStatement(actions=list(grant.actions), resources=arns(symbol)))
            if symbol == "reports_bucket" and "s3:PutObject" in grant.actions:
                # The bucket is SSE-KMS: writing an object needs a data key from the bucket's key.
                out.append(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[reports_key.key_arn]))
            continue
        by_kinds: dict[tuple[str, ...], list[str]] = {}
        for action in grant.actions:
            if action not in ORG_ACTION_RESOURCES:
                raise KeyError(f"{action}: add its resource types to ORG_ACTION_RESOURCES")
            by_kinds.setdefault(ORG_ACTION_RESOURCES[action], []).append(action)
        for kinds, actions in by_kinds.items():
            if kinds:
                out.append(
                    iam.PolicyStatement(
                        actions=sorted(actions), resources=[arn for kind in kinds for arn in stack.org_arns(kind)]
                    )
                )
                continue
            conditioned = sorted(a for a in actions if a in ORG_POLICY_TYPE_CONDITION_ACTIONS)
            plain = sorted(a for a in actions if a not in ORG_POLICY_TYPE_CONDITION_ACTIONS)
            if plain:
                out.append(iam.PolicyStatement(actions=plain, resources=["*"]))
            if conditioned:
                out.append(
                    iam.PolicyStatement(
                        actions=conditioned,
                        resources=["*"],
                        conditions={"StringEquals": {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}},
                    )
                )
    return out


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
                reason = (
                    f"{actions}: Organizations supports no resource-level permissions for these actions "
                    "(Service Authorization Reference), so no ARN can be named"
                )
                if statement.to_statement_json().get("Condition"):
                    reason += "; narrowed by the condition organizations:PolicyType = SERVICE_CONTROL_POLICY"
                star.append(reason + ".")
                continue
            rendered = stack.nag(resource)
            finding = f"AwsSolutions-IAM5[Resource::{rendered}]"
            if finding in seen:
                continue
            seen.add(finding)
            stack.acknowledge(role, finding, next(r for marker, r in _WILDCARD_REASONS.items() if marker in rendered))
    stack.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", " ".join(star))
