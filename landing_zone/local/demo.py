"""The end-to-end demo: onboard the layout's teams through the three entry points, on the emulator."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

import step_functions
from landing_zone.local.authorization.middleware import DECISIONS
from landing_zone.local.execution_history import events_after
from landing_zone.local.runtime import Deployment
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.functions import by_key
from vending.guardrails.audit import audit_organization, member_sessions
from vending.layout import Layout, TeamSpec, cached_layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.onboarding import onboarding_entry
from vending.request import VendingRequest, execution_name, parse_request
from vending.service import submit_request
from vending.settings import Settings
from vending.usage_forwarding import platform_bus_arn

ENTRY_POINTS = ("event", "api", "cli")
Progress = Callable[[str, str, float], None]


def request_for(team: TeamSpec, stage: str = "staging", stacks: tuple[str, ...] | None = None) -> VendingRequest:
    """The team's request exactly as the layout says (or with `stacks`)."""
    return parse_request(
        {
            "team": team.slug,
            "stage": stage,
            "owner_email": team.owner_email,
            "cost_center": team.cost_center,
            "gpu_tier": team.gpu_tier,
            "regions": list(team.regions),
            "stacks": list(team.stacks if stacks is None else stacks),
            "repository": team.repository,
        }
    )


def api_event(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event, as API Gateway sends it after IAM authorization (signed by the platform admin
    role of the platform account, which deploy() names in VEND_PLATFORM_ACCOUNT_ID)."""
    account = os.environ.get("VEND_PLATFORM_ACCOUNT_ID", "123456789012")
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "isBase64Encoded": False,
        "body": json.dumps(body) if body is not None else None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "stage": "v1",
            "requestId": "demo",
            "accountId": account,  # the API's own account: where the role names the API admits resolve
            "identity": {"userArn": f"arn:aws:iam::{account}:role/PlatformAdmin"},
        },
    }


def send(session: boto3.Session, deployment: Deployment, request: VendingRequest, via: str) -> dict[str, Any]:
    """Send a request through one entry point, exactly as a caller would."""
    if via == "event":
        response = session.client("events").put_events(Entries=[onboarding_entry(request.model_dump(mode="json"))])
        return {"via": via, "failed_entries": response["FailedEntryCount"]}
    if via == "api":
        response = call_api(session, api_event("POST", "/requests", request.model_dump(mode="json")))
        return {"via": via, "status_code": response.get("statusCode"), **json.loads(response.get("body") or "{}")}
    settings = Settings.from_env()
    result = submit_request(
        session.client("stepfunctions"),
        RequestStore(session.client("dynamodb"), settings.requests_table),
        deployment.state_machine_arn,
        request,
    )
    return {"via": via, **result.model_dump()}


API_ATTEMPTS = 4


def call_api(session: boto3.Session, event: dict[str, Any]) -> dict[str, Any]:
    """One call to the REST API, as an HTTP client makes it: a 5xx (API Gateway answers 502/503 when the function
    errors or the Lambda service fails, https://docs.aws.amazon.com/apigateway/latest/developerguide/
    handle-errors-in-lambda-integration.html) is retried with backoff; submitting a request is idempotent. Found by
    `vend demo --faults benchmarks/faults-demo.yaml` (seed 3): a Lambda service error answered the resend."""
    response: dict[str, Any] = {}
    for attempt in range(API_ATTEMPTS):
        invoked = session.client("lambda").invoke(FunctionName=by_key("Api").name, Payload=json.dumps(event))
        response = json.loads(invoked["Payload"].read() or b"{}")
        if "FunctionError" not in invoked and int(response.get("statusCode", 502)) < 500:
            return response
        time.sleep(0.5 * 2**attempt)
    return {"statusCode": 502, "body": json.dumps({"error": response})}


@dataclass
class TeamRun:
    request: VendingRequest
    via: str
    execution_arn: str = ""
    finished: bool = False
    status: str = "RUNNING"
    history: list[dict[str, Any]] = field(default_factory=list)


def _execution_arn(deployment: Deployment, request: VendingRequest, attempt: int = 1) -> str:
    base = deployment.state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{base}:{execution_name(request.request_id, attempt)}"


def follow(
    sfn: Any,
    runs: list[TeamRun],
    deployment: Deployment,
    *,
    on_progress: Progress,
    timeout: float = 900.0,
    poll: float = 0.5,
    start_grace: float = 60.0,
) -> None:
    """Show each state as it completes, read from the emulator's execution history."""
    started = time.monotonic()
    while not all(r.finished for r in runs):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"executions still running after {timeout:.0f}s")
        for run in (r for r in runs if not r.finished):
            run.execution_arn = run.execution_arn or _execution_arn(deployment, run.request)
            try:
                events = events_after(sfn, run.execution_arn, run.history[-1]["id"] if run.history else 0)
            except sfn.exceptions.ExecutionDoesNotExist:
                if time.monotonic() - started > start_grace:  # the event path starts it a moment later, or never
                    run.finished, run.status = True, "NEVER_STARTED"
                    on_progress(run.request.team, "execution never started", time.monotonic() - started)
                continue
            for event in events:
                if event["type"].endswith("StateEntered"):  # the state it is in now
                    name = event["stateEnteredEventDetails"]["name"]
                    on_progress(run.request.team, name, time.monotonic() - started)
            run.history.extend(events)
            status = sfn.describe_execution(executionArn=run.execution_arn)["status"]
            if status != "RUNNING":
                run.finished, run.status = True, status
                on_progress(run.request.team, f"execution {status}", time.monotonic() - started)
        time.sleep(poll)


def _ou_path(org: Any, account_id: str) -> str:
    names: list[str] = []
    child = account_id
    while True:
        parent = org.list_parents(ChildId=child)["Parents"][0]
        if parent["Type"] == "ROOT":
            return "/".join(reversed(names))
        names.append(org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])["OrganizationalUnit"]["Name"])
        child = parent["Id"]


def _scps(org: Any, account_id: str) -> list[str]:
    """Every SCP that governs the account: its own and those of each OU above it."""
    names: set[str] = set()
    target = account_id
    while True:
        for page in org.get_paginator("list_policies_for_target").paginate(
            TargetId=target, Filter="SERVICE_CONTROL_POLICY"
        ):
            names.update(p["Name"] for p in page["Policies"])
        parent = org.list_parents(ChildId=target)["Parents"][0]
        if parent["Type"] == "ROOT":
            return sorted(names)
        target = parent["Id"]


def inspect_state_bucket(session: boto3.Session, record: RequestRecord, layout: Layout) -> dict[str, Any]:
    """Look inside the vended account, through its access role, at what the bootstrap promised."""
    request = parse_request(record.request)
    member = assume_role_session(
        session.client("sts"),
        access_role_arn(record.account_id or "", layout.organization.access_role_name),
        "demo-inspect",
        request.home_region,
    )
    s3 = member.client("s3")
    bucket = record.state_bucket or ""
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    state_keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
        if o["Key"].endswith(".tfstate")
    ]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "public_access_blocked": all(block.values()),
        "tls_only": any(
            s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in policy["Statement"]
        ),
        "encryption": encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "state_objects": state_keys,
    }


def _seconds(history: list[dict[str, Any]]) -> float:
    stamps = [e["timestamp"] for e in history if isinstance(e.get("timestamp"), datetime)]
    return (max(stamps) - min(stamps)).total_seconds() if stamps else 0.0


def workflow_steps() -> list[str]:
    """The Task states of the happy path, in the ASL file's order (the failure path is left out): the live view's
    progress bar counts through these."""
    states = json.loads(step_functions.definition_text())["States"]
    failure_path: set[str] = set()
    pending = [c["Next"] for st in states.values() for c in st.get("Catch", [])]
    while pending:
        name = pending.pop()
        if name not in failure_path:
            failure_path.add(name)
            pending.extend(n for n in [states[name].get("Next")] if n)
    return [n for n, st in states.items() if st["Type"] == "Task" and n not in failure_path]


def _pipeline_seconds(history: list[dict[str, Any]]) -> float:
    """From entering StartPipelines to leaving the last CheckPipelines: Terraform plus its queueing."""
    start = [
        e["timestamp"]
        for e in history
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "StartPipelines"
    ]
    end = [
        e["timestamp"]
        for e in history
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "CheckPipelines"
    ]
    return (max(end) - min(start)).total_seconds() if start and end else 0.0


def summarize(session: boto3.Session, run: TeamRun, layout: Layout) -> dict[str, Any]:
    settings = Settings.from_env()
    store = RequestStore(session.client("dynamodb"), settings.requests_table)
    record = store.require(run.request.request_id)
    org = session.client("organizations")
    seconds = _seconds(run.history)
    pipelines = _pipeline_seconds(run.history)
    summary: dict[str, Any] = {
        "team": record.team,
        "stage": record.stage,
        "via": run.via,
        "status": record.status.value,
        "account_id": record.account_id,
        "ou": _ou_path(org, record.account_id) if record.account_id else None,
        "scps": _scps(org, record.account_id) if record.account_id else [],
        "state_bucket": record.state_bucket,
        "ci_role_arn": record.ci_role_arn,
        "pipelines": {stack: run_info.get("status") for stack, run_info in record.pipelines.items()},
        "state_transitions": sum(1 for e in run.history if e["type"].endswith("StateEntered")),
        "history_events": len(run.history),
        "execution_arn": run.execution_arn,
        "seconds": round(seconds, 2),
        "pipeline_seconds": round(pipelines, 2),
        "seconds_excluding_terraform": round(seconds - pipelines, 2),
        "failed_step": record.failed_step,
        "failure_reason": record.failure_reason,
    }
    if record.status == Status.READY and record.state_bucket:
        summary["state_bucket_checks"] = inspect_state_bucket(session, record, layout)
    return summary


def count_accounts(org: Any) -> int:
    return sum(len(page["Accounts"]) for page in org.get_paginator("list_accounts").paginate())


def count_executions(sfn: Any, state_machine_arn: str) -> int:
    return sum(
        len(p["executions"]) for p in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
    )


def queue_drained(sqs: Any, queue_url: str, timeout: float = 60.0, poll: float = 0.2) -> float | None:
    """Seconds until the queue held no message, visible or in flight; None when it still did after `timeout`."""
    started = time.monotonic()
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if all(attributes.get(n) == "0" for n in names):
            return round(time.monotonic() - started, 2)
        if time.monotonic() - started >= timeout:
            return None
        time.sleep(poll)


def resend_everywhere(session: boto3.Session, deployment: Deployment, requests: list[VendingRequest]) -> dict[str, Any]:
    """The same requests again, through every entry point: no new account, no new execution."""
    org, sfn = session.client("organizations"), session.client("stepfunctions")
    accounts_before = count_accounts(org)
    executions_before = count_executions(sfn, deployment.state_machine_arn)
    replies = [send(session, deployment, request, via) for request in requests for via in ENTRY_POINTS]
    # An event is consumed when the onboarding queue holds nothing, visible or in flight: only then can "no new
    # execution" be told apart from "not yet".
    drained = queue_drained(session.client("sqs"), deployment.onboarding_queue_url)
    return {
        "sent": len(replies),
        "queue_drained_after_seconds": drained,
        "accounts_before": accounts_before,
        "accounts_after": count_accounts(org),
        "executions_before": executions_before,
        "executions_after": count_executions(sfn, deployment.state_machine_arn),
        "replies": [
            {k: r.get(k) for k in ("via", "outcome", "status", "account_id", "status_code", "failed_entries")}
            for r in replies
        ],
    }


def reject_bad_request(session: boto3.Session, deployment: Deployment) -> dict[str, Any]:
    """A request with bad fields is refused naming each field, and nothing is created."""
    org = session.client("organizations")
    before = count_accounts(org)
    bad = {
        "team": "Team Ml",
        "stage": "qa",
        "owner_email": "nobody",
        "cost_center": "42",
        "gpu_tier": "h100",
        "regions": ["mars-1"],
        "repository": "x",
    }
    sfn = session.client("stepfunctions")
    executions_before = count_executions(sfn, deployment.state_machine_arn)
    response = call_api(session, api_event("POST", "/requests", bad))
    body = json.loads(response.get("body") or "{}")
    return {
        "status_code": response.get("statusCode"),
        "expected_fields": sorted(bad),
        "fields": [e["field"] for e in body.get("errors", [])],
        "accounts_created": count_accounts(org) - before,
        "executions_started": count_executions(sfn, deployment.state_machine_arn) - executions_before,
    }


def audit_summary(session: boto3.Session, layout: Layout) -> dict[str, Any]:
    """The daily guardrail audit over the whole emulated organization: the vended accounts carry exactly their SCPs."""
    # Intent comes from the vending records, as in the scheduled audit.
    records = RequestStore(session.client("dynamodb"), Settings.from_env().requests_table).list()
    # Inside each vended account too: Bedrock's invocation logging, in each of its regions, as Bootstrap left it.
    inside = member_sessions(session.client("sts"), layout.organization.access_role_name)
    # and the live meter's usage forwarding to the platform's bus.
    settings = Settings.from_env()
    platform = settings.platform_account_id or session.client("sts").get_caller_identity()["Account"]
    bus = platform_bus_arn(session.region_name or "us-east-1", platform, settings.event_bus_name)
    report = audit_organization(
        session.client("organizations"), layout, records=records, sessions_for=inside, usage_bus_arn=bus
    )
    return {
        "accounts": report.accounts,
        "findings": len(report.findings),
        "by_type": report.summary()["by_type"],
        "api_calls": report.api_calls.get("total", 0),
        "invocation_logging": report.invocation_logging,
        "usage_forwarding": report.usage_forwarding,
    }


def run_demo(
    deployment: Deployment, layout: Layout, *, on_progress: Progress, stage: str = "staging"
) -> dict[str, Any]:
    session = boto3.Session()
    started = time.monotonic()
    DECISIONS.reset()
    runs = [
        TeamRun(request=request_for(team, stage), via=ENTRY_POINTS[i % len(ENTRY_POINTS)])
        for i, team in enumerate(layout.teams)
    ]
    for run in runs:
        on_progress(run.request.team, f"request sent via {run.via}", 0.0)
        send(session, deployment, run.request, run.via)
    follow(session.client("stepfunctions"), runs, deployment, on_progress=on_progress)
    teams = [summarize(session, run, layout) for run in runs]
    checks = {
        "resend": resend_everywhere(session, deployment, [r.request for r in runs]),
        "bad_request": reject_bad_request(session, deployment),
        "audit": audit_summary(session, layout),
        # Every call of the run decided by the emulator's authorization (landing_zone/local/authorization).
        "authorization": {
            **DECISIONS.snapshot(),
            "denied": [f"{d.action} on {d.resource} ({d.why}, {d.reason})" for d in DECISIONS.denials[:20]],
        },
    }
    return {
        "endpoint": deployment.endpoint,
        "seconds": round(time.monotonic() - started, 2),
        "teams": teams,
        "checks": checks,
    }


def demo_ok(report: dict[str, Any], layout: Layout | None = None) -> list[str]:
    """What would make the demo fail; empty when everything it promises holds."""
    layout_stacks = {t.slug: t.stacks for t in (layout or cached_layout()).teams}
    problems = []
    for team in report["teams"]:
        if team["status"] != "READY":
            problems.append(f"{team['team']}: {team['status']} at {team['failed_step']}: {team['failure_reason']}")
            continue
        checks = team.get("state_bucket_checks", {})
        if not (
            checks.get("versioning") == "Enabled"
            and checks.get("public_access_blocked")
            and checks.get("tls_only")
            and checks.get("state_objects")
        ):
            problems.append(f"{team['team']}: state bucket checks failed: {checks}")
        if not team["scps"]:
            problems.append(f"{team['team']}: no SCPs attached")
        # Every stack the layout gives the team, applied: the demo requests them all and skips none.
        wanted = layout_stacks.get(team["team"], ())
        not_applied = {s: team["pipelines"].get(s) for s in wanted if team["pipelines"].get(s) != "SUCCEEDED"}
        if not_applied:
            problems.append(f"{team['team']}: stacks of its layout not SUCCEEDED: {not_applied}")
    resend = report["checks"]["resend"]
    if resend.get("queue_drained_after_seconds") is None:
        problems.append("the onboarding queue never drained: whether a resent event started something is unknown")
    if (
        resend["accounts_after"] != resend["accounts_before"]
        or resend["executions_after"] != resend["executions_before"]
    ):
        problems.append(f"resending created something: {resend}")
    # Every resend is answered as the same request (an event is accepted; the API and the CLI say already READY).
    unanswered = [
        r
        for r in resend["replies"]
        if (r.get("failed_entries") if r["via"] == "event" else r["outcome"] != "already_ready")
    ]
    if unanswered:
        problems.append(f"resends not answered as the same request: {unanswered}")
    bad = report["checks"]["bad_request"]
    if bad["status_code"] != 400 or bad["accounts_created"] or bad.get("executions_started", 0):
        problems.append(f"bad request not rejected cleanly: {bad}")
    named = sorted({str(f).split(".")[0] for f in bad.get("fields", [])})
    if named != bad.get("expected_fields", named):
        # Each wrong field, and only those: a 400 that names everything (or misses one) tells the caller nothing.
        problems.append(f"bad request's 400 names {named}, not each wrong field {bad['expected_fields']}")
    audit = report["checks"]["audit"]
    if audit["findings"]:
        problems.append(f"guardrail audit found drift: {audit['by_type']}")
    authorization = report["checks"].get("authorization", {"errors": 0, "denials": 0, "denied": []})
    if authorization["errors"] or authorization["denials"]:
        # A green run means AWS would accept the same calls: any denial, or a fault of the emulator's own, fails it.
        problems.append(
            f"authorization: {authorization['denials']} denied, {authorization['errors']} errors: "
            f"{authorization['denied']}"
        )
    return problems
