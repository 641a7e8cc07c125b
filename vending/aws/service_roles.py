"""Roles an AWS service assumes inside a member account for the platform (Bedrock's invocation logging, EventBridge's
usage forwarding): trusted by that service for this account only, one inline policy, converged and checked the same
way whoever owns them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from vending.aws.errors import error_code


def service_trust(service: str, account_id: str, source_arn: str) -> dict[str, Any]:
    """Only `service`, acting for this account and from `source_arn` (the confused-deputy conditions AWS's user
    guides give): another account's resource, or one a team made, cannot use the role even if it names it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": source_arn},
                },
            }
        ],
    }


def policy_document(value: Any) -> Any:
    """A policy document as IAM returns it (a URL-encoded string, or already decoded by the SDK), parsed."""
    return json.loads(unquote(value)) if isinstance(value, str) else value


@dataclass(frozen=True)
class ServiceRole:
    name: str
    policy_name: str
    description: str
    trusted: str  # who the trust admits, in words (for the audit's finding)

    def ensure(self, iam: Any, trust: dict[str, Any], policy: dict[str, Any]) -> list[str]:
        """Create the role or put its trust back, then its policy; returns what was created. A retried CreateRole
        whose answer was lost finds the role there."""
        changes: list[str] = []
        document = json.dumps(trust)
        try:
            iam.get_role(RoleName=self.name)
            iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=document)
        except ClientError as e:
            if error_code(e) != "NoSuchEntity":
                raise
            try:
                iam.create_role(
                    RoleName=self.name,
                    AssumeRolePolicyDocument=document,
                    MaxSessionDuration=3600,
                    Description=self.description,
                )
                changes.append(f"create_role {self.name}")
            except ClientError as created:
                if error_code(created) != "EntityAlreadyExists":
                    raise
        iam.put_role_policy(RoleName=self.name, PolicyName=self.policy_name, PolicyDocument=json.dumps(policy))
        return changes

    def problems(self, iam: Any, trust: dict[str, Any], policy: dict[str, Any]) -> list[str]:
        """What differs from the intended role (reads only): missing, trusting others, or another policy."""
        try:
            role = iam.get_role(RoleName=self.name)["Role"]
            found = iam.get_role_policy(RoleName=self.name, PolicyName=self.policy_name)["PolicyDocument"]
        except ClientError as e:
            if error_code(e) != "NoSuchEntity":
                raise
            return [f"role {self.name} or its policy {self.policy_name} is missing"]
        out = []
        if policy_document(role.get("AssumeRolePolicyDocument")) != trust:
            out.append(f"role {self.name} trusts other than {self.trusted}")
        if policy_document(found) != policy:
            out.append(f"role {self.name}'s policy {self.policy_name} differs from the intended one")
        return out
