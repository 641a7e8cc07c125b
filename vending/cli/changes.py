"""`vend request update|approve`: change requests on a READY account (vending.changes).

They join the `request` command group that vending.cli.requests registers (listed before this module)."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import boto3

from vending.aws.sessions import access_role_arn, assume_role_session
from vending.changes import (
    ChangeRecord,
    ChangeStore,
    approve_change,
    plan_change,
    request_change,
)
from vending.cli.args import request_id_arg, request_or_change_id_arg
from vending.cli.caller import signed_caller
from vending.cli.output import print_json, print_table
from vending.exceptions import InvalidRequest, VendingError
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, RequestStore
from vending.pipeline.orchestration import destroy_preview
from vending.service import find_state_machine_arn, settings_from_env
from vending.settings import Settings
from vending.workflow import LIFECYCLE_STATE_MACHINE_NAME


def session() -> boto3.Session:
    return boto3.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


def stores(s: boto3.Session) -> tuple[RequestStore, ChangeStore]:
    settings = Settings.from_env()
    ddb = s.client("dynamodb")
    return RequestStore(ddb, settings.requests_table), ChangeStore(ddb, settings.changes_table)


def lifecycle_arn(s: boto3.Session) -> str:
    return Settings.from_env().lifecycle_state_machine_arn or find_state_machine_arn(
        s.client("stepfunctions"), LIFECYCLE_STATE_MACHINE_NAME
    )


def wait_for_execution(s: boto3.Session, state_machine_arn: str, name: str, timeout: float = 3600) -> str:
    arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    sfn, deadline = s.client("stepfunctions"), time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        if status != "RUNNING":
            return status
        time.sleep(2)
    return "RUNNING"


def preview_destroy(s: boto3.Session) -> Callable[[RequestRecord, str], dict[str, Any] | None]:
    """A removed stack's destroy plan summary, from its state in the account (through the access role)."""

    def preview(record: RequestRecord, stack: str) -> dict[str, Any] | None:
        if not record.account_id or not record.state_bucket:
            return None
        try:
            role = access_role_arn(record.account_id, cached_layout().organization.access_role_name)
            member = assume_role_session(s.client("sts"), role, "vend-destroy-preview", "us-east-1")
            return destroy_preview(member.client("s3"), record.state_bucket, f"{record.team}/{record.stage}/{stack}")
        except Exception as e:  # a preview that cannot be read is said, never a reason to refuse the dry run
            return {"error": f"{type(e).__name__}: {e}"}

    return preview


def _given(args: argparse.Namespace) -> dict[str, Any]:
    split = lambda v: [p.strip() for p in v.split(",") if p.strip()] if v is not None else None  # noqa: E731
    return {
        k: v
        for k, v in {
            "gpu_tier": args.gpu_tier,
            "regions": split(args.regions),
            "stacks": split(args.stacks),
            "repository": args.repository,
            "owner_email": args.owner_email,
        }.items()
        if v is not None
    }


def _destroy_line(plan: dict[str, Any] | None) -> str:
    if plan is None:
        return "planned when the change runs (terraform plan -destroy)"
    if "error" in plan:
        return f"could not read the state: {plan['error']}"
    shown = ", ".join(plan["resources"][:8]) + (" ..." if len(plan["resources"]) > 8 else "")
    return f"{plan['destroy']} to destroy ({plan['state']}){': ' + shown if shown else ''}"


def _print_change(change: ChangeRecord, *, as_json: bool, title: str) -> None:
    if as_json:
        print_json({**change.model_dump(mode="json"), "needs_approval": change.needs_approval})
        return
    d = change.diff
    rows = [
        ("policies attached", ", ".join(d["policies"]["attached"]) or "-"),
        ("policies detached", ", ".join(d["policies"]["detached"]) or "-"),
        ("policies updated", ", ".join(d["policies"]["updated"]) or "-"),
        (
            "region fence",
            f"{d['region_fence']['policy'] or 'no team policy'}: {', '.join(d['region_fence']['from'])} -> "
            f"{', '.join(d['region_fence']['to'])}"
            if d.get("region_fence")
            else "unchanged",
        ),
        ("stacks added", ", ".join(d["stacks"]["added"]) or "-"),
        ("stacks removed", ", ".join(d["stacks"]["removed"]) or "-"),
        *((f"destroy plan {stack}", _destroy_line(plan)) for stack, plan in (d.get("destroy_plans") or {}).items()),
        (
            "CI trust",
            f"{d['trust']['ci_role_sub']['from']} -> {d['trust']['ci_role_sub']['to']}" if d["trust"] else "unchanged",
        ),
        (
            "budget",
            f"{d['budget']['monthly_usd']['from']} -> {d['budget']['monthly_usd']['to']} USD/month"
            if d["budget"]
            else "unchanged",
        ),
        *((f"field {k}", f"{v['from']} -> {v['to']}") for k, v in d["fields"].items()),
        ("approval", "; ".join(change.approval_reasons) or "not needed"),
        (
            "status",
            change.status.value + (f" (converged by the resume {change.resumed_by})" if change.resumed_by else ""),
        ),
    ]
    print_table(f"{title} {change.change_id} (asked by {change.requested_by})", ["what", "change"], rows)


def cmd_update(args: argparse.Namespace) -> int:
    s = session()
    store, changes = stores(s)
    who = signed_caller(s, args.by)
    try:
        if args.dry_run:
            change = plan_change(
                store,
                changes,
                cached_layout(),
                args.request_id,
                _given(args),
                by=who.arn,
                session=who.session,
                preview_destroy=preview_destroy(s),
            )
            _print_change(change, as_json=args.json, title="Dry run: nothing changed;")
            return 0
        arn = lifecycle_arn(s)
        change = request_change(
            store,
            changes,
            cached_layout(),
            args.request_id,
            _given(args),
            by=who.arn,
            session=who.session,
            sfn=s.client("stepfunctions"),
            state_machine_arn=arn,
            settings=settings_from_env(),
            preview_destroy=preview_destroy(s),
        )
    except InvalidRequest as e:
        _rejected(e, args.json)
        return 2
    if args.wait and change.execution_name:
        wait_for_execution(s, arn, change.execution_name)
        change = changes.require(change.change_id)
    _print_change(change, as_json=args.json, title="Change")
    return 0


def _rejected(e: VendingError, as_json: bool) -> None:
    problems = e.details or [{"field": str(e).partition(":")[0], "message": str(e).partition(":")[2].strip()}]
    if as_json:
        print_json({"code": type(e).__name__, "message": str(e), "errors": problems})
    else:
        print_table(
            "Change rejected: nothing changed", ["field", "problem"], [(p["field"], p["message"]) for p in problems]
        )


def cmd_approve(args: argparse.Namespace) -> int:
    s = session()
    store, changes = stores(s)
    arn = lifecycle_arn(s)
    who = signed_caller(s, args.by)
    change = approve_change(
        store,
        changes,
        args.id,
        by=who.arn,
        session=who.session,
        sfn=s.client("stepfunctions"),
        state_machine_arn=arn,
        settings=settings_from_env(),
    )
    if args.wait:
        wait_for_execution(s, arn, change.execution_name)
        change = changes.require(change.change_id)
    _print_change(change, as_json=args.json, title="Approved change")
    return 0


def register(subparsers: Any) -> None:
    # argparse keeps the sub-command actions on the parser; the `request` group is vending.cli.requests'.
    group = subparsers.choices["request"]
    sub = next(a for a in group._actions if isinstance(a, argparse._SubParsersAction))
    update = sub.add_parser("update", help="change a READY account: tier, regions, stacks, repository, owner")
    update.add_argument("request_id", type=request_id_arg)
    update.add_argument("--gpu-tier")
    update.add_argument("--regions", help="comma-separated, e.g. us-east-1,eu-west-1")
    update.add_argument(
        "--stacks", help="comma-separated, the full list: a stack left out is destroyed (after an approval)"
    )
    update.add_argument("--repository", help="GitHub owner/repo trusted by the CI role")
    update.add_argument("--owner-email")
    update.add_argument(
        "--by", help="optional: must name the signed-in AWS principal, who is recorded (anyone else is refused)"
    )
    update.add_argument("--dry-run", action="store_true", help="print the diff; change nothing")
    update.add_argument("--wait", action="store_true", help="wait for the change's execution to finish")
    update.add_argument("--json", action="store_true")
    update.set_defaults(func=cmd_update)
    approve = sub.add_parser("approve", help="approve the change waiting on a request (or a change id)")
    approve.add_argument("id", type=request_or_change_id_arg, help="request id or change id")
    approve.add_argument(
        "--by",
        help="optional: must name the signed-in principal; the approver is the signed-in principal, never the "
        "requester's (approve as the PlatformApprover role)",
    )
    approve.add_argument("--wait", action="store_true")
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(func=cmd_approve)
