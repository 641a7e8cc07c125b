"""Intended vs actual SCPs, OUs and account tags for the whole organization: findings, a plan, and its execution.

The same comparison serves `vend guardrails apply` (reconcile_organization), the scheduled audit and its
`--remediate`, so that what the audit reports is exactly what reconcile fixes. Intent comes from the layout and the
vending records (vending.guardrails.intent), never from an account's tags or OU. AWS rules honoured here: a target
always keeps at least one SCP (attach first, then detach), never more than the per-target quota, and the management
account is never touched (SCPs do not apply to it anyway).

Plans are ordered so that no step makes an account more permissive than both where it was and where it should be:
policy contents first, then every deny attachment, then OU moves, then FullAWSAccess (the allow) where it is
missing, then tags, and only then detachments and deletions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scps.render import FULL_AWS_ACCESS, GuardrailSet, render
from vending.guardrails.intent import (
    AccountIntent,
    OrgIntent,
    account_policies,
    build_intent,
    layout_for_records,
    quarantine_ou,
    workload_ous,
)
from vending.guardrails.orgapi import TAG_POLICY_DESCRIPTION, Backoff, create_policy, delete_policy
from vending.guardrails.snapshot import SCP, TAG_POLICY, OrgSnapshot, read_snapshot, same_content
from vending.guardrails.tag_policies import FINDING_TYPES as TAG_FINDING_TYPES
from vending.guardrails.tag_policies import compare_tag_policies
from vending.layout import Layout
from vending.lifecycle import RequestRecord

FINDING_TYPES = (
    "ou_missing",
    "policy_missing",
    "policy_drift",
    "unrendered_policy",
    "missing_attachment",
    "unexpected_attachment",
    "full_aws_access_misplaced",
    "account_outside_managed_ou",
    "team_account_outside_workloads",
    "account_in_wrong_ou",
    "unknown_account",
    "missing_account_tags",
    "tag_drift",
    "intent_conflict",
    "vended_account_missing",
    "gpu_outside_tier",
    # What the SCPs on an account's path let through vs what the intended ones do (vending.guardrails.effective):
    # a probe the actual policies allow and the intended ones deny. Found by the audit, with its cause among the above.
    "effective_permissions",
    # The spend fence (vending.budgets), checked inside each vended account by the audit (audit.budget_findings).
    "budget_missing",
    "budget_drift",
    "budget_unreadable",
    # vend-freeze on an account without a freeze record whose Budgets backstop action could not be read: kept there
    # (it may be the backstop's, not yet adopted by the fence), reported (vending.guardrails.audit.backstop_freezes).
    "backstop_unreadable",
    # Bedrock model-invocation logging (vending.invocation_logging), checked inside each vended account in each of its
    # regions: off, or pointing elsewhere (another log group or role, a modality not delivered, the group or role
    # changed), or not readable.
    "invocation_logging_off",
    "invocation_logging_drift",
    "invocation_logging_unreadable",
    # The live meter's usage forwarding (vending.usage_forwarding), checked inside each vended account: the rule missing
    # or not enabled in a region (off); its pattern, target, RoleArn or the role's trust or policy changed (drift).
    "usage_forwarding_off",
    "usage_forwarding_drift",
    "usage_forwarding_unreadable",
    # Organizations tag policies (vending.guardrails.tag_policies): enabled, current, attached where intended.
    *TAG_FINDING_TYPES,
    # Stacks whose plan-only pass (vending.pipeline.drift) found the account differing from the code and state, and
    # applied stacks whose last check did not answer (an unchecked stack is not a clean one).
    "stack_drift",
    "drift_unchecked",
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
    # | attach | detach | delete_policy, and the *_tag_policy counterparts (vending.guardrails.tag_policies)
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
    notes: list[str] = field(default_factory=list)  # worth knowing, not drift (quarantined accounts, skipped checks)
    executed: bool = False

    @property
    def changes(self) -> int:
        return len(self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "executed": self.executed,
            "actions": [a.to_dict() for a in self.actions],
            "unfixable": self.unfixable,
            "notes": self.notes,
            "findings": [f.to_dict() for f in self.findings],
        }


# --- comparison ----------------------------------------------------------------------------------------------


def _order_target(
    current: set[str], desired: set[str], limit: int, detachable: Callable[[str], bool], *, fail_closed: bool
) -> tuple[list[tuple[str, str]], list[str]]:
    """Attach/detach steps that never leave the target empty and never exceed the quota.

    When room must be made on a full target and `fail_closed` is set, FullAWSAccess (the allow) goes first and comes
    back last: for those few calls the target allows nothing, instead of briefly losing a deny it had or needs.
    """
    steps: list[tuple[str, str]] = []
    problems: list[str] = []
    now = set(current)
    # The allow goes on last: until then the target keeps failing closed.
    to_attach = sorted(desired - now, key=lambda n: (n == FULL_AWS_ACCESS, n))
    to_detach = sorted(n for n in now - desired if detachable(n))
    if (
        fail_closed
        and to_attach
        and to_detach
        and FULL_AWS_ACCESS in now
        and FULL_AWS_ACCESS in desired
        and len(now) + len(to_attach) > limit
        and len(now) > 1
    ):
        steps.append(("detach", FULL_AWS_ACCESS))
        now.discard(FULL_AWS_ACCESS)
        to_attach.append(FULL_AWS_ACCESS)
    for name in to_attach:
        # Make room only when the quota demands it, and never down to zero.
        while len(now) + 1 > limit and to_detach and len(now) > 1:
            gone = to_detach.pop(0)
            steps.append(("detach", gone))
            now.discard(gone)
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


def _split(steps: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Deny attachments (with the room they need) run first, before any move; attaching FullAWSAccess (an allow)
    waits until every deny is on and every account is where it belongs; the remaining detaches run last."""
    attaches = [i for i, (kind, name) in enumerate(steps) if kind == "attach"]
    denies = [i for i in attaches if steps[i][1] != FULL_AWS_ACCESS]
    first = denies[-1] + 1 if denies else 0
    second = attaches[-1] + 1 if attaches and attaches[-1] >= first else first
    return steps[:first], steps[first:second], steps[second:]


@dataclass
class _Phases:
    policies: list[Action] = field(default_factory=list)
    attach: list[Action] = field(default_factory=list)
    moves: list[Action] = field(default_factory=list)
    allow: list[Action] = field(default_factory=list)
    tags: list[Action] = field(default_factory=list)
    detach: list[Action] = field(default_factory=list)
    delete: list[Action] = field(default_factory=list)

    def all(self) -> list[Action]:
        return [*self.policies, *self.attach, *self.moves, *self.allow, *self.tags, *self.detach, *self.delete]

    def add(self, key: str, steps: list[tuple[str, str]]) -> None:
        early, allow, late = _split(steps)
        self.attach += [Action(kind, key, name) for kind, name in early]
        self.allow += [Action(kind, key, name) for kind, name in allow]
        self.detach += [Action(kind, key, name) for kind, name in late]


def _where(snap: OrgSnapshot, parent_id: str) -> str:
    return "the root" if parent_id == snap.root_id else f"OU {snap.ou_paths.get(parent_id) or parent_id}"


def _compare_account(
    layout: Layout, snap: OrgSnapshot, account: Any, intent: AccountIntent, plan: Plan, phases: _Phases
) -> bool:
    """Placement and tags of one known account. Returns whether its attachments may be changed."""
    key = f"account:{account.id}"
    add = plan.findings.append
    if intent.problem:
        add(Finding("intent_conflict", key, intent.problem, False))
        plan.unfixable.append(f"{key}: {intent.problem}")
        return False
    fix = not intent.in_flight
    path = snap.ou_paths.get(account.parent_id)
    managed = path in {ou.path for ou in layout.ous}
    if path != intent.ou_path:
        why = f"in {_where(snap, account.parent_id)}; {intent.source} puts it in {intent.ou_path}"
        if not managed:
            add(Finding("account_outside_managed_ou", key, why, fix))
        elif intent.team_account and path not in workload_ous(layout):
            add(Finding("team_account_outside_workloads", key, why, fix))
        else:
            add(Finding("account_in_wrong_ou", key, why, fix))
        if fix:
            phases.moves.append(Action("move_account", key, data=(("from", path or "root"), ("to", intent.ou_path))))
    if intent.team_account:
        missing, drift, restore = [], [], []
        for tag in layout.tag_keys():
            want, have = intent.tags.get(tag), account.tags.get(tag)
            if want is None:  # a mandatory key the record says nothing about: presence is all we can check
                if not have:
                    add(Finding("missing_account_tags", key, f"{tag}: absent; no record value to restore", False))
                    plan.unfixable.append(f"{key}: no value for tag {tag} in {intent.source}")
                continue
            if not have:
                missing.append(tag)
            elif have != want:
                drift.append(f"{tag}={have!r} ({intent.source} says {want!r})")
            else:
                continue
            restore.append((tag, want))
        if missing:
            add(Finding("missing_account_tags", key, f"missing: {', '.join(missing)}", fix))
        if drift:
            add(Finding("tag_drift", key, "; ".join(drift), fix))
        if restore and fix:
            phases.tags.append(Action("tag_account", key, data=tuple(restore)))
    if not fix:
        plan.unfixable.append(
            f"{key}: vending in progress ({intent.source}); the state machine owns it until ApplyGuardrails is done"
        )
    return fix


def compare(
    layout: Layout, snap: OrgSnapshot, rendered: GuardrailSet | None = None, intent: OrgIntent | None = None
) -> Plan:
    """Findings (what differs) and the actions that fix what can be fixed.

    Without an intent (no vending records) accounts are not compared at all: guessing what they are from their own
    tags is exactly what a team could exploit.
    """
    r = rendered or render(layout)
    org_intent = intent or OrgIntent({}, records_read=False)
    plan, phases = Plan(), _Phases()
    add = plan.findings.append
    limit = r.max_policies_per_target
    if not snap.scp_enabled:
        phases.policies.append(Action("enable_policy_type", "root", data=(("type", SCP),)))
    ou_ids = snap.ou_ids
    for ou in layout.ous:  # parents come first in the layout (validated), so creation order is right
        if ou.path not in ou_ids:
            add(Finding("ou_missing", f"ou:{ou.path}", "declared in the layout, absent from the organization"))
            phases.policies.append(Action("create_ou", f"ou:{ou.path}"))
    for name, policy in sorted(r.policies.items()):
        actual = snap.policies.get(name)
        if actual is None:
            add(Finding("policy_missing", f"policy:{name}", f"rendered ({policy.chars} chars), not in the org"))
            phases.policies.append(Action("create_policy", f"policy:{name}", name))
        elif not same_content(actual.content, policy.content):
            add(Finding("policy_drift", f"policy:{name}", "content differs from the rendered policy"))
            phases.policies.append(Action("update_policy", f"policy:{name}", name))

    def unrendered(name: str) -> bool:
        p = snap.policies.get(name)
        return r.owns(name) and name not in r.policies and not (p and p.aws_managed)

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
    parked = quarantine_ou(layout)
    attachments = snap.attachments()
    if not org_intent.records_read:
        plan.notes.append("accounts not compared: no vending records were given")
    for account in sorted(snap.accounts.values(), key=lambda a: a.id) if org_intent.records_read else []:
        key = f"account:{account.id}"
        path = snap.ou_paths.get(account.parent_id)
        known = org_intent.get(account.id)
        if known is None:
            if parked is not None and path == parked:
                plan.notes.append(f"{key}: unknown account, quarantined in {parked}")
            elif path in managed_paths and parked is not None:
                add(
                    Finding(
                        "unknown_account",
                        key,
                        f"in {_where(snap, account.parent_id)} with no vending record and "
                        f"not a platform account (e-mail {account.email or '?'}, tags "
                        f"{account.tags or {}}); quarantine in {parked}",
                    )
                )
                phases.moves.append(Action("move_account", key, data=(("from", path or "root"), ("to", parked))))
            else:
                add(
                    Finding(
                        "unknown_account",
                        key,
                        f"in {_where(snap, account.parent_id)} with no vending record and not a platform account",
                        False,
                    )
                )
                plan.unfixable.append(
                    f"{key}: unknown account outside the managed OUs; adopt it (a vending record) "
                    f"or move it to a managed OU to be quarantined"
                )
            continue
        if _compare_account(layout, snap, account, known, plan, phases):
            target_ids[key] = account.id
            desired[key] = account_policies(r, known)
            if org_intent.frozen is None and known.team_account and r.freeze_policy in attachments.get(account.id, ()):
                desired[key].add(r.freeze_policy)  # freezes not read: keep the freeze as it is, never thaw on a guess
    for account_id, known in sorted(org_intent.accounts.items()):
        if (
            account_id not in snap.accounts
            and account_id != snap.management_account_id
            and known.kind == "team"
            and not known.in_flight
            and not known.problem
        ):
            add(
                Finding(
                    "vended_account_missing",
                    f"account:{account_id}",
                    f"{known.source} names it, the organization has no such active member account",
                    False,
                )
            )
            plan.unfixable.append(f"account:{account_id}: vended ({known.source}) but not an active member")

    for key in sorted(desired, key=lambda k: (not k.startswith(("root", "ou:")), k)):
        want = desired[key]
        if key not in target_ids:  # an OU still to be created (it arrives with FullAWSAccess): ou_missing says it
            steps, problems = _order_target({FULL_AWS_ACCESS}, want, limit, lambda _n: True, fail_closed=False)
            phases.add(key, steps)
            continue
        current = attachments.get(target_ids[key], set())
        for name in sorted(want - current):
            add(Finding("missing_attachment", key, name))
        for name in sorted(current - want):
            if name == FULL_AWS_ACCESS and key.startswith("ou:") and key[3:] in r.no_full_aws_access:
                add(Finding("full_aws_access_misplaced", key, "FullAWSAccess attached where the layout forbids it"))
            elif not unrendered(name):  # those get one unrendered_policy finding naming every target
                add(Finding("unexpected_attachment", key, name))
        steps, problems = _order_target(current, want, limit, lambda _n: True, fail_closed=key.startswith("account:"))
        phases.add(key, steps)
        plan.unfixable += [f"{key}: {p}" for p in problems]

    keys_by_id = {v: k for k, v in target_ids.items()}
    for name, existing in sorted(snap.policies.items()):
        if not unrendered(name):
            continue
        where = sorted(keys_by_id.get(t) or _target_key(snap, t) for t in existing.targets)
        add(
            Finding(
                "unrendered_policy",
                f"policy:{name}",
                f"managed prefix {r.prefix!r} but not rendered from the layout; attached to {where or 'nothing'}",
            )
        )
        stuck = False
        for target in sorted(existing.targets):
            if target in keys_by_id:
                continue  # its detach is planned with the target's other attachments above
            if len(attachments.get(target, set())) <= 1:
                stuck = True
                plan.unfixable.append(f"{_target_key(snap, target)}: {name} is its only SCP; not replaced blindly")
                continue
            phases.detach.append(Action("detach", _target_key(snap, target), name))
        if not stuck and not any(f"{key}: cannot detach {name}" in u for u in plan.unfixable for key in where):
            phases.delete.append(Action("delete_policy", f"policy:{name}", name))
    if snap.tag_policies_read:
        compare_tag_policies(layout, snap, r, org_intent, plan, phases)
    plan.actions = phases.all()
    return plan


def _target_key(snap: OrgSnapshot, target_id: str) -> str:
    if target_id == snap.root_id:
        return "root"
    if target_id in snap.ou_paths:
        return f"ou:{snap.ou_paths[target_id]}"
    return f"account:{target_id}"


# --- execution -----------------------------------------------------------------------------------------------


class Executor:
    """Runs a plan's actions in order, resolving OU, policy and target ids as they come into existence."""

    def __init__(self, org: Any, layout: Layout, snap: OrgSnapshot, rendered: GuardrailSet, backoff: Backoff) -> None:
        self.org, self.layout, self.snap, self.r, self.b = org, layout, snap, rendered, backoff
        self.ou_ids = dict(snap.ou_ids)
        self.policy_ids = {name: p.id for name, p in snap.policies.items()}
        self.tag_policy_ids = {name: p.id for name, p in snap.tag_policies.items()}
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
        enable_policy_type(self.org, self.snap.root_id, self.b, dict(action.data)["type"])

    def _create_ou(self, action: Action) -> None:
        path = action.target[3:]
        parent_path, _, name = path.rpartition("/")
        parent = self.ou_ids[parent_path] if parent_path else self.snap.root_id
        created = self.b.call(
            self.org.create_organizational_unit, f"CreateOrganizationalUnit {path}", ParentId=parent, Name=name
        )
        self.ou_ids[path] = created["OrganizationalUnit"]["Id"]

    def _create_policy(self, action: Action) -> None:
        p = self.r.policies[action.policy]
        self.policy_ids[p.name] = create_policy(
            self.b, self.org, name=p.name, policy_type=SCP, content=p.content, description=p.description
        )

    def _update_policy(self, action: Action) -> None:
        p = self.r.policies[action.policy]
        self.b.call(
            self.org.update_policy,
            f"UpdatePolicy {p.name}",
            PolicyId=self.policy_ids[p.name],
            Description=p.description,
            Content=p.content,
        )

    def _delete_policy(self, action: Action) -> None:
        delete_policy(self.b, self.org, self.policy_ids[action.policy], SCP, f"DeletePolicy {action.policy}")

    def _move_account(self, action: Action) -> None:
        account = self.snap.accounts[action.target.partition(":")[2]]
        dest = self.ou_ids[dict(action.data)["to"]]
        self.b.call(
            self.org.move_account,
            f"MoveAccount {account.id}",
            AccountId=account.id,
            SourceParentId=account.parent_id,
            DestinationParentId=dest,
        )

    def _tag_account(self, action: Action) -> None:
        self.b.call(
            self.org.tag_resource,
            f"TagResource {action.target}",
            ResourceId=self.target_id(action.target),
            Tags=[{"Key": k, "Value": v} for k, v in action.data],
        )

    def _create_tag_policy(self, action: Action) -> None:
        self.tag_policy_ids[action.policy] = create_policy(
            self.b,
            self.org,
            name=action.policy,
            policy_type=TAG_POLICY,
            content=self.r.tag_policies[action.policy],
            description=TAG_POLICY_DESCRIPTION,
        )

    def _update_tag_policy(self, action: Action) -> None:
        self.b.call(
            self.org.update_policy,
            f"UpdatePolicy {action.policy}",
            PolicyId=self.tag_policy_ids[action.policy],
            Content=self.r.tag_policies[action.policy],
        )

    def _attach_tag_policy(self, action: Action) -> None:
        self.b.call(
            self.org.attach_policy,
            f"AttachPolicy {action.policy}",
            PolicyId=self.tag_policy_ids[action.policy],
            TargetId=self.target_id(action.target),
        )

    def _detach_tag_policy(self, action: Action) -> None:
        self.b.call(
            self.org.detach_policy,
            f"DetachPolicy {action.policy}",
            PolicyId=self.tag_policy_ids[action.policy],
            TargetId=self.target_id(action.target),
        )

    def _delete_tag_policy(self, action: Action) -> None:
        delete_policy(self.b, self.org, self.tag_policy_ids[action.policy], TAG_POLICY, f"DeletePolicy {action.policy}")

    def _attach(self, action: Action) -> None:
        self.b.call(
            self.org.attach_policy,
            f"AttachPolicy {action.policy}",
            PolicyId=self.policy_ids[action.policy],
            TargetId=self.target_id(action.target),
        )

    def _detach(self, action: Action) -> None:
        self.b.call(
            self.org.detach_policy,
            f"DetachPolicy {action.policy}",
            PolicyId=self.policy_ids[action.policy],
            TargetId=self.target_id(action.target),
        )


def enable_scps(org: Any, root_id: str, backoff: Backoff) -> bool:
    return enable_policy_type(org, root_id, backoff, SCP)


def enable_policy_type(org: Any, root_id: str, backoff: Backoff, policy_type: str) -> bool:
    """Enable a policy type at the root; False when it already was (a retry, or another writer first)."""
    from botocore.exceptions import ClientError

    from vending.aws.errors import error_code

    try:
        backoff.call(org.enable_policy_type, f"EnablePolicyType {policy_type}", RootId=root_id, PolicyType=policy_type)
        return True
    except ClientError as e:
        if error_code(e) == "PolicyTypeAlreadyEnabledException":
            return False
        raise


def reconcile_organization(
    org: Any,
    layout: Layout,
    *,
    dry_run: bool,
    backoff: Backoff | None = None,
    snapshot: OrgSnapshot | None = None,
    records: Iterable[RequestRecord] | None = None,
    frozen: Iterable[str] | None = None,
) -> Plan:
    """Make every managed OU, policy and (given the vending records) account match the intended map.

    Idempotent: a second run plans nothing. Without `records` only OUs and policies are reconciled. `frozen` (the
    freezes table's frozen account ids) makes `vend-freeze` intended exactly there; without it freezes stay as they
    are."""
    b = backoff or Backoff()
    record_list = list(records) if records is not None else None
    # Team region fences follow the records (a change request moves them), as in the audit.
    rendered = render(layout_for_records(layout, record_list) if record_list is not None else layout)
    snap = snapshot or read_snapshot(org, backoff=b, concurrency=layout.guardrails.audit_concurrency)
    plan = compare(layout, snap, rendered, build_intent(layout, record_list, frozen))
    if not dry_run and plan.actions:
        Executor(org, layout, snap, rendered, b).run(plan.actions)
        plan.executed = True
    return plan
