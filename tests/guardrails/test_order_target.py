"""_order_target, the one place attach/detach steps are ordered (ApplyGuardrails, the reconcile, the quarantine): never
over the quota, never down to no SCP, the allow attached last, and on a full target that must swap a deny, failing
closed when asked (FullAWSAccess off first, back last)."""

from __future__ import annotations

import pytest

from vending.guardrails.reconcile import _order_target

FULL = "FullAWSAccess"


def ours(name: str) -> bool:
    return name.startswith("vend-")


def order(current: set[str], desired: set[str], limit: int = 5, *, fail_closed: bool = False) -> tuple[list, list]:
    return _order_target(current, desired, limit, ours, fail_closed=fail_closed)


def test_with_room_it_attaches_what_is_missing_then_detaches_what_is_stale() -> None:
    assert order({FULL, "vend-old"}, {FULL, "vend-new"}) == ([("attach", "vend-new"), ("detach", "vend-old")], [])


def test_the_allow_is_attached_after_every_deny() -> None:
    # "FullAWSAccess" sorts before "vend-..." by name: the allow still goes on last
    assert order({"vend-old"}, {FULL, "vend-a", "vend-b"}) == (
        [("attach", "vend-a"), ("attach", "vend-b"), ("attach", FULL), ("detach", "vend-old")],
        [],
    )


SWAP = ({FULL, "vend-tier-old", "vend-team", "customer-1", "customer-2"}, {FULL, "vend-tier-new", "vend-team"})


def test_a_swap_on_a_full_target_makes_room_first() -> None:
    assert order(*SWAP) == ([("detach", "vend-tier-old"), ("attach", "vend-tier-new")], [])


def test_a_swap_on_a_full_target_fails_closed_when_asked() -> None:
    assert order(*SWAP, fail_closed=True) == (
        [("detach", FULL), ("attach", "vend-tier-new"), ("detach", "vend-tier-old"), ("attach", FULL)],
        [],
    )


def test_failing_closed_only_where_room_must_be_made() -> None:
    # One slot short of the quota: the new deny fits beside the old one, no window at all
    current, desired = {FULL, "vend-tier-old", "customer-1", "customer-2"}, {FULL, "vend-tier-new"}
    assert order(current, desired, fail_closed=True) == (
        [("attach", "vend-tier-new"), ("detach", "vend-tier-old")],
        [],
    )


@pytest.mark.parametrize(
    ("current", "desired"),
    [
        # FullAWSAccess not on the target: nothing to take off first
        ({"vend-tier-old", "vend-team", "customer-1", "customer-2", "customer-3"}, {"vend-tier-new", "vend-team"}),
        # FullAWSAccess not wanted (an OU that forbids it): it goes with the other stale ones, not first
        ({FULL, "vend-tier-old", "customer-1", "customer-2", "customer-3"}, {"vend-tier-new"}),
    ],
)
def test_failing_closed_needs_the_allow_on_the_target_and_in_the_intent(current: set[str], desired: set[str]) -> None:
    assert order(current, desired, fail_closed=True) == order(current, desired, fail_closed=False)


def test_a_two_slot_target_still_swaps_and_fails_closed() -> None:
    current, desired = {FULL, "vend-tier-old"}, {FULL, "vend-tier-new"}
    assert order(current, desired, limit=2) == ([("detach", "vend-tier-old"), ("attach", "vend-tier-new")], [])
    assert order(current, desired, limit=2, fail_closed=True) == (
        [("detach", FULL), ("attach", "vend-tier-new"), ("detach", "vend-tier-old"), ("attach", FULL)],
        [],
    )


def test_what_cannot_be_done_is_named_and_not_done() -> None:
    # A full target of policies not ours to remove: the missing one is refused, with the count and the quota
    full = {FULL, "customer-1", "customer-2", "customer-3", "customer-4"}
    assert order(full, {FULL, "vend-tier"}) == ([], ["cannot attach vend-tier: 5 SCPs attached, quota 5"])
    # The last SCP of a target is never detached, even when stale
    assert order({"vend-only"}, set()) == ([], ["cannot detach vend-only: it is the last SCP (AWS requires one)"])
    # A one-slot target cannot make room by emptying itself: both halves of the swap are refused, nothing done
    assert order({"vend-old"}, {"vend-new"}, limit=1) == (
        [],
        [
            "cannot attach vend-new: 1 SCPs attached, quota 1",
            "cannot detach vend-old: it is the last SCP (AWS requires one)",
        ],
    )


def test_each_attach_counts_against_the_quota() -> None:
    # Three denies for two free slots: the first two go on, the third is refused with the count it met
    assert order(
        {FULL, "customer-1", "customer-2"}, {FULL, "customer-1", "customer-2", "vend-a", "vend-b", "vend-c"}
    ) == (
        [("attach", "vend-a"), ("attach", "vend-b")],
        ["cannot attach vend-c: 5 SCPs attached, quota 5"],
    )


def test_steps_are_split_into_denies_first_the_allow_then_the_rest() -> None:
    from vending.guardrails.reconcile import _split

    steps = [("attach", "vend-a"), ("detach", "vend-x"), ("attach", FULL), ("detach", "vend-y")]
    # The deny (with the room made before it) runs with the other denies, before any move; the allow waits for every
    # deny and move; what is left is detached last
    assert _split(steps) == ([("attach", "vend-a")], [("detach", "vend-x"), ("attach", FULL)], [("detach", "vend-y")])
    assert _split([("detach", "vend-x"), ("attach", "vend-a")]) == (
        [("detach", "vend-x"), ("attach", "vend-a")],
        [],
        [],
    )
    assert _split([("attach", FULL), ("detach", "vend-x")]) == ([], [("attach", FULL)], [("detach", "vend-x")])
    assert _split([("detach", "vend-x")]) == ([], [], [("detach", "vend-x")])


def test_stale_policies_are_detached_down_to_one_never_to_none() -> None:
    assert order({"vend-a", "vend-b", "vend-c"}, set()) == (
        [("detach", "vend-a"), ("detach", "vend-b")],
        ["cannot detach vend-c: it is the last SCP (AWS requires one)"],
    )


def test_each_target_adds_its_steps_to_the_phases() -> None:
    from vending.guardrails.reconcile import Action, _Phases

    phases = _Phases()
    phases.add("account:1", [("attach", "vend-a"), ("attach", FULL), ("detach", "vend-x")])
    phases.add("account:2", [("attach", "vend-b"), ("attach", FULL), ("detach", "vend-y")])
    assert (phases.attach, phases.allow, phases.detach) == (
        [Action("attach", "account:1", "vend-a"), Action("attach", "account:2", "vend-b")],
        [Action("attach", "account:1", FULL), Action("attach", "account:2", FULL)],
        [Action("detach", "account:1", "vend-x"), Action("detach", "account:2", "vend-y")],
    )
