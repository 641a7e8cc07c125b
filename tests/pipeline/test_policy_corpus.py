"""The policy stage on the pipeline corpora (tests/pipeline/corpus: real `terraform show -json` plans of violating and
compliant stacks, benchmarks/policy_corpus.py prints the figures): no violating case leaks, no compliant case is
stopped, and each violating case is stopped by the rule it names."""

from __future__ import annotations

import json

import pytest

from benchmarks.policy_corpus import context, plan_file
from tests.pipeline.corpus.cases import CLASSES, CorpusCase, all_cases, compliant, violating
from vending.pipeline.policy import RULES, evaluate_plan_document
from vending.pipeline.waivers import load_waivers

CASES = all_cases()


def _report(case: CorpusCase):
    doc = json.loads(plan_file(case).read_text())
    return evaluate_plan_document(doc, context(case), waivers=load_waivers())


def test_corpus_has_cases_for_every_class_and_rule():
    # GIVEN the corpora, THEN every class has violating and compliant plans, every rule stops at least one case, and
    # every case has its plan (regenerated with benchmarks/policy_corpus.py --regenerate)
    for cls in CLASSES:
        assert any(c.cls == cls for c in violating()) and any(c.cls == cls for c in compliant()), cls
    assert {c.rule for c in violating()} <= set(RULES)
    assert len({c.name for c in CASES}) == len(CASES)
    assert [c.name for c in CASES if not plan_file(c).exists()] == []


@pytest.mark.parametrize("case", violating(), ids=lambda c: c.name)
def test_corpus_violating_plan_is_stopped_by_its_rule(case: CorpusCase):
    report = _report(case)
    assert not report.errors, [str(e) for e in report.errors]
    assert case.rule in {v.rule for v in report.violations}, [str(v) for v in report.violations]


@pytest.mark.parametrize("case", compliant(), ids=lambda c: c.name)
def test_corpus_compliant_plan_passes(case: CorpusCase):
    report = _report(case)
    assert report.ok, [str(v) for v in report.violations] + [str(e) for e in report.errors]


def test_corpus_plans_are_real_terraform_documents():
    # The plans come from terraform itself (format_version, configuration with provider_config, after_unknown).
    for case in CASES:
        doc = json.loads(plan_file(case).read_text())
        assert doc["format_version"] and doc["terraform_version"], case.name
        assert "aws" in doc["configuration"]["provider_config"], case.name
        assert all("after_unknown" in rc["change"] for rc in doc.get("resource_changes", [])), case.name


def test_corpus_checkov_skip_for_open_ssh_is_in_the_stack_and_still_stopped():
    # GIVEN the stack that opens SSH to the internet and carries `# checkov:skip=CKV_AWS_24`
    case = next(c for c in violating() if c.name == "open-ssh-with-checkov-skip")
    assert "checkov:skip=CKV_AWS_24" in case.hcl
    # THEN the project rule stops it: a comment in the stack does not reach the Rego stage
    [violation] = [v for v in _report(case).violations if v.rule == "no-open-admin-ingress"]
    assert violation.address == "aws_security_group.admin" and "22 (SSH)" in violation.message
