"""The notifications topic's resource policy, evaluated for the callers that publish to it as AWS would."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from scps.evaluate import Policies, Principal, Request, decide

pytestmark = pytest.mark.cdk

ACCOUNT, OTHER_ACCOUNT, REGION, PARTITION = "111122223333", "444455556666", "us-east-1", "aws"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
}


def _resolve(value: Any, refs: Mapping[str, str]) -> Any:
    """The CloudFormation intrinsics a policy document uses here (Ref, Fn::Join, Fn::Sub), for one account/region."""
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return refs[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        sep, parts = value["Fn::Join"]
        return sep.join(str(_resolve(p, refs)) for p in parts)
    if set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: refs[m.group(1)], value["Fn::Sub"])
    return {k: _resolve(v, refs) for k, v in value.items()}


def _service_may_publish(policy: Mapping[str, Any], service: str, request: Request) -> bool:
    """The project's one evaluator, as AWS decides a service principal's call: the resource policy alone decides
    (service principals are not governed by SCPs and have no identity policy)."""
    caller = Request(
        request.action, request.resource, context=request.context, principal=Principal("", service=service)
    )
    return decide(caller, Policies(resource=policy, resource_account=ACCOUNT)).allowed


@pytest.fixture(scope="module")
def topic(template: Any) -> tuple[str, dict[str, Any]]:
    """(topic ARN, resolved topic policy) of the notifications topic."""
    topics = template.find_resources("AWS::SNS::Topic")
    ((topic_id, _),) = topics.items()
    arn = f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:vending-notifications"
    refs = {**PSEUDO, topic_id: arn}
    (policy,) = (
        p["Properties"]
        for p in template.find_resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    )
    return arn, _resolve(policy["PolicyDocument"], refs)


def _alarm_publish(topic_arn: str, account: str) -> Request:
    return Request(
        action="sns:Publish",
        resource=topic_arn,
        principal_arn="cloudwatch.amazonaws.com",
        context={
            "aws:SourceAccount": account,
            "aws:SourceArn": f"arn:{PARTITION}:cloudwatch:{REGION}:{account}:alarm:ExecutionsFailedAlarm",
            "aws:SecureTransport": "true",
        },
    )


def test_topic_policy_cloudwatch_alarms_of_this_account_may_publish(topic: tuple[str, dict[str, Any]]) -> None:
    # GIVEN the synthesized topic policy, WHEN CloudWatch publishes an alarm of the stack's own account
    arn, policy = topic
    # THEN the topic policy allows it (an alarm action is authorized by the topic policy alone)
    assert _service_may_publish(policy, "cloudwatch.amazonaws.com", _alarm_publish(arn, ACCOUNT))


def test_topic_policy_cloudwatch_alarms_of_another_account_may_not_publish(topic: tuple[str, dict[str, Any]]) -> None:
    # GIVEN the synthesized topic policy, WHEN CloudWatch publishes on behalf of another account's alarm
    arn, policy = topic
    # THEN it is not allowed (confused deputy: aws:SourceAccount and aws:SourceArn are this account's)
    assert not _service_may_publish(policy, "cloudwatch.amazonaws.com", _alarm_publish(arn, OTHER_ACCOUNT))


def test_topic_policy_cloudwatch_statement_is_scoped(topic: tuple[str, dict[str, Any]]) -> None:
    # GIVEN the synthesized topic policy THEN CloudWatch's one Allow is sns:Publish on this topic, this account's alarms
    arn, policy = topic
    (statement,) = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == arn
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"},
    }
