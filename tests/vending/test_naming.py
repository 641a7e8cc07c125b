"""Every name derived from a team slug fits where it goes, or intake refuses the slug naming the name and its limit.

The corpus: for each derived name and stage, the longest slug that fits passes and one character more is refused
(when the longest that fits is beyond the slug's own 40-character limit, the request model refuses the 41st).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vending.changes import team_policy_name
from vending.exceptions import InvalidRequest
from vending.intake import preflight
from vending.layout import Layout, cached_layout
from vending.lifecycle import RequestStore
from vending.naming import DERIVED_NAMES, DerivedName, overflowing
from vending.settings import REPO_ROOT

MAX_SLUG = 40  # vending.request.VendingRequest.team
REGIONS = cached_layout().organization.allowed_regions  # every region: the longest names
CASES = [(d, stage) for d in DERIVED_NAMES for stage in ("staging", "production")]


def _slug(length: int) -> str:
    return "t" + "a" * (length - 1)


def _messages(derived: DerivedName, team: str, stage: str, layout: Layout) -> list[str]:
    stacks = (derived.stack,) if derived.stack else ()
    return [m for m in overflowing(team, stage, stacks, REGIONS, layout) if derived.what in m]


def _with_domain(domain: str) -> Layout:
    layout = cached_layout()
    organization = layout.organization.model_copy(update={"account_email_pattern": f"aws+{{team}}-{{stage}}@{domain}"})
    return layout.model_copy(update={"organization": organization})


@pytest.mark.parametrize(("derived", "stage"), CASES, ids=[f"{d.what.split(' (')[0]}-{s}" for d, s in CASES])
def test_derived_name_boundary_max_fits_and_one_more_is_refused(derived: DerivedName, stage: str) -> None:
    layout = cached_layout()
    longest = derived.max_team_length(stage, REGIONS, layout)
    if longest >= MAX_SLUG:
        # GIVEN a name that cannot overflow within the slug's own limit: the longest slug fits
        assert len(derived.name(_slug(MAX_SLUG), stage, REGIONS, layout)) <= derived.limit
        assert _messages(derived, _slug(MAX_SLUG), stage, layout) == []
        return
    # GIVEN the longest slug that fits THEN it passes, exactly at the limit or just under
    fits = derived.name(_slug(longest), stage, REGIONS, layout)
    assert derived.limit - len(fits) < len(derived.name("aa", stage, REGIONS, layout)) - len(
        derived.name("a", stage, REGIONS, layout)
    )
    assert _messages(derived, _slug(longest), stage, layout) == []
    # WHEN one character more THEN the name, its length, the limit and the longest slug are named
    (message,) = _messages(derived, _slug(longest + 1), stage, layout)
    assert f"the limit is {derived.limit}" in message
    assert f"at most {longest} characters" in message


def test_boundaries_the_layout_implies() -> None:
    # The figures the corpus runs over, with the repository's layout (root-mail domain example.com, four regions)
    layout = cached_layout()
    limits = {
        (d.what, s): d.max_team_length(s, REGIONS, layout)
        for d, s in CASES
        if d.max_team_length(s, REGIONS, layout) < MAX_SLUG
    }
    assert limits == {
        # aws+<team>-production@example.com: 64 - 27
        ("account e-mail (Organizations CreateAccount Email)", "production"): 37,
        ("account name (Organizations CreateAccount AccountName)", "production"): 39,  # <team>-production: 50 - 11
        # <team>-<stage>-artifacts-<account id>: every request has the bootstrap stack, so 29 bounds every slug
        ("artifacts bucket name (S3, bootstrap)", "staging"): 32,
        ("artifacts bucket name (S3, bootstrap)", "production"): 29,
        # <team>-<stage>-eu-central-1-eu-central-1-flow-logs
        ("flow-logs role name (IAM, networking)", "staging"): 20,
        ("flow-logs role name (IAM, networking)", "production"): 17,
        ("origin bucket name (S3, cloudfront)", "staging"): 38,
        ("origin bucket name (S3, cloudfront)", "production"): 35,
        ("Karpenter controller role name (IAM, eks)", "staging"): 35,
        ("Karpenter controller role name (IAM, eks)", "production"): 32,
        ("Karpenter interruption rule name (EventBridge, eks)", "staging"): 28,
        ("Karpenter interruption rule name (EventBridge, eks)", "production"): 25,
        ("Karpenter controller role name (IAM, eks-gpu-serving)", "staging"): 31,
        ("Karpenter controller role name (IAM, eks-gpu-serving)", "production"): 28,
        ("Karpenter interruption rule name (EventBridge, eks-gpu-serving)", "staging"): 24,
        ("Karpenter interruption rule name (EventBridge, eks-gpu-serving)", "production"): 21,
    }


def test_account_email_limit_follows_the_root_mail_domain() -> None:
    # GIVEN a root-mail domain 22 characters longer than example.com
    (email,) = [d for d in DERIVED_NAMES if d.what.startswith("account e-mail")]
    longer = _with_domain("platform-mail.acme-corporation.io")
    # THEN the longest slug that fits shrinks by the same 22 characters
    assert (
        email.max_team_length("production", REGIONS, longer)
        == email.max_team_length("production", REGIONS, cached_layout()) - 22
    )
    (message,) = _messages(email, _slug(20), "production", longer)
    assert "acme-corporation.io" in message and "the limit is 64" in message


def test_template_names_quote_their_terraform_expressions() -> None:
    # A template's expression changing (or moving) fails here: update vending/naming.py with it.
    for derived in DERIVED_NAMES:
        if derived.source:
            path, expression = derived.source
            assert expression in (REPO_ROOT / path).read_text(encoding="utf-8"), (derived.what, path)


def test_scp_name_is_the_one_vending_changes_makes() -> None:
    layout = cached_layout()
    (scp,) = [d for d in DERIVED_NAMES if d.what.startswith("team region-fence SCP")]
    assert scp.name("team-x", "staging", REGIONS, layout) == team_policy_name(layout, "team-x", "staging")


def test_the_layout_teams_fit_with_their_stacks() -> None:
    layout = cached_layout()
    for team in layout.teams:
        for stage in ("staging", "production"):
            assert overflowing(team.slug, stage, tuple(team.stacks), tuple(team.regions), layout) == [], team.slug


def test_intake_refuses_a_slug_that_overflows_a_template_name_and_writes_nothing(
    store: RequestStore, make_request: Callable[..., Any]
) -> None:
    # GIVEN production requests for eks-gpu-serving: the Karpenter rule name allows a 21-character slug
    terraform = Path(REPO_ROOT / "terraform")
    ok = make_request(team=_slug(21), stage="production", stacks=["bootstrap", "eks-gpu-serving"], gpu_tier="training")
    preflight(ok, store, terraform)
    too_long = make_request(
        team=_slug(22), stage="production", stacks=["bootstrap", "eks-gpu-serving"], gpu_tier="training"
    )
    # WHEN one character more THEN refused on the field team, naming the rule name and EventBridge's 64
    with pytest.raises(InvalidRequest) as caught:
        preflight(too_long, store, terraform)
    assert [d["field"] for d in caught.value.details] == ["team"]
    assert "Karpenter interruption rule name" in caught.value.details[0]["message"]
    assert "the limit is 64" in caught.value.details[0]["message"]
    assert store.list() == []
    # AND the same slug without that template passes
    preflight(make_request(team=_slug(22), stage="production", stacks=["bootstrap"]), store, terraform)
