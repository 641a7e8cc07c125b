"""Sort mutmut's survivors by what the mutant changed, so each group can be explained (or killed) at once.

    python benchmarks/mutation.py --modules vending/request.py --keep /tmp/mut-request --max-children 1
    python benchmarks/mutation_classify.py /tmp/mut-request [--json] [--diffs logic]
    python benchmarks/mutation_classify.py /tmp/mut-request --rows saved-report.json    # survivors of an earlier run

Reads a folder `benchmarks/mutation.py --keep` left: mutmut's statuses (mutants/**.py.meta) and the mutated sources
(mutants/**.py, where each function `f` is kept as `x_f__mutmut_orig` beside its variants `x_f__mutmut_N`). Each
survivor's function is compared with the original after normalising one thing at a time; the first normalisation
that makes them equal names the kind:

- `string`: only a string constant differs (an error message, a log line, a description, a literal compared with);
- `annotation`: only a type annotation differs (never read at run time, except by pydantic: see the survivors file);
- `default`: only a parameter's default value differs;
- `number`: only a numeric constant differs;
- `logic`: anything else (a comparison, an operator, a dropped argument, a call replaced by None).

Kinds are a triage, not a verdict: a `string` mutant in a literal the code compares with is a real gap, which is
why `--diffs KIND` prints each one.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutation import _statuses

KINDS = ("string", "annotation", "default", "number", "logic")
_NAME = re.compile(r"^(?P<stem>.+)__mutmut_(?P<n>\d+|orig)$")


class _Blank(ast.NodeTransformer):
    """Blanks one kind of node, so two functions differing only there compare equal."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def visit_Constant(self, node: ast.Constant) -> Any:
        if self.kind == "string" and isinstance(node.value, (str, bytes)):
            return ast.copy_location(ast.Constant("…"), node)
        if self.kind == "number" and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return ast.copy_location(ast.Constant(0), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> Any:
        if self.kind == "string":  # an f-string's literal parts are string constants too
            node.values = [v for v in node.values if not isinstance(v, ast.Constant)]
        return self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> Any:
        if self.kind == "annotation":
            node.annotation = None
        return self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node.name = "f"
        if self.kind == "annotation":
            node.returns = None
        if self.kind == "default":
            node.args.defaults = [ast.Constant(None) for _ in node.args.defaults]
            node.args.kw_defaults = [ast.Constant(None) if d is not None else None for d in node.args.kw_defaults]
        return self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        if self.kind == "annotation":
            node.annotation = ast.Constant(None)
        return self.generic_visit(node)


def _normal(function: ast.FunctionDef, kind: str | None) -> str:
    copy = ast.parse(ast.unparse(function)).body[0]
    if kind is None:
        copy.name = "f"  # type: ignore[union-attr]
        return ast.dump(copy)
    return ast.dump(_Blank(kind).visit(copy))


def kind_of(original: ast.FunctionDef, mutant: ast.FunctionDef) -> str:
    for kind in KINDS[:-1]:
        if _normal(original, kind) == _normal(mutant, kind):
            return kind
    return "logic"


def functions(source: str) -> dict[str, ast.FunctionDef]:
    """Every function of a mutated module by its name, methods included (mutmut names them `xǁClassǁmethod…`)."""
    return {
        node.name: node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and _NAME.match(node.name)
    }


def diff(original: ast.FunctionDef, mutant: ast.FunctionDef) -> str:
    """The changed lines, the function's own name aside."""
    before, after = (ast.unparse(f).replace(f.name, "f", 1).splitlines() for f in (original, mutant))
    lines = difflib.unified_diff(before, after, lineterm="", n=0)
    return "\n".join(line for line in lines if line[:1] in "+-" and line[:3] not in {"+++", "---"})


def not_killed(scratch: Path, rows: Path | None) -> dict[str, list[str]]:
    """Per source file, the mutants to classify: the survivors of the run in `scratch`, or those a saved report of
    `benchmarks/mutation.py --json` lists (its `per_module` rows; their survivors include the mutants no test reached,
    which mutmut runs as `no tests`)."""
    if rows is None:
        return {src: sorted(n for n, s in by.items() if s == "survived") for src, by in _statuses(scratch).items()}
    saved = json.loads(rows.read_text(encoding="utf-8"))
    per_module = saved.get("per_module", saved)
    return {src: sorted(row["survivors"]) for src, row in per_module.items() if (scratch / "mutants" / src).exists()}


def classify(scratch: Path, rows: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per source file: the survivors by kind, each with its function and its diff."""
    out: dict[str, dict[str, Any]] = {}
    for source, survivors in sorted(not_killed(scratch, rows).items()):
        if not survivors:
            continue
        by_name = functions((scratch / "mutants" / source).read_text(encoding="utf-8"))
        rows: dict[str, list[dict[str, str]]] = defaultdict(list)
        for name in survivors:
            short = name.rsplit(".", 1)[-1]
            stem = _NAME.match(short)
            original, mutant = by_name.get(f"{stem['stem']}__mutmut_orig") if stem else None, by_name.get(short)
            if original is None or mutant is None:
                rows["unreadable"].append({"name": name, "function": "", "diff": ""})
                continue
            function = stem["stem"].removeprefix("x_").replace("ǁ", ".").strip(".") if stem else short
            rows[kind_of(original, mutant)].append({"name": name, "function": function, "diff": diff(original, mutant)})
        out[source] = {
            "survivors": len(survivors),
            "by_kind": {k: len(v) for k, v in sorted(rows.items())},
            "by_function": dict(Counter(r["function"] for v in rows.values() for r in v).most_common()),
            "kinds": dict(rows),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scratch", type=Path, help="the folder `benchmarks/mutation.py --keep` ran in")
    parser.add_argument("--diffs", nargs="*", default=[], choices=[*KINDS, "unreadable"], help="print these kinds")
    parser.add_argument("--rows", type=Path, help="classify the survivors a saved `mutation.py --json` report lists")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = classify(args.scratch, args.rows)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    for source, row in result.items():
        print(f"{source}: {row['survivors']} survivors  {row['by_kind']}")
        for kind in args.diffs:
            for item in row["kinds"].get(kind, []):
                print(f"\n  [{kind}] {item['name']}\n" + "\n".join(f"    {line}" for line in item["diff"].splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
