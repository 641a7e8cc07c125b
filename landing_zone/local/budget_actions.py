"""AWS Budgets actions on the emulator: moto 5.2.5's Budgets has budgets and notifications but no actions.

The spend fence's backstop (vending.budgets.freeze_budget_action: APPLY_SCP_POLICY of `vend-freeze` on the member
account when billing data shows the monthly budget crossed) needs CreateBudgetAction, DescribeBudgetAction,
DescribeBudgetActionsForBudget, DescribeBudgetActionsForAccount, DescribeBudgetActionHistories, UpdateBudgetAction,
DeleteBudgetAction and ExecuteBudgetAction. This adds them to moto's Budgets, on its own backend (so
`/moto-api/reset` clears them), validated as AWS validates: every request against botocore's service model (required
members, enums, lengths, patterns, the threshold's range: InvalidParameterException naming each), an unknown budget
or action is NotFoundException, the same action twice DuplicateRecordException, a running action
ResourceLockedException. https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CreateBudgetAction.html

"Billing data catches up" is not an API: `billing_caught_up(account, budget, actual_usd)` is the emulator's stand-in
for Cost Explorer refreshing a budget's actual spend. Each STANDBY action whose threshold that spend crosses moves,
as in AWS: an AUTOMATIC one is executed, a MANUAL one waits PENDING for APPROVE_BUDGET_ACTION. Executing is done AS
THE ACTION'S EXECUTION ROLE: the role is assumed (by the emulated Budgets service, `EXECUTOR`) and the SCP is attached
through the emulator's own endpoint, so with IAM on the authorization middleware decides the attach: a role that may
not organizations:AttachPolicy leaves the action EXECUTION_FAILURE with AWS's denial in its history.
https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-controls.html

The patch refuses a moto that gained any of these operations (tests/emulator/test_budget_actions.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from copy import deepcopy
from importlib.metadata import version
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from landing_zone.local.patching import MotoChanged, added, require

REGION = "us-east-1"
OPERATIONS = (
    "CreateBudgetAction",
    "DescribeBudgetAction",
    "DescribeBudgetActionsForBudget",
    "DescribeBudgetActionsForAccount",
    "DescribeBudgetActionHistories",
    "UpdateBudgetAction",
    "DeleteBudgetAction",
    "ExecuteBudgetAction",
)
# Statuses in which AWS refuses to update, delete or execute an action (ResourceLockedException).
LOCKED = frozenset({"EXECUTION_IN_PROGRESS", "REVERSE_IN_PROGRESS", "RESET_IN_PROGRESS"})
# ExecutionType -> {status it applies to: what it does}
TRANSITIONS: dict[str, dict[str, str]] = {
    "APPROVE_BUDGET_ACTION": {"PENDING": "execute"},
    "RETRY_BUDGET_ACTION": {"EXECUTION_FAILURE": "execute", "REVERSE_FAILURE": "reverse", "RESET_FAILURE": "reset"},
    "REVERSE_BUDGET_ACTION": {"EXECUTION_SUCCESS": "reverse"},
    "RESET_BUDGET_ACTION": {
        "REVERSE_SUCCESS": "reset",
        "EXECUTION_FAILURE": "reset",
        "REVERSE_FAILURE": "reset",
        "PENDING": "reset",
        "RESET_FAILURE": "reset",
    },
}
_ACTIONS_ATTR = "_vend_budget_actions"

# role ARN -> a boto3 Session acting as that role, the way the Budgets service assumes an action's execution role.
# The local runtime sets it to the emulated Budgets service's identity once IAM is on (landing_zone/local/runtime.py);
# by default the process's own credentials assume the role (moto without IAM checks).
Executor = Callable[[str], boto3.Session]


def _assume_with_default_credentials(role_arn: str) -> boto3.Session:
    sts = boto3.Session(region_name=REGION).client("sts")
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="AWSBudgetsActions", DurationSeconds=900)
    c = credentials["Credentials"]
    return boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=REGION,
    )


EXECUTOR: list[Executor] = [_assume_with_default_credentials]


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


# --- validation against botocore's model -------------------------------------------------------------------------


@functools.cache
def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("budgets")


@functools.cache
def _pattern(text: str) -> re.Pattern[str] | None:
    # The model's patterns are Java regular expressions; `(?i)` in the middle is refused by Python's re.
    flags = re.IGNORECASE if "(?i)" in text else 0
    try:
        return re.compile(text.replace("(?i)", ""), flags)
    except re.error:
        return None


def _problems(shape: Any, value: Any, where: str) -> Iterator[str]:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{where or 'request'}: must be an object"
            return
        for name in shape.required_members:
            if value.get(name) is None:
                yield f"{where + '.' if where else ''}{name}: missing required parameter"
        for name, member in shape.members.items():
            if value.get(name) is not None:
                yield from _problems(member, value[name], f"{where + '.' if where else ''}{name}")
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            yield f"{where or 'request'}: unknown parameter(s) {', '.join(unknown)}"
    elif kind == "list":
        if not isinstance(value, list):
            yield f"{where}: must be a list"
            return
        if "min" in meta and len(value) < meta["min"]:
            yield f"{where}: at least {meta['min']} item(s)"
        if "max" in meta and len(value) > meta["max"]:
            yield f"{where}: at most {meta['max']} item(s)"
        for i, item in enumerate(value):
            yield from _problems(shape.member, item, f"{where}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            yield f"{where}: must be an object"
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{where}: must be a string"
            return
        if shape.enum and value not in shape.enum:
            yield f"{where}: {value!r} is not one of {', '.join(shape.enum)}"
        if "min" in meta and len(value) < meta["min"]:
            yield f"{where}: length at least {meta['min']}"
        if "max" in meta and len(value) > meta["max"]:
            yield f"{where}: length at most {meta['max']}"
        pattern = None if meta.get("sensitive") or "pattern" not in meta else _pattern(meta["pattern"])
        if pattern is not None and not pattern.search(value):
            yield f"{where}: {value!r} does not match {meta['pattern']}"
    elif kind in ("double", "float", "integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield f"{where}: must be a number"
            return
        if "min" in meta and value < meta["min"]:
            yield f"{where}: {value} is below the minimum {meta['min']}"
        if "max" in meta and value > meta["max"]:
            yield f"{where}: {value} is above the maximum {meta['max']}"


def validate(operation: str, params: dict[str, Any]) -> None:
    """InvalidParameterException naming every member botocore's model refuses."""
    shape = _model().operation_model(operation).input_shape
    problems = list(_problems(shape, params, ""))
    if problems:
        raise _error("InvalidParameterException", "; ".join(problems))


def _check_definition(action_type: str, definition: dict[str, Any]) -> None:
    wanted = {
        "APPLY_SCP_POLICY": "ScpActionDefinition",
        "APPLY_IAM_POLICY": "IamActionDefinition",
        "RUN_SSM_DOCUMENTS": "SsmActionDefinition",
    }[action_type]
    given = sorted(k for k, v in definition.items() if v is not None)
    if given != [wanted]:
        raise _error(
            "InvalidParameterException",
            f"Definition: an {action_type} action takes exactly {wanted} (got {', '.join(given) or 'none'})",
        )


# --- state ---------------------------------------------------------------------------------------------------------


def _store(backend: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """account id -> action id -> {"Action": ..., "History": [...]} on moto's Budgets backend."""
    if not hasattr(backend, _ACTIONS_ATTR):
        setattr(backend, _ACTIONS_ATTR, {})
    return getattr(backend, _ACTIONS_ATTR)  # type: ignore[no-any-return]


def _backend(account_id: str) -> Any:
    from moto.budgets.models import budgets_backends

    return budgets_backends[account_id]["aws"]


def _budget(backend: Any, account_id: str, name: str) -> Any:
    budget = backend.budgets[account_id].get(name)
    if budget is None:
        raise _error("NotFoundException", f"Unable to find budget: {name} - the budget doesn't exist.")
    return budget


def _entry(backend: Any, account_id: str, name: str, action_id: str) -> dict[str, Any]:
    _budget(backend, account_id, name)
    entry = _store(backend).get(account_id, {}).get(action_id)
    if entry is None or entry["Action"]["BudgetName"] != name:
        raise _error("NotFoundException", f"Unable to find action: {action_id} of budget {name}.")
    return entry


def _record(entry: dict[str, Any], event: str, message: str) -> None:
    entry["History"].append(
        {
            "Timestamp": time.time(),
            "Status": entry["Action"]["Status"],
            "EventType": event,
            "ActionHistoryDetails": {"Message": message, "Action": deepcopy(entry["Action"])},
        }
    )


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("NotificationType", "ActionType", "ActionThreshold", "Definition")
    return all(json.dumps(a.get(k), sort_keys=True) == json.dumps(b.get(k), sort_keys=True) for k in keys)


# --- execution as the execution role ----------------------------------------------------------------------------


def _run(entry: dict[str, Any], step: str) -> None:
    """Execute, reverse or reset one action (the status moves as AWS shows it); never raises."""
    action = entry["Action"]
    if step == "reset":
        action["Status"] = "STANDBY"
        _record(entry, "EXECUTE_ACTION", "Action reset to STANDBY")
        return
    reverse = step == "reverse"
    action["Status"] = "REVERSE_IN_PROGRESS" if reverse else "EXECUTION_IN_PROGRESS"
    try:
        if action["ActionType"] != "APPLY_SCP_POLICY":
            raise NotImplementedError(
                f"the emulator executes APPLY_SCP_POLICY actions only, not {action['ActionType']}"
            )
        scp = action["Definition"]["ScpActionDefinition"]
        org = EXECUTOR[0](action["ExecutionRoleArn"]).client("organizations", region_name=REGION)
        for target in scp["TargetIds"]:
            try:
                if reverse:
                    org.detach_policy(PolicyId=scp["PolicyId"], TargetId=target)
                else:
                    org.attach_policy(PolicyId=scp["PolicyId"], TargetId=target)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code")
                if code not in ("DuplicatePolicyAttachmentException", "PolicyNotAttachedException"):
                    raise
    except (ClientError, BotoCoreError, NotImplementedError) as e:
        action["Status"] = "REVERSE_FAILURE" if reverse else "EXECUTION_FAILURE"
        _record(entry, "EXECUTE_ACTION", f"{type(e).__name__}: {e}")
        return
    action["Status"] = "REVERSE_SUCCESS" if reverse else "EXECUTION_SUCCESS"
    _record(entry, "EXECUTE_ACTION", "Action reversed" if reverse else "Action executed")


def _crossed(action: dict[str, Any], limit: float, actual: float) -> bool:
    threshold = action["ActionThreshold"]
    value = float(threshold["ActionThresholdValue"])
    bar = limit * value / 100.0 if threshold["ActionThresholdType"] == "PERCENTAGE" else value
    return actual > bar


def billing_caught_up(
    account_id: str, budget_name: str, actual_usd: float, *, forecasted_usd: float | None = None
) -> list[dict[str, Any]]:
    """What Billing does when its data refreshes: the budget's actual (and forecasted) spend become these, and every
    STANDBY action of the budget whose threshold they cross is triggered (AUTOMATIC: executed as its role; MANUAL:
    PENDING). Returns the budget's actions as DescribeBudgetActionsForBudget would. Local only: not an AWS API."""
    backend = _backend(account_id)
    budget = _budget(backend, account_id, budget_name)
    spend = budget.budget.setdefault("CalculatedSpend", {})
    spend["ActualSpend"] = {"Amount": format(actual_usd, "f"), "Unit": "USD"}
    if forecasted_usd is not None:
        spend["ForecastedSpend"] = {"Amount": format(forecasted_usd, "f"), "Unit": "USD"}
    limit = float(budget.budget["BudgetLimit"]["Amount"])
    out = []
    for entry in list(_store(backend).get(account_id, {}).values()):
        action = entry["Action"]
        if action["BudgetName"] != budget_name:
            continue
        reading = actual_usd if action["NotificationType"] == "ACTUAL" else forecasted_usd
        if action["Status"] == "STANDBY" and reading is not None and _crossed(action, limit, reading):
            if action["ApprovalModel"] == "AUTOMATIC":
                _run(entry, "execute")
            else:
                action["Status"] = "PENDING"
                _record(entry, "SYSTEM", "Threshold crossed: waiting for approval")
        out.append(deepcopy(action))
    return out


def actions_of(account_id: str) -> list[dict[str, Any]]:
    """Every action of one account (what a test or the orphan count asserts on)."""
    return [deepcopy(e["Action"]) for e in _store(_backend(account_id)).get(account_id, {}).values()]


# --- the operations ------------------------------------------------------------------------------------------------


def _params(response: Any, operation: str) -> dict[str, Any]:
    params = json.loads(response.body or "{}")
    validate(operation, params)
    return dict(params)


def create_budget_action(self: Any) -> str:
    p = _params(self, "CreateBudgetAction")
    _check_definition(p["ActionType"], p["Definition"])
    backend, account_id = self.backend, p["AccountId"]
    _budget(backend, account_id, p["BudgetName"])
    actions = _store(backend).setdefault(account_id, {})
    if any(e["Action"]["BudgetName"] == p["BudgetName"] and _same(e["Action"], p) for e in actions.values()):
        raise _error("DuplicateRecordException", f"An identical action already exists for budget {p['BudgetName']}.")
    action_id = str(uuid.uuid4())
    action = {
        "ActionId": action_id,
        "BudgetName": p["BudgetName"],
        "NotificationType": p["NotificationType"],
        "ActionType": p["ActionType"],
        "ActionThreshold": p["ActionThreshold"],
        "Definition": p["Definition"],
        "ExecutionRoleArn": p["ExecutionRoleArn"],
        "ApprovalModel": p["ApprovalModel"],
        "Status": "STANDBY",
        "Subscribers": p["Subscribers"],
    }
    actions[action_id] = {"Action": action, "History": []}
    _record(actions[action_id], "CREATE_ACTION", "Action created")
    return json.dumps({"AccountId": account_id, "BudgetName": p["BudgetName"], "ActionId": action_id})


def describe_budget_action(self: Any) -> str:
    p = _params(self, "DescribeBudgetAction")
    entry = _entry(self.backend, p["AccountId"], p["BudgetName"], p["ActionId"])
    return json.dumps({"AccountId": p["AccountId"], "BudgetName": p["BudgetName"], "Action": entry["Action"]})


def _page(items: list[dict[str, Any]], p: dict[str, Any], key: str) -> str:
    start = int(p.get("NextToken") or 0) if str(p.get("NextToken") or "0").isdigit() else -1
    if start < 0 or start > len(items):
        raise _error("InvalidNextTokenException", "The NextToken is not valid")
    size = int(p.get("MaxResults") or 100)
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return json.dumps(page)


def describe_budget_actions_for_budget(self: Any) -> str:
    p = _params(self, "DescribeBudgetActionsForBudget")
    _budget(self.backend, p["AccountId"], p["BudgetName"])
    found = [e["Action"] for e in _store(self.backend).get(p["AccountId"], {}).values()]
    return _page([a for a in found if a["BudgetName"] == p["BudgetName"]], p, "Actions")


def describe_budget_actions_for_account(self: Any) -> str:
    p = _params(self, "DescribeBudgetActionsForAccount")
    return _page([e["Action"] for e in _store(self.backend).get(p["AccountId"], {}).values()], p, "Actions")


def describe_budget_action_histories(self: Any) -> str:
    p = _params(self, "DescribeBudgetActionHistories")
    entry = _entry(self.backend, p["AccountId"], p["BudgetName"], p["ActionId"])
    return _page(entry["History"], p, "ActionHistories")


def update_budget_action(self: Any) -> str:
    p = _params(self, "UpdateBudgetAction")
    entry = _entry(self.backend, p["AccountId"], p["BudgetName"], p["ActionId"])
    action = entry["Action"]
    if action["Status"] in LOCKED:
        raise _error("ResourceLockedException", f"The action is {action['Status']}; try again once it settles.")
    if p.get("Definition") is not None:
        _check_definition(action["ActionType"], p["Definition"])
    old = deepcopy(action)
    for key in (
        "NotificationType",
        "ActionThreshold",
        "Definition",
        "ExecutionRoleArn",
        "ApprovalModel",
        "Subscribers",
    ):
        if p.get(key) is not None:
            action[key] = p[key]
    _record(entry, "UPDATE_ACTION", "Action updated")
    return json.dumps(
        {"AccountId": p["AccountId"], "BudgetName": p["BudgetName"], "OldAction": old, "NewAction": action}
    )


def delete_budget_action(self: Any) -> str:
    p = _params(self, "DeleteBudgetAction")
    entry = _entry(self.backend, p["AccountId"], p["BudgetName"], p["ActionId"])
    if entry["Action"]["Status"] in LOCKED:
        raise _error(
            "ResourceLockedException", f"The action is {entry['Action']['Status']}; try again once it settles."
        )
    _store(self.backend)[p["AccountId"]].pop(p["ActionId"])
    return json.dumps({"AccountId": p["AccountId"], "BudgetName": p["BudgetName"], "Action": entry["Action"]})


def execute_budget_action(self: Any) -> str:
    p = _params(self, "ExecuteBudgetAction")
    entry = _entry(self.backend, p["AccountId"], p["BudgetName"], p["ActionId"])
    status, kind = entry["Action"]["Status"], p["ExecutionType"]
    step = TRANSITIONS[kind].get(status)
    if step is None:
        raise _error("ResourceLockedException", f"{kind} does not apply to an action that is {status}.")
    _run(entry, step)
    return json.dumps(
        {"AccountId": p["AccountId"], "BudgetName": p["BudgetName"], "ActionId": p["ActionId"], "ExecutionType": kind}
    )


def _delete_budget(original: Any) -> Any:
    def delete_budget(self: Any) -> str:
        # AWS deletes a budget's actions with it.
        answer = str(original(self))
        params = json.loads(self.body or "{}")
        actions = _store(self.backend).get(str(params.get("AccountId")), {})
        for action_id in [k for k, e in actions.items() if e["Action"]["BudgetName"] == params.get("BudgetName")]:
            actions.pop(action_id)
        return answer

    return delete_budget


MEMBERS = {
    "create_budget_action": create_budget_action,
    "describe_budget_action": describe_budget_action,
    "describe_budget_actions_for_budget": describe_budget_actions_for_budget,
    "describe_budget_actions_for_account": describe_budget_actions_for_account,
    "describe_budget_action_histories": describe_budget_action_histories,
    "update_budget_action": update_budget_action,
    "delete_budget_action": delete_budget_action,
    "execute_budget_action": execute_budget_action,
}


@contextlib.contextmanager
def emulated_budget_actions() -> Iterator[None]:
    """The Budgets action operations on moto's BudgetsResponse until exit (refused if moto has any of them)."""
    from moto.budgets.responses import BudgetsResponse

    from landing_zone.local.patching import replaced

    require(BudgetsResponse, "backend")
    for name in MEMBERS:
        if hasattr(BudgetsResponse, name):
            raise MotoChanged(
                f"moto {version('moto')}: BudgetsResponse.{name} now exists; review the emulator's budget actions "
                "(landing_zone/local/budget_actions.py)"
            )
    with added(BudgetsResponse, MEMBERS), replaced(BudgetsResponse, "delete_budget", ("self",), _delete_budget):
        yield


@contextlib.contextmanager
def executing_as(executor: Executor) -> Iterator[None]:
    """Actions execute through `executor` (role ARN -> a session as that role) until exit."""
    EXECUTOR.insert(0, executor)
    try:
        yield
    finally:
        EXECUTOR.remove(executor)
