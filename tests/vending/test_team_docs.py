"""vend team docs: a team's guide written from its record, the layout and the trust model."""

from __future__ import annotations

from pathlib import Path

import pytest

from landing_zone.cli import main
from vending.layout import cached_layout
from vending.lifecycle import RequestStore, Status
from vending.request import VendingRequest
from vending.team_docs import team_guide
from vending.trust import APPLY, PLAN


def test_team_guide_names_account_guardrails_roles_state_and_templates(
    store: RequestStore, request_: VendingRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a READY record of team-mlops (training tier) with its account and state bucket
    store.reserve(request_, "vend-team-mlops-staging-a1")
    record = store.update(
        request_.request_id,
        status=Status.READY,
        step="RecordReady",
        account_id="111122223333",
        ou_path="Workloads/Staging",
        state_bucket="tfstate-111122223333-us-east-1",
        scps=["FullAWSAccess", "vend-gpu-training"],
    )
    # WHEN the guide is written
    guide = team_guide(record, cached_layout())
    # THEN it names the account, OU, tier's allowed families, both CI roles with their environments, the backend block
    for expected in (
        "111122223333",
        "Workloads/Staging",
        "p5.*",
        PLAN.environment("team-mlops", "staging"),
        APPLY.environment("team-mlops", "staging"),
        PLAN.role_name,
        APPLY.role_name,
        'bucket       = "tfstate-111122223333-us-east-1"',
        'key          = "team-mlops/staging/<stack>/terraform.tfstate"',
        "vend-gpu-training",
        "`sagemaker-endpoint`",
    ):
        assert expected in guide, expected
    # AND the CLI writes the same guide from the lifecycle store
    monkeypatch.setenv("VEND_REQUESTS_TABLE", store._items.table)
    out = tmp_path / "guide.md"
    assert main(["team", "docs", request_.request_id, "--output", str(out)]) == 0
    assert out.read_text() == guide


def test_team_docs_unknown_request_is_a_clear_error(store: RequestStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEND_REQUESTS_TABLE", store._items.table)
    assert main(["team", "docs", "team-nope-staging"]) == 2
