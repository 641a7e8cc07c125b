"""The SCP evaluator's IAM semantics on the cases the guardrails depend on."""

from __future__ import annotations

import pytest

from scps.evaluate import Request, conditions_true, is_denied, unknown_operators


def _doc(condition: dict[str, dict[str, object]], action: str = "ec2:RunInstances") -> list[dict[str, object]]:
    return [
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "T", "Effect": "Deny", "Action": action, "Resource": "*", "Condition": condition}],
        }
    ]


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringLike": {"k": "g*"}}, {}, False),  # positive operator, key absent: false
        ({"StringNotLike": {"k": "?*"}}, {}, True),  # negated operator, key absent: true
        ({"StringNotLike": {"k": "?*"}}, {"k": ""}, True),  # empty value
        ({"StringNotLike": {"k": "?*"}}, {"k": "x"}, False),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "false"}}, {"k": "v"}, True),
        ({"ForAnyValue:StringLike": {"k": "g*"}}, {}, False),
        ({"ForAllValues:StringLike": {"k": "g*"}}, {}, True),
        ({"ForAnyValue:StringNotLike": {"k": ["g5.*", "m*"]}}, {"k": ["m5.large", "g5.xlarge"]}, False),
        ({"ForAnyValue:StringNotLike": {"k": ["g5.*", "m*"]}}, {"k": ["m5.large", "p5.x"]}, True),
        ({"StringLikeIfExists": {"k": "g*"}}, {}, True),
        ({"K": {}}, {}, True),  # an empty block is vacuously true
    ],
)
def test_evaluate_operator_semantics(condition: dict, context: dict, expected: bool) -> None:  # type: ignore[type-arg]
    if condition == {"K": {}}:
        assert conditions_true({}, Request("x:Y", context=context)) is expected
        return
    assert conditions_true(condition, Request("x:Y", context=context)) is expected


def test_evaluate_keys_case_insensitive_and_notaction() -> None:
    doc = [
        {
            "Statement": [
                {
                    "Sid": "N",
                    "Effect": "Deny",
                    "NotAction": ["ec2:Describe*"],
                    "Resource": "*",
                    "Condition": {"StringLike": {"ec2:InstanceType": "g*"}},
                }
            ]
        }
    ]
    assert is_denied(doc, Request("ec2:StartInstances", context={"EC2:instancetype": "g5.xlarge"}))
    assert not is_denied(doc, Request("ec2:DescribeInstances", context={"ec2:InstanceType": "g5.xlarge"}))


def test_evaluate_unknown_operator_never_matches_and_is_reported() -> None:
    # GIVEN a Deny whose only condition uses an operator IAM does not define (a typo of NumericLessThan)
    doc = _doc({"NumericLesThan": {"k": "1"}})
    # WHEN evaluated, THEN the statement does not match (as in AWS and iam-simulate), and the lint names the operator
    assert not is_denied(doc, Request("ec2:RunInstances", context={"k": "0"}))
    assert unknown_operators(doc) == ["NumericLesThan"]
    # AND the operator it meant is implemented
    assert is_denied(_doc({"NumericLessThan": {"k": "1"}}), Request("ec2:RunInstances", context={"k": "0"}))


def test_evaluate_single_valued_operator_on_multivalued_key_is_false() -> None:
    # GIVEN a multi-valued key tested by an operator without ForAnyValue/ForAllValues, THEN neither form matches
    request = Request("x:Y", context={"k": ["a", "b"]})
    assert not conditions_true({"StringEquals": {"k": "a"}}, request)
    assert not conditions_true({"StringNotEquals": {"k": "c"}}, request)
