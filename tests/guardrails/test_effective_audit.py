"""The audit's effective-permission check: what the SCPs on each account's path let through (scps.evaluate on the
probes of vending.guardrails.effective), actual vs intended, with negative controls for what must not be reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scps.render import render
from tests.guardrails.conftest import ou_id, policy_id, vend_with_record
from tests.organization_pages import all_policies
from vending.guardrails import reconcile_organization
from vending.guardrails.audit import AuditReport, audit_organization
from vending.guardrails.effective import FULL_ACCESS_DOC, PROBES, effective_findings, intended_levels, weakened
from vending.guardrails.intent import build_intent
from vending.guardrails.snapshot import read_snapshot
from vending.layout import Layout, load_layout
from vending.lifecycle import RequestRecord

SCP = "SERVICE_CONTROL_POLICY"
KIND = "effective_permissions"
TEAMS = (("team-frontend", "staging"), ("team-backend", "production"), ("team-mlops", "staging"))


class Vended:
    def __init__(self, org: Any, layout: Layout) -> None:
        self.org, self.layout = org, layout
        self.ids: dict[str, str] = {}
        self.records: list[RequestRecord] = []
        for team, stage in TEAMS:
            self.ids[team], record = vend_with_record(org, layout, team, stage)
            self.records.append(record)
        reconcile_organization(org, layout, dry_run=False, records=self.records)

    def audit(self, **kw: Any) -> AuditReport:
        return audit_organization(self.org, self.layout, records=self.records, **kw)


@pytest.fixture
def vended(org: Any, layout: Layout) -> Vended:
    return Vended(org, layout)


def _weakened(report: AuditReport) -> dict[str, str]:
    return {f.target: f.detail for f in report.findings if f.type == KIND}


def _never_matching_gpu_fence(document: dict[str, Any]) -> str:
    """The tier policy with every instance-type pattern replaced by one no instance type has: same Sids, same
    shape, same name, no fence."""
    doc = json.loads(json.dumps(document))
    for statement in doc["Statement"]:
        for operator, keys in statement.get("Condition", {}).items():
            if operator.endswith("StringLike"):
                for key in keys:
                    if key.lower().endswith(("instancetype", "instancetypes")):
                        keys[key] = ["no-such-family.*"]
    return json.dumps(doc, separators=(",", ":"))


def test_effective_clean_org_has_no_finding_and_no_extra_calls(vended: Vended) -> None:
    # GIVEN vended accounts of every tier, as ApplyGuardrails left them
    # WHEN audited
    report = vended.audit()
    # THEN no account lets through anything its intent denies
    assert report.findings == [] and report.counts()[KIND] == 0
    # AND the check read nothing beyond the snapshot: one DescribePolicy per SCP except FullAWSAccess and per tag
    # policy, no per-account policy reads
    scps = all_policies(vended.org, SCP)
    tag_policies = all_policies(vended.org, "TAG_POLICY")
    by_operation = report.api_calls["by_operation"]
    described = len([p for p in scps if p["Name"] != "FullAWSAccess"]) + len(tag_policies)
    assert tag_policies and by_operation.get("DescribePolicy", 0) == described
    assert by_operation.get("ListPoliciesForTarget", 0) == 0 and by_operation.get("ListParents", 0) == 0
    # AND `vend audit --json` keeps its shape, with the new kind counted like the others
    assert report.to_dict()["by_type"][KIND] == 0


def test_effective_tier_policy_content_swapped_under_its_name_names_p5_and_p4d(vended: Vended) -> None:
    # GIVEN the inference tier's policy (backend) rewritten in place: same name, a GPU condition that never matches
    name = "vend-gpu-inference"
    tampered = _never_matching_gpu_fence(render(vended.layout).policies[name].document)
    vended.org.update_policy(PolicyId=policy_id(vended.org, name), Content=tampered)
    # WHEN audited
    report = vended.audit()
    # THEN the backend account (and only it) lets through the training families its intent denies, named
    backend = f"account:{vended.ids['team-backend']}"
    found = _weakened(report)
    assert list(found) == [backend]
    probes = found[backend].split(": ", 1)[1].split(", ")
    assert {"run p5.48xlarge", "run p4d.24xlarge", "sagemaker ml.p5.48xlarge", "sagemaker ml.p4d.24xlarge"} <= set(
        probes
    )
    assert "run g5.xlarge" not in probes and "run t3.micro" not in probes  # allowed by the intent too
    finding = next(f for f in report.findings if f.type == KIND)
    assert finding.fixable and finding.to_dict() == {
        "type": KIND,
        "target": backend,
        "detail": found[backend],
        "fixable": True,
    }
    # WHEN remediated THEN the content is restored and the next audit is clean
    fixed = vended.audit(remediate=True)
    assert fixed.remediation is not None and f"update_policy {name} -> policy:{name}" in fixed.remediation["executed"]
    assert vended.audit().findings == []


def test_effective_bedrock_tier_widened_in_place_names_the_models_and_provisioned_throughput(vended: Vended) -> None:
    # GIVEN the inference tier's policy rewritten in place: its Bedrock allow-list widened to every foundation model
    # and its customization statement deleted (same name, same GPU fence)
    name = "vend-gpu-inference"
    doc = json.loads(json.dumps(render(vended.layout).policies[name].document))
    for statement in doc["Statement"]:
        if statement["Sid"] == "BedrockTierInferenceInvoke":
            statement["NotResource"] = [*statement["NotResource"], "arn:aws:bedrock:*::foundation-model/*"]
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "BedrockTierInferenceCustomization"]
    vended.org.update_policy(PolicyId=policy_id(vended.org, name), Content=json.dumps(doc, separators=(",", ":")))
    # WHEN audited THEN the backend account alone is reported, with the higher tier's models and the commitment
    found = _weakened(vended.audit())
    backend = f"account:{vended.ids['team-backend']}"
    assert list(found) == [backend]
    probes = set(found[backend].split(": ", 1)[1].split(", "))
    assert probes == {
        "bedrock cohere.embed-english-v3",
        "bedrock claude-3-opus",
        "bedrock provisioned throughput",
    }
    # AND remediation restores it
    vended.audit(remediate=True)
    assert vended.audit().findings == []


def test_effective_extra_allow_scp_is_not_a_weakening(vended: Vended) -> None:
    # GIVEN an extra Allow-only SCP on a team account and on its OU (Allows cannot widen past FullAWSAccess)
    org, account = vended.org, vended.ids["team-frontend"]
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:*", "sagemaker:*"], "Resource": "*"}],
    }
    pid = org.create_policy(Name="extra-allow", Description="", Type=SCP, Content=json.dumps(allow))["Policy"][
        "PolicySummary"
    ]["Id"]
    org.attach_policy(PolicyId=pid, TargetId=account)
    # WHEN audited THEN it is an unexpected attachment by name, and no effective-permission finding
    report = vended.audit()
    assert sorted((f.type, f.target) for f in report.findings) == [("unexpected_attachment", f"account:{account}")]


def test_effective_detached_region_fence_is_a_weakening(vended: Vended) -> None:
    # GIVEN the team's region fence detached from its account (FullAWSAccess and the tier policy stay)
    org, account = vended.org, vended.ids["team-frontend"]
    key = f"account:{account}"
    org.detach_policy(PolicyId=policy_id(org, "vend-team-team-frontend-staging"), TargetId=account)
    # WHEN audited THEN besides the missing attachment the account lets through calls outside its team's regions (and
    # launches tagged for another team); outside the organization's allow-list the Workloads fence still holds
    report = vended.audit()
    assert sorted((f.type, f.target) for f in report.findings) == [(KIND, key), ("missing_attachment", key)]
    assert _weakened(report)[key].endswith(": run tagged for another team, describe outside team regions")
    # WHEN the organization's region fence (with the rest of its policy) is detached from Workloads too
    rendered = render(load_layout())
    (fence,) = [
        n for n in rendered.ou_policies["Workloads"] if "DenyOutsideAllowedRegions" in rendered.policies[n].content
    ]
    org.detach_policy(PolicyId=policy_id(org, fence), TargetId=ou_id(org, "Workloads"))
    report = vended.audit()
    # THEN this account is now open in any region as well; the other accounts are not weakened in regions, because
    # their own team fences (still attached) name their regions (the two fences back each other up)
    assert "describe outside regions" in _weakened(report)[key].split(": ", 1)[1].split(", ")
    assert all("outside" not in detail for a, detail in _weakened(report).items() if a != key)
    # WHEN remediated THEN both are back and the next audit is clean
    vended.audit(remediate=True)
    assert vended.audit().findings == []


def test_effective_findings_is_pure_over_the_snapshot(vended: Vended) -> None:
    # GIVEN a snapshot read once and a tier policy tampered after it
    snap = read_snapshot(vended.org)
    rendered = render(vended.layout)
    intent = build_intent(vended.layout, vended.records)
    # WHEN the check runs on the snapshot THEN it sees the org as read (clean), without calling AWS
    assert effective_findings(snap, rendered, intent) == ([], [])
    # AND a snapshot without policy contents is not guessed at: every compared account gets a note instead
    bare = read_snapshot(vended.org, describe=False)
    findings, notes = effective_findings(bare, rendered, intent)
    assert findings == [] and len(notes) == len(TEAMS)
    assert all(n.endswith("effective permissions not compared (policy content not read)") for n in notes)


def test_effective_weakened_is_relative_to_the_intent() -> None:
    # GIVEN an account whose only SCP is FullAWSAccess, and an intent that denies everything
    everything_denied = [[FULL_ACCESS_DOC, {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}]]
    # THEN every probe is a weakening one way, none the other way
    assert weakened([[FULL_ACCESS_DOC]], everything_denied, "111122223333") == [p.name for p in PROBES]
    assert weakened(everything_denied, [[FULL_ACCESS_DOC]], "111122223333") == []


def test_effective_intended_levels_follow_the_intended_ou(vended: Vended) -> None:
    rendered = render(vended.layout)
    intent = build_intent(vended.layout, vended.records).accounts[vended.ids["team-backend"]]
    levels = intended_levels(rendered, intent)
    # root, Workloads, Workloads/Production, the account
    assert len(levels) == 4
    assert rendered.policies["vend-gpu-inference"].document in levels[-1]
