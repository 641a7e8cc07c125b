"""How a Terraform state's resource instance is named as the orphan inventory names its kind (no emulator)."""

from __future__ import annotations

import pytest

from landing_zone.local.orphans import ACCOUNT_KINDS, arn_name, state_names


@pytest.mark.parametrize(
    ("arn", "kind", "name"),
    [
        ("arn:aws:s3:::team-data", "bucket", "team-data"),
        ("arn:aws:s3:::team-data/key", "tagged_resource", "arn:aws:s3:::team-data/key"),
        ("arn:aws:iam::111122223333:role/stack/NodeRole", "iam_role", "NodeRole"),
        ("arn:aws:iam::111122223333:role/NodeRole", "iam_role", "NodeRole"),
        ("arn:aws:iam::111122223333:policy/stack/Reads", "iam_policy", "Reads"),
        ("arn:aws:iam::111122223333:user/ci", "iam_user", "ci"),
        (
            "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com",
            "oidc_provider",
            "token.actions.githubusercontent.com",
        ),
        ("arn:aws:kms:eu-west-1:111122223333:key/k-1", "kms_key", "eu-west-1:k-1"),
        ("arn:aws:kms:eu-west-1:111122223333:alias/data", "kms_alias", "eu-west-1:alias/data"),
        ("arn:aws:dynamodb:us-east-1:111122223333:table/locks", "dynamodb_table", "us-east-1:locks"),
        ("arn:aws:logs:us-east-1:111122223333:log-group:/app", "log_group", "us-east-1:/app"),
        ("arn:aws:logs:us-east-1:111122223333:log-group:/app:*", "log_group", "us-east-1:/app"),
        ("arn:aws:budgets::111122223333:budget/monthly", "budget", "monthly"),
        ("arn:aws:sns:us-east-1:111122223333:topic", "tagged_resource", "arn:aws:sns:us-east-1:111122223333:topic"),
        (
            "arn:aws:iam::111122223333:instance-profile/p",
            "tagged_resource",
            "arn:aws:iam::111122223333:instance-profile/p",
        ),
        ("not-an-arn", "tagged_resource", "not-an-arn"),
    ],
)
def test_an_arn_is_named_as_its_kind_is_inventoried(arn: str, kind: str, name: str) -> None:
    assert kind in ACCOUNT_KINDS
    assert arn_name(arn) == (kind, name)


def test_role_policies_are_named_from_their_role_and_name() -> None:
    assert state_names("aws_iam_role_policy", {"role": "R", "name": "P", "id": "R:P"}) == [
        ("role_policy", "R:inline:P")
    ]
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert state_names("aws_iam_role_policy_attachment", {"role": "R", "policy_arn": arn}) == [
        ("role_policy", f"R:attached:{arn}")
    ]
    role = {
        "arn": "arn:aws:iam::111122223333:role/R",
        "name": "R",
        "inline_policy": [{"name": "A", "policy": "{}"}, {"name": "", "policy": ""}],
        "managed_policy_arns": [arn],
    }
    assert sorted(state_names("aws_iam_role", role)) == [
        ("iam_role", "R"),
        ("role_policy", "R:attached:" + arn),
        ("role_policy", "R:inline:A"),
    ]


def test_an_instance_without_what_names_it_names_nothing() -> None:
    # A policy without its role, an ARN that is empty or not a string: nothing owned by mistake
    assert state_names("aws_iam_role_policy", {"name": "P"}) == []
    assert state_names("aws_iam_role_policy_attachment", {"role": "R"}) == []
    assert state_names("aws_instance", {"arn": ""}) == []
    assert state_names("aws_instance", {"arn": None}) == []
    assert state_names("aws_iam_role", {"arn": "arn:aws:iam::1:role/R"}) == [("iam_role", "R")]
