"""Which EC2 and SageMaker instance families are accelerated: data, cross-checked against botocore's service models.

Neither the IAM reference nor botocore says which families are accelerated (only DescribeInstanceTypes does, per
account and region), so the classification is written here once and tests/scps/test_families.py fails as soon as
botocore's `InstanceType` enum (EC2) or the SageMaker instance-type enums name a family that is in neither list. The
layout's `accelerated_families` patterns must match every accelerated family and no general-purpose one.
Accelerated computing: https://aws.amazon.com/ec2/instance-types/#Accelerated_Computing
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from fnmatch import fnmatchcase

# GPUs (p, g, gr, cg), Trainium (trn), Inferentia (inf), Gaudi (dl1) and Qualcomm (dl2q) inference, FPGAs (f1, f2)
# and media transcoding (vt1): everything AWS lists under "Accelerated Computing", current and previous generation.
EC2_ACCELERATED: tuple[str, ...] = (
    "cg1",
    "dl1",
    "dl2q",
    "f1",
    "f2",
    "g2",
    "g3",
    "g3s",
    "g4ad",
    "g4dn",
    "g5",
    "g5g",
    "g6",
    "g6e",
    "g6f",
    "g7",
    "g7e",
    "gr6",
    "gr6f",
    "inf1",
    "inf2",
    "p2",
    "p3",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6-b200",
    "p6-b300",
    "p6e-gb200",
    "trn1",
    "trn1n",
    "trn2",
    "trn2u",
    "vt1",
)

# SageMaker's accelerated families: ml.<EC2 family> plus the retired Elastic Inference accelerators (eia) and the
# geospatial notebook instance, which runs on a GPU.
SAGEMAKER_ACCELERATED_EXTRA: tuple[str, ...] = ("ml.eia1", "ml.eia2", "ml.geospatial")


def family(instance_type: str) -> str:
    """`p5.48xlarge` -> `p5`; `ml.g5.xlarge` -> `ml.g5`; `u7i-12tb.224xlarge` -> `u7i-12tb`."""
    if instance_type.startswith("ml."):
        return ".".join(instance_type.split(".")[:2])
    return instance_type.split(".")[0]


def sagemaker_equivalent(ec2_family: str) -> str:
    return f"ml.{ec2_family}"


def is_accelerated(instance_type: str) -> bool:
    fam = family(instance_type)
    if fam.startswith("ml."):
        return fam in SAGEMAKER_ACCELERATED_EXTRA or fam.removeprefix("ml.") in EC2_ACCELERATED
    return fam in EC2_ACCELERATED


def general_purpose_patterns(families: Iterable[str], accelerated_patterns: Iterable[str]) -> tuple[str, ...]:
    """The shortest `prefix*` patterns that cover every non-accelerated family and match no accelerated pattern.

    Used where a multi-valued key (autoscaling:InstanceTypes) lists CPU types next to an allowed accelerator: a
    ForAnyValue:StringNotLike test must know every type that is fine, and a family not covered here is denied (fails
    closed) until the data is updated.
    """
    return _general_purpose_patterns(tuple(families), tuple(accelerated_patterns))


# Every render asks again for the same two tuples, once per GPU tier, 3.4 ms of fnmatch each: render() took 11.3 ms,
# 6.1 ms with the answers kept (they are tuples of strings, like the arguments).
@functools.lru_cache(maxsize=32)
def _general_purpose_patterns(families: tuple[str, ...], accel: tuple[str, ...]) -> tuple[str, ...]:
    general = sorted({f for f in families if not any(fnmatchcase(f, p) for p in accel)})

    def clashes(prefix: str) -> bool:
        # A pattern `prefix*` is unsafe if some accelerated type could also match it.
        return any(fnmatchcase(prefix, p) or p.rstrip("*").startswith(prefix) for p in accel)

    out: list[str] = []
    for fam in general:
        if any(fnmatchcase(f"{fam}.x", p) for p in out):
            continue
        for n in range(1, len(fam) + 1):
            prefix = fam[:n]
            if not clashes(prefix):
                out.append(f"{prefix}*")
                break
        else:
            out.append(f"{fam}.*")
    return tuple(out)


# Every other family in botocore's EC2 `InstanceType` enum (botocore 1.44.8): general purpose, compute, memory and
# storage optimized, HPC, Mac. A family in neither tuple fails tests/scps/test_families.py until it is classified.
EC2_GENERAL_PURPOSE: tuple[str, ...] = (
    "a1",
    "c1",
    "c3",
    "c4",
    "c5",
    "c5a",
    "c5ad",
    "c5d",
    "c5n",
    "c6a",
    "c6g",
    "c6gd",
    "c6gn",
    "c6i",
    "c6id",
    "c6in",
    "c7a",
    "c7g",
    "c7gd",
    "c7gn",
    "c7i",
    "c7i-flex",
    "c8a",
    "c8g",
    "c8gb",
    "c8gd",
    "c8gn",
    "c8i",
    "c8i-flex",
    "c8ib",
    "c8id",
    "c8in",
    "c8ine",
    "c9g",
    "c9gd",
    "cc1",
    "cc2",
    "cr1",
    "d2",
    "d3",
    "d3en",
    "h1",
    "hi1",
    "hpc6a",
    "hpc6id",
    "hpc7a",
    "hpc7g",
    "hpc8a",
    "hs1",
    "i2",
    "i3",
    "i3en",
    "i4g",
    "i4i",
    "i7i",
    "i7ie",
    "i8g",
    "i8ge",
    "im4gn",
    "is4gen",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m5a",
    "m5ad",
    "m5d",
    "m5dn",
    "m5n",
    "m5zn",
    "m6a",
    "m6g",
    "m6gd",
    "m6i",
    "m6id",
    "m6idn",
    "m6in",
    "m7a",
    "m7g",
    "m7gd",
    "m7i",
    "m7i-flex",
    "m8a",
    "m8azn",
    "m8g",
    "m8gb",
    "m8gd",
    "m8gn",
    "m8i",
    "m8i-flex",
    "m8ib",
    "m8id",
    "m8idb",
    "m8idn",
    "m8in",
    "m8ine",
    "m9g",
    "m9gd",
    "mac-m3ultra",
    "mac-m4",
    "mac-m4max",
    "mac-m4pro",
    "mac1",
    "mac2",
    "mac2-m1ultra",
    "mac2-m2",
    "mac2-m2pro",
    "r3",
    "r4",
    "r5",
    "r5a",
    "r5ad",
    "r5b",
    "r5d",
    "r5dn",
    "r5n",
    "r6a",
    "r6g",
    "r6gd",
    "r6i",
    "r6id",
    "r6idn",
    "r6in",
    "r7a",
    "r7g",
    "r7gd",
    "r7i",
    "r7iz",
    "r8a",
    "r8g",
    "r8gb",
    "r8gd",
    "r8gn",
    "r8i",
    "r8i-flex",
    "r8ib",
    "r8id",
    "r8idb",
    "r8idn",
    "r8in",
    "r9g",
    "r9gd",
    "t1",
    "t2",
    "t3",
    "t3a",
    "t4g",
    "t8i",
    "u-12tb1",
    "u-18tb1",
    "u-24tb1",
    "u-3tb1",
    "u-6tb1",
    "u-9tb1",
    "u7i-12tb",
    "u7i-6tb",
    "u7i-8tb",
    "u7ib-12tb",
    "u7in-16tb",
    "u7in-24tb",
    "u7in-32tb",
    "u7inh-32tb",
    "x1",
    "x1e",
    "x2gd",
    "x2idn",
    "x2iedn",
    "x2iezn",
    "x8aedz",
    "x8g",
    "x8i",
    "z1d",
)
