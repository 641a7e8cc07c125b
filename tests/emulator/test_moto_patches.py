"""Each patch of moto's internals: its guard refuses a moto that changed under it, and its effect is visible.

moto is pinned exactly (pyproject.toml); when a new moto breaks a guard here, read what the patch relies on before
moving the pin.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from landing_zone.local import runtime
from landing_zone.local.organizations import ADMINISTRATOR_ACCESS, access_role_administrator, aws_like_organizations
from landing_zone.local.patching import MotoChanged, require, require_instance_attribute
from landing_zone.local.pipeline_account import _aws_managed_policies

REGION = "us-east-1"


def _new_account(org: Any) -> str:
    status = org.create_account(Email="owner@example.com", AccountName="member")["CreateAccountStatus"]
    described = org.describe_create_account_status(CreateAccountRequestId=status["Id"])
    return str(described["CreateAccountStatus"]["AccountId"])


def test_moto_pin_is_exact_and_installed() -> None:
    # GIVEN the project's dependencies
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    specs = [d for deps in pyproject["project"]["optional-dependencies"].values() for d in deps] + list(
        pyproject["project"].get("dependencies", [])
    )
    # WHEN moto's requirement is read
    moto = [d for d in specs if re.match(r"^moto(\[|=|>|<|~|$)", d)]
    # THEN it is one exact pin, and the installed moto is that version
    assert len(moto) == 1 and "==" in moto[0], moto
    assert moto[0].split("==")[1] == version("moto")


def test_require_refuses_a_missing_member() -> None:
    class Backend:
        def method(self, **kwargs: Any) -> None: ...

    # WHEN a patch asks for a member moto no longer has, or with another signature
    # THEN it is refused with a message naming it, instead of silently doing nothing
    with pytest.raises(MotoChanged, match="renamed_method no longer exists"):
        require(Backend, "renamed_method")
    with pytest.raises(MotoChanged, match=r"takes \('self', 'kwargs'\).*expects \('self', 'policy_id'\)"):
        require(Backend, "method", ("self", "policy_id"))
    with pytest.raises(MotoChanged, match="no 'attached_policies'"):
        require_instance_attribute(Backend(), "attached_policies")
    assert require(Backend, "method", ("self", "kwargs")) is Backend.method


def test_aws_like_organizations_takes_effect(aws: None) -> None:
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    deny = {"Effect": "Deny", "Action": "x:Y", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    with aws_like_organizations(max_policies_per_target=2):
        # GIVEN an OU
        ou = org.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
        # THEN its last SCP cannot be detached
        attached = org.list_policies_for_target(TargetId=ou, Filter="SERVICE_CONTROL_POLICY")["Policies"]
        assert [p["Id"] for p in attached] == ["p-FullAWSAccess"]
        with pytest.raises(ClientError, match="ConstraintViolationException"):
            org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
        # AND the per-target quota is enforced
        ids = [
            org.create_policy(Name=f"scp{i}", Description="", Type="SERVICE_CONTROL_POLICY", Content=document)[
                "Policy"
            ]["PolicySummary"]["Id"]
            for i in range(2)
        ]
        # AND a policy of a type not enabled at the root cannot be attached (moto attaches it)
        with pytest.raises(ClientError, match="PolicyTypeNotEnabledException"):
            org.attach_policy(PolicyId=ids[0], TargetId=ou)
        org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
        org.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")
        tags = org.create_policy(Name="tags", Description="", Type="TAG_POLICY", Content='{"tags":{}}')["Policy"][
            "PolicySummary"
        ]["Id"]
        org.attach_policy(PolicyId=tags, TargetId=ou)
        # AND disabling a type detaches every policy of it, as AWS does (moto leaves them attached)
        org.disable_policy_type(RootId=root, PolicyType="TAG_POLICY")
        assert org.list_targets_for_policy(PolicyId=tags)["Targets"] == []
        org.attach_policy(PolicyId=ids[0], TargetId=ou)
        with pytest.raises(ClientError, match="POLICY_NUMBER_LIMIT_EXCEEDED"):
            org.attach_policy(PolicyId=ids[1], TargetId=ou)
        # AND ListTargetsForPolicy pages at 20 as AWS does
        for i in range(21):
            org.attach_policy(
                PolicyId=ids[1],
                TargetId=org.create_organizational_unit(ParentId=root, Name=f"ou{i}")["OrganizationalUnit"]["Id"],
            )
        page = org.list_targets_for_policy(PolicyId=ids[1])
        assert len(page["Targets"]) == 20 and page["NextToken"]
    # AND without the patch moto is back to its own behaviour (one page, no quota)
    assert "NextToken" not in org.list_targets_for_policy(PolicyId=ids[1])
    org.attach_policy(PolicyId=ids[1], TargetId=ou)
    # AND moto itself (not a patch) gives a new OU FullAWSAccess, as AWS does
    plain = org.create_organizational_unit(ParentId=root, Name="Plain")["OrganizationalUnit"]["Id"]
    assert [
        p["Id"] for p in org.list_policies_for_target(TargetId=plain, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    ] == ["p-FullAWSAccess"]


def test_access_role_administrator_takes_effect(aws: None) -> None:
    from moto.iam.models import iam_backends

    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    # GIVEN an account created without the patch: moto's access role has no policy
    plain = _new_account(org)
    assert iam_backends[plain]["global"].list_role_policies("OrganizationAccountAccessRole") == []
    # WHEN an account is created under the patch
    with access_role_administrator():
        patched = _new_account(org)
    # THEN its access role carries AdministratorAccess, as in AWS
    backend = iam_backends[patched]["global"]
    assert backend.list_role_policies("OrganizationAccountAccessRole") == ["AdministratorAccess"]
    _, document = backend.get_role_policy("OrganizationAccountAccessRole", "AdministratorAccess")
    assert json.loads(document) == json.loads(ADMINISTRATOR_ACCESS)


def test_aws_managed_policies_takes_effect(aws: None) -> None:
    from moto.iam.models import iam_backends

    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    eks = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
    plain = _new_account(org)
    with _aws_managed_policies():
        loaded = _new_account(org)
    # THEN only the account created under the patch has AWS managed policies in its IAM
    assert eks in iam_backends[loaded]["global"].managed_policies
    assert eks not in iam_backends[plain]["global"].managed_policies


def test_moto_identity_check_off_leaves_bucket_policies_and_identity_to_the_middleware(aws: None) -> None:
    from moto.iam.access_control import IAMRequestBase, PermissionResult
    from moto.s3.models import s3_backends

    from landing_zone.local.authorization.server import moto_identity_check_off

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="state")
    deny_plain_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::state/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(Bucket="state", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny_plain_http]}))
    bucket = s3_backends["123456789012"]["aws"].get_bucket("state")
    check = IAMRequestBase.check_action_permitted
    # GIVEN moto's own evaluation, which ignores the Condition and so denies every request
    assert bucket.get_permission("s3:GetObject", "arn:aws:s3:::state/key") == PermissionResult.DENIED
    with moto_identity_check_off():
        # THEN while the middleware decides, moto's bucket-policy and identity checks stand aside
        assert bucket.get_permission("s3:GetObject", "arn:aws:s3:::state/key") == PermissionResult.NEUTRAL
        assert IAMRequestBase.check_action_permitted is not check
    # AND both are put back afterwards
    assert bucket.get_permission("s3:GetObject", "arn:aws:s3:::state/key") == PermissionResult.DENIED
    assert IAMRequestBase.check_action_permitted is check


def test_lambda_dispatch_takes_effect(aws: None) -> None:
    from moto.awslambda.models import LambdaFunction

    iam, lam = boto3.client("iam", region_name=REGION), boto3.client("lambda", region_name=REGION)
    allow = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [allow]}
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    lam.create_function(
        FunctionName="not-in-functions",
        Runtime="python3.12",
        Role=role,
        Handler="x.y",
        Code={"ZipFile": runtime._placeholder_zip()},
    )
    original = LambdaFunction._invoke_lambda
    try:
        runtime._install_lambda_dispatch()
        # WHEN a function is invoked: it is dispatched in-process (moto would need Docker), by name
        reply = lam.invoke(FunctionName="not-in-functions", Payload=b"{}")
    finally:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]
    # THEN the dispatcher answered: the name is not one of vending/functions.py
    assert reply["FunctionError"]
    assert json.loads(reply["Payload"].read()) == {"errorType": "FunctionNotFound", "errorMessage": "not-in-functions"}


def test_interpreter_calls_lambda_as_state_machine_role(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.boto_client_for
    # GIVEN moto's own client: the placeholder keys IAM authentication refuses
    assert original(region=REGION, service="lambda")._request_signer._credentials.access_key == "ak"
    monkeypatch.setenv("MOTO_PORT", "5999")
    keys = {"AccessKeyId": "ASIASTATEMACHINE", "SecretAccessKey": "s", "SessionToken": "t"}
    monkeypatch.setattr(
        runtime, "_IDENTITIES", runtime._Identities(lambda_service=keys, state_machine=keys, account_id="123456789012")
    )
    try:
        runtime._interpreter_calls_lambda_as_state_machine_role()
        # WHEN the interpreter builds its Lambda client
        client = lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None)
    finally:
        lambda_eval_utils.boto_client_for = original
    # THEN it signs as the state machine role, against the emulator
    assert client._request_signer._credentials.access_key == "ASIASTATEMACHINE"
    assert client.meta.endpoint_url == "http://localhost:5999"


def test_iam_enforced_switches_moto_authentication_on_and_back(aws: None) -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    sts = boto3.client("sts", region_name=REGION)
    before = settings.INITIAL_NO_AUTH_ACTION_COUNT
    with runtime.iam_enforced():
        # WHEN authentication is on, the unknown "testing" keys are refused
        assert settings.INITIAL_NO_AUTH_ACTION_COUNT == 0 and ActionAuthenticatorMixin.request_count == 0
        with pytest.raises(ClientError, match="InvalidClientTokenId"):
            sts.get_caller_identity()
    # THEN it is off again afterwards
    assert before == settings.INITIAL_NO_AUTH_ACTION_COUNT
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_current_endpoint_instance_types_takes_effect(aws: None) -> None:
    from landing_zone.local.sagemaker import current_endpoint_instance_types

    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/m",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/llm:1"},
    )
    variant = {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.g5.2xlarge"}
    # GIVEN moto as it ships, WHEN an LLM endpoint config asks for ml.g5, THEN moto refuses a type AWS accepts
    with pytest.raises(ClientError, match=re.escape("ml.g5.2xlarge")):
        sm.create_endpoint_config(EndpointConfigName="before", ProductionVariants=[variant])
    # WHEN patched, THEN the types of botocore's service model are accepted and a made-up one is still refused
    with current_endpoint_instance_types() as valid:
        assert {"ml.g5.2xlarge", "ml.g6e.xlarge", "ml.inf2.xlarge", "ml.p5.48xlarge"} <= valid
        sm.create_endpoint_config(EndpointConfigName="after", ProductionVariants=[variant])
        with pytest.raises(ClientError, match=re.escape("ml.zz9")):
            sm.create_endpoint_config(
                EndpointConfigName="bad", ProductionVariants=[{**variant, "InstanceType": "ml.zz9.huge"}]
            )


def test_dynamodb_conditional_writes_are_atomic_under_threads(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    from moto.dynamodb.models import table as moto_table

    from landing_zone.local.dynamodb import atomic_conditional_writes

    ddb = boto3.client("dynamodb", region_name=REGION)
    original = moto_table.get_filter_expression

    class SlowCondition:
        """Widen moto's window between evaluating the condition and writing the item, so a race shows every time."""

        def __init__(self, op: Any) -> None:
            self.op = op

        def expr(self, item: Any) -> Any:
            answer = self.op.expr(item)
            time.sleep(0.05)
            return answer

    monkeypatch.setattr(moto_table, "get_filter_expression", lambda *a, **k: SlowCondition(original(*a, **k)))

    def race(table: str) -> int:
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "slot", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "slot", "KeyType": "HASH"}],
        )

        def claim(i: int) -> bool:
            try:
                ddb.put_item(
                    TableName=table,
                    Item={"slot": {"S": "only"}, "holder": {"S": str(i)}},
                    ConditionExpression="attribute_not_exists(slot)",
                )
                return True
            except ddb.exceptions.ConditionalCheckFailedException:
                return False

        with ThreadPoolExecutor(max_workers=8) as pool:
            return sum(pool.map(claim, range(8)))

    # GIVEN eight threads racing for one item: moto alone lets several conditional writes win (the negative control)
    assert race("unpatched") > 1
    # WHEN writes are serialized as DynamoDB serializes writes to one item THEN exactly one wins
    with atomic_conditional_writes():
        assert race("patched") == 1


def test_slow_account_creation_holds_creations_and_refuses_a_sixth(aws: None) -> None:
    from botocore.config import Config

    from landing_zone.local.organizations import slow_account_creation

    org = boto3.client("organizations", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
    org.create_organization(FeatureSet="ALL")

    def create(i: int) -> dict[str, Any]:
        return org.create_account(Email=f"o{i}@example.com", AccountName=f"m{i}")["CreateAccountStatus"]

    with slow_account_creation(60, max_in_flight=5) as quota:
        held = [create(i) for i in range(5)]
        # THEN each creation stays IN_PROGRESS without an account id, and a 6th is refused as AWS refuses it
        assert {s["State"] for s in held} == {"IN_PROGRESS"} and not any("AccountId" in s for s in held)
        described = org.describe_create_account_status(CreateAccountRequestId=held[0]["Id"])["CreateAccountStatus"]
        assert described["State"] == "IN_PROGRESS"
        with pytest.raises(ClientError, match="TooManyRequestsException"):
            create(5)
        assert (quota.peak_in_flight, quota.rejected) == (5, 1)
    # AND moto as it ships (the negative control) completes at once and accepts any number
    assert create(6)["State"] == "SUCCEEDED"
    described = org.describe_create_account_status(CreateAccountRequestId=held[0]["Id"])["CreateAccountStatus"]
    assert described["State"] == "SUCCEEDED" and described["AccountId"]


def test_unique_account_emails_fails_a_second_creation_for_one_address(aws: None) -> None:
    from landing_zone.local.organizations import unique_account_emails

    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    org.create_account(Email="Team@example.com", AccountName="first")
    # GIVEN moto as it ships: a second account for the same address (the negative control)
    assert org.create_account(Email="team@example.com", AccountName="dup")["CreateAccountStatus"]["State"] != "FAILED"
    with unique_account_emails() as refused:
        # WHEN patched THEN the creation fails with AWS's reason, and its status can be read back and listed
        status = org.create_account(Email="TEAM@example.com", AccountName="again")["CreateAccountStatus"]
        assert (status["State"], status["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")
        read = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        assert read["FailureReason"] == "EMAIL_ALREADY_EXISTS" and status["Id"] in refused
        listed = org.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"]
        assert status["Id"] in {s["Id"] for s in listed}


def test_redelivering_sqs_event_sources_delivers_a_failed_batch_again(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from moto.awslambda.models import LambdaBackend, lambda_backends

    from landing_zone.local.event_sources import redelivering_sqs_event_sources

    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="onboarding")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    calls: list[int] = []

    def send_sqs_batch(self: Any, function_arn: str, messages: Any, queue_arn: str) -> bool:
        calls.append(len(messages))
        return len(calls) > 1  # the first invocation fails, as a crashed function does

    monkeypatch.setattr(LambdaBackend, "send_sqs_batch", send_sqs_batch)
    backend = lambda_backends["123456789012"][REGION]

    def deliver_once() -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
        received = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"]
        from moto.sqs.models import sqs_backends

        moto_messages = sqs_backends["123456789012"][REGION].get_queue("onboarding").messages
        assert received and moto_messages
        LambdaBackend.send_sqs_batch(
            backend, "arn:aws:lambda:us-east-1:123456789012:function:f", moto_messages, queue_arn
        )

    # GIVEN moto as it ships (the negative control): a failed batch is never delivered again
    deliver_once()
    time.sleep(0.5)
    assert calls == [1]
    calls.clear()
    sqs.purge_queue(QueueUrl=queue_url)
    with redelivering_sqs_event_sources(delay=0.1):
        # WHEN patched THEN the failed batch is received again and, delivered, deleted from the queue
        deliver_once()
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls == [1, 1]
        time.sleep(0.2)
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_task_token_callbacks_keep_the_cause_and_see_an_early_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    from landing_zone.local.callbacks import fix_task_token_callbacks

    received: list[tuple[Any, ...]] = []

    def send_task_failure(self: Any, task_token: Any, error: Any = None, cause: Any = None) -> None:
        received.append((task_token, error, cause))

    monkeypatch.setattr(StepFunctionsParserBackend, "send_task_failure", send_task_failure)
    response = StepFunctionResponse()
    params = {"taskToken": "t", "error": "PipelineFailed", "cause": "plan: 2 errors"}
    monkeypatch.setattr(response, "_get_param", params.get)
    parser_backend = object.__new__(StepFunctionsParserBackend)
    monkeypatch.setattr(StepFunctionResponse, "stepfunction_backend", parser_backend)
    # GIVEN moto as it ships (the negative control): the cause never reaches the interpreter
    StepFunctionResponse.send_task_failure(response)
    assert received == [("t", "PipelineFailed", None)]
    undo = fix_task_token_callbacks()
    try:
        # WHEN fixed THEN the cause is passed on
        StepFunctionResponse.send_task_failure(response)
        assert received[-1] == ("t", "PipelineFailed", "plan: 2 errors")
        # AND a token completed before the heartbeat wait starts is seen at once, not at the heartbeat timeout

        class Delivered:
            def get_outcome(self) -> str:
                return "outcome"

        wait = StateTaskServiceCallback._wait_for_task_token_heartbeat
        assert wait(None, None, Delivered(), None) == "outcome"
        # AND the backend without the interpreter is refused loudly, not silently given moto's behaviour
        monkeypatch.setattr(StepFunctionResponse, "stepfunction_backend", object())
        with pytest.raises(MotoChanged, match="without the interpreter"):
            StepFunctionResponse.send_task_failure(response)
    finally:
        undo()


@pytest.mark.parametrize("worker", [None, SimpleNamespace(env=None)], ids=["no-worker", "no-environment"])
def test_task_token_callbacks_skip_an_execution_still_starting(worker: Any) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from landing_zone.local.callbacks import fix_task_token_callbacks

    class Execution:
        def __init__(self, worker: Any) -> None:
            self.status, self.exec_worker = "RUNNING", worker

    class Machine:
        def __init__(self) -> None:
            self.executions = [Execution(worker)]  # listed by StartExecution, not yet running

    backend = object.__new__(StepFunctionsParserBackend)
    backend.state_machines = [Machine()]  # type: ignore[assignment]
    # GIVEN moto as it ships (the negative control): a callback crossing the starting execution fails with a 500
    with pytest.raises(AttributeError, match="no attribute"):
        backend.send_task_success("token", "{}")
    undo = fix_task_token_callbacks()
    try:
        # WHEN fixed THEN the token is looked for where it can be, and an unknown one is InvalidToken, as in AWS
        from moto.stepfunctions.parser.api import InvalidToken

        with pytest.raises(InvalidToken):
            backend.send_task_success("token", "{}")
    finally:
        undo()


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        ("moto.stepfunctions.parser.models:StepFunctionsParserBackend", "send_task_failure"),
        (
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback"
            ":StateTaskServiceCallback",
            "_wait_for_task_token_heartbeat",
        ),
        ("moto.stepfunctions.responses:StepFunctionResponse", "send_task_failure"),
    ],
)
def test_task_token_callbacks_refuse_a_changed_moto(monkeypatch: pytest.MonkeyPatch, owner: str, name: str) -> None:
    import importlib

    from landing_zone.local.callbacks import fix_task_token_callbacks

    module, cls = owner.split(":")
    # GIVEN a moto whose method lost a parameter WHEN the fix is installed THEN it refuses, naming the method
    monkeypatch.setattr(getattr(importlib.import_module(module), cls), name, lambda self, renamed: None)
    with pytest.raises(MotoChanged, match=name):
        fix_task_token_callbacks()


def test_update_budget_takes_effect_and_refuses_a_moto_that_has_its_own(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.budgets.responses import BudgetsResponse

    from landing_zone.local.lifecycle import install_update_budget

    budgets = boto3.client("budgets", region_name=REGION)
    limit = {"Amount": "500", "Unit": "USD"}
    budget = {"BudgetName": "team", "BudgetLimit": limit, "TimeUnit": "MONTHLY", "BudgetType": "COST"}
    budgets.create_budget(AccountId="123456789012", Budget=budget)
    new = {**budget, "BudgetLimit": {"Amount": "5000", "Unit": "USD"}}
    # GIVEN moto as it ships: no UpdateBudget at all (an earlier emulator start on this worker may have left ours)
    shipped = getattr(BudgetsResponse, "update_budget", None)
    assert shipped is None or getattr(shipped, "emulator_patch", False)
    monkeypatch.setattr(BudgetsResponse, "update_budget", None, raising=False)
    monkeypatch.delattr(BudgetsResponse, "update_budget")
    install_update_budget()
    install_update_budget()  # a second deploy in one process keeps the patch
    budgets.update_budget(AccountId="123456789012", NewBudget=new)
    read = budgets.describe_budget(AccountId="123456789012", BudgetName="team")["Budget"]
    assert float(read["BudgetLimit"]["Amount"]) == 5000
    with pytest.raises(ClientError, match="doesn't exist"):
        budgets.update_budget(AccountId="123456789012", NewBudget={**new, "BudgetName": "other"})
    # WHEN moto grows an UpdateBudget of its own THEN the patch refuses instead of silently stepping aside
    monkeypatch.setattr(BudgetsResponse, "update_budget", lambda self: "{}")
    with pytest.raises(MotoChanged, match="update_budget"):
        install_update_budget()


def test_moto_modules_listed_once_answers_as_moto_and_lists_the_folder_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from moto import backends

    from landing_zone.local.moto_costs import moto_modules_listed_once

    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: listed.append(path) or real_listdir(path))
    unpatched = list(backends.list_of_moto_modules())
    assert "s3" in unpatched and "kms" in unpatched and len(listed) == 1
    # GIVEN the patch WHEN the dispatcher asks for every request THEN the same modules, the folder listed once
    with moto_modules_listed_once():
        answers = [tuple(backends.list_of_moto_modules()) for _ in range(50)]
    assert set(answers) == {tuple(unpatched)} and len(listed) == 2
    # AND moto's own function is back after exit (control: it lists again)
    list(backends.list_of_moto_modules())
    assert len(listed) == 3


def test_moto_costs_refuse_a_changed_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends
    from moto.kms import models

    from landing_zone.local.moto_costs import kms_private_keys_on_first_use, moto_modules_listed_once

    monkeypatch.delattr(backends, "list_of_moto_modules")
    with pytest.raises(MotoChanged, match="list_of_moto_modules"), moto_modules_listed_once():
        pass
    monkeypatch.setattr(models, "generate_private_key", lambda key_spec, size: None)
    with pytest.raises(MotoChanged, match="generate_private_key"), kms_private_keys_on_first_use():
        pass


def test_kms_private_keys_on_first_use_makes_none_for_symmetric_keys_and_signs_with_asymmetric_ones(
    aws: None,
) -> None:
    from moto.kms.models import kms_backends

    from landing_zone.local.moto_costs import DeferredPrivateKey, kms_private_keys_on_first_use

    kms = boto3.client("kms", region_name=REGION)
    with kms_private_keys_on_first_use():
        # GIVEN a symmetric key (every state bucket's) and an RSA signing key
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        # WHEN the symmetric key encrypts and decrypts THEN it works and no private key was ever generated
        blob = kms.encrypt(KeyId=symmetric, Plaintext=b"state")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"state"
        keys = kms_backends["123456789012"][REGION].keys
        assert isinstance(keys[symmetric].private_key, DeferredPrivateKey) and not keys[symmetric].private_key.made
        # AND the RSA key signs and verifies as before (its key made on first use, of its own spec: 2048 bits)
        signature = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        verified = kms.verify(KeyId=signing, Message=b"m", Signature=signature, SigningAlgorithm="RSASSA_PSS_SHA_256")
        assert verified["SignatureValid"] is True
        assert keys[signing].private_key.made and keys[signing].private_key.private_key.key_size == 2048
        public = kms.get_public_key(KeyId=signing)["PublicKey"]
        assert len(public) > 200
    # AND after exit moto makes its keys at creation again (control)
    after = kms.create_key()["KeyMetadata"]["KeyId"]
    assert not isinstance(keys[after].private_key, DeferredPrivateKey)


def test_access_key_lookup_creates_no_iam_answers_as_moto_and_creates_nothing(aws: None) -> None:
    from moto.iam import models

    from landing_zone.local.moto_costs import access_key_lookup_creates_no_iam

    # GIVEN two new accounts, each with the aws partition's IAM only: a key in the second one's, and a key in the
    # first one's aws-cn IAM
    first, second = "111111111111", "222222222222"

    def key(account: str, partition: str, user: str) -> str:
        backend = models.iam_backends[account][partition]
        backend.create_user(REGION, user)
        return str(backend.create_access_key(user).access_key_id)

    in_second = key(second, "aws", "v")
    key(first, "aws", "u")
    in_cn = key(first, "aws-cn", "w")

    def partitions() -> dict[str, set[str]]:
        return {a: set(dict.keys(models.iam_backends[a])) for a in (first, second)}

    before = partitions()
    assert before == {first: {"aws", "aws-cn"}, second: {"aws"}}
    keys = (in_second, in_cn, "no-such-access-key")
    # WHEN each is looked up through the patch THEN moto's answers, and no account gained an IAM
    with access_key_lookup_creates_no_iam():
        patched = [models.get_account_id_from(k) for k in keys]
    assert patched == [second, first, models.DEFAULT_ACCOUNT_ID]
    assert partitions() == before
    # AND (control) moto's own lookup gives the same answers and creates the IAM of every partition it looks into
    assert [models.get_account_id_from(k) for k in keys] == patched
    assert partitions() == {a: set(models.PARTITION_NAMES) for a in (first, second)}


def test_access_key_lookup_refuses_a_changed_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.iam import models

    from landing_zone.local.moto_costs import access_key_lookup_creates_no_iam

    monkeypatch.delattr(models, "PARTITION_NAMES")
    with pytest.raises(MotoChanged, match="PARTITION_NAMES"), access_key_lookup_creates_no_iam():
        pass
    monkeypatch.undo()
    monkeypatch.setattr(models, "get_account_id_from", lambda key, partition: "")
    with pytest.raises(MotoChanged, match="get_account_id_from"), access_key_lookup_creates_no_iam():
        pass
