"""Which stacks a change touches, for the Git workflow's matrix: `python -m vending.pipeline.ci <changed paths...>`
(or `--base <ref>` to diff against a branch). Prints a JSON list of `<team>/<stage>/<stack>`.

A stack is touched by a change in its folder, in a module it calls (directly or through another module), or in
anything every stack shares (templates, policies, the runner itself).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from vending.settings import REPO_ROOT

SHARED_PREFIXES = ("terraform/templates/", "policies/", "vending/pipeline/", "landing_zone/layout.yaml")
_SOURCE = re.compile(r'source\s*=\s*"([^"]+)"')


def all_stacks(terraform_root: Path) -> list[str]:
    env = terraform_root / "environments"
    return sorted(p.parent.relative_to(env).as_posix() for p in env.glob("*/*/*/main.tf"))


def modules_used(folder: Path, terraform_root: Path, seen: set[str] | None = None) -> set[str]:
    """Module names a folder calls, transitively (local sources only)."""
    seen = set() if seen is None else seen
    for tf_file in folder.glob("*.tf"):
        for source in _SOURCE.findall(tf_file.read_text(encoding="utf-8")):
            target = (folder / source).resolve()
            try:
                name = target.relative_to((terraform_root / "modules").resolve()).parts[0]
            except ValueError:
                continue
            if name not in seen:
                seen.add(name)
                modules_used(terraform_root / "modules" / name, terraform_root, seen)
    return seen


def changed_stacks(paths: Iterable[str], terraform_root: Path) -> list[str]:
    stacks = all_stacks(terraform_root)
    hit: set[str] = set()
    changed_modules: set[str] = set()
    for raw in paths:
        path = raw.strip().lstrip("./")
        if not path:
            continue
        if path.startswith(SHARED_PREFIXES):
            return stacks
        parts = path.split("/")
        if parts[:2] == ["terraform", "environments"] and len(parts) > 5:
            hit.add("/".join(parts[2:5]))
        elif parts[:2] == ["terraform", "modules"] and len(parts) > 3:
            changed_modules.add(parts[2])
    if changed_modules:
        env = terraform_root / "environments"
        hit |= {s for s in stacks if modules_used(env / s, terraform_root) & changed_modules}
    return sorted(s for s in hit if s in stacks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List the Terraform stacks touched by a change")
    parser.add_argument("paths", nargs="*", help="changed paths relative to the repository root")
    parser.add_argument("--base", help="git ref to diff against (e.g. origin/main)")
    parser.add_argument("--all", action="store_true", help="every stack")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="objects {stack, environment} for a GitHub Actions matrix (environment = <team>-<stage>)",
    )
    args = parser.parse_args(argv)
    root = REPO_ROOT / "terraform"
    if args.all:
        stacks = all_stacks(root)
    else:
        paths = list(args.paths)
        if args.base:
            diff = subprocess.run(
                ["git", "diff", "--name-only", f"{args.base}...HEAD"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            paths += diff.stdout.splitlines()
        stacks = changed_stacks(paths, root)
    if args.matrix:
        print(json.dumps([{"stack": s, "environment": "-".join(s.split("/")[:2])} for s in stacks]))
    else:
        print(json.dumps(stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
