"""The suite's scheduling list (tests/conftest.py SLOW_MODULES): it names real modules, runs them first and marks
them slow, and make test keeps that order (xdist would otherwise reorder modules by their number of tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import conftest

REPO_ROOT = Path(__file__).resolve().parents[1]


class _Item:
    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.markers: list[str] = []

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.markers.append(marker.name)


def test_every_slow_module_exists_once() -> None:
    missing = [m for m in conftest.SLOW_MODULES if not (REPO_ROOT / m).is_file()]
    assert not missing, f"SLOW_MODULES names modules that do not exist: {missing}"
    assert len(set(conftest.SLOW_MODULES)) == len(conftest.SLOW_MODULES)


def test_slow_modules_run_first_longest_first_and_are_marked_slow() -> None:
    # GIVEN a collection in file order, a fast module first and the two longest modules last, in reverse
    first, second = conftest.SLOW_MODULES[:2]
    items = [_Item(n) for n in ("tests/test_a.py::t1", f"{second}::t", "tests/test_a.py::t2", f"{first}::t")]
    # WHEN the suite's hook orders it
    conftest.pytest_collection_modifyitems(None, items)  # type: ignore[arg-type]
    # THEN the longest module comes first, then the second; the others keep their order after them, unmarked
    assert [i.nodeid for i in items] == [f"{first}::t", f"{second}::t", "tests/test_a.py::t1", "tests/test_a.py::t2"]
    assert [i.markers for i in items] == [["slow"], ["slow"], [], []]


def test_make_test_keeps_the_collection_order_of_modules() -> None:
    # xdist's default (--loadscope-reorder) sorts modules by test count, which would start the longest last
    assert "--no-loadscope-reorder" in (REPO_ROOT / "scripts" / "test.sh").read_text()


class _Config:
    def __init__(self, dist: str) -> None:
        self.dist = dist
        self.option = type("Option", (), {"loadscopereorder": True})()

    def getvalue(self, name: str) -> object:
        return {"dist": self.dist, "tx": ["2*popen"]}.get(name)


def test_loadgroup_keeps_each_one_worker_folder_together_and_every_other_test_apart() -> None:
    # GIVEN make test-fast's distribution mode
    scheduler = conftest.pytest_xdist_make_scheduler(_Config("loadgroup"), None)  # type: ignore[arg-type]
    # WHEN nodeids are split into units of work
    units = {
        n: scheduler._split_scope(n)
        for n in (
            "tests/cdk/test_stack.py::a",
            "tests/cdk/test_synth_cache.py::b",
            "tests/browser/test_harness.py::c",
            "tests/browser/test_harness.py::d",
            "tests/vending/test_a.py::e",
            "tests/vending/test_a.py::f",
        )
    }
    # THEN each folder of ONE_WORKER_FOLDERS is one unit (one worker), and any other test is its own
    assert len(set(units.values())) == 4
    assert units["tests/cdk/test_stack.py::a"] == units["tests/cdk/test_synth_cache.py::b"]
    assert units["tests/browser/test_harness.py::c"] == units["tests/browser/test_harness.py::d"]
    assert units["tests/vending/test_a.py::e"] != units["tests/vending/test_a.py::f"]
    assert all((REPO_ROOT / folder).is_dir() for folder in conftest.ONE_WORKER_FOLDERS)
    # AND the other modes keep xdist's own scheduler; make test-fast is the one that asks for it
    assert conftest.pytest_xdist_make_scheduler(_Config("loadfile"), None) is None  # type: ignore[arg-type]
    assert "--dist loadgroup" in (REPO_ROOT / "Makefile").read_text()
