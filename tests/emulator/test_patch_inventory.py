"""Every guarded moto patch has a test that names it.

A patch is a public context manager in landing_zone/local/ that changes moto through landing_zone/local/patching.py
(`replaced`, `added`, `require`). The emulator enters each one; a patch no test names is a change to moto's behaviour
that nothing shows taking effect, nor refusing a changed moto. (A private one is a part entered only by its
module's public patch, and tested through it.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUARDS = ("replaced(", "added(", "require(", "require_instance_attribute(")


def patches(source: str) -> list[str]:
    """The context managers of a module that change moto through the guarded helpers."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        decorators = {ast.unparse(d) for d in node.decorator_list}
        if decorators & {"contextlib.contextmanager", "contextmanager"} and any(
            g in ast.get_source_segment(source, node) for g in GUARDS
        ):
            found.append(node.name)
    return found


def untested(sources: dict[str, str], tests: dict[str, str]) -> list[str]:
    """`module:patch` for each patch no test file names."""
    missing = []
    for module, source in sorted(sources.items()):
        for name in patches(source):
            if not any(re.search(rf"\b{name}\b", text) for text in tests.values()):
                missing.append(f"{module}:{name}")
    return missing


def _read(paths: list[Path]) -> dict[str, str]:
    return {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in paths}


def test_every_guarded_patch_is_named_by_a_test() -> None:
    sources = _read(sorted((REPO / "landing_zone" / "local").rglob("*.py")))
    tests = _read([p for p in sorted((REPO / "tests").rglob("*.py")) if p.name != Path(__file__).name])
    found = [f"{m}:{n}" for m, s in sources.items() for n in patches(s)]
    assert len(found) >= 20, found  # the inventory reads the patches (today 20 and more), not nothing
    assert untested(sources, tests) == []


def test_negative_control_a_patch_no_test_names_is_reported() -> None:
    planted = """
import contextlib
from landing_zone.local.patching import replaced

@contextlib.contextmanager
def moto_does_it_our_way():
    with replaced(object, "x", ("self",), lambda o: o):
        yield

@contextlib.contextmanager
def not_a_patch():
    yield

def _helper():
    return replaced
"""
    assert patches(planted) == ["moto_does_it_our_way"]
    assert untested({"planted.py": planted}, {"tests/t.py": "not_a_patch()"}) == ["planted.py:moto_does_it_our_way"]
    assert untested({"planted.py": planted}, {"tests/t.py": "with moto_does_it_our_way():"}) == []
