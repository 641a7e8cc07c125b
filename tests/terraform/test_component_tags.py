"""eks-gpu-serving's own components (EBS CSI driver, Karpenter) create EC2 resources under the tag-on-create SCPs.

They are customer-managed roles in the team account, so the guardrails apply to them; exempting them by role name
would let a team name any role after them. Instead they send the mandatory tags: the template gives the eks module
`component_tags`, which go into the EBS CSI add-on's controller.extraVolumeTags and Karpenter's EC2NodeClass tags.
Each component's create requests are rendered from the template's configuration and evaluated against the SCPs.
"""

from __future__ import annotations

import re
from typing import Any

import hcl2
import pytest

from scps.evaluate import Request, denying_statements
from scps.render import FULL_AWS_ACCESS, render
from vending.layout import load_layout
from vending.pipeline.templates import TERRAFORM

LAYOUT = load_layout()
RENDERED = render(LAYOUT)
TEAM, STAGE, ACCOUNT, REGION = "team-mlops", "staging", "111122223333", "us-east-1"
TEMPLATE = TERRAFORM / "templates" / "workloads" / "eks-gpu-serving" / "main.tf"
MODULE = TERRAFORM / "modules" / "eks"
CLUSTER = f"{TEAM}-{STAGE}-gpu"
# What each component sends of its own, whatever it is configured with.
EBS_CSI_BUILTIN = {
    "CSIVolumeName": "pvc-1",
    "ebs.csi.aws.com/cluster": "true",
    "kubernetes.io/created-for/pvc/name": "data",
}
KARPENTER_BUILTIN = {
    "karpenter.sh/nodepool": "default",
    "karpenter.k8s.aws/ec2nodeclass": "default",
    f"kubernetes.io/cluster/{CLUSTER}": "owned",
    "eks:eks-cluster-name": CLUSTER,
}


def _team_docs() -> list[dict[str, Any]]:
    spec = LAYOUT.team(TEAM)
    assert spec is not None
    names = [n for n in RENDERED.governing(LAYOUT.ou_for_stage(STAGE), spec.gpu_tier) if n != FULL_AWS_ACCESS]
    return [RENDERED.policies[n].document for n in [*names, RENDERED.team_policies[(TEAM, STAGE)]]]


def _variables() -> dict[str, str]:
    spec = LAYOUT.team(TEAM)
    assert spec is not None
    return {"team": TEAM, "stage": STAGE, "cost_center": spec.cost_center}


def component_tags() -> dict[str, str]:
    """The template's `component_tags` for the eks module, with var.* resolved for team-mlops staging ({} if unset)."""
    (call,) = [m["eks"] for m in hcl2.loads(TEMPLATE.read_text(encoding="utf-8"))["module"] if "eks" in m]
    raw = call.get("component_tags", [{}])
    raw = raw[0] if isinstance(raw, list) else raw
    values = _variables()
    return {k.strip('"'): re.sub(r"\$\{var\.(\w+)\}", lambda m: values[m.group(1)], v) for k, v in raw.items()}


def _request(action: str, resource: str, role: str, tags: dict[str, str], **context: str) -> Request:
    return Request(
        action,
        resource,
        f"arn:aws:iam::{ACCOUNT}:role/{role}",
        {
            "aws:RequestedRegion": REGION,
            "aws:TagKeys": sorted(tags),
            **{f"aws:RequestTag/{k}": v for k, v in tags.items()},
            **context,
        },
    )


def _ebs_csi_requests(tags: dict[str, str]) -> list[Request]:
    sent = {**EBS_CSI_BUILTIN, **tags}
    return [_request("ec2:CreateVolume", f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/*", f"{CLUSTER}-ebs-csi", sent)]


def _karpenter_requests(tags: dict[str, str]) -> list[Request]:
    sent = {**KARPENTER_BUILTIN, **tags}
    role = f"{CLUSTER}-karpenter-controller"
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
    run = [
        _request("ec2:RunInstances", f"{arn}:{kind}/*", role, sent, **{"ec2:InstanceType": "m6i.large"})
        for kind in ("instance", "volume")
    ]
    return [
        *run,
        _request("ec2:CreateFleet", f"{arn}:fleet/*", role, sent, **{"ec2:InstanceType": "m6i.large"}),
        _request("ec2:CreateLaunchTemplate", f"{arn}:launch-template/*", role, sent),
    ]


def _denials(requests: list[Request]) -> dict[str, list[str]]:
    docs = _team_docs()
    return {f"{r.action} {r.resource}": d for r in requests if (d := denying_statements(docs, r))}


def test_component_tags_without_the_mandatory_tags_the_components_are_denied() -> None:
    # GIVEN the components' built-in tags only (what they sent before) THEN the SCPs deny their creates
    assert _denials(_ebs_csi_requests({}))
    assert _denials(_karpenter_requests({}))


def test_component_tags_template_sends_the_mandatory_tags() -> None:
    # GIVEN the eks-gpu-serving template THEN its components are given every mandatory tag, from the stack variables
    assert component_tags() == {"team": TEAM, "stage": STAGE, "cost-center": _variables()["cost_center"]}
    assert set(LAYOUT.organization.mandatory_tags) <= set(component_tags())


@pytest.mark.parametrize("component", ["ebs-csi", "karpenter"])
def test_component_tags_component_creates_are_allowed_by_the_scps(component: str) -> None:
    # GIVEN the tags the template configures, WHEN each component sends its create requests with them
    requests = (_ebs_csi_requests if component == "ebs-csi" else _karpenter_requests)(component_tags())
    # THEN no SCP denies them
    assert _denials(requests) == {}


def test_component_tags_module_wires_them_into_the_driver_and_karpenter() -> None:
    # GIVEN the eks module THEN component_tags reach the EBS CSI add-on's controller.extraVolumeTags, the add-on
    # takes that configuration, and Karpenter's EC2NodeClass carries them as spec.tags
    main = (MODULE / "main.tf").read_text(encoding="utf-8")
    assert re.search(r"extraVolumeTags = merge\([^\n]*var\.component_tags\)", main)
    assert "configuration_values        = local.addon_configuration[each.key]" in main
    node_class = re.search(r"karpenter_node_class = \{(.*?)\n  \}\n", main, re.S)
    assert node_class and re.search(r'kind\s+= "EC2NodeClass"', node_class.group(1))
    assert re.search(r"\n      tags\s+= var\.component_tags\n", node_class.group(1))
    assert "yamlencode(local.karpenter_node_class)" in (MODULE / "outputs.tf").read_text(encoding="utf-8")
