"""`vend request create|status|list|resume`. Honours AWS_ENDPOINT_URL, AWS_PROFILE, AWS_DEFAULT_REGION, AWS_REGION."""

from __future__ import annotations

import argparse
import os
from typing import Any

import boto3

from vending.cli.args import request_id_arg
from vending.cli.output import print_json, print_table
from vending.exceptions import InvalidRequest
from vending.intake import submit
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, RequestStore
from vending.quotas import QuotaState, pending
from vending.request import VendingRequest, invalid, parse_body, parse_request
from vending.service import SubmitResult, find_state_machine_arn
from vending.settings import Settings


def _session() -> boto3.Session:
    # boto3 reads AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL itself; nothing is overridden here.
    return boto3.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


def _store(session: boto3.Session) -> RequestStore:
    return RequestStore(session.client("dynamodb"), Settings.from_env().requests_table)


def _state_machine(session: boto3.Session) -> str:
    return Settings.from_env().state_machine_arn or find_state_machine_arn(session.client("stepfunctions"))


def _submit(session: boto3.Session, store: RequestStore, request: VendingRequest) -> SubmitResult:
    return submit(
        session.client("stepfunctions"),
        store,
        _state_machine(session),
        request,
        terraform_root=Settings.from_env().terraform_root,
    )


def request_from_file(path: str) -> VendingRequest:
    """A --file document goes through the same limits and model as an API body (size, UTF-8, nesting, object)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_READ)
    except OSError as e:
        raise invalid([{"field": "request", "message": f"cannot read {path}: {e.strerror}"}]) from e
    return parse_body(raw)


MAX_FILE_READ = 1 << 20  # read past the body limit (so it is reported as too large), never a whole huge file


def request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {}
    team = cached_layout().team(args.team) if args.team else None
    if team and args.from_layout:
        data = {
            "team": team.slug,
            "owner_email": team.owner_email,
            "cost_center": team.cost_center,
            "gpu_tier": team.gpu_tier,
            "regions": list(team.regions),
            "repository": team.repository,
            "stacks": list(team.stacks),
        }
    given = {
        "team": args.team,
        "stage": args.stage,
        "owner_email": args.owner_email,
        "cost_center": args.cost_center,
        "gpu_tier": args.gpu_tier,
        "regions": args.region,
        "stacks": args.stack,
        "repository": args.repository,
    }
    data.update({k: v for k, v in given.items() if v is not None})
    return data


def cmd_create(args: argparse.Namespace) -> int:
    try:
        request = request_from_file(args.file) if args.file else parse_request(request_from_args(args))
        session = _session()
        store = _store(session)
        result = _submit(session, store, request)
    except InvalidRequest as e:
        if args.json:
            print_json({"code": "InvalidRequest", "message": str(e), "errors": e.details})
        else:
            print_table(
                "Request rejected: nothing was created",
                ["field", "problem"],
                [(p["field"], p["message"]) for p in e.details],
            )
        return 2
    if args.json:
        print_json(result.model_dump())
    else:
        print_table(
            f"Request {result.request_id}",
            ["outcome", "status", "execution", "account"],
            [(result.outcome, result.status, result.execution_name, result.account_id or "-")],
        )
    return 0


def _record_row(r: RequestRecord) -> tuple[Any, ...]:
    return (
        r.request_id,
        r.status.value,
        r.account_id or "-",
        r.ou_path or "-",
        len(r.scps),
        r.attempts,
        f"{r.failed_step}: {r.failure_reason}" if r.failed_step else "",
    )


COLUMNS = ["request", "status", "account", "OU", "SCPs", "attempts", "failure"]


def cmd_status(args: argparse.Namespace) -> int:
    record = _store(_session()).require(args.request_id)
    if args.json:
        print_json(record.model_dump(mode="json"))
        return 0
    print_table(f"Request {record.request_id}", COLUMNS, [_record_row(record)])
    print_table("Lifecycle", ["status", "step", "at"], [(t.status.value, t.step, t.at) for t in record.history])
    if record.quotas:
        quotas = [QuotaState.model_validate(q) for q in record.quotas]
        print_table(
            f"Service Quotas ({len(pending(quotas))} pending)",
            ["region", "quota", "code", "applied", "tier", "status", "request"],
            [
                (
                    q.region,
                    f"{q.service} {q.name}",
                    q.code,
                    f"{q.applied:g}",
                    f"{q.desired:g}",
                    q.status,
                    q.request_id or "-",
                )
                for q in quotas
            ],
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    records = _store(_session()).list(team=args.team, status=args.status)
    if args.json:
        print_json({"requests": [r.model_dump(mode="json") for r in records]})
    else:
        print_table("Vending requests", COLUMNS, [_record_row(r) for r in records])
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    session = _session()
    store = _store(session)
    record = store.require(args.request_id)
    result = _submit(session, store, parse_request(record.request))
    if args.json:
        print_json(result.model_dump())
    else:
        print_table(
            f"Request {result.request_id}",
            ["outcome", "status", "execution"],
            [(result.outcome, result.status, result.execution_name)],
        )
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("request", help="create, inspect and resume vending requests")
    sub = parser.add_subparsers(dest="request_command", required=True)
    create = sub.add_parser("create", help="submit a request (the same team+stage twice is the same request)")
    create.add_argument("--file", help="a JSON request document")
    create.add_argument("--team")
    create.add_argument("--stage", choices=None, help="staging or production")
    create.add_argument("--owner-email")
    create.add_argument("--cost-center")
    create.add_argument("--gpu-tier")
    create.add_argument("--region", action="append", help="repeat for several regions")
    create.add_argument("--stack", action="append", help="repeat for several stacks")
    create.add_argument("--repository", help="GitHub owner/repo trusted by the CI role")
    create.add_argument("--from-layout", action="store_true", help="fill the team's fields from the layout")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=cmd_create)
    status = sub.add_parser("status", help="one request with its lifecycle")
    status.add_argument("request_id", type=request_id_arg)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    listing = sub.add_parser("list", help="all requests")
    listing.add_argument("--team")
    listing.add_argument("--status")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    resume = sub.add_parser("resume", help="resume a FAILED request from its failed step")
    resume.add_argument("request_id", type=request_id_arg)
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(func=cmd_resume)
