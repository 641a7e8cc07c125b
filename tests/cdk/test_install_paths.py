"""Every install path that ships, run as it ships: its install command, read from the definition that ships it (the
synthesized buildspec, each job of .github/workflows/terraform.yml, the Lambda asset CDK staged), executed unchanged
in a clean virtualenv, offline (the wheelhouse scripts/setup.sh fills, `--no-index`), then the path's first real
command. A path that installs too little (the policy stage without its Rego engine, a Lambda without a dependency)
fails here, not in AWS.

The commands run in bash with the virtualenv first on the PATH, so `pip` and `python` are the virtualenv's; pip reads
no configuration of this machine (PIP_CONFIG_FILE=/dev/null) and only the wheelhouse (PIP_NO_INDEX, PIP_FIND_LINKS).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cdk.conftest import REPO_ROOT, staged_asset, vending_functions

# ~85 s alone (six virtualenvs, one synthesis), ~200 s on a loaded machine: one worker runs the module (scripts/test.sh
# distributes by file; the group says the same to a scheduler that reads it).
pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("install-paths")]

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "terraform.yml"
WHEELHOUSE = Path(os.environ.get("VEND_WHEELHOUSE") or REPO_ROOT / ".vend" / "wheelhouse")
CONSTRAINTS = REPO_ROOT / "constraints.txt"
# A stack and a plan of it that breaks three Rego rules: the policy stage must name them (not "engine not installed").
STACK = "team-frontend/staging/cloudfront"
RULE_BREAKING_PLAN = {
    "format_version": "1.2",
    "resource_changes": [
        {
            "address": "aws_s3_bucket.this",
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "this",
            "change": {"actions": ["create"], "after": {"bucket": "x", "tags_all": {}}, "after_unknown": {}},
        }
    ],
    "configuration": {"root_module": {}},
}
RULES_EXPECTED = {"required-cost-tags", "no-public-s3"}


def _is_project_install(command: str) -> bool:
    """An install of this project (or the Lambda runtime), not of a separate tool such as checkov's own venv."""
    return bool(re.search(r"\bpip install\b", command)) and "checkov" not in command


@dataclass
class Ran:
    command: str
    returncode: int
    output: str


@dataclass
class Venv:
    root: Path
    cwd: Path
    ran: list[Ran]
    tools: list[str] = field(default_factory=list)  # directories of tools the path's earlier steps put on the PATH

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": os.pathsep.join([str(self.bin), *self.tools, "/usr/bin", "/bin"]),
            "HOME": str(self.root.parent),
            "LANG": "C.UTF-8",
            "VIRTUAL_ENV": str(self.root),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(WHEELHOUSE),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            # pip byte-compiles every installed module (aws-cdk-lib, botocore, moto...): 20 of the `.[dev]` install's 31
            # CPU s. What is installed is the same; the first command compiles what it imports, as Python does.
            "PIP_COMPILE": "0",
            **extra,
        }

    def bash(self, command: str, *, check: bool = True, **extra: str) -> Ran:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.cwd,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=600,
        )
        ran = Ran(command, done.returncode, done.stdout + done.stderr)
        self.ran.append(ran)
        if check:
            assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{ran.output[-4000:]}"
        return ran

    def installed(self) -> set[str]:
        out = self.bash("python -m pip list --format=json").output
        return {p["name"].lower().replace("_", "-") for p in json.loads(out[out.index("[") :])}


def _new_venv(tmp_path: Path, cwd: Path) -> Venv:
    root = tmp_path / "venv"
    subprocess.run([_base_python(), "-m", "venv", str(root)], check=True, capture_output=True)
    return Venv(root=root, cwd=cwd, ran=[])


def _terraform_dir() -> str:
    found = shutil.which(os.environ.get("VEND_TERRAFORM_BIN") or "terraform")
    assert found, "no terraform on the PATH (scripts/setup.sh names what to install)"
    return str(Path(found).parent)


def _base_python() -> str:
    """The interpreter the test's virtualenv was made from: a clean virtualenv must not inherit this one."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base if base.exists() else sys.executable)


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    if not any(WHEELHOUSE.glob("*.whl")):
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: run scripts/setup.sh (it downloads the pinned wheels there)")
    return WHEELHOUSE


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What actions/checkout gives a workflow job: the repository's files (tracked and new, nothing ignored)."""
    target = tmp_path_factory.mktemp("checkout")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, files.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _plan_fixture(where: Path) -> Path:
    path = where / "plan.json"
    path.write_text(json.dumps(RULE_BREAKING_PLAN))
    return path


def _rules_evaluated(venv: Venv) -> str:
    """`vend pipeline run <stack> --plan-json … --rules-only`: the policy stage's Rego rules must run and find the
    planted violations."""
    plan = _plan_fixture(venv.root.parent)
    ran = venv.bash(f"vend pipeline run {STACK} --plan-json {plan} --rules-only --json", check=False)
    result = json.loads(ran.output[ran.output.index("{") :])
    policy = result["policy"]
    assert "not installed" not in json.dumps(result), ran.output
    assert policy["engine"].startswith("rego"), policy
    assert {v["rule"] for v in policy["violations"]} >= RULES_EXPECTED, policy["violations"]
    assert ran.returncode == 1, ran.output  # the violations fail the stage
    return result["stages"][0]["summary"]


# ---------------------------------------------------------------------------------------------------------------
# The install paths, each read from the definition that ships it.


def _codebuild_install(resources: dict[str, Any]) -> list[str]:
    (project,) = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    return [c for c in spec["phases"]["install"]["commands"] if _is_project_install(c)]


def _codebuild_source(synthesized: dict[str, Any], resources: dict[str, Any], into: Path) -> Path:
    (project,) = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    match = re.search(r"([0-9a-f]{64})\.zip", json.dumps(project["Properties"]["Source"]["Location"]))
    assert match, project["Properties"]["Source"]
    # a copy: the editable install writes its metadata into the source, and cdk.out is shared by the session
    return Path(shutil.copytree(staged_asset(synthesized["outdir"], match.group(1)), into / "src"))


def _workflow_jobs() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def _job_install(job: str) -> list[str]:
    return [s["run"] for s in _workflow_jobs()[job]["steps"] if "run" in s and _is_project_install(s["run"])]


def _job_step(job: str, *, step_id: str | None = None, containing: str | None = None) -> dict[str, Any]:
    for step in _workflow_jobs()[job]["steps"]:
        if (step_id and step.get("id") == step_id) or (containing and containing in step.get("run", "")):
            return step
    raise AssertionError(f"{WORKFLOW.name}: job {job} has no step {step_id or containing!r}")


def _discover_first(venv: Venv) -> str:
    """The job's own step script, as a manual dispatch runs it: every stack in the matrix."""
    step = _job_step("discover", step_id="changed")
    out, summary = venv.root.parent / "github_output", venv.root.parent / "step_summary"
    venv.bash(
        step["run"],
        EVENT_NAME="workflow_dispatch",
        BASE_REF="",
        BEFORE="",
        GITHUB_OUTPUT=str(out),
        GITHUB_STEP_SUMMARY=str(summary),
    )
    matrix = json.loads(out.read_text().removeprefix("matrix=").strip())
    assert matrix and all({"stack", "environment"} <= set(m) for m in matrix), matrix
    return summary.read_text().strip()[:200]


def _static_first(venv: Venv) -> str:
    """The job's Python step (the tree conventions and policy rules tests), unchanged."""
    step = _job_step("static", containing="python -m pytest")
    ran = venv.bash(step["run"])
    return ran.output.strip().splitlines()[-1]


def _apply_first(venv: Venv) -> str:
    """The apply job runs `vend pipeline run … --stages init,apply --plan-file`: the installed CLI and runner refuse a
    missing reviewed plan before touching AWS (no Rego: the apply job has no policy stage)."""
    ran = venv.bash(
        f"vend pipeline run {STACK} --bucket b --region us-east-1 --account-id 111111111111 --stages apply "
        f"--plan-file {venv.root.parent / 'missing.tfplan'} --json",
        check=False,
        # what configure-aws-credentials exports before this step (nothing is called with them here)
        AWS_ACCESS_KEY_ID="ASIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="example",
        AWS_SESSION_TOKEN="example",
    )
    assert ran.returncode != 0 and "no saved plan at" in ran.output, ran.output
    return json.loads(ran.output[ran.output.index("{") :])["message"]


@dataclass(frozen=True)
class Path_:
    name: str
    first: Callable[[Venv], str]
    rego: bool  # whether this path runs the policy stage (so it must install the engine)


WORKFLOW_FIRST: dict[str, Path_] = {
    "discover": Path_("workflow:discover", _discover_first, rego=False),
    "static": Path_("workflow:static", _static_first, rego=True),
    "plan": Path_("workflow:plan", _rules_evaluated, rego=True),
    "apply": Path_("workflow:apply", _apply_first, rego=False),
}


def test_every_workflow_job_that_installs_the_project_has_a_first_command_here() -> None:
    # GIVEN the workflow's jobs WHEN one installs the project THEN this module runs its first command (a new job
    # cannot ship untested)
    installing = {job for job in _workflow_jobs() if _job_install(job)}
    assert installing == set(WORKFLOW_FIRST), installing ^ set(WORKFLOW_FIRST)


def _report(venv: Venv, name: str, first: str) -> None:
    print(f"\n[{name}] installed: {' && '.join(r.command for r in venv.ran[:1])}\n[{name}] first command: {first}")


def test_codebuild_install_phase_then_the_policy_stage_evaluates_rego(
    synthesized: dict[str, Any], resources: dict[str, Any], wheelhouse: Path, tmp_path: Path
) -> None:
    # GIVEN the synthesized buildspec's install command and the staged source asset ($CODEBUILD_SRC_DIR)
    (install,) = _codebuild_install(resources)
    venv = _new_venv(tmp_path, _codebuild_source(synthesized, resources, tmp_path))
    # WHEN it runs, unchanged, in a clean virtualenv
    venv.bash(install)
    # THEN the policy stage evaluates the Rego rules
    first = _rules_evaluated(venv)
    assert "gordon-to-regorus" in venv.installed()
    _report(venv, "codebuild", first)
    # AND (negative control) without the engine the same command answers that it is not installed
    venv.bash("python -m pip uninstall --yes gordon-to-regorus")
    with pytest.raises(AssertionError, match="not installed"):
        _rules_evaluated(venv)


_INSTALLS: dict[str, tuple[Path, set[str]]] = {}  # install command -> its virtualenv and what it installed


def _installed(install: str, tmp_path: Path, checkout: Path) -> Venv:
    """A virtualenv where `install` ran, unchanged: made here, or an earlier job's with the same command whose
    packages are still exactly those that command installed (so no job's first command can lend another a package)."""
    if install in _INSTALLS:
        root, packages = _INSTALLS[install]
        venv = Venv(root=root, cwd=checkout, ran=[Ran(install, 0, "shared: the same install step ran here")])
        if venv.installed() == packages:
            return venv
    venv = _new_venv(tmp_path, checkout)
    venv.bash(install)
    _INSTALLS[install] = (venv.root, venv.installed())
    return venv


@pytest.mark.parametrize("job", sorted(WORKFLOW_FIRST))
def test_workflow_job_install_then_its_first_command(job: str, checkout: Path, wheelhouse: Path, tmp_path: Path):
    # GIVEN the job's install step as the workflow file has it, in a checkout
    path = WORKFLOW_FIRST[job]
    (install,) = _job_install(job)
    # WHEN it runs, unchanged, in a clean virtualenv (one per distinct install command: jobs with the same step share
    # it, and only while it still holds exactly what that command installed)
    venv = _installed(install, tmp_path, checkout)
    if any("hashicorp/setup-terraform" in s.get("uses", "") for s in _workflow_jobs()[job]["steps"]):
        venv.tools.append(_terraform_dir())  # the job's setup-terraform step: this machine's pinned Terraform
    # THEN its first real command works, and the engine is there exactly where a policy stage runs
    first = path.first(venv)
    installed = venv.installed()
    assert ("gordon-to-regorus" in installed) == path.rego, sorted(installed)
    assert "moto" not in installed or job == "static", "a job's virtualenv holds only what that job installs"
    _report(venv, path.name, first)


def test_lambda_asset_on_its_runtime_then_a_handler_runs(
    synthesized: dict[str, Any], resources: dict[str, Any], wheelhouse: Path, tmp_path: Path
) -> None:
    from landing_zone.cdk.functions import LAMBDA_RUNTIME_PACKAGES

    # GIVEN the staged Lambda asset (one for every function) and only what the runtime and the Powertools layer hold
    keys = {
        json.dumps(r["Properties"]["Code"]["S3Key"])
        for r in vending_functions(resources).values()
        if "S3Key" in r["Properties"].get("Code", {})
    }
    digests = {m for key in keys for m in re.findall(r"([0-9a-f]{64})\.zip", key)}
    assert len(digests) == 1, keys
    asset = staged_asset(synthesized["outdir"], digests.pop())
    venv = _new_venv(tmp_path, tmp_path)
    requirements = " ".join(f"'{p}'" for p in LAMBDA_RUNTIME_PACKAGES)
    venv.bash(f"python -m pip install -c {CONSTRAINTS} {requirements}")
    # WHEN every handler is imported from the asset (not from the repository) and Validate handles a real event
    event = REPO_ROOT / "tests" / "events" / "state_input.json"
    script = f"""
import importlib, json, types
import vending
assert vending.__file__.startswith({str(asset)!r}), vending.__file__
from vending.functions import FUNCTIONS
for spec in FUNCTIONS:
    module, _, name = spec.handler.rpartition(".")
    getattr(importlib.import_module(module), name)
from vending.handlers.validate_request import handler
context = types.SimpleNamespace(function_name="Validate", memory_limit_in_mb=256, aws_request_id="r-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:111111111111:function:Validate")
out = handler(json.load(open({str(event)!r})), context)
print(f"{{len(FUNCTIONS)}} handlers imported; Validate: {{out['request']['team']}}-{{out['request']['stage']}} valid")
"""
    ran = venv.bash(
        f"python -c {_quote(script)}",
        PYTHONPATH=str(asset),
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="vending",
    )
    # THEN they all load and the handler answers
    assert "handlers imported; Validate: team-mlops-staging valid" in ran.output, ran.output
    assert "llm-account-vending" not in venv.installed(), "the asset must not lean on an installed project"
    _report(venv, "lambda", ran.output.strip().splitlines()[-1])


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
