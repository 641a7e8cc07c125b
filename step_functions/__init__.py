"""The AccountVending state machine: one ASL file, with ${<Key>FunctionArn} placeholders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ASL_PATH = Path(__file__).with_name("account_vending.asl.json")
STATE_MACHINE_NAME = "AccountVending"
# Day 2 (change requests, retirement): a sibling machine built from the same functions and conventions.
LIFECYCLE_ASL_PATH = Path(__file__).with_name("account_lifecycle.asl.json")
LIFECYCLE_STATE_MACHINE_NAME = "AccountLifecycle"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def definition_text(path: Path = ASL_PATH) -> str:
    return path.read_text(encoding="utf-8")


def placeholders(path: Path = ASL_PATH) -> set[str]:
    return set(PLACEHOLDER.findall(definition_text(path)))


def render(substitutions: dict[str, str], path: Path = ASL_PATH) -> str:
    """Fill the placeholders the way CloudFormation's DefinitionSubstitutions does; a missing one is an error."""
    missing = placeholders(path) - substitutions.keys()
    if missing:
        raise KeyError(f"no substitution for {sorted(missing)}")
    return PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], definition_text(path))


def definition(substitutions: dict[str, str]) -> dict[str, Any]:
    return json.loads(render(substitutions))
