"""The malformed-request corpus through all three entry points (API handler, `vend request create --file`,
EventBridge -> SQS StartFromEvent): nothing accepted, no 5xx, every rejection names the field, nothing created."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.corpus import GOOD, Case, Tally, cases, run_corpus, via_api, via_cli, via_event


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


def test_corpus_judge_refuses_a_rejection_naming_more_or_fewer_fields_than_wrong() -> None:
    # GIVEN a case whose only wrong field is the team
    case = Case("team wrong", b"{}", frozenset({"team"}))
    tally = Tally()
    # WHEN rejections name exactly it, it with a sub-path, every field, another field, or nothing
    tally.judge(case, accepted=False, crashed=False, named={"team"}, detail="")
    tally.judge(case, accepted=False, crashed=False, named={"team.0"}, detail="")
    tally.judge(case, accepted=False, crashed=False, named={"team", "stage", "regions"}, detail="")
    tally.judge(case, accepted=False, crashed=False, named={"stage"}, detail="")
    tally.judge(case, accepted=False, crashed=False, named=None, detail="")
    # THEN only the exact ones pass: a rejection that names everything tells the caller nothing
    assert (tally.cases, tally.unnamed) == (5, 3)


def test_corpus_positive_control_the_good_request_is_accepted_by_every_entry_point(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # GIVEN the request every corpus case is a mutation of
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    good = Case("good", json.dumps(GOOD).encode(), frozenset())
    # WHEN it is sent through the API, the CLI and the event path THEN each accepts it, without a crash: the
    # corpus's rejections are the product judging the input, not an entry point that refuses everything
    for send in (via_api, lambda c: via_cli(c, tmp_path), via_event):
        accepted, crashed, _named, detail = send(good)
        assert accepted and not crashed, detail
    assert aws["stepfunctions"].list_executions(stateMachineArn=aws["state_machine_arn"])["executions"]
