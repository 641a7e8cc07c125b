"""The layer contract covers the whole code base: a new top-level module must be placed in a layer, or
import-linter would leave it unconstrained."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_top_level_module_is_in_a_layer() -> None:
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / ".importlinter")
    layered = set(re.split(r"[\s|:]+", config["importlinter:contract:layers"]["layers"])) - {""}
    modules = {
        f"vending.{p.stem if p.is_file() else p.name}"
        for p in (REPO_ROOT / "vending").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    modules |= {"landing_zone", "scps", "step_functions"}
    assert modules - layered == set(), "place these in .importlinter's layers"
