"""Stack folders from templates: the boilerplate every stack shares, and the workload stacks a team asks for by name.

Pure functions over terraform/ (a domain module: the vending workflow renders stacks of teams that are not in the
repository; terraform/tools/sync_stacks.py writes the layout's teams' stacks into terraform/environments).

- Boilerplate: terraform/templates/*.tf (and templates/<stack name>/*.tf) copied into every stack folder, plus its
  backend.tf (state key = the folder path).
- Workload templates: terraform/templates/workloads/<name>/ (main.tf, stack_variables.tf, template.yaml with the
  values of terraform.tfvars per stage and GPU tier). `catalogue()` lists them; `render_stack()` renders a complete
  stack folder for any team as {file name: text}, without touching the disk: sync_stacks writes the layout's teams'
  stacks into terraform/environments, the vending workflow renders stacks of teams that are not in the repository.

Run `terraform/tools/sync_stacks.py [--check]` after changing a template or a team's stacks in
landing_zone/layout.yaml; tests/terraform checks it is in sync.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vending.exceptions import TemplateError
from vending.layout import STAGES, TEAM_SLUG, Layout
from vending.settings import REPO_ROOT, STATE_KEY_ALIAS

TERRAFORM = REPO_ROOT / "terraform"
TEMPLATES = TERRAFORM / "templates"
WORKLOADS = TEMPLATES / "workloads"
ENVIRONMENTS = TERRAFORM / "environments"
# A stack's VPC is one of four equal slots of its team's block (a /18 of a /16): stacks never overlap each other.
VPC_SLOT_BITS = 2
LOCK_FILE = ".terraform.lock.hcl"

# kms_key_id is the alias bootstrap makes (a constant; the SCPs protect it from being repointed).
BACKEND = """terraform {{
  # bucket and region are the vended account's state bucket, given at `terraform init -backend-config=...`.
  # The key is this folder's path under terraform/environments; the pipeline runner passes the same value.
  # kms_key_id: the account's state key (encrypt = true alone writes SSE-S3, which the state bucket refuses).
  backend "s3" {{
    key          = "{key}"
    use_lockfile = true
    encrypt      = true
    kms_key_id   = "STATE_KEY_ALIAS"
  }}
}}
""".replace("STATE_KEY_ALIAS", STATE_KEY_ALIAS)


@dataclass(frozen=True)
class StackTemplate:
    name: str
    description: str
    gpu_tiers: tuple[str, ...]
    vpc_slot: int | None
    values: Mapping[str, Any] = field(repr=False)
    tiers: Mapping[str, Any] = field(repr=False)

    def tfvars(self, stage: str, gpu_tier: str) -> dict[str, Any]:
        """terraform.tfvars values: common, then the stage's, then the tier's common and the tier's stage values."""
        tier = self.tiers.get(gpu_tier) or {}
        merged: dict[str, Any] = {}
        for layer in (
            self.values.get("common"),
            (self.values.get("stages") or {}).get(stage),
            tier.get("common"),
            tier.get(stage),
        ):
            merged.update(layer or {})
        return merged


def catalogue(workloads_dir: Path = WORKLOADS) -> dict[str, StackTemplate]:
    """The workload templates a team may request in its `stacks`, by name."""
    found: dict[str, StackTemplate] = {}
    for spec_file in sorted(workloads_dir.glob("*/template.yaml")):
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
        slot = spec.get("vpc_slot")
        if slot is not None and not 0 <= int(slot) < 2**VPC_SLOT_BITS:
            raise TemplateError(f"{spec_file}: vpc_slot must be 0..{2**VPC_SLOT_BITS - 1}")
        found[spec_file.parent.name] = StackTemplate(
            name=spec_file.parent.name,
            description=" ".join(str(spec.get("description", "")).split()),
            gpu_tiers=tuple(spec.get("gpu_tiers") or ()),
            vpc_slot=None if slot is None else int(slot),
            values=spec.get("values") or {},
            tiers=spec.get("tiers") or {},
        )
    return found


def template_names(workloads_dir: Path = WORKLOADS) -> tuple[str, ...]:
    return tuple(catalogue(workloads_dir))


def allocate_network_block(team: str, stage: str, layout: Layout, taken: Iterable[str] = ()) -> str:
    """The team's block from the layout, or else the first block of the pool that overlaps nothing reserved,
    allocated in the layout, or in `taken` (blocks already handed to teams vended at run time: the caller keeps
    that record, e.g. in the lifecycle store, and passes it here)."""
    net = layout.network
    existing = net.block_for(team, stage)
    if existing:
        return str(existing)
    used = [ipaddress.IPv4Network(c) for c in (*net.reserved, *taken)]
    used += [ipaddress.IPv4Network(c) for stages in net.allocations.values() for c in stages.values()]
    for block in ipaddress.IPv4Network(net.pool).subnets(new_prefix=net.block_prefix):
        if not any(block.overlaps(u) for u in used):
            return str(block)
    raise TemplateError(f"network pool {net.pool} has no free /{net.block_prefix} left for {team}/{stage}")


def vpc_cidr(block: str, slot: int) -> str:
    return str(list(ipaddress.IPv4Network(block).subnets(prefixlen_diff=VPC_SLOT_BITS))[slot])


def boilerplate_files(stack_path: str) -> dict[str, str]:
    """The shared files of the stack at `stack_path` (<team>/<stage>/<stack>): templates and backend.tf."""
    name = stack_path.rsplit("/", 1)[-1]
    files = {t.name: t.read_text(encoding="utf-8") for t in sorted(TEMPLATES.glob("*.tf"))}
    # Stack-kind templates (templates/<stack name>/*.tf), e.g. the per-region providers of `networking`.
    files.update({t.name: t.read_text(encoding="utf-8") for t in sorted((TEMPLATES / name).glob("*.tf"))})
    files["backend.tf"] = BACKEND.format(key=f"{stack_path}/terraform.tfstate")
    return files


def render_stack(
    team: str,
    stage: str,
    stack: str,
    layout: Layout,
    *,
    gpu_tier: str | None = None,
    network_block: str | None = None,
    workloads_dir: Path = WORKLOADS,
) -> dict[str, str]:
    """Every file of terraform/environments/<team>/<stage>/<stack>/ for a workload template, as {name: text}.

    The GPU tier and the network block come from the layout for its teams; a team that is not in the layout passes
    its request's `gpu_tier` and a block from :func:`allocate_network_block`."""
    if not TEAM_SLUG.match(team):
        raise TemplateError(f"team {team!r} is not a slug (lowercase letters, digits, hyphens; 3-40 characters)")
    if stage not in STAGES:
        raise TemplateError(f"stage {stage!r} must be one of {list(STAGES)}")
    templates = catalogue(workloads_dir)
    template = templates.get(stack)
    if template is None:
        raise TemplateError(f"no workload template {stack!r}; the catalogue has {sorted(templates)}")
    spec = layout.team(team)
    tier = gpu_tier or (spec.gpu_tier if spec else None)
    if tier is None:
        raise TemplateError(f"{team} is not in the layout: pass its request's gpu_tier")
    if tier not in template.gpu_tiers:
        raise TemplateError(f"template {stack!r} serves GPU tiers {list(template.gpu_tiers)}, not {tier!r}")
    values = template.tfvars(stage, tier)
    if template.vpc_slot is not None:
        block = network_block or layout.network.block_for(team, stage)
        if block is None:
            raise TemplateError(f"{team}/{stage} has no network block: allocate one with allocate_network_block()")
        values["vpc_cidr"] = vpc_cidr(block, template.vpc_slot)
    source = workloads_dir / stack
    files = boilerplate_files(f"{team}/{stage}/{stack}")
    for name in ("main.tf", "stack_variables.tf", "outputs.tf"):
        files[name] = (source / name).read_text(encoding="utf-8")
    files["terraform.tfvars"] = render_tfvars(
        values, header=f"# Rendered from terraform/templates/workloads/{stack} for {team} ({stage}, GPU tier {tier}).\n"
    )
    files[LOCK_FILE] = (workloads_dir / "terraform.lock.hcl").read_text(encoding="utf-8")
    return files


# terraform.tfvars in `terraform fmt` form: one attribute per line, `=` aligned within runs of one-line attributes,
# maps of objects one entry per line with their keys aligned.
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _key(key: str) -> str:
    return key if _IDENT.match(key) else json.dumps(key)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TemplateError(f"cannot render {value!r} as HCL")


def _aligned(pairs: list[tuple[str, str]], indent: str) -> list[str]:
    width = max((len(k) for k, _ in pairs), default=0)
    return [f"{indent}{k.ljust(width)} = {v}" for k, v in pairs]


def render_tfvars(values: Mapping[str, Any], header: str = "") -> str:
    single: list[tuple[str, str]] = []
    blocks: list[str] = []
    for name in sorted(values):
        value = values[name]
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            inner = _aligned([(_key(k), _inline(v)) for k, v in value.items()], "  ")
            blocks.append("\n".join([f"{_key(name)} = {{", *inner, "}"]))
        else:
            single.append((_key(name), _inline(value)))
    parts = ["\n".join(_aligned(single, ""))] if single else []
    return header + "\n".join(parts + blocks) + "\n"
