"""What each account is meant to be, from the vending records and the layout; never from the account itself.

A team can rewrite its account's tags and (with enough rights in the management account) move it, so tags and OU
membership are observations the audit checks against this intent, never inputs to it. Sources:
- team accounts: the lifecycle store's request records (team, stage, GPU tier, cost center, regions, account id);
- platform accounts: `guardrails.platform_accounts` in the layout (account id -> non-team OU);
- retired accounts (a record in RETIRING/SUSPENDED/CLOSED): the quarantine OU;
- frozen accounts (a FROZEN item in the freezes table, vending.spend.freezes): the `vend-freeze` SCP on top.
Any other member account is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from scps.render import FULL_AWS_ACCESS, GuardrailSet
from vending.layout import Layout, TeamSpec
from vending.lifecycle import RequestRecord, RequestStore
from vending.request import request_id_for

# Statuses before ApplyGuardrails has finished: the state machine still owns placement, tags and SCPs.
IN_FLIGHT_STATUSES = frozenset({"PENDING", "CREATING", "PLACING", "GUARDRAILS"})
# Day-2 retirement (DESIGN.md): the account is parked in the quarantine OU, no longer a working team account.
RETIRED_STATUSES = frozenset({"RETIRING", "SUSPENDED", "CLOSED"})

Kind = Literal["team", "platform", "retired"]


@dataclass(frozen=True)
class AccountIntent:
    account_id: str
    kind: Kind
    ou_path: str
    source: str  # "record:<request id>" or "layout:platform_accounts"
    tier: str | None = None  # GPU tier policy attached to the account (team accounts only)
    tags: dict[str, str] = field(default_factory=dict)  # the values the account tags must carry
    regions: tuple[str, ...] = ()
    in_flight: bool = False
    problem: str = ""  # non-empty: no usable intent (conflicting or invalid records); reported, never acted on
    team: str = ""  # team accounts: the per-team policy (regions, team tag) comes with it
    stage: str = ""  # team accounts: which of the team's per-stage policies
    frozen: bool = False  # a freeze record stands (vending.spend.fence): the freeze SCP is part of the intent

    @property
    def team_account(self) -> bool:
        return self.kind == "team"


@dataclass
class OrgIntent:
    accounts: dict[str, AccountIntent]
    # False when no records were given: account-level comparison is skipped rather than guessed.
    records_read: bool = True
    # The accounts the freezes table says are frozen; None when it was not read: then a freeze attachment is left as
    # it is (never detached on a guess: that would thaw an account nobody approved).
    frozen: frozenset[str] | None = None

    def get(self, account_id: str) -> AccountIntent | None:
        return self.accounts.get(account_id)


def quarantine_ou(layout: Layout) -> str | None:
    """The OU unknown and retired accounts are parked in: the one whose guardrails include the quarantine group."""
    return next((path for path, groups in layout.guardrails.ou_guardrails.items() if "quarantine" in groups), None)


def workload_ous(layout: Layout) -> frozenset[str]:
    """Stage OUs and their ancestors: where a team account may sit (its own stage OU being the only right one)."""
    out: set[str] = set()
    for path in layout.stage_ous.values():
        parts = path.split("/")
        out |= {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return frozenset(out)


def account_policies(rendered: GuardrailSet, intent: AccountIntent) -> set[str]:
    """The SCPs attached directly to the account (the OU-level ones come with its intended OU): FullAWSAccess, and on
    team accounts the tier policy plus the team's own policy where the layout renders one."""
    names = {FULL_AWS_ACCESS}
    if intent.tier:
        names.add(rendered.tier_policies[intent.tier])
    own = rendered.team_policy(intent.team, intent.stage) if intent.team_account else None
    if own:
        names.add(own)
    if intent.frozen and intent.team_account and rendered.freeze_policy:
        names.add(rendered.freeze_policy)
    return names


def layout_for_records(layout: Layout, records: Iterable[RequestRecord]) -> Layout:
    """The layout with each listed team's region fences taken from its live vending records, stage by stage.

    A change request moves a team's regions in its record (the intent); layout.yaml only seeds them. The per-team
    policy (`<prefix>team-<slug>-<stage>`) is one per team and stage, so each account's fence is its own record's
    regions (in the allow-list's order), never the union with the other stage's. Retired records and records without
    an account do not count: their stage keeps the layout's regions.

    A team the layout does not list (vended at run time) gets a team of its own here, from its records: its regions,
    its team value and its cost center, so its accounts carry a team policy like every other (issue 20: without one a
    team outside the layout had no region fence of its own and could tag with another team's name)."""
    allowed = layout.organization.allowed_regions
    regions: dict[str, dict[str, tuple[str, ...]]] = {}
    unlisted: dict[str, TeamSpec] = {}
    for record in sorted(records, key=lambda r: r.request_id):
        if not record.account_id or record.status.value in RETIRED_STATUSES:
            continue
        wanted = set(record.request.get("regions") or ())
        if wanted and record.stage in layout.stage_ous:
            regions.setdefault(record.team, {})[record.stage] = tuple(r for r in allowed if r in wanted)
        if layout.team(record.team) is None and record.team not in unlisted:
            spec = _unlisted_team(layout, record)
            if spec is not None:
                unlisted[record.team] = spec
    if not regions and not unlisted:
        return layout
    teams = tuple(
        t.model_copy(update={"stage_regions": {**t.stage_regions, **regions[t.slug]}})
        if t.slug in regions and any(t.regions_for(stage) != r for stage, r in regions[t.slug].items())
        else t
        for t in (*layout.teams, *unlisted.values())
    )
    return layout.model_copy(update={"teams": teams})


def _unlisted_team(layout: Layout, record: RequestRecord) -> TeamSpec | None:
    """The team of a record whose team the layout does not list; None when the record lacks what a team policy needs
    (the intent reports such a record as a problem)."""
    request = record.request
    tier, cost_center, wanted = request.get("gpu_tier"), request.get("cost_center"), request.get("regions") or ()
    own_regions = tuple(r for r in layout.organization.allowed_regions if r in wanted)
    if tier not in layout.gpu_tiers or not cost_center or not own_regions:
        return None
    try:
        return TeamSpec(
            slug=record.team,
            owner_email=str(request.get("owner_email") or "unknown@example.com"),
            cost_center=str(cost_center),
            gpu_tier=str(tier),
            regions=own_regions,
            repository=str(request.get("repository") or ""),
        )
    except ValueError:
        return None


def team_layout(layout: Layout, store: RequestStore, team: str) -> Layout:
    """layout_for_records over one team's records (one GetItem per stage, no Scan): what ApplyGuardrails and
    ApplyChange render the team policy from."""
    records = [r for stage in layout.stage_ous if (r := store.get(request_id_for(team, stage))) is not None]
    return layout_for_records(layout, records)


def _team_intent(layout: Layout, record: RequestRecord, account_id: str) -> AccountIntent:
    source = f"record:{record.request_id}"
    request = record.request
    tier, cost_center = request.get("gpu_tier"), request.get("cost_center")
    problems = []
    if record.stage not in layout.stage_ous:
        problems.append(f"stage {record.stage!r} has no OU in the layout")
    if tier not in layout.gpu_tiers:
        problems.append(f"GPU tier {tier!r} is not in the layout")
    if not cost_center:
        problems.append("no cost center")
    if problems:
        return AccountIntent(account_id, "team", "", source, problem=f"{source}: {'; '.join(problems)}")
    assert isinstance(tier, str)
    tags = {
        "team": record.team,
        "stage": record.stage,
        "cost-center": str(cost_center),
        layout.guardrails.gpu_tier_tag: tier,
    }
    return AccountIntent(
        account_id,
        "team",
        layout.ou_for_stage(record.stage),
        source,
        tier,
        {k: v for k, v in tags.items() if k in layout.tag_keys()},
        tuple(request.get("regions") or ()),
        in_flight=record.status.value in IN_FLIGHT_STATUSES,
        team=record.team,
        stage=record.stage,
    )


def build_intent(
    layout: Layout, records: Iterable[RequestRecord] | None, frozen: Iterable[str] | None = None
) -> OrgIntent:
    """One intent per account id. Two sources claiming one account is a problem to report, not a choice to make.
    `frozen`: the account ids with a freeze record (vending.spend.freezes.FreezeStore.frozen_accounts)."""
    if records is None:
        return OrgIntent({}, records_read=False)
    frozen_ids = frozenset(frozen) if frozen is not None else None
    parked = quarantine_ou(layout)
    claims: dict[str, list[AccountIntent]] = {}
    for account_id, path in layout.guardrails.platform_accounts.items():
        claims.setdefault(account_id, []).append(
            AccountIntent(account_id, "platform", path, "layout:platform_accounts")
        )
    for record in records:
        if not record.account_id:
            continue
        if record.status.value in RETIRED_STATUSES:
            source = f"record:{record.request_id}"
            intent = (
                AccountIntent(record.account_id, "retired", parked, source)
                if parked
                else AccountIntent(
                    record.account_id,
                    "retired",
                    "",
                    source,
                    problem=f"{source}: retired, but no OU carries the quarantine guardrails",
                )
            )
        else:
            intent = _team_intent(layout, record, record.account_id)
            if frozen_ids is not None and record.account_id in frozen_ids and not intent.problem:
                intent = replace(intent, frozen=True)
        claims.setdefault(record.account_id, []).append(intent)
    accounts: dict[str, AccountIntent] = {}
    for account_id, found in claims.items():
        if len(found) == 1:
            accounts[account_id] = found[0]
        else:
            sources = ", ".join(sorted(i.source for i in found))
            accounts[account_id] = AccountIntent(
                account_id, found[0].kind, "", sources, problem=f"claimed by {len(found)} sources: {sources}"
            )
    return OrgIntent(accounts, frozen=frozen_ids)
