"""From a parsed call to the authorizations AWS makes for it (landing_zone/local/authorization/requests.py): the
action, the real resource ARN, the condition keys and the side authorizations. Pure: the emulator's state is a fake."""

from __future__ import annotations

from typing import Any

from landing_zone.local.authorization.calls import Call
from landing_zone.local.authorization.requests import AuthRequest, authorization_requests

ACCOUNT = "111122223333"
ORG = "o-abcdefghij"


class FakeLookups:
    def __init__(self, **known: Any) -> None:
        self.known = known

    def organization_id(self, account: str) -> str | None:
        return ORG

    def org_entity_arn(self, account: str, entity_id: str) -> str | None:
        base = f"arn:aws:organizations::{ACCOUNT}"
        if entity_id.isdigit():
            return f"{base}:account/{ORG}/{entity_id}"
        if entity_id.startswith("ou-"):
            return f"{base}:ou/{ORG}/{entity_id}"
        if entity_id.startswith("p-"):
            return f"{base}:policy/{ORG}/service_control_policy/{entity_id}"
        return None

    def role_path(self, account: str, role_name: str) -> str | None:
        return self.known.get("role_path")

    def key_id(self, account: str, region: str, key: str) -> str | None:
        return self.known.get("aliases", {}).get(key, key if not key.startswith("alias/") else None)

    def bucket_account(self, bucket: str) -> str | None:
        return self.known.get("bucket_account")

    def bucket_kms_key(self, bucket: str) -> str | None:
        return self.known.get("bucket_key")

    def object_kms_key(self, bucket: str, key: str) -> str | None:
        return self.known.get("object_key")

    def object_exists(self, bucket: str, key: str) -> bool:
        return bool(self.known.get("exists", True))

    def task_token_state_machine(self, token: str) -> str | None:
        return self.known.get("machine")

    def resource_tags(self, arn: str) -> dict[str, str] | None:
        return self.known.get("tags")

    def permissions_boundary(self, arn: str) -> str | None:
        return self.known.get("boundary")


def _auth(service: str, operation: str, signing: str | None = None, **params: Any) -> list[AuthRequest]:
    return _auth_with(FakeLookups(), service, operation, signing, **params)


def _auth_with(
    lookups: FakeLookups, service: str, operation: str, signing: str | None = None, **params: Any
) -> list[AuthRequest]:
    call = Call("AKIA", "token", "us-east-1", signing or service, service, operation, params, {})
    return authorization_requests(call, ACCOUNT, lookups)


def test_requests_s3_object_and_list_bucket_aliases() -> None:
    # GIVEN S3 calls WHEN authorized THEN the object ARN, and ListObjectsV2 is s3:ListBucket on the bucket
    put = _auth("s3", "PutObject", Bucket="tfstate-x", Key="a/b.tfstate")
    assert (put[0].action, put[0].resource) == ("s3:PutObject", "arn:aws:s3:::tfstate-x/a/b.tfstate")
    listed = _auth("s3", "ListObjectsV2", Bucket="tfstate-x")
    assert (listed[0].action, listed[0].resource) == ("s3:ListBucket", "arn:aws:s3:::tfstate-x")


def test_requests_sse_kms_write_asks_the_bucket_key_under_its_policy() -> None:
    # GIVEN a bucket whose default encryption is a customer key WHEN an object is written
    lookups = FakeLookups(bucket_key="arn:aws:kms:us-east-1:111122223333:key/k-1")
    reqs = _auth_with(lookups, "s3", "PutObject", Bucket="b-1", Key="k")
    # THEN kms:GenerateDataKey on that key is decided under the key policy, via S3
    side = [r for r in reqs if r.why == "sse-kms"]
    assert [(r.action, r.resource, r.resource_kind) for r in side] == [
        ("kms:GenerateDataKey", "arn:aws:kms:us-east-1:111122223333:key/k-1", "kms")
    ]
    assert side[0].context["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    # AND an explicit AES256 write asks no key; an alias is resolved to its key
    assert not [
        r
        for r in _auth_with(lookups, "s3", "PutObject", Bucket="b-1", Key="k", ServerSideEncryption="AES256")
        if r.why == "sse-kms"
    ]
    aliased = FakeLookups(bucket_key="alias/terraform-state", aliases={"alias/terraform-state": "k-2"})
    assert [r.resource for r in _auth_with(aliased, "s3", "PutObject", Bucket="b", Key="k") if r.why == "sse-kms"] == [
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k-2"
    ]


def test_requests_create_account_with_tags_also_needs_tag_resource() -> None:
    reqs = _auth(
        "organizations", "CreateAccount", Email="a@example.com", AccountName="a", Tags=[{"Key": "team", "Value": "t"}]
    )
    assert [(r.action, r.why) for r in reqs] == [
        ("organizations:CreateAccount", "call"),
        ("organizations:TagResource", "tag-on-create"),
    ]
    assert reqs[0].resource == "*"  # CreateAccount supports no resource types
    assert reqs[1].resource == f"arn:aws:organizations::{ACCOUNT}:account/{ORG}/*"
    assert reqs[1].context["aws:RequestTag/team"] == "t" and reqs[1].context["aws:TagKeys"] == ["team"]
    # AND without tags there is nothing on the side
    assert len(_auth("organizations", "CreateAccount", Email="a@example.com", AccountName="a")) == 1


def test_requests_attach_policy_authorizes_the_policy_and_the_target() -> None:
    reqs = _auth("organizations", "AttachPolicy", PolicyId="p-abc", TargetId="ou-root-1")
    assert {r.resource for r in reqs} == {
        f"arn:aws:organizations::{ACCOUNT}:policy/{ORG}/service_control_policy/p-abc",
        f"arn:aws:organizations::{ACCOUNT}:ou/{ORG}/ou-root-1",
    }


def test_requests_batch_get_item_names_each_table() -> None:
    reqs = _auth("dynamodb", "BatchGetItem", RequestItems={"t-1": {"Keys": []}, "t-2": {"Keys": []}})
    assert [r.resource for r in reqs] == [
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t-1",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t-2",
    ]


def test_requests_role_with_tags_and_path_and_boundary() -> None:
    lookups = FakeLookups(role_path="/ci/")
    reqs = _auth_with(
        lookups,
        "iam",
        "CreateRole",
        RoleName="TeamCIRole",
        Tags=[{"Key": "team", "Value": "t"}],
        PermissionsBoundary="arn:aws:iam::111122223333:policy/Boundary",
    )
    assert reqs[0].resource == f"arn:aws:iam::{ACCOUNT}:role/ci/TeamCIRole"
    assert reqs[0].context["iam:PermissionsBoundary"] == "arn:aws:iam::111122223333:policy/Boundary"
    assert [r.action for r in reqs[1:]] == ["iam:TagRole"]


def test_requests_service_keys_from_the_request_members() -> None:
    run = _auth("ec2", "RunInstances", InstanceType="p5.48xlarge", MinCount=1, MaxCount=1)
    assert run[0].context["ec2:InstanceType"] == "p5.48xlarge"
    # AND every resource type RunInstances requires is authorized, the instance as AWS names one not created yet
    assert {r.resource for r in run if r.why == "call"} >= {
        "arn:aws:ec2:us-east-1:111122223333:instance/*",
        "arn:aws:ec2:us-east-1::image/*",
        "arn:aws:ec2:us-east-1:111122223333:subnet/*",
    }
    endpoint = _auth(
        "sagemaker",
        "CreateEndpointConfig",
        EndpointConfigName="e",
        ProductionVariants=[
            {"VariantName": "a", "InstanceType": "ml.g5.xlarge"},
            {"VariantName": "b", "InstanceType": "ml.p5.48xlarge"},
        ],
    )
    assert endpoint[0].context["sagemaker:InstanceTypes"] == ["ml.g5.xlarge", "ml.p5.48xlarge"]


def test_requests_pass_role_when_a_service_is_handed_a_role() -> None:
    reqs = _auth(
        "lambda",
        "CreateFunction",
        FunctionName="f",
        Role="arn:aws:iam::111122223333:role/fn-role",
        Code={},
        Handler="h",
    )
    passed = [r for r in reqs if r.why == "pass-role"]
    assert [(r.action, r.resource, r.context["iam:PassedToService"]) for r in passed] == [
        ("iam:PassRole", "arn:aws:iam::111122223333:role/fn-role", "lambda.amazonaws.com")
    ]


def test_requests_task_callbacks_are_scoped_to_the_tokens_state_machine() -> None:
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:AccountLifecycle"
    reqs = _auth_with(
        FakeLookups(machine=machine), "stepfunctions", "SendTaskSuccess", signing="states", taskToken="t", output="{}"
    )
    assert [(r.action, r.resource) for r in reqs] == [("states:SendTaskSuccess", machine)]


def test_requests_put_events_names_the_bus_inside_the_entries() -> None:
    reqs = _auth(
        "events", "PutEvents", Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "vending"}]
    )
    assert reqs[0].resource == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/vending"
    default = _auth("events", "PutEvents", Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
    assert default[0].resource == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"


def test_requests_rule_operations_name_the_rule_as_aws_does() -> None:
    # A rule of the default bus is rule/<name>, whichever member names it (its `Name` is no bus name); a custom bus's
    # rule carries the bus; a bus operation's `Name` is the bus. (Before: DisableRule was asked on rule/<name>/<name>,
    # which no SCP naming the rule matched.)
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/vending-usage-forwarding"
    for operation, params in (
        ("DeleteRule", {"Name": "vending-usage-forwarding"}),
        ("DisableRule", {"Name": "vending-usage-forwarding"}),
        ("EnableRule", {"Name": "vending-usage-forwarding", "EventBusName": "default"}),
        ("PutRule", {"Name": "vending-usage-forwarding", "EventPattern": "{}"}),
        ("PutTargets", {"Rule": "vending-usage-forwarding", "Targets": [{"Id": "t", "Arn": "x"}]}),
        ("RemoveTargets", {"Rule": "vending-usage-forwarding", "Ids": ["t"]}),
    ):
        assert [r.resource for r in _auth("events", operation, **params) if r.why == "call"] == [rule], operation
    custom = _auth("events", "DisableRule", Name="r", EventBusName="vending")
    assert custom[0].resource == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/vending/r"
    bus = _auth("events", "DeleteEventBus", Name="vending")
    assert bus[0].resource == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/vending"


def test_requests_get_caller_identity_is_never_authorized() -> None:
    assert _auth("sts", "GetCallerIdentity") == []


def test_requests_reading_a_missing_key_also_needs_list_bucket() -> None:
    missing = _auth_with(FakeLookups(exists=False), "s3", "HeadObject", Bucket="b-1", Key="nope")
    assert [(r.action, r.resource, r.why) for r in missing[1:]] == [
        ("s3:ListBucket", "arn:aws:s3:::b-1", "missing-object")
    ]
    assert len(_auth_with(FakeLookups(exists=True), "s3", "HeadObject", Bucket="b-1", Key="there")) == 1


def test_llm_template_calls_resolve_to_the_resources_aws_names() -> None:
    # GIVEN the EKS, Bedrock and OpenSearch Serverless calls the LLM templates make
    role = f"arn:aws:iam::{ACCOUNT}:role/team/admins"
    cases = [
        (("eks", "DescribeAddon"), {"clusterName": "gpu", "addonName": "coredns"}, "addon/gpu/coredns/*"),
        (
            ("eks", "AssociateAccessPolicy"),
            {"clusterName": "gpu", "principalArn": role, "policyArn": "arn:aws:eks::aws:cluster-access-policy/X"},
            f"access-entry/gpu/role/{ACCOUNT}/admins/*",
        ),
        (("eks", "DescribePodIdentityAssociation"), {"clusterName": "gpu", "associationId": "a-1"}, "gpu/a-1"),
        (("bedrock", "DeleteGuardrail"), {"guardrailIdentifier": "abc123", "guardrailVersion": "1"}, "/abc123"),
        (("bedrock-agent", "GetDataSource"), {"knowledgeBaseId": "KB1", "dataSourceId": "D"}, "knowledge-base/KB1"),
        (("opensearchserverless", "DeleteCollection"), {"id": "abc"}, "collection/abc"),
    ]
    signing = {"bedrock-agent": "bedrock", "opensearchserverless": "aoss"}
    for (service, operation), params, tail in cases:
        # WHEN each is turned into its authorizations, THEN the resource is the one the request names
        [first, *_] = _auth(service, operation, signing.get(service, service), **params)
        assert first.resource.endswith(tail), (operation, first.resource)
    # AND a create that references no optional resource type (CreateGuardrail) is authorized on "*", not on an
    # automated-reasoning policy it never named
    create = _auth("bedrock", "CreateGuardrail", "bedrock", name="g", tags=[{"key": "team", "value": "t"}])
    assert [(r.action, r.resource) for r in create] == [
        ("bedrock:CreateGuardrail", "*"),
        ("bedrock:TagResource", "*"),
    ]


def test_requests_service_quotas_calls_name_the_quota() -> None:
    # GIVEN the Service Quotas calls of the vend step (vending.quotas)
    # WHEN each is authorized THEN quota-scoped ones name arn:aws:servicequotas:<region>:<account>:<service>/<code>
    quota = f"arn:aws:servicequotas:us-east-1:{ACCOUNT}:ec2/L-417A185B"
    quota_scoped = ("GetServiceQuota", "RequestServiceQuotaIncrease", "ListRequestedServiceQuotaChangeHistoryByQuota")
    for operation in quota_scoped:
        (request,) = _auth("service-quotas", operation, "servicequotas", ServiceCode="ec2", QuotaCode="L-417A185B")
        assert (request.action, request.resource) == (f"servicequotas:{operation}", quota)
    # AND the calls without a quota resource type are authorized on "*", as AWS does
    (default,) = _auth("service-quotas", "GetAWSDefaultServiceQuota", "servicequotas", ServiceCode="ec2", QuotaCode="L")
    (change,) = _auth("service-quotas", "GetRequestedServiceQuotaChange", "servicequotas", RequestId="r-1")
    assert (default.resource, change.resource) == ("*", "*")


def test_requests_describe_execution_is_authorized_on_the_kind_of_execution_it_names() -> None:
    # The reference marks execution and express both required; a request names one of them, never both (before the
    # fix a standard execution was also authorized on express:*:*:*, which no grant on the executions names)
    standard = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:AccountVending:vend-x-a1"
    express = f"arn:aws:states:us-east-1:{ACCOUNT}:express:Fast:run-1:abc"
    for arn in (standard, express):
        reqs = _auth("stepfunctions", "DescribeExecution", "states", executionArn=arn)
        assert [(r.action, r.resource) for r in reqs] == [("states:DescribeExecution", arn)], arn
