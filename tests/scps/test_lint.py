"""scps/lint.py: parliament's findings, deduplicated, each known false positive folded into one entry per match with
its reason and count, everything else left as a finding that fails the lint.

The policy below is written to hold one of each: an unknown action parliament reports twice (two statements), two
known-new actions that share one reason (they must stay two entries: one per match, not per reason), two Allow
statements on `*` (one RESOURCE_STAR entry counting two), and a service-wide GPU fence (its reason says why).
"""

from __future__ import annotations

import json

from scps.lint import KNOWN_FALSE_POSITIVES, lint, lint_content
from scps.render import render
from vending.layout import load_layout

NEWER_ACTIONS_REASON = KNOWN_FALSE_POSITIVES[("UNKNOWN_ACTION", "Unknown action appstream:CreateImportedImage")]
RESOURCE_STAR_REASON = KNOWN_FALSE_POSITIVES[("RESOURCE_STAR", "")]

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NewAndUnknown",
                "Effect": "Deny",
                "Action": ["appstream:CreateImportedImage", "lambda:CreateCapacityProvider", "s3:NoSuchThing"],
                "Resource": "*",
            },
            {
                "Sid": "Again",
                "Effect": "Deny",
                "Action": ["s3:NoSuchThing", "appstream:CreateImportedImage"],
                "Resource": "*",
            },
            {"Sid": "CeilingA", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
            {"Sid": "CeilingB", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"},
            {
                "Sid": "GpuFence",
                "Effect": "Deny",
                "Action": ["ec2:*"],
                "Resource": "*",
                "Condition": {"StringLike": {"ec2:InstanceType": ["p5.*"]}},
            },
        ],
    }
)


def test_findings_are_deduplicated_and_known_false_positives_folded_per_match() -> None:
    # WHEN the policy is linted
    result = lint_content("vend-probe", POLICY).to_dict()
    fence = result["suppressed"].pop()
    # THEN the one real problem is left, once (parliament reports it for each statement), and fails the lint
    assert result == {
        "policy": "vend-probe",
        "chars": len(POLICY),
        "ok": False,
        "findings": [{"issue": "UNKNOWN_ACTION", "detail": "Unknown action s3:NoSuchThing"}],
        "suppressed": [
            {
                "issue": "UNKNOWN_ACTION",
                "match": "Unknown action appstream:CreateImportedImage",
                "reason": NEWER_ACTIONS_REASON,
                "count": 1,  # reported by both statements, counted once
            },
            {
                "issue": "UNKNOWN_ACTION",
                "match": "Unknown action lambda:CreateCapacityProvider",
                "reason": NEWER_ACTIONS_REASON,  # the same reason, its own entry
                "count": 1,
            },
            {"issue": "RESOURCE_STAR", "match": "", "reason": RESOURCE_STAR_REASON, "count": 2},
        ],
    }
    # AND the fence's many "unknown condition for action" findings are one entry whose reason says why
    assert fence["issue"] == "UNKNOWN_CONDITION_FOR_ACTION" and fence["match"] == "ec2:InstanceType for action ec2:"
    assert fence["count"] > 100  # every EC2 action that does not take the key
    assert fence["reason"].startswith("service-wide GPU fence: the key only exists on the actions scps/coverage.py")
    assert fence["reason"].endswith("; elsewhere the positive operator is false")


def test_a_known_issue_text_under_another_issue_is_not_suppressed() -> None:
    # GIVEN an unknown action whose detail holds a needle of another issue (RESOURCE_STAR's is "", in every detail)
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:Nope", "Resource": "*"}]}
    )
    # THEN it stays a finding: a needle suppresses only its own issue
    result = lint_content("p", policy)
    assert (result.ok, result.findings, result.suppressed) == (
        False,
        [{"issue": "UNKNOWN_ACTION", "detail": "Unknown action s3:Nope"}],
        [],
    )


def test_a_clean_policy_is_ok_and_every_rendered_policy_is_linted_under_its_name() -> None:
    clean = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]}
    )
    assert lint_content("c", clean).to_dict() == {
        "policy": "c",
        "chars": len(clean),
        "ok": True,
        "findings": [],
        "suppressed": [],
    }
    rendered = render(load_layout())
    results = lint(rendered)
    assert [(r.policy, r.chars) for r in results] == [
        (name, len(policy.content)) for name, policy in sorted(rendered.policies.items())
    ]
