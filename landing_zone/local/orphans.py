"""What a vend left behind that belongs to no READY request: the soak's proof that nothing is orphaned.

Inside each vended account (through its access role) every resource of a kind the vend itself creates is listed and
compared with the set a READY request owns, as the record and vending.bootstrap name it:

    bucket          the state bucket `tfstate-<account>-<region>`, and nothing else
    iam_role        the access role, TeamCIRole, TeamCIPlanRole
    iam_policy      VendingCIBoundary (customer managed policies)
    iam_user        none (the design forbids IAM users and access keys in a vended account)
    oidc_provider   GitHub's
    kms_key         the key `alias/terraform-state` names; a key scheduled for deletion (a retried CreateKey's twin
                    that bootstrap already cleaned up) is not an orphan, a live second key is
    kms_alias       alias/terraform-state (AWS-managed `alias/aws/*` aside)
    dynamodb_table  none (the state lock is S3-native)
    budget          vend-monthly-spend (made when the layout gives the team a budget)
    scp_attachment  SCPs attached to the account itself that the record does not list

Organization-wide: SCPs created during the run that are attached to nothing (`scp_policy`), accounts no READY record
owns (`account`), executions still running, records not READY, pipeline runs still QUEUED/RUNNING.

This is an emulator/benchmark tool (it lists whole accounts); the audit (vending.guardrails) is the production check.
Resources a team's Terraform stacks create are out of its scope: the soak runs without pipelines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from vending.aws.sessions import access_role_arn, assume_role_session
from vending.bootstrap import (
    BOUNDARY_NAME,
    CI_ROLE_NAME,
    GITHUB_OIDC_HOST,
    STATE_KEY_ALIAS,
    state_bucket_name,
)
from vending.budgets import BUDGET_NAME
from vending.lifecycle import RequestRecord
from vending.trust import PLAN_ROLE_NAME

SCP = "SERVICE_CONTROL_POLICY"
ACCOUNT_KINDS = (
    "bucket",
    "iam_role",
    "iam_policy",
    "iam_user",
    "oidc_provider",
    "kms_key",
    "kms_alias",
    "dynamodb_table",
    "budget",
    "scp_attachment",
)


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def inventory(member: boto3.Session, org: Any, account_id: str, region: str) -> dict[str, set[str]]:
    """Every resource of the kinds above in the account, by kind (names or ids)."""
    iam, kms = member.client("iam"), member.client("kms", region_name=region)
    found: dict[str, set[str]] = {kind: set() for kind in ACCOUNT_KINDS}
    found["bucket"] = {b["Name"] for b in member.client("s3").list_buckets()["Buckets"]}
    found["iam_role"] = {r["RoleName"] for r in _pages(iam, "list_roles", "Roles")}
    found["iam_policy"] = {p["PolicyName"] for p in _pages(iam, "list_policies", "Policies", Scope="Local")}
    found["iam_user"] = {u["UserName"] for u in _pages(iam, "list_users", "Users")}
    found["oidc_provider"] = {
        p["Arn"].rsplit("/", 1)[-1] if "oidc-provider/" in p["Arn"] else p["Arn"]
        for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    }
    for key in _pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") == "CUSTOMER" and meta.get("KeyState") != "PendingDeletion":
            found["kms_key"].add(key["KeyId"])
    found["kms_alias"] = {
        a["AliasName"] for a in _pages(kms, "list_aliases", "Aliases") if not a["AliasName"].startswith("alias/aws/")
    }
    found["dynamodb_table"] = set(_pages(member.client("dynamodb", region_name=region), "list_tables", "TableNames"))
    try:
        budgets = member.client("budgets", region_name="us-east-1").describe_budgets(AccountId=account_id)
        found["budget"] = {b["BudgetName"] for b in budgets.get("Budgets", [])}
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "NotFoundException":
            raise
    found["scp_attachment"] = {
        p["Name"] for p in _pages(org, "list_policies_for_target", "Policies", TargetId=account_id, Filter=SCP)
    }
    return found


def expected(record: RequestRecord, member: boto3.Session, *, access_role_name: str) -> dict[str, set[str]]:
    """What the READY request owns in its account."""
    account_id = record.account_id or ""
    region = record.request["regions"][0]
    kms = member.client("kms", region_name=region)
    try:
        state_key = {str(kms.describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"]["KeyId"])}
    except ClientError:
        state_key = set()  # no alias: every live key is an orphan
    return {
        "bucket": {record.state_bucket or state_bucket_name(account_id, region)},
        "iam_role": {access_role_name, CI_ROLE_NAME, PLAN_ROLE_NAME},
        "iam_policy": {BOUNDARY_NAME},
        "iam_user": set(),
        "oidc_provider": {GITHUB_OIDC_HOST},
        "kms_key": state_key,
        "kms_alias": {STATE_KEY_ALIAS},
        "dynamodb_table": set(),
        "budget": {BUDGET_NAME},
        "scp_attachment": set(record.scps),
    }


def account_orphans(
    record: RequestRecord,
    *,
    sts: Any,
    org: Any,
    access_role_name: str,
) -> dict[str, list[str]]:
    """Per kind, what the READY record's account holds beyond the request's expected set."""
    if not record.account_id:
        raise ValueError(f"{record.request_id}: a READY record without an account id")
    region = record.request["regions"][0]
    member = assume_role_session(sts, access_role_arn(record.account_id, access_role_name), "orphan-inventory", region)
    found = inventory(member, org, record.account_id, region)
    owned = expected(record, member, access_role_name=access_role_name)
    return {kind: sorted(found[kind] - owned[kind]) for kind in ACCOUNT_KINDS if found[kind] - owned[kind]}


def scp_policy_ids(org: Any) -> set[str]:
    return {p["Id"] for p in _pages(org, "list_policies", "Policies", Filter=SCP)}


def unattached_new_scps(org: Any, before: Iterable[str]) -> list[str]:
    """SCPs created since `before` was taken that govern nothing (a CreatePolicy whose attach never happened)."""
    known = set(before)
    return sorted(
        p["Name"]
        for p in _pages(org, "list_policies", "Policies", Filter=SCP)
        if p["Id"] not in known and not _pages(org, "list_targets_for_policy", "Targets", PolicyId=p["Id"])
    )


def orphan_report(
    ready: dict[str, RequestRecord],
    *,
    sts: Any,
    org: Any,
    access_role_name: str,
    extra: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """{"by_kind": {kind: count}, "by_account": {account: {kind: [names]}}, "count": total}; `extra` adds the
    organization-wide kinds the caller found (accounts, executions, records, SCPs)."""
    by_account: dict[str, dict[str, list[str]]] = {}
    for record in ready.values():
        found = account_orphans(record, sts=sts, org=org, access_role_name=access_role_name)
        if found:
            by_account[record.account_id or record.request_id] = found
    by_kind = {kind: 0 for kind in ACCOUNT_KINDS}
    for found in by_account.values():
        for kind, names in found.items():
            by_kind[kind] += len(names)
    for kind, names in (extra or {}).items():
        by_kind[kind] = len(names)
    return {"count": sum(by_kind.values()), "by_kind": by_kind, "by_account": by_account, "listed": extra or {}}
