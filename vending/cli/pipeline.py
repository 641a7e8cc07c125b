"""`vend pipeline run|approve|approvals`: run a stack's Terraform pipeline, and record approvals for gated applies.

Against AWS the run uses the ambient credentials (AWS_PROFILE etc.) for the stack's account; `--emulator` starts moto,
vends a member account, assumes its OrganizationAccountAccessRole and creates a state bucket, so the whole pipeline can
be tried on a laptop.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from vending.cli.output import print_json, print_table
from vending.exceptions import InvalidRequest
from vending.layout import cached_layout
from vending.pipeline.approvals import ApprovalStore, DynamoDbApprovalStore, FileApprovalStore
from vending.pipeline.runner import (
    PIPELINE_STAGES,
    PipelineResult,
    PipelineSpec,
    SavedPlan,
    StageResult,
    policy_check,
    policy_context,
    run_checkov,
    run_pipeline,
    stack_key,
)
from vending.settings import Settings

EXIT_FAILED = 1
EXIT_AWAITING_APPROVAL = 3


def resolve_stack_dir(value: str) -> Path:
    """Accept `team/stage/stack` (under terraform/environments) or a path to the folder."""
    given = Path(value)
    if given.is_dir():
        return given
    under = Settings.from_env().terraform_root / "environments" / value
    if under.is_dir():
        return under
    raise InvalidRequest(f"no stack folder {value!r} (expected <team>/<stage>/<stack> under terraform/environments)")


def parse_vars(pairs: list[str] | None) -> dict[str, Any]:
    """k=v pairs; a value that parses as JSON (lists, numbers, booleans) is passed typed, anything else as a string."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"--var expects key=value, got {pair!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def default_variables(stack_dir: Path) -> dict[str, Any]:
    """team/stage from the folder; cost center, GPU tier and regions from the layout when the team is in it."""
    parts = stack_dir.resolve().parts
    team, stage = parts[-3], parts[-2]
    found = cached_layout().team(team)
    variables: dict[str, Any] = {"team": team, "stage": stage}
    if found is not None:
        variables.update(cost_center=found.cost_center, gpu_tier=found.gpu_tier, regions=list(found.regions))
    return variables


def approval_store(kind: str) -> ApprovalStore:
    if kind == "dynamodb":
        import boto3

        return DynamoDbApprovalStore(boto3.client("dynamodb"))
    return FileApprovalStore()


def _print_stage(stage: StageResult) -> None:
    mark = "ok" if stage.ok else "FAILED"
    print(f"  {stage.name:<9} {mark:<7} {stage.seconds:7.1f}s  {stage.summary}", file=sys.stderr, flush=True)


def _report(result: PipelineResult, as_json: bool) -> int:
    if as_json:
        print_json(result.to_dict())
    else:
        print_table(
            f"{result.stack}: {result.status}",
            ["stage", "ok", "seconds", "summary"],
            [(s.name, "yes" if s.ok else "no", f"{s.seconds:.1f}", s.summary) for s in result.stages],
        )
        if not result.ok and result.stages and result.stages[-1].output_tail:
            print(result.stages[-1].output_tail, file=sys.stderr)
        print(result.message)
    if result.ok:
        return 0
    return EXIT_AWAITING_APPROVAL if result.status == "awaiting_approval" else EXIT_FAILED


def run_saved_plan(stack_dir: Path, plan_json: Path, variables: dict[str, Any], *, checkov: bool) -> PipelineResult:
    """Only the policy stage, on a plan JSON saved earlier (`terraform show -json`): the same rules and verdict as in a
    full run. Nothing is approved or applied from here."""
    if not plan_json.is_file():
        raise InvalidRequest(f"--plan-json {plan_json} is not a file")
    target = SavedPlan(stack_dir=stack_dir.resolve(), plan_json_file=plan_json.resolve())
    started = time.monotonic()
    ok, summary, tail, record = policy_check(
        target.plan_json_file,
        policy_context(variables, stack_key(stack_dir)),
        (lambda: run_checkov(target)) if checkov else None,
    )
    seconds = round(time.monotonic() - started, 3)
    name = stack_key(stack_dir)
    return PipelineResult(
        stack=name,
        ok=ok,
        stages=[StageResult("policy", ok, seconds, summary, tail)],
        failed_stage=None if ok else "policy",
        message=f"{name}: policy: {summary}",
        plan_summary={},
        status="succeeded" if ok else "failed",
        policy=record,
        seconds=seconds,
    )


def cmd_run(args: argparse.Namespace) -> int:
    stack_dir = resolve_stack_dir(args.stack)
    variables = {**default_variables(stack_dir), **parse_vars(args.var)}
    if args.plan_json:
        if args.emulator or args.stages:
            raise InvalidRequest("--plan-json runs only the policy stage; it takes no --emulator or --stages")
        result = run_saved_plan(stack_dir, Path(args.plan_json), variables, checkov=not args.rules_only)
        if not args.json:
            _print_stage(result.stages[0])
        return _report(result, args.json)
    stages = tuple(s.strip() for s in args.stages.split(",")) if args.stages else PIPELINE_STAGES
    store = approval_store(args.approvals)
    emulated = None
    try:
        if args.emulator:
            start_account = args.hooks.require("emulated_account")
            emulated = start_account(team=str(variables["team"]), stage=str(variables["stage"]))
            print(
                f"emulator {emulated.endpoint}: account {emulated.account_id}, state bucket {emulated.state_bucket}",
                file=sys.stderr,
            )
            account_id, bucket, region = emulated.account_id, emulated.state_bucket, emulated.region
            env = emulated.terraform_env()
        else:
            import boto3

            from vending.aws.sessions import session_env

            session = boto3.Session(region_name=args.region or os.environ.get("AWS_REGION") or "us-east-1")
            account_id = args.account_id or session.client("sts").get_caller_identity()["Account"]
            if not args.bucket:
                raise InvalidRequest("--bucket (the account's Terraform state bucket) is required without --emulator")
            bucket, region = args.bucket, session.region_name
            env = session_env(session)
            for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
                if os.environ.get(key):
                    env[key] = os.environ[key]
        variables.setdefault("account_id", account_id)
        spec = PipelineSpec(
            stack_dir=stack_dir,
            state_bucket=bucket,
            state_region=region,
            account_id=account_id,
            variables=variables,
            env=env,
            gate=args.stage_gate,
            stages=stages,
            saved_plan=Path(args.plan_file).resolve() if args.plan_file else None,
        )
        result = run_pipeline(spec, on_stage=None if args.json else _print_stage, approvals=store)
        if result.status == "awaiting_approval" and args.emulator:
            print(
                "note: the emulator stops with this command; approve and re-run against a persistent account, or "
                "use --stage-gate auto on staging",
                file=sys.stderr,
            )
        return _report(result, args.json)
    finally:
        if emulated is not None:
            emulated.stop()


def cmd_approve(args: argparse.Namespace) -> int:
    import boto3

    from vending.cli.caller import signed_caller

    who = signed_caller(boto3.Session(), args.by)
    approval = approval_store(args.approvals).approve(args.stack, by=who.arn, plan_digest=args.plan)
    if args.json:
        print_json(approval.to_dict())
    else:
        print(
            f"approved {approval.stack} plan {approval.plan_digest} by {approval.approved_by} at {approval.approved_at}"
        )
    return 0


def cmd_approvals(args: argparse.Namespace) -> int:
    items = approval_store(args.approvals).list(args.stack)
    if args.json:
        print_json([a.to_dict() for a in items])
    else:
        print_table(
            "Pipeline approvals",
            ["stack", "plan", "status", "requested", "by", "approved"],
            [(a.stack, a.plan_digest, a.status, a.requested_at, a.approved_by, a.approved_at) for a in items],
        )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Runs in the platform account (CodeBuild) with the project role; credentials for the vended account come
    from its access role, assumed per run."""
    import boto3

    from vending.pipeline import drift
    from vending.pipeline.orchestration import RunStore, execute_run
    from vending.settings import Settings

    settings = Settings.from_env()
    session = boto3.Session()
    if drift.is_check_id(args.run_id):  # a drift check (StackDrift launched it): plan only, as the plan role
        check = drift.execute_check(
            session,
            drift.DriftStore(session.client("dynamodb"), settings.pipeline_runs_table),
            RunStore(session.client("dynamodb"), settings.pipeline_runs_table),
            args.run_id,
            terraform_root=settings.terraform_root,
        )
        if check is not None:
            print(json.dumps({"run_id": check.run_id, "status": check.status, "message": check.message}))
        return 0 if check is None or check.status != drift.DriftStatus.FAILED else 1
    run = execute_run(
        RunStore(session.client("dynamodb"), settings.pipeline_runs_table),
        session,
        args.run_id,
        terraform_root=settings.terraform_root,
        approvals_table=settings.approvals_table,
    )
    print(json.dumps({"run_id": run.run_id, "status": run.status, "message": run.message}))
    return 0 if run.status in {"SUCCEEDED", "AWAITING_APPROVAL"} else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("pipeline", help="Terraform pipelines: run a stack, approve a gated apply")
    sub = parser.add_subparsers(dest="pipeline_command", required=True)

    run = sub.add_parser("run", help="fmt, init, validate, plan, policy, approval, apply for one stack")
    run.add_argument("stack", help="<team>/<stage>/<stack> under terraform/environments, or a folder path")
    run.add_argument(
        "--stage-gate",
        choices=["auto", "manual"],
        default="auto",
        help="auto: staging applies without approval; manual: every apply waits for `approve`",
    )
    run.add_argument("--bucket", help="state bucket of the account (required without --emulator)")
    run.add_argument("--region", help="state bucket region (default AWS_REGION or us-east-1)")
    run.add_argument("--account-id", help="the account the stack may touch (default: the caller's account)")
    run.add_argument("--var", action="append", metavar="K=V", help="stack variable (JSON values are typed); repeat")
    run.add_argument("--stages", help=f"comma-separated subset of {','.join(PIPELINE_STAGES)}")
    run.add_argument(
        "--approvals",
        choices=["file", "dynamodb"],
        default="file",
        help="where approvals are recorded ($VEND_APPROVALS_FILE or $VEND_APPROVALS_TABLE)",
    )
    run.add_argument(
        "--emulator", action="store_true", help="start moto, vend a member account with a state bucket and run there"
    )
    run.add_argument(
        "--plan-file",
        help="plan stage: also save the plan here; apply without plan: apply exactly this saved (reviewed) plan",
    )
    run.add_argument(
        "--plan-json",
        metavar="FILE",
        help="run only the policy stage on a saved `terraform show -json` plan of this stack (never applies)",
    )
    run.add_argument(
        "--rules-only",
        action="store_true",
        help="with --plan-json: only our Rego rules, without checkov's general scans",
    )
    run.add_argument("--json", action="store_true", help="print the PipelineResult as JSON")
    run.set_defaults(func=cmd_run)

    approve = sub.add_parser("approve", help="approve the pending plan of a stack")
    approve.add_argument("stack", help="<team>/<stage>/<stack>")
    approve.add_argument(
        "--by", help="optional: must name the signed-in AWS principal, who is recorded as the approver with the time"
    )
    approve.add_argument("--plan", help="plan digest to approve (default: the latest pending one)")
    approve.add_argument("--approvals", choices=["file", "dynamodb"], default="file")
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(func=cmd_approve)

    worker = sub.add_parser("worker", help="execute one recorded pipeline run (the CodeBuild buildspec calls this)")
    worker.add_argument("--run-id", required=True, help="<request_id>/<stack>, as StartPipelines recorded it")
    worker.set_defaults(func=cmd_worker)

    listing = sub.add_parser("approvals", help="list recorded approvals")
    listing.add_argument("stack", nargs="?", help="only this stack")
    listing.add_argument("--approvals", choices=["file", "dynamodb"], default="file")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_approvals)
