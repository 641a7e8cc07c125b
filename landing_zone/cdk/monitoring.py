"""Alarms and the dashboard. Alarms fire on outcomes, never on the routine errors the workflow retries.

- Executions that failed, timed out or were aborted (the workflow's own metrics): every terminal error of a workflow
  function ends there through the ASL's Catch -> RecordFailed -> Fail.
- Terminal errors per function: a metric filter on the function's log group counts the runtime's JSON record of an
  unhandled exception (`errorType`, Lambda JSON log format) unless the error is one the ASL retries
  (AccessRoleNotReady, OrganizationsThrottled, ...). Lambda's own `Errors` metric counts those retried errors too,
  which is why there is no alarm on it. StartFromEvent rejects bad events without raising (RequestsRejected), and
  events that keep failing reach the dead-letter queue, which has its own alarm.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn

from landing_zone.cdk.base import METRICS_NAMESPACE, SERVICE_NAME, BaseStack
from landing_zone.cdk.events import Onboarding
from landing_zone.cdk.storage import Storage
from step_functions import ASL_PATH
from vending.functions import by_key

AUDIT_FINDINGS_METRIC = "GuardrailFindings"  # vending.guardrails.audit.publish, AccountVending namespace
TERMINAL_ERRORS_SUFFIX = "TerminalErrors"  # metric <FunctionKey>TerminalErrors in the AccountVending namespace


def retried_error_names() -> list[str]:
    """Every errorType some Retry of the ASL names: what the workflow treats as routine."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for retry in node.get("Retry", []):
                names.update(retry["ErrorEquals"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(ASL_PATH.read_text(encoding="utf-8")))
    return sorted(names)


def terminal_error_pattern() -> logs.IFilterPattern:
    retried = [logs.FilterPattern.string_value("$.errorType", "!=", name) for name in retried_error_names()]
    return logs.FilterPattern.all(logs.FilterPattern.string_value("$.errorType", "=", "*"), *retried)


def build_monitoring(
    stack: BaseStack,
    *,
    storage: Storage,
    functions: dict[str, lambda_.Function],
    log_groups: dict[str, logs.LogGroup],
    state_machine: sfn.StateMachine,
    onboarding: Onboarding,
) -> None:
    action = cw_actions.SnsAction(storage.topic)
    alarms: list[cw.Alarm] = []

    def alarm(cid: str, metric: cw.Metric | cw.MathExpression, description: str) -> None:
        created = metric.create_alarm(
            stack,
            cid,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        created.add_alarm_action(action)
        alarms.append(created)

    five = Duration.minutes(5)
    alarm("ExecutionsFailedAlarm", state_machine.metric_failed(period=five), "An AccountVending execution failed")
    alarm(
        "ExecutionsTimedOutAlarm", state_machine.metric_timed_out(period=five), "An AccountVending execution timed out"
    )
    alarm(
        "ExecutionsAbortedAlarm", state_machine.metric_aborted(period=five), "An AccountVending execution was aborted"
    )
    audit_findings = cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=AUDIT_FINDINGS_METRIC,
        dimensions_map={"service": SERVICE_NAME},
        statistic="Sum",
        period=Duration.days(1),
    )
    alarm("AuditFindingsAlarm", audit_findings, "The guardrail audit found drift (intended vs actual)")
    # Stack drift is counted among the audit's findings (above) and alarmed on its own too: it names a stack to fix.
    stack_drift = cw.MathExpression(
        expression="drifted + unchecked",
        using_metrics={
            kind: cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=f"{AUDIT_FINDINGS_METRIC}.{finding}",
                dimensions_map={"service": SERVICE_NAME},
                statistic="Sum",
                period=Duration.days(1),
            )
            for kind, finding in (("drifted", "stack_drift"), ("unchecked", "drift_unchecked"))
        },
        label="Stacks drifted or unchecked",
        period=Duration.days(1),
    )
    alarm("StackDriftAlarm", stack_drift, "A stack differs from its code and state, or its drift check failed")
    alarm(
        "OnboardingDlqAlarm",
        onboarding.dlq.metric_approximate_number_of_messages_visible(period=five, statistic="Maximum"),
        "Onboarding events are in the dead-letter queue",
    )
    pattern = terminal_error_pattern()
    terminal: list[cw.IMetric] = []
    for key, fn in functions.items():
        name = by_key(key).name
        metric_filter = logs.MetricFilter(
            stack,
            f"{key}{TERMINAL_ERRORS_SUFFIX}Filter",
            log_group=log_groups[key],
            filter_pattern=pattern,
            metric_namespace=METRICS_NAMESPACE,
            metric_name=f"{key}{TERMINAL_ERRORS_SUFFIX}",
            metric_value="1",
            default_value=0,
        )
        metric = metric_filter.metric(statistic="Sum", period=five)
        terminal.append(metric)
        alarm(f"{key}{TERMINAL_ERRORS_SUFFIX}Alarm", metric, f"{name}: an error the workflow does not retry")
        alarm(f"{key}ThrottlesAlarm", fn.metric_throttles(period=five), f"{name} throttled")

    dashboard = cw.Dashboard(stack, "Dashboard", dashboard_name="account-vending")
    dashboard.add_widgets(
        cw.GraphWidget(
            title="AccountVending executions",
            width=12,
            left=[
                state_machine.metric_started(),
                state_machine.metric_succeeded(),
                state_machine.metric_failed(),
                state_machine.metric_timed_out(),
                state_machine.metric_aborted(),
            ],
        ),
        cw.GraphWidget(
            title="Requests",
            width=12,
            left=[
                cw.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=name,
                    dimensions_map={"service": SERVICE_NAME},
                    statistic="Sum",
                )
                for name in (
                    "AccountCreationsStarted",
                    "AccountsAdopted",
                    "AccountsReady",
                    "RequestsFailed",
                    "RequestsRejected",
                )
            ],
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Lambda errors (all, including retried)",
            width=6,
            left=[fn.metric_errors() for fn in functions.values()],
        ),
        cw.GraphWidget(title="Terminal errors", width=6, left=terminal),
        cw.GraphWidget(title="Lambda throttles", width=6, left=[fn.metric_throttles() for fn in functions.values()]),
        cw.GraphWidget(
            title="Lambda p99 duration",
            width=6,
            left=[fn.metric_duration(statistic="p99") for fn in functions.values()],
        ),
    )
    dashboard.add_widgets(
        cw.SingleValueWidget(title="Audit findings (last day)", width=8, metrics=[audit_findings]),
        cw.GraphWidget(
            title="Onboarding queue",
            width=8,
            left=[
                onboarding.queue.metric_approximate_number_of_messages_visible(),
                onboarding.dlq.metric_approximate_number_of_messages_visible(),
            ],
        ),
        cw.AlarmStatusWidget(title="Alarms", width=8, alarms=alarms),
    )
