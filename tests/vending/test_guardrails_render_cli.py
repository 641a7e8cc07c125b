"""`vend guardrails render` shows Bedrock by tier: the layout's lists per tier, and the ARNs the tier SCP allows."""

from __future__ import annotations

import json

import pytest

from scps.render import render
from vending.cli import main
from vending.layout import load_layout


def test_guardrails_render_json_lists_bedrock_per_tier(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the packaged layout WHEN rendered as JSON
    assert main(["guardrails", "render", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    layout = load_layout()
    by_tier = {t["tier"]: t for t in out["bedrock"]}
    # THEN each tier shows its models, its profiles with their destination regions and whether it may customize
    assert set(by_tier) == set(layout.gpu_tiers)
    assert by_tier["none"]["models"] == [] and by_tier["none"]["allowed_arns"] == []
    haiku = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert by_tier["inference"]["inference_profiles"][haiku] == ["us-east-1", "us-east-2", "us-west-2"]
    assert [by_tier[t]["customization"] for t in ("none", "inference", "training")] == [False, False, True]
    # AND the ARNs shown are exactly the ones the tier's SCP leaves invocable
    rendered = render(layout)
    for tier, shown in by_tier.items():
        invoke = next(
            s
            for s in rendered.policies[rendered.tier_policies[tier]].document["Statement"]
            if s["Sid"].endswith("Invoke")
        )
        assert invoke.get("NotResource", []) == shown["allowed_arns"], tier


def test_guardrails_render_table_shows_bedrock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guardrails", "render"]) == 0
    out = capsys.readouterr().out
    assert "Bedrock by tier" in out and "us.anthropic.claude-3-5-sonnet-20240620-v1:0" in out
