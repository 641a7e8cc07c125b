"""vend team docs: a team's guide written from its record, the layout and the trust model."""

from __future__ import annotations

from pathlib import Path

import boto3
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


def test_pending_quotas_in_the_guide_and_the_status(
    store: RequestStore, request_: VendingRequest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from landing_zone.local.billing_and_quotas import emulated_service_quotas, settle_quota_requests
    from vending.quotas import converge_quotas

    # GIVEN team-mlops's training quotas requested in its account, the us-east-1 ones then approved
    layout = cached_layout()
    with emulated_service_quotas():
        sq = lambda region: boto3.client("service-quotas", region_name=region)  # noqa: E731
        first = converge_quotas(sq, layout.quota_needs("training"), ("us-east-1", "us-west-2"))
        settle_quota_requests("123456789012", region="us-east-1")
        quotas = converge_quotas(sq, layout.quota_needs("training"), ("us-east-1", "us-west-2"), first)
    store.reserve(request_, "vend-team-mlops-staging-a1")
    record = store.update(request_.request_id, step="RequestQuotas", quotas=[q.model_dump() for q in quotas])
    # WHEN the guide is written THEN it counts the pending quotas and lists each with its request
    guide = team_guide(record, layout)
    needs = len(layout.quota_needs("training"))
    assert f"{needs} of {2 * needs} quota(s) still wait for AWS" in guide
    pending_p = next(q for q in quotas if q.region == "us-west-2" and q.code == "L-417A185B")
    assert "us-west-2 ec2 Running On-Demand P instances (L-417A185B): 0 -> 192 requested, PENDING (request " in guide
    assert pending_p.request_id and pending_p.request_id in guide
    assert "us-east-1 ec2 Running On-Demand P instances (L-417A185B): 192, meets the tier's 192" in guide
    # AND `vend request status` shows the same quotas, the pending count in the title
    monkeypatch.setenv("VEND_REQUESTS_TABLE", store._items.table)
    assert main(["request", "status", request_.request_id]) == 0
    out = capsys.readouterr().out
    assert f"Service Quotas ({needs} pending)" in out and pending_p.request_id in out
