"""Intake: everything the workflow will need is checked before anything exists, then the request is submitted.

The request model checks each field on its own; this checks the request against the platform: every stack resolves
(a committed folder or a template the platform renders), the GPU tier and regions exist in the layout, and the
account e-mail is not already another team's (from the lifecycle store's records: intent lives there, not in the
organization's listing). Every entry point (API, CLI, onboarding events) submits through `submit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vending.exceptions import InvalidRequest, StackUnresolvable
from vending.layout import Layout, cached_layout
from vending.lifecycle import RequestStore
from vending.naming import overflowing
from vending.pipeline.stacks import resolve_stack
from vending.request import VendingRequest, invalid
from vending.service import StartExecution, SubmitResult, submit_request


def preflight(request: VendingRequest, store: RequestStore, terraform_root: Path, layout: Layout | None = None) -> None:
    """Raise InvalidRequest naming each field the platform cannot serve; nothing is written."""
    layout = layout or cached_layout()
    problems: list[dict[str, str]] = []
    unresolved = []
    for stack in request.stacks:
        try:
            resolve_stack(request.team, request.stage, stack, terraform_root)
        except StackUnresolvable as e:
            unresolved.append(str(e))
    if unresolved:
        problems.append({"field": "stacks", "message": "; ".join(unresolved)})
    if request.gpu_tier not in layout.gpu_tiers:
        problems.append({"field": "gpu_tier", "message": f"not a GPU tier of the layout: {sorted(layout.gpu_tiers)}"})
    outside = [r for r in request.regions if r not in layout.organization.allowed_regions]
    if outside:
        problems.append({"field": "regions", "message": f"{outside} not in the allow-list"})
    # Every name derived from the slug must fit where it goes (account e-mail, roles, rules...): vending.naming.
    problems.extend(
        {"field": "team", "message": m}
        for m in overflowing(request.team, request.stage, request.stacks, request.regions, layout)
    )
    email = layout.account_email(request.team, request.stage).lower()
    for owner_request, owner_team in store.owners_of_email(email):  # the e-mail index: no scan of the table
        if owner_team != request.team:
            problems.append(
                {
                    "field": "team",
                    "message": f"the account e-mail {email} belongs to team {owner_team}'s "
                    f"account (request {owner_request})",
                }
            )
            break
    if problems:
        raise invalid(problems)


def submit(
    sfn: Any,
    store: RequestStore,
    state_machine_arn: str,
    request: VendingRequest,
    *,
    terraform_root: Path,
    start: StartExecution | None = None,
) -> SubmitResult:
    preflight(request, store, terraform_root)
    return submit_request(sfn, store, state_machine_arn, request, start=start)


__all__ = ["InvalidRequest", "preflight", "submit"]
