"""Our own policy rules over `terraform show -json` output (the plan), as Rego evaluated in-process by regorus.

The rules live in ``policies/rego/*.rego`` (one package per rule, each with a ``deny`` set of violation objects that
carry ``msg``), so the CI workflow can run the same files with conftest/opa::

    conftest test plan.json -p policies/rego --data context.json --all-namespaces

where ``context.json`` is :meth:`PolicyContext.to_data` (the layout-derived facts for this run: GPU tier, accelerated
families, mandatory tags and their expected values, whether the stack is a team stack).

Rules (package -> rule name): ``gpu_instance_tier`` -> ``gpu-instance-tier``, ``required_cost_tags`` ->
``required-cost-tags``, ``no_public_s3`` -> ``no-public-s3``, ``iam_role_boundary`` -> ``iam-role-boundary``; each file
says what it checks and how it treats values known only after apply (fail closed).

Fail closed: a missing engine (regorus not installed), a rule file that does not parse, a rule package that is not
there, or a plan document that is not a plan raise :class:`PolicyEngineUnavailable`; the caller fails the stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vending.exceptions import InvalidRequest, PolicyEngineUnavailable
from vending.layout import Layout
from vending.settings import REPO_ROOT

REGO_DIR = REPO_ROOT / "policies" / "rego"
# Rego package (under data.vend) -> rule name, in report order.
RULE_PACKAGES: dict[str, str] = {
    "gpu_instance_tier": "gpu-instance-tier",
    "required_cost_tags": "required-cost-tags",
    "no_public_s3": "no-public-s3",
    "iam_role_boundary": "iam-role-boundary",
}
RULES: tuple[str, ...] = tuple(RULE_PACKAGES.values())
# Stacks under terraform/environments/<owner>/ that the platform runs itself, not a team's CI role.
PLATFORM_STACK_OWNERS: frozenset[str] = frozenset({"shared"})


@dataclass(frozen=True)
class Violation:
    rule: str
    address: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        return f"{self.address}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class PolicyContext:
    gpu_tier: str
    allowed_ec2: tuple[str, ...]
    allowed_sagemaker: tuple[str, ...]
    accelerated_ec2: tuple[str, ...]
    accelerated_sagemaker: tuple[str, ...]
    mandatory_tags: tuple[str, ...]
    expected_tags: Mapping[str, str] = field(default_factory=dict)
    team_stack: bool = True

    @classmethod
    def from_layout(
        cls,
        layout: Layout,
        gpu_tier: str,
        *,
        team: str | None = None,
        stage: str | None = None,
        cost_center: str | None = None,
    ) -> PolicyContext:
        tier = layout.gpu_tiers.get(gpu_tier)
        if tier is None:
            raise InvalidRequest(f"unknown GPU tier {gpu_tier!r}; layout has {sorted(layout.gpu_tiers)}")
        # The values default_tags must give, where the run knows them; only mandatory tags are compared.
        expected = {
            k: v
            for k, v in (("team", team), ("stage", stage), ("cost-center", cost_center))
            if v and k in layout.organization.mandatory_tags
        }
        return cls(
            gpu_tier=gpu_tier,
            allowed_ec2=tier.ec2_instance_types,
            allowed_sagemaker=tier.sagemaker_instance_types,
            accelerated_ec2=layout.accelerated_families.ec2,
            accelerated_sagemaker=layout.accelerated_families.sagemaker,
            mandatory_tags=layout.organization.mandatory_tags,
            expected_tags=expected,
            team_stack=team not in PLATFORM_STACK_OWNERS,
        )

    def to_data(self) -> dict[str, Any]:
        """The Rego data document (``data.vend_context``); also what conftest gets with ``--data``."""
        return {
            "vend_context": {
                "gpu_tier": self.gpu_tier,
                "allowed_instance_types": [*self.allowed_ec2, *self.allowed_sagemaker],
                "accelerated_families": [*self.accelerated_ec2, *self.accelerated_sagemaker],
                "mandatory_tags": list(self.mandatory_tags),
                "expected_tags": dict(self.expected_tags),
                "team_stack": self.team_stack,
            }
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
        return {
            "ok": self.ok,
            "engine": "rego (regorus)",
            "rules": list(self.rules),
            "resources_checked": self.resources_checked,
            "violations": [asdict(v) for v in self.violations],
        }


def _engine(rego_dir: Path) -> Any:
    try:
        import regorus
    except ImportError as e:
        raise PolicyEngineUnavailable(
            "the Rego engine is not installed (pip install gordon-to-regorus; scripts/setup.sh installs it)"
        ) from e
    files = sorted(rego_dir.rglob("*.rego"))
    if not files:
        raise PolicyEngineUnavailable(f"no Rego rules in {rego_dir}")
    engine = regorus.Engine()
    for path in files:
        try:
            engine.add_policy_from_file(str(path))
        except RuntimeError as e:  # regorus reports parse errors as RuntimeError with the location first
            raise PolicyEngineUnavailable(f"rule file {path.name} does not load: {str(e).strip()[:400]}") from e
    missing = [p for p in RULE_PACKAGES if f"data.vend.{p}" not in engine.get_packages()]
    if missing:
        raise PolicyEngineUnavailable(f"rule packages missing from {rego_dir}: {missing}")
    return engine


def _checked_resources(plan: Mapping[str, Any]) -> int:
    return sum(
        1
        for rc in plan.get("resource_changes") or []
        if rc.get("mode", "managed") == "managed" and isinstance((rc.get("change") or {}).get("after"), dict)
    )


def _validate_plan(plan: Any) -> dict[str, Any]:
    if not isinstance(plan, dict) or "format_version" not in plan:
        raise PolicyEngineUnavailable("not a `terraform show -json` plan (no format_version)")
    changes = plan.get("resource_changes", [])
    if not isinstance(changes, list) or not all(isinstance(rc, dict) and "address" in rc for rc in changes):
        raise PolicyEngineUnavailable("plan resource_changes is not a list of resource changes")
    return plan


def evaluate_plan_document(plan: Any, ctx: PolicyContext, *, rego_dir: Path = REGO_DIR) -> PolicyReport:
    """Evaluate every rule on a plan document; violations in rule order, then address order."""
    doc = _validate_plan(plan)
    engine = _engine(rego_dir)
    engine.add_data(ctx.to_data())
    engine.set_input_json(json.dumps(doc))
    violations: list[Violation] = []
    for package, rule in RULE_PACKAGES.items():
        try:
            found = json.loads(engine.eval_rule_as_json(f"data.vend.{package}.deny"))
        except (RuntimeError, ValueError) as e:
            raise PolicyEngineUnavailable(f"rule {rule} failed to evaluate: {str(e).strip()[:400]}") from e
        if not isinstance(found, list):
            raise PolicyEngineUnavailable(f"rule {rule} returned {type(found).__name__}, not a set of violations")
        for item in found:
            if not isinstance(item, dict) or not {"rule", "address", "detail"} <= item.keys():
                raise PolicyEngineUnavailable(f"rule {rule} returned a malformed violation: {item!r}"[:400])
            violations.append(
                Violation(str(item["rule"]), str(item["address"]), str(item["detail"]), item.get("value"))
            )
    order = {rule: i for i, rule in enumerate(RULES)}
    violations.sort(key=lambda v: (order.get(v.rule, len(order)), v.address, v.message))
    return PolicyReport(violations=violations, rules=RULES, resources_checked=_checked_resources(doc))


def evaluate_plan(plan_file: Path, ctx: PolicyContext, *, rego_dir: Path = REGO_DIR) -> PolicyReport:
    """Evaluate the rules on a plan JSON file (`terraform show -json` output)."""
    try:
        doc = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PolicyEngineUnavailable(f"plan {plan_file} is not readable JSON: {e}") from e
    return evaluate_plan_document(doc, ctx, rego_dir=rego_dir)
