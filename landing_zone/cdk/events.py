"""Events: the onboarding rule -> queue -> StartFromEvent, the daily audit schedule, outcomes -> notifications."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from landing_zone.cdk.base import BaseStack
from landing_zone.cdk.storage import Storage
from vending.functions import by_key
from vending.guardrails.audit import ALERT_DETAIL_TYPE as AUDIT_FINDINGS_DETAIL_TYPE
from vending.notify import FAILED as ACCOUNT_FAILED
from vending.notify import READY as ACCOUNT_READY
from vending.onboarding import ONBOARDING_EVENT_PATTERN
from vending.spend.fence import FROZEN_EVENT, THAWED_EVENT
from vending.spend.fence import INTERVAL_MINUTES as SPEND_FENCE_INTERVAL_MINUTES
from vending.usage_forwarding import BUS_POLICY_SID, USAGE_EVENT_PATTERN, platform_bus_statement


@dataclass(frozen=True)
class Onboarding:
    queue: sqs.Queue
    dlq: sqs.Queue


def build_onboarding(stack: BaseStack, storage: Storage, functions: dict[str, lambda_.Function]) -> Onboarding:
    dlq = sqs.Queue(
        stack,
        "OnboardingDlq",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=storage.key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    stack.acknowledge(dlq, "AwsSolutions-SQS3", "This is the dead-letter queue of the onboarding queue.")
    queue = sqs.Queue(
        stack,
        "OnboardingQueue",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=storage.key,
        enforce_ssl=True,
        retention_period=Duration.days(4),
        # Six times the function timeout, as the Lambda docs advise for SQS event sources.
        visibility_timeout=Duration.seconds(6 * by_key("StartFromEvent").timeout_seconds),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
    )
    rule = events.Rule(
        stack,
        "OnboardingRule",
        description="Team onboarding requests -> vending queue",
        event_pattern=events.EventPattern(
            source=ONBOARDING_EVENT_PATTERN["source"], detail_type=ONBOARDING_EVENT_PATTERN["detail-type"]
        ),
    )
    rule.add_target(targets.SqsQueue(queue, dead_letter_queue=dlq))
    functions["StartFromEvent"].add_event_source(
        sources.SqsEventSource(
            queue, batch_size=10, report_batch_item_failures=True, max_batching_window=Duration.seconds(5)
        )
    )
    return Onboarding(queue=queue, dlq=dlq)


def build_usage_capture(stack: BaseStack, storage: Storage, functions: dict[str, lambda_.Function]) -> None:
    """The live meter's usage capture: the member accounts' forwarding rules put their EC2 and SageMaker state-change
    events on this bus (its policy admits the organization's accounts), rule -> SQS (buffer, DLQ) -> RecordUsage."""
    dlq = sqs.Queue(
        stack,
        "UsageDlq",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=storage.key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    stack.acknowledge(dlq, "AwsSolutions-SQS3", "This is the dead-letter queue of the usage queue.")
    queue = sqs.Queue(
        stack,
        "UsageQueue",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=storage.key,
        enforce_ssl=True,
        retention_period=Duration.days(4),
        visibility_timeout=Duration.seconds(6 * by_key("RecordUsage").timeout_seconds),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
    )
    events.Rule(
        stack,
        "UsageEventsRule",
        description="Member accounts' instance state changes -> the live meter's usage",
        event_pattern=events.EventPattern(
            source=USAGE_EVENT_PATTERN["source"], detail_type=USAGE_EVENT_PATTERN["detail-type"]
        ),
    ).add_target(targets.SqsQueue(queue, dead_letter_queue=dlq))
    functions["RecordUsage"].add_event_source(
        sources.SqsEventSource(
            queue, batch_size=10, report_batch_item_failures=True, max_batching_window=Duration.seconds(5)
        )
    )
    # Cross-account delivery: the sender's rule needs the target bus to admit it; only this organization's accounts.
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
    events.CfnEventBusPolicy(
        stack,
        "OrganizationPutsUsageEvents",
        event_bus_name=stack.settings.event_bus_name,
        statement_id=BUS_POLICY_SID,
        statement={
            k: v
            for k, v in platform_bus_statement(stack.event_bus_arn, stack.config.organization_id).items()
            if k != "Sid"
        },
    )


def build_pipeline_callbacks(stack: BaseStack, project_name: str, functions: dict[str, lambda_.Function]) -> None:
    """A finished CodeBuild pipeline run completes the workflow's task token (vending.handlers.pipeline_build_event),
    so the state machine waits without polling."""
    events.Rule(
        stack,
        "PipelineBuildStateRule",
        description="Pipeline builds ended -> complete the workflow's token",
        event_pattern=events.EventPattern(
            source=["aws.codebuild"],
            detail_type=["CodeBuild Build State Change"],
            detail={
                "project-name": [project_name],
                "build-status": ["SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT", "FAULT"],
            },
        ),
    ).add_target(targets.LambdaFunction(functions["PipelineBuildEvent"], retry_attempts=2))


def build_schedules_and_notifications(
    stack: BaseStack, storage: Storage, functions: dict[str, lambda_.Function]
) -> None:
    # The closure queue drains as Organizations' CloseAccount quota allows; an empty event only drains.
    events.Rule(
        stack,
        "ClosureQueueSchedule",
        description="Drain the account-closure queue",
        schedule=events.Schedule.rate(Duration.hours(6)),
    ).add_target(
        targets.LambdaFunction(
            functions["RequestClosure"], retry_attempts=2, event=events.RuleTargetInput.from_object({})
        )
    )
    events.Rule(
        stack,
        "AuditSchedule",
        description="Daily guardrail audit of the organization",
        schedule=events.Schedule.cron(minute="0", hour="6"),
    ).add_target(targets.LambdaFunction(functions["Audit"], retry_attempts=2))
    # An hour before the audit, so that the audit reports the stacks' fresh drift checks (vending.pipeline.drift).
    events.Rule(
        stack,
        "StackDriftSchedule",
        description="Daily plan-only drift check of every applied stack, as its plan role",
        schedule=events.Schedule.cron(minute="0", hour="5"),
    ).add_target(
        targets.LambdaFunction(functions["StackDrift"], retry_attempts=2, event=events.RuleTargetInput.from_object({}))
    )
    # The spend fence (vending.handlers.spend_fence): an account over its cap is frozen within one interval.
    events.Rule(
        stack,
        "SpendFenceSchedule",
        description="Every metering interval: meter -> fence (freeze accounts over their spend caps)",
        schedule=events.Schedule.rate(Duration.minutes(SPEND_FENCE_INTERVAL_MINUTES)),
    ).add_target(
        targets.LambdaFunction(functions["SpendFence"], retry_attempts=2, event=events.RuleTargetInput.from_object({}))
    )
    events.Rule(
        stack,
        "NotificationsRule",
        description="Vending outcomes and audit findings -> notifications",
        event_pattern=events.EventPattern(
            source=[stack.settings.event_source],
            detail_type=[ACCOUNT_READY, ACCOUNT_FAILED, AUDIT_FINDINGS_DETAIL_TYPE, FROZEN_EVENT, THAWED_EVENT],
        ),
    ).add_target(targets.SnsTopic(storage.topic))
