"""The AccountVending state machine: one ASL file, with ${<Key>FunctionArn} placeholders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ASL_PATH = Path(__file__).with_name("account_vending.asl.json")
STATE_MACHINE_NAME = "AccountVending"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def definition_text() -> str:
    return ASL_PATH.read_text(encoding="utf-8")


def placeholders() -> set[str]:
    return set(PLACEHOLDER.findall(definition_text()))


def render(substitutions: dict[str, str]) -> str:
    """Fill the placeholders the way CloudFormation's DefinitionSubstitutions does; a missing one is an error."""
    missing = placeholders() - substitutions.keys()
    if missing:
        raise KeyError(f"no substitution for {sorted(missing)}")
    return PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], definition_text())


def definition(substitutions: dict[str, str]) -> dict[str, Any]:
    return json.loads(render(substitutions))
