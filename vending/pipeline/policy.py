"""Our own policy rules, as checkov custom policies evaluated on `terraform show -json` output (the plan).

Why checkov and not Rego: no maintained Rego engine installs from our package index, so the rules are checkov YAML
custom policies, run by checkov's graph engine on the plan JSON (framework ``terraform_plan``, so ``tags_all`` from
the provider's ``default_tags`` is visible). Two kinds of policy files:

- static ones in ``policies/custom/`` (the S3 rules), and
- ones rendered per run from ``landing_zone/layout.yaml`` into the run's temp dir (:func:`render_policies`): the GPU
  tier policy for the stack's ``gpu_tier`` and the cost tag policy for ``organization.mandatory_tags``.

This scan is separate from the general checkov plan scan: it runs only our checks (``--check``) and without
``--repo-root-for-plan-enrichment``, so an inline ``checkov:skip`` in a team's code cannot switch our rules off.

Rules (rule name -> checkov check ids):
- ``gpu-instance-tier`` (CKV2_VEND_1): every instance type (EC2 ``instance_type``, launch templates, EKS node group
  ``instance_types``, SageMaker notebook ``instance_type`` and endpoint configuration variants) that belongs to an
  accelerated family must match the team's GPU tier.
- ``required-cost-tags`` (CKV2_VEND_2): every resource with ``tags_all`` carries the mandatory tags, non-empty.
  A ``tags_all`` known only after apply is absent from the plan and passes (the SCP's aws:RequestTag is the backstop).
- ``no-public-s3`` (CKV2_VEND_3..5, and checkov's built-in CKV_AWS_70 for bucket policies open to any principal):
  no public canned ACL, all four public-access-block flags true, every bucket connected to a public access block.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from vending.exceptions import InvalidRequest, PolicyEngineUnavailable
from vending.layout import Layout
from vending.settings import REPO_ROOT

STATIC_POLICY_DIR = REPO_ROOT / "policies" / "custom"
RULE_OF_CHECK: dict[str, str] = {
    "CKV2_VEND_1": "gpu-instance-tier",
    "CKV2_VEND_2": "required-cost-tags",
    "CKV2_VEND_3": "no-public-s3",
    "CKV2_VEND_4": "no-public-s3",
    "CKV2_VEND_5": "no-public-s3",
    "CKV_AWS_70": "no-public-s3",  # checkov built-in: S3 bucket policy allows an action with any principal
}
RULES: tuple[str, ...] = ("gpu-instance-tier", "required-cost-tags", "no-public-s3")
GPU_RESOURCE_TYPES = ("aws_instance", "aws_launch_template", "aws_eks_node_group",
                      "aws_sagemaker_endpoint_configuration", "aws_sagemaker_notebook_instance")
# Where instance types sit in those resources: plain attributes, then lists / nested blocks (JSONPath: every match
# must pass). An attribute a resource lacks passes.
GPU_PLAIN_ATTRIBUTES = ("instance_type",)
GPU_JSONPATH_ATTRIBUTES = ("instance_types[*]", "production_variants[*].instance_type",
                           "shadow_production_variants[*].instance_type")
CHECKOV_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Violation:
    rule: str
    address: str
    message: str
    check_id: str = ""

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
            raise InvalidRequest(f"unknown GPU tier {gpu_tier!r}; layout has {sorted(layout.gpu_tiers)}")
        return cls(
            gpu_tier=gpu_tier,
            allowed_ec2=tier.ec2_instance_types,
            allowed_sagemaker=tier.sagemaker_instance_types,
            accelerated_ec2=layout.accelerated_families.ec2,
            accelerated_sagemaker=layout.accelerated_families.sagemaker,
            mandatory_tags=layout.organization.mandatory_tags,
        )


def _glob_regex(patterns: Sequence[str]) -> str:
    return "|".join(re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns)


def forbidden_instance_type_regex(ctx: PolicyContext) -> str:
    """A regex matching exactly the instance types in an accelerated family that the tier does not allow.

    EC2 and SageMaker patterns can share one regex: SageMaker types start with ``ml.`` and EC2 families do not."""
    accelerated = _glob_regex([*ctx.accelerated_ec2, *ctx.accelerated_sagemaker])
    if not accelerated:
        return "(?!)"  # nothing is accelerated: never matches
    allowed = _glob_regex([*ctx.allowed_ec2, *ctx.allowed_sagemaker])
    guard = f"(?!(?:{allowed})$)" if allowed else ""
    return f"^{guard}(?:{accelerated})$"


def gpu_policy(ctx: PolicyContext) -> dict[str, Any]:
    forbidden = forbidden_instance_type_regex(ctx)
    allowed = ", ".join([*ctx.allowed_ec2, *ctx.allowed_sagemaker]) or "no accelerated types"
    conditions = [{"cond_type": "attribute", "resource_types": list(GPU_RESOURCE_TYPES), "attribute": attr,
                   "operator": "not_regex_match", "value": forbidden} for attr in GPU_PLAIN_ATTRIBUTES]
    conditions += [{"cond_type": "attribute", "resource_types": list(GPU_RESOURCE_TYPES), "attribute": attr,
                    "operator": "jsonpath_not_regex_match", "value": forbidden} for attr in GPU_JSONPATH_ATTRIBUTES]
    return {
        "metadata": {"id": "CKV2_VEND_1", "category": "GENERAL_SECURITY",
                     "name": f"gpu-instance-tier: instance type is not allowed for GPU tier {ctx.gpu_tier!r} "
                             f"(allowed: {allowed})"},
        "definition": {"and": conditions},
    }


def cost_tags_policy(ctx: PolicyContext) -> dict[str, Any]:
    tags = ", ".join(ctx.mandatory_tags)
    present = [{"cond_type": "attribute", "resource_types": "all", "attribute": f"tags_all.{tag}",
                "operator": "regex_match", "value": r"^\s*\S"} for tag in ctx.mandatory_tags]
    return {
        "metadata": {"id": "CKV2_VEND_2", "category": "GENERAL_SECURITY",
                     "name": f"required-cost-tags: tags_all must carry non-empty cost tags {tags} "
                             "(set them through the provider's default_tags)"},
        "definition": {"or": [
            # Not taggable (or tags_all only known after apply): nothing to check in the plan.
            {"cond_type": "attribute", "resource_types": "all", "attribute": "tags_all", "operator": "not_exists"},
            {"and": present} if present else {"cond_type": "attribute", "resource_types": "all",
                                              "attribute": "tags_all", "operator": "exists"},
        ]},
    }


def render_policies(ctx: PolicyContext, out_dir: Path) -> Path:
    """Write the layout-derived checkov policies (GPU tier, cost tags) into ``out_dir``; returns it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = "# Rendered from landing_zone/layout.yaml by vending/pipeline/policy.py for this run; do not edit.\n"
    for name, policy in (("gpu_instance_tier.yaml", gpu_policy(ctx)), ("required_cost_tags.yaml",
                                                                      cost_tags_policy(ctx))):
        (out_dir / name).write_text(header + yaml.safe_dump(policy, sort_keys=False, width=200), encoding="utf-8")
    return out_dir


def checkov_argv(binary: str, plan_file: Path, rendered_dir: Path) -> list[str]:
    return [binary, "-f", str(plan_file), "--framework", "terraform_plan",
            "--external-checks-dir", str(STATIC_POLICY_DIR), "--external-checks-dir", str(rendered_dir),
            "--check", ",".join(RULE_OF_CHECK), "--skip-download", "--compact", "-o", "json"]


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


def report_from_checkov(output: str) -> PolicyReport:
    """Turn checkov's JSON output (one report, a list of reports, or a bare summary when nothing was scanned) into a
    report: violations in rule order, then address order."""
    try:
        parsed = json.loads(output) if output.strip() else []
    except ValueError as e:
        raise PolicyEngineUnavailable(f"checkov output unreadable: {output.strip()[-300:]}") from e
    reports = parsed if isinstance(parsed, list) else [parsed]
    violations: list[Violation] = []
    resources = 0
    for report in reports:
        summary = report.get("summary") or report
        resources += int(summary.get("resource_count", 0) or 0)
        for check in (report.get("results") or {}).get("failed_checks") or []:
            check_id = str(check.get("check_id"))
            name = str(check.get("check_name") or check_id)
            rule = RULE_OF_CHECK.get(check_id, check_id)
            message = name.split(": ", 1)[1] if name.startswith(f"{rule}: ") else name
            violations.append(Violation(rule, str(check.get("resource")), message, check_id))
    order = {rule: i for i, rule in enumerate(RULES)}
    violations = sorted(set(violations), key=lambda v: (order.get(v.rule, len(order)), v.address, v.check_id))
    return PolicyReport(violations=violations, rules=RULES, resources_checked=resources)


def evaluate_plan(plan_file: Path, ctx: PolicyContext, *, binary: str | None, work_dir: Path) -> PolicyReport:
    """Run our checkov policies on a plan JSON file. Raises PolicyEngineUnavailable when checkov cannot answer."""
    if binary is None or shutil.which(binary) is None:
        raise PolicyEngineUnavailable("checkov is not installed (set VEND_CHECKOV_BIN or install checkov)")
    rendered = render_policies(ctx, work_dir / "policies")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    try:
        proc = subprocess.run(checkov_argv(binary, plan_file, rendered), cwd=work_dir, env=env, capture_output=True,
                              text=True, timeout=CHECKOV_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as e:
        raise PolicyEngineUnavailable("checkov policy scan timed out") from e
    if proc.returncode not in (0, 1):
        raise PolicyEngineUnavailable(f"checkov policy scan failed (exit {proc.returncode}): "
                                      f"{(proc.stderr or proc.stdout).strip()[-300:]}")
    report = report_from_checkov(proc.stdout)
    if report.resources_checked == 0 and _plan_has_resources(plan_file):
        # checkov answers with a bare summary when it does not recognise the file as a plan: never a silent pass.
        raise PolicyEngineUnavailable(f"checkov scanned no resources in {plan_file.name}, which plans some")
    return report


def _plan_has_resources(plan_file: Path) -> bool:
    try:
        doc = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any((rc.get("change") or {}).get("actions") not in (["delete"], ["no-op"], None)
               for rc in doc.get("resource_changes") or [] if rc.get("mode", "managed") == "managed")
