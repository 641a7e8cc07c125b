"""What a vend left behind that belongs to no READY request: the soak's proof that nothing is orphaned.

Inside each vended account (through its access role) every resource of a kind the vend itself creates is listed and
compared with the set a READY request owns, as the record and vending.bootstrap name it:

    bucket          the state bucket `tfstate-<account>-<region>`, and nothing else
    iam_role        the access role, TeamCIRole, TeamCIPlanRole, VendBedrockInvocationLogging, VendUsageForwarding
    iam_policy      VendingCIBoundary (customer managed policies)
    iam_user        none (the design forbids IAM users and access keys in a vended account)
    oidc_provider   GitHub's
    role_policy     inline and attached policies of every role: PlanReadOnly on TeamCIPlanRole, Workloads and
                    ManageBoundedRoles on TeamCIRole, WriteInvocationLogs on the invocation-logging role,
                    PutUsageEventsOnPlatformBus on the usage-forwarding role, the access role's AdministratorAccess
                    (Organizations' own)
    kms_key         the key `alias/terraform-state` names in the home region, nothing in the others
    kms_key_pending_deletion
                    none but bootstrap's own cleanup: a retried CreateKey's twin, tagged as the state key, in the
                    home region, scheduled for deletion (it exists for its waiting period); any other is counted
    kms_alias       alias/terraform-state in the home region (AWS-managed `alias/aws/*` aside)
    dynamodb_table  none (the state lock is S3-native)
    log_group       Bedrock's invocation log group in each of the request's regions (vending.invocation_logging);
                    nothing else (the vend's functions log in the platform account)
    budget          vend-monthly-spend (made when the layout gives the team a budget)
    scp_attachment  SCPs attached to the account itself that the record does not list
    tagged_resource every resource the Resource Groups Tagging API lists in a service none of the kinds above
                    inventories (EC2, SageMaker, EKS, Lambda, SQS, SNS...): what the cost-tag SCPs cover cannot be
                    made without the mandatory tags, so the tagging API lists it.

What the account's Terraform states record (every resource instance of every state object in the state bucket) is the
request's too, of every kind but `iam_user`: a stack's role, bucket, key, alias, table, log group, budget, inline or
attached role policy, or tagged resource is owned, named from its `arn` (and, for role policies, its role and name).
What a stack made and its state no longer knows, or what was made by hand, is an orphan of its kind.

The regional kinds (KMS, DynamoDB, log groups) are listed in every region of the layout's allow-list, named
`<region>:<name>`: a resource left in a region the team does not use is an orphan too.

Organization-wide: SCPs created during the run that are attached to nothing (`scp_policy`), SCP attachments on OUs
made during the run (`scp_ou_attachment`), accounts no READY record owns (`account`), executions still running,
records not READY, pipeline runs still QUEUED/RUNNING, and the spend fence's Budgets backstops in the management
account (`backstop_budget`: a `vend-backstop-<account>` budget, with its actions, of an account no READY record owns:
a retirement must delete it).

This is an emulator/benchmark tool (it lists whole accounts); the audit (vending.guardrails) is the production check.
Not covered: untagged resources of the other kinds (a create the cost-tag SCPs do not cover can leave one the tagging
API does not list). Service-linked roles AWS makes on a stack's behalf are named as `iam_role` orphans: no state
records them.
"""

from __future__ import annotations

import json
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
    STATE_KEY_TAG,
    state_bucket_name,
)
from vending.budgets import BACKSTOP_PREFIX, BUDGET_NAME
from vending.invocation_logging import LOG_GROUP as INVOCATION_LOG_GROUP
from vending.invocation_logging import ROLE_NAME as INVOCATION_LOGGING_ROLE
from vending.lifecycle import RequestRecord
from vending.trust import PLAN_ROLE_NAME
from vending.usage_forwarding import POLICY_NAME as FORWARDING_POLICY
from vending.usage_forwarding import ROLE_NAME as FORWARDING_ROLE

SCP = "SERVICE_CONTROL_POLICY"
ACCOUNT_KINDS = (
    "bucket",
    "iam_role",
    "iam_policy",
    "iam_user",
    "oidc_provider",
    "role_policy",
    "kms_key",
    "kms_key_pending_deletion",
    "kms_alias",
    "dynamodb_table",
    "log_group",
    "budget",
    "scp_attachment",
    "tagged_resource",
)
# Services whose resources the kinds above inventory by their own APIs; the tagging API's answer for them is left out.
_INVENTORIED_SERVICES = frozenset({"s3", "iam", "kms", "dynamodb", "logs", "budgets", "organizations"})
# The policies vending.bootstrap puts on the roles it makes, and the access role's (Organizations makes it).
ROLE_POLICIES = (
    f"{PLAN_ROLE_NAME}:inline:PlanReadOnly",
    f"{CI_ROLE_NAME}:inline:Workloads",
    f"{CI_ROLE_NAME}:inline:ManageBoundedRoles",
    f"{INVOCATION_LOGGING_ROLE}:inline:WriteInvocationLogs",
    f"{FORWARDING_ROLE}:inline:{FORWARDING_POLICY}",
)
ACCESS_ROLE_POLICIES = ("inline:AdministratorAccess", "attached:arn:aws:iam::aws:policy/AdministratorAccess")


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    # .get: a page with nothing on it may leave the key out (S3's ListObjectsV2 omits Contents)
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def all_regions() -> tuple[str, ...]:
    from vending.layout import cached_layout

    return tuple(cached_layout().organization.allowed_regions)


def inventory(member: boto3.Session, org: Any, account_id: str, regions: Iterable[str]) -> dict[str, set[str]]:
    """Every resource of the kinds above in the account, by kind (names or ids; regional ones `<region>:<name>`)."""
    iam = member.client("iam")
    found: dict[str, set[str]] = {kind: set() for kind in ACCOUNT_KINDS}
    found["bucket"] = {b["Name"] for b in member.client("s3").list_buckets()["Buckets"]}
    found["iam_role"] = {r["RoleName"] for r in _pages(iam, "list_roles", "Roles")}
    for role in found["iam_role"]:
        found["role_policy"] |= {
            f"{role}:inline:{n}" for n in _pages(iam, "list_role_policies", "PolicyNames", RoleName=role)
        }
        found["role_policy"] |= {
            f"{role}:attached:{p['PolicyArn']}"
            for p in _pages(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role)
        }
    found["iam_policy"] = {p["PolicyName"] for p in _pages(iam, "list_policies", "Policies", Scope="Local")}
    found["iam_user"] = {u["UserName"] for u in _pages(iam, "list_users", "Users")}
    found["oidc_provider"] = {
        p["Arn"].rsplit("/", 1)[-1] if "oidc-provider/" in p["Arn"] else p["Arn"]
        for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    }
    for region in regions:
        kms = member.client("kms", region_name=region)
        for key in _pages(kms, "list_keys", "Keys"):
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") == "CUSTOMER":
                pending = meta.get("KeyState") == "PendingDeletion"
                found["kms_key_pending_deletion" if pending else "kms_key"].add(f"{region}:{key['KeyId']}")
        found["kms_alias"] |= {
            f"{region}:{a['AliasName']}"
            for a in _pages(kms, "list_aliases", "Aliases")
            if not a["AliasName"].startswith("alias/aws/")
        }
        ddb = member.client("dynamodb", region_name=region)
        found["dynamodb_table"] |= {f"{region}:{t}" for t in _pages(ddb, "list_tables", "TableNames")}
        logs = member.client("logs", region_name=region)
        found["log_group"] |= {
            f"{region}:{g['logGroupName']}" for g in _pages(logs, "describe_log_groups", "logGroups")
        }
        tagging = member.client("resourcegroupstaggingapi", region_name=region)
        found["tagged_resource"] |= {
            r["ResourceARN"]
            for r in _pages(tagging, "get_resources", "ResourceTagMappingList")
            if r["ResourceARN"].split(":")[2] not in _INVENTORIED_SERVICES
        }
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


def terraform_owned(s3: Any, bucket: str) -> dict[str, set[str]]:
    """What the account's Terraform states record, by orphan kind: every resource instance in every state object of
    the state bucket, named as inventory() names its kind (a stack's role, bucket, key, log group or inline policy
    is owned, not an orphan); an ARN of no kind above is a `tagged_resource`."""
    owned: dict[str, set[str]] = {kind: set() for kind in ACCOUNT_KINDS}
    try:
        keys = [
            o["Key"] for o in _pages(s3, "list_objects_v2", "Contents", Bucket=bucket) if o["Key"].endswith(".tfstate")
        ]
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return owned
        raise
    for key in keys:
        state = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        for resource in state.get("resources", []):
            for instance in resource.get("instances", []):
                for kind, name in state_names(resource.get("type", ""), instance.get("attributes") or {}):
                    owned[kind].add(name)
    return owned


def state_names(resource_type: str, attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of what one Terraform resource instance made, as inventory() names it."""
    names = []
    if resource_type == "aws_iam_role_policy" and attributes.get("role") and attributes.get("name"):
        names.append(("role_policy", f"{attributes['role']}:inline:{attributes['name']}"))
    if resource_type == "aws_iam_role_policy_attachment" and attributes.get("role") and attributes.get("policy_arn"):
        names.append(("role_policy", f"{attributes['role']}:attached:{attributes['policy_arn']}"))
    if resource_type == "aws_iam_role" and attributes.get("name"):
        role = attributes["name"]
        inline = [p["name"] for p in attributes.get("inline_policy") or [] if p.get("name")]
        names += [("role_policy", f"{role}:inline:{name}") for name in inline]
        names += [("role_policy", f"{role}:attached:{a}") for a in attributes.get("managed_policy_arns") or []]
    if isinstance(arn := attributes.get("arn"), str) and arn:
        names.append(arn_name(arn))
    return names


# ARN resource prefixes of the inventoried kinds: (service, prefix) -> (kind, regional)
_ARN_KINDS = {
    ("iam", "role/"): ("iam_role", False),
    ("iam", "policy/"): ("iam_policy", False),
    ("iam", "user/"): ("iam_user", False),
    ("iam", "oidc-provider/"): ("oidc_provider", False),
    ("kms", "key/"): ("kms_key", True),
    ("kms", "alias/"): ("kms_alias", True),
    ("dynamodb", "table/"): ("dynamodb_table", True),
    ("logs", "log-group:"): ("log_group", True),
    ("budgets", "budget/"): ("budget", False),
}


def arn_name(arn: str) -> tuple[str, str]:
    """The orphan kind and name an ARN stands for (`arn:aws:kms:us-east-1:1:key/k` -> kms_key `us-east-1:k`);
    (`tagged_resource`, the ARN) when it is of no inventoried kind."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "tagged_resource", arn
    service, region, resource = parts[2], parts[3], parts[5]
    if service == "s3" and resource and "/" not in resource:
        return "bucket", resource
    for (svc, prefix), (kind, regional) in _ARN_KINDS.items():
        if service == svc and resource.startswith(prefix):
            rest = resource[len(prefix) :]
            if kind == "log_group":
                rest = rest.removesuffix(":*")
            elif kind == "kms_alias":
                rest = resource  # inventory names an alias with its `alias/` prefix
            elif kind in ("iam_role", "iam_policy", "iam_user"):
                rest = rest.rsplit("/", 1)[-1]  # the path is not part of the name
            return kind, f"{region}:{rest}" if regional else rest
    return "tagged_resource", arn


def expected(record: RequestRecord, member: boto3.Session, *, access_role_name: str) -> dict[str, set[str]]:
    """What the READY request owns in its account."""
    account_id = record.account_id or ""
    region = record.request["regions"][0]
    kms = member.client("kms", region_name=region)
    try:
        state_key = {f"{region}:{kms.describe_key(KeyId=STATE_KEY_ALIAS)['KeyMetadata']['KeyId']}"}
    except ClientError:
        state_key = set()  # no alias: every live key is an orphan
    # Bootstrap's cleanup of a twin a retried CreateKey made (vending.bootstrap.ensure_state_key): tagged as the state
    # key, in the home region, scheduled for deletion. Any other key pending deletion is counted.
    twins = {
        f"{region}:{key['KeyId']}"
        for key in _pages(kms, "list_keys", "Keys")
        if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"].get("KeyState") == "PendingDeletion"
        and STATE_KEY_TAG in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
    }
    bucket = record.state_bucket or state_bucket_name(account_id, region)
    bootstrapped = {
        "bucket": {bucket},
        "iam_role": {access_role_name, CI_ROLE_NAME, PLAN_ROLE_NAME, INVOCATION_LOGGING_ROLE, FORWARDING_ROLE},
        "role_policy": {*ROLE_POLICIES, *(f"{access_role_name}:{p}" for p in ACCESS_ROLE_POLICIES)},
        "iam_policy": {BOUNDARY_NAME},
        "iam_user": set(),
        "oidc_provider": {GITHUB_OIDC_HOST},
        "kms_key": state_key,
        "kms_key_pending_deletion": twins,
        "kms_alias": {f"{region}:{STATE_KEY_ALIAS}"},
        "dynamodb_table": set(),
        "log_group": {f"{r}:{INVOCATION_LOG_GROUP}" for r in record.request["regions"]},
        "budget": {BUDGET_NAME},
        "scp_attachment": set(record.scps),
    }
    # What the team's stacks made is the request's too, of whatever kind (their states, in the state bucket)
    stacks = terraform_owned(member.client("s3"), bucket)
    stacks["iam_user"] = set()  # never owned: the design forbids IAM users, whoever made one
    return {kind: bootstrapped.get(kind, set()) | stacks[kind] for kind in ACCOUNT_KINDS}


def account_orphans(
    record: RequestRecord,
    *,
    sts: Any,
    org: Any,
    access_role_name: str,
    regions: Iterable[str] | None = None,
) -> dict[str, list[str]]:
    """Per kind, what the READY record's account holds beyond the request's expected set, in every region."""
    if not record.account_id:
        raise ValueError(f"{record.request_id}: a READY record without an account id")
    region = record.request["regions"][0]
    member = assume_role_session(sts, access_role_arn(record.account_id, access_role_name), "orphan-inventory", region)
    found = inventory(member, org, record.account_id, all_regions() if regions is None else regions)
    owned = expected(record, member, access_role_name=access_role_name)
    return {kind: sorted(found[kind] - owned[kind]) for kind in ACCOUNT_KINDS if found[kind] - owned[kind]}


def orphan_backstops(budgets: Any, management_account_id: str, owned_accounts: Iterable[str]) -> list[str]:
    """The backstop budgets of the management account whose member account no READY record owns, each with its
    action count (`vend-backstop-<account> (1 action)`): what a retirement left behind."""
    owned = set(owned_accounts)
    left = []
    for budget in _pages_budgets(budgets, management_account_id):
        name = str(budget["BudgetName"])
        if not name.startswith(BACKSTOP_PREFIX) or name.removeprefix(BACKSTOP_PREFIX) in owned:
            continue
        try:
            actions = budgets.describe_budget_actions_for_budget(AccountId=management_account_id, BudgetName=name)
            count = len(actions.get("Actions", []))
        except ClientError:
            count = 0
        left.append(f"{name} ({count} action{'s' if count != 1 else ''})")
    return sorted(left)


def _pages_budgets(budgets: Any, account_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AccountId": account_id}
    while True:
        page = budgets.describe_budgets(**kwargs)
        found += page.get("Budgets", [])
        token = page.get("NextToken") or page.get("nextToken")
        if not token:
            return found
        kwargs["NextToken"] = token


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


def ou_scp_attachments(org: Any) -> set[str]:
    """Every SCP attachment on an OU (the root included), as `<target id>:<policy name>`."""
    found: set[str] = set()
    pending = [r["Id"] for r in _pages(org, "list_roots", "Roots")]
    while pending:
        target = pending.pop()
        found |= {
            f"{target}:{p['Name']}"
            for p in _pages(org, "list_policies_for_target", "Policies", TargetId=target, Filter=SCP)
        }
        pending += [
            ou["Id"]
            for ou in _pages(org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=target)
        ]
    return found


def new_ou_scp_attachments(org: Any, before: Iterable[str]) -> list[str]:
    """SCP attachments on OUs made since `before` was taken: the vend attaches SCPs to accounts, never to OUs."""
    return sorted(ou_scp_attachments(org) - set(before))


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
