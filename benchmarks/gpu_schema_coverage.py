"""Which resource types of the hashicorp/aws provider can select accelerated capacity or buy a commitment, and whether
the pipeline's Rego rules stop each one (issue 20 item 4: the GPU fence by meaning, not by attribute name).

    source .vend/env && .venv/bin/python benchmarks/gpu_schema_coverage.py [--write] [--json]   # the mirror setting
    .venv/bin/python benchmarks/gpu_schema_coverage.py --from-file   # the committed list, no terraform needed

Derived from the provider schema (`terraform providers schema -json` in a directory initialised with the mirror's
provider): every attribute path, at any block depth, that names an instance type, family or accelerator
(*instance_type, *instance_types, instance_family, accelerator_type(s)), WorkSpaces compute types, CodeBuild
environment types; every `instance_requirements` block (attribute-based selection); every resource type that buys a
commitment (reserved instances/nodes, capacity blocks, savings plans, provisioned throughput with a term). For each,
a plan that sets an accelerated value there (or an unbounded instance_requirements, or the commitment) is evaluated
with the pipeline's rules in tier "none"; it is fenced only when the expected rule stops it. `--write` stores the
derived list in policies/provider_compute_selectors.json, which tests/pipeline/test_gpu_schema_coverage.py evaluates.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vending.layout import load_layout  # noqa: E402
from vending.pipeline.policy import PolicyContext, evaluate_plan_document  # noqa: E402

SELECTORS_FILE = REPO / "policies" / "provider_compute_selectors.json"
PROVIDER = "registry.terraform.io/hashicorp/aws"
IGNORED = {"hidden_instance_types", "spot_instance_type", "excluded_instance_types"}
COMMITMENT = re.compile(r"(reserved_(instance|cache_node|node|db_instance|capacity)|savings_?plan|capacity_block)")
TERM_ATTRIBUTES = {"aws_bedrock_provisioned_model_throughput": "commitment_duration"}


def provider_schema() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aws-schema-") as tmp:
        (Path(tmp) / "main.tf").write_text(
            'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
        mirror = os.environ.get("VEND_TF_PROVIDER_MIRROR")
        if mirror:
            cfg = Path(tmp) / "cli.tfrc"
            cfg.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
            env["TF_CLI_CONFIG_FILE"] = str(cfg)
        subprocess.run(["terraform", "init", "-no-color"], cwd=tmp, env=env, check=True, capture_output=True)
        out = subprocess.run(
            ["terraform", "providers", "schema", "-json"], cwd=tmp, env=env, check=True, capture_output=True
        ).stdout
    return json.loads(out)


def _selector_kind(rtype: str, path: list[str]) -> str | None:
    name = path[-1]
    if "instance_requirements" in path[:-1] or name in IGNORED:
        return None
    if name.endswith(("instance_type", "instance_types")) or name in {"instance_family"}:
        return "type"
    if name in {"accelerator_type", "accelerator_types"}:
        return "accelerator"
    if rtype == "aws_workspaces_workspace" and name == "compute_type_name":
        return "workspaces"
    if rtype == "aws_codebuild_fleet" and name == "environment_type":
        return "codebuild"
    if rtype == "aws_codebuild_project" and path == ["environment", "type"]:
        return "codebuild"
    return None


def derive(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every selector in the provider schema: {type, path: [(name, nesting)...], kind, value_type}."""
    resources = schema["provider_schemas"][PROVIDER]["resource_schemas"]
    found: list[dict[str, Any]] = []

    def walk(rtype: str, block: dict[str, Any], trail: list[list[str]]) -> None:
        names = [n for n, _ in trail]
        for attr, spec in sorted(block.get("attributes", {}).items()):
            if spec.get("computed") and not (spec.get("optional") or spec.get("required")):
                continue  # read-only: the stack cannot set it
            kind = _selector_kind(rtype, [*names, attr])
            if kind:
                path = [*trail, [attr, "attribute"]]
                found.append({"type": rtype, "path": path, "kind": kind, "value": spec["type"]})
        for child, spec in sorted(block.get("block_types", {}).items()):
            if child == "instance_requirements":
                found.append({"type": rtype, "path": [*trail, [child, spec["nesting_mode"]]], "kind": "requirements"})
                continue
            walk(rtype, spec["block"], [*trail, [child, spec["nesting_mode"]]])

    for rtype, spec in sorted(resources.items()):
        walk(rtype, spec["block"], [])
        if COMMITMENT.search(rtype) or rtype in TERM_ATTRIBUTES:
            found.append({"type": rtype, "path": [], "kind": "commitment"})
    return found


def _value(selector: dict[str, Any]) -> Any:
    rtype, kind = selector["type"], selector["kind"]
    name = selector["path"][-1][0]
    if kind == "workspaces":
        text: Any = "GRAPHICS_G4DN"
    elif kind == "codebuild":
        text = "LINUX_GPU_CONTAINER"
    elif kind == "accelerator":
        text = "ml.eia2.medium"
    elif name == "instance_family":
        text = "p5"
    elif rtype.startswith("aws_sagemaker"):
        text = "ml.p5.48xlarge"
    elif rtype.startswith("aws_appstream"):
        text = "stream.graphics.g5.xlarge"
    else:
        text = "p5.48xlarge"
    value_type = selector.get("value")
    return [text] if isinstance(value_type, list) else text


def _nest(path: list[list[str]], leaf: Any) -> dict[str, Any]:
    """The plan's `after` for a value at a schema path: list/set blocks are arrays, single blocks objects."""
    *blocks, (name, _) = path
    inner: dict[str, Any] = {name: leaf}
    for block, nesting in reversed(blocks):
        inner = {block: inner if nesting in {"single", "group"} else [inner]}
    return inner


def plan_for(selector: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A one-resource plan exercising the selector, and the rule that must stop it."""
    rtype, kind = selector["type"], selector["kind"]
    tags = {"team": "team-mlops", "stage": "staging", "cost-center": "CC-1003"}
    if kind == "commitment":
        after: dict[str, Any] = {TERM_ATTRIBUTES[rtype]: "SixMonths"} if rtype in TERM_ATTRIBUTES else {}
        rule = "no-commitment-purchase"
    elif kind == "requirements":
        *_, (block, nesting) = selector["path"]
        unbounded = {"vcpu_count": [{"min": 4}], "memory_mib": [{"min": 8192}]}
        leaf = unbounded if nesting == "single" else [unbounded]
        after = _nest([*selector["path"][:-1], [block, "attribute"]], leaf)
        rule = "gpu-instance-tier"
    else:
        after = _nest(selector["path"], _value(selector))
        rule = "gpu-instance-tier"
    rc = {
        "address": f"{rtype}.probe",
        "mode": "managed",
        "type": rtype,
        "name": "probe",
        "change": {"actions": ["create"], "after": {**after, "tags_all": tags}, "after_unknown": {}},
    }
    return {"format_version": "1.2", "resource_changes": [rc], "configuration": {"root_module": {}}}, rule


def check(selectors: list[dict[str, Any]], ctx: PolicyContext) -> list[dict[str, Any]]:
    rows = []
    for selector in selectors:
        doc, rule = plan_for(selector)
        report = evaluate_plan_document(doc, ctx)
        fenced = rule in {v.rule for v in report.violations} and not report.errors
        path = ".".join(name for name, _ in selector["path"]) or "(the resource)"
        rows.append({"type": selector["type"], "path": path, "kind": selector["kind"], "fenced": fenced})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-file", action="store_true", help=f"use {SELECTORS_FILE.name}, not terraform")
    parser.add_argument("--schema", type=Path, help="a saved `terraform providers schema -json` output")
    parser.add_argument("--write", action="store_true", help=f"store the derived selectors in {SELECTORS_FILE.name}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.from_file:
        selectors = json.loads(SELECTORS_FILE.read_text())["selectors"]
    else:
        selectors = derive(json.loads(args.schema.read_text()) if args.schema else provider_schema())
    if args.write:
        SELECTORS_FILE.write_text(
            json.dumps({"provider": PROVIDER, "selectors": selectors}, indent=1, sort_keys=True) + "\n"
        )
    ctx = PolicyContext.from_layout(load_layout(), "none", team="team-mlops", stage="staging")
    rows = check(selectors, ctx)
    unfenced = [r for r in rows if not r["fenced"]]
    summary = {
        "selectors": len(rows),
        "resource_types": len({r["type"] for r in rows}),
        "fenced": len(rows) - len(unfenced),
        "unfenced": unfenced,
        "by_kind": {k: sum(r["kind"] == k for r in rows) for k in sorted({r["kind"] for r in rows})},
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['selectors']} selectors on {summary['resource_types']} resource types "
            f"({summary['by_kind']}): {summary['fenced']} fenced in tier none, {len(unfenced)} unfenced"
        )
        for r in unfenced:
            print(f"  unfenced: {r['type']} {r['path']} ({r['kind']})")
    return 1 if unfenced else 0


if __name__ == "__main__":
    raise SystemExit(main())
