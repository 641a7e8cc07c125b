"""benchmarks/mutation.py's reading of benchmarks/mutation_survivors.md: only the names under "## Equivalent" explain a
survivor, so a mutant listed as open (or named in a pass's notes) still fails the benchmark."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mutation.py"


def _mutation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TEXT = """# Mutation survivors

## Equivalent

- `scps.evaluate.x_decide__mutmut_225` — the same for every input.
- `vending.trust.x_trust_policy__mutmut_48` — the same.

## Third pass

- `scps.evaluate.x__overlap__mutmut_7` — killed by a new test.

## Open (gaps not yet killed)

- `scps.evaluate.x__resource_one__mutmut_131` — wrong where the original is wrong.
"""


def test_only_the_equivalent_section_explains_a_survivor() -> None:
    assert _mutation().explained_survivors(TEXT) == {
        "scps.evaluate.x_decide__mutmut_225",
        "vending.trust.x_trust_policy__mutmut_48",
    }


def test_every_line_of_the_real_equivalent_section_is_read() -> None:
    text = (SCRIPT.parent / "mutation_survivors.md").read_text(encoding="utf-8")
    section = text.split("## Equivalent", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `", section, flags=re.MULTILINE)
    assert len(_mutation().explained_survivors(text)) == len(listed) > 0


def test_one_file_under_a_pattern_entry_takes_that_entry_s_tests() -> None:
    mutation = _mutation()
    guardrails = mutation.TESTS["vending/guardrails/*.py"]
    assert mutation.tests_for("vending/guardrails/orgapi.py") == guardrails
    assert mutation.tests_for("scps/render.py") == mutation.TESTS["scps/render.py"]
    # (control: a file no entry covers has no tests, and run() refuses it rather than mutating it untested)
    assert mutation.tests_for("vending/api/app.py") is None
