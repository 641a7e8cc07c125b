"""What the committed layout never exercises (so scps/reviewed.json cannot show it): tier names of several words, a
stage OU with no statement groups of its own, a stage with its own regions, the packer at its exact bounds, and the
name each packing gives in its error."""

from __future__ import annotations

import json
from typing import Any

import pytest

import scps.render as render_module
from scps.render import _EMPTY_POLICY_CHARS, RenderedPolicy, Statement, freeze_policy, pack, render
from vending.exceptions import GuardrailLimitExceeded
from vending.layout import DEFAULT_LAYOUT, Layout, load_layout

LAYOUT = load_layout(DEFAULT_LAYOUT)


def _with(layout: Layout, **update: Any) -> Layout:
    return layout.model_copy(update=update)


def test_a_tier_named_in_several_words_gives_each_word_a_capital_in_its_sids() -> None:
    tiers = {**LAYOUT.gpu_tiers, "fine-tune-large": LAYOUT.gpu_tiers["training"]}
    rendered = render(_with(LAYOUT, gpu_tiers=tiers))
    sids = [s.sid for s in rendered.policies["vend-gpu-fine-tune-large"].statements]
    assert sids[0] == "GpuTierFineTuneLargeEc2"
    assert "BedrockTierFineTuneLargeInvoke" in sids
    assert all(s.startswith(("GpuTierFineTuneLarge", "BedrockTierFineTuneLarge")) for s in sids)


def test_a_stage_ou_without_groups_of_its_own_carries_the_stage_pin_alone() -> None:
    groups = {p: g for p, g in LAYOUT.guardrails.ou_guardrails.items() if p != "Workloads/Production"}
    layout = _with(LAYOUT, guardrails=LAYOUT.guardrails.model_copy(update={"ou_guardrails": groups}))
    rendered = render(layout)
    names = rendered.ou_policies["Workloads/Production"]
    statements = [s for n in names for s in rendered.policies[n].statements]
    assert {s.group for s in statements} == {"stage"} and statements
    assert {s.group for n in rendered.ou_policies["Workloads/Staging"] for s in rendered.policies[n].statements} == {
        "cost-tags",
        "stage",
    }


def _regions_in(policy: RenderedPolicy) -> list[str]:
    first = next(s for s in policy.statements if s.sid == "DenyOutsideTeamRegions")
    return list(first.body["Condition"]["StringNotEquals"]["aws:RequestedRegion"])


def test_each_stage_s_team_policy_fences_that_stage_s_own_regions() -> None:
    team = LAYOUT.team("team-frontend")
    assert team is not None
    only = LAYOUT.organization.allowed_regions[-1]
    moved = team.model_copy(update={"stage_regions": {"staging": (only,)}})
    layout = _with(LAYOUT, teams=tuple(moved if t.slug == team.slug else t for t in LAYOUT.teams))
    rendered = render(layout)
    assert _regions_in(rendered.policies["vend-team-team-frontend-staging"]) == [only]
    assert _regions_in(rendered.policies["vend-team-team-frontend-production"]) == list(team.regions)


def test_every_packing_names_what_it_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    wheres: list[str] = []
    real = render_module.pack

    def recording(statements: list[Statement], max_chars: int, where: str) -> list[tuple[Statement, ...]]:
        wheres.append(where)
        return real(statements, max_chars, where)

    monkeypatch.setattr(render_module, "pack", recording)
    render(LAYOUT)
    teams = [f"team {t.slug} ({stage})" for t in LAYOUT.teams for stage in LAYOUT.stage_ous]
    tiers = [f"GPU tier {name}" for name in LAYOUT.gpu_tiers]
    ous = [w for w in wheres if w.startswith("OU ")]
    assert wheres == [*ous, *tiers, *teams, "the spend freeze"]
    assert ous == [f"OU {p}" for p in LAYOUT.guardrails.ou_guardrails]


def test_a_freeze_too_large_for_the_limit_is_refused_by_name() -> None:
    limits = LAYOUT.organization.scp_limits.model_copy(update={"max_policy_chars": 100})
    small = _with(LAYOUT, organization=LAYOUT.organization.model_copy(update={"scp_limits": limits}))
    with pytest.raises(GuardrailLimitExceeded, match=r"^the spend freeze: statement \w+ \(freeze\) renders to \d+"):
        freeze_policy(small)


def _statement(sid: str, chars: int) -> Statement:
    """A statement whose minified body is exactly `chars` characters."""
    body = {"Sid": sid, "Effect": "Deny", "Action": "x:", "Resource": "*"}
    pad = chars - len(json.dumps(body, separators=(",", ":")))
    assert pad >= 0
    return Statement("g", {**body, "Action": "x:" + "a" * pad}, True)


def test_pack_fits_a_statement_exactly_at_the_limit() -> None:
    one = _statement("One", 200)
    [alone] = pack([one], _EMPTY_POLICY_CHARS + 200, "here")
    assert alone == (one,)
    assert RenderedPolicy("p", "d", "ou", alone).chars == _EMPTY_POLICY_CHARS + 200
    too_small = _EMPTY_POLICY_CHARS + 199
    with pytest.raises(GuardrailLimitExceeded) as refused:
        pack([one], too_small, "here")
    assert str(refused.value) == (
        f"here: statement One (g) renders to {too_small + 1} characters on its own; "
        f"scp_limits.max_policy_chars is {too_small} (over by 1)"
    )


def test_pack_counts_one_comma_between_statements() -> None:
    a, b, c = _statement("A", 300), _statement("B", 200), _statement("C", 100)
    exact = _EMPTY_POLICY_CHARS + 300 + 1 + 200 + 1 + 100
    [together] = pack([a, b, c], exact, "here")
    assert together == (a, b, c)
    assert RenderedPolicy("p", "d", "ou", together).chars == exact
    # (control: one character less and the smallest goes to a policy of its own)
    assert pack([a, b, c], exact - 1, "here") == [(a, b), (c,)]


def _limits(**update: int) -> Layout:
    limits = LAYOUT.organization.scp_limits.model_copy(update=update)
    return _with(LAYOUT, organization=LAYOUT.organization.model_copy(update={"scp_limits": limits}))


def test_a_target_over_the_policy_quota_is_refused_with_what_it_would_carry() -> None:
    rendered = render(LAYOUT)
    names = rendered.ou_policies["Workloads"]
    with pytest.raises(GuardrailLimitExceeded) as refused:
        render(_limits(max_policies_per_target=2))
    assert str(refused.value) == (
        f"OU Workloads: needs {len(names) + 1} SCPs attached (FullAWSAccess + {len(names)} rendered: "
        f"{', '.join(names)}); scp_limits.max_policies_per_target is 2 (over by {len(names) - 1})"
    )


def test_a_tier_that_needs_two_policies_is_refused_with_its_sizes() -> None:
    from scps.render import bedrock_tier, gpu_tier

    by_tier = {n: gpu_tier(LAYOUT, n, t) + bedrock_tier(LAYOUT, n, t) for n, t in LAYOUT.gpu_tiers.items()}
    together = {n: _EMPTY_POLICY_CHARS + sum(s.chars + 1 for s in st) - 1 for n, st in by_tier.items()}
    name = max(together, key=lambda n: together[n])
    limit = together[name] - 1  # one character short of fitting in one policy
    assert all(together[n] <= limit for n in together if n != name), together  # the others still fit
    assert len(pack(by_tier[name], limit, "")) == 2
    with pytest.raises(GuardrailLimitExceeded) as refused:
        render(_limits(max_policy_chars=limit))
    assert str(refused.value) == (
        f"GPU tier {name}: needs 2 policies of at most {limit} characters (together {together[name]}); one per tier is "
        "supported (over by 1 policy)"
    )


def test_a_long_tier_description_is_cut_to_500_characters() -> None:
    tiers = {**LAYOUT.gpu_tiers, "none": LAYOUT.gpu_tiers["none"].model_copy(update={"description": "d" * 600})}
    described = render(_with(LAYOUT, gpu_tiers=tiers)).policies["vend-gpu-none"].description
    assert described == ("GPU tier none: " + "d" * 600)[:500] and len(described) == 500


def test_an_ou_listed_without_groups_renders_nothing_and_the_rest_still_renders() -> None:
    groups = {"Platform": (), **{p: g for p, g in LAYOUT.guardrails.ou_guardrails.items() if p != "Platform"}}
    rendered = render(_with(LAYOUT, guardrails=LAYOUT.guardrails.model_copy(update={"ou_guardrails": groups})))
    assert "Platform" not in rendered.ou_policies
    assert set(rendered.ou_policies) == {p for p in render(LAYOUT).ou_policies if p != "Platform"}


def test_the_set_answers_ownership_and_team_policy_lookups() -> None:
    rendered = render(LAYOUT)
    assert rendered.owns("vend-anything") and not rendered.owns("FullAWSAccess") and not rendered.owns("finance-vend")
    assert rendered.team_policy("team-frontend", "staging") == "vend-team-team-frontend-staging"
    assert rendered.team_policy("team-frontend", "qa") is None and rendered.team_policy("team-x", "staging") is None
