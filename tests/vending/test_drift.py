"""vending.pipeline.drift: what a plan JSON says differs, which stacks a pass checks, and how the audit reports it.
The plan-only pass against a real stack on the emulator is tests/e2e/test_vending_state_machine.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vending.guardrails.audit import drift_findings
from vending.lifecycle import RequestRecord, Status
from vending.pipeline.drift import (
    SENSITIVE,
    DriftCheck,
    DriftStatus,
    DriftStore,
    changed_attributes,
    check_id,
    current_checks,
    parse_drift,
    scan_table,
    start_drift_checks,
)
from vending.pipeline.orchestration import PipelineRun, RunStatus, RunStore
from vending.pipeline.runner import InvalidPipelineSpec, PipelineSpec, plan_only

ACCOUNT = "111122223333"
RUNS_TABLE = "vending-pipeline-runs"

BUCKET_BEFORE = {"bucket": "b", "tags": {"team": "t", "purpose": "artifacts"}, "versioning": [{"enabled": True}]}
BUCKET_AFTER = {"bucket": "b", "tags": {"team": "t", "purpose": "tampered"}, "versioning": [{"enabled": True}]}


def _rc(address: str, actions: list[str], before: Any, after: Any, **extra: Any) -> dict[str, Any]:
    mode = extra.pop("mode", "managed")
    return {"address": address, "mode": mode, "change": {"actions": actions, "before": before, "after": after, **extra}}


class FakeLauncher:
    def __init__(self) -> None:
        self.launched: list[str] = []

    def launch(self, run_id: str) -> None:
        self.launched.append(run_id)


def test_changed_attributes_names_nested_paths_and_their_values() -> None:
    # GIVEN an update whose only difference is one tag
    paths, values = changed_attributes({"before": BUCKET_BEFORE, "after": BUCKET_AFTER})
    # THEN the tag's path is named with both values, nothing else
    assert paths == ["tags.purpose"]
    assert values == {"tags.purpose": ["artifacts", "tampered"]}


def test_changed_attributes_masks_sensitive_values_and_counts_unknown_ones() -> None:
    change = {
        "before": {"password": "old", "arn": "a", "tags": {}},
        "after": {"password": "new", "tags": {}},
        "after_unknown": {"arn": True},
        "before_sensitive": {"password": True},
        "after_sensitive": {"password": True},
    }
    paths, values = changed_attributes(change)
    assert paths == ["arn", "password"]
    assert values["password"] == [SENSITIVE, SENSITIVE]
    assert values["arn"] == ["a", "(known after apply)"]


def test_parse_drift_reports_drift_and_changes_not_noop_or_reads() -> None:
    # GIVEN a plan where a bucket's tag was changed outside Terraform, a role was deleted outside it, a data source is
    # read and a log group is unchanged; the refresh also saw attributes the stack's own resources set (the bucket's
    # versioning, set by aws_s3_bucket_versioning; a log group's retention the plan does not act on)
    noisy_before = {**BUCKET_BEFORE, "versioning": [{"enabled": False}]}
    plan = {
        "resource_drift": [
            _rc("module.s3.aws_s3_bucket.this", ["update"], noisy_before, BUCKET_AFTER),
            _rc("aws_iam_role.r", ["delete"], {"name": "r"}, None),
            _rc("aws_cloudwatch_log_group.l", ["update"], {"name": "l", "kms": None}, {"name": "l", "kms": "k"}),
        ],
        "resource_changes": [
            _rc("module.s3.aws_s3_bucket.this", ["update"], BUCKET_AFTER, BUCKET_BEFORE),
            _rc("aws_iam_role.r", ["create"], None, {"name": "r"}),
            _rc("data.aws_caller_identity.me", ["read"], None, {}, mode="data"),
            _rc("aws_cloudwatch_log_group.l", ["no-op"], {"name": "l"}, {"name": "l"}),
        ],
    }
    found = parse_drift(plan)
    # THEN both sources are reported with what differs; the no-op and the read are not
    assert [(r.source, r.address, r.actions, r.attributes) for r in found] == [
        ("resource_drift", "aws_iam_role.r", ["delete"], []),
        ("resource_drift", "module.s3.aws_s3_bucket.this", ["update"], ["tags.purpose"]),
        ("resource_changes", "aws_iam_role.r", ["create"], []),
        ("resource_changes", "module.s3.aws_s3_bucket.this", ["update"], ["tags.purpose"]),
    ]
    assert found[1].values == {"tags.purpose": ["artifacts", "tampered"]}
    # AND a plan with nothing to change reports nothing, its refresh noise included (the negative control)
    assert (
        parse_drift({"resource_changes": [plan["resource_changes"][3]], "resource_drift": plan["resource_drift"][2:]})
        == []
    )


def _run(request_id: str, stack: str, **update: Any) -> PipelineRun:
    run = PipelineRun(
        run_id=f"{request_id}/{stack}",
        request_id=request_id,
        stack=stack,
        stack_path=f"{request_id.rsplit('-', 1)[0]}/staging/{stack}",
        account_id=ACCOUNT,
        state_bucket="tfstate",
        state_region="us-east-1",
        access_role_name="OrganizationAccountAccessRole",
        variables={},
        gate="auto",
        status=RunStatus.SUCCEEDED,
    )
    return run.model_copy(update=update)


def _record(request_id: str, status: Status, stacks: list[str]) -> RequestRecord:
    team = request_id.rsplit("-", 1)[0]
    return RequestRecord(
        request_id=request_id,
        team=team,
        stage="staging",
        status=status,
        request={"stacks": stacks},
        account_id=ACCOUNT,
    )


def test_start_drift_checks_only_applied_stacks_of_ready_accounts_and_never_twice(
    ddb: Any, run_store: RunStore
) -> None:
    # GIVEN a READY account with an applied stack, a failed one, a destroyed one and one no longer requested, and an
    # account in the middle of a change
    runs = [
        _run("team-a-staging", "bootstrap"),
        _run("team-a-staging", "eks", status=RunStatus.FAILED),
        _run("team-a-staging", "networking", action="destroy"),
        _run("team-a-staging", "removed"),
        _run("team-b-staging", "bootstrap"),
    ]
    records = [
        _record("team-a-staging", Status.READY, ["bootstrap", "eks", "networking"]),
        _record("team-b-staging", Status.UPDATING, ["bootstrap"]),
    ]
    for run in runs:
        run_store.put(run)
    store, launcher = DriftStore(ddb, RUNS_TABLE), FakeLauncher()

    # WHEN a pass starts, and a second pass overlaps it
    first = start_drift_checks(store, launcher, runs, records)
    second = start_drift_checks(store, launcher, runs, records)

    # THEN only the applied stack of the READY account is checked, once
    assert first == {"team-a-staging/bootstrap": "QUEUED"} == second
    assert launcher.launched == [check_id("team-a-staging/bootstrap")]
    # AND a check lost past its lease is started again as a new attempt
    start_drift_checks(store, launcher, runs, records, lost_after_seconds=-1)
    assert launcher.launched[-1] == check_id("team-a-staging/bootstrap")
    again = store.get(check_id("team-a-staging/bootstrap"))
    assert again is not None and again.attempt == 2
    # AND the table scan tells runs and checks apart (the check is in the runs table, beside its run)
    scanned_runs, scanned_checks = scan_table(ddb, RUNS_TABLE)
    assert len(scanned_runs) == 5 and [c.stack_run for c in scanned_checks] == ["team-a-staging/bootstrap"]
    # AND a worker claims a check once; the older attempt's outcome is refused
    claimed = store.claim(again)
    assert claimed is not None and store.claim(again) is None
    stale = claimed.model_copy(update={"attempt": 1, "status": DriftStatus.CLEAN})
    assert store.finish(stale) is False
    assert store.finish(claimed.model_copy(update={"status": DriftStatus.DRIFTED})) is True


def test_current_checks_drop_stacks_destroyed_since() -> None:
    runs = [_run("team-a-staging", "bootstrap"), _run("team-a-staging", "eks", action="destroy")]
    checks = [
        DriftCheck(
            run_id=check_id(r.run_id),
            stack_run=r.run_id,
            request_id=r.request_id,
            stack=r.stack,
            stack_path=r.stack_path,
            account_id=ACCOUNT,
            status=DriftStatus.DRIFTED,
        )
        for r in runs
    ]
    records = [_record("team-a-staging", Status.READY, ["bootstrap", "eks"])]
    assert [c.stack for c in current_checks(runs, checks, records)] == ["bootstrap"]


def _check(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": "team-a-staging/bootstrap#drift",
        "stack_path": "team-a/staging/bootstrap",
        "account_id": ACCOUNT,
        "status": status,
        "checked_at": "2026-12-03T05:01:00+00:00",
        "queued_at": "2026-12-03T05:00:00+00:00",
        "message": "",
        "resources": [],
        **extra,
    }


def test_drift_findings_report_drifted_and_unchecked_stacks_not_clean_ones() -> None:
    tampered = {
        "address": "module.artifacts.aws_s3_bucket.this",
        "source": "resource_drift",
        "actions": ["update"],
        "attributes": ["tags.purpose", "tags_all.purpose"],
    }
    findings, summary = drift_findings(
        [
            _check("DRIFTED", resources=[tampered]),
            _check("FAILED", message="plan failed: Error acquiring the state lock"),
            _check("CLEAN"),
            _check("RUNNING", queued_at="2000-01-01T00:00:00+00:00"),
            _check("RUNNING", queued_at="2999-01-01T00:00:00+00:00"),
        ]
    )
    assert [(f.type, f.target) for f in findings] == [
        ("stack_drift", "stack:team-a/staging/bootstrap"),
        ("drift_unchecked", "stack:team-a/staging/bootstrap"),
        ("drift_unchecked", "stack:team-a/staging/bootstrap"),
    ]
    assert "module.artifacts.aws_s3_bucket.this (update: tags.purpose, tags_all.purpose)" in findings[0].detail
    assert "state lock" in findings[1].detail and "never finished" in findings[2].detail
    assert not any(f.fixable for f in findings)
    assert summary == {"checked": 5, "by_status": {"CLEAN": 1, "DRIFTED": 1, "FAILED": 1, "RUNNING": 2}}
    # AND only clean checks are no finding at all (the negative control)
    assert drift_findings([_check("CLEAN")])[0] == []


def test_plan_only_refuses_apply_or_platform_credentials(tmp_path: Any) -> None:
    base = {"stack_dir": tmp_path, "state_bucket": "b", "state_region": "us-east-1", "account_id": ACCOUNT}
    for extra in ({"apply_env": {"AWS_ACCESS_KEY_ID": "x"}}, {"platform_credentials": True}):
        with pytest.raises(InvalidPipelineSpec, match="plan role's credentials only"):
            plan_only(PipelineSpec(**base, variables={}, env={}, **extra))  # type: ignore[arg-type]


def _resource(n: int, source: str = "resource_drift", **extra: Any) -> dict[str, Any]:
    return {"address": f"aws_s3_bucket.b{n}", "source": source, "actions": ["update"], "attributes": ["tags"], **extra}


def test_drift_findings_whole_findings_each_kind() -> None:
    # GIVEN one check of each status, out of run order, one never checked
    where = f"account {ACCOUNT}, checked 2026-12-03T05:01:00+00:00"
    changed = _resource(1, "resource_changes", actions=["delete", "create"], attributes=[])
    checks = [
        _check("FAILED", run_id="c", stack_path="t/s/c", message="plan failed: boom"),
        _check("DRIFTED", run_id="a", stack_path="t/s/a", resources=[changed, _resource(2)]),
        _check("DRIFTED", run_id="b", stack_path="t/s/b", resources=[changed]),
        _check("DRIFTED", run_id="d", stack_path="t/s/d", message="drifted, no resource listed", checked_at=None),
        _check("QUEUED", run_id="e", stack_path="t/s/e", queued_at="2000-01-01T00:00:00+00:00"),
    ]
    findings, summary = drift_findings(checks)
    # THEN each finding whole, in run-id order: what changed outside Terraform first (the plan's own changes only
    # when nothing drifted outside), the whole resource when no attribute is named, the message when no resource is
    assert [f.to_dict() for f in findings] == [
        {
            "type": "stack_drift",
            "target": "stack:t/s/a",
            "detail": f"aws_s3_bucket.b2 (update: tags) ({where})",
            "fixable": False,
        },
        {
            "type": "stack_drift",
            "target": "stack:t/s/b",
            "detail": f"aws_s3_bucket.b1 (delete/create: the whole resource) ({where})",
            "fixable": False,
        },
        {
            "type": "drift_unchecked",
            "target": "stack:t/s/c",
            "detail": f"plan failed: boom ({where})",
            "fixable": False,
        },
        {
            "type": "stack_drift",
            "target": "stack:t/s/d",
            "detail": f"drifted, no resource listed (account {ACCOUNT}, checked never)",
            "fixable": False,
        },
        {
            "type": "drift_unchecked",
            "target": "stack:t/s/e",
            "detail": f"the check queued at 2000-01-01T00:00:00+00:00 never finished ({where})",
            "fixable": False,
        },
    ]
    assert summary == {"checked": 5, "by_status": {"DRIFTED": 3, "FAILED": 1, "QUEUED": 1}}


def test_drift_findings_name_ten_resources_and_count_the_rest() -> None:
    # GIVEN a check with 12 resources drifted outside Terraform
    findings, _ = drift_findings([_check("DRIFTED", resources=[_resource(n) for n in range(12)])])
    detail = findings[0].detail
    # THEN the first ten are named, in order, and the two more are counted
    assert detail.startswith("; ".join(f"aws_s3_bucket.b{n} (update: tags)" for n in range(10)) + " (+2 more) (")
    assert "b10" not in detail and "b11" not in detail
    # AND eleven is one more; exactly ten is no "more"
    eleven, _ = drift_findings([_check("DRIFTED", resources=[_resource(n) for n in range(11)])])
    assert " (+1 more) (" in eleven[0].detail
    ten, _ = drift_findings([_check("DRIFTED", resources=[_resource(n) for n in range(10)])])
    assert "more" not in ten[0].detail and "aws_s3_bucket.b9 (update: tags) (account" in ten[0].detail


def test_drift_findings_a_check_is_stale_only_past_the_bound_and_only_while_unfinished() -> None:
    now = datetime.now(UTC)

    def queued(seconds_ago: int, status: str = "RUNNING") -> dict[str, Any]:
        return _check(status, queued_at=(now - timedelta(seconds=seconds_ago)).isoformat())

    # GIVEN a one-hour bound: a check queued 50 minutes ago is still in time, one queued 70 minutes ago is not
    assert drift_findings([queued(3000)], stale_after_seconds=3600)[0] == []
    (late,) = drift_findings([queued(4200)], stale_after_seconds=3600)[0]
    assert late.type == "drift_unchecked" and "never finished" in late.detail
    # AND a QUEUED one the same; a finished (CLEAN) one or one with no queue time is never stale
    assert len(drift_findings([queued(4200, "QUEUED")], stale_after_seconds=3600)[0]) == 1
    assert drift_findings([queued(4200, "CLEAN")], stale_after_seconds=3600)[0] == []
    assert drift_findings([_check("RUNNING", queued_at=None)], stale_after_seconds=0)[0] == []
    # AND the default bound is two days
    assert drift_findings([queued(2 * 24 * 3600 - 600)])[0] == []
    assert len(drift_findings([queued(2 * 24 * 3600 + 600)])[0]) == 1
