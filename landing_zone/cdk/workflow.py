"""The AccountVending state machine: the one ASL file of step_functions/, with the functions' ARNs substituted."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn

from landing_zone.cdk.base import BaseStack
from step_functions import ASL_PATH, LIFECYCLE_ASL_PATH, LIFECYCLE_STATE_MACHINE_NAME, STATE_MACHINE_NAME
from vending.functions import LIFECYCLE_KEYS, STATE_MACHINE_KEYS


def build_state_machine(stack: BaseStack, functions: dict[str, lambda_.Function]) -> sfn.StateMachine:
    log_group = logs.LogGroup(stack, "StateMachineLogs", log_group_name=f"/aws/vendedlogs/states/{STATE_MACHINE_NAME}",
                              retention=logs.RetentionDays.SIX_MONTHS, removal_policy=RemovalPolicy.RETAIN)
    role = iam.Role(stack, "StateMachineRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                    description="AccountVending: invoke exactly the workflow's functions, write logs and traces")
    # Exactly the unqualified ARNs the ASL names (no ":*" for versions or aliases: the definition uses none).
    role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                           resources=[functions[key].function_arn for key in STATE_MACHINE_KEYS]))
    machine = sfn.StateMachine(
        stack, "AccountVending", state_machine_name=STATE_MACHINE_NAME, role=role,
        definition_body=sfn.DefinitionBody.from_file(str(ASL_PATH)),
        definition_substitutions={f"{key}FunctionArn": functions[key].function_arn for key in STATE_MACHINE_KEYS},
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        tracing_enabled=True,
    )
    stack.acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                      "CloudWatch Logs vended delivery (logs:CreateLogDelivery, PutResourcePolicy, "
                      "DescribeLogGroups...) and X-Ray (PutTraceSegments, GetSamplingRules...) support no "
                      "resource-level permissions; Step Functions requires them on '*' for logging and tracing.")
    return machine


def build_lifecycle_state_machine(stack: BaseStack, functions: dict[str, lambda_.Function]) -> sfn.StateMachine:
    """AccountLifecycle (day 2: changes and retirement), built from the same functions and conventions."""
    log_group = logs.LogGroup(stack, "LifecycleLogs",
                              log_group_name=f"/aws/vendedlogs/states/{LIFECYCLE_STATE_MACHINE_NAME}",
                              retention=logs.RetentionDays.SIX_MONTHS, removal_policy=RemovalPolicy.RETAIN)
    role = iam.Role(stack, "LifecycleStateMachineRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                    description="AccountLifecycle: invoke exactly its functions, write logs and traces")
    role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                           resources=[functions[key].function_arn for key in LIFECYCLE_KEYS]))
    machine = sfn.StateMachine(
        stack, "AccountLifecycle", state_machine_name=LIFECYCLE_STATE_MACHINE_NAME, role=role,
        definition_body=sfn.DefinitionBody.from_file(str(LIFECYCLE_ASL_PATH)),
        definition_substitutions={f"{key}FunctionArn": functions[key].function_arn for key in LIFECYCLE_KEYS},
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        tracing_enabled=True,
    )
    stack.acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                      "CloudWatch Logs vended delivery and X-Ray support no resource-level permissions; Step "
                      "Functions requires them on '*' for logging and tracing.")
    return machine
