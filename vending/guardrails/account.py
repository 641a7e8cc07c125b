"""ApplyGuardrails for one new account: the cheap, targeted reconcile the vending state machine calls."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from scps.render import FULL_AWS_ACCESS, GuardrailSet, render
from vending.exceptions import InvalidRequest
from vending.guardrails.orgapi import Backoff, create_policy
from vending.guardrails.reconcile import _order_target, enable_scps
from vending.guardrails.snapshot import SCP, same_content
from vending.guardrails.tag_policies import apply_account_tag_policies
from vending.layout import Layout
from vending.org_tree import ensure_ou_path


class GuardrailResult(BaseModel):
    """What ApplyGuardrails leaves behind for one account."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    team: str
    stage: str
    gpu_tier: str
    ou_path: str
    ou_id: str
    # Every SCP that now governs the account: the root's, each OU's on its path and the account's own.
    policies: tuple[str, ...]
    # What this call changed ("create_policy vend-gpu-none", "attach vend-gpu-none -> 111122223333", ...).
    changes: tuple[str, ...] = ()
    # False when the account is not (yet) in the stage OU: PlaceInOu owns that move, the audit reports it.
    in_expected_ou: bool = True

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _policy_ids(org: Any, b: Backoff) -> dict[str, str]:
    return {p["Name"]: p["Id"] for p in b.pages(org, "list_policies", "Policies", Filter=SCP)}


def _ensure_policies(org: Any, r: GuardrailSet, names: list[str], b: Backoff, changes: list[str]) -> dict[str, str]:
    ids = _policy_ids(org, b)
    for name in names:
        p = r.policies[name]
        if name not in ids:
            ids[name] = create_policy(b, org, name=name, policy_type=SCP, content=p.content, description=p.description)
            changes.append(f"create_policy {name}")
            continue
        current = b.call(org.describe_policy, f"DescribePolicy {name}", PolicyId=ids[name])["Policy"]["Content"]
        if not same_content(current, p.content):
            b.call(
                org.update_policy,
                f"UpdatePolicy {name}",
                PolicyId=ids[name],
                Description=p.description,
                Content=p.content,
            )
            changes.append(f"update_policy {name}")
    return ids


def _attached(org: Any, target: str, b: Backoff) -> dict[str, str]:
    return {
        p["Name"]: p["Id"] for p in b.pages(org, "list_policies_for_target", "Policies", TargetId=target, Filter=SCP)
    }


def _sync(
    org: Any,
    r: GuardrailSet,
    target: str,
    desired: set[str],
    ids: dict[str, str],
    b: Backoff,
    changes: list[str],
    *,
    forbid_full_access: bool,
    keep: frozenset[str],
    fail_closed: bool,
) -> None:
    """Attach what is missing; detach only our own stale policies (and FullAWSAccess where the layout forbids it).
    Foreign policies are left to the org-wide reconcile, which reports them; `keep` are ours but not this step's to
    remove (the spend freeze: only an approved thaw lifts it). `fail_closed`: on a full target, FullAWSAccess goes
    first and comes back last, so a swap that must detach before it attaches never leaves a deny off while anything
    is allowed (as the org-wide reconcile orders an account's)."""
    current = _attached(org, target, b)
    ids = {**ids, **current}

    def ours(name: str) -> bool:
        return (r.owns(name) and name not in keep) or (name == FULL_AWS_ACCESS and forbid_full_access)

    steps, problems = _order_target(set(current), desired, r.max_policies_per_target, ours, fail_closed=fail_closed)
    if problems:
        from vending.exceptions import GuardrailLimitExceeded

        raise GuardrailLimitExceeded(f"target {target}: {'; '.join(problems)}")
    for kind, name in steps:
        fn = org.attach_policy if kind == "attach" else org.detach_policy
        b.call(fn, f"{kind} {name} {target}", PolicyId=ids[name], TargetId=target)
        changes.append(f"{kind} {name} -> {target}")


def _governing(org: Any, account_id: str, b: Backoff) -> tuple[list[str], list[str]]:
    """Walk from the account up to the root; the names of every SCP attached on the way, and the OU ids passed."""
    names: set[str] = set(_attached(org, account_id, b))
    chain: list[str] = []
    child = account_id
    while True:
        parent = b.call(org.list_parents, f"ListParents {child}", ChildId=child)["Parents"][0]
        names |= set(_attached(org, parent["Id"], b))
        if parent["Type"] == "ROOT":
            return sorted(names), chain
        chain.append(parent["Id"])
        child = parent["Id"]


def apply_account_guardrails(
    org: Any, layout: Layout, *, account_id: str, team: str, stage: str, gpu_tier: str, backoff: Backoff | None = None
) -> GuardrailResult:
    """Ensure SCPs are enabled, the policies exist with current content, the stage OU path carries its OU-level
    policies and the account its GPU tier policy. Idempotent; throttling surfaces as OrganizationsThrottled."""
    b = backoff or Backoff(attempts=4)
    r = render(layout)
    if gpu_tier not in r.tier_policies:
        raise InvalidRequest(f"unknown GPU tier {gpu_tier!r}; the layout has {sorted(r.tier_policies)}")
    org_info = b.call(org.describe_organization, "DescribeOrganization")["Organization"]
    if account_id == org_info["MasterAccountId"]:
        raise InvalidRequest("guardrails are never applied to the management account")
    changes: list[str] = []
    root = b.call(org.list_roots, "ListRoots")["Roots"][0]
    if not any(t["Type"] == SCP and t["Status"] == "ENABLED" for t in root.get("PolicyTypes", [])) and enable_scps(
        org, root["Id"], b
    ):
        changes.append(f"enable_policy_type {SCP}")
    ou_path = layout.ou_for_stage(stage)
    parts = ou_path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    # The account's own SCPs: its tier's and, where the layout renders one, its team's (regions, team tag).
    own = [r.tier_policies[gpu_tier], *([name] if (name := r.team_policy(team, stage)) else [])]
    needed = [n for p in prefixes for n in r.ou_policies.get(p, ())] + own
    ids = _ensure_policies(org, r, needed, b, changes)
    for prefix in prefixes:  # never empty: a layout's stage OU path has at least one part
        ou_id = ensure_ou_path(org, prefix)
        want = set(r.ou_policies.get(prefix, ()))
        forbid = prefix in r.no_full_aws_access
        if not forbid:
            want.add(FULL_AWS_ACCESS)
        _sync(org, r, ou_id, want, ids, b, changes, forbid_full_access=forbid, keep=frozenset(), fail_closed=False)
    # A freeze stays through a change or a re-run of the vend: the fence attached it, only a thaw detaches it. A tier
    # change on a full account fails closed: the old tier's deny never comes off while FullAWSAccess allows.
    _sync(
        org,
        r,
        account_id,
        {FULL_AWS_ACCESS, *own},
        ids,
        b,
        changes,
        forbid_full_access=False,
        keep=frozenset({r.freeze_policy}),
        fail_closed=True,
    )
    changes += apply_account_tag_policies(org, r, b, root=root, ou_id=ou_id, account_id=account_id, team=team)
    policies, chain = _governing(org, account_id, b)
    return GuardrailResult(
        account_id=account_id,
        team=team,
        stage=stage,
        gpu_tier=gpu_tier,
        ou_path=ou_path,
        ou_id=ou_id,
        policies=tuple(policies),
        changes=tuple(changes),
        in_expected_ou=bool(chain) and chain[0] == ou_id,
    )
