"""A tier or region change never passes through a state looser than both of its ends (issue 23 item 2).

Every Organizations write ApplyGuardrails makes during a change is followed by a read of the account's actual SCP
path, decided for every probe of vending.guardrails.effective (the project's evaluator): what any intermediate state
lets through must be let through by the start or by the end. A downgrade therefore takes effect before anything is
detached. The negative control plants the wrong order (detach the old tier before attaching the new one) and must be
named."""

from __future__ import annotations

from typing import Any

import pytest

from tests.guardrails.conftest import vend_account
from vending.guardrails import account as account_guardrails
from vending.guardrails.account import apply_account_guardrails
from vending.guardrails.effective import allowed_probes, snapshot_levels
from vending.guardrails.snapshot import read_snapshot
from vending.layout import Layout

WRITES = ("attach_policy", "detach_policy", "update_policy", "create_policy", "delete_policy")
TEAM, STAGE = "team-mlops", "staging"


class Recording:
    """The org client, with the account's allowed probes read after every write."""

    def __init__(self, org: Any, account: str, layout: Layout) -> None:
        self._org, self._account = org, account
        team = layout.team(TEAM)
        assert team is not None
        self._own = {"stage": STAGE, "cost_center": team.cost_center}  # the probes tag as the account's own team
        self.states: list[tuple[str, frozenset[str]]] = []

    def allowed(self) -> frozenset[str]:
        levels = snapshot_levels(read_snapshot(self._org, tags=False, tag_policies=False), self._account)
        assert levels is not None
        return allowed_probes(levels, self._account, TEAM, self._own)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._org, name)
        if name not in WRITES:
            return method

        def write(**kwargs: Any) -> Any:
            out = method(**kwargs)
            self.states.append((f"{name} {kwargs.get('PolicyId', kwargs.get('Name', ''))}", self.allowed()))
            return out

        return write


def looser_than_both(org: Any, layout: Layout, account: str, tier: str, to: str) -> list[str]:
    apply_account_guardrails(org, layout, account_id=account, team=TEAM, stage=STAGE, gpu_tier=tier)
    recording = Recording(org, account, layout)
    start = recording.allowed()
    apply_account_guardrails(recording, layout, account_id=account, team=TEAM, stage=STAGE, gpu_tier=to)
    end = recording.allowed()
    assert recording.states, "the change wrote nothing: the check would prove nothing"
    assert start != end and "run t3.micro" in start & end, (start, end)  # the probes see the tiers at all
    return [f"after {step}: allows {sorted(now - start - end)}" for step, now in recording.states if now - start - end]


@pytest.mark.parametrize(
    ("tier", "to"),
    [
        ("none", "training"),
        ("training", "none"),
        ("inference", "training"),
        ("training", "inference"),
        ("inference", "none"),
        ("none", "inference"),
    ],
)
def test_a_tier_change_is_never_looser_than_both_ends(org: Any, layout: Layout, tier: str, to: str) -> None:
    account = vend_account(org, layout, TEAM, STAGE)
    assert looser_than_both(org, layout, account, tier, to) == []


def test_a_region_change_rewrites_the_fence_in_one_step(org: Any, layout: Layout) -> None:
    # GIVEN the staging account fenced to the layout's regions WHEN its record asks for eu-central-1 THEN the one write
    # is the team policy's UpdatePolicy: the account goes from the old fence to the new one with nothing in between
    account = vend_account(org, layout, TEAM, STAGE)
    team = layout.team(TEAM)
    assert team is not None
    wider = layout.model_copy(
        update={
            "teams": tuple(
                t.model_copy(update={"stage_regions": {STAGE: (*t.regions, "eu-central-1")}}) if t.slug == TEAM else t
                for t in layout.teams
            )
        }
    )
    recording = Recording(org, account, layout)
    start = recording.allowed()
    apply_account_guardrails(recording, wider, account_id=account, team=TEAM, stage=STAGE, gpu_tier=team.gpu_tier)
    assert [step.split()[0] for step, _ in recording.states] == ["update_policy"]
    assert recording.states[-1][1] - start == {"describe outside team regions"}


def test_negative_control_detaching_the_old_tier_first_is_named(
    org: Any, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN ApplyGuardrails ordering detaches before attaches (the bug the fail-closed ordering prevents)
    real = account_guardrails._order_target

    def detach_first(*args: Any, **kwargs: Any) -> Any:
        steps, problems = real(*args, **kwargs)
        return sorted(steps, key=lambda s: s[0] != "detach"), problems

    monkeypatch.setattr(account_guardrails, "_order_target", detach_first)
    account = vend_account(org, layout, TEAM, STAGE)
    # WHEN the tier goes down from inference to none THEN the moment without a tier policy (the OU fences alone: p5,
    # trn1, what neither end allows) is named, with what it let through
    gaps = looser_than_both(org, layout, account, "inference", "none")
    assert len(gaps) == 1 and gaps[0].startswith("after detach_policy") and "run p5.48xlarge" in gaps[0], gaps
