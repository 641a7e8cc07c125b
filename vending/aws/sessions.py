"""Sessions in member accounts, reached through the account's access role."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from vending.aws.errors import error_code
from vending.exceptions import AccessRoleNotReady


def access_role_arn(account_id: str, role_name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def assume_role_session(sts: Any, role_arn: str, session_name: str, region: str) -> boto3.Session:
    """Temporary credentials only: the platform holds no static keys for member accounts."""
    try:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64], DurationSeconds=3600)[
            "Credentials"
        ]
    except ClientError as e:
        # A brand-new account's role is not assumable for a short while; the state machine backs off and retries.
        if error_code(e) == "AccessDenied":
            raise AccessRoleNotReady(f"cannot assume {role_arn} yet: {e}") from e
        raise
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def session_env(session: boto3.Session) -> dict[str, str]:
    """The session's credentials as environment variables, for a child process such as Terraform."""
    frozen = session.get_credentials().get_frozen_credentials()
    env = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        env["AWS_SESSION_TOKEN"] = frozen.token
    if session.region_name:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = session.region_name
    return env
