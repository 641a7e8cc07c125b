"""Intended vs actual SCPs for the whole organization: findings, a plan of changes, and its execution.

The same comparison serves `vend guardrails apply` (reconcile_organization), the scheduled audit and its
`--remediate`, so that what the audit reports is exactly what reconcile fixes. AWS rules honoured here:
a target always keeps at least one SCP (attach first, then detach), never more than the per-target quota, and the
management account is never touched (SCPs do not apply to it anyway).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scps.render import FULL_AWS_ACCESS, GuardrailSet, render
from vending.guardrails.orgapi import Backoff
from vending.guardrails.snapshot import SCP, OrgSnapshot, read_snapshot, same_content
from vending.layout import STAGES, Layout

FINDING_TYPES = (
    "ou_missing",
    "policy_missing",
    "policy_drift",
    "missing_attachment",
    "unexpected_attachment",
    "full_aws_access_misplaced",
    "account_outside_managed_ou",
    "account_in_wrong_ou",
    "missing_account_tags",
)


@dataclass(frozen=True)
class Finding:
    type: str
    target: str  # "root", "ou:<path>", "account:<id>" or "policy:<name>"
    detail: str
    fixable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "target": self.target, "detail": self.detail, "fixable": self.fixable}


@dataclass(frozen=True)
class Action:
    kind: str  # enable_policy_type | create_ou | create_policy | update_policy | move_account | tag_account
    # | attach | detach | delete_policy
    target: str
    policy: str = ""
    data: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.data)
        return " ".join(x for x in (self.kind, self.policy, "->" if self.policy else "", self.target, extra) if x)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "policy": self.policy, **dict(self.data)}


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unfixable: list[str] = field(default_factory=list)
    executed: bool = False

    @property
    def changes(self) -> int:
        return len(self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {"changes": self.changes, "executed": self.executed, "actions": [a.to_dict() for a in self.actions],
                "unfixable": self.unfixable, "findings": [f.to_dict() for f in self.findings]}


# --- intended state ------------------------------------------------------------------------------------------


def _email_regex(pattern: str) -> re.Pattern[str]:
    escaped = re.escape(pattern).replace(r"\{team\}", "(?P<team>[a-z0-9-]+?)").replace(
        r"\{stage\}", "(?P<stage>" + "|".join(STAGES) + ")")
    return re.compile(f"^{escaped}$", re.IGNORECASE)


@dataclass(frozen=True)
class AccountIntent:
    ou_path: str | None  # None: cannot be told from tags or e-mail
    team_account: bool
    tier: str | None
    tags: dict[str, str]  # the tags it should carry (actual where valid, else inferred)
    missing: tuple[str, ...]  # mandatory keys absent or invalid
    uninferable: tuple[str, ...]  # of those, the ones nothing tells us


def account_intent(layout: Layout, account: Any, current_path: str | None) -> AccountIntent:
    g = layout.guardrails
    keys = layout.tag_keys()
    if current_path in g.non_team_ous:
        return AccountIntent(current_path, False, None, dict(account.tags), (), ())
    valid = {k: v for k, v in account.tags.items() if k in keys and v}
    if valid.get("stage") not in STAGES:
        valid.pop("stage", None)
    if valid.get(g.gpu_tier_tag) not in layout.gpu_tiers:
        valid.pop(g.gpu_tier_tag, None)
    inferred: dict[str, str] = {}
    match = _email_regex(layout.organization.account_email_pattern).match(account.email or "")
    if match:
        inferred.update(team=match["team"].lower(), stage=match["stage"].lower())
    team = layout.team(valid.get("team") or inferred.get("team", ""))
    if team:
        inferred.update({"cost-center": team.cost_center, g.gpu_tier_tag: team.gpu_tier})
    tags = {k: valid.get(k) or inferred.get(k, "") for k in keys}
    missing = tuple(k for k in keys if k not in valid)
    uninferable = tuple(k for k in missing if not tags[k])
    stage = tags.get("stage")
    path = layout.ou_for_stage(stage) if stage in STAGES else None
    tier = tags.get(g.gpu_tier_tag) or "none"  # unknown tier: the most restrictive one
    return AccountIntent(path, True, tier, {k: v for k, v in tags.items() if v}, missing, uninferable)


# --- comparison ----------------------------------------------------------------------------------------------


def _order_target(current: set[str], desired: set[str], limit: int,
                  detachable: Callable[[str], bool]) -> tuple[list[tuple[str, str]], list[str]]:
    """Attach/detach steps that never leave the target empty and never exceed the quota."""
    steps: list[tuple[str, str]] = []
    problems: list[str] = []
    now = set(current)
    to_attach = sorted(desired - now)
    to_detach = sorted(n for n in now - desired if detachable(n))
    # Make room first only when the quota demands it, and never down to zero.
    while to_attach and len(now) + 1 > limit and to_detach and len(now) > 1:
        name = to_detach.pop(0)
        steps.append(("detach", name))
        now.discard(name)
    for name in to_attach:
        if len(now) + 1 > limit:
            problems.append(f"cannot attach {name}: {len(now)} SCPs attached, quota {limit}")
            continue
        steps.append(("attach", name))
        now.add(name)
    for name in to_detach:
        if len(now) <= 1:
            problems.append(f"cannot detach {name}: it is the last SCP (AWS requires one)")
            continue
        steps.append(("detach", name))
        now.discard(name)
    return steps, problems


def compare(layout: Layout, snap: OrgSnapshot, rendered: GuardrailSet | None = None) -> Plan:
    """Findings (what differs) and the actions that fix what can be fixed."""
    r = rendered or render(layout)
    plan = Plan()
    add = plan.findings.append
    limit = r.max_policies_per_target
    if not snap.scp_enabled:
        plan.actions.append(Action("enable_policy_type", "root", data=(("type", SCP),)))
    ou_ids = snap.ou_ids
    for ou in sorted(layout.ous, key=lambda o: o.path.count("/")):
        if ou.path not in ou_ids:
            add(Finding("ou_missing", f"ou:{ou.path}", "declared in the layout, absent from the organization"))
            plan.actions.append(Action("create_ou", f"ou:{ou.path}"))
    for name, policy in sorted(r.policies.items()):
        actual = snap.policies.get(name)
        if actual is None:
            add(Finding("policy_missing", f"policy:{name}", f"rendered ({policy.chars} chars), not in the org"))
            plan.actions.append(Action("create_policy", f"policy:{name}", name))
        elif not same_content(actual.content, policy.content):
            add(Finding("policy_drift", f"policy:{name}", "content differs from the rendered policy"))
            plan.actions.append(Action("update_policy", f"policy:{name}", name))

    # Desired attachments per target key.
    desired: dict[str, set[str]] = {"root": {FULL_AWS_ACCESS}}
    target_ids: dict[str, str] = {"root": snap.root_id}
    for ou in layout.ous:
        key = f"ou:{ou.path}"
        desired[key] = set(r.ou_policies.get(ou.path, ()))
        if ou.path not in r.no_full_aws_access:
            desired[key].add(FULL_AWS_ACCESS)
        if ou.path in ou_ids:
            target_ids[key] = ou_ids[ou.path]
    managed_paths = {ou.path for ou in layout.ous}
    moves: list[Action] = []
    for account in sorted(snap.accounts.values(), key=lambda a: a.id):
        key = f"account:{account.id}"
        target_ids[key] = account.id
        path = snap.ou_paths.get(account.parent_id)
        managed_here = path in managed_paths
        intent = account_intent(layout, account, path if managed_here else None)
        if not managed_here:
            where = "the root" if account.parent_id == snap.root_id else f"unmanaged OU {path or account.parent_id}"
            fix = intent.ou_path is not None
            add(Finding("account_outside_managed_ou", key, f"in {where}; belongs in {intent.ou_path or '?'}", fix))
        elif intent.team_account and intent.ou_path and intent.ou_path != path:
            add(Finding("account_in_wrong_ou", key, f"in {path}; stage {intent.tags.get('stage')} belongs in "
                                                    f"{intent.ou_path}"))
        if intent.ou_path and intent.ou_path != path and (intent.team_account or not managed_here):
            moves.append(Action("move_account", key, data=(("from", path or "root"), ("to", intent.ou_path))))
        elif not managed_here:
            plan.unfixable.append(f"{key}: outside managed OUs and its stage cannot be told from tags or e-mail")
        if intent.missing:
            fix = not intent.uninferable
            add(Finding("missing_account_tags", key, f"missing or invalid: {', '.join(intent.missing)}", fix))
            if fix:
                moves.append(Action("tag_account", key, data=tuple((k, intent.tags[k]) for k in intent.missing)))
            else:
                plan.unfixable.append(f"{key}: cannot infer tags {', '.join(intent.uninferable)}")
        desired[key] = {FULL_AWS_ACCESS} | ({r.tier_policies[intent.tier]} if intent.team_account and intent.tier
                                             else set())
    plan.actions += moves

    attachments = snap.attachments()
    for key in sorted(desired, key=lambda k: (not k.startswith(("root", "ou:")), k)):
        current = attachments.get(target_ids.get(key, ""), set()) if key in target_ids else (
            {FULL_AWS_ACCESS} if key.startswith("ou:") else set())  # a new OU arrives with FullAWSAccess
        want = desired[key]
        if key not in target_ids:  # an OU still to be created: its ou_missing finding says it all
            steps, problems = _order_target(current, want, limit, lambda _n: True)
            plan.actions += [Action(kind, key, name) for kind, name in steps]
            continue
        for name in sorted(want - current):
            add(Finding("missing_attachment", key, name))
        for name in sorted(current - want):
            if name == FULL_AWS_ACCESS and key.startswith("ou:") and key[3:] in r.no_full_aws_access:
                add(Finding("full_aws_access_misplaced", key, "FullAWSAccess attached where the layout forbids it"))
            else:
                add(Finding("unexpected_attachment", key, name))
        steps, problems = _order_target(current, want, limit, lambda _n: True)
        plan.actions += [Action(kind, key, name) for kind, name in steps]
        plan.unfixable += [f"{key}: {p}" for p in problems]
    for name, existing in sorted(snap.policies.items()):
        if r.owns(name) and name not in r.policies and not existing.aws_managed:  # stale: no longer rendered
            plan.actions.append(Action("delete_policy", f"policy:{name}", name))
    return plan


# --- execution -----------------------------------------------------------------------------------------------


class Executor:
    """Runs a plan's actions in order, resolving OU, policy and target ids as they come into existence."""

    def __init__(self, org: Any, layout: Layout, snap: OrgSnapshot, rendered: GuardrailSet, backoff: Backoff) -> None:
        self.org, self.layout, self.snap, self.r, self.b = org, layout, snap, rendered, backoff
        self.ou_ids = dict(snap.ou_ids)
        self.policy_ids = {name: p.id for name, p in snap.policies.items()}
        self.done: list[str] = []

    def target_id(self, key: str) -> str:
        if key == "root":
            return self.snap.root_id
        kind, _, rest = key.partition(":")
        return self.ou_ids[rest] if kind == "ou" else rest

    def run(self, actions: list[Action]) -> list[str]:
        for action in actions:
            getattr(self, f"_{action.kind}")(action)
            self.done.append(action.describe())
        return self.done

    def _enable_policy_type(self, action: Action) -> None:
        enable_scps(self.org, self.snap.root_id, self.b)

    def _create_ou(self, action: Action) -> None:
        path = action.target[3:]
        parent_path, _, name = path.rpartition("/")
        parent = self.ou_ids[parent_path] if parent_path else self.snap.root_id
        created = self.b.call(self.org.create_organizational_unit, f"CreateOrganizationalUnit {path}",
                              ParentId=parent, Name=name)
        self.ou_ids[path] = created["OrganizationalUnit"]["Id"]

    def _create_policy(self, action: Action) -> None:
        p = self.r.policies[action.policy]
        out = self.b.call(self.org.create_policy, f"CreatePolicy {p.name}", Name=p.name, Description=p.description,
                          Type=SCP, Content=p.content)
        self.policy_ids[p.name] = out["Policy"]["PolicySummary"]["Id"]

    def _update_policy(self, action: Action) -> None:
        p = self.r.policies[action.policy]
        self.b.call(self.org.update_policy, f"UpdatePolicy {p.name}", PolicyId=self.policy_ids[p.name],
                    Description=p.description, Content=p.content)

    def _delete_policy(self, action: Action) -> None:
        self.b.call(self.org.delete_policy, f"DeletePolicy {action.policy}", PolicyId=self.policy_ids[action.policy])

    def _move_account(self, action: Action) -> None:
        account = self.snap.accounts[action.target.partition(":")[2]]
        dest = self.ou_ids[dict(action.data)["to"]]
        self.b.call(self.org.move_account, f"MoveAccount {account.id}", AccountId=account.id,
                    SourceParentId=account.parent_id, DestinationParentId=dest)

    def _tag_account(self, action: Action) -> None:
        self.b.call(self.org.tag_resource, f"TagResource {action.target}", ResourceId=self.target_id(action.target),
                    Tags=[{"Key": k, "Value": v} for k, v in action.data])

    def _attach(self, action: Action) -> None:
        self.b.call(self.org.attach_policy, f"AttachPolicy {action.policy}", PolicyId=self.policy_ids[action.policy],
                    TargetId=self.target_id(action.target))

    def _detach(self, action: Action) -> None:
        self.b.call(self.org.detach_policy, f"DetachPolicy {action.policy}", PolicyId=self.policy_ids[action.policy],
                    TargetId=self.target_id(action.target))


def enable_scps(org: Any, root_id: str, backoff: Backoff) -> bool:
    from botocore.exceptions import ClientError

    from vending.aws.errors import error_code

    try:
        backoff.call(org.enable_policy_type, "EnablePolicyType", RootId=root_id, PolicyType=SCP)
        return True
    except ClientError as e:
        if error_code(e) == "PolicyTypeAlreadyEnabledException":
            return False
        raise


def reconcile_organization(org: Any, layout: Layout, *, dry_run: bool, backoff: Backoff | None = None,
                           snapshot: OrgSnapshot | None = None) -> Plan:
    """Make every managed OU and account match the intended map (idempotent: a second run plans nothing)."""
    b = backoff or Backoff()
    rendered = render(layout)
    snap = snapshot or read_snapshot(org, backoff=b, concurrency=layout.guardrails.audit_concurrency)
    plan = compare(layout, snap, rendered)
    if not dry_run and plan.actions:
        Executor(org, layout, snap, rendered, b).run(plan.actions)
        plan.executed = True
    return plan
