"""The state machines: each an ASL file of step_functions/ with its functions' ARNs substituted."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Fn, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn

from landing_zone.cdk.base import BaseStack
from step_functions import ASL_PATH, LIFECYCLE_ASL_PATH, LIFECYCLE_STATE_MACHINE_NAME, STATE_MACHINE_NAME
from vending.functions import LIFECYCLE_KEYS, STATE_MACHINE_KEYS


def build_state_machine(stack: BaseStack, functions: dict[str, lambda_.Function]) -> sfn.StateMachine:
    return _state_machine(
        stack,
        functions,
        construct_id="AccountVending",
        name=STATE_MACHINE_NAME,
        asl=ASL_PATH,
        keys=STATE_MACHINE_KEYS,
        role_id="StateMachineRole",
        logs_id="StateMachineLogs",
    )


def build_lifecycle_state_machine(stack: BaseStack, functions: dict[str, lambda_.Function]) -> sfn.StateMachine:
    """AccountLifecycle (day 2: changes and retirement), built from the same functions and conventions."""
    return _state_machine(
        stack,
        functions,
        construct_id="AccountLifecycle",
        name=LIFECYCLE_STATE_MACHINE_NAME,
        asl=LIFECYCLE_ASL_PATH,
        keys=LIFECYCLE_KEYS,
        role_id="LifecycleStateMachineRole",
        logs_id="LifecycleLogs",
    )


def _state_machine(
    stack: BaseStack,
    functions: dict[str, lambda_.Function],
    *,
    construct_id: str,
    name: str,
    asl: Path,
    keys: tuple[str, ...],
    role_id: str,
    logs_id: str,
) -> sfn.StateMachine:
    # Retained, so its name must not be fixed: a failed first deploy rolls back and leaves it, and a fixed name would
    # fail the next deploy with "already exists". The stack id's UUID is new for every creation of the stack; the
    # /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small (Step Functions' logging guidance).
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    log_group = logs.LogGroup(
        stack,
        logs_id,
        log_group_name=Fn.join("", [f"/aws/vendedlogs/states/{name}-", stack_uuid]),
        retention=logs.RetentionDays.SIX_MONTHS,
        removal_policy=RemovalPolicy.RETAIN,
    )
    role = iam.Role(
        stack,
        role_id,
        assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
        description=f"{name}: invoke exactly the workflow's functions, write logs and traces",
    )
    # Exactly the unqualified ARNs the ASL names (no ":*" for versions or aliases: the definition uses none).
    role.add_to_policy(
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[functions[key].function_arn for key in keys])
    )
    machine = sfn.StateMachine(
        stack,
        construct_id,
        state_machine_name=name,
        role=role,
        definition_body=sfn.DefinitionBody.from_file(str(asl)),
        definition_substitutions={f"{key}FunctionArn": functions[key].function_arn for key in keys},
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        tracing_enabled=True,
    )
    stack.acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "CloudWatch Logs vended delivery (logs:CreateLogDelivery, PutResourcePolicy, "
        "DescribeLogGroups...) and X-Ray (PutTraceSegments, GetSamplingRules...) support no "
        "resource-level permissions; Step Functions requires them on '*' for logging and tracing.",
    )
    return machine
