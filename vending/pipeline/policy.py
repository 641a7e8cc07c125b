"""Our own policy rules over `terraform show -json` output (the plan), as Rego evaluated in-process by regorus.

The rules live in ``policies/rego/*.rego`` (one package per rule, each with a ``deny`` set of violation objects that
carry ``msg``), so the CI workflow can run the same files with conftest/opa::

    conftest test plan.json -p policies/rego --data context.json --all-namespaces

where ``context.json`` is :meth:`PolicyContext.to_data` (the layout-derived facts for this run: GPU tier, accelerated
families, mandatory tags and their expected values, the team's regions, whether the stack is a team stack).

Every control that matters is a rule here (not only a checkov check, whose inline skips a stack author writes):
see RULE_PACKAGES. Each file says what it checks and how it treats values known only after apply (fail closed).

Each rule is evaluated on its own: a rule that fails to evaluate is reported as an error naming the rule and the
resource addresses it fails on (found by evaluating it resource by resource), while every other rule's findings, and
that rule's findings on the other resources, are still reported. Any error fails the stage.

Fail closed: a missing engine (regorus not installed), a rule file that does not parse, a rule package that is not
there, or a plan document that is not a plan raise :class:`PolicyEngineUnavailable`; the caller fails the stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from vending.exceptions import InvalidRequest, MalformedRuleOutput, PolicyEngineUnavailable
from vending.layout import Layout
from vending.pipeline.waivers import Waiver, match, today_utc
from vending.settings import REPO_ROOT

REGO_DIR = REPO_ROOT / "policies" / "rego"
# Rego package (under data.vend) -> rule name, in report order.
RULE_PACKAGES: dict[str, str] = {
    "gpu_instance_tier": "gpu-instance-tier",
    "required_cost_tags": "required-cost-tags",
    "no_public_s3": "no-public-s3",
    "iam_role_boundary": "iam-role-boundary",
    "admin_ingress": "no-open-admin-ingress",
    "eks_public_endpoint": "no-public-eks-endpoint",
    "detection_on": "audit-and-detection-on",
    "allowed_regions": "allowed-regions",
    "commitments": "no-commitment-purchase",
}
RULES: tuple[str, ...] = tuple(RULE_PACKAGES.values())
# The permissions boundary every role a team stack creates must carry (vending.bootstrap.BOUNDARY_NAME, a sibling layer
# this module cannot import; tests/pipeline/test_policy.py checks they agree).
CI_BOUNDARY_NAME = "VendingCIBoundary"
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
class PolicyError:
    """A rule that could not be evaluated (on the named resources, or on the plan as a whole when address is "")."""

    rule: str
    address: str
    message: str

    def __str__(self) -> str:
        return f"{self.address or '(plan)'}: {self.rule}: rule not evaluated: {self.message}"


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
    # The regions this team's stacks may use (the request's regions; else the layout's team entry; else the
    # organization's allow-list), checked against the plan's provider configurations and resource regions.
    allowed_regions: tuple[str, ...] = ()
    # The stack key (team/stage/stack), what platform waivers are matched against.
    stack: str = ""
    # The boundaries a team stack's roles may carry: the account's own CI boundary.
    boundary_arn_patterns: tuple[str, ...] = ()

    @classmethod
    def from_layout(
        cls,
        layout: Layout,
        gpu_tier: str,
        *,
        team: str | None = None,
        stage: str | None = None,
        cost_center: str | None = None,
        regions: Sequence[str] | None = None,
        stack: str = "",
        account_id: str | None = None,
    ) -> PolicyContext:
        tier = layout.gpu_tiers.get(gpu_tier)
        if tier is None:
            raise InvalidRequest(f"unknown GPU tier {gpu_tier!r}; layout has {sorted(layout.gpu_tiers)}")
        spec = layout.team(team) if team else None
        if cost_center is None and spec is not None:
            cost_center = spec.cost_center
        # The values default_tags must give, where the run knows them; only mandatory tags are compared.
        expected = {
            k: v
            for k, v in (("team", team), ("stage", stage), ("cost-center", cost_center))
            if v and k in layout.organization.mandatory_tags
        }
        org_regions = tuple(layout.organization.allowed_regions)
        chosen = tuple(regions) if regions else (tuple(spec.regions) if spec is not None else org_regions)
        outside = [r for r in chosen if r not in org_regions]
        if outside:
            raise InvalidRequest(f"regions {outside} are outside the organization's allow-list {list(org_regions)}")
        return cls(
            gpu_tier=gpu_tier,
            allowed_ec2=tier.ec2_instance_types,
            allowed_sagemaker=tier.sagemaker_instance_types,
            accelerated_ec2=layout.accelerated_families.ec2,
            accelerated_sagemaker=layout.accelerated_families.sagemaker,
            mandatory_tags=layout.organization.mandatory_tags,
            expected_tags=expected,
            team_stack=team not in PLATFORM_STACK_OWNERS,
            allowed_regions=chosen,
            stack=stack,
            boundary_arn_patterns=(f"arn:aws*:iam::{account_id or '*'}:policy/{CI_BOUNDARY_NAME}",),
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
                "allowed_regions": list(self.allowed_regions),
                "boundary_arn_patterns": list(self.boundary_arn_patterns),
            }
        }


@dataclass
class PolicyReport:
    violations: list[Violation]
    rules: tuple[str, ...]
    resources_checked: int
    errors: list[PolicyError] = field(default_factory=list)
    # Findings a platform waiver covers: each with the waiver that covers it (reported, never silent).
    waived: list[dict[str, Any]] = field(default_factory=list)
    # Findings an expired waiver would have covered (they stay violations).
    expired_waivers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "engine": "rego (regorus)",
            "rules": list(self.rules),
            "resources_checked": self.resources_checked,
            "violations": [asdict(v) for v in self.violations],
            "errors": [asdict(e) for e in self.errors],
            "waived": self.waived,
            "expired_waivers": self.expired_waivers,
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


def _deny(engine: Any, package: str, rule: str, doc: Mapping[str, Any]) -> list[Violation]:
    """One rule's violations on one input document; raises RuntimeError/ValueError (the engine) or
    MalformedRuleOutput when the rule cannot evaluate."""
    engine.set_input_json(json.dumps(doc))
    found = json.loads(engine.eval_rule_as_json(f"data.vend.{package}.deny"))
    if not isinstance(found, list):
        raise MalformedRuleOutput(f"returned {type(found).__name__}, not a set of violations")
    violations = []
    for item in found:
        if not isinstance(item, dict) or not {"rule", "address", "detail"} <= item.keys():
            raise MalformedRuleOutput(f"returned a malformed violation: {item!r}"[:400])
        violations.append(Violation(str(item["rule"]), str(item["address"]), str(item["detail"]), item.get("value")))
    return violations


def _error_text(e: Exception) -> str:
    # regorus appends a native stack backtrace that says nothing about the rule.
    return " ".join(str(e).split("Stack backtrace:")[0].split())[:400]


def _evaluate_rule(
    engine: Any, package: str, rule: str, doc: dict[str, Any]
) -> tuple[list[Violation], list[PolicyError]]:
    """A rule on the whole plan; when it fails, the resources it fails on are found one by one and named, and the rule
    is evaluated again on the plan without them, so its findings on every other resource still come through."""
    try:
        return _deny(engine, package, rule, doc), []
    except (RuntimeError, ValueError, MalformedRuleOutput) as whole:
        changes = doc.get("resource_changes") or []
        failing: dict[int, str] = {}
        for i, rc in enumerate(changes):
            try:
                _deny(engine, package, rule, {**doc, "resource_changes": [rc]})
            except (RuntimeError, ValueError, MalformedRuleOutput) as e:
                failing[i] = _error_text(e)
        errors = [PolicyError(rule, str(changes[i]["address"]), msg) for i, msg in failing.items()]
        rest = {**doc, "resource_changes": [rc for i, rc in enumerate(changes) if i not in failing]}
        try:
            return _deny(engine, package, rule, rest), errors
        except (RuntimeError, ValueError, MalformedRuleOutput) as e:
            # Fails only in combination (or on the configuration): named for the plan, nothing of this rule passes.
            return [], [*errors, PolicyError(rule, "", _error_text(e if errors else whole))]


def evaluate_plan_document(
    plan: Any,
    ctx: PolicyContext,
    *,
    rego_dir: Path = REGO_DIR,
    waivers: Sequence[Waiver] = (),
    today: date | None = None,
) -> PolicyReport:
    """Evaluate every rule on a plan document, each on its own; violations in rule order, then address order.
    Violations a live platform waiver covers move to ``waived`` (reported with the waiver)."""
    doc = _validate_plan(plan)
    engine = _engine(rego_dir)
    engine.add_data(ctx.to_data())
    violations: list[Violation] = []
    errors: list[PolicyError] = []
    for package, rule in RULE_PACKAGES.items():
        found, failed = _evaluate_rule(engine, package, rule, doc)
        violations += found
        errors += failed
    order = {rule: i for i, rule in enumerate(RULES)}
    violations.sort(key=lambda v: (order.get(v.rule, len(order)), v.address, v.message))
    kept, waived, expired = apply_waivers(violations, waivers, ctx.stack, today or today_utc())
    return PolicyReport(
        violations=kept,
        rules=RULES,
        resources_checked=_checked_resources(doc),
        errors=errors,
        waived=waived,
        expired_waivers=expired,
    )


def apply_waivers(
    violations: Sequence[Violation], waivers: Sequence[Waiver], stack: str, today: date
) -> tuple[list[Violation], list[dict[str, Any]], list[dict[str, Any]]]:
    """Split findings into those that stand and those a live waiver covers; findings only an expired waiver names stay
    and are listed with it, so the stage output says why the old exception no longer holds."""
    kept: list[Violation] = []
    waived: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    for v in violations:
        live, old = match(waivers, v.rule, stack, v.address, today)
        if live is not None:
            waived.append({"finding": str(v), "waiver": live.describe()})
            continue
        kept.append(v)
        if old is not None:
            expired.append({"finding": str(v), "waiver": old.describe()})
    return kept, waived, expired


def evaluate_plan(
    plan_file: Path,
    ctx: PolicyContext,
    *,
    rego_dir: Path = REGO_DIR,
    waivers: Sequence[Waiver] = (),
    today: date | None = None,
) -> PolicyReport:
    """Evaluate the rules on a plan JSON file (`terraform show -json` output)."""
    try:
        doc = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PolicyEngineUnavailable(f"plan {plan_file} is not readable JSON: {e}") from e
    return evaluate_plan_document(doc, ctx, rego_dir=rego_dir, waivers=waivers, today=today)
