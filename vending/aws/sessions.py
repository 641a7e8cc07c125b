"""Sessions: one botocore data loader for the process, and sessions in member accounts through their access role."""

from __future__ import annotations

import copy
import functools
import os
from typing import Any

import boto3
import botocore.handlers
import botocore.loaders
import botocore.session
from botocore.exceptions import ClientError
from botocore.hooks import EventAliaser, HierarchicalEmitter

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


@functools.lru_cache(maxsize=4)
def _builtin_handlers(specs: tuple[tuple[Any, ...], ...]) -> HierarchicalEmitter:
    """An emitter holding botocore's built-in handlers `specs`, registered as botocore.session.Session registers
    them (through the event aliaser, first/last where a spec says so)."""
    emitter = HierarchicalEmitter()
    events = EventAliaser(emitter)
    for event_name, handler, *where in specs:
        if not where:
            events.register(event_name, handler)
        elif where[0] is botocore.handlers.REGISTER_FIRST:
            events.register_first(event_name, handler)
        elif where[0] is botocore.handlers.REGISTER_LAST:
            events.register_last(event_name, handler)
    return emitter


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 Session (same arguments) whose botocore session shares the process's data loader, and starts from a
    copy of the built-in handlers instead of registering all of them again: 5.2 ms a session -> 2.1 ms (most of the
    rest is boto3's own handlers), for every invocation and assumed role. Keyed on the handler list as it is now, so
    a handler added later (moto's in-process mock and the emulator's fault layer append one) is in the next session,
    as it would be in botocore's own. Session initializers still run."""
    emitter = copy.copy(_builtin_handlers(tuple(botocore.handlers.BUILTIN_HANDLERS)))
    core = botocore.session.Session(event_hooks=emitter, include_builtin_handlers=False)
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
