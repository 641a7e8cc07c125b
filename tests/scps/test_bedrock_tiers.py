"""Bedrock by tier (issue 24 item 1), decided by scps.evaluate on the SCPs that govern each team's staging account.

Every denial names the statement that causes it, and deleting that statement lets the same request through (the
causation check of test_bypass.py). Cross-region inference is two kinds of request: the call on the profile in the
source region, and the call AWS makes on the foundation model in each destination region, carrying
bedrock:InferenceProfileArn, evaluated in that region (aws:RequestedRegion)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from scps import bedrock
from scps.evaluate import Policies, Request, decide, denying_statements
from scps.render import FULL_AWS_ACCESS, render
from vending.layout import Layout, load_layout
from vending.settings import REPO_ROOT

LAYOUT = load_layout()
RENDERED = render(LAYOUT)
ACCOUNT = "111122223333"
TEAM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/TeamCIRole"
PLATFORM = [f"arn:aws:iam::{ACCOUNT}:role/{n}" for n in LAYOUT.organization.platform_role_names]
TIER_TEAM = {"none": "team-frontend", "inference": "team-backend", "training": "team-mlops"}
HAIKU = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"  # training only
INVOKE = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")  # Converse/ConverseStream authorize as these


def _docs(team: str, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    spec = LAYOUT.team(team)
    assert spec is not None
    names = [n for n in RENDERED.governing(LAYOUT.ou_for_stage("staging"), spec.gpu_tier) if n != FULL_AWS_ACCESS]
    docs = [RENDERED.policies[n].document for n in [*names, RENDERED.team_policies[(team, "staging")]]]
    return [{**d, "Statement": [s for s in d["Statement"] if s["Sid"] not in drop]} for d in docs]


def _denied_by(
    team: str,
    action: str,
    resource: str,
    region: str = "us-east-1",
    principal: str = TEAM_ROLE,
    drop: tuple[str, ...] = (),
    context: dict[str, str] | None = None,
) -> list[str]:
    request = Request(action, resource, principal, {"aws:RequestedRegion": region, **(context or {})})
    return sorted(denying_statements(_docs(team, drop), request))


def _allowed(
    team: str, action: str, resource: str, region: str = "us-east-1", context: dict[str, str] | None = None
) -> bool:
    """The whole decision (an Allow at every level of the path, no Deny), identity side full access."""
    spec = LAYOUT.team(team)
    assert spec is not None
    full = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    levels: list[list[Any]] = [[full]]
    for path in ("Workloads", LAYOUT.ou_for_stage("staging")):
        levels.append([full, *(RENDERED.policies[n].document for n in RENDERED.ou_policies.get(path, ()))])
    account = [RENDERED.tier_policies[spec.gpu_tier], RENDERED.team_policies[(team, "staging")]]
    levels.append([full, *(RENDERED.policies[n].document for n in account)])
    request = Request(action, resource, TEAM_ROLE, {"aws:RequestedRegion": region, **(context or {})})
    return decide(request, Policies(identity=[full], scps=levels)).allowed


def _source(profile: str, region: str = "us-east-1") -> str:
    return bedrock.profile_arn(profile, region, ACCOUNT)


def _routed(
    team: str, profile: str, destination: str, drop: tuple[str, ...] = (), source: str = "us-east-1"
) -> list[str]:
    """The call Bedrock makes on the profile's model in `destination` for the profile invoked in `source`."""
    model = bedrock.model_arn(bedrock.profile_model(profile), destination)
    ctx = {"bedrock:InferenceProfileArn": _source(profile, source)}
    return _denied_by(team, "bedrock:InvokeModel", model, destination, drop=drop, context=ctx)


@pytest.mark.parametrize("action", INVOKE)
@pytest.mark.parametrize("tier", ["inference", "training"])
def test_bedrock_tier_allowed_model_and_profile_allowed(tier: str, action: str) -> None:
    # GIVEN a team of a tier that lists Titan and the Claude 3.5 Haiku profile
    team = TIER_TEAM[tier]
    # THEN invoking the model directly, and the profile in the source region, is allowed end to end
    assert _denied_by(team, action, bedrock.model_arn(TITAN, "us-east-1")) == []
    assert _allowed(team, action, bedrock.model_arn(TITAN, "us-east-1"))
    assert _denied_by(team, action, _source(HAIKU)) == []
    assert _allowed(team, action, _source(HAIKU))


@pytest.mark.parametrize("tier", ["inference", "training"])
def test_bedrock_tier_profile_routes_to_every_destination_region(tier: str) -> None:
    # GIVEN every profile of the tier and every region it routes to (us-east-2 is outside the organization's regions)
    team = TIER_TEAM[tier]
    profiles = LAYOUT.gpu_tiers[tier].bedrock_inference_profiles
    assert profiles
    for profile in profiles:
        for destination in LAYOUT.bedrock_profile_regions[profile]:
            # THEN the routed call on the foundation model in that region goes through
            assert _routed(team, profile, destination) == [], (profile, destination)
            model = bedrock.model_arn(bedrock.profile_model(profile), destination)
            ctx = {"bedrock:InferenceProfileArn": _source(profile)}
            assert _allowed(team, "bedrock:InvokeModel", model, destination, ctx)


def test_bedrock_tier_region_exemption_is_only_for_routed_calls() -> None:
    # GIVEN team-backend (us-east-1, us-west-2) calling Claude 3.5 Haiku in us-east-2 itself, not through a profile
    model = bedrock.model_arn(bedrock.profile_model(HAIKU), "us-east-2")
    # THEN both region fences deny it; with them deleted it passes (the model is a destination of the tier's profile)
    fences = ["DenyInvokeOutsideAllowedRegions", "DenyInvokeOutsideTeamRegions"]
    assert _denied_by("team-backend", "bedrock:InvokeModel", model, "us-east-2") == fences
    assert _denied_by("team-backend", "bedrock:InvokeModel", model, "us-east-2", drop=tuple(fences)) == []
    # AND a profile invoked from a region outside the team's is fenced by the source region it names
    assert _routed("team-backend", HAIKU, "us-east-2", source="eu-west-1") == fences[1:]
    assert _routed("team-backend", HAIKU, "us-east-2", source="eu-west-1", drop=tuple(fences[1:])) == []
    # AND the exemption is on the invoke actions only: any other action carrying the key is still region-fenced
    ctx = {"bedrock:InferenceProfileArn": _source(HAIKU)}
    others = ["DenyOutsideAllowedRegions", "DenyOutsideTeamRegions"]
    assert _denied_by("team-backend", "bedrock:CreateGuardrail", "*", "us-east-2", context=ctx) == others
    assert _denied_by("team-backend", "ec2:DescribeInstances", "*", "us-east-2", context=ctx) == others


def test_bedrock_tier_profile_model_outside_its_destinations_denied() -> None:
    # GIVEN the profile's model in a region it does not route to (eu-west-1 is in the organization's allow-list)
    sid = "BedrockTierInferenceInvoke"
    # THEN the tier's allow-list denies it, and only the tier's statement: with it deleted, the routed call passes
    assert _routed("team-backend", HAIKU, "eu-west-1") == [sid]
    assert _routed("team-backend", HAIKU, "eu-west-1", drop=(sid,)) == []


@pytest.mark.parametrize(
    ("tier", "model", "sid"),
    [
        ("inference", COHERE, "BedrockTierInferenceInvoke"),
        ("none", TITAN, "BedrockTierNoneInvoke"),
        ("inference", "anthropic.claude-3-opus-20240229-v1:0", "BedrockTierInferenceInvoke"),
    ],
)
@pytest.mark.parametrize("action", INVOKE)
def test_bedrock_tier_higher_tier_model_denied(tier: str, model: str, sid: str, action: str) -> None:
    # GIVEN a model the team's tier does not list (a higher tier's, or any for the none tier)
    team = TIER_TEAM[tier]
    arn = bedrock.model_arn(model, "us-east-1")
    # THEN exactly the tier's invoke statement denies it, the platform is not denied, and without it the call passes
    assert _denied_by(team, action, arn) == [sid]
    assert not _allowed(team, action, arn)
    for platform in PLATFORM:
        assert _denied_by(team, action, arn, principal=platform) == []
    assert _denied_by(team, action, arn, drop=(sid,)) == []


def test_bedrock_tier_training_invokes_the_higher_model() -> None:
    assert _denied_by("team-mlops", "bedrock:InvokeModel", bedrock.model_arn(COHERE, "us-west-2"), "us-west-2") == []


def test_bedrock_tier_none_invokes_no_profile() -> None:
    sid = "BedrockTierNoneInvoke"
    assert _denied_by("team-frontend", "bedrock:InvokeModel", _source(HAIKU)) == [sid]
    assert _denied_by("team-frontend", "bedrock:InvokeModel", _source(HAIKU), drop=(sid,)) == []


CUSTOMIZATION = [
    ("bedrock:CreateProvisionedModelThroughput", f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/*"),
    ("bedrock:CreateModelCustomizationJob", f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-customization-job/*"),
    ("bedrock:CreateModelImportJob", f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-import-job/*"),
]


def _own_tags(team: str) -> dict[str, str]:
    """A create carries the account's own cost tags (the cost-tags group denies it otherwise)."""
    spec = LAYOUT.team(team)
    assert spec is not None
    return {
        "aws:RequestTag/team": team,
        "aws:RequestTag/stage": "staging",
        "aws:RequestTag/cost-center": spec.cost_center,
    }


@pytest.mark.parametrize(("action", "resource"), CUSTOMIZATION)
@pytest.mark.parametrize("tier", ["none", "inference"])
def test_bedrock_tier_customization_denied_below_training(tier: str, action: str, resource: str) -> None:
    # GIVEN provisioned throughput, a customization or an import job, properly tagged, from a team below training
    team = TIER_TEAM[tier]
    sid = f"BedrockTier{tier.capitalize()}Customization"
    tags = _own_tags(team)
    # THEN exactly the tier's customization statement denies it; not the platform; without it the request passes
    assert _denied_by(team, action, resource, context=tags) == [sid]
    assert _denied_by(team, action, resource, context=tags, drop=(sid,)) == []
    for platform in PLATFORM:
        assert _denied_by(team, action, resource, principal=platform, context=tags) == []


@pytest.mark.parametrize(("action", "resource"), CUSTOMIZATION)
def test_bedrock_tier_customization_allowed_in_training(action: str, resource: str) -> None:
    tags = _own_tags("team-mlops")
    assert _denied_by("team-mlops", action, resource, context=tags) == []
    assert _allowed("team-mlops", action, resource, context=tags)


def test_bedrock_tier_training_invokes_its_provisioned_model_inference_does_not() -> None:
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abc123"
    assert _denied_by("team-mlops", "bedrock:InvokeModel", arn) == []
    assert _denied_by("team-backend", "bedrock:InvokeModel", arn) == ["BedrockTierInferenceInvoke"]


@pytest.mark.parametrize(
    "action", ["bedrock:PutModelInvocationLoggingConfiguration", "bedrock:DeleteModelInvocationLoggingConfiguration"]
)
@pytest.mark.parametrize("tier", sorted(TIER_TEAM))
def test_bedrock_invocation_logging_protected_from_team_roles(tier: str, action: str) -> None:
    # GIVEN a team role changing the account's model-invocation logging
    team = TIER_TEAM[tier]
    sid = "ProtectActivityLogs"
    # THEN the baseline denies it, not the platform's roles, and without the statement it passes
    assert _denied_by(team, action, "*") == [sid]
    assert not _allowed(team, action, "*")
    for platform in PLATFORM:
        assert _denied_by(team, action, "*", principal=platform) == []
    assert _denied_by(team, action, "*", drop=(sid,)) == []


def _template_denials(team: str, variables: dict[str, Any]) -> list[str]:
    """Every denial of what the rag-bedrock template's application and knowledge base invoke, in the team's regions."""
    spec = LAYOUT.team(team)
    assert spec is not None
    out = []
    for region in spec.regions:
        embed = bedrock.model_arn(variables["embedding_model_id"], region)
        out += _denied_by(team, "bedrock:InvokeModel", embed, region)
        for profile in variables["inference_profile_ids"]:
            out += _denied_by(team, "bedrock:InvokeModel", _source(profile, region), region)
            for destination in LAYOUT.bedrock_profile_regions.get(profile, ()):
                out += _routed(team, profile, destination, source=region)
    return out


def test_bedrock_tier_rag_template_serves_exactly_the_tiers_that_may_invoke_its_models() -> None:
    # GIVEN what the rag-bedrock template invokes (team-backend runs it in the demo, inference tier)
    template = yaml.safe_load((REPO_ROOT / "terraform/templates/workloads/rag-bedrock/template.yaml").read_text())
    variables = template["values"]["common"]
    # THEN each tier it serves allows its embedding model and each profile (with every destination) from each of the
    # team's regions, and the tiers it does not serve are denied them (so a request for it fails up front instead)
    for tier, team in TIER_TEAM.items():
        denials = _template_denials(team, variables)
        assert (denials == []) == (tier in template["gpu_tiers"]), (tier, denials)


def _with_tier(**changes: Any) -> dict[str, Any]:
    raw = yaml.safe_load((REPO_ROOT / "landing_zone/layout.yaml").read_text())
    raw["gpu_tiers"]["inference"].update(changes)
    return raw


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bedrock_inference_profiles": ["us.meta.llama3-3-70b-instruct-v1:0"]}, "no destination regions"),
        ({"bedrock_inference_profiles": ["global.anthropic.claude-sonnet-4-20250514-v1:0"]}, "no global."),
        ({"bedrock_models": ["arn:aws:bedrock:*::foundation-model/x"]}, "not Bedrock model ids"),
    ],
)
def test_bedrock_tier_layout_rejects_unroutable_lists(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Layout.model_validate(_with_tier(**changes))


def test_bedrock_profile_sources_are_any_profile_of_any_account_called_in_each_region() -> None:
    # GIVEN two regions WHEN their profile sources are listed THEN one ARN pattern a region, in order
    sources = bedrock.profile_sources(("us-east-1", "eu-west-1"))
    assert sources == [
        "arn:aws:bedrock:us-east-1:*:inference-profile/*",
        "arn:aws:bedrock:eu-west-1:*:inference-profile/*",
    ]
    # AND as the region fence reads them (ArnLike): any profile id of any account in those regions, no other region
    fence = {"Effect": "Deny", "Action": "bedrock:InvokeModel", "Resource": "*"}
    fence["Condition"] = {"ArnLike": {"bedrock:InferenceProfileArn": sources}}
    for source, matched in (("us-east-1", True), ("eu-west-1", True), ("us-west-2", False)):
        request = Request(
            "bedrock:InvokeModel", "*", TEAM_ROLE, {"bedrock:InferenceProfileArn": _source(HAIKU, source)}
        )
        assert bool(denying_statements([{"Statement": [fence]}], request)) is matched, source


@pytest.mark.parametrize("tier", sorted(TIER_TEAM))
def test_bedrock_allowance_carries_the_tiers_lists_and_its_customization(tier: str) -> None:
    spec = LAYOUT.gpu_tiers[tier]
    allowed = bedrock.allowance(LAYOUT, spec)
    # the tier's own lists, each profile with the regions the layout routes it to, customization as the tier says
    assert allowed.models == spec.bedrock_models
    assert allowed.profiles == {p: LAYOUT.bedrock_profile_regions[p] for p in spec.bedrock_inference_profiles}
    assert allowed.customization is spec.bedrock_customization
    # and the tier's own custom and provisioned models are among its ARNs exactly when it may customise
    own = {f"arn:aws:bedrock:*:*:{kind}/*" for kind in ("custom-model", "imported-model", "provisioned-model")}
    assert (own <= set(allowed.arns)) is spec.bedrock_customization and (own & set(allowed.arns) in (own, set()))
