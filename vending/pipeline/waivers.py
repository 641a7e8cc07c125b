"""Platform-owned waivers for the policy stage (policies/waivers.yaml).

A team cannot waive its own controls: a `# checkov:skip` (or any inline suppression) written in a stack is never
honoured by the policy stage. The only exceptions are the entries of this file, which lives in the platform's
repository and changes through its review: each names the rule (a project Rego rule or a checkov check id), the stacks
and resource addresses it covers (globs), why, until when and who approved it. Every finding a waiver covers is reported
in the stage output with that waiver, and an expired waiver covers nothing.

A file that does not parse, or an entry with a missing field, an unknown key, a bad date or an empty reason, is
:class:`InvalidWaivers`, naming the entry and the field: the stage fails rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vending.exceptions import InvalidWaivers
from vending.settings import REPO_ROOT

WAIVERS_FILE = REPO_ROOT / "policies" / "waivers.yaml"


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(min_length=1)  # a Rego rule name (gpu-instance-tier) or a checkov check id (CKV_AWS_24)
    stack: str = Field(min_length=1)  # glob over the stack key: team-mlops/staging/eks, */*/eks, *
    address: str = Field(min_length=1)  # glob over the resource address: module.*.aws_eks_cluster.this
    reason: str = Field(min_length=10)
    expires: date
    approver: str = Field(min_length=3)

    @field_validator("reason", "approver")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    def covers(self, rule: str, stack: str, address: str) -> bool:
        return rule == self.rule and fnmatchcase(stack, self.stack) and fnmatchcase(address, self.address)

    def expired(self, today: date) -> bool:
        return today > self.expires

    def describe(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "stack": self.stack,
            "address": self.address,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
            "approver": self.approver,
        }


def load_waivers(path: Path = WAIVERS_FILE) -> tuple[Waiver, ...]:
    """The waivers in the platform's file; no file means no waivers. Raises InvalidWaivers naming the bad entry."""
    if not path.exists():
        return ()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InvalidWaivers(f"waiver file {path.name} does not parse: {e}") from e
    if raw is None:
        return ()
    entries = raw.get("waivers") if isinstance(raw, dict) and set(raw) == {"waivers"} else None
    if not isinstance(entries, list):
        raise InvalidWaivers(f"waiver file {path.name} must be a mapping with one key, `waivers`, holding a list")
    waivers: list[Waiver] = []
    for i, entry in enumerate(entries):
        # YAML reads an unquoted 2027-06-30 as a date and a quoted one as a string; both are accepted.
        if isinstance(entry, dict) and isinstance(entry.get("expires"), datetime):
            raise InvalidWaivers(f"waiver {i} in {path.name}: expires must be a date (YYYY-MM-DD), not a timestamp")
        try:
            waivers.append(Waiver.model_validate(entry))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg']}" for err in e.errors())
            raise InvalidWaivers(f"waiver {i} in {path.name} ({_label(entry)}): {problems}") from e
    return tuple(waivers)


def _label(entry: Any) -> str:
    if isinstance(entry, dict):
        return f"rule {entry.get('rule')!r}, address {entry.get('address')!r}"
    return f"not a mapping: {entry!r}"[:80]


def today_utc() -> date:
    return datetime.now(UTC).date()


def match(
    waivers: Iterable[Waiver], rule: str, stack: str, address: str, today: date
) -> tuple[Waiver | None, Waiver | None]:
    """(the live waiver covering this finding, else None; an expired one that would have, else None)."""
    expired = None
    for waiver in waivers:
        if waiver.covers(rule, stack, address):
            if not waiver.expired(today):
                return waiver, None
            expired = expired or waiver
    return None, expired
