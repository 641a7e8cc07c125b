"""Organizations tag policies rendered from the layout."""

from __future__ import annotations

import json

import pytest

from scps.tag_policy import MAX_TAG_POLICY_CHARS, org_tag_policy, tag_policies, team_tag_policy
from vending.bootstrap import STATE_KEY_ALIAS
from vending.exceptions import InvalidRequest
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
