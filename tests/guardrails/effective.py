"""Effective permissions of an account under its SCPs, for the remediation property and tamper tests.

The probes and the evaluation are the audit's own (vending.guardrails.effective, on scps.evaluate); what is left here
is test-only: reading the documents straight from moto's backend, and failing loudly on a condition operator IAM does
not define (which would never match) instead of letting it be silently inert.

Definition used by the tests: an account's effective permissions are
- `denies`: every Deny statement (canonical JSON, Sid included) attached on its path root -> OUs -> account, and
- `allowed`: the subset of PROBES that the SCPs on that path let through.
"More permissive than X" = a probe allowed that X denies, or a deny of X gone.
"""

from __future__ import annotations

import json
from typing import Any

from scps.evaluate import unknown_operators
from scps.render import FULL_AWS_ACCESS, GuardrailSet
from vending.guardrails import effective as domain
from vending.guardrails.effective import (
    EC2_TYPES,
    FULL_ACCESS_DOC,
    PROBES,
    SAGEMAKER_TYPES,
    TAGS,
    TEAM_ROLE,
    Effective,
    Probe,
)
from vending.guardrails.intent import AccountIntent
from vending.layout import Layout

__all__ = [
    "EC2_TYPES",
    "FULL_ACCESS_DOC",
    "PROBES",
    "SAGEMAKER_TYPES",
    "TAGS",
    "TEAM_ROLE",
    "Effective",
    "Probe",
    "actual_levels",
    "allowed",
    "effective",
    "intended_levels",
]


def _strict(levels: list[list[Any]]) -> None:
    documents = [json.loads(d) if isinstance(d, str) else d for docs in levels for d in docs]
    unknown = unknown_operators(documents)
    if unknown:
        # An operator IAM does not define never matches: a Deny using it would silently stop protecting.
        raise AssertionError(f"SCPs use condition operators IAM does not define: {unknown}")


def allowed(levels: list[list[Any]], probe: Probe, account: str) -> bool:
    _strict(levels)
    return domain.allowed(levels, probe, account)


def effective(levels: list[list[Any]], account: str) -> Effective:
    _strict(levels)
    return domain.effective(levels, account)


def actual_levels(backend: Any, account_id: str) -> list[list[Any]]:
    """SCP documents on the account's path, read straight from moto's backend (cheap enough to run per step)."""
    ous = {o.id: o for o in backend.ou}
    account = backend.get_account_by_id(account_id)
    chain = [account]
    parent = ous.get(account.parent_id)
    while parent is not None:
        chain.append(parent)
        parent = ous.get(getattr(parent, "parent_id", None))
    return [
        [
            FULL_ACCESS_DOC if p.name == FULL_AWS_ACCESS else p.content
            for p in holder.attached_policies
            if p.type == "SERVICE_CONTROL_POLICY"
        ]
        for holder in reversed(chain)
    ]


def intended_levels(layout: Layout, rendered: GuardrailSet, intent: AccountIntent) -> list[list[Any]]:
    del layout  # the rendered set already carries what the layout says
    return domain.intended_levels(rendered, intent)
