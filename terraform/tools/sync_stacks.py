"""Keeps terraform/environments in sync with the templates: the boilerplate of every stack folder, and the workload
stacks of the layout's teams rendered whole (vending.pipeline.templates renders them; this only writes or checks).

    .venv/bin/python terraform/tools/sync_stacks.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vending.layout import STAGES, Layout, load_layout
from vending.pipeline.templates import ENVIRONMENTS, TERRAFORM, boilerplate_files, render_stack, template_names


def stack_dirs() -> list[Path]:
    return sorted(p.parent for p in ENVIRONMENTS.glob("*/*/*/main.tf"))


def expected_stacks(layout: Layout) -> dict[Path, dict[str, str]]:
    """Every file sync_stacks keeps: the boilerplate of each existing stack, and the workload stacks of the layout's
    teams (both stages) rendered whole."""
    expected = {stack: boilerplate_files(stack.relative_to(ENVIRONMENTS).as_posix()) for stack in stack_dirs()}
    names = set(template_names())
    for team in layout.teams:
        for stage in STAGES:
            for stack in (s for s in team.stacks if s in names):
                expected[ENVIRONMENTS / team.slug / stage / stack] = render_stack(team.slug, stage, stack, layout)
    return expected


def main(argv: list[str] | None = None) -> int:

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift and exit 1 instead of writing")
    args = parser.parse_args(argv)
    drift = []
    for stack, files in expected_stacks(load_layout()).items():
        for name, text in files.items():
            path = stack / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                drift.append(path)
                if not args.check:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
    for path in drift:
        print(("out of sync: " if args.check else "wrote ") + str(path.relative_to(TERRAFORM)))
    return 1 if args.check and drift else 0


if __name__ == "__main__":
    sys.exit(main())
