"""One Terraform pipeline for one stack: fmt → init → validate → plan → policy → approval → apply.

Used by the vending state machine's StartPipelines step (CodeBuild in AWS, worker threads beside the emulator) and by
`vend pipeline run`. Stage failures come back as a PipelineResult (never an exception) so the caller can record the
failed stage; a missing Terraform CLI or provider mirror raises TerraformUnavailable before any stage runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from vending.exceptions import (
    CheckovScanTimedOut,
    CheckovServerUnavailable,
    InvalidPipelineSpec,
    NotConfigured,
    PolicyEngineUnavailable,
    StackNotFound,
)
from vending.layout import cached_layout
from vending.pipeline import checkov_launch, provider_server, validation
from vending.pipeline.approvals import ApprovalStore, FileApprovalStore
from vending.pipeline.platform_guard import provider_refusals, provisioner_refusals
from vending.pipeline.policy import PolicyContext, PolicyReport, evaluate_plan
from vending.pipeline.terraform import OUTPUT_TAIL_CHARS, CommandResult, TerraformWorkspace
from vending.pipeline.waivers import WAIVERS_FILE, InvalidWaivers, Waiver, load_waivers, match, today_utc
from vending.settings import REPO_ROOT, Settings

EMULATED_GO_PROCS = "1"  # GOMAXPROCS of Terraform and its provider on runs against the emulator (_Run)

PIPELINE_STAGES: tuple[str, ...] = ("fmt", "init", "validate", "plan", "policy", "approval", "apply")
# A destroy has nothing for the policy stage to check (it creates nothing); the request-level approval of the change
# that removes the stack comes first, and the pipeline's own gate still holds production.
DESTROY_STAGES: tuple[str, ...] = ("init", "validate", "plan", "approval", "apply")
ENDPOINT_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
# How long a pipeline's plan or apply waits for the state lock: long enough for a daily drift check's plan of the same
# stack (vending.pipeline.drift; it holds the lock while it plans) to finish, so a change is delayed, never failed.
PIPELINE_LOCK_TIMEOUT = "600s"
CHECKOV_CONFIG = REPO_ROOT / "policies" / "checkov.yaml"
CHECKOV_PLAN_CONFIG = REPO_ROOT / "policies" / "checkov-plan.yaml"
CHECKOV_BIN_ENV = "VEND_CHECKOV_BIN"
TOOL_VERSIONS_FILE = REPO_ROOT / "tools" / "versions.env"
CHECKOV_SCAN_TIMEOUT = 600.0


def pinned_version(tool: str, versions_file: Path = TOOL_VERSIONS_FILE) -> str:
    """The exact version tools/versions.env pins for a tool (`CHECKOV` -> CHECKOV_VERSION)."""
    key = f"{tool.upper()}_VERSION"
    for line in versions_file.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name.strip() == key:
            return value.strip().strip('"')
    raise NotConfigured(f"{versions_file} pins no {key}")


@dataclass(frozen=True)
class PipelineSpec:
    stack_dir: Path  # terraform/environments/<team>/<stage>/<stack>
    state_bucket: str  # the vended account's state bucket
    state_region: str
    account_id: str  # allowed_account_ids
    variables: Mapping[str, Any]  # team, stage, cost_center, gpu_tier, regions, account_id...
    env: Mapping[str, str]  # credentials (temporary, from assume-role) + endpoint env for terraform
    # The apply stage's credentials when they differ from `env`'s: the vending pipeline plans as the team's read-only
    # plan role and applies that saved plan as its apply role (vending.trust), as the team's own CI does.
    apply_env: Mapping[str, str] | None = None
    # The run's credentials are the platform's own (SCP-exempt) role: vending.pipeline.platform_guard holds the stack
    # to providers and a configuration that run no code of the stack's choosing.
    platform_credentials: bool = False
    gate: Literal["auto", "manual"] = "auto"
    stages: tuple[str, ...] = PIPELINE_STAGES
    # The reviewed plan, kept outside the run: the plan stage saves it here; a run with apply but no plan stage
    # applies exactly this file (the CI workflow's apply job, after checking its digest).
    saved_plan: Path | None = None
    # Plan a destroy (`terraform plan -destroy`) and apply that saved plan: how a stack removed from a request goes.
    destroy: bool = False


@dataclass
class StageResult:
    name: str
    ok: bool
    seconds: float
    summary: str
    output_tail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PipelineResult:
    stack: str
    ok: bool
    stages: list[StageResult]
    failed_stage: str | None
    message: str
    plan_summary: dict[str, Any]
    status: Literal["succeeded", "failed", "awaiting_approval"] = "succeeded"
    state_key: str = ""
    plan_digest: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    approval: dict[str, Any] | None = None
    started_at: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stages": [s.to_dict() for s in self.stages]}


def stack_key(stack_dir: Path) -> str:
    """The stack's folder path relative to terraform/environments (`team-mlops/staging/bootstrap`)."""
    resolved = stack_dir.resolve()
    roots = [Settings.from_env().terraform_root / "environments", REPO_ROOT / "terraform" / "environments"]
    for root in roots:
        try:
            return resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    parts = resolved.parts
    if "environments" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("environments") :])
    return "/".join(parts[-3:])


def state_key(stack_dir: Path) -> str:
    return f"{stack_key(stack_dir)}/terraform.tfstate"


def is_emulated(env: Mapping[str, str]) -> bool:
    return any(env.get(k) for k in ENDPOINT_ENV_KEYS)


def _tail(text: str) -> str:
    return text.strip()[-OUTPUT_TAIL_CHARS:]


def _first_error(result: CommandResult) -> str:
    for line in (result.stderr + "\n" + result.stdout).splitlines():
        if "Error:" in line:
            return line.strip(" │╷╵").strip()
    return f"exit code {result.returncode}"


def summarize_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    counts = {"add": 0, "change": 0, "destroy": 0, "replace": 0, "no_op": 0}
    addresses: dict[str, list[str]] = {"add": [], "change": [], "destroy": [], "replace": []}
    for rc in plan.get("resource_changes", []) or []:
        if rc.get("mode", "managed") != "managed":
            continue
        actions = set((rc.get("change") or {}).get("actions") or ())
        kind = (
            "replace"
            if {"create", "delete"} <= actions
            else "add"
            if "create" in actions
            else "change"
            if "update" in actions
            else "destroy"
            if "delete" in actions
            else "no_op"
        )
        counts[kind] += 1
        if kind != "no_op":
            addresses[kind].append(rc["address"])
    return {
        **counts,
        "has_changes": any(counts[k] for k in ("add", "change", "destroy", "replace")),
        "resources": {k: v[:200] for k, v in addresses.items() if v},
    }


def plan_digest(plan: Mapping[str, Any]) -> str:
    """A digest of what the plan would change, so an approval applies to exactly that change set."""
    material = [
        {
            "address": rc.get("address"),
            "actions": (rc.get("change") or {}).get("actions"),
            "after": (rc.get("change") or {}).get("after"),
            "after_unknown": (rc.get("change") or {}).get("after_unknown"),
        }
        for rc in plan.get("resource_changes", []) or []
    ]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ScanTarget(Protocol):
    """What the checkov scans need: the stack's folder and its plan JSON (a TerraformWorkspace, or a saved plan)."""

    @property
    def stack_dir(self) -> Path: ...

    @property
    def plan_json_file(self) -> Path: ...


@dataclass(frozen=True)
class SavedPlan:
    stack_dir: Path
    plan_json_file: Path


def _checkov_binary() -> str | None:
    explicit = os.environ.get(CHECKOV_BIN_ENV)
    if explicit:
        return shutil.which(explicit)
    beside = Path(sys.executable).with_name("checkov")
    return str(beside) if beside.exists() else shutil.which("checkov")


def _checkov_argv(binary: str, ws: ScanTarget) -> dict[str, list[str]]:
    """Two scans: the stack's code (local modules included) and the plan JSON (findings mapped back to the code; see
    policies/checkov-plan.yaml for the plan-only skips). Not --quiet: the report must list the checks an inline
    `checkov:skip` suppressed, which the stage does not honour (read_checkov_report)."""
    common = ["--skip-download", "--compact", "-o", "json"]
    code = [binary, "-d", str(ws.stack_dir), "--framework", "terraform", *common]
    plan = [
        binary,
        "-f",
        str(ws.plan_json_file),
        "--framework",
        "terraform_plan",
        "--repo-root-for-plan-enrichment",
        str(ws.stack_dir),
        *common,
    ]
    if CHECKOV_CONFIG.exists():
        code += ["--config-file", str(CHECKOV_CONFIG)]
    if CHECKOV_PLAN_CONFIG.exists():
        plan += ["--config-file", str(CHECKOV_PLAN_CONFIG)]
    return {"code": code, "plan": plan}


# Binaries already seen to answer the pinned version, by file identity. `checkov --version` is a whole Python start
# (2.6 s of CPU, as much as a scan), asked before every policy stage; a process that runs many pipelines (the local
# worker, the tests) asks once per binary. A reinstalled or replaced binary is a new file (inode, mtime, size) and is
# asked again. Pipelines running side by side (the demo's three teams) wait for the first to ask instead of each
# asking at once.
_PINNED_CHECKOV: set[tuple[str, int, int, int, str]] = set()
_PINNED_CHECKOV_LOCK = threading.Lock()


def _file_identity(binary: str) -> tuple[str, int, int, int] | None:
    try:
        st = os.stat(binary)
    except OSError:
        return None
    return os.path.realpath(binary), st.st_ino, st.st_mtime_ns, st.st_size


def _checkov_version_problem(binary: str) -> str | None:
    """None when the checkov binary is the pinned version; else why it must not be used (a newer release brings new
    checks that fail stacks nobody changed, an older one misses checks)."""
    with _PINNED_CHECKOV_LOCK:
        return _ask_checkov_version(binary)


def _ask_checkov_version(binary: str) -> str | None:
    try:
        wanted = pinned_version("checkov")
        identity = _file_identity(binary)
        if identity is not None and (*identity, wanted) in _PINNED_CHECKOV:
            return None
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, NotConfigured, subprocess.TimeoutExpired) as e:
        return f"checkov version not verifiable: {e}"
    found = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or found != wanted:
        return _version_refusal(found or f"(no version, exit {proc.returncode})", wanted)
    if identity is not None and identity == _file_identity(binary):  # unchanged while it answered
        _PINNED_CHECKOV.add((*identity, wanted))
    return None


def _version_refusal(found: str, wanted: str | None = None) -> str | None:
    """Why a checkov that says it is `found` must not scan, or None when it is the pinned version."""
    try:
        wanted = wanted or pinned_version("checkov")
    except NotConfigured as e:
        return f"checkov version not verifiable: {e}"
    if found == wanted:
        return None
    pins = TOOL_VERSIONS_FILE.relative_to(REPO_ROOT)
    return f"checkov {found} is not the pinned {wanted} ({pins}; run scripts/setup.sh)"


def read_checkov_report(name: str, returncode: int, out: str, err: str) -> tuple[list[dict[str, Any]], int, int]:
    """Findings, passed and skipped counts from one checkov run. Raises PolicyEngineUnavailable (the scan did
    not answer) unless checkov exited 0 (all passed) or 1 (checks failed) with a JSON report that has a summary:
    a crash with no output, a usage error or a traceback is never a pass.

    A check that an inline `# checkov:skip` suppressed is a finding too (kind "inline-skip", with the comment's reason):
    a stack's author cannot waive a control; only a platform waiver (policies/waivers.yaml) can."""
    if returncode not in (0, 1):
        raise PolicyEngineUnavailable(f"checkov {name} scan crashed (exit {returncode}): {_tail(err or out)[-300:]}")
    try:
        parsed = json.loads(out)
    except ValueError as e:
        raise PolicyEngineUnavailable(
            f"checkov {name} scan output unreadable (exit {returncode}): {_tail(out + err)[-300:]}"
        ) from e
    reports = parsed if isinstance(parsed, list) else [parsed]
    if not reports or not all(isinstance(r, dict) and isinstance(r.get("summary"), dict) for r in reports):
        raise PolicyEngineUnavailable(f"checkov {name} scan gave no report (exit {returncode})")
    found: list[dict[str, Any]] = []
    passed = skipped = 0
    failed_count = 0
    for report in reports:
        passed += int(report["summary"].get("passed", 0))
        skipped += int(report["summary"].get("skipped", 0))
        results = report.get("results") or {}
        for kind, key in (("failed", "failed_checks"), ("inline-skip", "skipped_checks")):
            for check in results.get(key) or []:
                failed_count += kind == "failed"
                found.append(
                    {
                        "scan": name,
                        "kind": kind,
                        "check_id": check.get("check_id"),
                        "resource": check.get("resource"),
                        "file": check.get("file_path"),
                        "name": check.get("check_name"),
                        **(
                            {"suppress_comment": (check.get("check_result") or {}).get("suppress_comment")}
                            if kind == "inline-skip"
                            else {}
                        ),
                    }
                )
    if returncode == 1 and not failed_count:
        raise PolicyEngineUnavailable(f"checkov {name} scan exited 1 without a failed check: {_tail(err)[-300:]}")
    return found, passed, skipped


def run_checkov(ws: ScanTarget) -> tuple[bool, str, str, list[dict[str, Any]]]:
    """checkov on the stack's code and on the plan JSON, in parallel. Returns ok, summary, output tail, findings
    (failed checks and inline-skipped ones; policy_check applies the platform's waivers to them).
    Fails closed: checkov missing, not the pinned version, timed out, crashed or silent is a failure."""
    binary = _checkov_binary()
    if binary is None:
        return False, f"checkov is not installed (set {CHECKOV_BIN_ENV} or install checkov)", "", []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    server = checkov_launch.server_for(binary, env)
    problem = _version_refusal(server.version) if server else _checkov_version_problem(binary)
    if problem:
        return False, problem, "", []

    def scan(argv: list[str]) -> checkov_launch.ScanOutput:
        if server is not None:
            try:
                return server.scan(argv[1:], ws.stack_dir, env, CHECKOV_SCAN_TIMEOUT)
            except CheckovServerUnavailable:
                # It stopped before answering (idle at the moment the scan came, or killed): a scan changes nothing,
                # so it runs once more on a new server, and fails closed if that one does not answer either.
                again = checkov_launch.server_for(binary, env)
                if again is None:
                    raise
                return again.scan(argv[1:], ws.stack_dir, env, CHECKOV_SCAN_TIMEOUT)
        try:
            proc = subprocess.run(
                argv, cwd=ws.stack_dir, env=env, capture_output=True, text=True, timeout=CHECKOV_SCAN_TIMEOUT
            )
        except subprocess.TimeoutExpired as e:
            raise CheckovScanTimedOut(str(e)) from e
        return checkov_launch.ScanOutput(proc.returncode, proc.stdout, proc.stderr)

    failed: list[dict[str, Any]] = []
    counts: dict[str, tuple[int, int, int]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # the two scans side by side
        futures = {name: pool.submit(scan, argv) for name, argv in _checkov_argv(binary, ws).items()}
        for name, future in futures.items():
            try:
                done = future.result()
            except CheckovScanTimedOut:
                return False, f"checkov {name} scan timed out", "", []
            except CheckovServerUnavailable as e:
                return False, f"checkov {name} scan did not answer: {e}", "", []
            try:
                found, passed, skipped = read_checkov_report(name, done.returncode, done.stdout, done.stderr)
            except PolicyEngineUnavailable as e:
                return False, str(e), _tail(done.stdout + done.stderr), []
            failed += found
            counts[name] = (passed, sum(f["kind"] == "failed" for f in found), skipped)
    lines = [checkov_line(f) for f in failed]
    summary = "checkov " + "; ".join(
        f"{n}: {p} passed, {f} failed, {s} inline-skipped" for n, (p, f, s) in counts.items()
    )
    return not failed, summary, "\n".join(lines)[-OUTPUT_TAIL_CHARS:], failed


def checkov_line(f: Mapping[str, Any]) -> str:
    what = (
        f"inline skip not honoured ({f.get('suppress_comment') or 'no reason'})"
        if f.get("kind") == "inline-skip"
        else f["name"]
    )
    return f"{f['check_id']} {f['resource']} ({f['scan']} scan): {what}"


def policy_context(variables: Mapping[str, Any], stack: str = "") -> PolicyContext:
    """The rules' facts for one run: the tier, the expected tag values and the team's regions come from the run's
    variables, which the callers derive from the layout and the stack path."""
    regions = variables.get("regions")
    return PolicyContext.from_layout(
        cached_layout(),
        str(variables.get("gpu_tier", "none")),
        team=_opt(variables.get("team")),
        stage=_opt(variables.get("stage")),
        cost_center=_opt(variables.get("cost_center")),
        regions=[str(r) for r in regions] if isinstance(regions, list | tuple) else None,
        stack=stack,
        account_id=_opt(variables.get("account_id")),
    )


def _opt(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def policy_check(
    plan_json_file: Path,
    ctx: PolicyContext,
    checkov: Callable[[], tuple[bool, str, str, list[dict[str, Any]]]] | None,
    *,
    waivers_file: Path = WAIVERS_FILE,
    today: date | None = None,
) -> tuple[bool, str, str, dict[str, Any]]:
    """The policy stage on a saved plan JSON: our Rego rules, then (when given) the general checkov scans, with the
    platform's waivers (policies/waivers.yaml) applied to both and every applied waiver reported.
    Returns ok, summary, output tail and the policy record. Any engine failure fails the stage."""
    day = today or today_utc()
    ck_ok, ck_summary, ck_tail, ck_found = checkov() if checkov else (True, "checkov not run", "", [])
    try:
        waivers = load_waivers(waivers_file)
    except InvalidWaivers as e:
        return False, f"policy waivers not loaded: {e}", "", {"ok": False, "error": str(e)}
    ck_kept, ck_waived, ck_expired = _waive_checkov(ck_found, waivers, ctx.stack, day)
    # checkov answered with findings only (not a crash, a version problem...): the waivers decide what stands.
    ck_pass = ck_ok or (bool(ck_found) and not ck_kept)
    ck_record = {
        "ok": ck_pass,
        "summary": ck_summary,
        "failed": ck_kept,
        "waived": ck_waived,
        "expired_waivers": ck_expired,
        "ran": checkov is not None,
    }
    ck_tail = "\n".join(checkov_line(f) for f in ck_kept)[-OUTPUT_TAIL_CHARS:] if ck_found else ck_tail
    try:
        report: PolicyReport = evaluate_plan(plan_json_file, ctx, waivers=waivers, today=day)
    except PolicyEngineUnavailable as e:
        return False, f"policy rules not evaluated: {e}", ck_tail, {"ok": False, "error": str(e), "checkov": ck_record}
    record = {**report.to_dict(), "checkov": ck_record}
    waived_lines = [f"waived: {w['finding']} (waiver: {_waiver_text(w['waiver'])})" for w in report.waived] + [
        f"waived: {w['finding']} (waiver: {_waiver_text(w['waiver'])})" for w in ck_waived
    ]
    expired_lines = [
        f"expired waiver not applied: {w['finding']} (expired {w['waiver']['expires']})"
        for w in [*report.expired_waivers, *ck_expired]
    ]
    notes = waived_lines + expired_lines
    lines = [str(e) for e in report.errors] + [str(v) for v in report.violations]
    if not report.ok:
        head = "policy rules not evaluated" if report.errors and not report.violations else "policy violation"
        summary = f"{head}: {lines[0]}" + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "")
        return False, summary, "\n".join(lines + ([ck_tail] if ck_tail else []) + notes), record
    if not ck_pass:
        first = ck_kept[0] if ck_kept else None
        detail = f"{first['check_id']} on {first['resource']} ({first['scan']} scan)" if first else ck_summary
        if first and first.get("kind") == "inline-skip":
            detail = f"inline checkov:skip of {detail} is not honoured (only policies/waivers.yaml waives)"
        return False, f"checkov: {detail} ({ck_summary})", "\n".join([ck_tail, *notes]).strip(), record
    waived_count = len(report.waived) + len(ck_waived)
    summary = f"{len(report.rules)} rules on {report.resources_checked} resources passed; {ck_summary}"
    if waived_count:
        summary += f"; {waived_count} finding(s) waived by policies/waivers.yaml"
    return True, summary, "\n".join(notes), record


def _waiver_text(w: Mapping[str, Any]) -> str:
    return f"{w['reason']} - approved by {w['approver']}, expires {w['expires']}"


def _waive_checkov(
    found: list[dict[str, Any]], waivers: tuple[Waiver, ...], stack: str, day: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    kept: list[dict[str, Any]] = []
    waived: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    for f in found:
        live, old = match(waivers, str(f.get("check_id")), stack, str(f.get("resource")), day)
        if live is not None:
            waived.append({"finding": checkov_line(f), "waiver": live.describe()})
            continue
        kept.append(f)
        if old is not None:
            expired.append({"finding": checkov_line(f), "waiver": old.describe()})
    return kept, waived, expired


class _Run:
    """The mutable state of one pipeline run (kept off the public dataclasses)."""

    def __init__(self, spec: PipelineSpec, approvals: ApprovalStore | None) -> None:
        self.spec = spec
        self.approvals = approvals
        self.stack = stack_key(spec.stack_dir)
        self.variables = self._variables()
        env = dict(spec.env)
        env.setdefault("AWS_REGION", spec.state_region)
        if is_emulated(env):
            # The provider needs path-style S3 to reach an emulator on 127.0.0.1; real AWS keeps the default.
            env.setdefault("TF_VAR_s3_use_path_style", "true")
            # Against the emulator every call is local and the machine runs several pipelines at once: with one P the
            # Go runtimes of Terraform and its provider stop spinning idle threads between RPCs (a pipeline's
            # Terraform and provider CPU down by about 6 %, same wall). Not in AWS, where a large plan's graph walk
            # may use the cores; a GOMAXPROCS the operator set is kept.
            if "GOMAXPROCS" not in os.environ:
                env.setdefault("GOMAXPROCS", EMULATED_GO_PROCS)
        self.ws = TerraformWorkspace(
            stack_dir=spec.stack_dir.resolve(),
            extra_env=env,
            share_provider=provider_server.sharing_setting(os.environ, emulated=is_emulated(env)),
        )
        self.plan: dict[str, Any] = {}
        self.result = PipelineResult(
            stack=self.stack,
            ok=False,
            stages=[],
            failed_stage=None,
            message="",
            plan_summary={},
            state_key=state_key(spec.stack_dir),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def _variables(self) -> dict[str, Any]:
        parts = self.stack.split("/")
        derived: dict[str, Any] = {"account_id": self.spec.account_id}
        if len(parts) == 3:
            derived.update(team=parts[0], stage=parts[1])
        merged = {**derived, **dict(self.spec.variables)}
        for name in ("team", "stage"):
            if name in derived and merged[name] != derived[name]:
                raise InvalidPipelineSpec(f"variable {name}={merged[name]!r} contradicts the stack path {self.stack}")
        if str(merged["account_id"]) != str(self.spec.account_id):
            raise InvalidPipelineSpec("variable account_id differs from the spec's account_id")
        return merged

    @property
    def stage_name(self) -> str:
        return str(self.variables.get("stage", ""))

    # Each stage returns (ok, summary, output_tail).
    def fmt(self) -> tuple[bool, str, str]:
        r = self.ws.run("fmt", "-check", "-diff", "-no-color")
        return r.ok, "formatted" if r.ok else "terraform fmt -check found unformatted files", r.tail

    def init(self) -> tuple[bool, str, str]:
        if self.spec.platform_credentials and (refused := provider_refusals(self.spec.stack_dir)):
            return False, f"refused for a platform-run: {refused[0]}", "\n".join(refused)
        cfg = [
            f"-backend-config=bucket={self.spec.state_bucket}",
            f"-backend-config=key={self.result.state_key}",
            f"-backend-config=region={self.spec.state_region}",
        ]
        if is_emulated(self.spec.env):
            cfg += [
                "-backend-config=use_path_style=true",
                "-backend-config=skip_credentials_validation=true",
                "-backend-config=skip_requesting_account_id=true",
                "-backend-config=skip_metadata_api_check=true",
            ]
        # -lockfile=readonly: the committed .terraform.lock.hcl is the truth; a run never rewrites the stack dir.
        r = self.ws.run("init", "-input=false", "-no-color", "-lockfile=readonly", *cfg)
        where = f"s3://{self.spec.state_bucket}/{self.result.state_key}"
        return r.ok, f"backend {where}" if r.ok else f"init failed: {_first_error(r)}", r.tail

    def validate(self) -> tuple[bool, str, str]:
        key = validation.configuration_key(self.ws.stack_dir, self.ws.data_dir, self.ws.binary)
        if validation.validated(key):
            return True, "valid (this configuration already validated in this process)", ""
        r = self.ws.run("validate", "-no-color")
        if r.ok:
            validation.remember(key)
        return r.ok, "valid" if r.ok else f"invalid: {_first_error(r)}", r.tail

    def plan_stage(self) -> tuple[bool, str, str]:
        var_file = self.ws.run_dir / "pipeline.auto.tfvars.json"
        var_file.write_text(json.dumps(self.variables, indent=2, default=str), encoding="utf-8")
        r = self.ws.run(
            "plan",
            "-input=false",
            "-no-color",
            f"-lock-timeout={PIPELINE_LOCK_TIMEOUT}",
            *(["-destroy"] if self.spec.destroy else []),
            f"-out={self.ws.plan_file}",
            f"-var-file={var_file}",
        )
        if not r.ok:
            return False, f"plan failed: {_first_error(r)}", r.tail
        shown = self.ws.run("show", "-json", "-no-color", str(self.ws.plan_file))
        if not shown.ok:
            return False, f"show -json failed: {_first_error(shown)}", shown.tail
        self.ws.plan_json_file.write_text(shown.stdout, encoding="utf-8")
        self.plan = json.loads(shown.stdout)
        self.result.plan_summary = summarize_plan(self.plan)
        self.result.plan_digest = plan_digest(self.plan)
        if self.spec.saved_plan is not None:
            shutil.copyfile(self.ws.plan_file, self.spec.saved_plan)
        s = self.result.plan_summary
        summary = f"{s['add']} to add, {s['change']} to change, {s['destroy']} to destroy, {s['replace']} to replace"
        return True, summary, _tail(r.stdout)

    def policy(self) -> tuple[bool, str, str]:
        if not self.plan:
            return False, "no plan to check (the plan stage did not run)", ""
        ok, summary, tail, record = policy_check(
            self.ws.plan_json_file, policy_context(self.variables, self.stack), lambda: run_checkov(self.ws)
        )
        self.result.policy = record
        return ok, summary, tail

    def approval(self) -> tuple[bool, str, str]:
        digest = self.result.plan_digest
        if digest is None:
            return False, "no plan to approve (the plan stage did not run)", ""
        if not self.result.plan_summary.get("has_changes", False):
            self.result.approval = {"mode": "not-needed"}
            return True, "no changes: nothing to approve", ""
        if self.spec.gate == "auto" and self.stage_name != "production":
            self.result.approval = {"mode": "automatic", "plan_digest": digest}
            return True, f"automatic ({self.stage_name}, gate auto)", ""
        store = self.approvals or FileApprovalStore()
        found = store.get(self.stack, digest)
        if found and found.status == "approved":
            self.result.approval = {"mode": "manual", **found.to_dict()}
            return True, f"approved by {found.approved_by} at {found.approved_at}", ""
        pending = found or store.request(self.stack, digest, json.dumps(self.result.plan_summary, default=str)[:2000])
        self.result.approval = {"mode": "manual", **pending.to_dict()}
        self.result.status = "awaiting_approval"
        return (
            False,
            (
                f"awaiting approval of plan {digest}: run `vend pipeline approve {self.stack}` "
                "and run the pipeline again"
            ),
            "",
        )

    def apply(self) -> tuple[bool, str, str]:
        if "plan" not in self.spec.stages and self.spec.saved_plan is not None:
            if not self.spec.saved_plan.is_file():
                return False, f"no saved plan at {self.spec.saved_plan}", ""
            shutil.copyfile(self.spec.saved_plan, self.ws.plan_file)
        if not self.ws.plan_file.exists():
            return False, "no saved plan to apply (the plan stage did not run)", ""
        if self.spec.platform_credentials:
            planned = self.plan  # this run's plan stage showed this plan file; a saved plan is shown here
            if not planned:
                shown = self.ws.run("show", "-json", "-no-color", str(self.ws.plan_file))
                if not shown.ok:
                    return False, f"show -json failed: {_first_error(shown)}", shown.tail
                planned = json.loads(shown.stdout)
            if refused := provisioner_refusals(planned):
                return False, f"refused for a platform-run: {refused[0]}", "\n".join(refused)
        r = self.ws.run(
            "apply",
            "-input=false",
            "-no-color",
            f"-lock-timeout={PIPELINE_LOCK_TIMEOUT}",
            "-auto-approve",
            str(self.ws.plan_file),
            credentials=self.spec.apply_env,
        )
        if not r.ok:
            return False, f"apply failed: {_first_error(r)}", r.tail
        summary = next((ln.strip() for ln in r.stdout.splitlines() if ln.startswith("Apply complete!")), "applied")
        return True, summary, _tail(r.stdout)


def run_pipeline(
    spec: PipelineSpec, *, on_stage: Callable[[StageResult], None] | None = None, approvals: ApprovalStore | None = None
) -> PipelineResult:
    """Run the requested stages in order; stop at the first that fails. Each stage is timed."""
    unknown = [s for s in spec.stages if s not in PIPELINE_STAGES]
    if unknown:
        raise InvalidPipelineSpec(f"unknown pipeline stages {unknown}; known: {list(PIPELINE_STAGES)}")
    if not spec.stack_dir.is_dir():
        raise StackNotFound(f"stack directory {spec.stack_dir} does not exist")
    started = time.monotonic()
    run = _Run(spec, approvals)  # raises TerraformUnavailable before any stage
    handlers: dict[str, Callable[[], tuple[bool, str, str]]] = {
        "fmt": run.fmt,
        "init": run.init,
        "validate": run.validate,
        "plan": run.plan_stage,
        "policy": run.policy,
        "approval": run.approval,
        "apply": run.apply,
    }
    result = run.result
    try:
        for name in (s for s in PIPELINE_STAGES if s in spec.stages):
            t0 = time.monotonic()
            try:
                ok, summary, tail = handlers[name]()
            except (OSError, ValueError) as e:
                ok, summary, tail = False, f"{type(e).__name__}: {e}", ""
            stage = StageResult(
                name=name, ok=ok, seconds=round(time.monotonic() - t0, 3), summary=summary, output_tail=tail
            )
            result.stages.append(stage)
            if on_stage is not None:
                on_stage(stage)
            if not ok:
                result.failed_stage = name
                result.message = f"{result.stack}: {name}: {summary}"
                if result.status != "awaiting_approval":
                    result.status = "failed"
                break
        else:
            result.ok = True
            result.status = "succeeded"
            result.message = f"{result.stack}: " + ", ".join(f"{s.name} ok" for s in result.stages)
    finally:
        result.seconds = round(time.monotonic() - started, 3)
        run.ws.cleanup()
    return result


@dataclass
class DriftPlan:
    """A plan-only pass of one applied stack (`plan -detailed-exitcode`): 0 no changes, 2 changes, else it failed."""

    exit_code: int
    plan: dict[str, Any] | None
    message: str
    commands: list[str] = field(default_factory=list)  # the Terraform subcommands run (never apply)
    seconds: float = 0.0


DRIFT_LOCK_TIMEOUT = "120s"  # a drift check waits this long for a running apply, then says it could not check


def plan_only(spec: PipelineSpec) -> DriftPlan:
    """init and `terraform plan -detailed-exitcode` with the spec's (plan role) credentials, then `show -json`: nothing
    else runs, so nothing is applied whatever the stack's code says. The plan takes the state lock (-lock=true, the
    default) and waits for a running apply up to DRIFT_LOCK_TIMEOUT: reading the state half-way through an apply would
    report the apply's own changes as drift. Terraform releases the lock when the plan ends, failed or not; the plan
    role may write nothing else (vending.bootstrap.plan_policy)."""
    if spec.apply_env is not None or spec.platform_credentials:
        raise InvalidPipelineSpec("a plan-only pass runs with the plan role's credentials only")
    if not spec.stack_dir.is_dir():
        raise StackNotFound(f"stack directory {spec.stack_dir} does not exist")
    started = time.monotonic()
    run = _Run(spec, None)
    commands: list[str] = []
    try:
        commands.append("init")
        ok, summary, tail = run.init()
        if not ok:
            return DriftPlan(1, None, f"{summary}\n{tail[-1000:]}", commands, time.monotonic() - started)
        var_file = run.ws.run_dir / "pipeline.auto.tfvars.json"
        var_file.write_text(json.dumps(run.variables, indent=2, default=str), encoding="utf-8")
        commands.append("plan")
        r = run.ws.run(
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            "-lock=true",
            f"-lock-timeout={DRIFT_LOCK_TIMEOUT}",
            f"-out={run.ws.plan_file}",
            f"-var-file={var_file}",
        )
        if r.returncode not in (0, 2):
            return DriftPlan(
                r.returncode, None, f"plan failed: {_first_error(r)}", commands, time.monotonic() - started
            )
        commands.append("show")
        shown = run.ws.run("show", "-json", "-no-color", str(run.ws.plan_file))
        if not shown.ok:
            message = f"show -json failed: {_first_error(shown)}"
            return DriftPlan(1, None, message, commands, time.monotonic() - started)
        plan = json.loads(shown.stdout)
        return DriftPlan(
            r.returncode, plan, "changes" if r.returncode == 2 else "no changes", commands, time.monotonic() - started
        )
    finally:
        run.ws.cleanup()
