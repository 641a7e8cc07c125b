"""Organizations tag policies rendered from the layout."""

from __future__ import annotations

import json

import pytest

from scps.tag_policy import ENFORCED_FOR, MAX_TAG_POLICY_CHARS, org_tag_policy, tag_policies, team_tag_policy
from vending.bootstrap import STATE_KEY_ALIAS
from vending.exceptions import GuardrailLimitExceeded, InvalidRequest
from vending.layout import Layout, load_layout


def test_tag_policy_org_keys_and_formats() -> None:
    # GIVEN the layout WHEN the org tag policy is rendered
    layout = load_layout()
    doc = org_tag_policy(layout)["tags"]
    # THEN every mandatory key is fixed in case, stage has the stages, cost-center the configured format
    assert set(doc) == set(layout.organization.mandatory_tags)
    assert doc["stage"]["tag_value"]["@@assign"] == ["staging", "production"]
    assert doc["cost-center"]["tag_value"]["@@assign"] == ["CC-*"]
    assert "tag_value" not in doc["team"]  # per account
    assert all(block["enforced_for"]["@@assign"] for block in doc.values())


def test_tag_policy_team_value_per_account() -> None:
    layout = load_layout()
    doc = team_tag_policy(layout, "team-frontend")["tags"]
    assert doc["team"]["tag_value"]["@@assign"] == ["team-frontend"]
    assert doc["cost-center"]["tag_value"]["@@assign"] == ["CC-1001"]
    names = tag_policies(layout)
    assert set(names) == {"vend-tags", *(f"vend-tags-{t.slug}" for t in layout.teams)}
    assert all(len(json.dumps(d, separators=(",", ":"))) <= MAX_TAG_POLICY_CHARS for d in names.values())


def test_tag_policy_unknown_team_fails_clearly() -> None:
    with pytest.raises(InvalidRequest, match="unknown team 'team-nope'"):
        team_tag_policy(load_layout(), "team-nope")


def test_tag_policy_cost_center_format_validated_in_layout() -> None:
    data = load_layout().model_dump(mode="json")
    data["teams"][0]["cost_center"] = "1001"
    with pytest.raises(ValueError, match="cost_center: '1001' does not match"):
        Layout.model_validate(data)


def test_tag_policy_state_key_alias_matches_bootstrap() -> None:
    # The baseline protects the state key by the alias the bootstrap creates.
    assert load_layout().guardrails.state_key_alias == STATE_KEY_ALIAS


def _block(key: str, values: list[str] | None) -> dict[str, object]:
    """A tag policy's key block as the Organizations syntax writes it (the guide's tag policy examples)."""
    block: dict[str, object] = {"tag_key": {"@@assign": key}}
    if values is not None:
        block["tag_value"] = {"@@assign": values}
    block["enforced_for"] = {"@@assign": list(ENFORCED_FOR)}
    return block


def test_tag_policy_documents_whole() -> None:
    # GIVEN the layout (mandatory tags team, stage, cost-center; cost-center values CC-*)
    layout = load_layout()
    # THEN the org policy fixes each key's case, the stage values and the cost-center format, the team per account
    assert org_tag_policy(layout) == {
        "tags": {
            "team": _block("team", None),
            "stage": _block("stage", ["staging", "production"]),
            "cost-center": _block("cost-center", ["CC-*"]),
        }
    }
    # AND a team's policy narrows team to its slug and cost-center to its cost center
    assert team_tag_policy(layout, "team-frontend") == {
        "tags": {"team": _block("team", ["team-frontend"]), "cost-center": _block("cost-center", ["CC-1001"])}
    }


def test_tag_policy_size_quota_at_and_one_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from scps import tag_policy

    layout = load_layout()
    org, team = org_tag_policy(layout), team_tag_policy(layout, "team-frontend")
    org_size, team_size = (len(json.dumps(d, separators=(",", ":"))) for d in (org, team))
    # AT the quota: accepted
    monkeypatch.setattr(tag_policy, "MAX_TAG_POLICY_CHARS", org_size)
    assert org_tag_policy(layout) == org
    # ONE PAST it: refused, naming the policy, its size, the quota and the excess
    monkeypatch.setattr(tag_policy, "MAX_TAG_POLICY_CHARS", org_size - 1)
    with pytest.raises(GuardrailLimitExceeded) as e:
        org_tag_policy(layout)
    assert str(e.value) == f"tag policy org: {org_size} characters; the quota is {org_size - 1} (over by 1)"
    monkeypatch.setattr(tag_policy, "MAX_TAG_POLICY_CHARS", team_size - 3)
    with pytest.raises(GuardrailLimitExceeded) as e:
        team_tag_policy(layout, "team-frontend")
    assert str(e.value) == f"tag policy team-frontend: {team_size} characters; the quota is {team_size - 3} (over by 3)"
