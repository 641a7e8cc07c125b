"""Accelerated families from data: botocore's EC2 and SageMaker enums against scps/families.py and the layout."""

from __future__ import annotations

from fnmatch import fnmatchcase

import botocore.session
import pytest

from scps.families import (
    EC2_ACCELERATED,
    EC2_GENERAL_PURPOSE,
    SAGEMAKER_ACCELERATED_EXTRA,
    family,
    general_purpose_patterns,
    is_accelerated,
    sagemaker_equivalent,
)
from scps.render import ec2_general_purpose
from vending.layout import load_layout


@pytest.fixture(scope="module")
def ec2_families() -> set[str]:
    model = botocore.session.get_session().get_service_model("ec2")
    return {family(t) for t in model.shape_for("InstanceType").enum}


@pytest.fixture(scope="module")
def sagemaker_families() -> set[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    out: set[str] = set()
    for name in model.shape_names:
        enum = getattr(model.shape_for(name), "enum", None) or []
        out |= {family(v) for v in enum if str(v).startswith("ml.")}
    return out


def _matches(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def test_families_every_botocore_ec2_family_is_classified(ec2_families: set[str]) -> None:
    # GIVEN botocore's InstanceType enum THEN every family is accelerated or general purpose, never both
    assert ec2_families - set(EC2_ACCELERATED) - set(EC2_GENERAL_PURPOSE) == set()
    assert not set(EC2_ACCELERATED) & set(EC2_GENERAL_PURPOSE)
    assert {"f1", "f2", "vt1", "cg1", "dl1", "dl2q", "trn2", "p6-b200"} <= set(EC2_ACCELERATED)


def test_families_layout_patterns_match_exactly_the_accelerated(ec2_families: set[str]) -> None:
    patterns = load_layout().accelerated_families.ec2
    for fam in ec2_families:
        # THEN the layout's patterns deny every accelerated family and no general-purpose one
        assert _matches(f"{fam}.xlarge", patterns) == (fam in EC2_ACCELERATED), fam


def test_families_sagemaker_classified_and_matched(sagemaker_families: set[str]) -> None:
    layout = load_layout()
    accel = layout.accelerated_families.sagemaker
    general = layout.guardrails.sagemaker_general_purpose_instance_types
    for fam in sagemaker_families:
        t = f"{fam}.xlarge"
        # THEN each SageMaker family is accelerated iff its EC2 family is (or it is an accelerator-only family)
        assert is_accelerated(t) == (fam in SAGEMAKER_ACCELERATED_EXTRA or fam[3:] in EC2_ACCELERATED), fam
        assert _matches(t, accel) == is_accelerated(t), fam
        assert _matches(t, general) == (not is_accelerated(t)), fam


def test_families_tiers_have_their_sagemaker_equivalents(sagemaker_families: set[str]) -> None:
    # GIVEN each tier's EC2 families WHEN SageMaker offers the same family THEN the tier grants it there too
    layout = load_layout()
    for name, tier in layout.gpu_tiers.items():
        for pattern in tier.ec2_instance_types:
            ml = sagemaker_equivalent(pattern.split(".")[0])
            if ml in sagemaker_families:
                assert _matches(f"{ml}.xlarge", tier.sagemaker_instance_types), (name, ml)
        for pattern in tier.sagemaker_instance_types:
            assert any(fnmatchcase(pattern[3:], p) for p in tier.ec2_instance_types), (name, pattern)


def test_families_general_purpose_patterns_cover_cpu_only(ec2_families: set[str]) -> None:
    # GIVEN the EC2 general-purpose patterns used next to autoscaling:InstanceTypes
    patterns = ec2_general_purpose(load_layout())
    for fam in ec2_families:
        # THEN they cover every CPU family and no accelerated one
        assert _matches(f"{fam}.large", patterns) == (fam not in EC2_ACCELERATED), fam


def test_families_general_purpose_patterns_avoid_prefix_clashes() -> None:
    # "c*" would match cg1 (GPU) and "t*" trn1: the derivation must pick longer prefixes
    patterns = general_purpose_patterns(["c5", "cc2", "t3", "i3", "d3en", "m5"], ["cg*", "trn*", "inf*", "dl*"])
    assert "c*" not in patterns and "t*" not in patterns and "m*" in patterns
    assert not _matches("cg1.4xlarge", patterns) and not _matches("trn1.2xlarge", patterns)


def test_families_general_purpose_patterns_whole() -> None:
    # The shortest safe prefix per family, one pattern for the families it already covers; a family whose every
    # prefix clashes with an accelerated pattern keeps its own `family.*`
    assert general_purpose_patterns(["c5", "c6i", "cc2", "p3", "m5"], ["cg*", "p3dn*"]) == (
        "c5*",
        "c6*",
        "cc*",
        "m*",
        "p3.*",
    )
    # with no accelerated pattern, one letter each (never a bare `*`: a family not listed stays denied)
    assert general_purpose_patterns(["a1", "c5", "c6i"], []) == ("a*", "c*")


@pytest.mark.parametrize(
    ("instance_type", "fam", "accelerated"),
    [
        ("p5.48xlarge", "p5", True),
        ("m5.large", "m5", False),
        ("u7i-12tb.224xlarge", "u7i-12tb", False),
        ("ml.g5.xlarge", "ml.g5", True),
        ("ml.m5.large", "ml.m5", False),
        ("mlx.large", "mlx", False),  # starts with "ml", not "ml.": an EC2 type
    ],
)
def test_families_family_and_acceleration_per_type(instance_type: str, fam: str, accelerated: bool) -> None:
    assert (family(instance_type), is_accelerated(instance_type)) == (fam, accelerated)
