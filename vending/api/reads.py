"""The API's read routes for the portal (and any signed caller): who am I, a draft's preview, a request's timeline and
account view, its team guide, changes, audit findings and spend. Each is scoped by vending.api.access like the
other routes: a team lead sees only its teams."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from botocore.exceptions import ClientError
from pydantic import BaseModel

from vending.api.access import Access
from vending.api.routes import FieldError, _documented, _signed_caller, app, caller_access, team_of
from vending.context import Context
from vending.exceptions import InvalidRequest, NotSigned
from vending.layout import Layout
from vending.lifecycle import RequestRecord
from vending.request import check_request_id, execution_name, parse_request
from vending.service import find_state_machine_arn
from vending.team_docs import backend_block, guardrails_in_plain_words, team_guide
from vending.trust import APPLY, PLAN, WORKFLOW_PATH

REPORT_PREFIX = "guardrail-audit/"

# What to do about each kind of audit finding, in plain words (the findings page and GET /findings).
REMEDIATION: dict[str, str] = {
    "missing_attachment": "A guardrail was detached. `vend audit --remediate` re-attaches it; ask who detached it.",
    "unexpected_attachment": "A policy is attached where the layout does not put it. `vend audit --remediate` "
    "detaches it.",
    "policy_drift": "A guardrail's content was edited outside the platform. `vend audit --remediate` restores it.",
    "policy_missing": "A guardrail policy was deleted. `vend audit --remediate` re-creates and re-attaches it.",
    "account_in_wrong_ou": "The account was moved. `vend audit --remediate` moves it back to its OU.",
    "missing_account_tags": "The account lost its team/stage/cost tags. `vend audit --remediate` re-tags it.",
    "tag_drift": "The account's tags were changed. `vend audit --remediate` restores them.",
    "effective_permissions": "What the account's SCPs allow differs from what they should: fix the cause listed "
    "beside it (usually a detached or edited policy) with `vend audit --remediate`.",
    "unknown_account": "An account nobody vended sits in a managed OU. `vend audit --remediate` quarantines it.",
    "gpu_outside_tier": "An instance outside the team's GPU tier is running: stop it in the account.",
}
DEFAULT_REMEDIATION = "See the finding's detail; `vend audit --remediate` fixes what the layout can restore."


def _access() -> Access:
    """Every read route needs a signed caller (it decides what is shown)."""
    access = caller_access()
    if access is None:
        _signed_caller()  # raises NotSigned
        raise NotSigned("caller: the request carries no IAM identity")
    return access


def _require_record(ctx: Context, request_id: str, access: Access) -> RequestRecord:
    check_request_id(request_id)
    access.require_team(team_of(request_id))
    return ctx.store.require(request_id)


class Me(BaseModel):
    principal: str
    session: str | None = None
    role: str
    teams: list[str]
    sees_all: bool


@app.get("/me", summary="Who the signed caller is to the service, and which teams it sees", responses=_documented(200))
def me() -> dict[str, Any]:
    return _access().to_dict()


# --- a draft request: per-field errors and what it would get ----------------------------------------------------


class Preview(BaseModel):
    valid: bool
    errors: list[FieldError]
    preview: dict[str, Any]


def preview_of(layout: Layout, draft: dict[str, Any]) -> dict[str, Any]:
    """What a request would get, from whichever of its fields are already good: tier, GPU types, budget, spend caps,
    regions, stacks and guardrails."""
    from vending.pipeline.templates import catalogue

    def text(name: str) -> str:
        value = draft.get(name)
        return value if isinstance(value, str) else ""

    def texts(name: str) -> list[str]:
        value = draft.get(name)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    tier_name, team, stacks, regions = text("gpu_tier"), text("team"), texts("stacks"), texts("regions")
    tier = layout.gpu_tiers.get(tier_name)
    templates = catalogue()
    caps = layout.spend_caps(team, tier_name) if tier else None
    return {
        "gpu_tier": tier_name if tier else None,
        "tier_description": tier.description if tier else None,
        "ec2_instance_types": list(tier.ec2_instance_types) if tier else [],
        "sagemaker_instance_types": list(tier.sagemaker_instance_types) if tier else [],
        "monthly_budget_usd": layout.monthly_budget(team, tier_name) if tier else None,
        "spend_caps": caps.model_dump() if caps else None,
        "regions": [r for r in regions if r in layout.organization.allowed_regions],
        "allowed_regions": list(layout.organization.allowed_regions),
        "stacks": [
            {"name": s, "description": templates[s].description if s in templates else "team stack folder"}
            for s in dict.fromkeys(["bootstrap", *stacks])
        ],
        "templates": sorted(templates),
        "guardrails": [
            *guardrails_in_plain_words(layout),
            "Calls to any region outside "
            + (", ".join(regions) or "your regions")
            + " are denied, except global services.",
        ],
        "tiers": {name: t.description for name, t in layout.gpu_tiers.items()},
    }


@app.post(
    "/preview",
    summary="Validate a draft request field by field and preview its guardrails, GPU types, budget and stacks",
    responses=_documented(200, 400, 413, ok=Preview),
)
def preview(
    draft: Annotated[dict[str, Any], Body(description="A draft request (any subset of its fields)")],
) -> dict[str, Any]:
    from vending.intake import preflight

    access = _access()
    ctx = Context()
    errors: list[dict[str, str]] = []
    try:
        request = parse_request(draft)
    except InvalidRequest as e:
        errors = list(e.details or [])
        request = None
    if request is not None:
        try:
            preflight(request, ctx.store, ctx.settings.terraform_root, ctx.layout)
        except InvalidRequest as e:
            errors = list(e.details or [])
    team = draft.get("team")
    if isinstance(team, str) and team and access.role.value == "lead" and team not in access.teams:
        errors.append({"field": "team", "message": f"you lead {', '.join(sorted(access.teams))}, not {team}"})
    return {"valid": not errors, "errors": errors, "preview": preview_of(ctx.layout, draft)}


# --- a request's timeline: its executions' steps from the execution history --------------------------------------


class Timeline(BaseModel):
    request_id: str
    status: str
    executions: list[dict[str, Any]]


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events.extend(page["events"])
    return events


def _seconds(a: datetime, b: datetime) -> float:
    return round((b - a).total_seconds(), 3)


def execution_timeline(sfn: Any, arn: str) -> dict[str, Any] | None:
    """An execution's steps (entered, exited, seconds, outcome) and its failure's error and cause, or None when it
    does not exist."""
    try:
        described = sfn.describe_execution(executionArn=arn)
        events = _history(sfn, arn)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in {"ExecutionDoesNotExist", "InvalidArn"}:
            return None
        raise
    steps: list[dict[str, Any]] = []
    open_steps: dict[str, dict[str, Any]] = {}
    current: str | None = None
    failure: dict[str, str] | None = None
    for event in events:
        kind, at = event["type"], event["timestamp"]
        if kind.endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
            step = {"name": current, "entered": at.isoformat(), "exited": None, "seconds": None, "outcome": "running"}
            steps.append({**step, "errors": []})
            open_steps[current] = {"_at": at, "_index": len(steps) - 1}
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if (begun := open_steps.pop(name, None)) is not None:
                steps[begun["_index"]].update(exited=at.isoformat(), seconds=_seconds(begun["_at"], at), outcome="done")
        elif kind.endswith("Failed"):
            details = next((v for k, v in event.items() if k.endswith("Details") and isinstance(v, dict)), {})
            error = {"error": str(details.get("error", "")), "cause": str(details.get("cause", ""))[:2000]}
            if current in open_steps:  # a failed attempt of the step (retried, or caught into RecordFailed)
                steps[open_steps[current]["_index"]]["errors"].append(error["error"])
            if kind == "ExecutionFailed" or failure is None:
                failure = error
    status = str(described["status"])
    for begun in open_steps.values():
        steps[begun["_index"]]["outcome"] = "failed" if status == "FAILED" else "running"
    stop = described.get("stopDate")
    return {
        "name": described["name"],
        "status": status,
        "started": described["startDate"].isoformat(),
        "stopped": stop.isoformat() if stop else None,
        "seconds": _seconds(described["startDate"], stop or datetime.now(UTC)),
        "steps": steps,
        "failure": failure if status != "SUCCEEDED" else None,
    }


@app.get(
    "/requests/<request_id>/timeline",
    summary="The request's executions, step by step (durations; a failure with its cause)",
    responses=_documented(200, 400, 404, 422, ok=Timeline),
)
def timeline(request_id: str) -> dict[str, Any]:
    from vending.workflow import LIFECYCLE_STATE_MACHINE_NAME

    access = _access()
    ctx = Context()
    record = _require_record(ctx, request_id, access)
    sfn = ctx.client("stepfunctions")
    vending_arn = ctx.settings.state_machine_arn or find_state_machine_arn(sfn)
    runs: list[dict[str, Any]] = []
    if vending_arn:
        base = vending_arn.replace(":stateMachine:", ":execution:")
        for attempt in range(1, record.attempts + 1):
            found = execution_timeline(sfn, f"{base}:{execution_name(request_id, attempt)}")
            if found:
                runs.append({**found, "kind": "vend", "attempt": attempt})
    lifecycle_arn = ctx.settings.lifecycle_state_machine_arn or find_state_machine_arn(
        sfn, LIFECYCLE_STATE_MACHINE_NAME
    )
    if lifecycle_arn:
        from vending.changes import ChangeStore

        base = lifecycle_arn.replace(":stateMachine:", ":execution:")
        for change in ChangeStore(ctx.client("dynamodb"), ctx.settings.changes_table).for_request(request_id):
            if change.execution_name and (found := execution_timeline(sfn, f"{base}:{change.execution_name}")):
                runs.append({**found, "kind": "change", "change_id": change.change_id})
    return {"request_id": request_id, "status": record.status.value, "executions": runs}


# --- an account: guardrails in plain words, GPU types, CI roles, GitHub, backend, guide ----------------------------


class AccountView(BaseModel):
    request_id: str
    record: dict[str, Any]
    view: dict[str, Any]


@app.get(
    "/requests/<request_id>/account",
    summary="The request's account: guardrails in plain words, GPU types, CI roles, GitHub setup, backend block",
    responses=_documented(200, 400, 404, 422, ok=AccountView),
)
def account(request_id: str) -> dict[str, Any]:
    access = _access()
    ctx = Context()
    record = _require_record(ctx, request_id, access)
    layout = ctx.layout
    request = record.request
    tier = layout.gpu_tiers.get(str(request.get("gpu_tier", "")))
    regions = list(request.get("regions") or [])
    view = {
        "gpu_tier": request.get("gpu_tier"),
        "tier_description": tier.description if tier else None,
        "ec2_instance_types": list(tier.ec2_instance_types) if tier else [],
        "sagemaker_instance_types": list(tier.sagemaker_instance_types) if tier else [],
        "regions": regions,
        "guardrails": [
            *guardrails_in_plain_words(layout),
            f"Calls to any region other than {', '.join(regions) or '(none)'} are denied, except global services.",
        ],
        "scps": record.scps,
        "ci": {
            "repository": request.get("repository"),
            "workflow": WORKFLOW_PATH,
            "plan": {"environment": PLAN.environment(record.team, record.stage), "role": PLAN.role_name},
            "apply": {"environment": APPLY.environment(record.team, record.stage), "role": APPLY.role_name},
            "ci_role_arn": record.ci_role_arn,
        },
        "github": {
            "oidc_subject": "repo, context and job_workflow_ref (the repository's OIDC subject customization)",
            "variables": {
                "AWS_ACCOUNT_ID": record.account_id,
                "TF_STATE_BUCKET": record.state_bucket,
                "TF_STATE_REGION": regions[0] if regions else None,
            },
            "reviewers": list(t.github_reviewers) if (t := layout.team(record.team)) else [],
        },
        "backend": backend_block(record),
        "stacks": list(request.get("stacks") or []),
        "pipelines": record.pipelines,
        "quotas": record.quotas,
        "monthly_budget_usd": layout.monthly_budget(record.team, str(request.get("gpu_tier"))) if tier else None,
    }
    return {"request_id": request_id, "record": record.model_dump(mode="json"), "view": view}


@app.get(
    "/requests/<request_id>/guide",
    summary="The team's first-day guide (Markdown)",
    responses=_documented(200, 400, 404, 422),
)
def guide(request_id: str) -> Response[str]:
    access = _access()
    ctx = Context()
    record = _require_record(ctx, request_id, access)
    return Response(
        status_code=200,
        content_type="text/markdown; charset=utf-8",
        body=team_guide(record, ctx.layout),
        headers={"Content-Disposition": f'attachment; filename="{request_id}-guide.md"'},
    )


# --- changes ---------------------------------------------------------------------------------------------------


class ChangeList(BaseModel):
    changes: list[dict[str, Any]]


@app.get(
    "/changes",
    summary="Changes the caller may see, newest first (optionally by status)",
    responses=_documented(200, 400, 422, ok=ChangeList),
)
def list_changes(status: str | None = None) -> dict[str, Any]:
    from vending.changes import ChangeStore

    access = _access()
    ctx = Context()
    store = ChangeStore(ctx.client("dynamodb"), ctx.settings.changes_table)
    found = [
        c for c in store.all() if access.can_see(team_of(c.request_id)) and (status is None or c.status.value == status)
    ]
    found.sort(key=lambda c: c.requested_at, reverse=True)
    return {
        "changes": [{**c.model_dump(mode="json"), "needs_approval": c.needs_approval} for c in found],
    }


# --- audit findings ------------------------------------------------------------------------------------------------


class Findings(BaseModel):
    generated_at: str | None
    report_uri: str | None
    findings: list[dict[str, Any]]
    notes: list[str]


def latest_report(s3: Any, bucket: str) -> tuple[str, dict[str, Any]] | None:
    latest: str | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=REPORT_PREFIX):
        for item in page.get("Contents", []):
            latest = max(latest or "", item["Key"])
    if not latest:
        return None
    return latest, json.loads(s3.get_object(Bucket=bucket, Key=latest)["Body"].read())


@app.get(
    "/findings",
    summary="The latest guardrail audit's findings the caller may see, each with its remediation",
    responses=_documented(200, 422, ok=Findings),
)
def findings() -> dict[str, Any]:
    access = _access()
    ctx = Context()
    bucket = ctx.settings.reports_bucket
    found = latest_report(ctx.client("s3"), bucket) if bucket else None
    if found is None:
        return {"generated_at": None, "report_uri": None, "findings": [], "notes": ["no audit report published yet"]}
    key, report = found
    by_account = {r.account_id: r for r in ctx.store.list() if r.account_id}
    shown, hidden = [], 0
    for item in report.get("findings", []):
        target = str(item.get("target", ""))
        record = by_account.get(target.removeprefix("account:")) if target.startswith("account:") else None
        team = record.team if record else None
        if not (access.sees_all or (team is not None and team in access.teams)):
            hidden += 1
            continue
        shown.append(
            {
                **item,
                "team": team,
                "request_id": record.request_id if record else None,
                "remediation": REMEDIATION.get(str(item.get("type")), DEFAULT_REMEDIATION),
            }
        )
    notes = [] if access.sees_all else [f"{hidden} finding(s) of other teams or of the organization are not shown"]
    return {
        "generated_at": report.get("generated_at"),
        "report_uri": f"s3://{bucket}/{key}",
        "findings": shown,
        "notes": notes,
    }


# --- spend ---------------------------------------------------------------------------------------------------------


class Spend(BaseModel):
    at: str
    source: str
    teams: list[dict[str, Any]]
    notes: list[str]


@app.get(
    "/spend",
    summary="Spend per team and stage: the spend fence's stored readings of the last day, Cost Explorer's month "
    "when the fence has stored none",
    responses=_documented(200, 422, ok=Spend),
)
def spend() -> dict[str, Any]:
    """The API reads no member account: the spend fence stores each account's reading every interval
    (vending.spend.readings) and this route queries them, one account at a time (its partition only)."""
    from vending.spend.readings import ReadingStore

    access = _access()
    ctx = Context()
    at = datetime.now(UTC)
    records = [r for r in ctx.store.list() if access.can_see(r.team) and r.account_id]
    notes: list[str] = []
    readings = ReadingStore(ctx.client("dynamodb"), ctx.settings.usage_table)
    rows = []
    for record in sorted(records, key=lambda r: (r.team, r.stage)):
        found = readings.last_day(str(record.account_id), at)
        if found is None:
            notes.append(f"{record.request_id}: no reading from the spend fence in the last 24 hours")
            continue
        latest = found.latest
        rows.append(
            {
                "team": record.team,
                "stage": record.stage,
                "request_id": record.request_id,
                "account_id": record.account_id,
                "read_at": latest.at.isoformat(),
                "hour_usd": round(latest.hour_usd, 2),
                "day_usd": round(latest.day_usd, 2),
                "hourly_usd": [round(v, 2) for v in found.hourly],
                "top_sources": [[name, round(usd, 2)] for name, usd in found.top_sources[:3]],
                "unpriced": latest.unpriced,
            }
        )
    if rows:
        return {"at": at.isoformat(), "source": "live meter", "teams": rows, "notes": notes}
    from vending.costs import spend_by_team_and_stage

    try:
        report = spend_by_team_and_stage(ctx.session.client("ce", region_name="us-east-1"))
        lines = [line.model_dump() for line in report.lines if access.can_see(line.team)]
    except ClientError as e:
        lines = []
        notes.append(f"Cost Explorer unavailable: {e.response.get('Error', {}).get('Code')}")
    return {"at": at.isoformat(), "source": "Cost Explorer", "teams": lines, "notes": notes}
