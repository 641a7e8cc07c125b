"""scps.evaluate's condition operators and policy variables, read through whole Decisions: an identity policy allows
everything under one Condition block, and the request is allowed exactly when IAM's operator holds.

Written to kill mutation survivors of scps/evaluate.py (benchmarks/mutation_survivors.md): each row is a behaviour
AWS documents (reference_policies_elements_condition_operators.html, reference_policies_variables.html) or the
oracle (iam-simulate) shows, at and on each side of the boundary a mutant moves."""

from __future__ import annotations

import time
from typing import Any

import pytest

from scps.evaluate import IDENTITY, Decision, Policies, Request, decide, unknown_operators

ROLE = "arn:aws:iam::111122223333:role/team-ci"
OBJECT = "arn:aws:s3:::bucket/key"
ALLOWED = Decision(True, "allowed", "", None)
NO_GRANT = Decision(False, "no_identity_allow", IDENTITY)


def decided(condition: dict[str, Any], context: dict[str, Any] | None = None, who: str = ROLE) -> Decision:
    """The Decision on s3:GetObject when the only grant is an Allow of everything under `condition`."""
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}
    request = Request("s3:GetObject", OBJECT, who, context=context or {}, literal_resource=True)
    return decide(request, Policies(identity=[{"Version": "2012-10-17", "Statement": [statement]}]))


def expect(allowed: bool) -> Decision:
    return ALLOWED if allowed else NO_GRANT


# --- numeric and date operators (scps.evaluate._compare, _number, _date) ---------------------------------------


@pytest.mark.parametrize(
    ("operator", "request_value", "policy_values", "allowed"),
    [
        ("NumericEquals", "5", ["5"], True),
        ("NumericEquals", "5", ["4", "5"], True),  # any policy value
        ("NumericEquals", "5", ["4", "6"], False),
        ("NumericEquals", "5.0", ["5"], True),  # compared as numbers, not text
        ("NumericEquals", "five", ["5"], False),  # a request value that is no number matches nothing
        ("NumericEquals", "5", ["five", "5"], True),  # an unparsable policy value does not spoil the others
        ("NumericNotEquals", "5", ["4", "6"], True),  # negated: every policy value must differ
        ("NumericNotEquals", "5", ["4", "5"], False),
        ("NumericNotEquals", "five", ["4"], False),  # unparsable: neither equal nor not equal
        ("NumericNotEquals", "5", ["five"], False),
        ("NumericLessThan", "4", ["5"], True),
        ("NumericLessThan", "5", ["5"], False),
        ("NumericLessThanEquals", "5", ["5"], True),
        ("NumericLessThanEquals", "6", ["5"], False),
        ("NumericGreaterThan", "6", ["5"], True),
        ("NumericGreaterThan", "5", ["5"], False),
        ("NumericGreaterThanEquals", "5", ["5"], True),
        ("NumericGreaterThanEquals", "4", ["5"], False),
    ],
)
def test_numeric_operators(operator: str, request_value: str, policy_values: list[str], allowed: bool) -> None:
    assert decided({operator: {"s3:max-keys": policy_values}}, {"s3:max-keys": request_value}) == expect(allowed)


# 1700000000 seconds after the epoch is 2023-11-14T22:13:20Z.
EPOCH = "1700000000"


@pytest.mark.parametrize(
    ("operator", "request_value", "policy_value", "allowed"),
    [
        ("DateEquals", "2023-11-14T22:13:20Z", EPOCH, True),  # epoch seconds and ISO 8601 name the same instant
        ("DateEquals", "2023-11-14T22:13:20", EPOCH, True),  # a date without a zone is UTC
        ("DateEquals", "2023-11-14T23:13:20+01:00", "2023-11-14T22:13:20Z", True),
        ("DateEquals", "2023-11-14T22:13:21Z", EPOCH, False),  # one second apart
        ("DateEquals", "1700000001", EPOCH, False),
        ("DateEquals", "-1", "1969-12-31T23:59:59Z", True),  # a negative epoch is before 1970
        ("DateEquals", "yesterday", EPOCH, False),  # unparsable: no match
        ("DateNotEquals", "yesterday", EPOCH, False),  # ... and not "not equal" either
        ("DateNotEquals", "2023-11-14T22:13:21Z", EPOCH, True),
        ("DateNotEquals", "2023-11-14T22:13:20Z", EPOCH, False),
        ("DateLessThan", "2023-11-14T22:13:19Z", EPOCH, True),
        ("DateLessThan", "2023-11-14T22:13:20Z", EPOCH, False),
        ("DateLessThanEquals", "2023-11-14T22:13:20Z", EPOCH, True),
        ("DateLessThanEquals", "2023-11-14T22:13:21Z", EPOCH, False),
        ("DateGreaterThan", "2023-11-14T22:13:21Z", EPOCH, True),
        ("DateGreaterThan", "2023-11-14T22:13:20Z", EPOCH, False),
        ("DateGreaterThanEquals", "2023-11-14T22:13:20Z", EPOCH, True),
        ("DateGreaterThanEquals", "2023-11-14T22:13:19Z", EPOCH, False),
    ],
)
def test_date_operators(operator: str, request_value: str, policy_value: str, allowed: bool) -> None:
    context = {"aws:CurrentTime": request_value}
    assert decided({operator: {"aws:CurrentTime": policy_value}}, context) == expect(allowed)


def test_date_operators_compare_epoch_seconds_with_each_other_at_second_precision() -> None:
    # GIVEN two epoch values one second apart, read as milliseconds like ISO dates
    assert decided({"DateLessThan": {"aws:EpochTime": "1700000001"}}, {"aws:EpochTime": "1700000000"}) == ALLOWED
    assert decided({"DateLessThan": {"aws:EpochTime": "1700000000"}}, {"aws:EpochTime": "1700000000"}) == NO_GRANT
    # AND an ISO date just under a second later is still later than the epoch second
    later = {"aws:EpochTime": "2023-11-14T22:13:20.500Z"}
    assert decided({"DateGreaterThan": {"aws:EpochTime": EPOCH}}, later) == ALLOWED


def test_a_date_without_a_zone_is_utc_whatever_the_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a machine whose local zone is not UTC (time.tzset re-reads TZ)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert (
            decided({"DateEquals": {"aws:CurrentTime": EPOCH}}, {"aws:CurrentTime": "2023-11-14T22:13:20"}) == ALLOWED
        )
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("negated", "request_value", "policy_values", "satisfied"),
    [
        (False, "5", ["4", "5"], True),  # a positive operator: any policy value
        (False, "5", ["4", "6"], False),
        (True, "5", ["4", "6"], True),  # a negated one: every policy value
        (True, "5", ["4", "5"], False),
        (False, "x", ["5"], False),  # an unparsable request value satisfies neither
        (True, "x", ["5"], False),
        (False, "5", ["x"], False),  # nor does an unparsable policy value
        (True, "5", ["x"], False),
        (False, "5", ["x", "5"], True),
    ],
)
def test_the_numeric_and_date_operators_are_built_from_a_parser_and_a_test(
    negated: bool, request_value: str, policy_values: list[str], satisfied: bool
) -> None:
    # _OPERATORS builds these once, at import; built here, the factory itself is what is checked
    from scps.evaluate import _compare, _number

    test = (lambda r, p: r != p) if negated else (lambda r, p: r == p)
    assert _compare(_number, test, negated=negated)(request_value, policy_values, {}) is satisfied
    # AND the parser reads both sides and the test gets (request, policy) in that order
    assert _compare(_number, lambda r, p: r < p)("4", ["5"], {}) is True
    assert _compare(_number, lambda r, p: r < p)("5", ["4"], {}) is False


def test_an_operator_built_without_saying_is_positive() -> None:
    from scps.evaluate import _compare, _number

    assert _compare(_number, lambda r, p: r == p)("5", ["4", "5"], {}) is True


# --- Bool, IpAddress, the case-insensitive string operators -----------------------------------------------------


@pytest.mark.parametrize(
    ("request_value", "policy_values", "allowed"),
    [
        ("true", ["true"], True),
        ("TRUE", ["True"], True),  # both sides case-insensitively
        ("false", ["true"], False),
        ("false", ["true", "false"], True),
        ("yes", ["yes"], False),  # only true and false are booleans, on either side
        ("true", ["1"], False),
        (True, [True], True),  # a JSON boolean in the context and in the policy
        (False, [True], False),
    ],
)
def test_bool(request_value: Any, policy_values: list[Any], allowed: bool) -> None:
    context = {"aws:SecureTransport": request_value}
    assert decided({"Bool": {"aws:SecureTransport": policy_values}}, context) == expect(allowed)


def test_bool_resolves_a_policy_variable_and_fails_when_it_cannot() -> None:
    condition = {"Bool": {"aws:SecureTransport": "${aws:PrincipalTag/secure}"}}
    context = {"aws:SecureTransport": "true", "aws:PrincipalTag/secure": "TRUE"}
    assert decided(condition, context) == ALLOWED
    assert decided(condition, {"aws:SecureTransport": "true"}) == NO_GRANT


@pytest.mark.parametrize(
    ("operator", "address", "policy_values", "allowed"),
    [
        ("IpAddress", "203.0.113.7", ["203.0.113.0/24"], True),
        ("IpAddress", "203.0.114.7", ["203.0.113.0/24"], False),
        ("IpAddress", "203.0.113.7", ["203.0.113.7"], True),  # a single address without a prefix
        ("IpAddress", "203.0.113.8", ["203.0.113.7"], False),
        ("IpAddress", "203.0.113.7", ["10.0.0.0/8", "203.0.113.0/24"], True),  # any block
        ("IpAddress", "203.0.113.7", ["203.0.113.1/24"], True),  # host bits set: still the block
        ("IpAddress", "2001:db8::1", ["2001:db8::/32"], True),
        ("IpAddress", "2001:db8::1", ["203.0.113.0/24"], False),  # another family is outside the block
        ("IpAddress", "2001:db8::1", ["203.0.113.7"], False),
        ("IpAddress", "not-an-ip", ["203.0.113.0/24"], False),
        ("IpAddress", "not-an-ip", ["203.0.113.7"], False),
        ("IpAddress", "203.0.113.7", ["not-a-block/24"], False),
        ("IpAddress", "203.0.113.7", ["not-an-ip"], False),
        ("NotIpAddress", "203.0.114.7", ["203.0.113.0/24"], True),
        ("NotIpAddress", "203.0.113.7", ["203.0.113.0/24"], False),
        ("NotIpAddress", "203.0.113.8", ["203.0.113.7"], True),
        ("NotIpAddress", "203.0.113.7", ["203.0.113.7"], False),
        ("NotIpAddress", "203.0.113.7", ["10.0.0.0/8", "198.51.100.0/24"], True),  # outside every block
        ("NotIpAddress", "203.0.113.7", ["10.0.0.0/8", "203.0.113.0/24"], False),
        ("NotIpAddress", "2001:db8::1", ["203.0.113.0/24"], True),  # another family: outside
        ("NotIpAddress", "2001:db8::1", ["203.0.113.7"], False),  # ... but a single address of it is no answer
        ("NotIpAddress", "not-an-ip", ["203.0.113.0/24"], False),  # unparsable: neither inside nor outside
        ("NotIpAddress", "not-an-ip", ["203.0.113.7"], False),
        ("NotIpAddress", "203.0.113.7", ["not-a-block/24"], False),
    ],
)
def test_ip_address(operator: str, address: str, policy_values: list[str], allowed: bool) -> None:
    context = {"aws:SourceIp": address}
    assert decided({operator: {"aws:SourceIp": policy_values}}, context) == expect(allowed)


@pytest.mark.parametrize(
    ("tag", "values", "allowed"),
    [
        ("team-a", ["TEAM-A"], True),
        ("TEAM-A", ["team-a"], True),
        ("team-a", ["x", "Team-A"], True),  # any value
        ("team-b", ["TEAM-A"], False),
    ],
)
def test_string_equals_ignore_case(tag: str, values: list[str], allowed: bool) -> None:
    context = {"aws:PrincipalTag/team": tag}
    assert decided({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": values}}, context) == expect(allowed)


def test_string_equals_ignore_case_fails_on_a_variable_it_cannot_resolve() -> None:
    condition = {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": ["${aws:PrincipalTag/owner}"]}}
    assert decided(condition, {"aws:PrincipalTag/team": "a", "aws:PrincipalTag/owner": "A"}) == ALLOWED
    assert decided(condition, {"aws:PrincipalTag/team": "a"}) == NO_GRANT


# --- policy variables (scps.evaluate._variable) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "context", "allowed"),
    [
        ("${aws:PrincipalTag/team}", {"aws:PrincipalTag/team": "a"}, True),
        ("${AWS:principaltag/TEAM}", {"aws:PrincipalTag/team": "a"}, True),  # key names are case-insensitive
        ("${ aws:PrincipalTag/team }", {"aws:PrincipalTag/team": "a"}, True),  # spaces around the name
        ("${aws:PrincipalTag/team, 'a'}", {}, True),  # the default when the key is missing
        ("${aws:PrincipalTag/team, 'a'}", {"aws:PrincipalTag/team": ""}, True),  # ... or empty
        ("${aws:PrincipalTag/team, 'b'}", {"aws:PrincipalTag/team": "a"}, True),  # a value wins over the default
        ("${aws:PrincipalTag/team,'a'}", {}, False),  # the default needs ", " before it
        ("${aws:PrincipalTag/team, a}", {}, False),  # ... and quotes around it
        ("${aws:PrincipalTag/team, 'a}", {}, False),
        ("${aws:PrincipalTag/team, a'}", {}, False),
        ("${aws:PrincipalTag/team}", {}, False),  # missing, no default: the comparison fails
        ("${aws:PrincipalTag/team}", {"aws:PrincipalTag/team": ["a"]}, False),  # multi-valued: unresolvable
        ("x${aws:PrincipalTag/team}", {"aws:PrincipalTag/team": "a"}, False),
    ],
)
def test_policy_variable(template: str, context: dict[str, Any], allowed: bool) -> None:
    condition = {"StringEquals": {"aws:RequestTag/team": template}}
    assert decided(condition, {"aws:RequestTag/team": "a", **context}) == expect(allowed)


def test_a_variable_present_but_empty_without_default_stays_as_written() -> None:
    # iam-simulate leaves `${name}` as text when the key exists but is empty (and no default is given)
    condition = {"StringEquals": {"aws:RequestTag/team": "${aws:PrincipalTag/team}"}}
    as_written = {"aws:RequestTag/team": "${aws:PrincipalTag/team}", "aws:PrincipalTag/team": ""}
    assert decided(condition, as_written) == ALLOWED
    assert decided(condition, {"aws:RequestTag/team": "", "aws:PrincipalTag/team": ""}) == NO_GRANT


@pytest.mark.parametrize(("name", "literal"), [("*", "*"), ("?", "?"), ("$", "$")])
def test_the_special_variables_stand_for_their_character(name: str, literal: str) -> None:
    condition = {"StringLike": {"aws:RequestTag/team": "a${" + name + "}b"}}
    assert decided(condition, {"aws:RequestTag/team": f"a{literal}b"}) == ALLOWED
    # AND the character is literal, not a wildcard
    assert decided(condition, {"aws:RequestTag/team": "axb"}) == NO_GRANT


# --- which operators IAM defines (scps.evaluate.operator_known, unknown_operators) ------------------------------


def test_unknown_operators_names_exactly_the_operators_iam_does_not_define() -> None:
    known = [
        "StringEquals",
        "stringlikeifexists",
        "ForAnyValue:StringLike",
        "FORALLVALUES:NumericLessThan",
        "Null",
        "ForAllValues:Null",
        "ArnNotLikeIfExists",
    ]
    unknown = ["StringFoo", "ForSomeValues:StringLike", "Any:StringEquals", "NullIfExistsFoo", "IfExists"]
    statements = [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {op: {"k": "v"}}} for op in known]
    statements += [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {op: {"k": "v"}}} for op in unknown]
    assert unknown_operators([{"Statement": statements}]) == sorted(unknown)
