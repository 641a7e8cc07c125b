"""The guardrails the committed layout renders to, kept beside it as scps/reviewed.json so a change to them is read in
review as a diff of policies, not inferred from a diff of Python.

    python -m scps.reviewed            # exit 1 and the diff when the render no longer matches the file
    python -m scps.reviewed --write    # after reading that diff: the file takes the new render

The file holds every rendered SCP whole (name, kind, description, each statement's group, platform exemption and
body, in attachment order), where each goes (OUs, tiers, team accounts, the freeze), the quota budgets of every target,
and the tag policies. tests/scps/test_reviewed.py fails while the file and the render disagree.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from scps.render import GuardrailSet, render
from vending.layout import DEFAULT_LAYOUT, Layout, load_layout

REVIEWED = Path(__file__).with_name("reviewed.json")


def snapshot(rendered: GuardrailSet, layout: Layout) -> dict[str, Any]:
    """Everything the render decides, as plain JSON in a stable order (the render's own order where it has one)."""
    return {
        "limits": {
            "max_policy_chars": rendered.max_policy_chars,
            "max_policies_per_target": rendered.max_policies_per_target,
        },
        "prefix": rendered.prefix,
        "no_full_aws_access": sorted(rendered.no_full_aws_access),
        "ou_policies": {path: list(names) for path, names in rendered.ou_policies.items()},
        "tier_policies": dict(rendered.tier_policies),
        "team_policies": {f"{team}/{stage}": name for (team, stage), name in rendered.team_policies.items()},
        "team_tiers": dict(rendered.team_tiers),
        "freeze_policy": rendered.freeze_policy,
        "policies": [
            {
                "name": p.name,
                "kind": p.kind,
                "description": p.description,
                "chars": p.chars,
                "statements": [
                    {"group": s.group, "exempts_platform": s.exempts_platform, "body": s.body} for s in p.statements
                ],
            }
            for p in rendered.policies.values()
        ],
        "budgets": [b.to_dict() for b in rendered.budgets(layout)],
        "org_tag_policy": rendered.org_tag_policy,
        "team_tag_policies": dict(rendered.team_tag_policies),
        "tag_policy_chars": {name: len(text) for name, text in rendered.tag_policies.items()},  # the quota counts these
        "tag_policies": {name: json.loads(text) for name, text in rendered.tag_policies.items()},
    }


def text_of(rendered: GuardrailSet, layout: Layout) -> str:
    return json.dumps(snapshot(rendered, layout), indent=1, ensure_ascii=False) + "\n"


def differences(reviewed: str, rendered: str, limit: int = 80) -> list[str]:
    """The unified diff from the reviewed text to the rendered one (empty when they agree), at most `limit` lines."""
    diff = difflib.unified_diff(
        reviewed.splitlines(), rendered.splitlines(), "scps/reviewed.json", "render(layout)", lineterm="", n=2
    )
    lines = list(diff)
    return lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scps.reviewed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="replace scps/reviewed.json with the current render")
    parser.add_argument("--layout", help="the layout file (default: the committed one)")
    args = parser.parse_args(argv)
    layout = load_layout(args.layout or DEFAULT_LAYOUT)  # not $VEND_LAYOUT_FILE: the file reviews the committed one
    current = text_of(render(layout), layout)
    if args.write:
        REVIEWED.write_text(current, encoding="utf-8")
        print(f"wrote {REVIEWED} ({len(current)} characters)")
        return 0
    reviewed = REVIEWED.read_text(encoding="utf-8") if REVIEWED.exists() else ""
    found = differences(reviewed, current)
    if not found:
        print(f"{REVIEWED.name}: the render matches ({len(json.loads(current)['policies'])} policies)")
        return 0
    print("\n".join(found))
    print("the render differs from scps/reviewed.json; read the diff, then: python -m scps.reviewed --write")
    return 1


if __name__ == "__main__":
    sys.exit(main())
