"""Mutation testing of the guardrail and authorization code: do the tests notice when the code is wrong?

    python benchmarks/mutation.py                          # every module below (CPU-heavy: hours on 2 cores)
    python benchmarks/mutation.py --modules vending/trust.py scps/evaluate.py [--max-children 2] [--json]
    python benchmarks/mutation.py --modules vending/guardrails/orgapi.py   # one file of a pattern entry

mutmut (pinned in pyproject.toml) rewrites each function of a module many ways (a flipped comparison, a dropped
`not`, another constant...) and runs the tests that call that function against each mutant. A mutant the tests
still pass is a survivor: either a gap in the tests (kill it with a new test) or an equivalent mutant (the same
behaviour; explained in benchmarks/mutation_survivors.md). The kill rate is killed / (killed + survived); timeouts
count as killed, as mutmut counts them, and are shown apart.

It runs in a scratch copy of the tracked files (the worktree stays clean) and prints, per module: mutants, killed,
survived, timeouts, mutants no test reached, and the kill rate; with --survivors N, the first N survivors' diffs.
Exit status 1 when any module has a survivor that benchmarks/mutation_survivors.md does not name.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SURVIVORS_FILE = REPO / "benchmarks" / "mutation_survivors.md"

# Each module and the tests that exercise it (mutmut then runs, per mutant, only those that reached its function).
# The fast, in-process tests only: the emulator and Terraform suites are too slow to run once per mutant.
TESTS: dict[str, list[str]] = {
    "scps/evaluate.py": ["tests/scps"],
    "scps/render.py": [
        "tests/scps/test_render.py",
        "tests/scps/test_conformance.py",
        "tests/scps/test_bypass.py",
        "tests/scps/test_boundary_bypass.py",
        "tests/scps/test_freeze.py",
        "tests/scps/test_bedrock_tiers.py",
        "tests/scps/test_render_contract.py",
        "tests/scps/test_reviewed.py",
    ],
    "scps/bedrock.py": ["tests/scps/test_bedrock_tiers.py", "tests/scps/test_render.py"],
    "scps/families.py": ["tests/scps/test_families.py", "tests/scps/test_render.py"],
    "scps/catalog.py": ["tests/scps/test_catalog.py"],
    "scps/coverage.py": ["tests/scps/test_coverage.py"],
    "scps/lint.py": ["tests/scps/test_lint.py", "tests/scps/test_render.py"],
    "scps/tag_policy.py": ["tests/scps/test_tag_policy.py"],
    # Not test_remediation_property.py: Hypothesis draws its examples at random (a kill would depend on the draw) and
    # a run costs two minutes per mutant; the deterministic audit and reconcile tests are the instrument here.
    "vending/guardrails/*.py": sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "tests" / "guardrails").glob("test_*.py")
        if p.name != "test_remediation_property.py"
    ),
    "vending/request.py": [
        "tests/vending/test_request.py",
        "tests/vending/test_request_body.py",
        "tests/api/test_corpus.py",
    ],
    "vending/trust.py": ["tests/vending/test_trust.py"],
    "vending/intake.py": ["tests/vending/test_stacks.py", "tests/vending/test_request.py"],
    # tests/emulator/test_authorization.py boots the emulator (minutes a run): left out, it would take days.
    "landing_zone/local/authorization/*.py": [
        "tests/emulator/test_authorization_requests.py",
        "tests/emulator/test_authorization_request_context.py",
    ],
    # The request builder alone (the other authorization modules are reached only through the booted emulator).
    "landing_zone/local/authorization/requests.py": [
        "tests/emulator/test_authorization_requests.py",
        "tests/emulator/test_authorization_request_context.py",
    ],
}


def _tracked_copy(into: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    oracle = REPO / "tests" / "oracle" / "node_modules"
    if oracle.exists():
        (into / "tests" / "oracle" / "node_modules").symlink_to(oracle.resolve())


def _configure(scratch: Path, patterns: list[str], tests: list[str]) -> None:
    """Append a [tool.mutmut] table naming the modules and their tests to the scratch pyproject.toml."""
    roots = sorted({p.split("/")[0] for p in patterns})
    # Everything else the tests read (the layout, the ASL, Terraform, the other packages) beside the mutants.
    beside = sorted({p.name for p in scratch.iterdir()} - {*roots, "tests", "pyproject.toml", "mutants"})
    table = {
        "source_paths": roots,
        "also_copy": beside,
        "only_mutate": patterns,
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:xdist", "-p", "no:cacheprovider", "-q"],
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    with (scratch / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _statuses(scratch: Path) -> dict[str, dict[str, str]]:
    """mutant name -> status, per source file, from mutmut's own result files."""
    sys.path.insert(0, str(scratch))
    from mutmut.stats import status_by_exit_code

    out: dict[str, dict[str, str]] = {}
    for meta in (scratch / "mutants").rglob("*.py.meta"):
        source = str(meta.relative_to(scratch / "mutants"))[: -len(".meta")]
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        out[source] = {name: status_by_exit_code[code] for name, code in codes.items()}
    return out


def explained_survivors(text: str | None = None) -> set[str]:
    """Mutant names the survivors file explains as equivalent: a line `- \\`<module>.x_<function>__mutmut_<n>\\``
    under its "## Equivalent" heading. A name anywhere else (a pass's notes, the Open list) explains nothing."""
    if text is None:
        text = SURVIVORS_FILE.read_text(encoding="utf-8") if SURVIVORS_FILE.exists() else ""
    found = re.search(r"^## Equivalent\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    section = found.group(1) if found else ""
    return set(re.findall(r"^- `([\w.]+__mutmut_\d+)`", section, flags=re.MULTILINE))


def summarize(statuses: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for source, by_name in sorted(statuses.items()):
        counts = {s: sum(1 for v in by_name.values() if v == s) for s in set(by_name.values())}
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        survived = counts.get("survived", 0)
        rows[source] = {
            "mutants": len(by_name),
            "killed": counts.get("killed", 0),
            "timeout": counts.get("timeout", 0),
            "survived": survived,
            "no_tests": counts.get("no tests", 0),
            "other": {k: v for k, v in counts.items() if k not in {"killed", "timeout", "survived", "no tests"}},
            "kill_rate": round(killed / (killed + survived), 3) if killed + survived else None,
            "survivors": sorted(n for n, v in by_name.items() if v in {"survived", "no tests"}),
        }
    return rows


def tests_for(module: str) -> list[str] | None:
    """The tests of a TESTS entry, or of the pattern entry a single file falls under (vending/guardrails/audit.py)."""
    if module in TESTS:
        return TESTS[module]
    return next((tests for pattern, tests in TESTS.items() if "*" in pattern and fnmatch(module, pattern)), None)


def run(modules: list[str], max_children: int, keep: Path | None, show_survivors: int) -> dict[str, Any]:
    unknown = [m for m in modules if tests_for(m) is None]
    if unknown:
        raise SystemExit(f"unknown module(s) {unknown}; choose from {sorted(TESTS)} or one file a pattern covers")
    tests = sorted({t for m in modules for t in tests_for(m) or ()})
    scratch = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="mutation-"))
    if not (scratch / "pyproject.toml").exists():
        _tracked_copy(scratch)
        _configure(scratch, modules, tests)
    # The mutated tree must come first on the path (before the editable install); Python forgets a path entry that
    # does not exist yet when it starts, so the folder is made first.
    (scratch / "mutants").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(scratch / "mutants"), "POWERTOOLS_METRICS_DISABLED": "true"}
    mutmut = [sys.executable, "-m", "mutmut"]
    run_ = subprocess.run([*mutmut, "run", "--max-children", str(max_children)], cwd=scratch, env=env, check=False)
    rows = summarize(_statuses(scratch))
    diffs: dict[str, str] = {}
    explained = explained_survivors()
    unexplained = [n for r in rows.values() for n in r["survivors"] if n not in explained]
    for name in unexplained[:show_survivors]:  # one `mutmut show` (about a second) each: capped
        shown = subprocess.run([*mutmut, "show", name], cwd=scratch, env=env, capture_output=True, text=True)
        diffs[name] = shown.stdout
    if not keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "tool": "mutmut " + __import__("importlib.metadata").metadata.version("mutmut"),
        "modules": modules,
        "tests": tests,
        "mutmut_exit": run_.returncode,
        "per_module": rows,
        "unexplained_survivors": sorted(unexplained),
        "survivor_diffs": diffs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", nargs="+", default=sorted(TESTS), help=f"from {sorted(TESTS)}")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant runs (the machine has 2 cores)")
    parser.add_argument("--keep", type=Path, help="run (or resume) in this folder and keep it")
    parser.add_argument("--survivors", type=int, default=0, help="print the diff of this many unexplained survivors")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.modules, args.max_children, args.keep, args.survivors)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['tool']} over {', '.join(result['modules'])}")
        print(f"{'module':<48}{'mutants':>8}{'killed':>8}{'timeout':>8}{'survived':>9}{'no tests':>9}{'kill rate':>10}")
        for source, row in result["per_module"].items():
            rate = f"{row['kill_rate']:.1%}" if row["kill_rate"] is not None else "-"
            print(
                f"{source:<48}{row['mutants']:>8}{row['killed']:>8}{row['timeout']:>8}{row['survived']:>9}"
                f"{row['no_tests']:>9}{rate:>10}"
            )
        for name, diff in result["survivor_diffs"].items():
            print(f"\n{name}\n{diff}")
        print(f"\nunexplained survivors: {len(result['unexplained_survivors'])}")
        for name in result["unexplained_survivors"]:
            print(f"  {name}")
        if result["mutmut_exit"] not in {0, None}:
            # e.g. a test file not tracked by git: the scratch copy lacks it, pytest fails, no mutant is run
            print(f"\nmutmut exited {result['mutmut_exit']}: the table above is not a finished run")
    return 1 if result["unexplained_survivors"] or result["mutmut_exit"] not in {0, None} else 0


if __name__ == "__main__":
    sys.exit(main())
