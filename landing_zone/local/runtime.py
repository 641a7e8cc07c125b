"""The embedded default: the whole service on moto's server, on loopback.

- moto runs in server mode in this process; its Step Functions interpreter executes the real ASL file;
- every Lambda function is created in the emulator from vending/functions.py, and its invocations are
  dispatched to the handler in-process (moto would otherwise need Docker);
- Terraform pipeline workers run beside it and talk to the same endpoint.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import time
import traceback
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

import step_functions
from landing_zone.local.callbacks import fix_task_token_callbacks
from vending.accounts import CreationSlots
from vending.functions import FUNCTIONS, STATE_MACHINE_KEYS, FunctionSpec
from vending.guardrails.reconcile import reconcile_organization
from vending.layout import Layout, cached_layout
from vending.onboarding import ONBOARDING_EVENT_PATTERN
from vending.pipeline.approvals import DynamoDbApprovalStore
from vending.settings import Settings

REGION = "us-east-1"
# Placeholder values the emulator accepts as credentials; they open nothing outside this process.
EMULATOR_KEY = "emulator"
FAST_WORKFLOW = {
    "account_poll_seconds": 1,
    "account_poll_backoff": 1.5,
    "account_poll_cap_seconds": 5,
    "account_poll_max": 120,
    "pipeline_poll_seconds": 5,
    "pipeline_poll_max": 300,
    "pipeline_heartbeat_seconds": 600,  # two local workers: a queued run (no heartbeat yet) may wait for its turn
    "pipeline_timeout_seconds": 1800,
}


class LocalLambdaContext:
    """The parts of the Lambda context object powertools reads."""

    def __init__(self, spec: FunctionSpec, account_id: str) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{account_id}:function:{spec.name}"
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke_in_process(spec: FunctionSpec, event: Any, account_id: str) -> tuple[str, bool]:
    """Run the handler the way the Lambda runtime would: JSON in, JSON out, errors as errorType/errorMessage
    (Step Functions matches Retry and Catch on errorType)."""
    module_name, _, attr = spec.handler.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attr)
        result = handler(event, LocalLambdaContext(spec, account_id))
        return json.dumps(result, default=str), False
    except Exception as e:
        error = {
            "errorType": type(e).__name__,
            "errorMessage": str(e),
            "stackTrace": traceback.format_exception(e)[-3:],
        }
        return json.dumps(error), True


def _skip_conditioned_bucket_statements() -> None:
    """Emulator gap: moto evaluates bucket policies without their Condition blocks, so the state bucket's
    TLS-only Deny (Condition aws:SecureTransport=false) would deny every request. Statements with conditions
    are left to AWS; the policy itself is still stored and checked by the demo and the tests."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        kept = [st for st in (statements if isinstance(statements, list) else [statements]) if "Condition" not in st]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def _install_lambda_dispatch() -> None:
    from moto.awslambda.models import LambdaFunction

    by_name = {f.name: f for f in FUNCTIONS}

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        spec = by_name.get(self.function_name)
        if spec is None:
            return json.dumps({"errorType": "FunctionNotFound", "errorMessage": self.function_name}), True, ""
        payload = json.loads(event) if isinstance(event, str) else event
        body, errored = invoke_in_process(spec, payload, self.account_id)
        return body, errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


@dataclass
class Emulator:
    """moto in server mode on loopback, with the real Step Functions interpreter switched on."""

    port: int = 0
    host: str = "127.0.0.1"
    _server: Any = None
    endpoint: str = ""
    _saved_env: dict[str, str] = field(default_factory=dict)
    _saved_moto: tuple[Any, ...] = ()
    _undo_callbacks: Any = None

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._saved_env = dict(os.environ)  # restored on stop: the emulator's settings are process-wide
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The interpreter logs every Fail state as an error; the request record already says why.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port, self.endpoint = port, f"http://{host}:{port}"
        os.environ["MOTO_PORT"] = str(port)  # moto's interpreter calls Lambda through this port
        from moto.awslambda.models import LambdaFunction
        from moto.s3.models import FakeBucket

        # Everything changed in moto is put back on stop, so in-process mock_aws users are unaffected afterwards.
        self._saved_moto = (
            json.dumps(default_user_config.get("stepfunctions", {})),
            LambdaFunction._invoke_lambda,
            FakeBucket.get_permission,
        )
        default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
        _install_lambda_dispatch()
        _skip_conditioned_bucket_statements()
        self._undo_callbacks = fix_task_token_callbacks()
        os.environ.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=EMULATOR_KEY,
            AWS_SECRET_ACCESS_KEY=EMULATOR_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
        )
        for stale in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(stale, None)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            os.environ.clear()
            os.environ.update(self._saved_env)
            from moto.awslambda.models import LambdaFunction
            from moto.core.config import default_user_config
            from moto.s3.models import FakeBucket

            sfn_config, invoke, permission = self._saved_moto
            default_user_config["stepfunctions"] = json.loads(sfn_config)
            LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]
            FakeBucket.get_permission = permission  # type: ignore[method-assign]
            self._undo_callbacks()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(port: int = 0) -> Emulator:
    return Emulator(port=port).start()


@dataclass
class Deployment:
    endpoint: str
    management_account_id: str
    organization_id: str
    state_machine_arn: str
    function_arns: dict[str, str]
    onboarding_queue_url: str
    settings: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _resource_arns(symbol: str, *, account: str, settings: Settings, layout: Layout) -> list[str]:
    table = f"arn:aws:dynamodb:{REGION}:{account}:table/"
    return {
        "requests_table": [table + settings.requests_table],
        "idempotency_table": [table + settings.idempotency_table],
        "pipeline_runs_table": [table + settings.pipeline_runs_table],
        "approvals_table": [table + settings.approvals_table],
        "creation_slots_table": [table + settings.creation_slots_table],
        "event_bus": [f"arn:aws:events:{REGION}:{account}:event-bus/{settings.event_bus_name}"],
        "state_machine": [f"arn:aws:states:{REGION}:{account}:stateMachine:{step_functions.STATE_MACHINE_NAME}"],
        "executions": [f"arn:aws:states:{REGION}:{account}:execution:{step_functions.STATE_MACHINE_NAME}:*"],
        "reports_bucket": [f"arn:aws:s3:::{settings.reports_bucket}/*"],
        "codebuild_project": [f"arn:aws:codebuild:{REGION}:{account}:project/{settings.codebuild_project}"],
        "organization": [f"arn:aws:organizations::{account}:*"],
        "account_access_role": [f"arn:aws:iam::*:role/{layout.organization.access_role_name}"],
    }[symbol]


def _function_policy(spec: FunctionSpec, *, account: str, settings: Settings, layout: Layout) -> dict[str, Any]:
    statements = [
        {
            "Effect": "Allow",
            "Action": list(g.actions),
            "Resource": [
                a for r in g.resources for a in _resource_arns(r, account=account, settings=settings, layout=layout)
            ],
        }
        for g in spec.grants
    ]
    statements.append(
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/{spec.name}:*",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Handlers run in-process beside the emulator; see landing_zone/local/runtime.py")
    return buffer.getvalue()


def deploy(session: boto3.Session | None = None, *, layout: Layout | None = None) -> Deployment:
    """Deploy the service into the emulator, the way the CDK stack deploys it into the management account."""
    session = session or boto3.Session(region_name=REGION)
    layout = layout or cached_layout()
    reports_bucket = "vending-reports-local"
    os.environ.setdefault("VEND_REPORTS_BUCKET", reports_bucket)
    os.environ.setdefault("VEND_WORKFLOW_SETTINGS", json.dumps(FAST_WORKFLOW))
    os.environ.setdefault("VEND_PIPELINE_LAUNCHER", "local")
    settings = Settings.from_env()
    account = session.client("sts").get_caller_identity()["Account"]

    org = session.client("organizations")
    try:
        organization = org.describe_organization()["Organization"]
    except org.exceptions.AWSOrganizationsNotInUseException:
        organization = org.create_organization(FeatureSet="ALL")["Organization"]

    # The landing zone itself (OUs, SCPs on them), as `vend guardrails apply` lays it down in a real organization.
    reconcile_organization(org, layout, dry_run=False)

    ddb = session.client("dynamodb")
    existing_tables = set(ddb.list_tables()["TableNames"])
    for table, key in (
        (settings.requests_table, "request_id"),
        (settings.idempotency_table, "id"),
        (settings.pipeline_runs_table, "run_id"),
    ):
        if table not in existing_tables:
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                SSESpecification={"Enabled": True},
            )
    if settings.approvals_table not in existing_tables:
        DynamoDbApprovalStore(ddb, settings.approvals_table).create_table()
    if settings.creation_slots_table and settings.creation_slots_table not in existing_tables:
        CreationSlots(ddb, settings.creation_slots_table).create_table()
    ddb.update_time_to_live(
        TableName=settings.idempotency_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    s3 = session.client("s3")
    s3.create_bucket(Bucket=settings.reports_bucket)
    s3.put_bucket_versioning(Bucket=settings.reports_bucket, VersioningConfiguration={"Status": "Enabled"})

    iam, lam = session.client("iam"), session.client("lambda")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    env = {k: v for k, v in os.environ.items() if k.startswith(("VEND_", "POWERTOOLS_"))}
    function_arns: dict[str, str] = {}
    for spec in FUNCTIONS:
        role = iam.create_role(RoleName=f"{spec.name}-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=f"{spec.name}-role",
            PolicyName="least-privilege",
            PolicyDocument=json.dumps(_function_policy(spec, account=account, settings=settings, layout=layout)),
        )
        function_arns[spec.key] = lam.create_function(
            FunctionName=spec.name,
            Runtime="python3.12",
            Role=role,
            Handler=spec.handler,
            Code={"ZipFile": _placeholder_zip()},
            Timeout=spec.timeout_seconds,
            MemorySize=spec.memory_mb,
            Architectures=["arm64"],
            Environment={"Variables": env},
            Description=spec.description,
        )["FunctionArn"]

    sfn_role = iam.create_role(
        RoleName="AccountVendingStateMachineRole",
        AssumeRolePolicyDocument=trust.replace("lambda.amazonaws.com", "states.amazonaws.com"),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="AccountVendingStateMachineRole",
        PolicyName="invoke",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": [function_arns[k] for k in STATE_MACHINE_KEYS],
                    }
                ],
            }
        ),
    )
    definition = step_functions.render({f"{k}FunctionArn": arn for k, arn in function_arns.items()})
    sfn = session.client("stepfunctions")
    state_machine_arn = sfn.create_state_machine(
        name=step_functions.STATE_MACHINE_NAME, definition=definition, roleArn=sfn_role
    )["stateMachineArn"]
    os.environ["VEND_STATE_MACHINE_ARN"] = state_machine_arn

    # Onboarding events: rule -> SQS (buffer + DLQ) -> StartFromEvent, as in AWS.
    sqs, events = session.client("sqs"), session.client("events")
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName="vending-onboarding-dlq")["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="vending-onboarding",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="vending-onboarding", EventPattern=json.dumps(ONBOARDING_EVENT_PATTERN), State="ENABLED")
    events.put_targets(Rule="vending-onboarding", Targets=[{"Id": "queue", "Arn": queue_arn}])
    lam.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=function_arns["StartFromEvent"],
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    return Deployment(
        endpoint=os.environ.get("AWS_ENDPOINT_URL", ""),
        management_account_id=account,
        organization_id=organization["Id"],
        state_machine_arn=state_machine_arn,
        function_arns=function_arns,
        onboarding_queue_url=queue_url,
        settings=env,
    )
