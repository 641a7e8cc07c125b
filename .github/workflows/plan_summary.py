"""Turn a `vend pipeline run --json` result into Markdown for $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import json
import sys


def render(result: dict) -> str:
    plan = result.get("plan_summary") or {}
    lines = [
        f"### `{result.get('stack')}`: {result.get('status')}",
        "",
        "| stage | ok | seconds | summary |",
        "| --- | --- | --- | --- |",
    ]
    for stage in result.get("stages", []):
        summary = str(stage.get("summary", "")).replace("|", "\\|")
        lines.append(f"| {stage['name']} | {'yes' if stage['ok'] else 'no'} | {stage['seconds']:.1f} | {summary} |")
    if plan:
        lines += [
            "",
            f"Plan: **{plan.get('add', 0)}** to add, **{plan.get('change', 0)}** to change, "
            f"**{plan.get('destroy', 0)}** to destroy, **{plan.get('replace', 0)}** to replace "
            f"(digest `{result.get('plan_digest')}`).",
        ]
        for kind, addresses in (plan.get("resources") or {}).items():
            lines += [
                "",
                f"<details><summary>{kind} ({len(addresses)})</summary>",
                "",
                *[f"- `{a}`" for a in addresses],
                "",
                "</details>",
            ]
    violations = (result.get("policy") or {}).get("violations") or []
    failed = ((result.get("policy") or {}).get("checkov") or {}).get("failed") or []
    if violations or failed:
        lines += ["", "**Policy violations**", ""]
        lines += [f"- `{v['rule']}` on `{v['address']}`: {v['message']}" for v in violations]
        lines += [f"- checkov `{f['check_id']}` on `{f['resource']}` ({f['scan']} scan): {f['name']}" for f in failed]
    if not result.get("ok"):
        lines += ["", f"> {result.get('message')}"]
    return "\n".join(lines) + "\n"


def main(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            result = json.load(handle)
    except (OSError, ValueError) as e:
        print(f"no pipeline result ({e})")
        return 0
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
