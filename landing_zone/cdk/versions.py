"""tools/versions.env, the one place tool versions are written (read here for the buildspec, and by setup and CI)."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "tools" / "versions.env"
REQUIRED_KEYS = ("TERRAFORM_VERSION", "CHECKOV_VERSION", "TERRAFORM_PLATFORM", "BUILD_ARCHITECTURE")
_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=([A-Za-z0-9._/-]+)$")  # no quotes, spaces or expansion: bash agrees


def load_tool_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """KEY=VALUE lines; comments and blank lines skipped. Anything else is refused, so bash and Python agree."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected KEY=VALUE without quotes or spaces, got {raw!r}")
        values[match.group(1)] = match.group(2)
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return values
