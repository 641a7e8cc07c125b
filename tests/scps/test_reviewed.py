"""scps/reviewed.json is what the committed layout renders to: any change to a rendered policy (a statement, a Sid, a
description, where it is attached, a budget) fails here until the file is rewritten, so it is read in review."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from scps import reviewed
from scps.render import render
from vending.layout import DEFAULT_LAYOUT, load_layout

LAYOUT = load_layout(DEFAULT_LAYOUT)


def test_the_committed_layout_renders_to_the_reviewed_file() -> None:
    current = reviewed.text_of(render(LAYOUT), LAYOUT)
    found = reviewed.differences(reviewed.REVIEWED.read_text(encoding="utf-8"), current)
    assert found == [], "\n".join([*found, "read the diff, then: python -m scps.reviewed --write"])


def test_the_file_holds_every_policy_whole_and_where_it_goes() -> None:
    rendered = render(LAYOUT)
    held = json.loads(reviewed.REVIEWED.read_text(encoding="utf-8"))
    assert [p["name"] for p in held["policies"]] == list(rendered.policies)
    for p in held["policies"]:
        policy = rendered.policies[p["name"]]
        assert {"Version": "2012-10-17", "Statement": [s["body"] for s in p["statements"]]} == policy.document
        assert (p["kind"], p["description"], p["chars"]) == (policy.kind, policy.description, policy.chars)
    assert held["tier_policies"] == rendered.tier_policies
    assert {tuple(k.split("/")): v for k, v in held["team_policies"].items()} == rendered.team_policies
    assert len(held["budgets"]) == len(rendered.budgets(LAYOUT))


# Negative controls: a planted change to the render is reported, line by line.


def test_a_changed_sid_is_reported_with_the_old_and_the_new_name() -> None:
    rendered = render(LAYOUT)
    policy = rendered.policies["vend-gpu-inference"]
    first = policy.statements[0]
    renamed = dataclasses.replace(first, body={**first.body, "Sid": "SomethingElse"})
    planted = dataclasses.replace(policy, statements=(renamed, *policy.statements[1:]))
    changed = dataclasses.replace(rendered, policies={**rendered.policies, policy.name: planted})

    found = reviewed.differences(reviewed.text_of(rendered, LAYOUT), reviewed.text_of(changed, LAYOUT))

    assert f'-      "Sid": "{first.sid}",' in found and '+      "Sid": "SomethingElse",' in found
    assert any(line.startswith("-") and '"chars"' in line for line in found)  # the size moved with it


def test_a_changed_layout_is_reported() -> None:
    tiers = {**LAYOUT.gpu_tiers}
    tiers["training"] = tiers["training"].model_copy(update={"description": "changed by a test"})
    changed = LAYOUT.model_copy(update={"gpu_tiers": tiers})

    found = reviewed.differences(reviewed.text_of(render(LAYOUT), LAYOUT), reviewed.text_of(render(changed), changed))

    assert any(line.startswith("+") and "GPU tier training: changed by a test" in line for line in found), found


def test_the_command_fails_with_the_diff_until_the_file_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "reviewed.json"
    kept.write_text(reviewed.REVIEWED.read_text(encoding="utf-8").replace("DenyLeaveOrganization", "Other"), "utf-8")
    monkeypatch.setattr(reviewed, "REVIEWED", kept)

    assert reviewed.main([]) == 1
    out = capsys.readouterr().out
    assert '+      "Sid": "DenyLeaveOrganization",' in out and "python -m scps.reviewed --write" in out

    assert reviewed.main(["--write"]) == 0
    assert reviewed.main([]) == 0
    assert kept.read_text(encoding="utf-8") == (Path(reviewed.__file__).with_name("reviewed.json")).read_text("utf-8")
    assert "the render matches (21 policies)" in capsys.readouterr().out
