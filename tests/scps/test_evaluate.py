"""The SCP evaluator's IAM semantics on the cases the guardrails depend on."""

from __future__ import annotations

import pytest

from scps.evaluate import Request, conditions_true, is_denied
from vending.exceptions import UnsupportedCondition


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


def test_evaluate_refuses_what_it_does_not_implement() -> None:
    with pytest.raises(UnsupportedCondition, match="NumericLessThan"):
        is_denied(_doc({"NumericLessThan": {"k": "1"}}), Request("ec2:RunInstances", context={"k": "0"}))
