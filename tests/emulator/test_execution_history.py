"""GetExecutionHistory paged as AWS pages it (landing_zone/local/execution_history.py), and the demo's follower that
reads only what happened since its last poll."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local import execution_history
from landing_zone.local.execution_history import (
    DEFAULT_PAGE,
    LARGEST_PAGE,
    events_after,
    execution_history_paged,
    history_page,
    whole_history,
)

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:run"
EVENTS = [{"id": i, "type": "PassStateEntered"} for i in range(1, 251)]


def _ids(page: dict[str, Any]) -> list[int]:
    return [e["id"] for e in page["events"]]


def _all(reverse: bool, max_results: int | None) -> list[int]:
    ids: list[int] = []
    page = history_page(EVENTS, ARN, max_results=max_results, reverse=reverse)
    while True:
        ids += _ids(page)
        if "nextToken" not in page:
            return ids
        page = history_page(EVENTS, ARN, max_results=max_results, reverse=reverse, token=page["nextToken"])


def test_pages_are_maxresults_long_default_100_oldest_first_unless_reversed() -> None:
    first = history_page(EVENTS, ARN)
    assert _ids(first) == list(range(1, DEFAULT_PAGE + 1)) and "nextToken" in first
    assert _ids(history_page(EVENTS, ARN, max_results=0)) == _ids(first)  # 0 is the default, as in AWS
    assert _ids(history_page(EVENTS, ARN, max_results=3, reverse=True)) == [250, 249, 248]
    # every event once, in order, whatever the page size; the last page carries no token
    assert _all(False, 7) == list(range(1, 251)) and _all(True, None) == list(range(250, 0, -1))
    assert "nextToken" not in history_page(EVENTS, ARN, max_results=LARGEST_PAGE)
    assert "nextToken" not in history_page(EVENTS[:100], ARN)  # exactly one full page: no empty page after it


@pytest.mark.parametrize(
    "token",
    [
        "not-base64-json",
        history_page(EVENTS, ARN.replace(":run", ":other"), max_results=10)["nextToken"],  # another execution's
        history_page(EVENTS, ARN, max_results=10, reverse=True)["nextToken"],  # the other order's
    ],
)
def test_a_token_not_handed_out_for_this_call_is_refused(token: str) -> None:
    from moto.stepfunctions.exceptions import InvalidToken

    with pytest.raises(InvalidToken):
        history_page(EVENTS, ARN, max_results=10, token=token)


@pytest.mark.parametrize("max_results", [-1, LARGEST_PAGE + 1, "10"])
def test_maxresults_outside_0_to_1000_is_refused(max_results: Any) -> None:
    from moto.stepfunctions.exceptions import ValidationException

    with pytest.raises(ValidationException, match="maxResults"):
        history_page(EVENTS, ARN, max_results=max_results)


@pytest.fixture
def sfn(request: pytest.FixtureRequest) -> tuple[Any, str]:
    request.getfixturevalue("aws")  # plain moto, for this test
    client = boto3.client("stepfunctions")
    machine = client.create_state_machine(
        name="sm",
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sm",
    )["stateMachineArn"]
    return client, client.start_execution(stateMachineArn=machine)["executionArn"]


def test_the_patch_takes_effect_and_the_whole_history_is_still_reachable(
    sfn: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, arn = sfn
    unpaged = client.get_execution_history(executionArn=arn, maxResults=2)["events"]
    assert len(unpaged) > 2  # control: moto alone ignores maxResults
    with execution_history_paged():
        page = client.get_execution_history(executionArn=arn, maxResults=2)
        assert [e["id"] for e in page["events"]] == [e["id"] for e in unpaged[:2]] and page["nextToken"]
        newest = client.get_execution_history(executionArn=arn, maxResults=1, reverseOrder=True)["events"]
        assert newest == unpaged[-1:]
        with pytest.raises(ClientError, match="InvalidToken"):
            client.get_execution_history(executionArn=arn, nextToken="forged")
        assert whole_history(client, arn) == unpaged
        # AND the demo's follower: from nothing it reads everything; after the newest event, nothing
        assert events_after(client, arn, 0) == unpaged
        assert events_after(client, arn, unpaged[1]["id"]) == unpaged[2:]
        assert events_after(client, arn, unpaged[-1]["id"]) == []
        # across pages: a follower reading two events a page still gets everything after the last seen, in order
        monkeypatch.setattr(execution_history, "FOLLOW_PAGE", 2)
        assert events_after(client, arn, 0) == unpaged
        assert events_after(client, arn, unpaged[0]["id"]) == unpaged[1:]
    # AND the patch is gone on exit
    assert client.get_execution_history(executionArn=arn, maxResults=2)["events"] == unpaged
