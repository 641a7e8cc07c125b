"""The GPU and commitment fence by meaning (issue 20 item 4): every selector of accelerated capacity or commitment the
hashicorp/aws provider schema has (derived by benchmarks/gpu_schema_coverage.py into
policies/provider_compute_selectors.json) is stopped by the pipeline's rules in tier none, and the check is not
vacuous (a context whose accelerated families are emptied lets them through)."""

from __future__ import annotations

import json

from benchmarks.gpu_schema_coverage import SELECTORS_FILE, check
from vending.layout import load_layout
from vending.pipeline.policy import PolicyContext

SELECTORS = json.loads(SELECTORS_FILE.read_text())["selectors"]


def _ctx() -> PolicyContext:
    return PolicyContext.from_layout(load_layout(), "none", team="team-mlops", stage="staging")


def test_selectors_cover_the_services_the_issue_names():
    types = {s["type"] for s in SELECTORS}
    for rtype in (
        "aws_instance",
        "aws_launch_template",
        "aws_ec2_fleet",
        "aws_spot_fleet_request",
        "aws_autoscaling_group",
        "aws_ec2_host",
        "aws_ec2_capacity_reservation",
        "aws_ec2_capacity_block_reservation",
        "aws_sagemaker_endpoint_configuration",
        "aws_codebuild_project",
        "aws_codebuild_fleet",
        "aws_appstream_fleet",
        "aws_workspaces_workspace",
        "aws_emr_cluster",
        "aws_batch_compute_environment",
        "aws_eks_node_group",
        "aws_gamelift_fleet",
        "aws_rds_reserved_instance",
    ):
        assert rtype in types, rtype


def test_every_schema_selector_is_fenced_in_tier_none():
    unfenced = [r for r in check(SELECTORS, _ctx()) if not r["fenced"]]
    assert unfenced == []


def test_negative_control_without_accelerated_families_the_type_selectors_pass():
    # GIVEN the same rules with the layout's accelerated families emptied (the fence's data neutered)
    ctx = _ctx()
    neutered = PolicyContext(**{**ctx.__dict__, "accelerated_ec2": (), "accelerated_sagemaker": ()})
    rows = check([s for s in SELECTORS if s["kind"] in {"type", "accelerator"}], neutered)
    # THEN every instance-type selector is reported unfenced: the coverage comes from the rule, not from the harness
    assert rows and not any(r["fenced"] for r in rows)
