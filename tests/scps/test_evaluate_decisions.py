"""scps.evaluate.decide, answer by answer: the whole Decision (allowed, reason, policy kind, statement) for each way
a request is decided, and how each policy kind reads a short ARN. Written to kill mutation survivors of
scps/evaluate.py (benchmarks/mutation_survivors.md): each assertion compares the complete Decision."""

from __future__ import annotations

from typing import Any

import pytest

from scps.evaluate import (
    BOUNDARY,
    IDENTITY,
    RCP,
    RESOURCE,
    SCP,
    SESSION,
    Decision,
    Policies,
    Principal,
    Request,
    decide,
)

ROLE = "arn:aws:iam::111122223333:role/team-ci"
OBJECT = "arn:aws:s3:::bucket/key"
ALLOWED = Decision(True, "allowed", "", None)


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "*", "Resource": resource, **extra}


def deny(sid: str, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Deny", "Action": "*", "Resource": "*", **extra}


ALL = doc(allow())
GET = Request("s3:GetObject", OBJECT, ROLE, literal_resource=True)
# A condition every request of ROLE meets: the statement is read with the request's condition keys.
IN_ACCOUNT = {"Condition": {"StringEquals": {"aws:PrincipalAccount": "111122223333"}}}
SERVICE = Principal("", "", service="config.amazonaws.com")


def test_an_allowed_request_is_exactly_allowed() -> None:
    assert decide(GET, Policies(identity=[ALL])) == ALLOWED


@pytest.mark.parametrize("action", ["sts:GetCallerIdentity", "STS:getcalleridentity"])
def test_get_caller_identity_needs_no_grant_and_nothing_denies_it(action: str) -> None:
    denied_everywhere = Policies(identity=[doc(deny("D"))], scps=[[doc(deny("S"))]], boundary=doc(deny("B")))
    assert decide(Request(action, "*", ROLE), denied_everywhere) == ALLOWED
    # AND a service principal gets no such pass: without a resource policy naming it, it is not allowed
    service = Request(action, "*", "", principal=SERVICE)
    assert decide(service, Policies()) == Decision(False, "no_resource_allow", RESOURCE)


def test_an_explicit_deny_names_its_policy_kind_and_statement() -> None:
    assert decide(GET, Policies(identity=[ALL, doc(deny("NoGet"))])) == Decision(
        False, "explicit_deny", IDENTITY, "NoGet"
    )
    assert decide(GET, Policies(identity=[ALL], rcps=[[doc(allow(), deny("RcpNo"))]])) == Decision(
        False, "explicit_deny", RCP, "RcpNo"
    )
    assert decide(GET, Policies(identity=[ALL], boundary=doc(allow(), deny("BNo")))) == Decision(
        False, "explicit_deny", BOUNDARY, "BNo"
    )
    assert decide(GET, Policies(identity=[ALL], session=[doc(deny("SNo"))])) == Decision(
        False, "explicit_deny", SESSION, "SNo"
    )


# How each policy kind reads a Resource ARN of fewer than six parts (scps.evaluate._SHORT_ARN).
SHORT = "arn:aws:s3"


def test_identity_boundary_and_session_policies_expand_a_short_arn() -> None:
    expanded = doc(allow(SHORT, **IN_ACCOUNT))
    assert decide(GET, Policies(identity=[expanded])) == ALLOWED
    assert decide(GET, Policies(identity=[ALL], boundary=expanded)) == ALLOWED
    assert decide(GET, Policies(identity=[ALL], session=[expanded])) == ALLOWED


def test_scps_and_rcps_reject_a_short_arn_without_a_wildcard() -> None:
    short = doc(allow(SHORT, **IN_ACCOUNT))
    assert decide(GET, Policies(identity=[ALL], scps=[[short]])) == Decision(False, "no_scp_allow", SCP)
    assert decide(GET, Policies(identity=[ALL], rcps=[[short]])) == Decision(False, "no_rcp_allow", RCP)
    # AND an SCP expands one that ends in a wildcard, an RCP still rejects it
    wild = doc(allow(SHORT + ":*", **IN_ACCOUNT))
    assert decide(GET, Policies(identity=[ALL], scps=[[wild]])) == ALLOWED
    assert decide(GET, Policies(identity=[ALL], rcps=[[wild]])) == Decision(False, "no_rcp_allow", RCP)


def test_a_service_principal_is_decided_by_the_resource_policy_alone() -> None:
    request = Request("s3:PutObject", OBJECT, "", principal=SERVICE, literal_resource=True)
    names_it = doc(
        {"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "*", "Resource": "*"}
    )
    # GIVEN identity, boundary and session policies that would deny anyone else: none of them apply to a service
    others = {"identity": [doc(deny("D"))], "boundary": doc(deny("B")), "session": [doc(deny("S"))]}
    assert decide(request, Policies(resource=names_it, **others)) == ALLOWED
    assert decide(request, Policies(resource=doc(allow(Principal={"AWS": ROLE})), **others)) == Decision(
        False, "no_resource_allow", RESOURCE
    )


def test_a_not_principal_deny_always_applies_to_a_principal_with_a_boundary() -> None:
    # GIVEN a bucket policy denying everyone but ROLE, and ROLE allowed everything
    policy = doc({"Sid": "OnlyCi", "Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "*", "Resource": "*"})
    unbounded = Policies(identity=[ALL], resource=policy, resource_account="111122223333")
    # THEN ROLE is allowed without a boundary, and denied with one (AWS's NotPrincipal rule for bounded principals)
    assert decide(GET, unbounded) == ALLOWED
    bounded = Policies(identity=[ALL], boundary=ALL, resource=policy, resource_account="111122223333")
    assert decide(GET, bounded) == Decision(False, "explicit_deny", RESOURCE, "OnlyCi")


def test_a_grant_to_the_session_itself_passes_the_boundary_when_its_conditions_hold() -> None:
    # GIVEN a session of ROLE whose boundary allows nothing of S3, and a bucket policy granting that session directly
    session = "arn:aws:sts::111122223333:assumed-role/team-ci/build-7"
    request = Request("s3:GetObject", OBJECT, session, literal_resource=True)
    grant = {"Effect": "Allow", "Principal": {"AWS": session}, "Action": "s3:GetObject", "Resource": "*"}
    boundary = doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})

    def policies(condition: str) -> Policies:
        statement = {**grant, "Condition": {"StringEquals": {"aws:PrincipalAccount": condition}}}
        return Policies(identity=[ALL], boundary=boundary, resource=doc(statement), resource_account="111122223333")

    # THEN the grant's conditions are read with the request's keys: met, it bypasses the boundary; not met, no grant
    assert decide(request, policies("111122223333")) == ALLOWED
    assert decide(request, policies("999999999999")) == Decision(False, "no_boundary_allow", BOUNDARY)


@pytest.mark.parametrize(
    ("tag", "values", "allowed"),
    [
        ("team-b", ["TEAM-A"], True),
        ("team-a", ["TEAM-A"], False),  # equal but for case: not "not equal"
        ("TEAM-A", ["x", "team-a"], False),  # every value must differ
        ("team-c", ["x", "team-a"], True),
    ],
)
def test_string_not_equals_ignore_case(tag: str, values: list[str], allowed: bool) -> None:
    statement = allow(Condition={"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": values}})
    request = Request("s3:GetObject", OBJECT, ROLE, context={"aws:PrincipalTag/team": tag}, literal_resource=True)
    expected = ALLOWED if allowed else Decision(False, "no_identity_allow", IDENTITY)
    assert decide(request, Policies(identity=[doc(statement)])) == expected


def test_string_not_equals_ignore_case_resolves_policy_variables() -> None:
    statement = allow(Condition={"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "${aws:PrincipalTag/owner}"}})
    context = {"aws:PrincipalTag/team": "team-a", "aws:PrincipalTag/owner": "TEAM-B"}
    request = Request("s3:GetObject", OBJECT, ROLE, context=context, literal_resource=True)
    assert decide(request, Policies(identity=[doc(statement)])) == ALLOWED
    same = Request("s3:GetObject", OBJECT, ROLE, context={**context, "aws:PrincipalTag/owner": "TEAM-A"})
    assert decide(same, Policies(identity=[doc(statement)])) == Decision(False, "no_identity_allow", IDENTITY)


def test_statement_applies_reads_action_resource_and_condition() -> None:
    from scps.evaluate import statement_applies

    statement = {"Effect": "Deny", "Action": "s3:Get*", "Resource": SHORT, **IN_ACCOUNT}
    assert statement_applies(statement, GET)
    assert not statement_applies(statement, Request("s3:PutObject", OBJECT, ROLE, literal_resource=True))
    other_account = Request("s3:GetObject", OBJECT, "arn:aws:iam::999999999999:role/x", literal_resource=True)
    assert not statement_applies(statement, other_account)


@pytest.mark.parametrize(
    ("policy", "request_resource", "relation"),
    [
        ("bucket/a", "bucket/a", "equal"),
        ("bucket/logs/a", "bucket/*", "policy_is_subset"),  # the request's pattern covers the policy's resource
        ("bucket/*", "bucket/logs/*", "policy_is_superset"),
        ("bucket/?", "bucket/a*", "overlap"),  # "bucket/a" is in both
        ("a*c", "ab*", "overlap"),  # "abc"
        ("x*", "*y", "overlap"),  # "xy"
        ("bucket/?*", "bucket/a*", "policy_is_superset"),  # `?` stands for one character there too
        ("a*c", "b*", "none"),
        ("*x", "*y", "none"),
        ("a?c", "a*d", "none"),
        ("abc", "abd", "none"),
    ],
)
def test_overlap_of_a_policy_pattern_and_a_requested_pattern(policy: str, request_resource: str, relation: str) -> None:
    from scps.evaluate import _overlap

    assert _overlap(policy, request_resource) == relation


@pytest.mark.parametrize(
    ("policy", "request_resource", "meets"),
    [
        ("a*", "*b", True),
        ("*a", "b*", True),
        ("a?", "*", True),
        ("?", "", False),
        ("", "*", True),
        ("*", "", True),
        ("ab", "a", False),
        ("a", "ab", False),
        ("a**b", "a*c*b", True),
        ("a?b", "a**b", True),
        ("a?b", "ab", False),
        ("a*", "abc", True),  # a wildcard takes any number of characters
        ("X", "a", False),  # a letter is only itself
    ],
)
def test_intersect_finds_a_resource_both_patterns_name(policy: str, request_resource: str, meets: bool) -> None:
    from scps.evaluate import _intersect

    assert _intersect(policy, request_resource) is meets
