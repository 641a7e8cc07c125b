"""`vend pipeline`: argument parsing and the approve command (no Terraform needed)."""

from __future__ import annotations

import json

import pytest

from landing_zone.cli import main
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


def test_pipeline_approve_cli_records_approver(tmp_path, monkeypatch, capsys):
    # GIVEN a pending approval in the file store named by VEND_APPROVALS_FILE
    path = tmp_path / "approvals.json"
    monkeypatch.setenv("VEND_APPROVALS_FILE", str(path))
    FileApprovalStore(path).request("team-mlops/production/eks", "d1g3st", "")
    # WHEN `vend pipeline approve` runs
    code = main(["pipeline", "approve", "team-mlops/production/eks", "--by", "bob@example.com", "--json"])
    # THEN it records who approved which plan
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["plan_digest"], out["status"], out["approved_by"]) == ("d1g3st", "approved", "bob@example.com")


def test_pipeline_approve_cli_nothing_pending_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("VEND_APPROVALS_FILE", str(tmp_path / "approvals.json"))
    assert main(["pipeline", "approve", "team-mlops/production/eks", "--by", "bob"]) == 2
