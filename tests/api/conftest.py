"""The vending API on moto: the resolver in-process (mock_aws) and `vend api serve` against the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

TABLES = (("vending-requests", "request_id"), ("vending-idempotency", "id"), ("vending-pipeline-runs", "run_id"))


@contextmanager
def moto_vending() -> Iterator[dict[str, Any]]:
    """moto with the three tables, an organization and an AccountVending state machine (nothing should ever start
    an execution in the malformed-input tests). Credentials and region must already be in the environment."""
    import boto3
    import moto

    from landing_zone.local.execution_names import execution_names_unique

    with moto.mock_aws(), execution_names_unique():  # names unique under a race, as in AWS
        from vending.lifecycle import requests_table_definition

        ddb = boto3.client("dynamodb")
        ddb.create_table(**requests_table_definition(TABLES[0][0]))  # with the e-mail index the intake reads
        for table, key in TABLES[1:]:
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            )
        org = boto3.client("organizations")
        org.create_organization(FeatureSet="ALL")
        sfn = boto3.client("stepfunctions")
        iam = boto3.client("iam")
        role = iam.create_role(
            RoleName="sfn",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "states.amazonaws.com"},
                        }
                    ],
                }
            ),
        )
        arn = sfn.create_state_machine(
            name="AccountVending",
            roleArn=role["Role"]["Arn"],
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        )["stateMachineArn"]
        yield {"dynamodb": ddb, "stepfunctions": sfn, "organizations": org, "state_machine_arn": arn}


def fake_aws_env(setenv: Callable[[str, str], None], delenv: Callable[[str], None]) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "VEND_STATE_MACHINE_ARN"):
        delenv(name)
    setenv("AWS_ACCESS_KEY_ID", "testing")
    setenv("AWS_SECRET_ACCESS_KEY", "testing")
    setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """GIVEN moto with the tables, an organization and a state machine whose ARN is in VEND_STATE_MACHINE_ARN."""
    fake_aws_env(monkeypatch.setenv, lambda name: monkeypatch.delenv(name, raising=False))
    with moto_vending() as resources:
        monkeypatch.setenv("VEND_STATE_MACHINE_ARN", resources["state_machine_arn"])
        yield resources


def proxy_event(method: str, path: str, body: Any = None, *, raw: str | None = None) -> dict[str, Any]:
    from vending.cli.api import http_to_event

    data = raw.encode() if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return http_to_event(method, path, {"Content-Type": "application/json"}, data)


class _Ctx:
    function_name = "vending-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:vending-api"
    aws_request_id = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def call(aws: Any) -> Any:
    """Invoke the Lambda handler with an API Gateway REST proxy event; returns (status, json body)."""
    from vending.api.handler import handler

    def _call(method: str, path: str, body: Any = None, *, raw: str | None = None) -> tuple[int, Any]:
        result = handler(proxy_event(method, path, body, raw=raw), _Ctx())
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else None

    return _call
