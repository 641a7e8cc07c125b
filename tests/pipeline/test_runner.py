"""The runner's pure parts: stack keys, plan summaries and digests, the spec checks; no Terraform needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.plans import change, plan
from vending.exceptions import (
    InvalidPipelineSpec,
    NotConfigured,
    PolicyEngineUnavailable,
    StackNotFound,
    TerraformUnavailable,
)
from vending.pipeline import runner
from vending.pipeline import terraform as tf
from vending.pipeline.runner import PipelineSpec, plan_digest, run_pipeline, stack_key, state_key, summarize_plan
from vending.settings import REPO_ROOT

STACK = REPO_ROOT / "terraform" / "environments" / "team-mlops" / "staging" / "bootstrap"


def spec(**overrides) -> PipelineSpec:
    base = {
        "stack_dir": STACK,
        "state_bucket": "b",
        "state_region": "us-east-1",
        "account_id": "123456789012",
        "variables": {"team": "team-mlops", "stage": "staging"},
        "env": {},
    }
    return PipelineSpec(**{**base, **overrides})


def test_stack_key_is_folder_path_under_environments():
    # GIVEN the stack folder, WHEN keyed, THEN the key is its path relative to terraform/environments
    assert stack_key(STACK) == "team-mlops/staging/bootstrap"
    assert state_key(STACK) == "team-mlops/staging/bootstrap/terraform.tfstate"


def test_stack_key_outside_repo_uses_environments_component(tmp_path):
    # GIVEN a checkout elsewhere (CodeBuild), WHEN keyed, THEN the part after environments/ is the key
    other = tmp_path / "src" / "terraform" / "environments" / "shared" / "staging" / "networking"
    other.mkdir(parents=True)
    assert stack_key(other) == "shared/staging/networking"


def test_summarize_plan_counts_actions():
    # GIVEN a plan with a create, an update, a replace and a no-op
    doc = plan(
        change("a.x", "a", {}),
        change("b.x", "b", {}, actions=("update",)),
        change("c.x", "c", {}, actions=("delete", "create")),
        change("d.x", "d", {}, actions=("no-op",)),
    )
    # WHEN summarised, THEN each kind is counted and listed
    s = summarize_plan(doc)
    assert (s["add"], s["change"], s["replace"], s["destroy"], s["no_op"]) == (1, 1, 1, 0, 1)
    assert s["has_changes"] and s["resources"]["replace"] == ["c.x"]


def test_plan_digest_changes_with_the_change_set():
    # GIVEN two plans differing in one attribute, WHEN digested, THEN the digests differ (and are stable)
    one = plan(change("a.x", "a", {"instance_type": "g5.xlarge"}))
    two = plan(change("a.x", "a", {"instance_type": "p5.48xlarge"}))
    assert plan_digest(one) == plan_digest(one) != plan_digest(two)


def test_run_pipeline_unknown_stage_is_refused():
    with pytest.raises(InvalidPipelineSpec, match="unknown pipeline stages"):
        run_pipeline(spec(stages=("fmt", "deploy")))


def test_run_pipeline_stage_contradicting_folder_is_refused(monkeypatch, tmp_path):
    # GIVEN a working mirror setting, and variables saying production for a staging folder
    (tmp_path / "registry.terraform.io").mkdir()
    monkeypatch.setenv(tf.MIRROR_ENV, str(tmp_path))
    monkeypatch.setenv(tf.PLUGIN_CACHE_ENV, str(tmp_path / "cache"))
    # WHEN run, THEN the contradiction is refused before any stage
    with pytest.raises(InvalidPipelineSpec, match="contradicts the stack path"):
        run_pipeline(spec(variables={"team": "team-mlops", "stage": "production"}))


def test_run_pipeline_missing_cli_config_file_raises_terraform_unavailable(monkeypatch, tmp_path):
    # GIVEN no mirror setting and a TF_CLI_CONFIG_FILE naming a missing file
    monkeypatch.delenv(tf.MIRROR_ENV, raising=False)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))
    # WHEN the pipeline starts, THEN TerraformUnavailable names the setting and the file (raised, not a failed stage)
    with pytest.raises(TerraformUnavailable, match="VEND_TF_PROVIDER_MIRROR"):
        run_pipeline(spec())


def test_run_pipeline_missing_stack_dir_is_refused():
    with pytest.raises(StackNotFound, match="does not exist"):
        run_pipeline(spec(stack_dir=Path("/nonexistent/stack")))


def test_changed_stacks_module_change_reaches_callers_transitively():
    from vending.pipeline.ci import changed_stacks

    # GIVEN a change to the s3 module (used by bootstrap directly and by cloudfront through its origin bucket)
    stacks = changed_stacks(["terraform/modules/s3/main.tf"], REPO_ROOT / "terraform")
    # THEN bootstrap and cloudfront stacks are planned, networking is not
    assert "team-frontend/staging/cloudfront" in stacks and "team-mlops/production/bootstrap" in stacks
    assert not any(s.endswith("/networking") for s in stacks)


def test_changed_stacks_stack_folder_and_shared_files():
    from vending.pipeline.ci import all_stacks, changed_stacks

    root = REPO_ROOT / "terraform"
    assert changed_stacks(["terraform/environments/shared/staging/eks/terraform.tfvars"], root) == [
        "shared/staging/eks"
    ]
    assert changed_stacks(["policies/checkov.yaml"], root) == all_stacks(root)
    assert changed_stacks(["README.md"], root) == []


# --- run_checkov fails closed -----------------------------------------------------------------------------------------


def test_read_checkov_report_crash_without_output_is_a_failure():
    from vending.pipeline.runner import read_checkov_report

    # GIVEN checkov killed or crashing with nothing on stdout, THEN the scan did not answer: never a pass
    for code, out in ((2, ""), (-9, ""), (0, ""), (1, ""), (0, "Traceback (most recent call last):")):
        with pytest.raises(PolicyEngineUnavailable, match="checkov plan scan"):
            read_checkov_report("plan", code, out, "boom")


def test_read_checkov_report_reads_failures_and_counts():
    from vending.pipeline.runner import read_checkov_report

    report = {
        "summary": {"passed": 3, "failed": 1, "skipped": 2},
        "results": {"failed_checks": [{"check_id": "CKV_AWS_1", "resource": "aws_x.y", "check_name": "n"}]},
    }
    failed, passed, skipped = read_checkov_report("code", 1, json.dumps([report]), "")
    assert (len(failed), passed, skipped) == (1, 3, 2) and failed[0]["check_id"] == "CKV_AWS_1"
    assert read_checkov_report("code", 0, json.dumps({"summary": {"passed": 4}}), "")[1:] == (4, 0)
    # exit 1 (failures) but no failed check in the report: inconsistent, refused
    with pytest.raises(PolicyEngineUnavailable, match="without a failed check"):
        read_checkov_report("code", 1, json.dumps({"summary": {"passed": 4}}), "")


def test_run_checkov_wrong_version_is_refused(monkeypatch, tmp_path):
    from vending.pipeline import runner

    # GIVEN a checkov binary that reports another version than tools/versions.env pins
    fake = tmp_path / "checkov"
    fake.write_text("#!/bin/sh\necho 9.9.9\n")
    fake.chmod(0o755)
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, str(fake))
    ok, summary, _, _ = runner.run_checkov(runner.SavedPlan(STACK, tmp_path / "plan.json"))
    # THEN the scans do not run and the stage is told why
    assert not ok and f"is not the pinned {runner.pinned_version('checkov')}" in summary


def test_run_checkov_asks_the_version_once_per_binary_and_again_when_the_binary_changes(monkeypatch, tmp_path):
    from vending.pipeline import runner

    # GIVEN a checkov that answers the pinned version (logging each time it is asked) and passes every scan
    asked = tmp_path / "asked"
    fake = tmp_path / "checkov"

    def install(version: str) -> None:
        fake.write_text(
            f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo x >> {asked}; echo {version}; exit 0; fi\n'
            'echo \'{"summary": {"passed": 1, "failed": 0, "skipped": 0}}\'\n'
        )
        fake.chmod(0o755)

    install(runner.pinned_version("checkov"))
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, str(fake))
    target = runner.SavedPlan(STACK, tmp_path / "plan.json")
    # WHEN three policy stages run with it
    results = [runner.run_checkov(target)[0] for _ in range(3)]
    # THEN all pass and the version was asked once
    assert results == [True, True, True] and asked.read_text().count("x") == 1
    # WHEN the binary is replaced by one of another version (control: an answer kept past its binary would pass it)
    install("9.9.9")
    ok, summary, _, _ = runner.run_checkov(target)
    # THEN it is asked again and refused
    assert asked.read_text().count("x") == 2
    assert not ok and f"is not the pinned {runner.pinned_version('checkov')}" in summary


def test_run_checkov_side_by_side_stages_ask_the_version_once(monkeypatch, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from vending.pipeline import runner

    # GIVEN a checkov whose --version takes a moment (a Python start) and logs each time it is asked
    asked = tmp_path / "asked"
    fake = tmp_path / "checkov"
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo x >> {asked}; sleep 0.3; '
        f"echo {runner.pinned_version('checkov')}; exit 0; fi\n"
        'echo \'{"summary": {"passed": 1, "failed": 0, "skipped": 0}}\'\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, str(fake))
    target = runner.SavedPlan(STACK, tmp_path / "plan.json")
    # WHEN three policy stages start at once (the demo's three teams)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: runner.run_checkov(target)[0], range(3)))
    # THEN all pass and the binary was asked once (without the lock, each stage found no answer and asked: 3)
    assert results == [True, True, True] and asked.read_text().count("x") == 1


def test_run_checkov_crash_with_no_output_fails(monkeypatch, tmp_path):
    from vending.pipeline import runner

    # GIVEN the pinned version but a checkov that crashes on scans with no output and exit 2
    fake = tmp_path / "checkov"
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo {runner.pinned_version("checkov")}; exit 0; fi\n'
        "echo 'Segmentation fault' >&2\nexit 139\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv(runner.CHECKOV_BIN_ENV, str(fake))
    ok, summary, _, _ = runner.run_checkov(runner.SavedPlan(STACK, tmp_path / "plan.json"))
    assert not ok and "crashed (exit 139)" in summary


def test_pinned_version_reads_tools_versions_env(tmp_path):
    from vending.pipeline.runner import pinned_version

    assert pinned_version("checkov").count(".") == 2
    (tmp_path / "v.env").write_text("# c\nOTHER=1\n")
    with pytest.raises(NotConfigured, match="pins no CHECKOV_VERSION"):
        pinned_version("checkov", tmp_path / "v.env")


@pytest.mark.parametrize(
    ("env", "ambient", "expected"),
    [
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, None, "1"),  # against the emulator: one P
        ({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000"}, None, "1"),
        ({}, None, None),  # against AWS: Go's default (the cores)
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, "4", "4"),  # the operator's setting is kept
    ],
)
def test_emulated_runs_give_terraform_one_go_proc(monkeypatch, tmp_path, env, ambient, expected):
    # GIVEN a Terraform that is never run (the workspace is only built) and the ambient GOMAXPROCS, if any
    monkeypatch.setenv(tf.TERRAFORM_BIN_ENV, "/bin/true")
    (tmp_path / "mirror" / "registry.terraform.io").mkdir(parents=True)
    monkeypatch.setenv(tf.MIRROR_ENV, str(tmp_path / "mirror"))
    if ambient is None:
        monkeypatch.delenv("GOMAXPROCS", raising=False)
    else:
        monkeypatch.setenv("GOMAXPROCS", ambient)
    # WHEN a pipeline run is set up with the spec's environment
    run = runner._Run(spec(env=env), approvals=None)
    try:
        # THEN its commands' environment (and so its provider's) carries the expected GOMAXPROCS
        assert run.ws.env.get("GOMAXPROCS") == expected
    finally:
        run.ws.cleanup()
