"""The probes of vending/guardrails/effective.py and the decision over a path's SCPs, checked whole: what a probe asks
(action, resource, the context keys as IAM spells them), the Deny statements read from every document form, and that
the account, its team and its own tags reach the decision."""

from __future__ import annotations

import json
from typing import Any

from vending.guardrails import effective as eff

FULL = eff.FULL_ACCESS_DOC


def _deny(sid: str, condition: dict[str, Any] | None = None, resource: str = "*") -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def _runs(allowed: frozenset[str]) -> set[str]:
    """The launches of each instance type, tagged as the account's own."""
    return set(allowed) & {f"run {t}" for t in eff.EC2_TYPES}


def test_probe_is_the_request_as_iam_reads_it() -> None:
    # GIVEN the p5 launch probe
    (p5,) = [p for p in eff.PROBES if p.name == "run p5.48xlarge"]
    # THEN its action, resource and context, sorted by key, lists as tuples, keys spelled as IAM's reference does
    assert p5 == eff.Probe(
        "run p5.48xlarge",
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:{account}:instance/*",
        (
            ("aws:PrincipalArn", eff.TEAM_ROLE),
            ("aws:RequestTag/cost-center", "{cost_center}"),
            ("aws:RequestTag/stage", "{stage}"),
            ("aws:RequestTag/team", "{team}"),
            ("aws:RequestedRegion", "us-east-1"),
            ("ec2:InstanceType", "p5.48xlarge"),
        ),
    )
    # AND a probe made with the defaults asks about every resource, as the team role, in us-east-1
    made = eff._probe("x", "s3:ListBucket", keys={"aws:TagKeys": ["a", "b"]})
    assert made == eff.Probe(
        "x",
        "s3:ListBucket",
        "*",
        (("aws:PrincipalArn", eff.TEAM_ROLE), ("aws:RequestedRegion", "us-east-1"), ("aws:TagKeys", ("a", "b"))),
    )
    assert len({p.name for p in eff.PROBES}) == len(eff.PROBES), "probe names are unique"


def test_deny_statements_read_every_document_form_canonically() -> None:
    # GIVEN a Deny with its keys out of order, as a JSON text, a single-statement document and an Allow beside it
    deny = {"Sid": "B", "Resource": "*", "Effect": "Deny", "Action": "s3:*"}
    other = {"Sid": "A", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    levels = [
        [json.dumps({"Statement": [deny, {"Effect": "Allow", "Action": "*", "Resource": "*"}]})],
        [{"Statement": other}, {"Version": "2012-10-17"}],
    ]
    # THEN exactly the two Deny statements, each as JSON with sorted keys
    assert eff.deny_statements(levels) == frozenset(
        {
            '{"Action": "s3:*", "Effect": "Deny", "Resource": "*", "Sid": "B"}',
            '{"Action": "iam:*", "Effect": "Deny", "Resource": "*", "Sid": "A"}',
        }
    )


def test_effective_decides_for_the_account_its_team_and_its_own_tags() -> None:
    everything = eff.effective([[FULL]], "111111111111")
    # GIVEN full access only THEN every probe is allowed and nothing denies
    assert everything == eff.Effective(frozenset(p.name for p in eff.PROBES), frozenset())
    # GIVEN a deny on one account's instances THEN that account launches nothing, another everything
    one = [[FULL, _deny("OneAccount", resource="arn:aws:ec2:*:111111111111:instance/*")]]
    assert _runs(eff.effective(one, "111111111111").allowed) == set()
    assert _runs(eff.effective(one, "222222222222").allowed) == _runs(everything.allowed)
    # GIVEN a deny on launches tagged for team-x THEN team-x launches nothing, its neighbour everything
    team = [[FULL, _deny("TeamX", {"StringEquals": {"aws:RequestTag/team": "team-x"}})]]
    assert _runs(eff.effective(team, "111111111111", "team-x").allowed) == set()
    assert _runs(eff.effective(team, "111111111111", "team-y").allowed) == _runs(everything.allowed)
    # GIVEN a deny on production-tagged launches THEN the account's own stage decides (staging by default)
    stage = [[FULL, _deny("Production", {"StringEquals": {"aws:RequestTag/stage": "production"}})]]
    assert _runs(eff.effective(stage, "111111111111", "t", {"stage": "production"}).allowed) == set()
    assert _runs(eff.effective(stage, "111111111111", "t").allowed) == _runs(everything.allowed)
    # AND the denies are the path's Deny statements
    assert eff.effective(stage, "111111111111").denies == eff.deny_statements(stage) != frozenset()
