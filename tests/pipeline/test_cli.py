"""`vend pipeline`: argument parsing and the approve command (no Terraform needed)."""

from __future__ import annotations

import json

import pytest

from landing_zone.cli import main
from vending.aws.identity import principal_from_arn
from vending.cli.pipeline import default_variables, parse_vars, resolve_stack_dir
from vending.exceptions import InvalidRequest
from vending.pipeline.approvals import FileApprovalStore


def test_parse_vars_typed_json_and_plain_strings():
    # GIVEN --var pairs with a JSON list, a number and a plain string, WHEN parsed, THEN JSON values are typed
    assert parse_vars(['regions=["us-east-1"]', "az_count=3", "cost_center=CC-1"]) == {
        "regions": ["us-east-1"],
        "az_count": 3,
        "cost_center": "CC-1",
    }
    with pytest.raises(InvalidRequest, match="key=value"):
        parse_vars(["novalue"])


def test_resolve_stack_dir_short_form_and_defaults_from_layout():
    # GIVEN the short form of a stack, WHEN resolved, THEN team values come from landing_zone/layout.yaml
    stack = resolve_stack_dir("team-backend/staging/bootstrap")
    assert stack.is_dir()
    assert default_variables(stack) == {
        "team": "team-backend",
        "stage": "staging",
        "cost_center": "CC-1002",
        "gpu_tier": "inference",
        "regions": ["us-east-1", "us-west-2"],
    }
    with pytest.raises(InvalidRequest, match="no stack folder"):
        resolve_stack_dir("team-x/staging/nothing")


APPROVER_SESSION = "arn:aws:sts::123456789012:assumed-role/PlatformApprover/bob"


@pytest.fixture
def signed_in(monkeypatch):
    """The CLI's credentials belong to the approver role's session `bob` (what sts:GetCallerIdentity answers)."""
    from vending.cli import caller

    monkeypatch.setattr(caller, "caller_principal", lambda _sts: principal_from_arn(APPROVER_SESSION))


def test_pipeline_approve_cli_records_the_signed_in_principal(tmp_path, monkeypatch, capsys, signed_in):
    # GIVEN a pending approval in the file store named by VEND_APPROVALS_FILE
    path = tmp_path / "approvals.json"
    monkeypatch.setenv("VEND_APPROVALS_FILE", str(path))
    FileApprovalStore(path).request("team-mlops/production/eks", "d1g3st", "")
    # WHEN `vend pipeline approve` runs (no --by: who approves is the signed-in principal)
    code = main(["pipeline", "approve", "team-mlops/production/eks", "--json"])
    # THEN it records the principal's role ARN as the approver of that plan
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["plan_digest"], out["status"], out["approved_by"]) == (
        "d1g3st",
        "approved",
        "arn:aws:iam::123456789012:role/PlatformApprover",
    )


def test_pipeline_approve_cli_refuses_a_by_naming_someone_else(tmp_path, monkeypatch, capsys, signed_in):
    # GIVEN a pending approval
    path = tmp_path / "approvals.json"
    monkeypatch.setenv("VEND_APPROVALS_FILE", str(path))
    FileApprovalStore(path).request("team-mlops/production/eks", "d1g3st", "")
    # WHEN --by names another principal (or a free-text name)
    for other in ("arn:aws:iam::123456789012:role/PlatformAdmin", "alice@example.com"):
        assert main(["pipeline", "approve", "team-mlops/production/eks", "--by", other]) == 2
        # THEN it is refused, naming the signed caller, and nothing is approved
        assert "IdentityMismatch" in capsys.readouterr().err
    assert FileApprovalStore(path).get("team-mlops/production/eks", "d1g3st").status == "pending"
    # AND --by naming the signed caller itself is accepted
    assert main(["pipeline", "approve", "team-mlops/production/eks", "--by", APPROVER_SESSION]) == 0


def test_pipeline_approve_cli_nothing_pending_exits_2(tmp_path, monkeypatch, signed_in):
    monkeypatch.setenv("VEND_APPROVALS_FILE", str(tmp_path / "approvals.json"))
    assert main(["pipeline", "approve", "team-mlops/production/eks"]) == 2
