"""The one list of Lambda functions (vending/functions.py) against the ASL files that call them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import step_functions
from vending.functions import FUNCTIONS, TOKEN_COMPLETERS, by_key

# Each ASL file -> the symbolic resource (vending.functions.RESOURCE_NAMES) that is its state machine's ARN.
MACHINES: dict[Path, str] = {
    step_functions.ASL_PATH: "state_machine",
    step_functions.LIFECYCLE_ASL_PATH: "lifecycle_state_machine",
}
TASK_RESPONSE_ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat")


def _tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _tasks(state[key]["States"])


def _callback_tasks() -> list[tuple[str, str, str]]:
    """(machine resource symbol, Task state name, function key) for every `.waitForTaskToken` Task of every ASL."""
    found = []
    for path, machine in MACHINES.items():
        for name, state in _tasks(json.loads(step_functions.definition_text(path))["States"]):
            if state["Resource"].endswith(".waitForTaskToken"):
                placeholder = step_functions.PLACEHOLDER.fullmatch(state["Parameters"]["FunctionName"])
                assert placeholder, f"{path.name}:{name} calls a function that is not a placeholder"
                found.append((machine, name, placeholder.group(1).removesuffix("FunctionArn")))
    return found


def _granted(key: str, action: str, resource: str) -> bool:
    return any(action in g.actions and resource in g.resources for g in by_key(key).grants)


def test_callback_tasks_are_found_in_both_state_machines() -> None:
    # GIVEN the ASL files THEN the walk sees the callback Tasks of each (guards the parametrization below)
    assert {(m, n) for m, n, _ in _callback_tasks()} == {
        ("state_machine", "CheckPipelines"),
        ("lifecycle_state_machine", "CheckChangePipelines"),
        ("lifecycle_state_machine", "CheckDestroys"),
    }


@pytest.mark.parametrize(("machine", "state", "waiter"), _callback_tasks())
def test_functions_every_token_completer_is_granted_on_the_machine_of_the_token(
    machine: str, state: str, waiter: str
) -> None:
    # GIVEN a `.waitForTaskToken` Task of a state machine and every function that may complete its token
    assert waiter in TOKEN_COMPLETERS, f"{state} waits on {waiter}: declare who completes its token"
    for completer in TOKEN_COMPLETERS[waiter]:
        # THEN each may send every task response on that machine (AWS authorizes SendTask* against the ARN of
        # the state machine the token belongs to)
        missing = [a for a in TASK_RESPONSE_ACTIONS if not _granted(completer, a, machine)]
        assert not missing, f"{completer} completes {machine}:{state} tokens but lacks {missing} on {machine}"


def test_functions_only_token_completers_may_send_task_responses() -> None:
    # GIVEN every declared function THEN only the declared token completers hold SendTask* (least privilege)
    completers = {k for keys in TOKEN_COMPLETERS.values() for k in keys}
    holders = {f.key for f in FUNCTIONS for g in f.grants if set(g.actions) & set(TASK_RESPONSE_ACTIONS)}
    assert holders == completers
