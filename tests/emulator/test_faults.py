"""The fault layer: off unless asked, the same faults for the same seed, each in the service's own words."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError

from landing_zone.local import faults, runtime
from vending.functions import FUNCTIONS

REGION = "us-east-1"
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


def _config(seed: int, **rule: Any) -> faults.FaultConfig:
    return faults.FaultConfig.model_validate({"seed": seed, "rules": [rule]})


def _run(seed: int, calls: int = 40) -> list[tuple[str, str, str]]:
    """`calls` ListTables through an instrumented session; the faults they met, in order."""
    config = _config(seed, service="dynamodb", operation="List*", rate=0.3, faults=["throttle", "500", "503"])
    injector = faults.FaultInjector(config)
    session = boto3.Session(region_name=REGION)
    injector.instrument(session)
    ddb = session.client("dynamodb", config=ONE_ATTEMPT)
    for _ in range(calls):
        with contextlib.suppress(ClientError):
            ddb.list_tables()
    return [(r.target, r.operation, r.fault) for r in injector.records]


def test_faults_off_by_default(aws: None) -> None:
    # GIVEN a rule set that throttles every DynamoDB call, built but not switched on (no --faults)
    config = _config(1, service="dynamodb", rate=1.0, faults=["throttle"])
    assert faults.active() is None
    # WHEN a function's session makes calls
    ddb = runtime.function_session(FUNCTIONS[0], "default").client("dynamodb", config=ONE_ATTEMPT)
    for _ in range(20):
        ddb.list_tables()
    # THEN nothing was faulted; switched on, the same call is, but only inside an invocation (the service's calls)
    with faults.injecting(config) as injector:
        on = runtime.function_session(FUNCTIONS[0], "on").client("dynamodb", config=ONE_ATTEMPT)
        on.list_tables()  # the operator's or deployer's call
        with faults.invocation(FUNCTIONS[0].key), pytest.raises(ClientError, match="ProvisionedThroughput"):
            on.list_tables()
        # AND a session the service builds itself inside the invocation (an assumed role) is faulted too
        with faults.invocation(FUNCTIONS[0].key), pytest.raises(ClientError, match="ProvisionedThroughput"):
            boto3.Session(region_name=REGION).client("dynamodb", config=ONE_ATTEMPT).list_tables()
    assert injector is not None and len(injector.records) == 2
    assert faults.active() is None


def test_faults_same_seed_same_faults(aws: None) -> None:
    # GIVEN one rule set and one seed
    # WHEN the same calls run twice
    first, second = _run(seed=15), _run(seed=15)
    # THEN the same calls meet the same faults; some calls meet none
    assert first == second
    assert 0 < len(first) < 40
    assert {f for _, _, f in first} <= {"throttle", "500", "503"}
    # AND another seed draws another sequence
    assert _run(seed=16) != first


def test_faults_answer_in_each_services_own_throttling_code(aws: None) -> None:
    # GIVEN throttling on every call of organizations (JSON), IAM (query/XML) and S3 (REST/XML)
    config = faults.FaultConfig.model_validate(
        {
            "seed": 1,
            "rules": [{"service": s, "rate": 1.0, "faults": ["throttle"]} for s in ("organizations", "iam", "s3")],
        }
    )
    with faults.injecting(config) as injector:
        assert injector is not None and faults.active() is injector
        session = boto3.Session(region_name=REGION)
        injector.instrument(session)
        codes = {}
        for service, call in (
            ("organizations", lambda c: c.describe_organization()),
            ("iam", lambda c: c.list_roles()),
            ("s3", lambda c: c.list_buckets()),
        ):
            with pytest.raises(ClientError) as raised:
                call(session.client(service, config=ONE_ATTEMPT))
            codes[service] = raised.value.response["Error"]["Code"]
    # THEN botocore parses each as that service's real throttling error, and each fault is recorded
    assert codes == {"organizations": "TooManyRequestsException", "iam": "Throttling", "s3": "SlowDown"}
    assert [(r.target, r.fault) for r in injector.records] == [
        ("organizations", "throttle"),
        ("iam", "throttle"),
        ("s3", "throttle"),
    ]
    assert faults.active() is None  # off again after the block


def test_faults_hit_each_sdk_attempt_and_log_its_number(aws: None) -> None:
    # GIVEN every attempt of STS calls fails with a 503, and a client that tries 3 times
    injector = faults.FaultInjector(_config(3, service="sts", rate=1.0, faults=["503"]))
    session = boto3.Session(region_name=REGION)
    injector.instrument(session)
    sts = session.client("sts", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    # WHEN a call is made
    with pytest.raises(ClientError, match="ServiceUnavailable"):
        sts.get_caller_identity()
    # THEN the SDK retried it (503 is retryable) and each attempt's fault is logged with its number
    assert [r.attempt for r in injector.records] == [1, 2, 3]


def test_faults_connect_timeout_is_botocores_own_error(aws: None) -> None:
    injector = faults.FaultInjector(_config(1, service="sqs", rate=1.0, faults=["connect_timeout"]))
    session = boto3.Session(region_name=REGION)
    injector.instrument(session)
    with pytest.raises(ConnectTimeoutError):
        session.client("sqs", config=ONE_ATTEMPT).list_queues()
    assert injector.counts() == {"connect_timeout": 1}


def test_faults_log_file_has_one_line_per_fault(aws: None, tmp_path: Path) -> None:
    log = tmp_path / "faults.log"
    config = faults.FaultConfig.model_validate(
        {"seed": 2, "log_file": str(log), "rules": [{"service": "dynamodb", "rate": 1.0, "faults": ["500"]}]}
    )
    injector = faults.FaultInjector(config)
    session = boto3.Session(region_name=REGION)
    injector.instrument(session)
    for _ in range(3):
        with pytest.raises(ClientError):
            session.client("dynamodb", config=ONE_ATTEMPT).list_tables()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["target"], x["operation"], x["fault"]) for x in lines] == [("dynamodb", "ListTables", "500")] * 3


def test_faults_lambda_invocation_dies_before_the_handler(aws: None) -> None:
    # GIVEN a runtime rule: every invocation of every function crashes
    config = faults.FaultConfig.model_validate(
        {"seed": 4, "rules": [{"lambda": "*", "rate": 1.0, "faults": ["crash"]}]}
    )
    spec = FUNCTIONS[0]
    with faults.injecting(config) as injector:
        # WHEN the runtime invokes a function (with an event its handler would refuse)
        body, errored = runtime.invoke_in_process(spec, {"not": "an event"}, "123456789012")
    # THEN the invocation fails the way a dead runtime does, before the handler ran, and is recorded
    assert errored
    assert json.loads(body)["errorType"] == "Runtime.ExitError"
    assert injector is not None and [(r.target, r.operation, r.fault) for r in injector.records] == [
        ("lambda", spec.key, "crash")
    ]


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"rules": [{"service": "s3", "rate": 2, "faults": ["500"]}]}, "rate"),
        ({"rules": [{"service": "s3", "rate": 0.1, "faults": ["explode"]}]}, "explode"),
        ({"rules": [{"service": "s3", "lambda": "*", "rate": 0.1, "faults": ["500"]}]}, "exactly one"),
        ({"rules": [{"worker": "*", "rate": 0.1, "faults": ["crash"]}]}, "crash"),
        ({"rules": [{"lambda": "*", "rate": 0.1, "faults": ["throttle"]}]}, "throttle"),
        ({"seeds": 3}, "seeds"),
    ],
)
def test_faults_bad_rule_file_is_refused_by_name(tmp_path: Path, document: dict[str, Any], named: str) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(json.dumps(document))  # JSON is YAML
    with pytest.raises(ValueError, match=named):
        faults.load(path)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    with runtime.Emulator() as running:
        yield running


def test_faults_read_timeout_on_create_account_leaves_one_account(emulator: Any) -> None:
    # GIVEN CreateAccount's answer lost once (a read timeout after Organizations did the work), so the SDK sends it
    # again; AWS fails that second creation with EMAIL_ALREADY_EXISTS, moto made a second account (emulator gap)
    from vending.accounts import AccountProgress, check_account_creation, start_account_creation
    from vending.layout import cached_layout
    from vending.lifecycle import RequestStore
    from vending.request import parse_request

    session = boto3.Session(region_name=REGION)
    org, ddb = session.client("organizations"), session.client("dynamodb")
    org.create_organization(FeatureSet="ALL")
    ddb.create_table(
        TableName="requests",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
    )
    store, layout = RequestStore(ddb, "requests"), cached_layout()
    team = layout.teams[0]
    request = parse_request(
        {
            "team": team.slug,
            "stage": "staging",
            "owner_email": "owner@example.com",
            "cost_center": "CC-1234",
            "gpu_tier": "none",
            "regions": ["us-east-1"],
            "stacks": ["bootstrap"],
            "repository": "example/repo",
        }
    )
    store.reserve(request, "vend-test-a1")
    config = faults.FaultConfig.model_validate(
        {
            "seed": 1,
            "rules": [
                {
                    "service": "organizations",
                    "operation": "CreateAccount",
                    "rate": 1.0,
                    "faults": ["read_timeout"],
                    "limit": 1,
                }
            ],
        }
    )
    injector = faults.FaultInjector(config)
    faulty = boto3.Session(region_name=REGION)
    injector.instrument(faulty)
    before = len(org.list_accounts()["Accounts"])
    # WHEN the service starts the creation through the faulty client and polls it
    progress = start_account_creation(faulty.client("organizations"), store, request, layout)
    progress = check_account_creation(
        org, store, request, AccountProgress.model_validate(progress.model_dump()), max_polls=3
    )
    # THEN one account exists for the team, and the request owns it (adopted from the e-mail)
    accounts = org.list_accounts()["Accounts"]
    assert [r.fault for r in injector.records] == ["read_timeout"]
    assert len(accounts) == before + 1
    assert progress.account_id == next(
        a["Id"] for a in accounts if a["Email"] == layout.account_email(request.team, request.stage)
    )


def test_faults_cli_flag_loads_the_file_and_names_a_bad_one(tmp_path: Path) -> None:
    from landing_zone.local.cli import _faults

    # GIVEN no flag, a good file, a bad one
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(
        "seed: 9\nrules:\n  - service: organizations\n    operation: 'Create*'\n    rate: 0.1\n    faults: [throttle]\n"
    )
    bad.write_text("seed: 9\nrules:\n  - service: organizations\n    rate: 0.1\n    faults: [meteor]\n")
    # THEN off, on with a log file, refused with the file and the fault named
    assert _faults(None) is None
    config = _faults(str(good))
    assert config.seed == 9 and config.rules[0].operation == "Create*" and config.log_file
    with pytest.raises(SystemExit, match=r"(?s)bad\.yaml.*meteor"):
        _faults(str(bad))


def _requests_table(session: boto3.Session) -> Any:
    from vending.lifecycle import RequestStore

    ddb = session.client("dynamodb")
    ddb.create_table(
        TableName="requests",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
    )
    return RequestStore(ddb, "requests")


def _lost_answer_once(service: str, operation: str, *, seed: int = 1, rate: float = 1.0) -> tuple[Any, Any]:
    """A session one of whose `operation` calls is carried out and its answer lost (the SDK then retries it)."""
    config = faults.FaultConfig.model_validate(
        {
            "seed": seed,
            "rules": [
                {"service": service, "operation": operation, "rate": rate, "faults": ["read_timeout"], "limit": 1}
            ],
        }
    )
    session, injector = boto3.Session(region_name=REGION), faults.FaultInjector(config)
    injector.instrument(session)
    return session, injector


def test_faults_resume_whose_reserve_answer_was_lost_is_not_a_conflict(emulator: Any) -> None:
    # GIVEN a FAILED request, and Reserve's conditional write for its resume applied but its answer lost: the SDK's
    # retry fails its condition on our own write (defect: that was reported as ReservationConflict, which ends the
    # execution as Rejected and leaves the record PENDING under an ended execution until an operator resumes again)
    from vending.lifecycle import RequestStore, Status
    from vending.request import parse_request

    store = _requests_table(boto3.Session(region_name=REGION))
    request = parse_request(
        {
            "team": "team-chaos",
            "stage": "staging",
            "owner_email": "o@example.com",
            "cost_center": "CC-1234",
            "gpu_tier": "none",
            "regions": ["us-east-1"],
            "stacks": ["bootstrap"],
            "repository": "example/repo",
        }
    )
    store.reserve(request, "vend-a1")
    store.update(request.request_id, status=Status.FAILED, step="CreateAccount", failure_reason="boom")
    # seed 0 at rate 0.5 spares the first PutItem (the create-if-absent, which fails its condition anyway) and
    # faults the second (the resume's conditional write)
    session, injector = _lost_answer_once("dynamodb", "PutItem", seed=0, rate=0.5)
    faulty = RequestStore(session.client("dynamodb"), "requests")
    # WHEN the resume's execution reserves
    record = faulty.reserve(request, "vend-a2")
    # THEN it holds the request, once
    assert [(r.operation, r.fault, r.attempt) for r in injector.records] == [("PutItem", "read_timeout", 1)]
    assert record.execution_name == "vend-a2" and record.status == Status.PENDING and record.attempts == 2
    assert store.require(request.request_id).execution_name == "vend-a2"


@pytest.mark.parametrize("operation", ["CreateRole", "CreatePolicy", "CreateOpenIDConnectProvider"])
def test_faults_bootstrap_iam_create_answered_late_is_not_a_failure(emulator: Any, operation: str) -> None:
    # GIVEN an IAM create in the vended account carried out but its answer lost; the SDK's retry then gets
    # EntityAlreadyExists (defect: Bootstrap failed, the request went FAILED and needed an operator's resume)
    from vending import bootstrap

    session, injector = _lost_answer_once("iam", operation)
    iam = session.client("iam")
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    # WHEN bootstrap ensures the boundary, the OIDC provider and the CI roles
    provider = bootstrap.ensure_github_oidc_provider(iam, account_id=account)
    boundary = bootstrap.ensure_permissions_boundary(iam, account_id=account, state_bucket="tfstate-x")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}
        ],
    }
    role = bootstrap._ensure_role(iam, "TeamCIRole", trust=trust, boundary_arn=boundary, description="ci")
    # THEN each exists once and the step succeeds
    assert [(r.operation, r.fault) for r in injector.records] == [(operation, "read_timeout")]
    assert role["RoleName"] == "TeamCIRole"
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1


def _live_state_keys(kms: Any) -> list[str]:
    """The team's keys not scheduled for deletion."""
    keys = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    return [
        k
        for k in keys
        if kms.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] == "Enabled"
        and {"TagKey": "team", "TagValue": "team-chaos"} in kms.list_resource_tags(KeyId=k)["Tags"]
    ]


def test_faults_state_key_created_twice_by_a_retried_create_key_leaves_one_key(emulator: Any) -> None:
    # GIVEN CreateKey carried out but its answer lost, so the SDK makes a second key (defect: the first stayed
    # behind, an orphan KMS key billed monthly in every such account)
    from vending import bootstrap

    session, injector = _lost_answer_once("kms", "CreateKey")
    kms = session.client("kms")
    # WHEN bootstrap ensures the state key
    arn = bootstrap.ensure_state_key(kms, account_id="123456789012", team="team-chaos")
    # THEN one live state key, the aliased one
    assert [(r.operation, r.fault) for r in injector.records] == [("CreateKey", "read_timeout")]
    assert _live_state_keys(kms) == [kms.describe_key(KeyId=bootstrap.STATE_KEY_ALIAS)["KeyMetadata"]["KeyId"]]
    assert arn.endswith(_live_state_keys(kms)[0])


def test_faults_state_key_without_alias_is_adopted_on_resume(emulator: Any) -> None:
    # GIVEN a state key made by an attempt that died before CreateAlias (a Lambda crash between the two writes;
    # defect: the resume made a second key and the first was orphaned)
    from vending import bootstrap

    kms = boto3.client("kms", region_name=REGION)
    first = kms.create_key(
        Tags=[{"TagKey": "team", "TagValue": "team-chaos"}, {"TagKey": "vend:purpose", "TagValue": "terraform-state"}]
    )
    # WHEN the resumed Bootstrap ensures the state key
    arn = bootstrap.ensure_state_key(kms, account_id="123456789012", team="team-chaos")
    # THEN it adopts that key: one state key, aliased
    assert arn == first["KeyMetadata"]["Arn"]
    assert _live_state_keys(kms) == [first["KeyMetadata"]["KeyId"]]


def test_faults_state_key_alias_answered_late_is_not_a_failure(emulator: Any) -> None:
    # GIVEN CreateAlias carried out but its answer lost, the SDK's retry then AlreadyExistsException (found by
    # `chaos_soak.py --teams 20 --fault-rate 0.2 --seed 2`: Bootstrap failed and the request needed a resume)
    from vending import bootstrap

    session, injector = _lost_answer_once("kms", "CreateAlias")
    kms = session.client("kms")
    # WHEN bootstrap ensures the state key
    arn = bootstrap.ensure_state_key(kms, account_id="123456789012", team="team-chaos")
    # THEN the step succeeds with the one aliased key
    assert [(r.operation, r.fault) for r in injector.records] == [("CreateAlias", "read_timeout")]
    assert arn == kms.describe_key(KeyId=bootstrap.STATE_KEY_ALIAS)["KeyMetadata"]["Arn"]
    assert len(_live_state_keys(kms)) == 1


def test_faults_runtime_faults_are_seeded_and_named() -> None:
    # GIVEN a rule that times out, stops or fails every invocation, with the cut drawn from the seed
    def draws(seed: int) -> list[tuple[str, int | None] | None]:
        config = faults.FaultConfig.model_validate(
            {"seed": seed, "rules": [{"lambda": "Boot*", "rate": 0.7, "faults": list(faults.RUNTIME_FAULTS)}]}
        )
        injector = faults.FaultInjector(config)
        return [injector.lambda_fault("Bootstrap") for _ in range(30)] + [injector.lambda_fault("Reserve")]

    # WHEN the same invocations draw twice with one seed, and once with another
    first = draws(21)
    # THEN the same faults and the same cuts come back; a timeout's cut lies within the bound; other functions are
    # untouched; another seed draws another sequence
    assert first == draws(21) != draws(22)
    assert first[-1] is None
    kinds = {d[0] for d in first if d}
    assert kinds == set(faults.RUNTIME_FAULTS)
    assert all(0 <= (d[1] or 0) <= faults.MAX_CUT_AFTER_CALLS for d in first if d and d[0] == "timeout")
    assert all(d[1] is None for d in first if d and d[0] != "timeout")
    # AND the error each answers with is the one Lambda answers with
    assert faults.lambda_error("timeout", "Bootstrap", 300, "kms:CreateAlias")["errorType"] == "Sandbox.Timedout"
    assert faults.lambda_error("crash", "Bootstrap")["errorType"] == "Runtime.ExitError"
    assert faults.lambda_error("service_error", "Bootstrap")["errorType"] == "Lambda.ServiceException"
