"""One read of the organization as the guardrails see it, made policy-centric to keep API calls per account low.

Calls: DescribeOrganization, ListRoots, ListOrganizationalUnitsForParent per OU, ListAccountsForParent per OU
(20 accounts a page), ListPolicies, DescribePolicy per SCP other than FullAWSAccess (its content is known: AWS's
allow-all), ListTargetsForPolicy per SCP (20 targets a page) and ListTagsForResource per member account (tags have no
bulk read in Organizations); the same ListPolicies, DescribePolicy and ListTargetsForPolicy for tag policies.
No ListParents and no ListPoliciesForTarget per account: parents come from ListAccountsForParent, attachments
from ListTargetsForPolicy. The policy contents read here are all the effective-permission check needs: it makes no
calls of its own.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from scps.render import FULL_AWS_ACCESS
from vending.guardrails.orgapi import Backoff

SCP = "SERVICE_CONTROL_POLICY"
TAG_POLICY = "TAG_POLICY"


@dataclass
class Account:
    id: str
    name: str
    email: str
    parent_id: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Policy:
    id: str
    name: str
    aws_managed: bool
    content: str | None = None
    targets: set[str] = field(default_factory=set)


@dataclass
class OrgSnapshot:
    root_id: str
    management_account_id: str
    scp_enabled: bool
    ou_paths: dict[str, str]  # OU id -> path ("Workloads/Staging"); the root is ""
    accounts: dict[str, Account]  # member accounts only: the management account is never touched
    policies: dict[str, Policy]  # by name
    # Tag policies (vending.guardrails.tag_policies), read only when asked: compared only when read.
    tag_policies_read: bool = False
    tag_policy_enabled: bool = False
    tag_policies: dict[str, Policy] = field(default_factory=dict)

    @property
    def ou_ids(self) -> dict[str, str]:
        return {path: ou_id for ou_id, path in self.ou_paths.items()}

    def attached(self, target_id: str) -> set[str]:
        return {p.name for p in self.policies.values() if target_id in p.targets}

    def attachments(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for policy in self.policies.values():
            for target in policy.targets:
                out.setdefault(target, set()).add(policy.name)
        return out


def normalise(document: Any) -> Any:
    """Canonical form for drift checks: key order, list order, whitespace and 'x' vs ['x'] are not drift."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return document
        if isinstance(document, dict) and isinstance(document.get("Statement"), dict):
            document["Statement"] = [document["Statement"]]
    return _canon(document)


def _canon(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canon(v) for v in value]
        if len(items) == 1 and not isinstance(items[0], dict | list):
            return items[0]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    return value


def same_content(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and normalise(a) == normalise(b)


def read_snapshot(
    org: Any,
    *,
    backoff: Backoff | None = None,
    concurrency: int = 8,
    tags: bool = True,
    describe: bool = True,
    tag_policies: bool = True,
) -> OrgSnapshot:
    b = backoff or Backoff()
    management = b.call(org.describe_organization, "DescribeOrganization")["Organization"]["MasterAccountId"]
    root = b.call(org.list_roots, "ListRoots")["Roots"][0]
    enabled = {t["Type"] for t in root.get("PolicyTypes", []) if t["Status"] == "ENABLED"}
    scp_enabled = SCP in enabled
    ou_paths = {root["Id"]: ""}
    frontier = [root["Id"]]
    while frontier:  # breadth-first; each level's OUs are listed concurrently
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            levels = list(
                pool.map(
                    lambda parent: (
                        parent,
                        list(
                            b.pages(org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent)
                        ),
                    ),
                    frontier,
                )
            )
        frontier = []
        for parent, children in levels:
            for ou in children:
                prefix = ou_paths[parent]
                ou_paths[ou["Id"]] = f"{prefix}/{ou['Name']}" if prefix else ou["Name"]
                frontier.append(ou["Id"])

    def accounts_of(parent: str) -> list[Account]:
        return [
            Account(a["Id"], a.get("Name", ""), a.get("Email", ""), parent)
            for a in b.pages(org, "list_accounts_for_parent", "Accounts", ParentId=parent)
            if a.get("Status", "ACTIVE") == "ACTIVE" and a["Id"] != management
        ]

    policies: dict[str, Policy] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        accounts = {a.id: a for group in pool.map(accounts_of, list(ou_paths)) for a in group}
        # Listed even before SCPs are enabled: FullAWSAccess exists and is attached from the start.
        for p in b.pages(org, "list_policies", "Policies", Filter=SCP):
            policies[p["Name"]] = Policy(p["Id"], p["Name"], bool(p.get("AwsManaged")))

        def fill(policy: Policy) -> None:
            policy.targets = {
                t["TargetId"] for t in b.pages(org, "list_targets_for_policy", "Targets", PolicyId=policy.id)
            }
            # Contents feed the drift check and the effective-permission check (vending.guardrails.effective).
            if describe and not (policy.aws_managed and policy.name == FULL_AWS_ACCESS):
                policy.content = b.call(org.describe_policy, "DescribePolicy", PolicyId=policy.id)["Policy"]["Content"]

        list(pool.map(fill, list(policies.values())))
        tagged: dict[str, Policy] = {}
        if tag_policies:  # listed even while the type is disabled: a policy left from before is still ours to judge
            for p in b.pages(org, "list_policies", "Policies", Filter=TAG_POLICY):
                tagged[p["Name"]] = Policy(p["Id"], p["Name"], bool(p.get("AwsManaged")))
            list(pool.map(fill, list(tagged.values())))
        if tags:

            def tag(account: Account) -> None:
                account.tags = {
                    t["Key"]: t["Value"] for t in b.pages(org, "list_tags_for_resource", "Tags", ResourceId=account.id)
                }

            list(pool.map(tag, list(accounts.values())))
    return OrgSnapshot(
        root["Id"],
        management,
        scp_enabled,
        ou_paths,
        accounts,
        policies,
        tag_policies_read=tag_policies,
        tag_policy_enabled=TAG_POLICY in enabled,
        tag_policies=tagged,
    )
