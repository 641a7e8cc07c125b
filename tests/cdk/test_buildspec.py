"""The synthesized buildspec runs: its build-phase commands, in bash, in the staged source asset, against an emulated
platform account and a vended account (the install phase replaced by the locally set-up tools).

A wrong command, variable or path in the buildspec, or a file the source asset leaves out, fails this test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.cdk.conftest import staged_asset
from vending.pipeline import terraform as tf
from vending.pipeline.orchestration import PipelineRun, RunStore

_terraform_ready = tf.unavailable_reason

pytestmark = [
    pytest.mark.cdk,
    pytest.mark.terraform,
    pytest.mark.emulator,
    pytest.mark.skipif(_terraform_ready() is not None, reason=f"Terraform not usable: {_terraform_ready()}"),
]

# A stack that creates no IAM role: whether team stacks pass the boundary rule is the policy's test, not this one's.
STACK = "team-frontend/staging/cloudfront"
TEAM, STAGE = STACK.split("/")[:2]


def _variables(account_id: str) -> dict[str, Any]:
    from vending.layout import cached_layout

    team = cached_layout().team(TEAM)
    assert team is not None
    return {
        "team": TEAM,
        "stage": STAGE,
        "account_id": account_id,
        "cost_center": team.cost_center,
        "gpu_tier": team.gpu_tier,
        "regions": list(team.regions),
    }


def _project(resources: dict[str, Any]) -> dict[str, Any]:
    (project,) = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    return project["Properties"]


def _source_dir(outdir: Path, project: dict[str, Any]) -> Path:
    """The directory CDK staged for the pipeline source asset (what CodeBuild downloads as $CODEBUILD_SRC_DIR)."""
    match = re.search(r"([0-9a-f]{64})\.zip", json.dumps(project["Source"]["Location"]))
    assert match, project["Source"]
    staged = staged_asset(outdir, match.group(1))
    assert staged.is_dir(), staged
    return staged


@pytest.fixture
def platform():
    """GIVEN the emulator: a vended account with its state bucket, and the platform's runs and approvals tables."""
    from landing_zone.local.pipeline_account import start_emulated_account

    account = start_emulated_account(team=TEAM, stage=STAGE)
    try:
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=account.endpoint,
            region_name=account.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield account, ddb
    finally:
        account.stop()


def test_buildspec_build_phase_runs_the_worker_against_the_emulator(
    synthesized: dict[str, Any], resources: dict[str, Any], platform: Any, tmp_path: Path
) -> None:
    account, ddb = platform
    project = _project(resources)
    spec = json.loads(project["Source"]["BuildSpec"])
    # The tables' names are generated at deploy time (a Ref in the template): the emulator's tables take their ids.
    env_vars = {
        v["Name"]: v["Value"]["Ref"] if isinstance(v["Value"], dict) else v["Value"]
        for v in project["Environment"]["EnvironmentVariables"]
    }
    ddb.create_table(
        TableName=env_vars["VEND_PIPELINE_RUNS_TABLE"],
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
    )
    ddb.create_table(
        TableName=env_vars["VEND_APPROVALS_TABLE"],
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "stack", "AttributeType": "S"},
            {"AttributeName": "plan_digest", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "stack", "KeyType": "HASH"}, {"AttributeName": "plan_digest", "KeyType": "RANGE"}],
    )
    run_id = f"req-buildspec/{STACK}"
    store = RunStore(ddb, env_vars["VEND_PIPELINE_RUNS_TABLE"])
    store.put(
        PipelineRun(
            run_id=run_id,
            request_id="req-buildspec",
            stack=STACK,
            stack_path=STACK,
            account_id=account.account_id,
            state_bucket=account.state_bucket,
            state_region=account.region,
            access_role_name="OrganizationAccountAccessRole",
            variables=_variables(account.account_id),
            # manual: the run stops at approval after plan and policy (and records the approval
            # request in the approvals table the buildspec names); an apply would double the time
            gate="manual",
        )
    )
    # The install phase is replaced by this machine's tools: the project's virtualenv (vend), Terraform on the PATH
    # (with the offline provider mirror, as set up by scripts/setup.sh) and the pinned checkov.
    tools = Path(sys.executable).parent
    checkov = shutil.which("checkov", path=str(tools)) or shutil.which("checkov")
    assert checkov, "checkov is not installed (scripts/setup.sh)"
    source = _source_dir(synthesized["outdir"], project)
    env = {
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        **spec["env"]["variables"],
        **env_vars,
        "VEND_CHECKOV_BIN": checkov,
        "CODEBUILD_SRC_DIR": str(source),
        "VEND_RUN_ID": run_id,
        # CodeBuild's role credentials in the platform account; here the emulator's management account
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": account.region,
        "AWS_DEFAULT_REGION": account.region,
        "AWS_ENDPOINT_URL": account.endpoint,
    }
    for name in (tf.MIRROR_ENV, tf.TERRAFORM_BIN_ENV):
        if os.environ.get(name):
            env[name] = os.environ[name]
    script = "\n".join(["set -euo pipefail", *spec["phases"]["build"]["commands"]])
    # WHEN the build phase runs in the staged source asset, as CodeBuild runs it
    proc = subprocess.run(
        ["bash", "-c", script], cwd=source, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    # THEN the worker ran the recorded run through plan and policy to the approval gate, and recorded it
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert printed == {"run_id": run_id, "status": "AWAITING_APPROVAL", "message": printed["message"]}
    run = store.get(run_id)
    assert run is not None and run.status == "AWAITING_APPROVAL", run
    stages = {s["name"]: s["ok"] for s in (run.result or {})["stages"]}
    assert stages == {"fmt": True, "init": True, "validate": True, "plan": True, "policy": True, "approval": False}
    # AND the approval request for exactly that plan is in the approvals table the project's variables name
    items = ddb.scan(TableName=env_vars["VEND_APPROVALS_TABLE"])["Items"]
    assert [(i["stack"]["S"], i["plan_digest"]["S"]) for i in items] == [(STACK, run.plan_digest)]
    # AND the plan took and released the S3 state lock in the vended account's bucket
    listed = account.client("s3").list_objects_v2(Bucket=account.state_bucket)
    assert not [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".tflock")]
    # AND nothing was written into the source directory (TF_DATA_DIR and plans live in the run's own directory)
    assert not list(source.rglob(".terraform"))
