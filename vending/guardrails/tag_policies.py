"""Tag policies compared, reported and remediated like the SCPs (the documents come from scps/tag_policy.py).

Intended: the TAG_POLICY type enabled at the root; the org-wide `<prefix>tags` attached at every stage OU (where every
team account sits); each team's `<prefix>tags-<team>` attached at each of that team's accounts, from the vending
records (never from the account's own tags: a team that swaps its tags or another team's policy is a finding). Only
policies with the managed prefix are judged; a customer's own tag policies are left alone. Retired accounts, unknown
accounts and accounts still being vended are not judged here (the SCP comparison reports them).

Tag policies grant nothing, so their steps need no fail-closed ordering: policies are created or updated with the
SCPs, attached with the deny attachments and detached with the other detaches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vending.guardrails.orgapi import TAG_POLICY_DESCRIPTION, create_policy
from vending.guardrails.snapshot import TAG_POLICY, OrgSnapshot, same_content

if TYPE_CHECKING:
    from scps.render import GuardrailSet
    from vending.guardrails.intent import OrgIntent
    from vending.guardrails.orgapi import Backoff
    from vending.guardrails.reconcile import Plan, _Phases
    from vending.layout import Layout

FINDING_TYPES = (
    "tag_policies_disabled",
    "tag_policy_missing",
    "tag_policy_drift",
    "tag_policy_missing_attachment",
    "tag_policy_unexpected_attachment",
    "unrendered_tag_policy",
)


def desired_tag_attachments(
    layout: Layout, snap: OrgSnapshot, rendered: GuardrailSet, intent: OrgIntent
) -> dict[str, set[str]]:
    """Target key -> the managed tag policies it must carry (exactly). Targets absent from the map are not judged."""
    desired: dict[str, set[str]] = {"root": set()}
    stage_paths = set(layout.stage_ous.values())
    for ou in layout.ous:
        desired[f"ou:{ou.path}"] = {rendered.org_tag_policy} if ou.path in stage_paths else set()
    for account_id in snap.accounts:
        known = intent.get(account_id)
        if known is None or known.problem or known.in_flight or known.kind == "retired":
            continue
        own = rendered.team_tag_policies.get(known.team) if known.team_account else None
        desired[f"account:{account_id}"] = {own} if own else set()
    return desired


def compare_tag_policies(
    layout: Layout, snap: OrgSnapshot, rendered: GuardrailSet, intent: OrgIntent, plan: Plan, phases: _Phases
) -> None:
    """Add the tag-policy findings and the actions that fix them to `plan` and `phases` (see the module docstring)."""
    from vending.guardrails.reconcile import Action, Finding

    add = plan.findings.append
    if not snap.tag_policy_enabled:
        add(Finding("tag_policies_disabled", "root", "the TAG_POLICY policy type is not enabled at the root"))
        phases.policies.append(Action("enable_policy_type", "root", data=(("type", TAG_POLICY),)))
    for name, content in sorted(rendered.tag_policies.items()):
        actual = snap.tag_policies.get(name)
        if actual is None:
            add(Finding("tag_policy_missing", f"policy:{name}", f"rendered ({len(content)} chars), not in the org"))
            phases.policies.append(Action("create_tag_policy", f"policy:{name}", name))
        elif not same_content(actual.content, content):
            add(Finding("tag_policy_drift", f"policy:{name}", "content differs from the rendered tag policy"))
            phases.policies.append(Action("update_tag_policy", f"policy:{name}", name))

    def managed(name: str) -> bool:
        return rendered.owns(name) and not snap.tag_policies[name].aws_managed

    stale = sorted(n for n in snap.tag_policies if managed(n) and n not in rendered.tag_policies)
    target_ids = {"root": snap.root_id, **{f"ou:{path}": ou_id for path, ou_id in snap.ou_ids.items() if path}}
    target_ids.update({f"account:{a}": a for a in snap.accounts})
    keys_by_id = {v: k for k, v in target_ids.items()}
    attached: dict[str, set[str]] = {}
    for name, policy in snap.tag_policies.items():
        if managed(name):
            for target in policy.targets:
                attached.setdefault(keys_by_id.get(target, f"account:{target}"), set()).add(name)
    for key, want in sorted(desired_tag_attachments(layout, snap, rendered, intent).items()):
        have = attached.get(key, set())
        for name in sorted(want - have):
            add(Finding("tag_policy_missing_attachment", key, name))
            phases.attach.append(Action("attach_tag_policy", key, name))
        for name in sorted(have - want):
            if name not in stale:  # stale ones get one unrendered_tag_policy finding naming every target
                add(Finding("tag_policy_unexpected_attachment", key, name))
            phases.detach.append(Action("detach_tag_policy", key, name))
    for name in stale:
        where = sorted(keys_by_id.get(t, f"account:{t}") for t in snap.tag_policies[name].targets)
        add(
            Finding(
                "unrendered_tag_policy",
                f"policy:{name}",
                f"managed prefix {rendered.prefix!r} but not rendered from the layout; "
                f"attached to {where or 'nothing'}",
            )
        )
        judged = {a.target for a in phases.detach if a.kind == "detach_tag_policy" and a.policy == name}
        phases.detach += [Action("detach_tag_policy", key, name) for key in where if key not in judged]
        phases.delete.append(Action("delete_tag_policy", f"policy:{name}", name))


def apply_account_tag_policies(
    org: Any, r: GuardrailSet, b: Backoff, *, root: dict[str, Any], ou_id: str, account_id: str, team: str
) -> list[str]:
    """ApplyGuardrails' share for one new account: the type enabled, the org-wide tag policy current and on its stage
    OU, the team's own current and on the account (any other team's managed one taken off). Idempotent."""
    from vending.guardrails.reconcile import enable_policy_type

    changes: list[str] = []
    enabled = any(t["Type"] == TAG_POLICY and t["Status"] == "ENABLED" for t in root.get("PolicyTypes", []))
    if not enabled and enable_policy_type(org, root["Id"], b, TAG_POLICY):
        changes.append(f"enable_policy_type {TAG_POLICY}")
    own = r.team_tag_policies.get(team)
    ids = {p["Name"]: p["Id"] for p in b.pages(org, "list_policies", "Policies", Filter=TAG_POLICY)}
    for name in (r.org_tag_policy, *([own] if own else [])):
        content = r.tag_policies[name]
        if name not in ids:
            ids[name] = create_policy(
                b, org, name=name, policy_type=TAG_POLICY, content=content, description=TAG_POLICY_DESCRIPTION
            )
            changes.append(f"create_tag_policy {name}")
            continue
        current = b.call(org.describe_policy, f"DescribePolicy {name}", PolicyId=ids[name])["Policy"]["Content"]
        if not same_content(current, content):
            b.call(org.update_policy, f"UpdatePolicy {name}", PolicyId=ids[name], Content=content)
            changes.append(f"update_tag_policy {name}")
    for target, want in ((ou_id, r.org_tag_policy), (account_id, own)):
        have = {
            p["Name"]
            for p in b.pages(org, "list_policies_for_target", "Policies", TargetId=target, Filter=TAG_POLICY)
            if r.owns(p["Name"])
        }
        for name in sorted({want} - have if want else set()):
            b.call(org.attach_policy, f"AttachPolicy {name}", PolicyId=ids[name], TargetId=target)
            changes.append(f"attach_tag_policy {name} -> {target}")
        if target == account_id:  # a stage OU keeps whatever else is ours there: the org-wide reconcile judges it
            for name in sorted(have - {want}):
                b.call(org.detach_policy, f"DetachPolicy {name}", PolicyId=ids[name], TargetId=target)
                changes.append(f"detach_tag_policy {name} -> {target}")
    return changes
