"""The emulator's authorization middleware decides as AWS does: each planted fault (a missing Allow, an explicit
Deny, an SCP, a boundary, a session policy, a key policy, a bucket policy) is refused with AWS's error code and
message, and its clean twin passes (the negative control). One emulator for the module, IAM enforced after deploy()."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from landing_zone.local import runtime
from landing_zone.local.authorization.middleware import DECISIONS

REGION = runtime.REGION
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _deny(action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Env:
    """The running emulator as the platform admin, with helpers to make roles and sessions."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.admin = boto3.Session(region_name=REGION)

    def client(self, service: str, session: boto3.Session | None = None) -> Any:
        return (session or self.admin).client(service, region_name=REGION, config=NO_RETRIES)

    def role(
        self,
        *statements: dict[str, Any],
        boundary: dict[str, Any] | None = None,
        session_policy: dict[str, Any] | None = None,
    ) -> tuple[boto3.Session, str]:
        """A new role in the management account with `statements` as its inline policy; a session of it and the
        session ARN."""
        iam = self.client("iam")
        name = _unique("authz")
        trust = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{self.account}:root"},
            "Action": "sts:AssumeRole",
        }
        kwargs: dict[str, Any] = {}
        if boundary is not None:
            arn = iam.create_policy(PolicyName=_unique("boundary"), PolicyDocument=json.dumps(boundary))["Policy"][
                "Arn"
            ]
            kwargs["PermissionsBoundary"] = arn
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=_policy(trust), **kwargs)
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=_policy(*statements))
        return self.assume(f"arn:aws:iam::{self.account}:role/{name}", session_policy=session_policy)

    def assume(
        self, role_arn: str, session_policy: dict[str, Any] | None = None, session: boto3.Session | None = None
    ) -> tuple[boto3.Session, str]:
        extra = {"Policy": json.dumps(session_policy)} if session_policy is not None else {}
        answer = self.client("sts", session).assume_role(RoleArn=role_arn, RoleSessionName="test", **extra)
        credentials = answer["Credentials"]
        assumed = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        return assumed, answer["AssumedRoleUser"]["Arn"]

    def table(self) -> str:
        name = _unique("table")
        self.client("dynamodb").create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        return name

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{REGION}:{self.account}:table/{name}"


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with runtime.Emulator():
        deployment = runtime.deploy()
        yield Env(deployment.management_account_id)


def _denied(call: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def _message(error: ClientError) -> str:
    return str(error.response["Error"].get("Message", ""))


# 1. identity policy resource scoping


def test_identity_policy_resource_scoping_denies_other_table(env: Env) -> None:
    """GIVEN a role allowed dynamodb:GetItem on table A only WHEN it reads A and B THEN A answers and B is refused
    with AccessDeniedException naming B's ARN and 'no identity-based policy allows'."""
    table_a, table_b = env.table(), env.table()
    session, session_arn = env.role(_allow("dynamodb:GetItem", env.table_arn(table_a)))
    ddb = env.client("dynamodb", session)

    ddb.get_item(TableName=table_a, Key={"id": {"S": "x"}})  # the clean twin passes

    error = _denied(lambda: ddb.get_item(TableName=table_b, Key={"id": {"S": "x"}}))
    assert _code(error) == "AccessDeniedException"
    assert _message(error) == (
        f"User: {session_arn} is not authorized to perform: dynamodb:GetItem on resource: "
        f"{env.table_arn(table_b)} because no identity-based policy allows the dynamodb:GetItem action"
    )


# 2. explicit deny beats allow


def test_identity_policy_explicit_deny_beats_allow(env: Env) -> None:
    """GIVEN a role allowed dynamodb:* and explicitly denied GetItem on table A WHEN it reads A THEN the explicit deny
    wins; a read of table B (allowed, not denied) passes."""
    table_a, table_b = env.table(), env.table()
    session, session_arn = env.role(_allow("dynamodb:*"), _deny("dynamodb:GetItem", env.table_arn(table_a)))
    ddb = env.client("dynamodb", session)

    ddb.get_item(TableName=table_b, Key={"id": {"S": "x"}})

    error = _denied(lambda: ddb.get_item(TableName=table_a, Key={"id": {"S": "x"}}))
    assert _code(error) == "AccessDeniedException"
    assert _message(error) == (
        f"User: {session_arn} is not authorized to perform: dynamodb:GetItem on resource: "
        f"{env.table_arn(table_a)} with an explicit deny in an identity-based policy"
    )


# 3. SCPs in a member account


def new_member(env: Env) -> dict[str, Any]:
    """A member account created through Organizations; its id and the admin session of its access role."""
    org = env.client("organizations")
    name = _unique("member")
    status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    account_id = (
        status.get("AccountId")
        or org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    )
    session, session_arn = env.assume(f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole")
    return {"id": account_id, "session": session, "session_arn": session_arn}


@pytest.fixture(scope="module")
def member(env: Env) -> dict[str, Any]:
    return new_member(env)


def _scp(env: Env, *statements: dict[str, Any]) -> str:
    return str(
        env.client("organizations").create_policy(
            Content=_policy(*statements),
            Description="test",
            Name=_unique("scp"),
            Type="SERVICE_CONTROL_POLICY",
        )["Policy"]["PolicySummary"]["Id"]
    )


def test_scp_explicit_deny_applies_to_member_account_and_lifts_on_detach(env: Env, member: dict[str, Any]) -> None:
    """GIVEN an SCP denying sqs:CreateQueue attached to a member account WHEN its admin role creates a queue THEN
    it is refused 'with an explicit deny in a service control policy' while sqs:ListQueues passes; once detached,
    CreateQueue passes (nothing cached)."""
    org = env.client("organizations")
    sqs = env.client("sqs", member["session"])
    queue = _unique("queue")
    sqs.create_queue(QueueName=_unique("before"))  # the clean twin, before any SCP
    policy_id = _scp(env, _deny("sqs:CreateQueue"))
    org.attach_policy(PolicyId=policy_id, TargetId=member["id"])
    try:
        error = _denied(lambda: sqs.create_queue(QueueName=queue))  # its error code: test_protocol_shape_of_denial
        assert _message(error) == (
            f"User: {member['session_arn']} is not authorized to perform: sqs:CreateQueue on resource: "
            f"arn:aws:sqs:{REGION}:{member['id']}:{queue} with an explicit deny in a service control policy"
        )
        sqs.list_queues()  # another action passes under the same SCP
    finally:
        org.detach_policy(PolicyId=policy_id, TargetId=member["id"])
    sqs.create_queue(QueueName=queue)


def test_scp_allow_list_without_full_access_denies_unlisted_action(env: Env, member: dict[str, Any]) -> None:
    """GIVEN a member account whose only SCP (at account level) allows s3:* WHEN its admin role lists queues THEN it
    is refused 'because no service control policy allows'; s3:ListAllMyBuckets passes; with FullAWSAccess back, the
    queue listing passes."""
    org = env.client("organizations")
    full_access = next(
        p["Id"]
        for p in org.list_policies_for_target(TargetId=member["id"], Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] == "FullAWSAccess"
    )
    allow_list = _scp(env, _allow("s3:*"))
    org.attach_policy(PolicyId=allow_list, TargetId=member["id"])
    ddb, s3 = env.client("dynamodb", member["session"]), env.client("s3", member["session"])
    try:
        org.detach_policy(PolicyId=full_access, TargetId=member["id"])
        try:
            s3.list_buckets()
            error = _denied(lambda: ddb.list_tables())
            assert _code(error) == "AccessDeniedException"
            assert _message(error) == (
                f"User: {member['session_arn']} is not authorized to perform: dynamodb:ListTables "
                "because no service control policy allows the dynamodb:ListTables action"
            )
        finally:
            org.attach_policy(PolicyId=full_access, TargetId=member["id"])
    finally:
        org.detach_policy(PolicyId=allow_list, TargetId=member["id"])
    ddb.list_tables()


def test_aws_managed_scp_is_usable_by_admin(env: Env) -> None:
    """GIVEN the AWS-managed FullAWSAccess SCP (ARN account 'aws') WHEN the platform admin (Allow *:*) describes it
    and lists its targets THEN it is answered: an AWS-managed policy is no other account's resource, so no
    resource-based policy is needed."""
    org = env.client("organizations")
    assert org.describe_policy(PolicyId="p-FullAWSAccess")["Policy"]["PolicySummary"]["Name"] == "FullAWSAccess"
    org.list_targets_for_policy(PolicyId="p-FullAWSAccess")


def test_scp_never_applies_to_management_account(env: Env) -> None:
    """GIVEN the management account's own role with admin rights WHEN it lists queues THEN it passes (SCPs do not
    govern the management account), and the admin itself is never denied."""
    session, _ = env.role(_allow("*"))
    env.client("sqs", session).list_queues()


# 4. permissions boundary


def test_permissions_boundary_limits_admin_role(env: Env) -> None:
    """GIVEN a role with Allow *:* and a boundary allowing only s3:* WHEN it lists queues THEN 'no permissions
    boundary allows'; s3:ListAllMyBuckets passes."""
    boundary = {"Version": "2012-10-17", "Statement": [_allow("s3:*")]}
    session, session_arn = env.role(_allow("*"), boundary=boundary)
    env.client("s3", session).list_buckets()

    error = _denied(lambda: env.client("dynamodb", session).list_tables())
    assert _code(error) == "AccessDeniedException"
    assert _message(error) == (
        f"User: {session_arn} is not authorized to perform: dynamodb:ListTables "
        "because no permissions boundary allows the dynamodb:ListTables action"
    )


# 5. session policy


def test_session_policy_limits_session(env: Env) -> None:
    """GIVEN a role with Allow *:* assumed with a session policy allowing only s3:* WHEN the session lists queues
    THEN 'no session policy allows'; s3 passes; the same role without a session policy lists queues."""
    session, session_arn = env.role(
        _allow("*"), session_policy={"Version": "2012-10-17", "Statement": [_allow("s3:*")]}
    )
    env.client("s3", session).list_buckets()

    error = _denied(lambda: env.client("dynamodb", session).list_tables())
    assert _code(error) == "AccessDeniedException"
    assert _message(error) == (
        f"User: {session_arn} is not authorized to perform: dynamodb:ListTables "
        "because no session policy allows the dynamodb:ListTables action"
    )

    role_arn = session_arn.replace(":sts::", ":iam::").replace("assumed-role/", "role/").rsplit("/", 1)[0]
    plain, _ = env.assume(role_arn)
    env.client("dynamodb", plain).list_tables()


# 6. tag on create


def test_tag_on_create_needs_tagging_action(env: Env) -> None:
    """GIVEN a role allowed iam:CreateRole but not iam:TagRole WHEN it creates a role with tags THEN it is refused
    for iam:TagRole on the new role's ARN; without tags the creation passes."""
    session, session_arn = env.role(_allow("iam:CreateRole"))
    iam = env.client("iam", session)
    trust = _policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    before = len(DECISIONS.denials)
    tagged = _unique("tagged")

    error = _denied(
        lambda: iam.create_role(RoleName=tagged, AssumeRolePolicyDocument=trust, Tags=[{"Key": "k", "Value": "v"}])
    )
    assert _code(error) == "AccessDenied"
    role_arn = f"arn:aws:iam::{env.account}:role/{tagged}"
    assert _message(error) == (
        f"User: {session_arn} is not authorized to perform: iam:TagRole on resource: {role_arn} "
        "because no identity-based policy allows the iam:TagRole action"
    )
    denial = DECISIONS.denials[before]
    assert (denial.action, denial.resource, denial.why) == ("iam:TagRole", role_arn, "tag-on-create")
    with pytest.raises(ClientError) as missing:
        env.client("iam").get_role(RoleName=tagged)  # moto never saw the refused call
    assert _code(missing.value) == "NoSuchEntity"

    iam.create_role(RoleName=_unique("untagged"), AssumeRolePolicyDocument=trust)


# 7. S3


@pytest.fixture(scope="module")
def bucket(env: Env) -> str:
    name = _unique("authz-bucket")
    s3 = env.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="present", Body=b"x")
    return name


def test_s3_missing_key_is_404_with_list_bucket_and_403_without(env: Env, bucket: str) -> None:
    """GIVEN a missing key WHEN a caller with s3:GetObject and s3:ListBucket reads it THEN 404 (NoSuchKey); a caller
    with s3:GetObject only gets 403 AccessDenied for s3:ListBucket on the bucket; both read a present key."""
    objects = f"arn:aws:s3:::{bucket}/*"
    lister, _ = env.role(_allow("s3:GetObject", objects), _allow("s3:ListBucket", f"arn:aws:s3:::{bucket}"))
    reader, reader_arn = env.role(_allow("s3:GetObject", objects))
    for session in (lister, reader):
        assert env.client("s3", session).get_object(Bucket=bucket, Key="present")["Body"].read() == b"x"

    not_found = _denied(lambda: env.client("s3", lister).get_object(Bucket=bucket, Key="absent"))
    assert _code(not_found) == "NoSuchKey"
    assert not_found.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    forbidden = _denied(lambda: env.client("s3", reader).get_object(Bucket=bucket, Key="absent"))
    assert _code(forbidden) == "AccessDenied"
    assert forbidden.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert _message(forbidden) == (
        f"User: {reader_arn} is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::{bucket} "
        "because no identity-based policy allows the s3:ListBucket action"
    )
    head = _denied(lambda: env.client("s3", reader).head_object(Bucket=bucket, Key="absent"))
    assert head.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_bucket_policy_explicit_deny_on_principal(env: Env) -> None:
    """GIVEN a bucket policy denying s3:GetObject to one role WHEN that role (with s3:* in its identity policy)
    reads THEN 'with an explicit deny in a resource-based policy'; another role with s3:* reads."""
    name = _unique("authz-deny")
    s3 = env.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    denied, denied_arn = env.role(_allow("s3:*"))
    allowed, _ = env.role(_allow("s3:*"))
    role_arn = denied_arn.replace(":sts::", ":iam::").replace("assumed-role/", "role/").rsplit("/", 1)[0]
    statement = {
        "Effect": "Deny",
        "Principal": {"AWS": role_arn},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }
    s3.put_bucket_policy(Bucket=name, Policy=_policy(statement))

    assert env.client("s3", allowed).get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    error = _denied(lambda: env.client("s3", denied).get_object(Bucket=name, Key="k"))
    assert _code(error) == "AccessDenied"
    assert _message(error) == (
        f"User: {denied_arn} is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::{name}/k "
        "with an explicit deny in a resource-based policy"
    )


def test_s3_secure_transport_deny_does_not_apply_to_tls_calls(env: Env) -> None:
    """GIVEN a bucket policy denying everything when aws:SecureTransport is false WHEN a role with s3:* reads and
    writes THEN it passes (the emulator's calls count as TLS); the same policy without the condition denies."""
    name = _unique("authz-tls")
    s3 = env.client("s3")
    s3.create_bucket(Bucket=name)
    session, _ = env.role(_allow("s3:*"))
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(Bucket=name, Policy=_policy(statement))
    role_s3 = env.client("s3", session)
    role_s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert role_s3.get_object(Bucket=name, Key="k")["Body"].read() == b"x"

    unconditional = {k: v for k, v in statement.items() if k != "Condition"} | {"Action": "s3:GetObject"}
    s3.put_bucket_policy(Bucket=name, Policy=_policy(unconditional))
    error = _denied(lambda: role_s3.get_object(Bucket=name, Key="k"))
    assert _code(error) == "AccessDenied"
    assert "with an explicit deny in a resource-based policy" in _message(error)


@pytest.mark.parametrize(
    "condition",
    [{"Bool": {"aws:SecureTransport": "true"}}, {"StringEquals": {"aws:PrincipalAccount": "{account}"}}],
)
def test_s3_bucket_policy_statement_with_a_matching_condition_is_enforced(env: Env, condition: dict[str, Any]) -> None:
    """GIVEN a bucket policy whose only Deny has a Condition that matches the call WHEN a role with s3:* reads
    THEN it is refused: a statement with a Condition is decided by its condition, never dropped."""
    name = _unique("authz-cond")
    s3 = env.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    session, _ = env.role(_allow("s3:*"))
    rendered = json.loads(json.dumps(condition).replace("{account}", env.account))
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": rendered,
    }
    s3.put_bucket_policy(Bucket=name, Policy=_policy(statement))
    error = _denied(lambda: env.client("s3", session).get_object(Bucket=name, Key="k"))
    assert "with an explicit deny in a resource-based policy" in _message(error)


# 8. KMS


def test_kms_key_policy_without_root_denies_identity_allow(env: Env) -> None:
    """GIVEN a key whose policy does not enable IAM (no account-root statement) WHEN a role with kms:* encrypts
    THEN it is refused for kms:Encrypt on the key ARN; with a default-policy key it encrypts."""
    kms = env.client("kms")
    session, session_arn = env.role(_allow("kms:*"))
    default_key = kms.create_key()["KeyMetadata"]["KeyId"]
    other = f"arn:aws:iam::{env.account}:role/{runtime.PLATFORM_ADMIN_ROLE}"
    closed = _policy({"Effect": "Allow", "Principal": {"AWS": other}, "Action": "kms:*", "Resource": "*"})
    closed_key = kms.create_key(Policy=closed, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    role_kms = env.client("kms", session)

    role_kms.encrypt(KeyId=default_key, Plaintext=b"x")

    error = _denied(lambda: role_kms.encrypt(KeyId=closed_key["KeyId"], Plaintext=b"x"))
    assert _code(error) == "AccessDeniedException"
    assert _message(error).startswith(
        f"User: {session_arn} is not authorized to perform: kms:Encrypt on resource: {closed_key['Arn']}"
    )
    assert "resource-based policy" in _message(error)


def test_a_key_named_by_its_alias_arn_is_authorized_on_the_key(env: Env) -> None:
    """GIVEN a key with an alias WHEN a role without kms:Encrypt on it encrypts naming the key by the alias's ARN (or
    name) THEN it is refused for kms:Encrypt on the key, as AWS resolves the alias before it authorizes (the emulator
    used to treat an alias ARN as a key that does not exist, and let the call through undecided)."""
    kms = env.client("kms")
    key = kms.create_key()["KeyMetadata"]
    alias = _unique("alias/probe")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{env.account}:{alias}"
    other_key = kms.create_key()["KeyMetadata"]["Arn"]
    session, session_arn = env.role(_allow("kms:Encrypt", other_key))
    role_kms = env.client("kms", session)
    for named in (alias_arn, alias):
        error = _denied(lambda named=named: role_kms.encrypt(KeyId=named, Plaintext=b"x"))
        assert _code(error) == "AccessDeniedException", named
        assert _message(error).startswith(
            f"User: {session_arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']}"
        ), named
    # AND the control: allowed on that key, the role encrypts through the alias ARN, and a condition on the alias it
    # named (kms:RequestAlias) decides
    session, _ = env.role(
        {**_allow("kms:Encrypt", key["Arn"]), "Condition": {"StringEquals": {"kms:RequestAlias": alias}}}
    )
    env.client("kms", session).encrypt(KeyId=alias_arn, Plaintext=b"x")
    assert _code(_denied(lambda: env.client("kms", session).encrypt(KeyId=key["Arn"], Plaintext=b"x"))) == (
        "AccessDeniedException"
    )


# 9. protocol shapes


@pytest.mark.parametrize(
    ("service", "operation", "kwargs", "code", "status"),
    [
        ("dynamodb", "list_tables", {}, "AccessDeniedException", 400),
        ("organizations", "describe_organization", {}, "AccessDeniedException", 400),
        ("iam", "list_roles", {}, "AccessDenied", 403),
        ("s3", "list_buckets", {}, "AccessDenied", 403),
        ("sns", "list_topics", {}, "AuthorizationError", 403),
        ("ec2", "describe_vpcs", {}, "UnauthorizedOperation", 403),
        # SQS speaks JSON but is awsQueryCompatible: AWS sends x-amzn-query-error "AccessDenied;Sender", botocore
        # reports the query code.
        ("sqs", "list_queues", {}, "AccessDenied", None),
        # (moto's own signature check refuses every Lambda GET under IAM authentication, middleware or not: a PUT here)
        (
            "lambda",
            "put_function_concurrency",
            {"FunctionName": "vending-validate-request", "ReservedConcurrentExecutions": 5},
            "AccessDeniedException",
            403,
        ),
    ],
)
def test_protocol_shape_of_denial(
    env: Env, service: str, operation: str, kwargs: dict[str, Any], code: str, status: int | None
) -> None:
    """GIVEN a role allowed only sts:GetCallerIdentity WHEN it calls a service THEN the denial has the service's
    own error code and status; a role with the service's rights is answered normally."""
    session, session_arn = env.role(_allow("sts:GetCallerIdentity"))
    error = _denied(lambda: getattr(env.client(service, session), operation)(**kwargs))
    assert _code(error) == code
    if status is not None:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert _message(error).startswith(f"User: {session_arn} is not authorized to perform: ")
    allowed, _ = env.role(_allow(f"{service}:*"))
    getattr(env.client(service, allowed), operation)(**kwargs)


def test_protocol_shape_of_sts_denial(env: Env) -> None:
    """GIVEN a role without sts:AssumeRole WHEN it assumes another role THEN AccessDenied (query protocol); the admin
    assumes it."""
    _, target_arn = env.role(_allow("s3:*"))
    role_arn = target_arn.replace(":sts::", ":iam::").replace("assumed-role/", "role/").rsplit("/", 1)[0]
    session, session_arn = env.role(_allow("s3:*"))
    error = _denied(lambda: env.assume(role_arn, session=session))
    assert _code(error) == "AccessDenied"
    assert _message(error) == (
        f"User: {session_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn} "
        "because no identity-based policy allows the sts:AssumeRole action"
    )
    env.assume(role_arn)


# 10. GetCallerIdentity


def test_get_caller_identity_answers_under_deny_all(env: Env) -> None:
    """GIVEN a role whose identity policy denies everything WHEN it calls sts:GetCallerIdentity THEN it is answered
    (AWS never denies it), while any other call is refused with an explicit deny."""
    session, session_arn = env.role(_deny("*"))
    assert env.client("sts", session).get_caller_identity()["Arn"] == session_arn
    error = _denied(lambda: env.client("dynamodb", session).list_tables())
    assert _code(error) == "AccessDeniedException"
    assert _message(error).startswith(f"User: {session_arn} is not authorized to perform: dynamodb:ListTables")
    assert DECISIONS.denials[-1].reason == "explicit_deny"


# 11. DECISIONS


def test_decisions_count_calls_and_record_denials(env: Env) -> None:
    """GIVEN the decision log WHEN a role makes an allowed call and a denied one THEN calls and decisions grow and
    exactly the denied call is recorded with its caller, action, resource, why and reason."""
    table = env.table()
    session, session_arn = env.role(_allow("dynamodb:DescribeTable"))
    ddb = env.client("dynamodb", session)
    before = DECISIONS.snapshot()
    denials_before = len(DECISIONS.denials)

    ddb.describe_table(TableName=table)
    middle = DECISIONS.snapshot()
    assert middle["calls"] == before["calls"] + 1
    assert middle["decisions"] >= before["decisions"] + 1
    assert len(DECISIONS.denials) == denials_before

    _denied(lambda: ddb.get_item(TableName=table, Key={"id": {"S": "x"}}))
    after = DECISIONS.snapshot()
    assert after["calls"] == middle["calls"] + 1
    assert after["decisions"] >= middle["decisions"] + 1
    assert after["denials"] == middle["denials"] + 1
    denial = DECISIONS.denials[-1]
    assert denial.caller == session_arn
    assert (denial.action, denial.resource) == ("dynamodb:GetItem", env.table_arn(table))
    assert (denial.why, denial.reason) == ("call", "no_identity_allow")
    assert "no identity-based policy allows the dynamodb:GetItem action" in denial.message


def _jwt(claims: dict[str, Any]) -> str:
    import base64

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def test_web_identity_trust_decides_the_tokens_claims(env: Env) -> None:
    """GIVEN TeamCIRole's real trust policy (vending/trust.py) WHEN a token from the right job assumes it THEN it is
    allowed; a token from another repository (or another environment) is refused by the trust policy."""
    from vending import trust

    provider = f"arn:aws:iam::{env.account}:oidc-provider/{trust.GITHUB_OIDC_HOST}"
    policy = trust.trust_policy(
        trust.APPLY, provider_arn=provider, repository="acme/llm-app", team="team-x", stage="staging"
    )
    name = _unique("ci")
    env.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))
    role_arn = f"arn:aws:iam::{env.account}:role/{name}"
    sts = boto3.client("sts", region_name=REGION, config=NO_RETRIES)
    right = trust.subject("acme/llm-app", "team-x-staging", trust.DEFAULT_BRANCH_REF)
    claims = {"iss": f"https://{trust.GITHUB_OIDC_HOST}", "aud": trust.AUDIENCE, "sub": right}
    assumed = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="ci", WebIdentityToken=_jwt(claims))
    assert assumed["Credentials"]["AccessKeyId"]
    wrong = trust.subject("evil/fork", "team-x-staging", trust.DEFAULT_BRANCH_REF)
    error = _denied(
        lambda: sts.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName="ci", WebIdentityToken=_jwt({**claims, "sub": wrong})
        )
    )
    assert _code(error) == "AccessDenied" and "sts:AssumeRoleWithWebIdentity" in str(error)
