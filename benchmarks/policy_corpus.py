"""The pipeline policy stage on its violating and compliant corpora (issue 20): caught, leaked, false positives.

    .venv/bin/python benchmarks/policy_corpus.py [--before main] [--json]
    source .vend/env && .venv/bin/python benchmarks/policy_corpus.py --regenerate   # VEND_TF_PROVIDER_MIRROR from setup

The corpora are Terraform stacks (tests/pipeline/corpus/cases.py), planned for real into
tests/pipeline/corpus/plans/<name>.json (`--regenerate` runs terraform init/plan/show -json for each, with the
hashicorp/aws provider from the mirror and no AWS calls). Each plan is evaluated twice:
- after: this tree's rules (policies/rego) and evaluator, with the platform's waivers (policies/waivers.yaml);
- before: the rules of a git ref (`--before`, default main) as that ref's stage ran them: every rule on the whole plan,
  and any rule that fails to evaluate fails the whole stage (it stops the plan, so it counts as caught for a violating
  case and as a false positive for a compliant one, and it hides every other finding).
A violating case is caught only when the rule it names stops it (another rule's finding does not count); a compliant
case is a false positive when any rule stops it. Only the Rego part of the stage is counted here: checkov's inline
skips are shown by tests/pipeline/test_checkov_skips.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.pipeline.corpus.cases import CLASSES, STAGE, CorpusCase, all_cases, header  # noqa: E402
from vending.layout import load_layout  # noqa: E402
from vending.pipeline.policy import PolicyContext, evaluate_plan_document  # noqa: E402
from vending.pipeline.waivers import load_waivers  # noqa: E402

PLANS = REPO / "tests" / "pipeline" / "corpus" / "plans"


def plan_file(case: CorpusCase) -> Path:
    return PLANS / f"{case.name}.json"


def context(case: CorpusCase) -> PolicyContext:
    return PolicyContext.from_layout(
        load_layout(),
        case.tier,
        team=case.team,
        stage=STAGE,
        regions=case.regions,
        stack=f"{case.team}/{STAGE}/corpus-{case.name}",
    )


# --- regenerate ---------------------------------------------------------------------------------------------------


def _cli_config(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    mirror = os.environ.get("VEND_TF_PROVIDER_MIRROR")
    if mirror:
        cfg = workdir / "cli.tfrc"
        cfg.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
        env["TF_CLI_CONFIG_FILE"] = str(cfg)
    return env


def regenerate(cases: list[CorpusCase]) -> None:
    PLANS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="policy-corpus-") as tmp:
        env = _cli_config(Path(tmp))
        for case in cases:
            stack = Path(tmp) / case.name
            stack.mkdir()
            (stack / "providers.tf").write_text(header(case))
            (stack / "main.tf").write_text(case.hcl)
            for rel, text in case.files.items():
                (stack / rel).parent.mkdir(parents=True, exist_ok=True)
                (stack / rel).write_text(text)
            for argv in (
                ["terraform", "init", "-input=false", "-no-color"],
                ["terraform", "plan", "-input=false", "-no-color", "-out=plan.bin"],
            ):
                proc = subprocess.run(argv, cwd=stack, env=env, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"{case.name}: {' '.join(argv[:2])} failed:\n{proc.stdout[-2000:]}{proc.stderr}")
            shown = subprocess.run(
                ["terraform", "show", "-json", "plan.bin"],
                cwd=stack,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            doc = json.loads(shown.stdout)
            doc.pop("timestamp", None)
            plan_file(case).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            shutil.rmtree(stack / ".terraform", ignore_errors=True)
            print(f"planned {case.name}", file=sys.stderr)


# --- evaluate -----------------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    stopped: bool
    by_expected: bool
    rules: list[str]
    errors: list[str]


def after_verdict(case: CorpusCase, doc: dict[str, Any], waivers: Any) -> Verdict:
    report = evaluate_plan_document(doc, context(case), waivers=waivers)
    rules = sorted({v.rule for v in report.violations})
    errors = [str(e) for e in report.errors]
    return Verdict(not report.ok, case.rule in rules, rules, errors)


def before_rules(ref: str) -> Path:
    """The policies/rego tree of a git ref, extracted to a temporary directory."""
    out = Path(tempfile.mkdtemp(prefix="policy-before-"))
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "policies/rego"], cwd=REPO, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(out, filter="data")
    return out / "policies" / "rego"


def before_verdict(case: CorpusCase, doc: dict[str, Any], rego_dir: Path) -> Verdict:
    """As the old stage ran: the rule packages present at that ref, on the whole plan; the first error fails it."""
    import regorus

    engine = regorus.Engine()
    for path in sorted(rego_dir.rglob("*.rego")):
        engine.add_policy_from_file(str(path))
    engine.add_data(context(case).to_data())
    engine.set_input_json(json.dumps(doc))
    packages = [p.removeprefix("data.vend.") for p in engine.get_packages() if not p.startswith("data.vend.lib")]
    rules: set[str] = set()
    for package in packages:
        try:
            found = json.loads(engine.eval_rule_as_json(f"data.vend.{package}.deny"))
        except (RuntimeError, ValueError) as e:
            return Verdict(True, False, [], [f"{package}: {' '.join(str(e).split())[:200]}"])
        rules |= {str(item.get("rule")) for item in found}
    return Verdict(bool(rules), case.rule in rules, sorted(rules), [])


def figures(verdicts: list[tuple[CorpusCase, Verdict]]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {cls: Counter() for cls in CLASSES}
    for case, v in verdicts:
        row = out[case.cls]
        if case.violating:
            row["violating"] += 1
            row["caught" if v.by_expected else ("stopped by an error or another rule" if v.stopped else "leaked")] += 1
        else:
            row["compliant"] += 1
            row["false positives" if v.stopped else "passed"] += 1
    return {cls: dict(c) for cls, c in out.items()}


def evaluate(before_ref: str | None) -> dict[str, Any]:
    cases = all_cases()
    missing = [c.name for c in cases if not plan_file(c).exists()]
    if missing:
        raise SystemExit(f"no plan for {missing}: run with --regenerate (needs terraform and the provider mirror)")
    waivers = load_waivers()
    docs = {c.name: json.loads(plan_file(c).read_text()) for c in cases}
    after = [(c, after_verdict(c, docs[c.name], waivers)) for c in cases]
    result: dict[str, Any] = {
        "cases": {"violating": sum(c.violating for c in cases), "compliant": sum(not c.violating for c in cases)},
        "after": figures(after),
        "after_cases": {c.name: v.__dict__ for c, v in after},
    }
    if before_ref:
        rego = before_rules(before_ref)
        try:
            before = [(c, before_verdict(c, docs[c.name], rego)) for c in cases]
        finally:
            shutil.rmtree(rego.parent.parent, ignore_errors=True)
        result["before_ref"] = before_ref
        result["before"] = figures(before)
        result["before_cases"] = {c.name: v.__dict__ for c, v in before}
    return result


def _row(f: dict[str, int]) -> str:
    return (
        f"{f.get('caught', 0)}/{f.get('violating', 0)} caught, {f.get('leaked', 0)} leaked, "
        f"{f.get('stopped by an error or another rule', 0)} stopped otherwise, "
        f"{f.get('false positives', 0)}/{f.get('compliant', 0)} false positives"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="plan every corpus stack again with terraform")
    parser.add_argument("--missing", action="store_true", help="plan only the corpus stacks that have no plan yet")
    parser.add_argument("--before", default="main", help="git ref whose rules give the 'before' figures ('' = none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.regenerate or args.missing:
        regenerate([c for c in all_cases() if args.regenerate or not plan_file(c).exists()])
    result = evaluate(args.before or None)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(f"corpus: {result['cases']['violating']} violating, {result['cases']['compliant']} compliant plans")
        for cls, title in CLASSES.items():
            print(f"\n{cls}: {title}")
            if "before" in result:
                print(f"  before ({result['before_ref']}): {_row(result['before'][cls])}")
            print(f"  after:  {_row(result['after'][cls])}")
        for name, v in result["after_cases"].items():
            case = next(c for c in all_cases() if c.name == name)
            if (case.violating and not v["by_expected"]) or (not case.violating and v["stopped"]):
                print(f"  ! {name}: rules {v['rules']} errors {v['errors']}")
    after = result["after"]
    leaks = sum(f.get("leaked", 0) + f.get("stopped by an error or another rule", 0) for f in after.values())
    false_positives = sum(f.get("false positives", 0) for f in after.values())
    return 1 if leaks or false_positives else 0


if __name__ == "__main__":
    raise SystemExit(main())
