"""vending.exceptions: every error is named, and the state machine retries exactly the retryable ones."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

import step_functions
from vending import exceptions
from vending.exceptions import RETRYABLE_ERROR_NAMES, TERMINAL_ERROR_NAMES, RetryableError, TerminalError

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    # The function's runtime exited before answering (a crash, found by benchmarks/chaos_soak.py): every step is
    # safe to retry, so a crashed step is retried rather than recorded FAILED.
    "Runtime.ExitError",
    # The function ran past its timeout and Lambda killed it (fault `timeout`, landing_zone/local/faults.py): its
    # partial effect is one a retry converges (every step is create-or-converge), so it is retried like a crash.
    "Sandbox.Timedout",
}


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        if state.get("Type") == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found.update(_tasks(branch["States"]))
        if "Iterator" in state:
            found.update(_tasks(state["Iterator"]["States"]))
        if "ItemProcessor" in state:
            found.update(_tasks(state["ItemProcessor"]["States"]))
    return found


ASL_FILES = (step_functions.ASL_PATH, step_functions.LIFECYCLE_ASL_PATH)


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_asl_retry_lists_equal_the_retryable_classes(asl: Path) -> None:
    # GIVEN a state machine file (AccountVending, and its day-2 sibling AccountLifecycle)
    definition = json.loads(asl.read_text())
    lambda_tasks = {n: s for n, s in _tasks(definition["States"]).items() if "Lambda" in json.dumps(s)}
    assert lambda_tasks
    for name, state in lambda_tasks.items():
        retried = {error for rule in state.get("Retry", []) for error in rule["ErrorEquals"]}
        # WHEN its retry rules are read, THEN they are the Lambda transient errors plus exactly our retryable classes
        ours = retried - LAMBDA_TRANSIENT
        assert retried >= LAMBDA_TRANSIENT, f"{name}: missing the Lambda transient-error retry"
        assert ours == set(RETRYABLE_ERROR_NAMES), f"{name}: retries {sorted(ours)}, retryable classes are " + str(
            sorted(RETRYABLE_ERROR_NAMES)
        )
        # AND nothing retryable is caught as terminal before its retries run out
        for rule in state.get("Catch", []):
            assert not set(rule["ErrorEquals"]) & set(TERMINAL_ERROR_NAMES) & set(RETRYABLE_ERROR_NAMES)


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda p: p.name)
def test_asl_names_only_errors_that_exist(asl: Path) -> None:
    definition = asl.read_text()
    named = {
        e
        for state in _tasks(json.loads(definition)["States"]).values()
        for rule in (*state.get("Retry", []), *state.get("Catch", []))
        for e in rule["ErrorEquals"]
    }
    platform = ("Lambda.", "States.", "Runtime.", "Sandbox.")  # errors Lambda and Step Functions name themselves
    unknown = {e for e in named if not e.startswith(platform) and not hasattr(exceptions, e)}
    assert not unknown, f"the ASL names errors exceptions.py does not define: {sorted(unknown)}"


def test_every_error_class_lives_in_exceptions_and_is_retryable_or_terminal() -> None:
    # GIVEN every class the shipped packages define
    stray: list[str] = []
    for path in [*REPO_ROOT.joinpath("vending").rglob("*.py"), *REPO_ROOT.joinpath("scps").rglob("*.py")]:
        if path.name == "exceptions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                if any(b.endswith(("Error", "Exception", "Failed", "Unavailable")) for b in bases):
                    stray.append(f"{path.relative_to(REPO_ROOT)}:{node.name}")
    # THEN none is an error class outside exceptions.py
    assert not stray
    # AND every named error is either retryable or terminal, never both
    assert not set(RETRYABLE_ERROR_NAMES) & set(TERMINAL_ERROR_NAMES)
    for name in (*RETRYABLE_ERROR_NAMES, *TERMINAL_ERROR_NAMES):
        cls = getattr(exceptions, name)
        assert issubclass(cls, RetryableError) != issubclass(cls, TerminalError)


def test_no_bare_builtin_errors_raised_outside_validators() -> None:
    # GIVEN the shipped code, WHEN raise statements are read, THEN ValueError only appears in pydantic validators
    offenders: list[str] = []
    for path in [*REPO_ROOT.joinpath("vending").rglob("*.py"), *REPO_ROOT.joinpath("scps").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        # Methods of pydantic models validate: pydantic turns their ValueError into a field error.
        model_methods = {
            id(f)
            for c in ast.walk(tree)
            if isinstance(c, ast.ClassDef) and any(ast.unparse(b) in {"BaseModel", "_Strict"} for b in c.bases)
            for f in c.body
        }
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef):
                continue
            is_validator = id(func) in model_methods or any("validator" in ast.unparse(d) for d in func.decorator_list)
            for node in ast.walk(func):
                if isinstance(node, ast.Raise) and node.exc is not None:
                    raised = ast.unparse(node.exc.func if isinstance(node.exc, ast.Call) else node.exc)
                    if raised in {"ValueError", "RuntimeError", "Exception", "VendingError"} and not is_validator:
                        offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} raises {raised}")
    assert not offenders
