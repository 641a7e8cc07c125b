"""vending.aws.identity: callers are principals from the signature; a typed name never decides who acts."""

from __future__ import annotations

import pytest

from vending.aws.identity import Principal, check_claim, principal_from_arn, same_principal
from vending.exceptions import IdentityMismatch, InvalidRequest, NotSigned

ADMIN_SESSION = "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/alice"
ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin"


def test_principal_from_arn_normalises_a_role_session_to_its_role_and_session() -> None:
    # GIVEN the ARNs STS and API Gateway report, WHEN parsed, THEN a session is its role's ARN plus the session name
    assert principal_from_arn(ADMIN_SESSION) == Principal(ADMIN, "alice")
    assert principal_from_arn("arn:aws:iam::123456789012:role/ops/PlatformAdmin") == Principal(ADMIN)
    assert principal_from_arn("arn:aws:iam::123456789012:user/carol") == Principal(
        "arn:aws:iam::123456789012:user/carol"
    )
    assert principal_from_arn("arn:aws-us-gov:sts::123456789012:assumed-role/R/s").arn == (
        "arn:aws-us-gov:iam::123456789012:role/R"
    )
    # AND anything else is not a signed identity
    for bad in ("alice", "", "arn:aws:sts::123456789012:federated-user/x", "arn:aws:iam::12345:role/R"):
        with pytest.raises(NotSigned):
            principal_from_arn(bad)


def test_same_principal_ignores_session_names_and_case_but_not_role_or_account() -> None:
    # GIVEN two sessions of one role: one principal (a session name is whatever the caller chose)
    assert same_principal(ADMIN_SESSION, "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/bob")
    assert same_principal(ADMIN, "arn:aws:iam::123456789012:role/platformadmin")
    # AND another role, or the same role name in another account: another principal
    assert not same_principal(ADMIN, "arn:aws:iam::123456789012:role/PlatformApprover")
    assert not same_principal(ADMIN, "arn:aws:iam::210987654321:role/PlatformAdmin")
    # AND legacy free-text records compare as text, so their author still cannot approve them
    assert same_principal("Alice", "alice ") and not same_principal("alice", "bob")


def test_check_claim_accepts_only_the_signed_caller() -> None:
    caller = principal_from_arn(ADMIN_SESSION)
    # GIVEN no claim, or a claim naming the caller (its role or its very session), THEN the caller is taken
    for claim in (None, ADMIN, ADMIN_SESSION):
        assert check_claim("approved_by", claim, caller) == caller
    # AND an empty or oversized claim is refused naming the field (issue 23: never read as "no claim")
    for claim, problem in (("", "empty"), ("  ", "empty"), ("x" * 10_000, "10000 characters, over 1024")):
        with pytest.raises(InvalidRequest, match=rf"^approved_by: {problem}"):
            check_claim("approved_by", claim, caller)
    # AND a claim naming anyone else (another role, another session of the same role, a free-text name) is refused
    for claim in (
        "arn:aws:iam::123456789012:role/PlatformApprover",
        "arn:aws:sts::123456789012:assumed-role/PlatformAdmin/bob",
        "bob@example.com",
    ):
        with pytest.raises(IdentityMismatch, match=r"approved_by: names .* signed by arn:aws:iam::123456789012:role/"):
            check_claim("approved_by", claim, caller)
