"""Fault injection for the emulator: AWS misbehaving the way it does at scale, on purpose, reproducibly.

Off by default. A rule set (YAML) names which calls misbehave and how; a seed makes the choice of which call gets
which fault reproducible (one random.Random behind a lock, so concurrent invocations draw from one sequence; the
order threads reach it is the only nondeterminism left). Faults are applied through botocore's `before-send` event
on every session made while an emulated Lambda invocation runs (runtime.invoke_in_process): the function role's
session and those the service builds itself (assumed roles in vended accounts). So they hit the service's own AWS
calls after botocore built and signed them, and botocore's own retry logic sees them as it would see AWS's answer:

    seed: 7
    log_file: .vend/faults.log          # optional; every injected fault, one JSON line each
    rules:
      - service: organizations           # botocore service id (sfn, eventbridge, dynamodb, ...) or "*"
        operation: "Create*"             # fnmatch glob on the operation name
        rate: 0.1                        # chance per attempt (each SDK retry is an attempt)
        faults: [throttle, "500", "503", connect_timeout, read_timeout, slow]
        burst: 1                         # consecutive attempts of the same call that fail once one did
        slow_seconds: 2.0
      - lambda: "*"                      # a function key (Reserve, CreateAccount, ...) or glob: runtime faults
        rate: 0.05
        faults: [service_error, crash, timeout, stop_execution]
        cut_after_calls: 3                # timeout: after this many of its AWS calls (default: drawn, 0..15)
      - worker: "*"                       # a pipeline run id (<request>/<stack>) or glob
        rate: 0.1
        faults: [dies]

Fault kinds on AWS calls: `throttle` (the service's own throttling code and status), `500` (InternalFailure),
`503` (ServiceUnavailable), `connect_timeout` (the request never left: botocore's ConnectTimeoutError),
`read_timeout` (the request reached the service and was carried out, the answer was lost: ReadTimeoutError, so a
non-idempotent call retried by the SDK runs twice, as in AWS), `slow` (the answer comes `slow_seconds` late).
Runtime faults on a Lambda invocation: `service_error` (the invoke failed in the Lambda service, before the handler:
errorType Lambda.ServiceException) and `crash` (the runtime died before the handler ran: errorType Runtime.ExitError);
`timeout` (the handler ran past its configured timeout and was killed: it is cut off before its (N+1)th AWS call, so
the first N took effect and the rest never happened, and Step Functions gets errorType Sandbox.Timedout as from
Lambda's current runtimes; a handler that makes fewer calls finishes its work and still loses its answer);
`stop_execution` (the handler ran and answered, then an operator's StopExecution aborts the execution before the
next state: the request is left in flight under an ABORTED execution, which `vend request resume` takes over).
A pipeline worker (`worker:` rules, keyed by run id) can `die`: its run is marked RUNNING, as a worker does first,
and then nothing: no heartbeat, no outcome, no callback, as a killed thread or a lost build container.
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3
import botocore.handlers
import yaml
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.httpsession import URLLib3Session
from pydantic import BaseModel, ConfigDict, Field, model_validator

AwsFault = Literal["throttle", "500", "503", "connect_timeout", "read_timeout", "slow"]
RuntimeFault = Literal["service_error", "crash", "timeout", "stop_execution"]
AWS_FAULTS: tuple[str, ...] = ("throttle", "500", "503", "connect_timeout", "read_timeout", "slow")
RUNTIME_FAULTS: tuple[str, ...] = ("service_error", "crash", "timeout", "stop_execution")
WORKER_FAULTS: tuple[str, ...] = ("dies",)
# The most AWS calls a drawn `timeout` lets a handler make before it is cut off (Bootstrap makes about 30).
MAX_CUT_AFTER_CALLS = 15

# The code and status each service answers throttling with (botocore's retry config knows each of these).
THROTTLING: dict[str, tuple[str, int]] = {
    "organizations": ("TooManyRequestsException", 400),
    "dynamodb": ("ProvisionedThroughputExceededException", 400),
    "sts": ("Throttling", 400),
    "iam": ("Throttling", 400),
    "s3": ("SlowDown", 503),
    "sfn": ("ThrottlingException", 400),
    "eventbridge": ("ThrottlingException", 400),
    "sqs": ("RequestThrottled", 403),
    "lambda": ("TooManyRequestsException", 429),
}
# The error protocol each service answers in, by botocore service id (json for the rest).
_QUERY = {"sts", "iam"}
_REST_XML = {"s3"}
# Rule files may use the names people know the services by.
_SERVICE_ALIASES = {"stepfunctions": "sfn", "states": "sfn", "events": "eventbridge"}


class FaultRule(BaseModel):
    """Which calls (an AWS service and operation, or a Lambda function) misbehave, how often and how."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = None
    operation: str = "*"
    function: str | None = Field(default=None, alias="lambda")
    worker: str | None = None
    rate: float = Field(ge=0.0, le=1.0)
    faults: list[str] = Field(min_length=1)
    burst: int = Field(default=1, ge=1, le=20)
    slow_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    limit: int | None = Field(default=None, ge=1)  # at most this many faults from this rule (a targeted repro)
    cut_after_calls: int | None = Field(default=None, ge=0, le=1000)  # `timeout`: None draws it from the seed

    @model_validator(mode="after")
    def _one_target(self) -> FaultRule:
        targets = [t for t in (self.service, self.function, self.worker) if t is not None]
        if len(targets) != 1:
            raise ValueError(
                "a rule names exactly one of `service` (AWS calls), `lambda` (invocations) or `worker` (pipeline runs)"
            )
        if self.service is not None:
            allowed, target = AWS_FAULTS, "AWS-call"
        elif self.function is not None:
            allowed, target = RUNTIME_FAULTS, "Lambda"
        else:
            allowed, target = WORKER_FAULTS, "worker"
        unknown = [f for f in self.faults if f not in allowed]
        if unknown:
            raise ValueError(f"unknown {target} fault(s) {unknown}; allowed: {list(allowed)}")
        if self.service is not None:
            self.service = _SERVICE_ALIASES.get(self.service.lower(), self.service.lower())
        return self


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    log_file: str | None = None
    rules: list[FaultRule] = Field(default_factory=list)


@dataclass(frozen=True)
class FaultRecord:
    target: str  # botocore service id, "lambda" or "worker"
    operation: str  # the API operation, the function key or the pipeline run id
    fault: str
    attempt: int = 1
    at: float = 0.0
    detail: str = ""  # what the runtime fault hit: the call a timeout cut off, the execution stopped


class LambdaTimedOut(BaseException):
    """The emulated Lambda runtime killing a handler at its timeout. A BaseException, so no `except Exception` in
    the service (which would turn it into a named error) can catch it: a real timeout leaves no say to the code."""


@dataclass
class InvocationFaults:
    """One emulated invocation: its function, the AWS calls it made so far, where a `timeout` cuts it off."""

    function_key: str
    cut_after_calls: int | None = None
    calls: int = 0
    cut_at: str = ""  # service:Operation of the call the timeout cut off
    stop_execution: bool = False


class _Raw:
    """The part of urllib3's response AWSResponse reads its body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def error_response(service: str, code: str, status: int, message: str) -> AWSResponse:
    """An AWS error answer in the service's own protocol, as botocore would receive it from the wire."""
    headers = {"x-amzn-RequestId": "fault-injected", "x-amzn-ErrorType": code}
    if service in _QUERY:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>fault-injected</RequestId></ErrorResponse>"
        )
        headers["Content-Type"] = "text/xml"
    elif service in _REST_XML:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-injected</RequestId></Error>"
        headers["Content-Type"] = "application/xml"
    else:
        body = json.dumps({"__type": code, "message": message, "Message": message})
        headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse("https://fault-injected", status, headers, _Raw(body.encode()))


@dataclass
class FaultInjector:
    """Draws faults from one seeded sequence and records every one it injects."""

    config: FaultConfig
    records: list[FaultRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(init=False)
    # invocation id -> (rule, fault, attempts left): the rest of a burst
    _pending: dict[str, tuple[FaultRule, str, int]] = field(default_factory=dict)
    _http: URLLib3Session | None = None
    _fired: Counter[int] = field(default_factory=Counter)  # faults drawn per rule, for `limit`

    def __post_init__(self) -> None:
        self._random = random.Random(self.config.seed)

    # -- drawing ---------------------------------------------------------------------------------------------

    def _draw(self, rules: list[FaultRule]) -> tuple[FaultRule, str] | None:
        with self._lock:
            for rule in rules:
                # Always two draws per matching rule, so one call's outcome does not shift the sequence by kind.
                hit, pick = self._random.random(), self._random.randrange(len(rule.faults))
                if hit < rule.rate and (rule.limit is None or self._fired[id(rule)] < rule.limit):
                    self._fired[id(rule)] += 1
                    return rule, rule.faults[pick]
        return None

    def _record(self, record: FaultRecord) -> None:
        with self._lock:
            self.records.append(record)
            if self.config.log_file:
                with open(self.config.log_file, "a", encoding="utf-8") as log:
                    log.write(json.dumps(asdict(record)) + "\n")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(Counter(r.fault for r in self.records).items()))

    # -- AWS calls -------------------------------------------------------------------------------------------

    def aws_fault(self, service: str, operation: str, invocation: str | None = None) -> tuple[FaultRule, str] | None:
        """The fault this attempt of the call gets, if any. A burst keeps failing the same call's next attempts."""
        if invocation:
            with self._lock:
                pending = self._pending.pop(invocation, None)
                if pending is not None:
                    rule, fault, left = pending
                    if left > 1:
                        self._pending[invocation] = (rule, fault, left - 1)
                    return rule, fault
        matching = [
            r
            for r in self.config.rules
            if r.service in ("*", service) and r.service is not None and fnmatch.fnmatchcase(operation, r.operation)
        ]
        drawn = self._draw(matching) if matching else None
        if drawn and invocation and drawn[0].burst > 1:
            with self._lock:
                self._pending[invocation] = (drawn[0], drawn[1], drawn[0].burst - 1)
        return drawn

    def before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        """botocore `before-send` handler: answer (or fail) the attempt instead of the emulator."""
        _event, service, operation = event_name.split(".", 2)
        headers = request.headers
        invocation = _header(headers, "amz-sdk-invocation-id")
        drawn = self.aws_fault(service, operation, invocation)
        if drawn is None:
            return None
        rule, fault = drawn
        attempt = _attempt(_header(headers, "amz-sdk-request"))
        caller = _INVOCATION.get()  # whose call it was: the function key, or worker:<run id>
        by = caller.function_key if caller else ""
        self._record(FaultRecord(service, operation, fault, attempt, time.time(), by))
        message = f"fault injected: {fault} on {service}:{operation}"
        if fault == "throttle":
            code, status = THROTTLING.get(service, ("ThrottlingException", 400))
            return error_response(service, code, status, message)
        if fault == "500":
            return error_response(service, "InternalFailure", 500, message)
        if fault == "503":
            return error_response(service, "ServiceUnavailable", 503, message)
        if fault == "connect_timeout":
            raise ConnectTimeoutError(endpoint_url=request.url, error=message)
        if fault == "read_timeout":
            self.http().send(request)  # the service did the work; only its answer is lost
            raise ReadTimeoutError(endpoint_url=request.url, error=message)
        time.sleep(rule.slow_seconds)  # slow: the real answer, late
        return None

    def http(self) -> URLLib3Session:
        with self._lock:
            if self._http is None:
                self._http = URLLib3Session()
            return self._http

    def instrument(self, session: Any) -> None:
        """Every client the (boto3) session creates from now on sends through the fault layer."""
        # First, so a fault answers before any other before-send handler (moto's in-process mock) would.
        session.events.register_first("before-send", self.before_send)

    # -- runtime ---------------------------------------------------------------------------------------------

    def lambda_fault(self, function_key: str) -> tuple[str, int | None] | None:
        """The runtime fault this invocation gets, if any, and (timeout) after how many AWS calls it is cut off."""
        matching = [
            r for r in self.config.rules if r.function is not None and fnmatch.fnmatchcase(function_key, r.function)
        ]
        drawn = self._draw(matching) if matching else None
        if drawn is None:
            return None
        rule, fault = drawn
        cut = None
        if fault == "timeout":
            with self._lock:  # always drawn, so a rule's fixed cut does not shift the sequence
                picked = self._random.randrange(MAX_CUT_AFTER_CALLS + 1)
            cut = rule.cut_after_calls if rule.cut_after_calls is not None else picked
        return fault, cut

    def record_runtime(self, target: str, key: str, fault: str, detail: str = "") -> None:
        self._record(FaultRecord(target, key, fault, 1, time.time(), detail))

    def worker_fault(self, run_id: str) -> str | None:
        matching = [r for r in self.config.rules if r.worker is not None and fnmatch.fnmatchcase(run_id, r.worker)]
        drawn = self._draw(matching) if matching else None
        if drawn is None:
            return None
        self.record_runtime("worker", run_id, drawn[1])
        return drawn[1]


LAMBDA_ERRORS = {
    "service_error": ("Lambda.ServiceException", "the invoke failed in the Lambda service"),
    "crash": ("Runtime.ExitError", "the runtime exited"),
}


def lambda_error(fault: str, function_key: str, timeout_seconds: int = 0, cut_at: str = "") -> dict[str, Any]:
    """The error payload the faulted invocation answers with, as Lambda does."""
    if fault == "timeout":
        where = f" (cut off before {cut_at})" if cut_at else " (after its last call)"
        return {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"fault injected: timeout: {function_key} task timed out after "
            f"{timeout_seconds:.2f} seconds{where}",
        }
    error_type, what = LAMBDA_ERRORS[fault]
    return {"errorType": error_type, "errorMessage": f"fault injected: {fault}: {what}"}


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _attempt(value: str | None) -> int:
    for part in (value or "").split(";"):
        key, _, number = part.strip().partition("=")
        if key == "attempt" and number.isdigit():
            return int(number)
    return 1


def load(path: str | Path) -> FaultConfig:
    """A rule file, validated: an unknown key, service fault or rate outside [0, 1] is refused by name."""
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a fault file is a mapping with `seed`, `rules` and optionally `log_file`")
    return FaultConfig.model_validate(data)


_ACTIVE: FaultInjector | None = None
# The function an emulated Lambda invocation runs, on its thread: only the service's own calls are faulted, not the
# operator's, the deployer's or the emulated services' (the interpreter calling Lambda, the Lambda service's STS).
_INVOCATION: ContextVar[InvocationFaults | None] = ContextVar("fault_invocation", default=None)


@contextmanager
def invocation(function_key: str, cut_after_calls: int | None = None) -> Iterator[InvocationFaults]:
    """Calls made in this block (this thread) are the service's: the fault layer applies to them. With
    `cut_after_calls`, the call after that many raises LambdaTimedOut (the runtime killing the handler)."""
    state = InvocationFaults(function_key, cut_after_calls)
    token = _INVOCATION.set(state)
    try:
        yield state
    finally:
        _INVOCATION.reset(token)


def _dispatch(request: Any, event_name: str = "", **kwargs: Any) -> AWSResponse | None:
    injector, state = _ACTIVE, _INVOCATION.get()
    if injector is None or state is None:
        return None
    # A timeout cuts the handler off before a call; SDK retries of a call already made do not count again.
    if state.cut_after_calls is not None and _attempt(_header(request.headers, "amz-sdk-request")) == 1:
        if state.calls >= state.cut_after_calls:
            _event, service, operation = event_name.split(".", 2)
            state.cut_at = state.cut_at or f"{service}:{operation}"
            raise LambdaTimedOut(state.cut_at)
        state.calls += 1
    return injector.before_send(request=request, event_name=event_name, **kwargs)


def _install() -> None:
    """Every botocore session made from now on, in this process, sends through `_dispatch`: the function role's
    session and the sessions the service builds itself (assumed roles in vended accounts) alike."""
    if not any(spec[1] is _dispatch for spec in botocore.handlers.BUILTIN_HANDLERS):
        # First, so a fault answers before any other before-send handler (moto's in-process mock) would.
        botocore.handlers.BUILTIN_HANDLERS.append(("before-send", _dispatch, botocore.handlers.REGISTER_FIRST))


def active() -> FaultInjector | None:
    """The injector in force, or None (the default: no faults)."""
    return _ACTIVE


def _worker_dies(runs_table: str, run_id: str) -> None:
    """What a worker killed right after it started leaves: its run RUNNING, and nothing else, ever."""
    from vending.lifecycle import now
    from vending.pipeline.orchestration import RunStatus, RunStore

    store = RunStore(boto3.Session().client("dynamodb"), runs_table)
    run = store.get(run_id)
    if run is not None:
        store.put(run.model_copy(update={"status": RunStatus.RUNNING, "started_at": now()}))


def _wrap_local_launcher() -> Callable[[], None]:
    """The local pipeline launcher, with worker faults drawn per run; returns the undo. Wraps whatever launch is in
    place (the benchmarks' skipped pipelines too)."""
    from vending.pipeline.orchestration import LocalThreadLauncher

    original = LocalThreadLauncher.launch

    def launch(self: Any, run_id: str) -> None:
        injector = _ACTIVE
        if injector is not None and injector.worker_fault(run_id) == "dies":
            # The worker's own write, outside the StartPipelines invocation that launched it (not the service's call).
            contextvars.Context().run(_worker_dies, self._runs_table, run_id)
            return
        original(self, run_id)

    original_run = LocalThreadLauncher._run

    def run(self: Any, run_id: str) -> None:
        # The worker's own AWS calls (its run record, the vended account's role, heartbeats, the callback) meet the
        # AWS-call rules as the functions' calls do: in AWS a CodeBuild worker is throttled too. Terraform's own
        # calls (a child process) are not faulted.
        with invocation(f"worker:{run_id}"):
            original_run(self, run_id)

    LocalThreadLauncher.launch = launch  # type: ignore[method-assign]
    LocalThreadLauncher._run = run  # type: ignore[method-assign]

    def undo() -> None:
        LocalThreadLauncher.launch = original  # type: ignore[method-assign]
        LocalThreadLauncher._run = original_run  # type: ignore[method-assign]

    return undo


@contextmanager
def injecting(config: FaultConfig | None) -> Iterator[FaultInjector | None]:
    """Faults on for this block (None: off), undone on exit."""
    global _ACTIVE
    previous = _ACTIVE
    _install()
    _ACTIVE = FaultInjector(config) if config is not None else None
    undo = _wrap_local_launcher()
    try:
        yield _ACTIVE
    finally:
        undo()
        _ACTIVE = previous


def enable(config: FaultConfig) -> FaultInjector:
    """Faults on until the process ends (`vend local up --faults`)."""
    global _ACTIVE
    _install()
    _ACTIVE = FaultInjector(config)
    _wrap_local_launcher()
    return _ACTIVE
