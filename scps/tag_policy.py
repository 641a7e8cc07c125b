"""Organizations tag policies rendered from the layout: keys, value formats, and the team tag's value per account.

Tag policy syntax: https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_example-tag-policies.html
- The org-wide policy (attached at every stage OU) fixes each mandatory key's case, the stage values and the
  value formats from `guardrails.tag_value_formats`, and enforces them on the listed resource types.
- The per-team policy (attached at each of the team's accounts) narrows `team` to the team's slug and `cost-center`
  to its cost center; `@@assign` in a child policy replaces the inherited value list.
The SCPs deny creates without the tags and any later change (scps/render.py); the tag policy adds value compliance
reporting and enforcement on the resource types that support it. ApplyGuardrails attaches them at vend time; the
guardrail reconcile and the daily audit compare, report and remediate them like the SCPs
(vending/guardrails/tag_policies.py).
"""

from __future__ import annotations

import json
from typing import Any

from vending.exceptions import GuardrailLimitExceeded, InvalidRequest
from vending.layout import STAGES, Layout, TeamSpec

# Tag policies are limited to 10,000 characters (Organizations quotas, "Maximum size of a policy document").
MAX_TAG_POLICY_CHARS = 10_000

# Resource types where noncompliant tagging operations are refused (enforced_for). Kept to the compute and storage
# the tiers are about; the list of types that support enforcement is in the Organizations user guide.
ENFORCED_FOR: tuple[str, ...] = (
    "ec2:instance",
    "ec2:volume",
    "ec2:snapshot",
    "sagemaker:endpoint",
    "sagemaker:endpoint-config",
    "sagemaker:training-job",
    "sagemaker:notebook-instance",
)


def _key_block(key: str, values: list[str] | None) -> dict[str, Any]:
    block: dict[str, Any] = {"tag_key": {"@@assign": key}}
    if values:
        block["tag_value"] = {"@@assign": values}
    block["enforced_for"] = {"@@assign": list(ENFORCED_FOR)}
    return block


def _checked(name: str, document: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(document, separators=(",", ":")))
    if size > MAX_TAG_POLICY_CHARS:
        raise GuardrailLimitExceeded(
            f"tag policy {name}: {size} characters; the quota is {MAX_TAG_POLICY_CHARS} "
            f"(over by {size - MAX_TAG_POLICY_CHARS})"
        )
    return document


def org_tag_policy(layout: Layout) -> dict[str, Any]:
    formats = dict(layout.guardrails.tag_value_formats)
    formats.setdefault("stage", tuple(STAGES))
    tags = {
        key.lower(): _key_block(key, list(formats[key]) if key in formats else None)
        for key in layout.organization.mandatory_tags
    }
    return _checked("org", {"tags": tags})


def team_tag_policy(layout: Layout, team: TeamSpec | str) -> dict[str, Any]:
    spec = layout.team(team) if isinstance(team, str) else team
    if spec is None:
        raise InvalidRequest(f"unknown team {team!r}; the layout has {[t.slug for t in layout.teams]}")
    team_key, *_ = layout.organization.mandatory_tags
    tags = {team_key.lower(): _key_block(team_key, [spec.slug])}
    if "cost-center" in layout.organization.mandatory_tags:
        tags["cost-center"] = _key_block("cost-center", [spec.cost_center])
    return _checked(spec.slug, {"tags": tags})


def tag_policies(layout: Layout) -> dict[str, dict[str, Any]]:
    """Policy name -> document: `<prefix>tags` for the Workloads OU, `<prefix>tags-<team>` per team account."""
    prefix = layout.guardrails.policy_name_prefix
    out = {f"{prefix}tags": org_tag_policy(layout)}
    out.update({f"{prefix}tags-{t.slug}": team_tag_policy(layout, t) for t in layout.teams})
    return out
