"""Organizations lists 20 policies a page, and the layout renders more SCPs than that: a test that reads one page
would find a policy on the second missing (and an assertion that one is absent would pass for nothing)."""

from __future__ import annotations

from typing import Any


def all_policies(org: Any, kind: str) -> list[dict[str, Any]]:
    """Every policy of one kind (SERVICE_CONTROL_POLICY, TAG_POLICY...), across every page."""
    return [p for page in org.get_paginator("list_policies").paginate(Filter=kind) for p in page["Policies"]]
