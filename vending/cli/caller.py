"""Who runs a CLI command: the signed-in AWS principal (sts:GetCallerIdentity), never a name typed on the line."""

from __future__ import annotations

import boto3

from vending.aws.identity import Principal, caller_principal, check_claim


def signed_caller(session: boto3.Session, claimed: str | None = None, flag: str = "--by") -> Principal:
    """The principal the session's credentials belong to. `claimed` (an optional --by) may only name that principal:
    naming anyone else is refused (IdentityMismatch), so a record never says someone acted who did not."""
    return check_claim(flag, claimed, caller_principal(session.client("sts")))
