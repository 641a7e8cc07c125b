"""scps.evaluate's Resource and NotResource matching, read through whole Decisions: one statement under test, in the
policy kind it belongs to, and the request allowed, denied or refused exactly when the statement applies.

Two readings of the requested resource: literal (a real call, `literal_resource=True`: the ARN AWS authorizes) and
what-if (a `*` in the requested resource stands for "some resource": a specific Allow covers part of it, a specific
Deny does not cover all of it). Written to kill mutation survivors of scps/evaluate.py
(benchmarks/mutation_survivors.md)."""

from __future__ import annotations

from typing import Any

import pytest

from scps.evaluate import IDENTITY, RCP, RESOURCE, SCP, Decision, Policies, Request, decide

A = "111122223333"
ROLE = f"arn:aws:iam::{A}:role/team-ci"
OBJECT = "arn:aws:s3:::bucket/key"
INSTANCE = f"arn:aws:ec2:us-east-1:{A}:instance/i-1"
ALLOWED = Decision(True, "allowed", "", None)
ALLOW_ALL: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
ALL = {"Version": "2012-10-17", "Statement": [ALLOW_ALL]}
KIND_NAME = {"identity": IDENTITY, "resource": RESOURCE, "scp": SCP, "rcp": RCP}
NOT_ALLOWED = {
    "identity": Decision(False, "no_identity_allow", IDENTITY),
    # a same-account bucket policy that does not apply leaves the identity side, which grants nothing here
    "resource": Decision(False, "no_identity_allow", IDENTITY),
    "scp": Decision(False, "no_scp_allow", SCP),
    "rcp": Decision(False, "no_rcp_allow", RCP),
}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def decided(kind: str, statement: dict[str, Any], request: Request) -> Decision:
    """The Decision when `statement` is the policy of `kind` under test; everything else allows (an Allow) or is
    allowed (a Deny), so the statement alone decides."""
    deny = statement["Effect"] == "Deny"
    if kind == "identity":
        return decide(request, Policies(identity=[ALL, doc(statement)] if deny else [doc(statement)]))
    if kind == "resource":
        named = {**statement, "Principal": {"AWS": "*" if deny else ROLE}}
        return decide(request, Policies(identity=[ALL] if deny else [], resource=doc(named), resource_account=A))
    levels = [[doc(ALLOW_ALL, statement)]] if deny else [[doc(statement)]]
    if kind == "scp":
        return decide(request, Policies(identity=[ALL], scps=levels))
    return decide(request, Policies(identity=[ALL], rcps=levels))


def expected(kind: str, effect: str, applies: bool) -> Decision:
    if effect == "Deny":
        return Decision(False, "explicit_deny", KIND_NAME[kind], "T") if applies else ALLOWED
    return ALLOWED if applies else NOT_ALLOWED[kind]


def check(kind: str, effect: str, element: str, pattern: Any, resource: str, literal: bool, applies: bool) -> None:
    statement = {"Sid": "T", "Effect": effect, "Action": "*", element: pattern}
    request = Request("s3:GetObject", resource, ROLE, literal_resource=literal)
    assert decided(kind, statement, request) == expected(kind, effect, applies)


@pytest.mark.parametrize(
    ("effect", "element", "pattern", "resource", "applies"),
    [
        ("Allow", "Resource", "**", OBJECT, True),  # nothing but wildcards: every resource
        ("Allow", "Resource", "bucket/key", OBJECT, False),  # not an ARN: matches nothing
        ("Allow", "Resource", "XX*XX", OBJECT, False),  # ... wildcard or not
        ("Deny", "NotResource", "bucket/key", OBJECT, False),  # ... and proves nothing, so NotResource misses too
        ("Deny", "NotResource", "arn:aws:ec2", OBJECT, False),  # an expanded short ARN proves nothing either
        ("Deny", "NotResource", "arn:aws:ec2:*:*:*", OBJECT, True),  # the same pattern written out does
        ("Deny", "NotResource", "arn:aws:s3:::*", OBJECT, False),
        ("Allow", "Resource", "arn:AWS:S3:::bucket/key", OBJECT, True),  # partition and service: any case
        ("Allow", "Resource", "arn:aws:s3:::BUCKET/key", OBJECT, False),  # the resource part: exact case
        ("Allow", "Resource", f"arn:aws:ec2:US-EAST-1:{A}:instance/*", INSTANCE, True),
        ("Allow", "Resource", "arn:aws:ec2:us-east-?:*:instance/*", INSTANCE, True),
        ("Allow", "Resource", "arn:aws:ec2:us-east-?:*:instance/*", INSTANCE.replace("us-east-1", "us-east-10"), False),
        ("Allow", "Resource", "arn:aws:ec2:us-*:*:instance/*", INSTANCE, True),
        ("Allow", "Resource", "arn:aws:ec2:*:444455556666:instance/*", INSTANCE, False),
        ("Allow", "Resource", "arn:aws:e?2:*:*:instance/*", INSTANCE, True),
        # The resource type before the first "/" or ":" matches literally; a wildcard there is a character.
        ("Allow", "Resource", f"arn:aws:iam::{A}:*/team-ci", ROLE, False),
        ("Allow", "Resource", f"arn:aws:iam::{A}:ro*", ROLE, True),  # no separator: no resource type to match
        ("Allow", "Resource", f"arn:aws:iam::{A}:role/*", ROLE, True),
        ("Allow", "Resource", f"arn:aws:iam::{A}:role/team-?i", ROLE, True),
        ("Allow", "Resource", f"arn:aws:iam::{A}:role/*", f"arn:aws:iam::{A}:roles/team-ci", False),
        ("Allow", "Resource", f"arn:aws:iam::{A}:role/*/team-ci", f"arn:aws:iam::{A}:role/path/team-ci", True),
        ("Allow", "Resource", "arn:aws:route53:::*zone/Z1", "arn:aws:route53:::hostedzone/Z1", False),
        ("Allow", "Resource", "arn:aws:route53:::hostedzone/*", "arn:aws:route53:::hostedzone/Z1", True),
        ("Allow", "Resource", "arn:aws:s3:::*/key", OBJECT, True),  # an S3 bucket ARN has no resource type
        # ... but an S3 ARN naming a region or an account does
        ("Allow", "Resource", "arn:aws:s3:us-east-1::*/key", "arn:aws:s3:us-east-1::bucket/key", False),
        ("Allow", "Resource", f"arn:aws:s3::{A}:*/key", f"arn:aws:s3::{A}:bucket/key", False),
        ("Allow", "Resource", f"arn:aws:s3::{A}:bucket/*", f"arn:aws:s3::{A}:bucket/key", True),
        ("Deny", "NotResource", f"arn:aws:iam::{A}:role/*", f"arn:aws:iam::{A}:user/bob", True),  # another type: out
        ("Deny", "NotResource", f"arn:aws:iam::{A}:role/*", ROLE, False),
        ("Allow", "Resource", f"arn:aws:s3:us-east-1:{A}:*/ap", f"arn:aws:s3:us-east-1:{A}:accesspoint/ap", False),
        (
            "Allow",
            "Resource",
            f"arn:aws:s3:us-east-1:{A}:accesspoint/*",
            f"arn:aws:s3:us-east-1:{A}:accesspoint/ap",
            True,
        ),
        # a log group's type ends at its ":" (the first separator), before the "/" of its name
        (
            "Allow",
            "Resource",
            f"arn:aws:logs:us-east-1:{A}:log-group:*/x",
            f"arn:aws:logs:us-east-1:{A}:log-group:/x",
            True,
        ),
        (
            "Allow",
            "Resource",
            f"arn:aws:logs:us-east-1:{A}:log-group/*",
            f"arn:aws:logs:us-east-1:{A}:log-group:/x",
            False,
        ),
        (
            "Allow",
            "Resource",
            f"arn:aws:logs:us-east-1:{A}:log-group:*:log-stream:s",
            f"arn:aws:logs:us-east-1:{A}:log-group:g:log-stream:s",
            True,
        ),
        ("Allow", "Resource", "arn:aws:s3:::*", "bucket/key", False),  # a requested resource that is no ARN
        ("Deny", "NotResource", "arn:aws:s3:::other", "bucket/key", False),  # ... proves nothing
        ("Allow", "Resource", "arn:aws:s3:::*", "*", False),  # "*" read literally is not an ARN
        ("Allow", "Resource", "arn:aws:s3", "*", False),  # ... nor is it for an expanded short ARN
        ("Allow", "Resource", "arn:aws:s3:::bucket/logs/*", "arn:aws:s3:::bucket/*", False),  # a literal "*"
        ("Allow", "Resource", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/*", True),
        ("Deny", "NotResource", "arn:aws:s3:::bucket/logs/*", "arn:aws:s3:::bucket/*", True),  # literal: outside
        ("Deny", "NotResource", ["arn:aws:s3:::other/*", "arn:aws:s3:::bucket/*"], OBJECT, False),  # in any: out
        ("Deny", "NotResource", ["arn:aws:s3:::other/*", "arn:aws:s3:::else/*"], OBJECT, True),  # in none
        ("Allow", "Resource", ["arn:aws:s3:::other/*", "arn:aws:s3:::bucket/*"], OBJECT, True),
    ],
)
def test_a_real_call_is_matched_against_its_literal_resource(
    effect: str, element: str, pattern: Any, resource: str, applies: bool
) -> None:
    check("identity", effect, element, pattern, resource, True, applies)


WHAT_IF = "arn:aws:s3:::bucket/*"


@pytest.mark.parametrize(
    ("effect", "element", "pattern", "resource", "applies"),
    [
        # every resource: a specific Allow covers some of it, a specific Deny not all of it
        ("Allow", "Resource", "arn:aws:s3:::bucket/*", "*", True),
        ("Allow", "NotResource", "arn:aws:s3:::bucket/*", "*", True),
        ("Deny", "Resource", "arn:aws:s3:::bucket/*", "*", False),
        ("Deny", "NotResource", "arn:aws:s3:::bucket/*", "*", False),
        ("Deny", "Resource", "*", "*", True),
        ("Allow", "Resource", "arn:aws:s3", "*", True),  # an expanded short ARN is specific too
        ("Deny", "Resource", "arn:aws:s3", "*", False),
        # some objects of the bucket
        ("Allow", "Resource", "arn:aws:s3:::bucket/logs/*", WHAT_IF, True),  # covers some
        ("Allow", "Resource", "arn:aws:s3:::bucket/a*", "arn:aws:s3:::bucket/*b", True),  # "bucket/ab" is in both
        ("Allow", "Resource", "arn:aws:s3:::other/*", WHAT_IF, False),
        ("Allow", "Resource", "arn:aws:ec2:us-west-2:*:instance/*", f"arn:aws:ec2:us-east-1:{A}:instance/*", False),
        ("Allow", "Resource", "arn:aws:ec2:us-*:*:instance/*", f"arn:aws:ec2:us-east-1:{A}:instance/*", True),
        ("Deny", "Resource", "arn:aws:s3:::bucket/*", WHAT_IF, True),  # the same pattern: all of it
        ("Deny", "Resource", "arn:aws:s3:::*", WHAT_IF, True),  # a wider pattern: all of it
        ("Deny", "Resource", "arn:aws:s3:::bucket/logs/*", WHAT_IF, False),  # a narrower one: not all
        ("Deny", "Resource", "arn:aws:s3:::bucket/?*", WHAT_IF, False),  # leaves out "bucket/" itself
        ("Deny", "Resource", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/**", False),
        ("Deny", "Resource", "arn:aws:s3:::other/*", WHAT_IF, False),
        ("Deny", "Resource", "arn:aws:s3:::bucket/a*", "arn:aws:s3:::bucket/*b", False),  # overlaps only
        ("Allow", "NotResource", "arn:aws:s3:::bucket/*", WHAT_IF, False),  # excludes all of it
        ("Allow", "NotResource", "arn:aws:s3:::*", WHAT_IF, False),
        ("Allow", "NotResource", "arn:aws:s3:::bucket/logs/*", WHAT_IF, True),  # excludes only some
        ("Allow", "NotResource", "arn:aws:s3:::other/*", WHAT_IF, True),
        ("Allow", "NotResource", "arn:aws:s3:::bucket/a*", "arn:aws:s3:::bucket/*b", True),
        ("Deny", "NotResource", "arn:aws:s3:::other/*", WHAT_IF, True),  # excludes none of it: denies all
        ("Deny", "NotResource", "arn:aws:s3:::bucket/logs/*", WHAT_IF, False),
        ("Deny", "NotResource", "arn:aws:s3:::*", WHAT_IF, False),
        ("Deny", "NotResource", "arn:aws:s3:::bucket/a*", "arn:aws:s3:::bucket/*b", False),
    ],
)
def test_a_what_if_question_reads_a_wildcard_in_the_resource_as_some_resource(
    effect: str, element: str, pattern: Any, resource: str, applies: bool
) -> None:
    check("identity", effect, element, pattern, resource, False, applies)


@pytest.mark.parametrize(
    ("kind", "effect", "element", "pattern", "applies"),
    [
        # a resource-based policy: a short ARN without a wildcard matches nothing, but does prove a mismatch
        ("resource", "Allow", "Resource", "arn:aws:s3", False),
        ("resource", "Deny", "NotResource", "arn:aws:s3", True),
        ("resource", "Allow", "Resource", "arn:*:s3", True),  # with a wildcard anywhere: expanded
        ("resource", "Allow", "Resource", "arn:aws:s3:::bucket/*", True),
        # an SCP expands a short ARN only when its last part ends in a wildcard
        ("scp", "Allow", "Resource", "arn:aws:s*", True),
        ("scp", "Allow", "Resource", "arn:*:s3", False),
        ("scp", "Deny", "NotResource", "arn:aws:s3", False),  # rejected: proves nothing
        ("scp", "Deny", "NotResource", "arn:aws:ec2:*", False),  # expanded: proves nothing either
        ("identity", "Allow", "Resource", "arn:*:s3", True),
        ("rcp", "Allow", "Resource", "arn:aws:s*", False),  # an RCP never expands one
        ("rcp", "Allow", "Resource", "arn:aws:s3:::*", True),
    ],
)
def test_each_policy_kind_reads_a_short_arn_its_own_way(
    kind: str, effect: str, element: str, pattern: str, applies: bool
) -> None:
    check(kind, effect, element, pattern, OBJECT, True, applies)


def test_a_statement_without_resource_or_not_resource_applies_to_any_resource() -> None:
    # a role's trust policy has no Resource element; the statement is read by its Action and Principal alone
    trust = doc({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sts:AssumeRole"})
    request = Request("sts:AssumeRole", f"arn:aws:iam::{A}:role/target", ROLE, literal_resource=True)
    assert decide(request, Policies(resource=trust, resource_account=A, resource_kind="trust")) == ALLOWED


def test_a_resource_pattern_reads_policy_variables_and_misses_when_one_is_unresolved() -> None:
    pattern = "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"

    def get(team: str | None) -> Request:
        context = {} if team is None else {"aws:PrincipalTag/team": team}
        return Request("s3:GetObject", "arn:aws:s3:::bucket/a/k", ROLE, context=context, literal_resource=True)

    allow = {"Sid": "T", "Effect": "Allow", "Action": "*", "Resource": pattern}
    assert decided("identity", allow, get("a")) == ALLOWED
    assert decided("identity", allow, get("b")) == NOT_ALLOWED["identity"]
    assert decided("identity", allow, get(None)) == NOT_ALLOWED["identity"]
    # AND an unresolved variable proves no mismatch either: a Deny on everything but that pattern does not apply
    deny_others = {"Sid": "T", "Effect": "Deny", "Action": "*", "NotResource": pattern}
    assert decided("identity", deny_others, get(None)) == ALLOWED
    assert decided("identity", deny_others, get("b")) == Decision(False, "explicit_deny", IDENTITY, "T")
    assert decided("identity", deny_others, get("a")) == ALLOWED


@pytest.mark.parametrize(
    ("denied", "requested", "context"),
    [
        # a variable in the Deny resolves before the what-if comparison, as in a literal reading
        ("arn:aws:s3:::${aws:PrincipalTag/team}/*", "arn:aws:s3:::team-a/*", {"aws:PrincipalTag/team": "team-a"}),
        # the service (like partition, region and account) compares without case
        ("arn:aws:S3:::bucket/*", "arn:aws:s3:::bucket/*", {}),
        ("arn:AWS:ec2:US-EAST-1:111122223333:instance/*", "arn:aws:ec2:us-east-1:111122223333:instance/*", {}),
    ],
)
def test_a_what_if_deny_covers_what_its_literal_reading_covers(
    denied: str, requested: str, context: dict[str, str]
) -> None:
    # GIVEN a Deny that covers every resource the requested pattern stands for
    policies = Policies(identity=[ALL, doc({"Sid": "T", "Effect": "Deny", "Action": "*", "Resource": denied})])
    what_if = Request("s3:GetObject", requested, ROLE, context=context)
    # THEN the what-if question is denied by it, as a literal request for any one of those resources is
    assert decide(what_if, policies) == Decision(False, "explicit_deny", IDENTITY, "T")
    literal = Request("s3:GetObject", requested.replace("*", "x"), ROLE, context=context, literal_resource=True)
    assert decide(literal, policies) == Decision(False, "explicit_deny", IDENTITY, "T")


def test_a_what_if_deny_with_an_unresolved_variable_covers_nothing() -> None:
    statement = {"Sid": "T", "Effect": "Deny", "Action": "*", "Resource": "arn:aws:s3:::${aws:PrincipalTag/team}/*"}
    policies = Policies(identity=[ALL, doc(statement)])
    assert decide(Request("s3:GetObject", "arn:aws:s3:::team-a/*", ROLE), policies) == ALLOWED
