"""The embedded default: the whole service on moto's server, on loopback.

- moto runs in server mode in this process; its Step Functions interpreter executes the real ASL file;
- every Lambda function is created in the emulator from vending/functions.py, and its invocations are
  dispatched to the handler in-process (moto would otherwise need Docker);
- Terraform pipeline workers run beside it and talk to the same endpoint.

IAM is enforced once deploy() has laid the service down (moto's IAM authentication): every invocation runs under
its own function role, assumed through the emulator's STS per invocation; the Step Functions interpreter calls
Lambda as the state machine role; this process (the CLI, the demo, the tests) acts as the platform admin role;
Terraform runs as the vended account's access role. Every call a function makes is recorded (OPERATIONS).
Every call is decided once, as AWS decides it, by landing_zone/local/authorization (SCPs, resource policies,
boundaries, session policies, real resource ARNs, condition keys and the authorizations AWS makes on the side);
moto keeps only its signature check.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import gc
import importlib
import io
import json
import logging
import os
import re
import threading
import time
import traceback
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
import requests
from botocore.exceptions import ClientError

import step_functions
from landing_zone.grant_statements import (
    PLATFORM_APPROVER_ROLE,
    PORTAL_ADMIN_ROLE,
    PORTAL_APPROVER_ROLE,
    api_caller_role_statements,
    approver_role_statements,
    backstop_role_statements,
    backstop_role_trust,
    grant_statements,
    lead_role_names,
    pipeline_role_statements,
)
from landing_zone.local import faults
from landing_zone.local.authorization.middleware import warm_up
from landing_zone.local.authorization.requests import BUDGETS_PRIVILEGES
from landing_zone.local.authorization.server import authorizing_server, bodyless_signatures, moto_identity_check_off
from landing_zone.local.billing_and_quotas import emulated_cost_allocation_tags, emulated_service_quotas
from landing_zone.local.budget_actions import emulated_budget_actions, executing_as
from landing_zone.local.callbacks import fix_task_token_callbacks
from landing_zone.local.dynamodb import atomic_conditional_writes
from landing_zone.local.event_sources import redelivering_sqs_event_sources
from landing_zone.local.execution_history import execution_history_paged
from landing_zone.local.execution_names import execution_names_unique
from landing_zone.local.lifecycle import LIFECYCLE_ROLE, deploy_lifecycle
from landing_zone.local.llm_services import llm_services_completed
from landing_zone.local.moto_costs import (
    access_key_lookup_creates_no_iam,
    kms_private_keys_on_first_use,
    moto_modules_listed_once,
)
from landing_zone.local.organizations import access_role_administrator, unique_account_emails
from landing_zone.local.patching import require
from landing_zone.local.state_change_events import (
    aws_sources_are_reserved,
    cross_account_events_keep_their_envelope,
    state_change_events,
    targets_get_the_whole_event,
)
from vending.accounts import CreationSlots
from vending.aws.sessions import new_session
from vending.budgets import BACKSTOP_PREFIX, BACKSTOP_ROLE_NAME
from vending.context import invocation_session
from vending.functions import FUNCTIONS, LIFECYCLE_KEYS, STATE_MACHINE_KEYS, FunctionSpec, by_key
from vending.github_setup import DEFAULT_PRIVATE_KEY_SECRET
from vending.guardrails.reconcile import reconcile_organization
from vending.layout import Layout, cached_layout
from vending.lifecycle import EMAIL_INDEX, requests_table_definition
from vending.onboarding import ONBOARDING_EVENT_PATTERN
from vending.pipeline import orchestration
from vending.pipeline.approvals import DynamoDbApprovalStore
from vending.settings import Settings
from vending.spend.fence import ensure_freeze_policy
from vending.spend.freezes import freezes_table_definition
from vending.spend.readings import TTL_ATTRIBUTE as READING_TTL_ATTRIBUTE
from vending.spend.usage import usage_table_definition
from vending.usage_forwarding import USAGE_EVENT_PATTERN, platform_bus_statement

REGION = "us-east-1"
# The deployer's placeholder credentials: accepted while deploy() lays the service down (IAM authentication off),
# refused (InvalidClientTokenId) once it is on. They open nothing outside this process.
EMULATOR_KEY = "emulator"
PLATFORM_ADMIN_ROLE = "PlatformAdmin"
STATE_MACHINE_ROLE = "AccountVendingStateMachineRole"
# Plays the Lambda service: the only principal that assumes the function roles.
LAMBDA_SERVICE_ROLE = "EmulatorLambdaService"
# Plays AWS Budgets: the only principal besides budgets.amazonaws.com that assumes the backstop's execution role.
BUDGETS_SERVICE_ROLE = "EmulatorBudgetsService"
# Plays CodeBuild's project role: the local pipeline workers act as it (landing_zone.grant_statements).
PIPELINE_ROLE = "VendingPipelineRole"
FAST_WORKFLOW = {
    "account_poll_seconds": 1,
    "account_poll_backoff": 1.5,
    "account_poll_cap_seconds": 5,
    "account_poll_max": 120,
    "pipeline_poll_seconds": 5,
    "pipeline_poll_max": 300,
    "pipeline_heartbeat_seconds": 600,  # two local workers: a queued run (no heartbeat yet) may wait for its turn
    "pipeline_timeout_seconds": 1800,
}


class LocalLambdaContext:
    """The parts of the Lambda context object powertools reads."""

    def __init__(self, spec: FunctionSpec, account_id: str) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{account_id}:function:{spec.name}"
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Denial:
    function: str  # the FunctionSpec name
    key: str
    action: str  # service:Operation as IAM names it
    message: str


def iam_action(model: Any) -> str:
    """The IAM action a botocore operation is authorized as: the signing name, then the operation name."""
    service = model.service_model.signing_name
    return f"{service}:{_IAM_ACTION_ALIASES.get((service, model.name), model.name)}"


# Operations whose IAM action is not named after the operation.
_IAM_ACTION_ALIASES = {
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("lambda", "Invoke"): "InvokeFunction",
    **{("budgets", op): privilege for op, privilege in BUDGETS_PRIVILEGES.items()},
}


@dataclass
class OperationLog:
    """Every AWS call each function made, and every call that was refused, across threads."""

    calls: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    denials: list[Denial] = field(default_factory=list)
    invocations: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.denials.clear()
            self.invocations.clear()

    def record(self, key: str, action: str) -> None:
        with self._lock:
            self.calls[key][action] += 1

    def deny(self, denial: Denial) -> None:
        with self._lock:
            self.denials.append(denial)

    def invoked(self, key: str) -> None:
        with self._lock:
            self.invocations[key] += 1


OPERATIONS = OperationLog()


def least_privilege_report(
    log: OperationLog, authorized: Mapping[str, Mapping[str, int]] | None = None
) -> dict[str, dict[str, Any]]:
    """Per function: what it called, what it is granted, what it called without a grant, what it never used.

    `authorized` (the emulator's authorization log by role ARN, DecisionLog.by_principal) adds what AWS authorizes
    on the side of a call (kms:GenerateDataKey for an SSE-KMS PutObject, iam:PassRole, TagResource on create): a
    grant only those use is not unused."""
    report: dict[str, dict[str, Any]] = {}
    for spec in FUNCTIONS:
        granted = sorted({action for grant in spec.grants for action in grant.actions})
        used = dict(sorted(log.calls.get(spec.key, Counter()).items()))
        role = f":role/{function_role_name(spec)}"
        beside = sorted(
            {a for arn, actions in (authorized or {}).items() if arn.endswith(role) for a in actions} - set(used)
        )
        report[spec.key] = {
            "invocations": log.invocations.get(spec.key, 0),
            "used": used,
            "authorized_beside": beside,
            "granted": granted,
            "missing": [a for a in used if not any(fnmatch.fnmatchcase(a, g) for g in granted)],
            "unused": [g for g in granted if not any(fnmatch.fnmatchcase(a, g) for a in [*used, *beside])],
        }
    return report


_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnauthorizedOperation",
    "InvalidClientTokenId",
}


def _denial_of(http_response: Any, parsed: dict[str, Any]) -> str | None:
    """The refusal message when moto refused the call. moto answers refusals of JSON-protocol services with a
    403 and an XML body botocore cannot parse, so the body is read as well."""
    code = str(parsed.get("Error", {}).get("Code", ""))
    if code in _DENIED_CODES:
        return str(parsed["Error"].get("Message", code))
    if getattr(http_response, "status_code", 0) == 403:
        body = http_response.content.decode("utf-8", "replace")
        found = re.search(r"<Code>(\w+)</Code>\s*<Message>([^<]*)</Message>", body)
        if found and found.group(1) in _DENIED_CODES:
            return found.group(2)
    return None


@dataclass
class _Identities:
    """Credentials of the emulated AWS services, set by deploy() once the roles exist."""

    lambda_service: dict[str, str]
    state_machine: dict[str, str]
    account_id: str
    lifecycle_state_machine: dict[str, str] = field(default_factory=dict)


_IDENTITIES: _Identities | None = None
_RUNNING: Emulator | None = None  # the emulator deploy() switches enforcement on in


def _session(credentials: dict[str, str]) -> boto3.Session:
    return new_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


@functools.lru_cache(maxsize=8)
def _lambda_service_sts(access_key_id: str, secret_access_key: str, session_token: str, endpoint: str) -> Any:
    """The Lambda service's STS client, one per identity and endpoint rather than one per invocation: building a
    client is 7 ms, a third of what `vend api serve --emulator` spent per request. botocore clients are thread-safe.
    `endpoint` (the environment's, which the client reads) is only part of the key: another emulator, another client."""
    del endpoint
    credentials = {"AccessKeyId": access_key_id, "SecretAccessKey": secret_access_key, "SessionToken": session_token}
    return _session(credentials).client("sts")


def function_role_name(spec: FunctionSpec) -> str:
    return f"{spec.name}-role"


def function_session(spec: FunctionSpec, session_name: str) -> boto3.Session:
    """The function role's credentials for one invocation, assumed the way the Lambda service assumes them, with
    every call recorded under the function's key."""
    if _IDENTITIES is None:  # deploy() has not switched enforcement on: the process's own credentials
        session = new_session(region_name=REGION)
    else:
        role_arn = f"arn:aws:iam::{_IDENTITIES.account_id}:role/{function_role_name(spec)}"
        lambda_service = _IDENTITIES.lambda_service
        sts = _lambda_service_sts(
            lambda_service["AccessKeyId"],
            lambda_service["SecretAccessKey"],
            lambda_service["SessionToken"],
            os.environ.get("AWS_ENDPOINT_URL", ""),
        )
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64], DurationSeconds=900)[
            "Credentials"
        ]
        session = _session(credentials)

    def before_call(model: Any, **_: Any) -> None:
        OPERATIONS.record(spec.key, iam_action(model))

    session.events.register("before-call", before_call)
    session.events.register("after-call", _record_denials(spec.name, spec.key))
    return session


def role_sessions(key: str) -> Any:
    """A factory of function `key`'s sessions, one per invocation (a fresh AssumeRole, as Lambda's): what the portal
    and `vend api serve --emulator` run the API resolver under, so the emulator decides each of its calls against the
    Api function's role as AWS would. The caller stays whoever signed the request (requestContext.identity)."""
    spec = by_key(key)
    return lambda: function_session(spec, f"{spec.name}-{uuid.uuid4().hex[:12]}")


def _record_denials(name: str, key: str) -> Any:
    def after_call(model: Any, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if (message := _denial_of(http_response, parsed)) is not None:
            OPERATIONS.deny(Denial(name, key, iam_action(model), message))

    return after_call


def invoke_in_process(spec: FunctionSpec, event: Any, account_id: str) -> tuple[str, bool]:
    """Run the handler the way the Lambda runtime would: JSON in, JSON out, errors as errorType/errorMessage
    (Step Functions matches Retry and Catch on errorType), under the function role's own credentials."""
    module_name, _, attr = spec.handler.rpartition(".")
    context = LocalLambdaContext(spec, account_id)
    OPERATIONS.invoked(spec.key)
    denied_before = len(OPERATIONS.denials)
    injector = faults.active()
    drawn = injector.lambda_fault(spec.key) if injector is not None else None
    fault, cut = drawn if drawn is not None else (None, None)
    if injector is not None and fault in faults.LAMBDA_ERRORS:  # the handler never runs
        injector.record_runtime("lambda", spec.key, fault)
        return json.dumps(faults.lambda_error(fault, spec.key)), True
    try:
        session = function_session(spec, context.aws_request_id)
        handler = getattr(importlib.import_module(module_name), attr)
        with invocation_session(lambda: session), faults.invocation(spec.key, cut) as calls:
            try:
                result = handler(event, context)
            except faults.LambdaTimedOut:
                result = None
        if injector is not None and fault == "timeout":
            detail = f"cut off before {calls.cut_at} after {calls.calls} calls" if calls.cut_at else "answer lost"
            injector.record_runtime("lambda", spec.key, "timeout", detail)
            return json.dumps(faults.lambda_error("timeout", spec.key, spec.timeout_seconds, calls.cut_at)), True
        if injector is not None and fault == "stop_execution":
            _stop_from_outside(injector, spec.key, event)
        return json.dumps(result, default=str), False
    except Exception as e:
        message = str(e)
        denied = [d for d in OPERATIONS.denials[denied_before:] if d.key == spec.key]
        if denied:  # name the function and the action in the error the state machine records
            message = f"{spec.name} ({spec.key}) was denied {denied[-1].action}: {message}"
        error = {
            "errorType": type(e).__name__,
            "errorMessage": message,
            "stackTrace": traceback.format_exception(e)[-3:],
        }
        return json.dumps(error), True


def _stop_from_outside(injector: faults.FaultInjector, function_key: str, event: Any) -> None:
    """An operator's StopExecution on the execution this step belongs to, after the step did its work and before the
    state machine moves on (the interpreter waits for this answer, so no later state can start first)."""
    name = event.get("execution") if isinstance(event, dict) else None
    machines = [
        m
        for m in (os.environ.get("VEND_STATE_MACHINE_ARN", ""), os.environ.get("VEND_LIFECYCLE_STATE_MACHINE_ARN", ""))
        if ":stateMachine:" in m
    ]
    if not name or not machines:
        injector.record_runtime("lambda", function_key, "stop_execution", "no execution in the event: not stopped")
        return
    # A step such as CheckPipelines serves both machines: the execution is on whichever has one by that name.
    sfn = boto3.client("stepfunctions")  # the platform admin's (this process's credentials): outside the fault layer
    errors = []
    for machine in machines:
        arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        try:
            sfn.stop_execution(
                executionArn=arn, error="FaultInjected", cause=f"stopped from outside after {function_key}"
            )
        except ClientError as e:  # not this machine's execution, or one that already ended
            errors.append(f"{arn}: not stopped: {e}")
            continue
        injector.record_runtime("lambda", function_key, "stop_execution", arn)
        return
    injector.record_runtime("lambda", function_key, "stop_execution", "; ".join(errors))


def _install_lambda_dispatch() -> None:
    from moto.awslambda.models import LambdaFunction

    require(LambdaFunction, "_invoke_lambda", ("self", "event"))
    by_name = {f.name: f for f in FUNCTIONS}

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        spec = by_name.get(self.function_name)
        if spec is None:
            return json.dumps({"errorType": "FunctionNotFound", "errorMessage": self.function_name}), True, ""
        payload = json.loads(event) if isinstance(event, str) else event
        body, errored = invoke_in_process(spec, payload, self.account_id)
        return body, errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


def _interpreter_calls_lambda_as_state_machine_role() -> None:
    """moto's Step Functions interpreter invokes Lambda with fixed placeholder keys ("ak"/"sk"), which IAM
    authentication refuses; in AWS it acts as the state machine's role, so here it does too."""
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    require(lambda_eval_utils, "boto_client_for", ("region", "service", "state_credentials"))
    require(TimeoutSeconds, "DEFAULT_TIMEOUT_SECONDS")

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if _IDENTITIES is None:
            raise RuntimeError("the state machine ran before deploy() created its role")
        identities = _IDENTITIES

        def client_as(credentials: dict[str, str]) -> Any:
            client = _session(credentials).client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=f"http://localhost:{os.environ['MOTO_PORT']}",
                config=Config(  # as moto's own client: no retries, the interpreter's timeouts
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                ),
            )
            client.meta.events.register("after-call", _record_denials(STATE_MACHINE_ROLE, "StateMachine"))
            return client

        vending = client_as(identities.state_machine)
        if service != "lambda" or not identities.lifecycle_state_machine:
            return vending
        return _ByStateMachineRole(vending, client_as(identities.lifecycle_state_machine))

    lambda_eval_utils.boto_client_for = boto_client_for


class _ByStateMachineRole:
    """moto's interpreter does not say which state machine a Lambda task belongs to; in AWS each machine invokes
    under its own role. The AccountLifecycle role is used for the functions only it may invoke."""

    _LIFECYCLE_ONLY: ClassVar[set[str]] = {
        f.name for f in FUNCTIONS if f.key in LIFECYCLE_KEYS and f.key not in STATE_MACHINE_KEYS
    }

    def __init__(self, vending: Any, lifecycle: Any) -> None:
        self._vending, self._lifecycle = vending, lifecycle

    def invoke(self, **kwargs: Any) -> Any:
        name = str(kwargs.get("FunctionName", "")).rsplit(":", 1)[-1]
        return (self._lifecycle if name in self._LIFECYCLE_ONLY else self._vending).invoke(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._vending, name)


@contextlib.contextmanager
def iam_enforced() -> Iterator[None]:
    """moto's IAM authentication: every request is signed by a known principal and allowed by its policies."""
    from moto.core.authorization import enable_iam_authentication

    with enable_iam_authentication():
        yield


EMULATOR_GC_THRESHOLDS = (50_000, 10, 10)  # a young generation of 50,000 allocations; the older two as CPython's


@dataclass
class Emulator:
    """moto in server mode on loopback, with the real Step Functions interpreter switched on."""

    port: int = 0
    host: str = "127.0.0.1"
    _server: Any = None
    endpoint: str = ""
    enforcing: bool = False  # deploy() switches IAM on once the service is laid down
    _saved_env: dict[str, str] = field(default_factory=dict)
    _saved_moto: tuple[Any, ...] = ()
    _patches: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._saved_env = dict(os.environ)  # restored on stop: the emulator's settings are process-wide
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The interpreter logs every Fail state as an error; the request record already says why.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._server = authorizing_server(ThreadedMotoServer, self.host, self.port, lambda: self.enforcing)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port, self.endpoint = port, f"http://{host}:{port}"
        # moto's state lives in this process, not in the server: a new emulator starts from an empty AWS, as a
        # second one in the same process (two test modules) would otherwise find the first one's roles.
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=30).raise_for_status()
        os.environ["MOTO_PORT"] = str(port)  # moto's interpreter calls Lambda through this port
        from moto.awslambda.models import LambdaFunction
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        # Everything changed in moto is put back on stop, so in-process mock_aws users are unaffected afterwards.
        self._saved_moto = (
            json.dumps(default_user_config.get("stepfunctions", {})),
            LambdaFunction._invoke_lambda,
            lambda_eval_utils.boto_client_for,
        )
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        _install_lambda_dispatch()
        _interpreter_calls_lambda_as_state_machine_role()
        self._patches.enter_context(access_role_administrator())
        self._patches.enter_context(moto_modules_listed_once())
        self._patches.enter_context(kms_private_keys_on_first_use())
        self._patches.enter_context(access_key_lookup_creates_no_iam())
        self._patches.enter_context(execution_history_paged())
        self._patches.enter_context(execution_names_unique())
        self._patches.enter_context(unique_account_emails())
        self._patches.enter_context(atomic_conditional_writes())
        self._patches.enter_context(redelivering_sqs_event_sources())
        self._patches.enter_context(llm_services_completed())
        self._patches.enter_context(emulated_service_quotas())
        self._patches.enter_context(emulated_cost_allocation_tags())
        self._patches.enter_context(emulated_budget_actions())
        self._patches.enter_context(state_change_events())
        self._patches.enter_context(cross_account_events_keep_their_envelope())
        self._patches.enter_context(aws_sources_are_reserved())
        self._patches.enter_context(targets_get_the_whole_event())
        self._patches.callback(fix_task_token_callbacks())
        # moto keeps every account's backends in this process and each call makes and drops thousands of objects:
        # with CPython's default young generation (700) `vend demo` spent 14 % of its CPU in the collector, two thirds
        # of it in full collections of the whole heap (measured with gc.callbacks). Restored on stop.
        self._patches.callback(gc.set_threshold, *gc.get_threshold())
        gc.set_threshold(*EMULATOR_GC_THRESHOLDS)
        OPERATIONS.reset()
        global _RUNNING
        _RUNNING = self
        os.environ.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=EMULATOR_KEY,
            AWS_SECRET_ACCESS_KEY=EMULATOR_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
        )
        for stale in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(stale, None)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            os.environ.clear()
            os.environ.update(self._saved_env)
            boto3.DEFAULT_SESSION = None
            from moto.awslambda.models import LambdaFunction
            from moto.core.config import default_user_config
            from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

            global _IDENTITIES, _RUNNING
            _IDENTITIES, _RUNNING = None, None
            orchestration.WORKER_SESSION = None
            self._patches.close()  # IAM authentication off again, the access-role patch undone
            sfn_config, invoke, client_for = self._saved_moto
            default_user_config["stepfunctions"] = json.loads(sfn_config)
            LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]
            lambda_eval_utils.boto_client_for = client_for

    def enforce_iam(self) -> None:
        """Switch IAM on until stop(): moto checks signatures, the authorization middleware decides every call."""
        self._patches.enter_context(iam_enforced())
        self._patches.enter_context(moto_identity_check_off())
        self._patches.enter_context(bodyless_signatures())
        warm_up()  # read the service models and the authorization reference now, not inside the first call
        self.enforcing = True
        self._patches.callback(lambda: setattr(self, "enforcing", False))

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(port: int = 0) -> Emulator:
    return Emulator(port=port).start()


@dataclass
class Deployment:
    endpoint: str
    management_account_id: str
    organization_id: str
    state_machine_arn: str
    function_arns: dict[str, str]
    onboarding_queue_url: str
    settings: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _resource_arns(symbol: str, *, account: str, settings: Settings, layout: Layout) -> list[str]:
    table = f"arn:aws:dynamodb:{REGION}:{account}:table/"
    return {
        "requests_table": [table + settings.requests_table],
        "requests_email_index": [f"{table}{settings.requests_table}/index/{EMAIL_INDEX}"],
        "idempotency_table": [table + settings.idempotency_table],
        "pipeline_runs_table": [table + settings.pipeline_runs_table],
        "approvals_table": [table + settings.approvals_table],
        "creation_slots_table": [table + settings.creation_slots_table],
        "event_bus": [f"arn:aws:events:{REGION}:{account}:event-bus/{settings.event_bus_name}"],
        "state_machine": [f"arn:aws:states:{REGION}:{account}:stateMachine:{step_functions.STATE_MACHINE_NAME}"],
        "executions": [f"arn:aws:states:{REGION}:{account}:execution:{step_functions.STATE_MACHINE_NAME}:*"],
        "reports_bucket": [f"arn:aws:s3:::{settings.reports_bucket}/*"],
        "reports_listing": [f"arn:aws:s3:::{settings.reports_bucket}"],
        "codebuild_project": [f"arn:aws:codebuild:{REGION}:{account}:project/{settings.codebuild_project}"],
        "drift_function": [f"arn:aws:lambda:{REGION}:{account}:function:{by_key('StackDrift').name}"],
        "account_access_role": [f"arn:aws:iam::*:role/{layout.organization.access_role_name}"],
        "changes_table": [table + settings.changes_table],
        "closures_table": [table + settings.closures_table],
        "usage_table": [table + settings.usage_table],
        "freezes_table": [table + settings.freezes_table],
        "backstop_budgets": [
            f"arn:aws:budgets::{account}:budget/{BACKSTOP_PREFIX}*",
            f"arn:aws:budgets::{account}:budget/{BACKSTOP_PREFIX}*/action/*",
        ],
        "backstop_role": [f"arn:aws:iam::{account}:role/{BACKSTOP_ROLE_NAME}"],
        "cost_explorer": ["*"],
        "archive_bucket": [f"arn:aws:s3:::{settings.archive_bucket}", f"arn:aws:s3:::{settings.archive_bucket}/*"],
        "archive_key": [os.environ.get("VEND_ARCHIVE_KEY_ARN", f"arn:aws:kms:{REGION}:{account}:key/unset")],
        "github_app_secret": [f"arn:aws:secretsmanager:{REGION}:{account}:secret:{DEFAULT_PRIVATE_KEY_SECRET}-??????"],
        "lifecycle_state_machine": [
            f"arn:aws:states:{REGION}:{account}:stateMachine:{step_functions.LIFECYCLE_STATE_MACHINE_NAME}"
        ],
        "lifecycle_executions": [
            f"arn:aws:states:{REGION}:{account}:execution:{step_functions.LIFECYCLE_STATE_MACHINE_NAME}:*"
        ],
    }[symbol]


def local_org_arns(account: str, organization_id: str) -> Any:
    """The organization ARNs the CDK stack scopes Organizations grants to (landing_zone.cdk.base.org_arns)."""
    base = f"arn:aws:organizations::{account}"

    def org_arns(kind: str) -> list[str]:
        return {
            "account": [f"{base}:account/{organization_id}/*"],
            "ou": [f"{base}:ou/{organization_id}/ou-*"],
            "root": [f"{base}:root/{organization_id}/r-*"],
            "policy": [
                f"{base}:policy/{organization_id}/service_control_policy/p-*",
                f"{base}:policy/{organization_id}/tag_policy/p-*",
            ],
            "awspolicy": ["arn:aws:organizations::aws:policy/service_control_policy/p-*"],
        }[kind]

    return org_arns


def _event_queue(session: boto3.Session, queue: str, rule: str, pattern: dict[str, Any], function_arn: str) -> None:
    """A rule on the default bus -> an SQS queue with a dead-letter queue -> a function's event source mapping."""
    sqs, events, lam = session.client("sqs"), session.client("events"), session.client("lambda")
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=queue,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function_arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )


def _function_policy(
    spec: FunctionSpec, *, account: str, organization_id: str, settings: Settings, layout: Layout
) -> dict[str, Any]:
    """The function role's policy, rendered by the same code as the CDK stack's (landing_zone.grant_statements)."""
    statements: list[dict[str, Any]] = []
    for grant in spec.grants:
        statements += grant_statements(
            grant,
            arns=lambda symbol: _resource_arns(symbol, account=account, settings=settings, layout=layout),
            org_arns=local_org_arns(account, organization_id),
        )
    statements.append(
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/{spec.name}:*",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def _trust(service: str, emulated_by: str | None = None) -> str:
    """The role's trust policy as in AWS; in the emulator the service principal is played by a role, named next to
    it (moto checks only AWS principals)."""
    principal: dict[str, str] = {"Service": service}
    if emulated_by:
        principal["AWS"] = emulated_by
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _admin_role(iam: Any, name: str, account: str, policy: dict[str, Any]) -> None:
    trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
        MaxSessionDuration=43200,
    )
    iam.put_role_policy(RoleName=name, PolicyName="emulator", PolicyDocument=json.dumps(policy))


def _assume(sts: Any, account: str, role: str) -> dict[str, str]:
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="emulator", DurationSeconds=43200
    )["Credentials"]
    return {k: credentials[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def _enforce_iam(session: boto3.Session, account: str, iam: Any) -> dict[str, str]:
    """The identities the emulated services act as, then IAM authentication on. This process becomes the platform
    admin (the CLI and the API's callers); the returned credentials are the admin's."""
    global _IDENTITIES
    if _RUNNING is None:
        raise RuntimeError("deploy(enforce_iam=True) needs a running Emulator in this process")
    function_roles = [f"arn:aws:iam::{account}:role/{function_role_name(spec)}" for spec in FUNCTIONS]
    _admin_role(
        iam,
        LAMBDA_SERVICE_ROLE,
        account,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": function_roles}],
        },
    )
    _admin_role(
        iam,
        BUDGETS_SERVICE_ROLE,
        account,
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": f"arn:aws:iam::{account}:role/{BACKSTOP_ROLE_NAME}",
                }
            ],
        },
    )
    _admin_role(
        iam,
        PLATFORM_ADMIN_ROLE,
        account,
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    )
    settings, layout = Settings.from_env(), cached_layout()
    table = f"arn:aws:dynamodb:{REGION}:{account}:table/"
    statements = pipeline_role_statements(
        runs_table=table + settings.pipeline_runs_table,
        approvals_table=table + settings.approvals_table,
        access_role=f"arn:aws:iam::*:role/{layout.organization.access_role_name}",
        state_machines=[
            f"arn:aws:states:{REGION}:{account}:stateMachine:{step_functions.STATE_MACHINE_NAME}",
            f"arn:aws:states:{REGION}:{account}:stateMachine:{step_functions.LIFECYCLE_STATE_MACHINE_NAME}",
        ],
    )
    _admin_role(iam, PIPELINE_ROLE, account, {"Version": "2012-10-17", "Statement": statements})
    # A second principal for approvals (vending.aws.identity): the admin who files a change cannot approve it.
    approver = approver_role_statements(
        requests_table=table + settings.requests_table,
        changes_table=table + settings.changes_table,
        approvals_table=table + settings.approvals_table,
        freezes_table=table + settings.freezes_table,
        lifecycle_state_machine=(
            f"arn:aws:states:{REGION}:{account}:stateMachine:{step_functions.LIFECYCLE_STATE_MACHINE_NAME}"
        ),
    )
    _admin_role(iam, PLATFORM_APPROVER_ROLE, account, {"Version": "2012-10-17", "Statement": approver})
    # The layout's team leads (the portal's sign-in): each may call the API, which scopes it to its teams.
    # The hosted portal's roles for the platform's people are API callers like them (PortalAdmin, PortalApprover).
    lead_policy = api_caller_role_statements(api_arn=f"arn:aws:execute-api:{REGION}:{account}:*/*")
    for lead in (*lead_role_names(layout), PORTAL_ADMIN_ROLE, PORTAL_APPROVER_ROLE):
        _admin_role(iam, lead, account, {"Version": "2012-10-17", "Statement": lead_policy})
    sts = session.client("sts")
    worker = _assume(sts, account, PIPELINE_ROLE)
    orchestration.WORKER_SESSION = lambda: _session(worker)  # a run is a build under the project's role, as in AWS
    _IDENTITIES = _Identities(
        lambda_service=_assume(sts, account, LAMBDA_SERVICE_ROLE),
        state_machine=_assume(sts, account, STATE_MACHINE_ROLE),
        account_id=account,
        lifecycle_state_machine=_assume(sts, account, LIFECYCLE_ROLE),
    )
    # AWS Budgets executes a backstop action as its execution role (landing_zone/local/budget_actions.py).
    budgets_service = _assume(sts, account, BUDGETS_SERVICE_ROLE)

    def as_execution_role(role_arn: str) -> boto3.Session:
        credentials = (
            _session(budgets_service)
            .client("sts")
            .assume_role(RoleArn=role_arn, RoleSessionName="AWSBudgetsActions", DurationSeconds=900)["Credentials"]
        )
        return _session(credentials)

    _RUNNING._patches.enter_context(executing_as(as_execution_role))
    admin = _assume(sts, account, PLATFORM_ADMIN_ROLE)
    os.environ.update(
        AWS_ACCESS_KEY_ID=admin["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=admin["SecretAccessKey"],
        AWS_SESSION_TOKEN=admin["SessionToken"],
    )
    boto3.DEFAULT_SESSION = None  # boto3.client() caches the credentials it first found; make it read these
    _RUNNING.enforce_iam()
    return admin


def _archive_key(session: boto3.Session) -> str:
    """The archive bucket's customer-managed key, as in the CDK stack (its platform key); exported for the lifecycle's
    bucket and the ArchiveState grant."""
    kms = session.client("kms")
    alias = "alias/vending-archive-local"
    try:
        arn = str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except kms.exceptions.NotFoundException:
        arn = str(kms.create_key(Description="vending archive (local)")["KeyMetadata"]["Arn"])
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
    os.environ["VEND_ARCHIVE_KEY_ARN"] = arn
    return arn


def _backstop_role(session: boto3.Session, layout: Layout, account: str, organization_id: str) -> str:
    """The role AWS Budgets assumes to attach vend-freeze, as the CDK stack makes it (landing_zone/cdk/roles.py): the
    reconcile has laid vend-freeze down, so its ARN is known here. The emulated Budgets service (a role: moto checks
    only AWS principals) is named beside budgets.amazonaws.com in its own trust statement."""
    org = session.client("organizations")
    policy_id = ensure_freeze_policy(org, layout)
    policy_arn = org.describe_policy(PolicyId=policy_id)["Policy"]["PolicySummary"]["Arn"]
    emulated = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:sts::{account}:assumed-role/{BUDGETS_SERVICE_ROLE}/emulator"},
        "Action": "sts:AssumeRole",
    }
    trust = {"Version": "2012-10-17", "Statement": [backstop_role_trust(account), emulated]}
    iam = session.client("iam")
    arn = str(iam.create_role(RoleName=BACKSTOP_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    statements = backstop_role_statements(
        freeze_policy_arn=policy_arn, account_targets=local_org_arns(account, organization_id)("account")
    )
    iam.put_role_policy(
        RoleName=BACKSTOP_ROLE_NAME,
        PolicyName="attach-vend-freeze",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return arn


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Handlers run in-process beside the emulator; see landing_zone/local/runtime.py")
    return buffer.getvalue()


def deploy(
    session: boto3.Session | None = None, *, layout: Layout | None = None, enforce_iam: bool = True
) -> Deployment:
    """Deploy the service into the emulator, the way the CDK stack deploys it into the management account; then
    (enforce_iam) switch IAM authentication on and act as the platform admin from here on."""
    session = session or boto3.Session(region_name=REGION)
    layout = layout or cached_layout()
    reports_bucket = "vending-reports-local"
    os.environ.setdefault("VEND_REPORTS_BUCKET", reports_bucket)
    os.environ.setdefault("VEND_WORKFLOW_SETTINGS", json.dumps(FAST_WORKFLOW))
    os.environ.setdefault("VEND_PIPELINE_LAUNCHER", "local")
    os.environ.setdefault("VEND_ARCHIVE_BUCKET", "vending-archive-local")
    account = session.client("sts").get_caller_identity()["Account"]
    # The one platform principal the vended CI roles trust (the CodeBuild project's role in AWS).
    os.environ["VEND_PIPELINE_ROLE_ARN"] = f"arn:aws:iam::{account}:role/{PIPELINE_ROLE}"
    os.environ["VEND_PLATFORM_ACCOUNT_ID"] = account  # as the CDK stack sets it: the bus member accounts forward to
    settings = Settings.from_env()

    org = session.client("organizations")
    try:
        organization = org.describe_organization()["Organization"]
    except org.exceptions.AWSOrganizationsNotInUseException:
        organization = org.create_organization(FeatureSet="ALL")["Organization"]

    # The landing zone itself (OUs, SCPs on them), as `vend guardrails apply` lays it down in a real organization.
    reconcile_organization(org, layout, dry_run=False)

    ddb = session.client("dynamodb")
    existing_tables = set(ddb.list_tables()["TableNames"])
    if settings.requests_table not in existing_tables:
        ddb.create_table(**requests_table_definition(settings.requests_table), SSESpecification={"Enabled": True})
    for table, key in (
        (settings.idempotency_table, "id"),
        (settings.pipeline_runs_table, "run_id"),
    ):
        if table not in existing_tables:
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                SSESpecification={"Enabled": True},
            )
    if settings.freezes_table not in existing_tables:
        ddb.create_table(**freezes_table_definition(settings.freezes_table))
    if settings.approvals_table not in existing_tables:
        DynamoDbApprovalStore(ddb, settings.approvals_table).create_table()
    if settings.creation_slots_table and settings.creation_slots_table not in existing_tables:
        CreationSlots(ddb, settings.creation_slots_table).create_table()
    if settings.usage_table not in existing_tables:
        ddb.create_table(**usage_table_definition(settings.usage_table), SSESpecification={"Enabled": True})
        # As the CDK stack: the spend fence's stored readings expire (vending.spend.readings).
        ddb.update_time_to_live(
            TableName=settings.usage_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": READING_TTL_ATTRIBUTE},
        )
    ddb.update_time_to_live(
        TableName=settings.idempotency_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    s3 = session.client("s3")
    s3.create_bucket(Bucket=settings.reports_bucket)
    s3.put_bucket_versioning(Bucket=settings.reports_bucket, VersioningConfiguration={"Status": "Enabled"})

    _archive_key(session)  # before the function policies: ArchiveState's grant names it
    # The Budgets backstop's execution role, before the functions: their settings name it (VEND_BACKSTOP_ROLE_ARN).
    os.environ["VEND_BACKSTOP_ROLE_ARN"] = _backstop_role(session, layout, account, organization["Id"])
    iam, lam = session.client("iam"), session.client("lambda")
    # moto compares a trust policy's AWS principal with the caller's session ARN literally, so the emulated Lambda
    # service is named by its session (AWS would also accept the role ARN).
    lambda_trust = _trust("lambda.amazonaws.com", f"arn:aws:sts::{account}:assumed-role/{LAMBDA_SERVICE_ROLE}/emulator")
    env = {k: v for k, v in os.environ.items() if k.startswith(("VEND_", "POWERTOOLS_"))}
    function_arns: dict[str, str] = {}
    for spec in FUNCTIONS:
        role_name = function_role_name(spec)
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=lambda_trust)["Role"]["Arn"]
        policy = _function_policy(
            spec, account=account, organization_id=organization["Id"], settings=settings, layout=layout
        )
        iam.put_role_policy(RoleName=role_name, PolicyName="least-privilege", PolicyDocument=json.dumps(policy))
        function_arns[spec.key] = lam.create_function(
            FunctionName=spec.name,
            Runtime="python3.12",
            Role=role,
            Handler=spec.handler,
            Code={"ZipFile": _placeholder_zip()},
            Timeout=spec.timeout_seconds,
            MemorySize=spec.memory_mb,
            Architectures=["arm64"],
            Environment={"Variables": env},
            Description=spec.description,
        )["FunctionArn"]

    sfn_role = iam.create_role(RoleName=STATE_MACHINE_ROLE, AssumeRolePolicyDocument=_trust("states.amazonaws.com"))[
        "Role"
    ]["Arn"]
    invoke = {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": [function_arns[k] for k in STATE_MACHINE_KEYS],
    }
    iam.put_role_policy(
        RoleName=STATE_MACHINE_ROLE,
        PolicyName="invoke",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [invoke]}),
    )
    definition = step_functions.render({f"{k}FunctionArn": arn for k, arn in function_arns.items()})
    sfn = session.client("stepfunctions")
    state_machine_arn = sfn.create_state_machine(
        name=step_functions.STATE_MACHINE_NAME, definition=definition, roleArn=sfn_role
    )["stateMachineArn"]
    os.environ["VEND_STATE_MACHINE_ARN"] = state_machine_arn
    deploy_lifecycle(session, function_arns=function_arns, account=account)  # day 2: the sibling AccountLifecycle

    # Onboarding events: rule -> SQS (buffer + DLQ) -> StartFromEvent, as in AWS.
    sqs, events = session.client("sqs"), session.client("events")
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName="vending-onboarding-dlq")["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="vending-onboarding",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="vending-onboarding", EventPattern=json.dumps(ONBOARDING_EVENT_PATTERN), State="ENABLED")
    events.put_targets(Rule="vending-onboarding", Targets=[{"Id": "queue", "Arn": queue_arn}])
    lam.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=function_arns["StartFromEvent"],
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    # The live meter's usage capture: rule -> SQS (buffer + DLQ) -> RecordUsage, as in AWS (landing_zone/cdk/events.py).
    _event_queue(
        session,
        "vending-usage",
        "vending-usage-events",
        USAGE_EVENT_PATTERN,
        function_arns["RecordUsage"],
    )
    # Its bus admits the organization's accounts, as the CDK stack's policy does: their forwarding rules deliver as
    # their VendUsageForwarding role (vending.usage_forwarding), decided against this policy.
    bus_arn = f"arn:aws:events:{REGION}:{account}:event-bus/{settings.event_bus_name}"
    events.put_permission(
        EventBusName=settings.event_bus_name,
        Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [platform_bus_statement(bus_arn, organization["Id"])]}
        ),
    )
    # No schedules: moto's PutEvents fails on any scheduled rule of the bus (NotImplementedError in
    # Rule.send_to_targets, moto 5.2), and it never fires them. The scheduled functions (Audit, StackDrift) are deployed
    # with their roles; `vend audit` and `vend drift --check` run what their rules would (landing_zone/cdk/events.py).
    if enforce_iam:
        _enforce_iam(session, account, iam)
    return Deployment(
        endpoint=os.environ.get("AWS_ENDPOINT_URL", ""),
        management_account_id=account,
        organization_id=organization["Id"],
        state_machine_arn=state_machine_arn,
        function_arns=function_arns,
        onboarding_queue_url=queue_url,
        settings=env,
    )
