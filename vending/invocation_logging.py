"""Bedrock model-invocation logging in each of a vended account's regions: part of the protected baseline.

Created (and converged) by the bootstrap step and by every change, in the member account as its access role; checked
by the audit; only the platform's roles may change it (the SCP baseline's ProtectActivityLogs, and the
logging role among the roles ProtectPlatformRoles keeps). Every invocation's request, response and metadata go to a
CloudWatch Logs log group of the account in the same region, written by a role Bedrock assumes
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html: "Only destinations from the same
account and Region are supported"). Bodies over 100 KB and binary image data need an S3 destination
(largeDataDeliveryS3Config), which this does not configure: their records are logged without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from scps.catalog import INVOCATION_LOG_GROUP, INVOCATION_LOGGING_ROLE_NAME
from vending.aws.errors import error_code
from vending.aws.service_roles import ServiceRole, service_trust
from vending.exceptions import AwsTransient

logger = Logger(child=True)

LOG_GROUP = INVOCATION_LOG_GROUP
ROLE_NAME = INVOCATION_LOGGING_ROLE_NAME
RETENTION_DAYS = 365
# The stream Bedrock writes to in the group (the user guide's role policy names it).
LOG_STREAM = "aws/bedrock/modelinvocations"
# Every modality Bedrock can log, on: a team must not escape the log by sending images instead of text.
DELIVERY_FLAGS = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
    "audioDataDeliveryEnabled",
)


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{ROLE_NAME}"


def trust_policy(account_id: str) -> dict[str, Any]:
    """Only Bedrock, acting for this account (confused-deputy conditions as the user guide gives them)."""
    return service_trust("bedrock.amazonaws.com", account_id, f"arn:aws:bedrock:*:{account_id}:*")


def role_policy(account_id: str) -> dict[str, Any]:
    """Write the invocation stream of our log group, in any region (the group has the same name in each)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:*:{account_id}:log-group:{LOG_GROUP}:log-stream:{LOG_STREAM}",
            }
        ],
    }


def intended_config(account_id: str) -> dict[str, Any]:
    """The loggingConfig PutModelInvocationLoggingConfiguration is given (the same in every region)."""
    return {
        "cloudWatchConfig": {"logGroupName": LOG_GROUP, "roleArn": role_arn(account_id)},
        **{flag: True for flag in DELIVERY_FLAGS},
    }


ROLE = ServiceRole(
    ROLE_NAME,
    "WriteInvocationLogs",
    "Bedrock writes model-invocation logs to the account's log group (vend baseline)",
    "Bedrock for this account",
)


def _log_group(logs: Any) -> dict[str, Any] | None:
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=LOG_GROUP):
        for group in page.get("logGroups", []):
            if group.get("logGroupName") == LOG_GROUP:
                return dict(group)
    return None


def _ensure_log_group(logs: Any, region: str) -> list[str]:
    changes: list[str] = []
    group = _log_group(logs)
    if group is None:
        try:
            logs.create_log_group(logGroupName=LOG_GROUP)
            changes.append(f"create_log_group {LOG_GROUP} ({region})")
        except ClientError as e:
            if error_code(e) != "ResourceAlreadyExistsException":
                raise
        group = {}
    if group.get("retentionInDays") != RETENTION_DAYS:
        logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=RETENTION_DAYS)
        if "logGroupName" in group:
            changes.append(f"put_retention_policy {LOG_GROUP} {group.get('retentionInDays')} -> {RETENTION_DAYS}")
    return changes


def current_config(bedrock: Any) -> dict[str, Any]:
    """The region's loggingConfig, {} when logging is off (AWS leaves the member out; moto answers {})."""
    return dict(bedrock.get_model_invocation_logging_configuration().get("loggingConfig") or {})


def config_problems(current: dict[str, Any], account_id: str) -> list[str]:
    """How `current` differs from the intended configuration: an empty list when it is as intended."""
    if not current:
        return ["off"]
    intended = intended_config(account_id)
    problems = []
    cw = current.get("cloudWatchConfig") or {}
    for key, want in intended["cloudWatchConfig"].items():
        if cw.get(key) != want:
            problems.append(f"cloudWatchConfig.{key} is {cw.get(key)!r}, intended {want!r}")
    problems += [f"{flag} is {current.get(flag)!r}, intended True" for flag in DELIVERY_FLAGS if not current.get(flag)]
    return problems


def ensure_invocation_logging(session: Any, account_id: str, regions: Iterable[str]) -> list[str]:
    """The logging role, then in each region the log group and the logging configuration: created, or converged back
    when someone changed them. Returns what changed; calling it again changes nothing. `session` is in the member
    account (its access role)."""
    changes = ROLE.ensure(session.client("iam"), trust_policy(account_id), role_policy(account_id))
    role_is_new = bool(changes)
    for region in regions:
        changes += _ensure_log_group(session.client("logs", region_name=region), region)
        bedrock = session.client("bedrock", region_name=region)
        problems = config_problems(current_config(bedrock), account_id)
        if problems:
            try:
                bedrock.put_model_invocation_logging_configuration(loggingConfig=intended_config(account_id))
            except ClientError as e:
                # Bedrock checks that it can assume the role; a role made a moment ago may not have reached every
                # region yet (IAM is eventually consistent): the step's retry finds it. Once the role is old, terminal.
                if role_is_new and error_code(e) == "ValidationException":
                    raise AwsTransient(f"invocation logging role not usable by Bedrock yet ({region}): {e}") from e
                raise
            changes.append(f"put_model_invocation_logging_configuration ({region}): {'; '.join(problems)}")
    if changes:
        logger.info("invocation logging converged", extra={"account": account_id, "changes": changes})
    return changes


def check_invocation_logging(session: Any, account_id: str, regions: Iterable[str]) -> dict[str, list[str]]:
    """What the audit reports for one account, by kind ("off", "drift"): empty lists when logging is as intended in
    every region. Reads only: the configuration and log group of each region, and the logging role."""
    found: dict[str, list[str]] = {"off": [], "drift": []}
    for region in regions:
        problems = config_problems(current_config(session.client("bedrock", region_name=region)), account_id)
        if problems == ["off"]:
            found["off"].append(f"{region}: model-invocation logging is off")
        else:
            found["drift"] += [f"{region}: {p}" for p in problems]
        group = _log_group(session.client("logs", region_name=region))
        if group is None:
            found["drift"].append(f"{region}: log group {LOG_GROUP} is missing")
        elif group.get("retentionInDays") != RETENTION_DAYS:
            found["drift"].append(
                f"{region}: log group {LOG_GROUP} keeps {group.get('retentionInDays') or 'forever'} days, "
                f"intended {RETENTION_DAYS}"
            )
    found["drift"] += ROLE.problems(session.client("iam"), trust_policy(account_id), role_policy(account_id))
    return found
