"""Sessions: one botocore data loader for the process, and sessions in member accounts through their access role."""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.exceptions import ClientError

from vending.aws.errors import error_code
from vending.exceptions import AccessRoleNotReady


class _PathsOnce(list[str]):
    """A loader's search paths that keep each path once: boto3 appends its data folder on every Session."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@functools.cache
def shared_loader(data_path: str | None = None) -> botocore.loaders.Loader:
    """The process's one botocore data loader for `data_path` (botocore.loaders.create_loader's argument)."""
    loader = botocore.loaders.create_loader(data_path)
    # Where botocore (pinned in constraints.txt) keeps them; were it to move, paths would repeat and only cost time,
    # which tests/vending/test_sessions.py would report.
    if isinstance(getattr(loader, "_search_paths", None), list):
        loader._search_paths = _PathsOnce(loader.search_paths)
    return loader


# botocore parses its endpoint and service-model JSON once per loader, and every new Session gets a new loader: a
# session per invocation (or per assumed role) re-parsed megabytes of JSON each time, 40 % of a vend's CPU on the
# emulator and cold-start-like work on every warm Lambda invocation in AWS. The loader only caches read-only data.
_LOADER = shared_loader(os.environ.get("AWS_DATA_PATH"))


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 Session (same arguments) whose botocore session shares the process's data loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, **kwargs)


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
    return new_session(
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
