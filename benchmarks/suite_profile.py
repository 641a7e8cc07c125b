"""Where the suite's time goes: CPU seconds (whole process tree) and wall seconds per module, from the JSON lines
`pytest --cpu-report=DIR` writes (tests/cpu_profile.py).

    python -m pytest -n 6 --dist loadfile --no-loadscope-reorder --cpu-report=.vend/cpu
    python benchmarks/suite_profile.py .vend/cpu [--top 40]

On two cores the suite's wall time is bounded below by its CPU seconds / 2 and by its longest module (loadfile keeps a
module on one worker); both bounds are printed, so a change can be judged by what it moves.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def per_module(directory: Path) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = defaultdict(lambda: {"cpu": 0.0, "wall": 0.0, "tests": 0.0})
    for path in sorted(directory.glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = json.loads(raw)
            module = line["nodeid"].split("::", 1)[0]
            totals[module]["cpu"] += line["cpu"]
            totals[module]["wall"] += line["wall"]
            totals[module]["tests"] += line["phase"] == "call"
    return dict(totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    modules = per_module(args.directory)
    if not modules:
        print(f"no --cpu-report lines in {args.directory}", file=sys.stderr)
        return 2
    cpu = sum(m["cpu"] for m in modules.values())
    longest = max(modules.items(), key=lambda kv: kv[1]["wall"])
    tests = int(sum(m["tests"] for m in modules.values()))
    print(f"{tests} tests in {len(modules)} modules; CPU {cpu:.0f} s (process trees)")
    print(
        f"lower bounds on wall time: CPU / {args.cores} cores = {cpu / args.cores:.0f} s; longest module "
        f"{longest[0]} = {longest[1]['wall']:.0f} s (as measured, sharing the cores)"
    )
    print(f"\n{'CPU s':>8} {'share':>6} {'wall s':>8} {'tests':>6}  module")
    for module, m in sorted(modules.items(), key=lambda kv: -kv[1]["cpu"])[: args.top]:
        print(f"{m['cpu']:8.1f} {m['cpu'] / cpu:6.1%} {m['wall']:8.1f} {int(m['tests']):6d}  {module}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
