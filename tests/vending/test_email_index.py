"""The intake's e-mail ownership check reads the requests table's e-mail index, never the table (issue 23 item 7):
a taken e-mail is refused naming the team that owns it, with no Scan made; benchmarks/email_ownership.py holds it at
10,000 requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from vending.exceptions import InvalidRequest
from vending.intake import preflight
from vending.layout import Layout
from vending.lifecycle import RequestStore, Status
from vending.request import VendingRequest
from vending.settings import Settings


def _operations(client: Any) -> list[str]:
    made: list[str] = []
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: made.append(model.name))
    return made


def test_a_taken_account_email_is_refused_from_the_index_without_a_scan(
    store: RequestStore, make_request: Callable[..., VendingRequest], layout: Layout
) -> None:
    # GIVEN team-alpha's record owns the account e-mail team-bravo would derive (an adopted account, say)
    alpha = make_request(team="team-alpha")
    store.reserve(alpha, "vend-team-alpha-staging-a1")
    taken = layout.account_email("team-bravo", "staging")
    store.update(alpha.request_id, status=Status.READY, step="RecordReady", account_email=taken.upper())
    made = _operations(store._items.client)
    # WHEN team-bravo is requested THEN it is refused naming team-alpha's request
    with pytest.raises(
        InvalidRequest, match=re.escape(f"the account e-mail {taken.lower()} belongs to team team-alpha's")
    ):
        preflight(make_request(team="team-bravo"), store, Settings.from_env().terraform_root, layout)
    # AND the check read the index (a Query), never the whole table (a Scan)
    assert "Query" in made and "Scan" not in made, made
    # AND a free e-mail passes, the same way
    made.clear()
    preflight(make_request(team="team-charlie"), store, Settings.from_env().terraform_root, layout)
    assert "Scan" not in made, made
