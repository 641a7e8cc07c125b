"""benchmarks/mutation_classify.py: each kind of mutant is told apart, and a change of logic is never filed under a
harmless kind (the negative control: a flipped comparison or a dropped `not` next to a message is `logic`)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mutation_classify.py"


@pytest.fixture(scope="module")
def classify() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_classify", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_classify"] = module
    spec.loader.exec_module(module)
    return module


ORIGINAL = """
def x_check__mutmut_orig(value: int, limit: int = 3, *, name: str = "v") -> str:
    if value > limit:
        raise ValueError(f"{name} too big: {value}")
    return "ok"
"""


def _function(source: str) -> ast.FunctionDef:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ('f"{name} too big', 'f"XX{name} too bigXX', "string"),
        ('return "ok"', 'return "XXokXX"', "string"),
        ("value: int,", "value: str,", "annotation"),
        (") -> str:", ") -> int:", "annotation"),
        ('name: str = "v"', "name: str = None", "default"),
        ("limit: int = 3", "limit: int = 4", "default"),
        ("value > limit", "value >= limit", "logic"),
        ("value > limit", "not value > limit", "logic"),
        ('raise ValueError(f"{name} too big: {value}")', "raise ValueError(None)", "logic"),
        ('return "ok"', "return None", "logic"),
    ],
)
def test_kind_of_names_what_the_mutant_changed(classify: ModuleType, old: str, new: str, kind: str) -> None:
    # GIVEN a function and a mutant that changes one thing in it
    assert old in ORIGINAL
    mutant = ORIGINAL.replace(old, new, 1).replace("__mutmut_orig", "__mutmut_7")
    # THEN the kind names that thing
    assert classify.kind_of(_function(ORIGINAL), _function(mutant)) == kind


def test_a_number_inside_the_body_is_a_number(classify: ModuleType) -> None:
    original = _function("def x_f__mutmut_orig(a):\n    return a[:64]\n")
    mutant = _function("def x_f__mutmut_2(a):\n    return a[:65]\n")
    assert classify.kind_of(original, mutant) == "number"
    assert classify.diff(original, mutant) == "-    return a[:64]\n+    return a[:65]"
