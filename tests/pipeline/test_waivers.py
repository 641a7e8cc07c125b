"""Controls a team cannot waive (issue 20 item 1): inline `checkov:skip` comments in a stack are not honoured, only the
platform's policies/waivers.yaml waives a finding, each applied waiver is reported, and a malformed or expired waiver
is a clear error or no waiver at all."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from benchmarks.policy_corpus import plan_file
from tests.pipeline.corpus.cases import header, violating
from tests.pipeline.plans import change, plan, tagged
from vending.layout import load_layout
from vending.pipeline.policy import PolicyContext, evaluate_plan_document
from vending.pipeline.runner import SavedPlan, policy_check, read_checkov_report, run_checkov
from vending.pipeline.waivers import InvalidWaivers, load_waivers

TODAY = date(2026, 12, 3)
SSH_OPEN = plan(
    change(
        "aws_security_group.admin",
        "aws_security_group",
        tagged(
            {
                "name": "admin",
                "ingress": [
                    {"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]},
                ],
            }
        ),
    )
)
REASON = "vendor appliance needs SSH from its fixed support network"
WAIVER = """waivers:
  - rule: {rule}
    stack: "team-mlops/staging/*"
    address: "aws_security_group.admin"
    reason: "vendor appliance needs SSH from its fixed support network"
    expires: {expires}
    approver: platform-security@example.com
"""


@pytest.fixture(scope="module")
def ctx():
    return PolicyContext.from_layout(
        load_layout(), "none", team="team-mlops", stage="staging", stack="team-mlops/staging/edge"
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


def test_committed_waiver_file_is_valid_and_every_entry_is_reasoned():
    waivers = load_waivers()
    assert waivers and all(w.reason and w.approver and w.expires > TODAY for w in waivers)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("waivers: [{rule: CKV_AWS_24}]", r"waiver 0 .*stack: Field required"),
        (WAIVER.format(rule="x", expires="next-year"), r"waiver 0 .*expires"),
        (WAIVER.format(rule="x", expires="2027-01-01") + "    extra: 1\n", r"extra: Extra inputs"),
        (WAIVER.format(rule="x", expires="2027-01-01").replace(REASON, " " * 11), r"reason"),
        ("- just a list\n", "one key, `waivers`"),
        ("waivers: [\n", "does not parse"),
    ],
)
def test_malformed_waiver_file_is_a_clear_error(tmp_path, text, match):
    # GIVEN a waiver file with a bad entry, WHEN loaded, THEN the error names the entry and the field
    with pytest.raises(InvalidWaivers, match=match):
        load_waivers(_write(tmp_path, text))


def test_malformed_waiver_file_fails_the_stage(tmp_path, ctx):
    doc = tmp_path / "plan.json"
    doc.write_text(json.dumps(plan()))
    ok, summary, _, record = policy_check(doc, ctx, None, waivers_file=_write(tmp_path, "waivers: 3\n"))
    assert not ok and summary.startswith("policy waivers not loaded") and record["ok"] is False


def test_platform_waiver_covers_a_rego_finding_and_is_reported(tmp_path, ctx):
    # GIVEN open SSH, stopped without a waiver
    assert [v.rule for v in evaluate_plan_document(SSH_OPEN, ctx).violations] == ["no-open-admin-ingress"]
    # WHEN the platform's file waives it for this stack, THEN it passes and the waiver is in the stage output
    waivers = load_waivers(_write(tmp_path, WAIVER.format(rule="no-open-admin-ingress", expires="2027-01-01")))
    report = evaluate_plan_document(SSH_OPEN, ctx, waivers=waivers, today=TODAY)
    assert report.ok and report.waived[0]["waiver"]["approver"] == "platform-security@example.com"
    doc = tmp_path / "plan.json"
    doc.write_text(json.dumps(SSH_OPEN))
    ok, summary, tail, _ = policy_check(doc, ctx, None, waivers_file=tmp_path / "waivers.yaml", today=TODAY)
    assert ok and "1 finding(s) waived" in summary and "waived: aws_security_group.admin: no-open-admin-ingress" in tail
    # AND the same waiver for another stack covers nothing
    other = PolicyContext(**{**ctx.__dict__, "stack": "team-frontend/staging/edge"})
    assert not evaluate_plan_document(SSH_OPEN, other, waivers=waivers, today=TODAY).ok


def test_expired_waiver_covers_nothing_and_says_so(tmp_path, ctx):
    waivers = load_waivers(_write(tmp_path, WAIVER.format(rule="no-open-admin-ingress", expires="2026-12-02")))
    report = evaluate_plan_document(SSH_OPEN, ctx, waivers=waivers, today=TODAY)
    assert not report.ok and report.expired_waivers[0]["waiver"]["expires"] == "2026-12-02"
    doc = tmp_path / "plan.json"
    doc.write_text(json.dumps(SSH_OPEN))
    ok, _, tail, _ = policy_check(doc, ctx, None, waivers_file=tmp_path / "waivers.yaml", today=TODAY)
    assert not ok and "expired waiver not applied" in tail


def _checkov_output(skipped: bool) -> str:
    check = {
        "check_id": "CKV_AWS_24",
        "resource": "aws_security_group.admin",
        "file_path": "/main.tf",
        "check_name": "Ensure no security groups allow ingress from 0.0.0.0:0 to port 22",
        "check_result": {"result": "SKIPPED", "suppress_comment": "bastion access for the team"},
    }
    results = {"failed_checks": [], "skipped_checks": [check] if skipped else []}
    return json.dumps({"summary": {"passed": 3, "failed": 0, "skipped": int(skipped)}, "results": results})


def test_inline_skip_is_a_finding_not_a_pass(tmp_path, ctx):
    # GIVEN checkov reporting CKV_AWS_24 skipped by the stack's own comment (exit 0: checkov honoured it)
    found, _, skipped = read_checkov_report("code", 0, _checkov_output(True), "")
    assert skipped == 1 and found[0]["kind"] == "inline-skip"
    assert found[0]["suppress_comment"] == "bastion access for the team"
    # WHEN the stage decides on a plan the rules pass, THEN the skip is not honoured: the stage fails naming it
    doc = tmp_path / "plan.json"
    doc.write_text(json.dumps(plan()))
    checkov = (False, "checkov code: 3 passed, 0 failed, 1 inline-skipped", "", found)
    ok, summary, tail, record = policy_check(doc, ctx, lambda: checkov, waivers_file=tmp_path / "none.yaml")
    assert not ok and "inline checkov:skip of CKV_AWS_24 on aws_security_group.admin" in summary
    assert "inline skip not honoured (bastion access for the team)" in tail
    # AND a platform waiver for that check and address lets it through, reported
    waivers = _write(tmp_path, WAIVER.format(rule="CKV_AWS_24", expires="2027-01-01"))
    ok, summary, tail, record = policy_check(doc, ctx, lambda: checkov, waivers_file=waivers, today=TODAY)
    assert ok and record["checkov"]["waived"][0]["waiver"]["rule"] == "CKV_AWS_24" and "waived: CKV_AWS_24" in tail


@pytest.mark.checkov
def test_checkov_skip_for_open_ssh_is_stopped_by_the_real_scan(tmp_path, ctx):
    """The real checkov on the corpus stack that opens SSH with `# checkov:skip=CKV_AWS_24`, and its real plan: checkov
    honours the comment (reports the check skipped), the stage does not."""
    case = next(c for c in violating() if c.name == "open-ssh-with-checkov-skip")
    stack = tmp_path / "edge"
    stack.mkdir()
    (stack / "providers.tf").write_text(header(case))
    (stack / "main.tf").write_text(case.hcl)
    ok, summary, tail, record = policy_check(
        plan_file(case), ctx, lambda: run_checkov(SavedPlan(stack, plan_file(case))), waivers_file=tmp_path / "no.yaml"
    )
    assert not ok and record["checkov"]["ran"], summary
    skipped = {(f["check_id"], f["resource"]) for f in record["checkov"]["failed"] if f["kind"] == "inline-skip"}
    assert ("CKV_AWS_24", "aws_security_group.admin") in skipped, record["checkov"]
    assert summary.startswith("policy violation: aws_security_group.admin: no-open-admin-ingress")
    assert "inline skip not honoured (bastion access for the team)" in tail
