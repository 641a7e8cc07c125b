"""`vend local up` and `vend demo`: the whole service on the embedded emulator, and the hooks that let
`vend pipeline run --emulator` and `vend api serve --emulator` use it."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from vending.cli.hooks import LocalHooks
from vending.cli.output import console, print_json, print_table
from vending.exceptions import VendingError
from vending.layout import cached_layout
from vending.settings import REPO_ROOT


@contextmanager
def emulator_environment(port: int = 0) -> Iterator[dict[str, str]]:
    """Start the local emulator, deploy the service into it and point this process at it (undone on exit)."""
    from landing_zone.local.runtime import Emulator, deploy

    with Emulator(port=port) as emulator:
        deployment = deploy()
        yield {
            "endpoint": emulator.endpoint,
            "exports": local_exports(emulator.endpoint),
            **{k: str(v) for k, v in deployment.to_dict().items()},
        }


def emulated_account(team: str, stage: str) -> Any:
    from landing_zone.local.pipeline_account import start_emulated_account

    return start_emulated_account(team=team, stage=stage)


def signing_secrets(access_key: str, token: str | None) -> tuple[str, str] | None:
    """The secret and the principal of credentials the in-process emulator issued (an assumed-role session or an IAM
    user's key), so `vend api serve --emulator` verifies signatures as API Gateway does; None for a key it never
    issued (or a session token that is not that key's)."""
    from moto.iam.models import get_account_id_from, iam_backends
    from moto.sts.models import sts_backends

    from landing_zone.local.authorization import state

    caller = state.caller(access_key, token)
    if caller is None:
        return None
    account = get_account_id_from(access_key)
    if token:
        assumed = next(r for r in list(sts_backends[account]["aws"].assumed_roles) if r.access_key_id == access_key)
        return str(assumed.secret_access_key), str(caller.session_arn or caller.arn)
    key = iam_backends[account]["aws"].access_keys[access_key]
    return str(key.secret_access_key), caller.arn


def api_session() -> Any:
    """One request's session of the Api function's role (landing_zone.local.runtime.role_sessions)."""
    from landing_zone.local.runtime import role_sessions

    return role_sessions("Api")()


HOOKS = LocalHooks(
    emulated_account=emulated_account,
    emulator_environment=emulator_environment,
    signing_secrets=signing_secrets,
    api_session=api_session,
)


def _quiet_handlers(verbose: bool) -> None:
    # Handlers log JSON to stdout in Lambda; on a terminal that drowns the progress lines.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if verbose else "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "false" if verbose else "true")


def local_exports(endpoint: str, region: str = "us-east-1") -> str:
    """What another shell needs for the CLI, boto3 and `vend api serve` against the emulator: the platform admin
    role's emulator-only credentials (IAM is enforced). boto3 reads the region from AWS_DEFAULT_REGION (AWS_REGION
    only in newer SDKs and the CLI), so both are set."""
    keys = " ".join(
        f"{k}={os.environ[k]}"
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        if os.environ.get(k)
    )
    return f"  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region} AWS_REGION={region} {keys}"


def _faults(path: str | None) -> Any:
    """`--faults FILE`: the rule set, on from here on (None: off). A bad file stops before the emulator starts."""
    if not path:
        return None
    from landing_zone.local import faults

    try:
        config = faults.load(path)
    except (OSError, ValueError) as e:
        raise SystemExit(f"--faults {path}: {e}") from e
    if config.log_file is None:
        config.log_file = str(REPO_ROOT / ".vend" / f"faults-{time.strftime('%Y%m%d-%H%M%S')}.log")
    Path(config.log_file).parent.mkdir(parents=True, exist_ok=True)
    return config


def cmd_up(args: argparse.Namespace) -> int:
    _quiet_handlers(args.verbose)
    from landing_zone.local import faults
    from landing_zone.local.runtime import deploy, start_emulator

    fault_config = _faults(args.faults)
    emulator = start_emulator(args.port)
    deployment = deploy()
    if fault_config is not None:
        faults.enable(fault_config)
        console.print(f"[yellow]Fault injection on[/yellow] (seed {fault_config.seed}); log: {fault_config.log_file}")
    console.print(f"[bold]Emulator up[/bold] at {emulator.endpoint}  (state machine {deployment.state_machine_arn})")
    console.print("IAM enforced. In another shell, as the platform admin role (these are emulator-only keys):")
    print(local_exports(emulator.endpoint))
    print("  vend request create --team team-mlops --stage staging --from-layout")
    print("  vend api serve --no-auth    # finds the AccountVending state machine by name, as the CLI does")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0


class LiveView:
    """One row per team: the state it is in, time since its request, a bar over the workflow's steps. Every
    state change is also written, one line each, to the log file."""

    def __init__(self, teams: list[str], steps: list[str], log: TextIO) -> None:
        self.steps, self.log = steps, log
        self.rows: dict[str, dict[str, Any]] = {
            t: {"state": "waiting", "seconds": 0.0, "done": 0, "transitions": 0, "ended": False} for t in teams
        }

    def update(self, team: str, what: str, seconds: float) -> None:
        self.log.write(f"{seconds:8.1f}s  {team:<16} {what}\n")
        self.log.flush()
        row = self.rows.setdefault(team, {"state": "", "seconds": 0.0, "done": 0, "transitions": 0, "ended": False})
        row["seconds"] = seconds
        if what.startswith("execution "):
            row["state"], row["ended"] = what.removeprefix("execution "), True
            if row["state"] == "SUCCEEDED":
                row["done"] = len(self.steps)
            return
        row["state"] = what
        if not what.startswith("request sent"):
            row["transitions"] += 1
        if what in self.steps:
            row["done"] = max(row["done"], self.steps.index(what) + 1)

    def render(self, now: float) -> Table:
        table = Table(title="Vending (live)", expand=False)
        for column in ("team", "state", "elapsed", "progress", "steps", "transitions"):
            table.add_column(column)
        for team, row in self.rows.items():
            elapsed = row["seconds"] if row["ended"] else now
            style = {"SUCCEEDED": "green", "FAILED": "red"}.get(row["state"], "")
            table.add_row(
                team,
                f"[{style}]{row['state']}[/{style}]" if style else row["state"],
                f"{elapsed:6.1f}s",
                ProgressBar(total=len(self.steps), completed=row["done"], width=30),
                f"{row['done']}/{len(self.steps)}",
                str(row["transitions"]),
            )
        return table


def cmd_demo(args: argparse.Namespace) -> int:
    _quiet_handlers(args.verbose)
    from landing_zone.local import faults
    from landing_zone.local.demo import demo_ok, run_demo, workflow_steps
    from landing_zone.local.runtime import OPERATIONS, deploy, start_emulator

    fault_config = _faults(args.faults)
    started = time.monotonic()
    layout = cached_layout()
    log_path = Path(args.log_file or REPO_ROOT / ".vend" / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    view = None
    injector = None
    with open(log_path, "w", encoding="utf-8") as log, start_emulator(args.port) as emulator:
        deployment = deploy()
        injector = faults.enable(fault_config) if fault_config is not None else None
        view = LiveView([t.slug for t in layout.teams], workflow_steps(), log)
        note = (
            f"Emulator at {emulator.endpoint}; service deployed ({len(deployment.function_arns)} functions, "
            f"state machine {deployment.state_machine_arn.rsplit(':', 1)[-1]}); state-by-state log: {log_path}"
        )
        crashed = None
        if args.json:
            print(note, file=sys.stderr)
            report, crashed = _run_demo(run_demo, deployment, layout, view)
        else:
            console.print(note)
            begun = time.monotonic()
            with Live(view.render(0.0), console=console, refresh_per_second=4, transient=False) as live:
                stop = threading.Event()

                def refresh() -> None:
                    while not stop.wait(0.25):
                        live.update(view.render(time.monotonic() - begun))

                ticker = threading.Thread(target=refresh, daemon=True)
                ticker.start()
                try:
                    report, crashed = _run_demo(run_demo, deployment, layout, view)
                finally:
                    stop.set()
                    ticker.join()
                    live.update(view.render(time.monotonic() - begun))
    report["wall_seconds"] = round(time.monotonic() - started, 2)
    if injector is not None:
        report["faults_injected"] = {
            "by_kind": injector.counts(),
            "total": len(injector.records),
            "log": fault_config.log_file,
        }
    # A refused call fails the demo even when the workflow absorbed it (a retry, a handled error).
    problems = [f"{d.function} ({d.key}) was denied {d.action}: {d.message}" for d in OPERATIONS.denials]
    problems += [crashed] if crashed else demo_ok(report)
    report["ok"] = not problems
    report["problems"] = problems
    if args.json:
        print_json(report)
    else:
        _print_report(report, log_path)
    return 0 if not problems else 1


def _run_demo(run_demo: Any, deployment: Any, layout: Any, view: LiveView) -> tuple[dict[str, Any], str | None]:
    try:
        return run_demo(deployment, layout, on_progress=view.update), None
    except VendingError as e:  # e.g. a record never written because a function was refused: still report why
        return {"teams": [], "checks": {}}, f"demo stopped: {type(e).__name__}: {e}"


def _print_report(report: dict[str, Any], log_path: Path) -> None:
    if not report["checks"]:
        for problem in report["problems"]:
            console.print(f"[red]problem:[/red] {problem}")
        console.print(f"[red]FAILED[/red] (state-by-state log: {log_path})")
        return
    print_table(
        "Vended team accounts",
        [
            "team",
            "via",
            "account",
            "OU",
            "SCPs",
            "state bucket",
            "CI role",
            "pipelines",
            "status",
            "transitions",
            "seconds",
            "excl. terraform",
        ],
        [
            (
                t["team"],
                t["via"],
                t["account_id"],
                t["ou"],
                " ".join(t["scps"]),
                t["state_bucket"],
                (t["ci_role_arn"] or "").rsplit(":", 1)[-1],
                ", ".join(f"{k}={v}" for k, v in t["pipelines"].items()),
                t["status"],
                t["state_transitions"],
                t["seconds"],
                t["seconds_excluding_terraform"],
            )
            for t in report["teams"]
        ],
    )
    resend, bad = report["checks"]["resend"], report["checks"]["bad_request"]
    console.print(
        f"Same requests again via event, API and CLI ({resend['sent']} sends): accounts "
        f"{resend['accounts_before']} -> {resend['accounts_after']}, executions "
        f"{resend['executions_before']} -> {resend['executions_after']}"
    )
    console.print(
        f"Bad request: HTTP {bad['status_code']}, fields named {bad['fields']}, "
        f"accounts created {bad['accounts_created']}"
    )
    audit = report["checks"]["audit"]
    console.print(
        f"Guardrail audit of the organization: {audit['accounts']} accounts, {audit['findings']} findings "
        f"({audit['api_calls']} Organizations calls)"
    )
    logging = audit.get("invocation_logging")
    if logging is not None:
        checked, found = logging["checked"], logging["findings"]
        console.print(f"Bedrock invocation logging: {checked} accounts checked, {found} findings")
    forwarding = audit.get("usage_forwarding")
    if forwarding is not None:
        checked, found = forwarding["checked"], forwarding["findings"]
        console.print(f"Usage forwarding (live meter): {checked} accounts checked, {found} findings")
    authz = report["checks"].get("authorization", {})
    console.print(
        f"Authorization (as AWS decides): {authz.get('calls')} calls, {authz.get('decisions')} decisions, "
        f"{authz.get('denials')} denied, {authz.get('errors')} errors, {authz.get('ms_per_call')} ms per call"
    )
    console.print(f"Demo wall time {report['wall_seconds']}s; state-by-state log: {log_path}")
    for problem in report["problems"]:
        console.print(f"[red]problem:[/red] {problem}")
    console.print("[green]OK: every team READY[/green]" if report["ok"] else "[red]FAILED[/red]")


FAULTS_HELP = "inject faults from this YAML rule set (see landing_zone/local/faults.py)"


def register(subparsers: Any) -> None:
    from landing_zone.local import console

    console.register(subparsers)
    local = subparsers.add_parser("local", help="the embedded emulator")
    sub = local.add_subparsers(dest="local_command", required=True)
    up = sub.add_parser("up", help="start moto on loopback, deploy the service into it, and wait")
    up.add_argument("--port", type=int, default=5000)
    up.add_argument("--verbose", action="store_true", help="show the handlers' logs")
    up.add_argument("--faults", metavar="FILE", help=FAULTS_HELP)
    up.set_defaults(func=cmd_up)
    demo = subparsers.add_parser("demo", help="onboard the layout's teams end to end on the embedded emulator")
    demo.add_argument("--port", type=int, default=0, help="0 picks a free port")
    demo.add_argument("--json", action="store_true", help="the report as JSON (the live view is left out)")
    demo.add_argument("--log-file", help="where state-by-state lines go (default .vend/demo-<time>.log)")
    demo.add_argument("--verbose", action="store_true", help="show the handlers' logs")
    demo.add_argument("--faults", metavar="FILE", help=FAULTS_HELP)
    demo.set_defaults(func=cmd_demo)
