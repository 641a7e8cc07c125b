"""Workload templates (terraform/templates/workloads): the catalogue, rendering for any team, the layout's VPC blocks,
the CI permissions boundary on every role a team stack creates, and the issue 9 module fixes."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import hcl2
import pytest

from vending.exceptions import TemplateError
from vending.layout import Layout, load_layout
from vending.settings import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"
ENVIRONMENTS = TERRAFORM / "environments"
MODULES = TERRAFORM / "modules"
TEMPLATES = ("rag-bedrock", "sagemaker-endpoint", "eks-gpu-serving")

from vending.pipeline import templates as sync_stacks  # noqa: E402  (the rendering library behind the tool)


def _hcl_text(text: str) -> dict:
    return hcl2.loads(text)


def _tfvars(text: str) -> dict:
    # python-hcl2 wraps every top-level attribute value in a one-element list
    return {name: value[0] for name, value in hcl2.loads(text).items()}


def _layout_with(**network) -> Layout:
    data = load_layout().model_dump()
    data["network"] = {**data["network"], **network}
    return Layout.model_validate(data)


# --- catalogue and rendering ---------------------------------------------------------------------------------------


def test_catalogue_lists_the_three_workload_templates_with_descriptions():
    # GIVEN the templates folder, WHEN the catalogue is read, THEN it has the templates, each described
    catalogue = sync_stacks.catalogue()
    assert set(TEMPLATES) <= set(catalogue)
    for name in TEMPLATES:
        assert len(catalogue[name].description) > 40, name
        assert catalogue[name].gpu_tiers, name


def test_render_stack_for_a_team_not_in_the_layout():
    # GIVEN a team the repository does not know, with its request's tier and an allocated block
    layout = load_layout()
    block = sync_stacks.allocate_network_block("team-newcomer", "staging", layout)
    # WHEN its eks-gpu-serving stack is rendered
    files = sync_stacks.render_stack(
        "team-newcomer", "staging", "eks-gpu-serving", layout, gpu_tier="inference", network_block=block
    )
    # THEN the folder is complete, the backend key is its path and the VPC is the template's slot of the block
    assert {
        "main.tf",
        "versions.tf",
        "backend.tf",
        "providers.tf",
        "variables.tf",
        "stack_variables.tf",
        "outputs.tf",
        "terraform.tfvars",
        ".terraform.lock.hcl",
    } <= set(files)
    backend = _hcl_text(files["backend.tf"])["terraform"][0]["backend"][0]["s3"]
    assert backend["key"][0] == "team-newcomer/staging/eks-gpu-serving/terraform.tfstate"
    tfvars = _tfvars(files["terraform.tfvars"])
    assert ipaddress.IPv4Network(tfvars["vpc_cidr"]).subnet_of(ipaddress.IPv4Network(block))
    assert tfvars["vpc_cidr"] == sync_stacks.vpc_cidr(block, sync_stacks.catalogue()["eks-gpu-serving"].vpc_slot)
    # and the inference tier gets no training node groups
    types = [t for group in tfvars["node_groups"].values() for t in group["instance_types"]]
    assert not [t for t in types if t.startswith(("p4d", "p5", "trn"))], types


def test_render_stack_is_pure_and_matches_the_committed_stacks():
    # GIVEN the layout's teams, WHEN their workload stacks are rendered, THEN each equals the committed folder
    layout = load_layout()
    rendered = 0
    for team in layout.teams:
        for stage in ("staging", "production"):
            for stack in (s for s in team.stacks if s in TEMPLATES):
                folder = ENVIRONMENTS / team.slug / stage / stack
                for name, text in sync_stacks.render_stack(team.slug, stage, stack, layout).items():
                    assert (folder / name).read_text(encoding="utf-8") == text, folder / name
                rendered += 1
    assert rendered == 6  # team-backend: rag-bedrock; team-mlops: sagemaker-endpoint, eks-gpu-serving; two stages


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stack": "no-such-template"}, "no workload template 'no-such-template'"),
        ({"stack": "eks-gpu-serving", "gpu_tier": "none"}, "serves GPU tiers ['inference', 'training'], not 'none'"),
        ({"team": "Team_Bad"}, "is not a slug"),
        ({"stage": "dev"}, "stage 'dev' must be one of"),
        ({"team": "team-unknown", "gpu_tier": None}, "not in the layout: pass its request's gpu_tier"),
        ({"team": "team-unknown", "gpu_tier": "inference"}, "has no network block"),
    ],
)
def test_render_stack_refuses_bad_input_with_a_specific_error(kwargs, message):
    args = {"team": "team-mlops", "stage": "staging", "stack": "sagemaker-endpoint", **kwargs}
    with pytest.raises(TemplateError, match=re.escape(message)):
        sync_stacks.render_stack(args.pop("team"), args.pop("stage"), args.pop("stack"), load_layout(), **args)


def test_render_tfvars_instance_types_follow_the_tier():
    layout = load_layout()
    by_tier = {
        tier: _tfvars(
            sync_stacks.render_stack(
                "team-x1", "production", "sagemaker-endpoint", layout, gpu_tier=tier, network_block="10.200.0.0/16"
            )["terraform.tfvars"]
        )["instance_type"]
        for tier in ("none", "inference", "training")
    }
    assert by_tier["none"] == "ml.m5.xlarge"
    for tier in ("inference", "training"):
        patterns = layout.gpu_tiers[tier].sagemaker_instance_types
        assert any(re.fullmatch(p.replace(".", r"\.").replace("*", ".*"), by_tier[tier]) for p in patterns), tier


# --- network blocks ------------------------------------------------------------------------------------------------


def test_network_every_team_and_stage_has_a_block_and_none_overlap():
    layout = load_layout()
    blocks = []
    for team in layout.teams:
        for stage in ("staging", "production"):
            cidr = layout.network.block_for(team.slug, stage)
            assert cidr, f"{team.slug}/{stage} has no network block in layout.yaml"
            blocks.append((f"{team.slug}/{stage}", ipaddress.IPv4Network(cidr)))
    blocks += [(f"reserved {r}", ipaddress.IPv4Network(r)) for r in layout.network.reserved]
    for i, (name, block) in enumerate(blocks):
        for other_name, other in blocks[i + 1 :]:
            assert not block.overlaps(other), (name, other_name)


def test_network_layout_refuses_overlapping_blocks():
    # GIVEN two teams on overlapping blocks, WHEN the layout is validated, THEN the error names both
    with pytest.raises(
        ValueError,
        match=r"network.allocations.team-b.staging: 10.18.0.0/16 overlaps "
        r"network.allocations.team-a.staging",
    ):
        _layout_with(allocations={"team-a": {"staging": "10.18.0.0/16"}, "team-b": {"staging": "10.18.0.0/16"}})
    with pytest.raises(ValueError, match=re.escape("must be a /16 inside 10.0.0.0/8")):
        _layout_with(allocations={"team-a": {"staging": "10.18.0.0/20"}})


def test_network_allocate_block_skips_everything_taken():
    layout = load_layout()
    first = sync_stacks.allocate_network_block("team-new", "staging", layout)
    second = sync_stacks.allocate_network_block("team-new", "production", layout, taken=[first])
    used = [*layout.network.reserved, *(c for s in layout.network.allocations.values() for c in s.values()), first]
    assert not any(ipaddress.IPv4Network(second).overlaps(ipaddress.IPv4Network(u)) for u in used)
    assert sync_stacks.allocate_network_block("team-mlops", "staging", layout) == "10.20.0.0/16"


def test_network_committed_team_vpcs_sit_in_their_block_and_never_overlap():
    # GIVEN every team stack's VPC CIDRs (vpc_cidr, vpc_cidrs), THEN each is inside its team/stage block, none overlap
    layout = load_layout()
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for tfvars in sorted(ENVIRONMENTS.glob("team-*/*/*/terraform.tfvars")):
        team, stage, stack = tfvars.parent.relative_to(ENVIRONMENTS).parts
        values = _tfvars(tfvars.read_text())
        cidrs = ([values["vpc_cidr"]] if "vpc_cidr" in values else []) + list(values.get("vpc_cidrs", {}).values())
        block = ipaddress.IPv4Network(layout.network.block_for(team, stage))
        for cidr in map(ipaddress.IPv4Network, cidrs):
            assert cidr.subnet_of(block), (tfvars, str(cidr), str(block))
            clash = [name for name, other in seen if other.overlaps(cidr)]
            assert not clash, (tfvars, str(cidr), clash)
            seen.append((f"{team}/{stage}/{stack}", cidr))
    assert len(seen) >= 8 + 4  # 2 teams x 2 stages x 4 regions of networking, plus the template VPCs


# --- issue 9: boundary on every role, EKS logs key, Bedrock actions -------------------------------------------------


def _module_variables(module: str) -> set[str]:
    parsed = hcl2.loads((MODULES / module / "variables.tf").read_text())
    return {name for block in parsed.get("variable", []) for name in block}


def test_boundary_every_module_role_takes_the_boundary_variable():
    roles = 0
    for main in sorted(MODULES.glob("*/main.tf")):
        text = main.read_text()
        for match in re.finditer(r'resource "aws_iam_role" "(\w+)" \{(.*?)\n\}', text, re.S):
            assert re.search(r"^\s*permissions_boundary\s*=", match.group(2), re.M), f"{main.parent.name}.{match[1]}"
            roles += 1
    assert roles >= 12  # every aws_iam_role of the modules was looked at


def test_boundary_team_stacks_pass_the_ci_boundary_to_every_module_that_creates_roles():
    # GIVEN every team stack, WHEN a module it calls can create roles, THEN the call passes the CI boundary
    for main in sorted(ENVIRONMENTS.glob("team-*/*/*/main.tf")):
        for block in hcl2.loads(main.read_text()).get("module", []):
            for name, call in block.items():
                module = Path(call["source"][0]).name
                if "permissions_boundary_arn" not in _module_variables(module):
                    continue
                value = str(call.get("permissions_boundary_arn", [None])[0])
                assert "var.permissions_boundary_arn" in value and "VendingCIBoundary" in value, (main, name)
                if module == "iam":
                    assert call["create_permissions_boundary"][0] is False, (main, name)


def test_boundary_default_name_matches_the_vending_bootstrap():
    from vending.bootstrap import BOUNDARY_NAME

    for main in sorted(ENVIRONMENTS.glob("team-*/*/*/main.tf")):
        for found in re.findall(r":policy/(\w+)\"", main.read_text()):
            assert found == BOUNDARY_NAME, main


def test_eks_log_key_lets_cloudwatch_logs_use_it_for_the_cluster_log_group_only():
    text = (MODULES / "eks" / "main.tf").read_text()
    key = re.search(r'resource "aws_kms_key" "this" \{(.*?)\n\}', text, re.S).group(1)
    assert 'Principal = { Service = "logs.${local.region}.amazonaws.com" }' in key
    assert '"kms:EncryptionContext:aws:logs:arn"' in key and "log-group:/aws/eks/${var.cluster_name}/cluster" in key


def test_bedrock_policies_use_iam_action_names_only():
    # The Converse API is authorized by bedrock:InvokeModel*; bedrock:Converse* are not IAM actions.
    for path in TERRAFORM.rglob("*.tf"):
        assert "bedrock:Converse" not in path.read_text(), path
    text = (MODULES / "bedrock" / "main.tf").read_text()
    assert '["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]' in text
    assert ":inference-profile/${p}" in text and "::foundation-model/" in text
