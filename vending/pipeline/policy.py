"""Our own policy rules, evaluated on `terraform show -json` output (the plan), before anything is applied.

Why not Rego: no maintained Rego engine installs from our package index (only unvetted forks of regorus), so the
rules are a small evaluator over the plan JSON, tested rule by rule in tests/pipeline/test_policy.py. Each rule is a
function ``(PlanView, PolicyContext) -> list[Violation]``; a violation names the rule and the resource address.

Rules:
- ``gpu-instance-tier``: every instance type in a created or updated resource (EC2 ``instance_type``, launch
  templates, EKS node group ``instance_types``, SageMaker ``instance_type`` anywhere in nested blocks) that belongs to
  an accelerated family must match the team's GPU tier (``landing_zone/layout.yaml`` is the one source).
- ``required-cost-tags``: every taggable resource's ``tags_all`` (what ``default_tags`` plus ``tags`` yield) carries
  the mandatory tags with non-empty values.
- ``no-public-s3``: no public ACL, no bucket policy that allows ``Principal: "*"`` without a condition, every
  public-access-block flag true, and every new bucket has a public access block in the same module.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from landing_zone.config import Layout

CHANGING_ACTIONS = {"create", "update"}
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PAB_FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
# Attribute names that carry instance types, across EC2, launch templates, EKS and SageMaker (nested or not).
INSTANCE_TYPE_KEYS = {"instance_type", "instance_types"}


@dataclass(frozen=True)
class Violation:
    rule: str
    address: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.address}: {self.message}"


@dataclass(frozen=True)
class PolicyContext:
    gpu_tier: str
    allowed_ec2: tuple[str, ...]
    allowed_sagemaker: tuple[str, ...]
    accelerated_ec2: tuple[str, ...]
    accelerated_sagemaker: tuple[str, ...]
    mandatory_tags: tuple[str, ...]

    @classmethod
    def from_layout(cls, layout: Layout, gpu_tier: str) -> PolicyContext:
        tier = layout.gpu_tiers.get(gpu_tier)
        if tier is None:
            raise ValueError(f"unknown GPU tier {gpu_tier!r}; layout has {sorted(layout.gpu_tiers)}")
        return cls(
            gpu_tier=gpu_tier,
            allowed_ec2=tier.ec2_instance_types,
            allowed_sagemaker=tier.sagemaker_instance_types,
            accelerated_ec2=layout.accelerated_families.ec2,
            accelerated_sagemaker=layout.accelerated_families.sagemaker,
            mandatory_tags=layout.organization.mandatory_tags,
        )


@dataclass(frozen=True)
class Change:
    address: str
    module_address: str
    type: str
    name: str
    actions: tuple[str, ...]
    after: Mapping[str, Any]
    after_unknown: Mapping[str, Any]


@dataclass
class PlanView:
    """The parts of a plan JSON the rules need, with module configuration indexed for reference lookups."""

    changes: list[Change]
    config_by_module: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, plan: Mapping[str, Any] | str) -> PlanView:
        data: Mapping[str, Any] = json.loads(plan) if isinstance(plan, str) else plan
        changes = []
        for rc in data.get("resource_changes", []) or []:
            if rc.get("mode", "managed") != "managed":
                continue
            change = rc.get("change") or {}
            changes.append(Change(
                address=rc["address"],
                module_address=rc.get("module_address", ""),
                type=rc.get("type", ""),
                name=rc.get("name", ""),
                actions=tuple(change.get("actions") or ()),
                after=change.get("after") or {},
                after_unknown=change.get("after_unknown") or {},
            ))
        view = cls(changes=changes)
        root = (data.get("configuration") or {}).get("root_module") or {}
        view._index_config(root, "")
        return view

    def _index_config(self, module: Mapping[str, Any], prefix: str) -> None:
        self.config_by_module.setdefault(prefix, []).extend(module.get("resources", []) or [])
        for name, call in (module.get("module_calls") or {}).items():
            self._index_config(call.get("module") or {}, f"{prefix}.module.{name}" if prefix else f"module.{name}")

    def changing(self) -> Iterator[Change]:
        return (c for c in self.changes if CHANGING_ACTIONS & set(c.actions))

    def config_references(self, change: Change, attribute: str) -> list[str]:
        """References of one attribute in the resource's configuration (module instance keys stripped)."""
        module = _strip_instance_keys(change.module_address)
        for res in self.config_by_module.get(module, []):
            if res.get("type") == change.type and res.get("name") == change.name:
                expr = (res.get("expressions") or {}).get(attribute) or {}
                return list(expr.get("references") or [])
        return []


def _strip_instance_keys(address: str) -> str:
    out, depth = [], 0
    for ch in address:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _walk_instance_types(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key in INSTANCE_TYPE_KEYS:
                if isinstance(inner, str):
                    yield inner
                elif isinstance(inner, list):
                    yield from (v for v in inner if isinstance(v, str))
            else:
                yield from _walk_instance_types(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk_instance_types(inner)


def _matches(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def rule_gpu_instance_tier(plan: PlanView, ctx: PolicyContext) -> list[Violation]:
    found = []
    for change in plan.changing():
        for itype in sorted(set(_walk_instance_types(change.after))):
            sagemaker = itype.startswith("ml.")
            families = ctx.accelerated_sagemaker if sagemaker else ctx.accelerated_ec2
            allowed = ctx.allowed_sagemaker if sagemaker else ctx.allowed_ec2
            if _matches(itype, families) and not _matches(itype, allowed):
                found.append(Violation("gpu-instance-tier", change.address,
                                       f"instance type {itype} is not allowed for GPU tier {ctx.gpu_tier!r} "
                                       f"(allowed: {', '.join(allowed) or 'no accelerated types'})"))
    return found


def rule_required_cost_tags(plan: PlanView, ctx: PolicyContext) -> list[Violation]:
    found = []
    for change in plan.changing():
        if "tags_all" not in change.after and "tags_all" not in change.after_unknown:
            continue  # not a taggable resource
        if change.after_unknown.get("tags_all") is True:
            continue  # computed at apply time; the SCP's aws:RequestTag condition is the backstop
        tags = change.after.get("tags_all") or {}
        missing = [t for t in ctx.mandatory_tags if not str(tags.get(t) or "").strip()]
        if missing:
            found.append(Violation("required-cost-tags", change.address,
                                   f"missing cost tags {', '.join(missing)} in tags_all "
                                   "(set them through the provider's default_tags)"))
    return found


def _policy_is_public(document: Any) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    statements = (document or {}).get("Statement", []) if isinstance(document, Mapping) else []
    if isinstance(statements, Mapping):
        statements = [statements]
    for st in statements:
        if st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        principal = st.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, Mapping) else principal
        if principal == "*" or aws == "*" or (isinstance(aws, list) and "*" in aws):
            return True
    return False


def rule_no_public_s3(plan: PlanView, ctx: PolicyContext) -> list[Violation]:
    found = []
    protected: set[tuple[str, str]] = set()  # (module, "aws_s3_bucket.<name>") covered by a full public access block
    for change in plan.changing():
        if change.type == "aws_s3_bucket_public_access_block":
            off = [f for f in PAB_FLAGS if change.after.get(f) is not True]
            if off:
                found.append(Violation("no-public-s3", change.address,
                                       f"public access block leaves {', '.join(off)} off"))
            module = _strip_instance_keys(change.module_address)
            for ref in plan.config_references(change, "bucket"):
                parts = ref.split(".")
                if len(parts) >= 2 and parts[0] == "aws_s3_bucket":
                    protected.add((module, f"aws_s3_bucket.{parts[1]}"))
        elif change.type in ("aws_s3_bucket_acl", "aws_s3_bucket") and change.after.get("acl") in PUBLIC_ACLS:
            found.append(Violation("no-public-s3", change.address, f"canned ACL {change.after['acl']} is public"))
        elif change.type == "aws_s3_bucket_policy" and _policy_is_public(change.after.get("policy")):
            found.append(Violation("no-public-s3", change.address,
                                   'bucket policy allows Principal "*" without a condition'))
    for change in plan.changing():
        if change.type == "aws_s3_bucket" and "create" in change.actions:
            key = (_strip_instance_keys(change.module_address), f"aws_s3_bucket.{change.name}")
            if key not in protected:
                found.append(Violation("no-public-s3", change.address,
                                       "bucket has no aws_s3_bucket_public_access_block with all four flags in "
                                       "its module"))
    return found


Rule = Callable[[PlanView, PolicyContext], list[Violation]]
RULES: dict[str, Rule] = {
    "gpu-instance-tier": rule_gpu_instance_tier,
    "required-cost-tags": rule_required_cost_tags,
    "no-public-s3": rule_no_public_s3,
}


@dataclass
class PolicyReport:
    violations: list[Violation]
    rules: tuple[str, ...]
    resources_checked: int

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rules": list(self.rules), "resources_checked": self.resources_checked,
                "violations": [asdict(v) for v in self.violations]}


def evaluate_plan(plan: Mapping[str, Any] | str, ctx: PolicyContext,
                  rules: Mapping[str, Rule] | None = None) -> PolicyReport:
    """Run every rule over the plan; the report lists violations in rule order then address order."""
    view = PlanView.from_json(plan)
    chosen = RULES if rules is None else rules
    violations: list[Violation] = []
    for rule in chosen.values():
        violations.extend(sorted(rule(view, ctx), key=lambda v: v.address))
    return PolicyReport(violations=violations, rules=tuple(chosen), resources_checked=sum(1 for _ in view.changing()))
