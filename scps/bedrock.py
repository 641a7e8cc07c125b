"""What a GPU tier may invoke on Bedrock, as the ARNs its SCP allows (scps.render.bedrock_tier denies the rest).

A foundation model listed by id is allowed in any region (the region fences decide where a team calls from). A system
inference profile is allowed by its ARN in any source region, and the foundation model behind it only in the regions
the profile routes to (Layout.bedrock_profile_regions): "When you specify an inference profile in the Resource field,
you must also specify the foundation model in each Region associated with it"
(https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html).
"""

from __future__ import annotations

from dataclasses import dataclass

from scps import catalog
from vending.layout import GpuTier, Layout

PARTITION = "arn:aws:bedrock"


def model_arn(model_id: str, region: str = "*") -> str:
    return f"{PARTITION}:{region}::foundation-model/{model_id}"


def profile_arn(profile_id: str, region: str = "*", account: str = "*") -> str:
    return f"{PARTITION}:{region}:{account}:inference-profile/{profile_id}"


def profile_model(profile_id: str) -> str:
    """The foundation model a system profile routes to: its id without the geography prefix (us., eu., apac.)."""
    return profile_id.split(".", 1)[1]


@dataclass(frozen=True)
class BedrockAllowance:
    """One tier's Bedrock allow-list, in the layout's terms and as ARNs."""

    models: tuple[str, ...]
    profiles: dict[str, tuple[str, ...]]  # profile id -> its destination regions
    customization: bool

    @property
    def arns(self) -> tuple[str, ...]:
        anywhere = [model_arn(m) for m in self.models]
        routed = [
            model_arn(profile_model(p), r)
            for p, regions in self.profiles.items()
            for r in regions
            # Already allowed in every region as a model of its own.
            if profile_model(p) not in self.models
        ]
        profiles = [profile_arn(p) for p in self.profiles]
        own = (
            [f"{PARTITION}:*:*:{kind}/*" for kind in catalog.BEDROCK_OWN_MODEL_RESOURCES] if self.customization else []
        )
        return tuple(dict.fromkeys([*anywhere, *profiles, *routed, *own]))


def allowance(layout: Layout, tier: GpuTier) -> BedrockAllowance:
    return BedrockAllowance(
        tier.bedrock_models,
        {p: layout.bedrock_profile_regions[p] for p in tier.bedrock_inference_profiles},
        tier.bedrock_customization,
    )


def profile_sources(regions: tuple[str, ...]) -> list[str]:
    """Inference profiles called in one of `regions` (their ARN names the source region): a region fence lets the
    request through to the profile's destination regions, which AWS evaluates as requests in those regions."""
    return [profile_arn("*", r) for r in regions]
