"""The malformed-request corpus through all three entry points (API handler, `vend request create --file`,
EventBridge -> SQS StartFromEvent): nothing accepted, no 5xx, every rejection names the field, nothing created."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.corpus import cases, run_corpus


def test_corpus_has_at_least_100_cases_for_each_entry_point() -> None:
    assert len(cases()) >= 100


def test_corpus_malformed_requests_all_rejected_naming_the_field_nothing_created(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the corpus and moto with an organization, the tables and the state machine
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    # WHEN every case is sent through the API, the CLI and the event path
    report = run_corpus(aws["organizations"], aws["stepfunctions"], aws["state_machine_arn"])
    # THEN (the counts are printed for the closing note)
    with capsys.disabled():
        print("\nmalformed-request corpus:", json.dumps({k: v for k, v in report.items() if k != "failures"}))
    assert report["failures"] == []
    assert (report["accepted"], report["5xx"], report["rejections_not_naming_the_field"]) == (0, 0, 0)
    assert (report["accounts_created"], report["executions_started"]) == (0, 0)
    assert all(p["sent"] + p["not_applicable"] == report["cases"] for p in report["per_entry_point"].values())
    assert all(p["sent"] >= 100 for p in report["per_entry_point"].values())
