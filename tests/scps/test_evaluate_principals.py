"""scps.evaluate's principals: who a caller is (Principal.from_arn, Request.keys), how a resource policy's Principal and
NotPrincipal name it (and how strongly), and what that strength decides: within an account a grant to the caller
itself needs no identity policy, a grant to its account does, and only a grant to the session or user itself passes
a permissions boundary or a session policy. Whole Decisions are compared. Written to kill mutation survivors of
scps/evaluate.py (benchmarks/mutation_survivors.md)."""

from __future__ import annotations

from typing import Any

import pytest

from scps.evaluate import (
    BOUNDARY,
    IDENTITY,
    RESOURCE,
    SESSION,
    Decision,
    Policies,
    Principal,
    Request,
    decide,
    denial_message,
    denying_statements,
)

A, B = "111122223333", "444455556666"
ROLE = f"arn:aws:iam::{A}:role/team-ci"
SESSION_ARN = f"arn:aws:sts::{A}:assumed-role/team-ci/build-7"
USER = f"arn:aws:iam::{A}:user/bob"
FEDERATED_USER = f"arn:aws:sts::{A}:federated-user/bob"
OBJECT = "arn:aws:s3:::bucket/key"
ALLOWED = Decision(True, "allowed", "", None)
ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
NOTHING_OF_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}
NO_IDENTITY = Decision(False, "no_identity_allow", IDENTITY)
NO_RESOURCE = Decision(False, "no_resource_allow", RESOURCE)
NO_BOUNDARY = Decision(False, "no_boundary_allow", BOUNDARY)


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def grant(principal: Any, action: str = "s3:GetObject", element: str = "Principal") -> dict[str, Any]:
    return doc({"Sid": "R", "Effect": "Allow", element: principal, "Action": action, "Resource": "*"})


def get(caller: str = ROLE, **context: Any) -> Request:
    return Request("s3:GetObject", OBJECT, caller, context=context, literal_resource=True)


# --- who the caller is ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "principal"),
    [
        (SESSION_ARN, Principal(ROLE, A, session_arn=SESSION_ARN)),  # a session: its role, its account
        (
            f"arn:aws-cn:sts::{A}:assumed-role/team-ci/s",
            Principal(
                f"arn:aws-cn:iam::{A}:role/team-ci", A, session_arn=f"arn:aws-cn:sts::{A}:assumed-role/team-ci/s"
            ),
        ),
        (f"{SESSION_ARN}/more", Principal(ROLE, A, session_arn=f"{SESSION_ARN}/more")),  # a "/" in the session name
        (ROLE, Principal(ROLE, A)),
        (USER, Principal(USER, A)),
        (f"arn:aws:iam::{A}", Principal(f"arn:aws:iam::{A}", A)),  # five parts: the fifth is the account
        ("arn:aws:iam:", Principal("arn:aws:iam:", "")),  # four: none
        ("team-ci", Principal("team-ci", "")),
        ("arn:aws:sts::12345:assumed-role/x/s", Principal("arn:aws:sts::12345:assumed-role/x/s", "12345")),
        (f"arn:aws:sts::{A}:assumed-role/team-ci/", Principal(f"arn:aws:sts::{A}:assumed-role/team-ci/", A)),
        (f"arn::sts::{A}:assumed-role/team-ci/s", Principal(f"arn::sts::{A}:assumed-role/team-ci/s", A)),
    ],
)
def test_principal_from_arn(arn: str, principal: Principal) -> None:
    assert Principal.from_arn(arn) == principal


@pytest.mark.parametrize(
    ("principal", "account"),
    [
        (Principal(ROLE), A),  # read from the ARN when not given
        (Principal(ROLE, B), B),  # given: it wins
        (Principal(FEDERATED_USER), A),
        (Principal(f"arn:aws:iam::{A}"), ""),  # an ARN needs a resource part to name an account
        (Principal(f"urn:aws:iam::{A}:role/x"), ""),
        (Principal("", service="config.amazonaws.com"), ""),
        (Principal("", session_arn=SESSION_ARN), A),  # the session's ARN is the value read
    ],
)
def test_principal_account_id(principal: Principal, account: str) -> None:
    assert principal.account_id == account


def test_request_keys_are_lower_cased_strings_with_the_principal_keys_aws_always_sets() -> None:
    # context values as JSON gives them: booleans and numbers too, alone or in a list
    context: dict[str, Any] = {"S3:Flag": True, "N": 5, "L": [False, "x", 3]}
    request = Request("s3:GetObject", principal_arn=SESSION_ARN, context=context)
    assert request.keys() == {
        "s3:flag": "true",
        "n": "5",
        "l": ["false", "x", "3"],
        "aws:principalarn": ROLE,  # the role, not the session
        "aws:principalaccount": A,
    }
    # AND what the caller set wins
    own = Request("s3:GetObject", principal_arn=ROLE, context={"aws:PrincipalArn": "x", "aws:PrincipalAccount": "y"})
    assert own.keys() == {"aws:principalarn": "x", "aws:principalaccount": "y"}


@pytest.mark.parametrize(
    "principal",
    [
        Principal("", service="config.amazonaws.com"),
        Principal("", federated="cognito-identity.amazonaws.com"),
        Principal(ROLE, A, service="config.amazonaws.com"),  # a service is never an IAM principal
        Principal(ROLE, A, federated="cognito-identity.amazonaws.com"),
        Principal(""),  # no ARN, no account
    ],
)
def test_request_keys_add_no_principal_keys_for_a_service_a_federated_caller_or_no_arn(principal: Principal) -> None:
    assert Request("s3:GetObject", principal=principal, context={"k": "v"}).keys() == {"k": "v"}


def test_request_keys_add_the_arn_without_an_account_when_none_is_known() -> None:
    assert Request("s3:GetObject", principal_arn="team-ci").keys() == {"aws:principalarn": "team-ci"}


# --- how a resource policy names the caller, and what each strength decides -------------------------------------
# Within one account, with no identity policy: a direct grant (the caller, its session's role, its user) allows, a
# grant to the account does not (the identity policy must allow as well), a grant to no one is no grant.


@pytest.mark.parametrize(
    ("caller", "principal", "decision"),
    [
        (ROLE, "*", ALLOWED),
        (ROLE, {"AWS": "*"}, ALLOWED),
        (ROLE, {"AWS": "**"}, ALLOWED),
        (ROLE, {"AWS": ROLE}, ALLOWED),
        (ROLE, {"AWS": [f"arn:aws:iam::{A}:role/other", ROLE]}, ALLOWED),  # any listed
        (ROLE, {"AWS": f"arn:aws:iam::{A}:role/other"}, NO_IDENTITY),
        (ROLE, {"AWS": A}, NO_IDENTITY),  # the account: the identity policy must allow too
        (ROLE, {"AWS": f"arn:aws:iam::{A}:root"}, NO_IDENTITY),
        (ROLE, {"AWS": [A, ROLE]}, ALLOWED),  # the strongest match decides
        (ROLE, {"AWS": [ROLE, A]}, ALLOWED),
        (ROLE, {"AWS": "AROAEXAMPLEID"}, NO_IDENTITY),  # a unique id never equals an ARN
        (ROLE, {"Service": "config.amazonaws.com"}, NO_IDENTITY),  # a service names no role
        (ROLE, {"Federated": "cognito-identity.amazonaws.com"}, NO_IDENTITY),
        (ROLE, {"CanonicalUser": ROLE}, NO_IDENTITY),
        (SESSION_ARN, {"AWS": SESSION_ARN}, ALLOWED),
        (SESSION_ARN, {"AWS": ROLE}, ALLOWED),  # a grant to the role covers its sessions
        (SESSION_ARN, {"AWS": f"arn:aws:iam::{A}:role/path/to/team-ci"}, ALLOWED),  # whatever the role's path
        (SESSION_ARN, {"AWS": f"arn:aws:iam::{A}:role/TEAM-CI"}, ALLOWED),  # role names ignore case
        (SESSION_ARN, {"AWS": f"arn:aws-cn:iam::{A}:role/team-ci"}, NO_IDENTITY),  # another partition
        (SESSION_ARN, {"AWS": f"arn:aws:iam::{B}:role/team-ci"}, NO_IDENTITY),  # another account
        (SESSION_ARN, {"AWS": f"arn:aws:iam::{A}:role/team-c"}, NO_IDENTITY),
        (SESSION_ARN, {"AWS": f"arn:aws:iam::{A}:user/team-ci"}, NO_IDENTITY),
        (FEDERATED_USER, {"AWS": USER}, ALLOWED),  # a federated user's session: its user
        (FEDERATED_USER, {"AWS": f"arn:aws:iam::{A}:user/alice"}, NO_IDENTITY),
        (FEDERATED_USER, {"AWS": f"arn:aws:iam::{B}:user/bob"}, NO_IDENTITY),
        (FEDERATED_USER, {"AWS": FEDERATED_USER}, ALLOWED),
    ],
)
def test_a_resource_policy_grant_within_the_account_without_identity_policy(
    caller: str, principal: Any, decision: Decision
) -> None:
    assert decide(get(caller), Policies(resource=grant(principal), resource_account=A)) == decision


@pytest.mark.parametrize(
    ("principal", "decision"),
    [
        ({"AWS": A}, ALLOWED),  # cross-account: the account's grant and the identity policy together allow
        ({"AWS": f"arn:aws:iam::{A}:root"}, ALLOWED),
        ({"AWS": f"arn:aws:iam::{B}:root"}, NO_RESOURCE),
        ({"AWS": B}, NO_RESOURCE),
        ({"AWS": ROLE}, ALLOWED),
        ({"AWS": f"arn:aws:iam::{A}:role/other"}, NO_RESOURCE),
    ],
)
def test_a_cross_account_grant_to_the_account_or_the_caller(principal: Any, decision: Decision) -> None:
    policies = Policies(identity=[ALL], resource=grant(principal), resource_account=B)
    assert decide(get(ROLE), policies) == decision


def test_a_cross_account_grant_still_needs_the_identity_policy() -> None:
    policies = Policies(identity=[NOTHING_OF_S3], resource=grant({"AWS": ROLE}), resource_account=B)
    assert decide(get(ROLE), policies) == NO_IDENTITY


SERVICE = Principal("", service="config.amazonaws.com")
FEDERATED = Principal("", federated="cognito-identity.amazonaws.com")


@pytest.mark.parametrize(
    ("who", "principal", "decision"),
    [
        (SERVICE, {"Service": "config.amazonaws.com"}, ALLOWED),
        (SERVICE, {"Service": "s3.amazonaws.com"}, NO_RESOURCE),
        (SERVICE, "*", ALLOWED),  # everyone includes a service
        (SERVICE, {"AWS": ROLE}, NO_RESOURCE),
        (SERVICE, {"AWS": "config.amazonaws.com"}, NO_RESOURCE),
        (SERVICE, {"Federated": "config.amazonaws.com"}, NO_RESOURCE),
        (FEDERATED, {"Federated": "cognito-identity.amazonaws.com"}, ALLOWED),
        (FEDERATED, {"Federated": "accounts.google.com"}, NO_IDENTITY),
        (FEDERATED, {"Service": "cognito-identity.amazonaws.com"}, NO_IDENTITY),
        (FEDERATED, {"AWS": "cognito-identity.amazonaws.com"}, NO_IDENTITY),
    ],
)
def test_service_and_federated_principals_are_named_by_their_own_kind(
    who: Principal, principal: Any, decision: Decision
) -> None:
    request = Request("s3:GetObject", OBJECT, "", principal=who, literal_resource=True)
    assert decide(request, Policies(resource=grant(principal))) == decision


@pytest.mark.parametrize(
    ("not_principal", "decision"),
    [
        ({"AWS": f"arn:aws:iam::{A}:role/other"}, ALLOWED),  # everyone but another role: the caller
        ({"AWS": ROLE}, NO_IDENTITY),  # everyone but the caller
        ({"AWS": A}, NO_IDENTITY),  # everyone outside the caller's account
        ({"AWS": [f"arn:aws:iam::{A}:role/other", ROLE]}, NO_IDENTITY),
    ],
)
def test_an_allow_with_not_principal_grants_everyone_not_listed(not_principal: Any, decision: Decision) -> None:
    policy = grant(not_principal, element="NotPrincipal")
    assert decide(get(ROLE), Policies(resource=policy, resource_account=A)) == decision
    # AND a boundary changes nothing for an Allow (only a Deny with NotPrincipal always applies to a bounded principal)
    bounded = Policies(boundary=ALL, resource=policy, resource_account=A)
    assert decide(get(ROLE), bounded) == decision


@pytest.mark.parametrize(
    "not_principal",
    [
        {"Service": "config.amazonaws.com"},  # a service is not the caller
        {"Federated": "cognito-identity.amazonaws.com"},
        {"CanonicalUser": ROLE},
        {"AWS": B},  # another account
        {"AWS": "AROAEXAMPLEID"},  # a unique id
    ],
)
def test_not_principal_listing_only_others_of_any_kind_applies_to_the_caller(not_principal: Any) -> None:
    policy = grant(not_principal, element="NotPrincipal")
    assert decide(get(ROLE), Policies(resource=policy, resource_account=A)) == ALLOWED


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": f"arn:aws:iam::{A}:role/other"},
        {"AWS": B},
        {"AWS": "AROAEXAMPLEID"},
        {"Service": "config.amazonaws.com"},
        {"Federated": "cognito-identity.amazonaws.com"},
        {"CanonicalUser": ROLE},
    ],
)
def test_a_resource_policy_deny_naming_someone_else_does_not_deny_the_caller(principal: Any) -> None:
    refusal = doc({"Sid": "R", "Effect": "Deny", "Principal": principal, "Action": "*", "Resource": "*"})
    assert decide(get(ROLE), Policies(identity=[ALL], resource=refusal, resource_account=A)) == ALLOWED


def test_a_unique_id_in_a_policy_names_no_caller_even_one_known_by_that_text() -> None:
    # a unique id (AROA..., AIDA...) is what a policy shows for a deleted principal: it never matches again
    caller = Request("s3:GetObject", OBJECT, principal=Principal("AIDAEXAMPLEID", A), literal_resource=True)
    assert decide(caller, Policies(resource=grant({"AWS": "AIDAEXAMPLEID"}), resource_account=A)) == NO_IDENTITY
    # AND the same text that is not a unique id (lower case) is compared as written
    lower = Request("s3:GetObject", OBJECT, principal=Principal("aidaexampleid", A), literal_resource=True)
    assert decide(lower, Policies(resource=grant({"AWS": "aidaexampleid"}), resource_account=A)) == ALLOWED


def test_a_statement_naming_no_principal_grants_and_denies_no_one() -> None:
    statement = {"Sid": "R", "Effect": "Allow", "Action": "*", "Resource": "*"}
    assert decide(get(ROLE), Policies(resource=doc(statement), resource_account=A)) == NO_IDENTITY
    refusal = {**statement, "Effect": "Deny"}
    assert decide(get(ROLE), Policies(identity=[ALL], resource=doc(refusal), resource_account=A)) == ALLOWED


def test_a_resource_policy_deny_without_sid_is_named_by_its_index() -> None:
    policy = doc(
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
    )
    assert decide(get(ROLE), Policies(identity=[ALL], resource=policy)) == Decision(
        False, "explicit_deny", RESOURCE, "2"
    )


# --- which grants pass a permissions boundary and a session policy ----------------------------------------------


@pytest.mark.parametrize(
    ("caller", "principal", "decision"),
    [
        (SESSION_ARN, SESSION_ARN, ALLOWED),  # the session itself
        (SESSION_ARN, ROLE, NO_BOUNDARY),  # its role: no
        (SESSION_ARN, [ROLE, SESSION_ARN], ALLOWED),  # the strongest match is the session's
        (SESSION_ARN, [SESSION_ARN, ROLE], ALLOWED),
        (SESSION_ARN, A, NO_BOUNDARY),
        (SESSION_ARN, "*", ALLOWED),
        (USER, USER, ALLOWED),  # a user itself
        (USER, A, NO_BOUNDARY),
        (FEDERATED_USER, FEDERATED_USER, ALLOWED),
        (FEDERATED_USER, USER, NO_BOUNDARY),  # its user: no
        (ROLE, ROLE, NO_BOUNDARY),  # a role (not a session of it): only a grant to everyone
        (ROLE, "*", ALLOWED),
        (ROLE, ["*"], ALLOWED),
        (ROLE, [ROLE, "*"], ALLOWED),
        (f"arn:aws:sts::{A}:other/x", f"arn:aws:sts::{A}:other/x", NO_BOUNDARY),  # neither a session, user nor role
    ],
)
def test_a_grant_to_the_caller_itself_passes_the_boundary_within_the_account(
    caller: str, principal: Any, decision: Decision
) -> None:
    # GIVEN an identity policy allowing everything, a boundary allowing nothing of S3, a bucket policy granting Get
    policies = Policies(identity=[ALL], boundary=NOTHING_OF_S3, resource=grant({"AWS": principal}), resource_account=A)
    assert decide(get(caller), policies) == decision


def test_every_statement_is_read_for_a_grant_that_passes_the_boundary() -> None:
    # GIVEN a bucket policy whose grant to the caller itself comes after a Deny, a grant to someone else and (for a
    # role) a grant naming the role, which does not pass its boundary
    others: list[dict[str, Any]] = [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/other"}, "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "*"},
    ]
    for caller, last in ((SESSION_ARN, SESSION_ARN), (ROLE, "*")):
        grant_last = {"Effect": "Allow", "Principal": {"AWS": last}, "Action": "s3:GetObject", "Resource": "*"}
        policy = doc(*others, grant_last)
        policies = Policies(identity=[ALL], boundary=NOTHING_OF_S3, resource=policy, resource_account=A)
        # THEN the last statement's grant passes the boundary
        assert decide(get(caller), policies) == ALLOWED, caller


def test_a_direct_grant_passes_the_session_policy_too_but_only_for_what_it_grants() -> None:
    session_policy = [NOTHING_OF_S3]
    direct = Policies(identity=[ALL], session=session_policy, resource=grant(SESSION_ARN), resource_account=A)
    assert decide(get(SESSION_ARN), direct) == ALLOWED
    put_only = Policies(
        identity=[ALL], session=session_policy, resource=grant(SESSION_ARN, "s3:PutObject"), resource_account=A
    )
    assert decide(get(SESSION_ARN), put_only) == Decision(False, "no_session_allow", SESSION)
    denying = Policies(
        identity=[ALL],
        boundary=NOTHING_OF_S3,
        resource=doc({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}),
        resource_account=A,
    )
    assert decide(get(SESSION_ARN), denying) == NO_BOUNDARY


@pytest.mark.parametrize(("resource", "decision"), [("arn:*:s3", ALLOWED), ("arn:aws:s3", NO_BOUNDARY)])
def test_a_grant_that_passes_the_boundary_reads_its_resource_as_a_resource_policy_does(
    resource: str, decision: Decision
) -> None:
    # a resource policy expands a short ARN with a wildcard and matches nothing with one without
    statement = {"Effect": "Allow", "Principal": {"AWS": SESSION_ARN}, "Action": "s3:GetObject", "Resource": resource}
    policies = Policies(identity=[ALL], boundary=NOTHING_OF_S3, resource=doc(statement), resource_account=A)
    assert decide(get(SESSION_ARN), policies) == decision


def test_a_grant_to_the_session_in_another_account_does_not_pass_the_boundary() -> None:
    policies = Policies(identity=[ALL], boundary=NOTHING_OF_S3, resource=grant(SESSION_ARN), resource_account=B)
    assert decide(get(SESSION_ARN), policies) == NO_BOUNDARY
    assert decide(get(SESSION_ARN), Policies(identity=[ALL], resource=grant(SESSION_ARN), resource_account=B)) == (
        ALLOWED
    )


# --- KMS key policies and role trust policies (scps.evaluate._account_trust) -----------------------------------

KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd"


def key_policy(principal: Any) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "kms:*", "Resource": "*"})


@pytest.mark.parametrize(
    ("resource", "principal", "identity", "decision"),
    [
        (KEY, f"arn:aws:iam::{A}:root", True, ALLOWED),  # the key policy enables IAM policies
        (KEY, f"arn:aws:iam::{A}:root", False, NO_IDENTITY),  # ... which must then allow
        (KEY, f"arn:aws:iam::{A}:role/other", True, NO_RESOURCE),  # it does not: IAM policies alone are not enough
        (KEY, ROLE, False, ALLOWED),  # a grant to the caller itself is enough
        (KEY.replace("key/", "KEY/"), f"arn:aws:iam::{A}:role/other", True, NO_RESOURCE),
        (f"{KEY}:v2", f"arn:aws:iam::{A}:role/other", True, NO_RESOURCE),  # the resource part: all after the 5th ":"
        (f"arn:aws:kms:us-east-1:{A}:alias/team", f"arn:aws:iam::{A}:role/other", True, ALLOWED),  # not a key
        ("*", f"arn:aws:iam::{A}:role/other", True, ALLOWED),  # no key named (kms:CreateKey, ListKeys)
        ("*", f"arn:aws:iam::{A}:role/other", False, NO_IDENTITY),  # ... then the identity policy decides
        (f"arn:aws:kms:us-east-1:{A}:alias/team", f"arn:aws:iam::{A}:role/other", False, NO_IDENTITY),
    ],
)
def test_a_key_policy_decides_whether_identity_policies_count(
    resource: str, principal: str, identity: bool, decision: Decision
) -> None:
    request = Request("kms:Decrypt", resource, ROLE, literal_resource=True)
    policies = Policies(
        identity=[ALL] if identity else [], resource=key_policy(principal), resource_account=A, resource_kind="kms"
    )
    assert decide(request, policies) == decision


@pytest.mark.parametrize(
    ("trust", "identity", "decision"),
    [
        (None, True, ALLOWED),  # no trust policy given: the identity policy decides
        (None, False, NO_IDENTITY),
        (f"arn:aws:iam::{A}:root", True, ALLOWED),  # trusts the account: the identity policy must allow as well
        (f"arn:aws:iam::{A}:root", False, NO_IDENTITY),
        (f"arn:aws:iam::{A}:role/other", True, NO_RESOURCE),  # trusts someone else
        (ROLE, False, ALLOWED),  # trusts the caller itself
    ],
)
def test_a_trust_policy_must_name_the_caller_or_its_account(
    trust: str | None, identity: bool, decision: Decision
) -> None:
    request = Request("sts:AssumeRole", f"arn:aws:iam::{A}:role/target", ROLE, literal_resource=True)
    policy = (
        None if trust is None else doc({"Effect": "Allow", "Principal": {"AWS": trust}, "Action": "sts:AssumeRole"})
    )
    policies = Policies(identity=[ALL] if identity else [], resource=policy, resource_account=A, resource_kind="trust")
    assert decide(request, policies) == decision


def test_an_ordinary_resource_policy_naming_someone_else_leaves_the_identity_policy_enough() -> None:
    policies = Policies(identity=[ALL], resource=key_policy(f"arn:aws:iam::{A}:role/other"), resource_account=A)
    assert decide(Request("kms:Decrypt", KEY, ROLE, literal_resource=True), policies) == ALLOWED


# --- denying_statements and denial_message ---------------------------------------------------------------------


def test_denying_statements_names_each_deny_that_applies_in_order() -> None:
    documents = [
        doc(
            {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NoGet", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"},
            {"Sid": "NoPut", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
        ),
        {"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}},  # one statement, no Sid
        '{"Statement": [{"Sid": "Json", "Effect": "Deny", "Action": "*", "Resource": "*"}]}',  # a JSON string
    ]
    assert denying_statements(documents, get()) == ["NoGet", "?", "Json"]  # type: ignore[arg-type]
    # AND a short Resource ARN is read as an identity policy reads it (expanded)
    short = doc({"Sid": "Short", "Effect": "Deny", "Action": "*", "Resource": "arn:aws:s3"})
    assert denying_statements([short], get()) == ["Short"]
    assert denying_statements([doc({"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"})], get()) == []


@pytest.mark.parametrize(
    ("resource", "decision", "message"),
    [
        (
            "*",
            Decision(False, "no_identity_allow", IDENTITY),
            f"User: {ROLE} is not authorized to perform: s3:ListAllMyBuckets because no identity-based policy "
            "allows the s3:ListAllMyBuckets action",
        ),
        (
            "*",
            Decision(False, "explicit_deny", IDENTITY, "D"),
            f"User: {ROLE} is not authorized to perform: s3:ListAllMyBuckets with an explicit deny in an "
            "identity-based policy",
        ),
        (
            OBJECT,
            Decision(False, "explicit_deny", RESOURCE, "D"),
            f"User: {ROLE} is not authorized to perform: s3:ListAllMyBuckets on resource: {OBJECT} with an explicit "
            "deny in a resource-based policy",
        ),
    ],
)
def test_denial_message_wording(resource: str, decision: Decision, message: str) -> None:
    assert denial_message(Request("s3:ListAllMyBuckets", resource, ROLE), decision, ROLE) == message


@pytest.mark.parametrize("letter", "abcdefghijklmnopqrstuvwxyzX")
def test_denial_message_article_is_an_before_a_vowel_only(letter: str) -> None:
    decision = Decision(False, "explicit_deny", f"{letter}-policy", "D")
    message = denial_message(Request("s3:ListAllMyBuckets", "*", ROLE), decision, ROLE)
    article = "an" if letter in "aeiou" else "a"
    assert message.endswith(f"with an explicit deny in {article} {letter}-policy")
