"""The whole authorization AWS makes for a call, compared as a whole (action, resource, every condition key, the reason
and how the resource policy combines): a key AWS puts in the request context and the emulator leaves out (or puts
under another name) is a condition no policy can match, so a guardrail that reads it is silently off.

Each expected context is written from the Service Authorization Reference and the services' documentation, not read
back from the code; the emulator's state is a fake (tests/emulator/test_authorization_requests.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from landing_zone.local.authorization import requests as authz
from landing_zone.local.authorization.calls import Call
from landing_zone.local.authorization.requests import AuthRequest
from tests.emulator.test_authorization_requests import ACCOUNT, ORG, FakeLookups, _auth, _auth_with

REGION = "us-east-1"
BASE = {"aws:RequestedRegion": REGION, "aws:SecureTransport": "true", "aws:ViaAWSService": "false"}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/VendingCIBoundary"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1"


def _request(action: str, resource: str, why: str = "call", kind: str = "default", **context: Any) -> AuthRequest:
    return AuthRequest(action, resource, {**BASE, **context}, why, kind)


def _call(
    service: str, operation: str, signing: str | None = None, headers: dict[str, str] | None = None, **p: Any
) -> Call:
    return Call("AKIA", "token", REGION, signing or service, service, operation, p, headers or {})


# ---- the tags a request sets, in each shape AWS APIs use ----


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "team", "Value": "a"}]}]}, {"team": "a"}),
        ({"Tags": {"team": "a", "stage": "b"}}, {"team": "a", "stage": "b"}),  # Lambda, Logs: a map
        ({"Tags": [{"Key": "team", "Value": "a"}, {"Key": "bare"}]}, {"team": "a", "bare": ""}),  # a list of pairs
        ({"tags": [{"key": "team", "value": "a"}]}, {"team": "a"}),  # CodeBuild: lower-case members
        ({"TagList": [{"Key": "team", "Value": "a"}]}, {"team": "a"}),  # RDS
        ({"Tags": [{"TagKey": "team", "TagValue": "a"}]}, {"team": "a"}),  # KMS
        ({"Tagging": {"TagSet": [{"Key": "team", "Value": "a"}]}}, {"team": "a"}),  # S3 PutBucketTagging
        ({"Tagging": "team=a&stage=b%20c"}, {"team": "a", "stage": "b c"}),  # S3's x-amz-tagging header
        ({"Tags": "team=a"}, None),  # only S3's Tagging is a query string
        ({"Tags": ["team", {"Value": "no key"}]}, None),  # neither a pair nor a key
        ({"Tags": []}, None),
        ({"TagSpecifications": [{"Tags": [{"Key": "bare"}]}]}, {"bare": ""}),
        ({}, None),
        (
            {"TagSpecifications": [{"Tags": [{"Key": "a", "Value": "1"}]}], "Tags": {"b": "2"}},
            {"a": "1", "b": "2"},
        ),
    ],
)
def test_request_tags_reads_every_shape(params: dict[str, Any], expected: dict[str, str] | None) -> None:
    assert authz.request_tags(_call("svc", "Op", **params)) == expected


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("UntagResource", {"TagKeys": ["team", "stage"]}, ["team", "stage"]),
        ("UntagResource", {"tagKeys": ["team"]}, ["team"]),  # Logs, EKS, Bedrock: lower-case
        ("DeleteTags", {"Resources": ["i-1"], "Tags": [{"Key": "team", "Value": "a"}, {"Key": "x"}]}, ["team", "x"]),
        (
            "DeleteTags",
            {"Tags": [{"Key": "team", "ResourceId": "asg", "ResourceType": "auto-scaling-group"}]},
            ["team"],
        ),
        ("UntagLogGroup", {"logGroupName": "g", "tags": ["team"]}, ["team"]),  # Logs' old API: a list of keys
        ("RemoveTagsFromResource", {"TagKeys": ["team"]}, ["team"]),
        ("CreateTags", {"Tags": [{"Key": "team", "Value": "a"}]}, None),  # a tag write removes nothing
        ("UntagResource", {}, None),
        ("DeleteTags", {"Tags": "team"}, None),
        ("DeleteTags", {"Resources": ["i-1"]}, None),  # every tag deleted: AWS sets no aws:TagKeys
        ("DeleteTags", {"Tags": [{"key": "team"}]}, ["team"]),
    ],
)
def test_removed_tag_keys_reads_every_untag_shape(
    operation: str, params: dict[str, Any], expected: list[str] | None
) -> None:
    assert authz.removed_tag_keys(_call("svc", operation, **params)) == expected


# ---- tag keys in the request context ----


def test_a_tag_write_carries_the_requested_tags_and_the_resources_own() -> None:
    # GIVEN a topic tagged team=old WHEN a tag is written on it
    lookups = FakeLookups(tags={"team": "old"})
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:t"
    got = _auth_with(lookups, "sns", "TagResource", ResourceArn=topic, Tags=[{"Key": "team", "Value": "new"}])
    # THEN the request's tags, their keys and the resource's own tags are all in the context
    assert got == [
        _request(
            "sns:TagResource",
            topic,
            **{"aws:RequestTag/team": "new", "aws:TagKeys": ["team"], "aws:ResourceTag/team": "old"},
        )
    ]


@pytest.mark.parametrize(
    ("service", "operation", "params", "resource"),
    [
        (
            "lambda",
            "UntagResource",
            {"Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", "TagKeys": ["team"]},
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f",
        ),
        (
            "logs",
            "UntagLogGroup",
            {"logGroupName": "g", "tags": ["team"]},
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g",
        ),
        (
            "ec2",
            "DeleteTags",
            {"Resources": ["i-0abc"], "Tags": [{"Key": "team", "Value": "a"}]},
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc",
        ),
        (
            "elasticloadbalancing",
            "RemoveTags",
            {
                "ResourceArns": [f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/lb/1"],
                "TagKeys": ["team"],
            },
            f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/lb/1",
        ),
    ],
)
def test_an_untag_carries_the_removed_keys_and_never_request_tags(
    service: str, operation: str, params: dict[str, Any], resource: str
) -> None:
    # WHEN a tag is removed, in each service's shape THEN aws:TagKeys names it (what the mandatory-tag fence reads),
    # on the named resource, with its own tags; an untag sets no tag, so there is no aws:RequestTag
    got = _auth_with(FakeLookups(tags={"team": "a"}), service, operation, **params)
    assert got == [
        _request(f"{service}:{operation}", resource, **{"aws:TagKeys": ["team"], "aws:ResourceTag/team": "a"})
    ]


def test_a_pattern_resource_reads_no_resource_tags() -> None:
    # GIVEN tags the fake would give any resource WHEN the resource is not one resource (instance/* of RunInstances)
    got = _auth_with(FakeLookups(tags={"team": "a"}), "ec2", "DescribeInstances")
    # THEN no aws:ResourceTag: AWS has no one resource to read them from
    assert got == [_request("ec2:DescribeInstances", "*")]


def test_ec2_tag_calls_are_authorized_on_each_resource_they_name() -> None:
    # WHEN CreateTags names resources of several kinds by id
    ids = ["i-0abc", "vol-1", "sg-2", "ami-3", "snap-4", "eipalloc-5", "tgw-attach-6", "vpc-7", "zzz-8"]
    got = _auth("ec2", "CreateTags", Resources=ids, Tags=[{"Key": "team", "Value": "a"}])
    # THEN each is authorized on its own ARN (an AMI's and a snapshot's carry no account; an unknown kind is "*")
    context = {**BASE, "aws:RequestTag/team": "a", "aws:TagKeys": ["team"]}
    assert [(r.action, r.resource, r.context) for r in got] == [
        ("ec2:CreateTags", arn, context)
        for arn in (
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-1",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-2",
            f"arn:aws:ec2:{REGION}::image/ami-3",
            f"arn:aws:ec2:{REGION}::snapshot/snap-4",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:elastic-ip/eipalloc-5",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:transit-gateway-attachment/tgw-attach-6",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-7",
            "*",
        )
    ]


def test_every_ec2_id_kind_is_a_resource_type_of_the_reference() -> None:
    # A kind the reference does not list would raise at the first call naming it
    types = authz._reference()["ec2"]["resources"]
    assert sorted(set(authz.EC2_ID_TYPES.values()) - set(types)) == []
    for prefix, kind in authz.EC2_ID_TYPES.items():
        assert authz.ec2_resource_arn(f"{prefix}-0f", "eu-west-1", ACCOUNT).endswith(f":{kind}/{prefix}-0f")


# ---- IAM keys ----


def test_iam_policy_arn_for_every_attach_and_detach() -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    for verb in ("Attach", "Detach"):
        for kind, member, arn in (
            ("Role", "RoleName", ROLE),
            ("User", "UserName", f"arn:aws:iam::{ACCOUNT}:user/u"),
            ("Group", "GroupName", f"arn:aws:iam::{ACCOUNT}:group/g"),
        ):
            name = arn.rsplit("/", 1)[1]
            got = _auth("iam", f"{verb}{kind}Policy", **{member: name, "PolicyArn": admin})
            # THEN the policy is a condition key, not a second resource: the entity is what is authorized
            assert got == [_request(f"iam:{verb}{kind}Policy", arn, **{"iam:PolicyARN": admin})], (verb, kind)
    # AND PutRolePolicy has no policy ARN
    assert _auth("iam", "PutRolePolicy", RoleName="app", PolicyName="p", PolicyDocument="{}") == [
        _request("iam:PutRolePolicy", ROLE)
    ]


@pytest.mark.parametrize("operation", ["CreateRole", "PutRolePermissionsBoundary"])
def test_iam_permissions_boundary_is_the_requested_one_where_the_request_sets_it(operation: str) -> None:
    # GIVEN a role that carries another boundary now
    lookups = FakeLookups(boundary=f"arn:aws:iam::{ACCOUNT}:policy/Old")
    got = _auth_with(lookups, "iam", operation, RoleName="app", PermissionsBoundary=BOUNDARY)
    assert got == [_request(f"iam:{operation}", ROLE, **{"iam:PermissionsBoundary": BOUNDARY})]
    # AND a create without one has no key (a negated condition on it is then true, as in AWS)
    assert _auth_with(lookups, "iam", "CreateRole", RoleName="app") == [_request("iam:CreateRole", ROLE)]


@pytest.mark.parametrize(
    "operation", ["DeleteRolePermissionsBoundary", "PutRolePolicy", "AttachRolePolicy", "DeleteRole", "UpdateRole"]
)
def test_iam_permissions_boundary_is_the_current_one_for_an_existing_role(operation: str) -> None:
    # GIVEN a role that carries the CI boundary WHEN any action that has the key is asked on it
    got = _auth_with(FakeLookups(boundary=BOUNDARY), "iam", operation, RoleName="app")
    # THEN the key is the boundary it carries (a delete of it is fenced by what it removes)
    assert got == [_request(f"iam:{operation}", ROLE, **{"iam:PermissionsBoundary": BOUNDARY})]
    # AND a role without a boundary has no key
    assert _auth_with(FakeLookups(), "iam", operation, RoleName="app") == [_request(f"iam:{operation}", ROLE)]


def test_iam_permissions_boundary_is_not_read_for_actions_without_the_key() -> None:
    got = _auth_with(FakeLookups(boundary=BOUNDARY), "iam", "ListRoleTags", RoleName="app")
    assert got == [_request("iam:ListRoleTags", ROLE)]


def test_create_role_with_a_path_tags_and_a_boundary() -> None:
    tags = {"aws:RequestTag/team": "t", "aws:TagKeys": ["team"]}
    got = _auth_with(
        FakeLookups(role_path="/ci/"),
        "iam",
        "CreateRole",
        RoleName="TeamCIRole",
        Tags=[{"Key": "team", "Value": "t"}],
        PermissionsBoundary=BOUNDARY,
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/ci/TeamCIRole"
    # THEN the create (with the boundary it sets and the tags) and TagRole on the same role (tag-on-create), which has
    # no boundary key (the reference lists none for TagRole)
    assert got == [
        _request("iam:CreateRole", role, **tags, **{"iam:PermissionsBoundary": BOUNDARY}),
        _request("iam:TagRole", role, "tag-on-create", **tags),
    ]


# ---- STS ----


def test_assume_role_carries_its_request_keys_and_is_decided_under_the_trust_policy() -> None:
    got = _auth("sts", "AssumeRole", RoleArn=ROLE, RoleSessionName="s-1", ExternalId="ext-1", SourceIdentity="alice")
    keys = {"sts:ExternalId": "ext-1", "sts:RoleSessionName": "s-1", "sts:SourceIdentity": "alice"}
    assert got == [_request("sts:AssumeRole", ROLE, kind="trust", **keys)]
    # AND without them, none of the three keys
    assert _auth("sts", "AssumeRole", RoleArn=ROLE) == [_request("sts:AssumeRole", ROLE, kind="trust")]


def _token(claims: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{body}.sig"


def test_web_identity_claims_are_keys_named_after_the_issuer() -> None:
    # GIVEN a GitHub OIDC token
    claims = {
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:o/r:ref:refs/heads/main",
        "aud": "sts.amazonaws.com",
        "amr": ["x"],
        "other": "y",
    }
    got = _auth("sts", "AssumeRoleWithWebIdentity", RoleArn=ROLE, RoleSessionName="gh", WebIdentityToken=_token(claims))
    host = "token.actions.githubusercontent.com"
    # THEN sub, aud and amr are keys under the issuer's host (no scheme), other claims are not
    assert got == [
        _request(
            "sts:AssumeRoleWithWebIdentity",
            ROLE,
            kind="trust",
            **{
                "sts:RoleSessionName": "gh",
                f"{host}:sub": claims["sub"],
                f"{host}:aud": claims["aud"],
                f"{host}:amr": ["x"],
            },
        )
    ]
    # AND a token that is no JWT gives no claim keys
    broken = _auth("sts", "AssumeRoleWithWebIdentity", RoleArn=ROLE, WebIdentityToken="not-a-jwt")
    assert broken == [_request("sts:AssumeRoleWithWebIdentity", ROLE, kind="trust")]
    assert authz._jwt_claims("a.!!!.c") == {} and authz._jwt_claims(_token({"iss": "i"})) == {"iss": "i"}


def test_a_tag_session_is_decided_under_the_trust_policy() -> None:
    assert [r.resource_kind for r in _auth("sts", "TagSession", RoleArn=ROLE)] == ["trust"]


# ---- Organizations ----


@pytest.mark.parametrize(
    ("operation", "params", "policy_type"),
    [
        (
            "CreatePolicy",
            {"Name": "n", "Type": "SERVICE_CONTROL_POLICY", "Content": "{}", "Description": ""},
            "SERVICE_CONTROL_POLICY",
        ),
        ("EnablePolicyType", {"RootId": "r-ab12", "PolicyType": "TAG_POLICY"}, "TAG_POLICY"),
        ("DisablePolicyType", {"RootId": "r-ab12", "PolicyType": "RESOURCE_CONTROL_POLICY"}, "RESOURCE_CONTROL_POLICY"),
    ],
)
def test_organizations_policy_type_is_a_key(operation: str, params: dict[str, Any], policy_type: str) -> None:
    [got] = _auth("organizations", operation, **params)
    assert got.context == {**BASE, "organizations:PolicyType": policy_type}
    assert got.action == f"organizations:{operation}"


def test_move_account_authorizes_the_account_and_both_parents() -> None:
    got = _auth(
        "organizations", "MoveAccount", AccountId="444455556666", SourceParentId="ou-a", DestinationParentId="ou-b"
    )
    base = f"arn:aws:organizations::{ACCOUNT}"
    assert [(r.action, r.resource) for r in got] == [
        ("organizations:MoveAccount", f"{base}:account/{ORG}/444455556666"),
        ("organizations:MoveAccount", f"{base}:ou/{ORG}/ou-b"),
        ("organizations:MoveAccount", f"{base}:ou/{ORG}/ou-a"),
    ]


# ---- S3 and SSE-KMS ----


def test_s3_keys_from_headers_and_from_members() -> None:
    sse = {"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY}
    headers = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": KEY}
    lookups = FakeLookups()
    kms = AuthRequest(
        "kms:GenerateDataKey",
        KEY,
        {
            "kms:ViaService": f"s3.{REGION}.amazonaws.com",
            "kms:CallerAccount": ACCOUNT,
            "aws:RequestedRegion": REGION,
            "aws:SecureTransport": "true",
            "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b-1",
        },
        "sse-kms",
        "kms",
    )
    object_arn = "arn:aws:s3:::b-1/k"
    by_header = authz.authorization_requests(
        _call("s3", "PutObject", headers=headers, Bucket="b-1", Key="k"), ACCOUNT, lookups
    )
    by_member = _auth("s3", "PutObject", Bucket="b-1", Key="k", ServerSideEncryption="aws:kms", SSEKMSKeyId=KEY)
    assert by_header == by_member == [_request("s3:PutObject", object_arn, **sse), kms]
    # AND the same keys on another service's call are not S3's
    assert (
        "s3:x-amz-server-side-encryption"
        not in _auth("sns", "Publish", TopicArn="arn:aws:sns:us-east-1:1:t", ServerSideEncryption="aws:kms")[0].context
    )


@pytest.mark.parametrize(
    ("operation", "params", "kms_action"),
    [
        ("PutObject", {"Key": "k"}, "kms:GenerateDataKey"),
        ("CreateMultipartUpload", {"Key": "k"}, "kms:GenerateDataKey"),
        ("CopyObject", {"Key": "k", "CopySource": "b-0/k"}, "kms:GenerateDataKey"),
        ("GetObject", {"Key": "k"}, "kms:Decrypt"),
        ("UploadPart", {"Key": "k", "UploadId": "u", "PartNumber": 1}, None),  # authorized when the upload was made
        ("CompleteMultipartUpload", {"Key": "k", "UploadId": "u"}, None),
        ("HeadObject", {"Key": "k"}, None),  # metadata only: no decrypt
        ("ListObjectsV2", {}, None),
    ],
)
def test_sse_kms_side_authorization_per_operation(
    operation: str, params: dict[str, Any], kms_action: str | None
) -> None:
    lookups = FakeLookups(bucket_key=KEY, object_key=KEY)
    side = [r for r in _auth_with(lookups, "s3", operation, Bucket="b-1", **params) if r.why == "sse-kms"]
    assert [(r.action, r.resource, r.resource_kind) for r in side] == ([(kms_action, KEY, "kms")] if kms_action else [])


def test_sse_kms_write_with_another_algorithm_asks_no_key() -> None:
    lookups = FakeLookups(bucket_key=KEY)
    for sse in ("AES256", "aws:kms:dsse", "aws:kms"):
        side = [
            r
            for r in _auth_with(lookups, "s3", "PutObject", Bucket="b", Key="k", ServerSideEncryption=sse)
            if r.why == "sse-kms"
        ]
        assert len(side) == (0 if sse == "AES256" else 1), sse


def test_sse_kms_key_of_another_account_and_by_alias() -> None:
    # GIVEN a bucket of account 2 whose default key is named by id, and one whose key is an alias in account 2
    other = "444455556666"
    lookups = FakeLookups(bucket_key="k-9", bucket_account=other)
    [side] = [r for r in _auth_with(lookups, "s3", "PutObject", Bucket="b", Key="k") if r.why == "sse-kms"]
    # THEN the key is the bucket owner's, and the caller's account is the caller's
    assert (side.resource, side.context["kms:CallerAccount"]) == (f"arn:aws:kms:{REGION}:{other}:key/k-9", ACCOUNT)
    aliased = FakeLookups(bucket_key=f"arn:aws:kms:{REGION}:{other}:alias/state", aliases={"alias/state": "k-7"})
    [side] = [r for r in _auth_with(aliased, "s3", "PutObject", Bucket="b", Key="k") if r.why == "sse-kms"]
    assert side.resource == f"arn:aws:kms:{REGION}:{other}:key/k-7"
    # AND an alias that names no key asks nothing (S3 answers KMS.NotFoundException)
    missing = FakeLookups(bucket_key="alias/none")
    assert [r for r in _auth_with(missing, "s3", "PutObject", Bucket="b", Key="k") if r.why == "sse-kms"] == []


def test_a_missing_object_asks_list_bucket_with_the_calls_context() -> None:
    got = _auth_with(FakeLookups(exists=False), "s3", "GetObject", Bucket="b-1", Key="nope")
    assert got == [
        _request("s3:GetObject", "arn:aws:s3:::b-1/nope"),
        _request("s3:ListBucket", "arn:aws:s3:::b-1", "missing-object"),
    ]
    # AND other reads, other services and a bucket-level call ask nothing more
    assert len(_auth_with(FakeLookups(exists=False), "s3", "GetObjectTagging", Bucket="b-1", Key="nope")) == 1
    assert len(_auth_with(FakeLookups(exists=False), "s3", "ListObjectsV2", Bucket="b-1")) == 1


# ---- tag-on-create and PassRole ----


def test_ec2_tag_on_create_is_asked_for_the_tagged_resource_type_with_its_create_action() -> None:
    got = _auth(
        "ec2",
        "CreateVpc",
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "team", "Value": "a"}]}],
    )
    tags = {"aws:RequestTag/team": "a", "aws:TagKeys": ["team"]}
    assert got == [
        _request("ec2:CreateVpc", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*", **tags),
        _request(
            "ec2:CreateTags",
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*",
            "tag-on-create",
            **tags,
            **{"ec2:CreateAction": "CreateVpc"},
        ),
    ]


@pytest.mark.parametrize(
    ("service", "operation", "params", "tag_action"),
    [
        ("s3", "PutObject", {"Bucket": "b", "Key": "k", "Tagging": "team=a"}, "s3:PutObjectTagging"),
        (
            "s3",
            "CreateBucket",
            {"Bucket": "b", "Tagging": {"TagSet": [{"Key": "team", "Value": "a"}]}},
            "s3:TagResource",
        ),
        ("s3", "PutBucketTagging", {"Bucket": "b", "Tagging": {"TagSet": [{"Key": "team", "Value": "a"}]}}, None),
        (
            "iam",
            "CreatePolicy",
            {"PolicyName": "p", "PolicyDocument": "{}", "Tags": [{"Key": "team", "Value": "a"}]},
            "iam:TagPolicy",
        ),
        (
            "iam",
            "CreateOpenIDConnectProvider",
            {"Url": "https://h", "Tags": [{"Key": "team", "Value": "a"}]},
            "iam:TagOpenIDConnectProvider",
        ),
        ("iam", "CreateGroup", {"GroupName": "g", "Tags": [{"Key": "team", "Value": "a"}]}, None),  # no such tag action
        ("sqs", "CreateQueue", {"QueueName": "q", "tags": {"team": "a"}}, "sqs:TagQueue"),
        (
            "codebuild",
            "CreateProject",
            {"name": "p", "tags": [{"key": "team", "value": "a"}]},
            None,
        ),  # the create itself
        ("logs", "TagResource", {"resourceArn": "arn:aws:logs:us-east-1:1:log-group:g", "tags": {"team": "a"}}, None),
        ("logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"team": "a"}}, "logs:TagResource"),
        ("sts", "AssumeRole", {"RoleArn": ROLE, "Tags": [{"Key": "team", "Value": "a"}]}, None),  # session tags
    ],
)
def test_tag_on_create_action_per_service(
    service: str, operation: str, params: dict[str, Any], tag_action: str | None
) -> None:
    side = [r.action for r in _auth(service, operation, **params) if r.why == "tag-on-create"]
    assert side == ([tag_action] if tag_action else [])


def test_create_account_tags_are_asked_on_the_account_not_created_yet() -> None:
    got = _auth(
        "organizations", "CreateOrganizationalUnit", ParentId="r-x", Name="ou", Tags=[{"Key": "team", "Value": "a"}]
    )
    assert [(r.action, r.resource, r.why) for r in got][1:] == [
        ("organizations:TagResource", f"arn:aws:organizations::{ACCOUNT}:ou/{ORG}/ou-*", "tag-on-create")
    ]


@pytest.mark.parametrize(
    ("service", "operation", "params", "passed_to"),
    [
        ("lambda", "CreateFunction", {"FunctionName": "f", "Role": ROLE}, "lambda.amazonaws.com"),
        (
            "stepfunctions",
            "CreateStateMachine",
            {"name": "m", "roleArn": ROLE, "definition": "{}"},
            "states.amazonaws.com",
        ),
        (
            "events",
            "PutTargets",
            {"Rule": "r", "Targets": [{"Id": "t", "Arn": "arn:aws:sqs:us-east-1:1:q", "RoleArn": ROLE}]},
            "events.amazonaws.com",
        ),
        ("ec2", "AssociateIamInstanceProfile", {"IamInstanceProfile": {"Arn": ROLE}}, "ec2.amazonaws.com"),
        ("iam", "CreateRole", {"RoleName": "x", "AssumeRolePolicyDocument": ROLE}, None),  # IAM passes no role
        ("lambda", "CreateFunction", {"FunctionName": "f", "Description": ROLE}, None),  # an ARN in no role member
        ("dynamodb", "CreateTable", {"TableName": "t", "RoleArn": ROLE}, None),  # not a service that takes roles
    ],
)
def test_pass_role_per_service(service: str, operation: str, params: dict[str, Any], passed_to: str | None) -> None:
    signing = "states" if service == "stepfunctions" else None
    side = [r for r in _auth(service, operation, signing, **params) if r.why == "pass-role"]
    expected = [
        AuthRequest(
            "iam:PassRole",
            ROLE,
            {"iam:PassedToService": passed_to, "aws:RequestedRegion": REGION, "aws:SecureTransport": "true"},
            "pass-role",
        )
    ]
    assert side == (expected if passed_to else [])


# ---- resource names and service keys ----


def test_dynamodb_transactions_name_each_table_once() -> None:
    got = _auth(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "b", "Item": {}}},
            {"Update": {"TableName": "a", "Key": {}}},
            {"Put": {"TableName": "b", "Item": {}}},
            {"ConditionCheck": {"Key": {}}},
            "not-an-item",
        ],
    )
    assert [(r.action, r.resource) for r in got] == [
        ("dynamodb:TransactWriteItems", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/a"),
        ("dynamodb:TransactWriteItems", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/b"),
    ]


def test_sqs_queue_named_by_its_url() -> None:
    got = _auth("sqs", "SendMessage", QueueUrl=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/jobs/", MessageBody="m")
    assert got == [_request("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs")]


def test_kms_alias_calls_are_authorized_on_the_aliased_key_and_a_missing_key_on_nothing() -> None:
    lookups = FakeLookups(aliases={"alias/state": "k-1"})
    got = _auth_with(lookups, "kms", "Encrypt", KeyId="alias/state", Plaintext="x")
    assert [(r.action, r.resource, r.resource_kind) for r in got] == [("kms:Encrypt", KEY, "kms")]
    # AND a key that does not exist is NotFoundException before any authorization
    assert _auth_with(FakeLookups(), "kms", "Encrypt", KeyId="alias/none", Plaintext="x") == []


def test_eks_access_entries_name_the_principal() -> None:
    principal = f"arn:aws:iam::{ACCOUNT}:role/team/dev"
    got = _auth("eks", "DescribeAccessEntry", clusterName="c", principalArn=principal)
    assert [r.resource for r in got] == [f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/c/role/{ACCOUNT}/dev/*"]
    # AND a Pod Identity association is named by its id
    got = _auth("eks", "DescribePodIdentityAssociation", clusterName="c", associationId="a-1")
    assert [r.resource for r in got] == [f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/c/a-1"]


def test_oidc_provider_is_named_without_its_scheme() -> None:
    got = _auth("iam", "GetOpenIDConnectProvider", Url="https://token.actions.githubusercontent.com")
    assert got == [
        _request(
            "iam:GetOpenIDConnectProvider", f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
        )
    ]


def test_action_names_follow_the_reference() -> None:
    def action(signing: str, operation: str) -> str:
        return authz.iam_action(_call(signing, operation))

    assert action("monitoring", "PutMetricData") == "cloudwatch:PutMetricData"
    assert action("email", "SendEmail") == "ses:SendEmail"
    assert action("s3", "HeadBucket") == "s3:ListBucket"
    assert action("lambda", "Invoke") == "lambda:InvokeFunction"
    assert action("budgets", "CreateBudget") == "budgets:ModifyBudget"
    assert action("ec2", "runinstances") == "ec2:RunInstances"  # the reference's spelling
    assert action("nosuchservice", "DoIt") == "nosuchservice:DoIt"


def test_service_keys_single_multiple_and_plural() -> None:
    one = _auth("ec2", "RunInstances", InstanceType="g5.xlarge", MinCount=1, MaxCount=1)[0].context
    assert one["ec2:InstanceType"] == "g5.xlarge"
    # AND a key whose member appears several times is every distinct value, sorted
    many = _auth(
        "sagemaker",
        "CreateEndpointConfig",
        EndpointConfigName="e",
        ProductionVariants=[
            {"InstanceType": "ml.p5.48xlarge"},
            {"InstanceType": "ml.g5.xlarge"},
            {"InstanceType": "ml.g5.xlarge"},
        ],
    )[0].context
    assert many["sagemaker:InstanceTypes"] == ["ml.g5.xlarge", "ml.p5.48xlarge"]
    # AND an unknown action has none
    assert authz._service_keys(_call("ec2", "Nope", InstanceType="x"), "ec2:Nope") == {}


# ---- what the emulator's state is asked, exactly ----


class RecordingLookups(FakeLookups):
    """The fake, recording every question it is asked (a question about another account, bucket or key is a wrong
    answer in the emulator, whatever the fake says)."""

    def __init__(self, **known: Any) -> None:
        super().__init__(**known)
        self.asked: list[tuple[Any, ...]] = []

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if name in {"asked", "known"} or name.startswith("_") or not callable(found):
            return found

        def recorded(*args: Any) -> Any:
            self.asked.append((name, *args))
            return found(*args)

        return recorded


def test_lookups_are_asked_about_the_callers_account_and_the_named_resource() -> None:
    lookups = RecordingLookups(role_path="/ci/")
    _auth_with(lookups, "iam", "CreateRole", RoleName="TeamCIRole")
    assert ("role_path", ACCOUNT, "TeamCIRole") in lookups.asked
    lookups = RecordingLookups()
    _auth_with(lookups, "kms", "Encrypt", KeyId="k-1", Plaintext="x")
    assert ("key_id", ACCOUNT, REGION, "k-1") in lookups.asked
    lookups = RecordingLookups(aliases={"alias/state": "k-1"})
    got = _auth_with(lookups, "kms", "DeleteAlias", AliasName="alias/state")
    assert ("key_id", ACCOUNT, REGION, "alias/state") in lookups.asked
    # AND an alias operation is authorized on the alias and on the key it points to
    assert [(r.action, r.resource) for r in got] == [
        ("kms:DeleteAlias", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/state"),
        ("kms:DeleteAlias", KEY),
    ]
    lookups = RecordingLookups()
    _auth_with(lookups, "organizations", "DescribeOrganizationalUnit", OrganizationalUnitId="ou-ab12-cd34")
    assert ("org_entity_arn", ACCOUNT, "ou-ab12-cd34") in lookups.asked
    lookups = RecordingLookups()
    _auth_with(
        lookups, "organizations", "CreateAccount", Email="a@x", AccountName="a", Tags=[{"Key": "k", "Value": "v"}]
    )
    assert ("org_entity_arn", ACCOUNT, "000000000000") in lookups.asked


def test_s3_lookups_name_the_bucket_and_the_key() -> None:
    lookups = RecordingLookups(bucket_key="alias/state", aliases={"alias/state": "k-1"}, exists=False)
    _auth_with(lookups, "s3", "PutObject", Bucket="b-1", Key="k/1")
    assert {("bucket_kms_key", "b-1"), ("bucket_account", "b-1"), ("key_id", ACCOUNT, REGION, "alias/state")} <= set(
        lookups.asked
    )
    lookups = RecordingLookups(object_key=KEY, exists=False)
    _auth_with(lookups, "s3", "GetObject", Bucket="b-1", Key="k/1")
    assert {("object_kms_key", "b-1", "k/1"), ("object_exists", "b-1", "k/1")} <= set(lookups.asked)


def test_sse_kms_alias_of_a_key_in_another_account_is_resolved_there() -> None:
    other = "444455556666"
    lookups = RecordingLookups(
        bucket_key=f"arn:aws:kms:{REGION}:{other}:alias/team/state", aliases={"alias/team/state": "k-7"}
    )
    [side] = [r for r in _auth_with(lookups, "s3", "PutObject", Bucket="b", Key="k") if r.why == "sse-kms"]
    # THEN the alias (its name may hold a slash) is looked up in the key's account and region
    assert ("key_id", other, REGION, "alias/team/state") in lookups.asked
    assert side.resource == f"arn:aws:kms:{REGION}:{other}:key/k-7"


# ---- names in the request ----


def test_only_a_string_that_is_no_arn_names_a_resource_and_the_top_level_member_first() -> None:
    # GIVEN a rule named at the top level, with a `Name` nested in a target and a non-string `Name` at the top
    got = _auth(
        "events", "PutTargets", Name={"not": "a name"}, Rule="r", Targets=[{"Id": "t", "Arn": "x", "Name": "nested"}]
    )
    # THEN the top-level string names the rule
    assert [r.resource for r in got] == [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r"]


@pytest.mark.parametrize(
    ("operation", "params", "rule"),
    [
        ("PutTargets", {"Rule": "r", "EventBusName": "vending", "Targets": []}, "rule/vending/r"),
        ("RemoveTargets", {"Rule": "r", "EventBusName": "vending", "Ids": []}, "rule/vending/r"),
        (
            "DisableRule",
            {"Name": "r", "EventBusName": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/vending"},
            "rule/vending/r",
        ),
        (
            "DisableRule",
            {"Name": "r", "EventBusName": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"},
            "rule/r",
        ),
        ("DisableRule", {"Name": "r", "EventBusName": ""}, "rule/r"),
        ("DisableRule", {"Name": "r", "EventBusName": None}, "rule/r"),
        ("RemoveTargets", {"Rule": "r", "EventBusName": "default", "Ids": []}, "rule/r"),
    ],
)
def test_a_rule_of_a_custom_bus_carries_the_bus_however_it_is_named(
    operation: str, params: dict[str, Any], rule: str
) -> None:
    got = _auth("events", operation, **params)
    assert [r.resource for r in got if r.why == "call"] == [f"arn:aws:events:{REGION}:{ACCOUNT}:{rule}"]


def test_an_iam_policy_operation_is_authorized_on_the_policy_its_arn_names() -> None:
    policy = f"arn:aws:iam::{ACCOUNT}:policy/VendingCIBoundary"
    for operation, params in (
        ("CreatePolicyVersion", {"PolicyDocument": "{}", "SetAsDefault": True}),
        ("SetDefaultPolicyVersion", {"VersionId": "v2"}),
        ("DeletePolicy", {}),
        ("GetPolicy", {}),
    ):
        assert _auth("iam", operation, PolicyArn=policy, **params) == [_request(f"iam:{operation}", policy)], operation


def test_queue_names_from_urls_of_any_shape() -> None:
    def queue(url: str) -> str:
        return _auth("sqs", "SendMessage", QueueUrl=url, MessageBody="m")[0].resource

    assert queue(f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/JOBX/") == f"arn:aws:sqs:{REGION}:{ACCOUNT}:JOBX"
    assert queue("JOBS") == f"arn:aws:sqs:{REGION}:{ACCOUNT}:JOBS"


# ---- more shapes: each one a way the emulator could read a request wrong ----


def test_run_instances_asks_create_tags_per_tag_specification_with_its_own_tags() -> None:
    got = _auth(
        "ec2",
        "RunInstances",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "a"}]},
            {"ResourceType": "volume", "Tags": [{"Key": "backup", "Value": "daily"}]},
            {"Tags": [{"Key": "untyped", "Value": "1"}]},
        ],
    )
    side = [(r.resource, r.context) for r in got if r.why == "tag-on-create"]
    run = {"ec2:CreateAction": "RunInstances"}
    first = got[0].resource  # the first resource RunInstances is authorized on
    assert side == [
        (f"{first.rsplit(':', 1)[0]}:instance/*", {**BASE, "aws:RequestTag/team": "a", "aws:TagKeys": ["team"], **run}),
        (
            f"{first.rsplit(':', 1)[0]}:volume/*",
            {**BASE, "aws:RequestTag/backup": "daily", "aws:TagKeys": ["backup"], **run},
        ),
        (first, {**BASE, "aws:RequestTag/untyped": "1", "aws:TagKeys": ["untyped"], **run}),
    ]


def test_an_organizations_create_tags_the_entity_it_makes_not_its_parent() -> None:
    got = _auth(
        "organizations", "CreateOrganizationalUnit", ParentId="ou-parent", Name="ou", Tags=[{"Key": "k", "Value": "v"}]
    )
    assert [(r.action, r.resource) for r in got if r.why == "tag-on-create"] == [
        ("organizations:TagResource", f"arn:aws:organizations::{ACCOUNT}:ou/{ORG}/ou-*")
    ]

    # AND when the lookups cannot name the organization, the tags are asked on what the call is asked on
    class Unknown(FakeLookups):
        def org_entity_arn(self, account: str, entity_id: str) -> str | None:
            return None

    unknown = _auth_with(
        Unknown(), "organizations", "CreateAccount", Email="a@x", AccountName="a", Tags=[{"Key": "k", "Value": "v"}]
    )
    assert [(r.action, r.resource) for r in unknown] == [
        ("organizations:CreateAccount", "*"),
        ("organizations:TagResource", "*"),
    ]
    # AND a create of another kind (a policy) with tags asks TagResource on what the call names, nothing made up
    policy = _auth(
        "organizations",
        "CreatePolicy",
        Name="n",
        Type="TAG_POLICY",
        Content="{}",
        Description="",
        Tags=[{"Key": "k", "Value": "v"}],
    )
    assert [(r.action, r.resource) for r in policy] == [
        ("organizations:CreatePolicy", "*"),
        ("organizations:TagResource", "*"),
    ]


def test_s3_asks_a_tagging_action_only_for_object_writes_and_bucket_creates() -> None:
    side = [r for r in _auth("s3", "PutBucketVersioning", Bucket="b", Tagging="team=a") if r.why == "tag-on-create"]
    assert side == []


def test_sse_kms_reads_the_encryption_header_and_nested_aliases() -> None:
    lookups = FakeLookups(bucket_key=KEY)
    headers = {"x-amz-server-side-encryption": "AES256"}
    call = _call("s3", "PutObject", headers=headers, Bucket="b", Key="k")
    assert [r.why for r in authz.authorization_requests(call, ACCOUNT, lookups)] == ["call"]
    # AND an alias whose name holds "alias/" again is looked up whole
    nested = RecordingLookups(bucket_key="alias/alias/state", aliases={"alias/alias/state": "k-1"})
    [side] = [r for r in _auth_with(nested, "s3", "PutObject", Bucket="b", Key="k") if r.why == "sse-kms"]
    assert side.resource == KEY and ("key_id", ACCOUNT, REGION, "alias/alias/state") in nested.asked
    # AND a call of another service that names a bucket asks no key
    assert [r.why for r in _auth_with(lookups, "athena", "StartQueryExecution", Bucket="b", QueryString="q")] == [
        "call"
    ]


def test_service_keys_prefer_the_member_named_after_the_key_and_keep_every_value() -> None:
    # GIVEN a member named after a plural key and one after its singular: the plural member is the key
    got = authz._service_keys(
        _call("sagemaker", "X", InstanceTypes="ml.a", InstanceType="ml.b"), "sagemaker:CreateEndpointConfig"
    )
    assert got["sagemaker:InstanceTypes"] == "ml.a"
    # AND a singular key found twice is both values, sorted, not the first
    twice = authz._service_keys(
        _call("ec2", "X", InstanceType="b", LaunchSpec={"InstanceType": "a"}), "ec2:RunInstances"
    )
    assert twice["ec2:InstanceType"] == ["a", "b"]
    # AND an unknown service has none
    assert authz._service_keys(_call("nosuch", "X", InstanceType="b"), "nosuch:X") == {}


def test_service_keys_after_a_plural_fallback_are_still_read() -> None:
    # sagemaker:InstanceTypes comes from the singular members; the keys after it in the reference are still read
    keys = authz._reference()["sagemaker"]["privileges"]["CreateEndpointConfig"]["resource_types"]
    names = [k for t in keys.values() for k in t["condition_keys"]]
    later = [
        k for k in names[names.index("sagemaker:InstanceTypes") + 1 :] if k.startswith("sagemaker:") and "${" not in k
    ]
    assert later, "the reference lists keys after sagemaker:InstanceTypes"
    member = later[0].split(":", 1)[1]
    got = authz._service_keys(
        _call("sagemaker", "X", ProductionVariants=[{"InstanceType": "ml.a"}], **{member: "v"}),
        "sagemaker:CreateEndpointConfig",
    )
    assert got["sagemaker:InstanceTypes"] == ["ml.a"] and got[later[0]] == "v"


@pytest.mark.parametrize("operation", ["SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"])
def test_task_callbacks_name_the_tokens_machine(operation: str) -> None:
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"
    lookups = RecordingLookups(machine=machine)
    got = _auth_with(lookups, "stepfunctions", operation, "states", taskToken="t-1")
    assert [(r.action, r.resource) for r in got] == [(f"states:{operation}", machine)]
    assert ("task_token_state_machine", "t-1") in lookups.asked
    assert [r.resource for r in _auth_with(FakeLookups(), "stepfunctions", operation, "states", taskToken="t-1")] == [
        "*"
    ]


def test_unknown_services_and_actions_are_asked_on_everything() -> None:
    assert authz.resource_arns(_call("nosuch", "Op"), "nosuch:Op", ACCOUNT, FakeLookups()) == ["*"]
    assert authz.organizations_resources(
        _call("organizations", "Nope"), "organizations:Nope", ACCOUNT, FakeLookups()
    ) == ["*"]


def test_organizations_entities_of_another_kind_than_the_actions_are_not_its_resources() -> None:
    base = f"arn:aws:organizations::{ACCOUNT}"
    # DescribePolicy acts on policies: an OU named in its request is not one of its resources
    assert [r.resource for r in _auth("organizations", "DescribePolicy", PolicyId="ou-x")] == ["*"]
    assert [r.resource for r in _auth("organizations", "DescribeAccount", AccountId="444455556666")] == [
        f"{base}:account/{ORG}/444455556666"
    ]
    # AND a member that is not a string names nothing
    assert [r.resource for r in _auth("organizations", "DescribeAccount", AccountId=["444455556666"])] == ["*"]


def test_pattern_regex_reads_the_partition_literally() -> None:
    regex = authz._pattern_regex("arn:${Partition}:sqs:${Region}:${Account}:${QueueName}")
    assert regex.match("arn:aws:sqs:us-east-1:1:q") and not regex.match("arn:aws-cn:sqs:us-east-1:1:q")


def test_pass_role_finds_roles_in_lists_under_a_role_member() -> None:
    got = _auth("sagemaker", "CreateModel", ModelName="m", ExecutionRoles=[ROLE])
    assert [(r.action, r.resource) for r in got if r.why == "pass-role"] == [("iam:PassRole", ROLE)]


@pytest.mark.parametrize("size", range(1, 9))
def test_web_identity_tokens_of_every_padding_decode(size: int) -> None:
    claims = {"iss": "https://issuer.example", "sub": "s" * size}
    assert authz._jwt_claims(_token(claims)) == claims


def test_a_web_identity_token_without_an_issuer_gives_no_claim_keys() -> None:
    got = _auth("sts", "AssumeRoleWithWebIdentity", RoleArn=ROLE, WebIdentityToken=_token({"sub": "s", "aud": "a"}))
    assert got == [_request("sts:AssumeRoleWithWebIdentity", ROLE, kind="trust")]


def test_names_that_are_not_plain_names_fill_nothing() -> None:
    # An ARN of another service in a name member is no name (the pattern's variable stays *)
    assert [r.resource for r in _auth("lambda", "GetFunction", FunctionName="arn:aws:sns:us-east-1:1:t")] == [
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:*"
    ]
    # AND a queue URL that is not a string names no queue
    assert [r.resource for r in _auth("sqs", "SendMessage", QueueUrl=["x"], MessageBody="m")] == [
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:*"
    ]
    # AND ELB's ResourceArns keep only ARNs
    got = _auth("elasticloadbalancing", "AddTags", ResourceArns=["not-an-arn"], Tags=[{"Key": "k", "Value": "v"}])
    assert "not-an-arn" not in [r.resource for r in got]


def test_a_role_path_is_joined_whatever_its_first_letter() -> None:
    got = _auth_with(FakeLookups(role_path="/Xteam/"), "iam", "GetRole", RoleName="app")
    assert [r.resource for r in got] == [f"arn:aws:iam::{ACCOUNT}:role/Xteam/app"]


def test_a_kms_call_on_a_key_that_does_not_exist_is_not_authorized() -> None:
    # KMS resolves the key first: an alias (or a target given as an alias) that names no key is NotFoundException
    assert _auth("kms", "CreateAlias", AliasName="alias/new", TargetKeyId="alias/none") == []
    assert _auth("kms", "DescribeKey", KeyId="alias/none") == []


def test_tags_and_boundaries_are_read_from_the_resource_asked_on() -> None:
    lookups = RecordingLookups(tags={"team": "a"}, boundary=BOUNDARY)
    _auth_with(lookups, "iam", "PutRolePolicy", RoleName="app", PolicyName="p", PolicyDocument="{}")
    assert {("resource_tags", ROLE), ("permissions_boundary", ROLE)} <= set(lookups.asked)


def test_a_callback_without_a_token_asks_about_the_empty_token() -> None:
    lookups = RecordingLookups()
    assert [r.resource for r in _auth_with(lookups, "stepfunctions", "SendTaskSuccess", "states")] == ["*"]
    assert ("task_token_state_machine", "") in lookups.asked


def test_where_every_type_is_optional_the_most_complete_name_is_chosen() -> None:
    # EKS ListTagsForResource acts on any EKS resource; a request that names none is asked on the one whose ARN has
    # the fewest unknown parts (a cluster), not on "*" (the reference lists no resource-less form of it)
    assert [r.resource for r in _auth("eks", "ListTagsForResource")] == [f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/*"]


def test_an_execution_named_both_standard_and_express_is_asked_on_everything() -> None:
    standard = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:run"
    express = f"arn:aws:states:{REGION}:{ACCOUNT}:express:m:run:abc"
    got = _auth("stepfunctions", "DescribeExecution", "states", executionArn=standard, other=express)
    assert [r.resource for r in got] == ["*"]


def test_service_keys_are_only_the_services_own() -> None:
    got = authz._service_keys(_call("ec2", "CreateTags", TagKeys="x", RequestedRegion="eu-west-1"), "ec2:CreateTags")
    assert not any(key.startswith("aws:") for key in got)


def test_only_s3_writes_ask_for_a_data_key() -> None:
    lookups = FakeLookups(bucket_key=KEY)
    got = _auth_with(lookups, "mediastore-data", "PutObject", Bucket="b", Key="k", Path="p")
    assert [r.why for r in got] == ["call"]
    # AND a bucket member that is not a string asks nothing
    assert [r.why for r in _auth_with(lookups, "s3", "PutObject", Bucket=["b"], Key="k")][1:] == []


def test_malformed_members_name_nothing() -> None:
    spec = {"ResourceType": 5, "Tags": [{"Key": "team", "Value": "a"}]}
    got = _auth("ec2", "CreateVpc", CidrBlock="10.0.0.0/16", TagSpecifications=[spec])
    assert [r.resource for r in got] == [f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/*"] * 2
    assert [r.resource for r in _auth("kms", "DeleteAlias", AliasName=5)] == [
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/*",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*",
    ]
    assert [r.resource for r in _auth("eks", "DescribeAccessEntry", clusterName="c", principalArn=5)] == [
        f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/c/*/*/*/*"
    ]


@pytest.mark.parametrize(
    ("key_id", "expected"),
    [
        (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/state", [KEY]),
        ("alias/state", [KEY]),
        (f"arn:aws:kms:{REGION}:444455556666:alias/state", []),  # an alias never names another account's key
        ("alias/none", []),  # KMS answers NotFoundException before it authorizes
        (KEY, [KEY]),
    ],
)
def test_a_key_named_by_alias_is_the_key_it_points_to(key_id: str, expected: list[str]) -> None:
    got = _auth_with(FakeLookups(aliases={"alias/state": "k-1"}), "kms", "Encrypt", KeyId=key_id, Plaintext="x")
    assert [r.resource for r in got] == expected
    # AND the alias the request used is kms:RequestAlias
    aliased = "alias/" in key_id
    assert all(r.context.get("kms:RequestAlias") == ("alias/state" if aliased else None) for r in got)


def test_key_ids_and_aliases_are_resolved_in_the_callers_account_and_region() -> None:
    # GIVEN an alias whose name holds "alias/" again, and a key id the lookups resolve to the key's own id
    lookups = RecordingLookups(aliases={"alias/alias/x": "k-1", "1234": "k-1"})
    got = _auth_with(lookups, "kms", "Encrypt", KeyId="alias/alias/x", Plaintext="p")
    assert [(r.resource, r.context["kms:RequestAlias"]) for r in got] == [(KEY, "alias/alias/x")]
    assert ("key_id", ACCOUNT, REGION, "alias/alias/x") in lookups.asked
    assert [r.resource for r in _auth_with(lookups, "kms", "Encrypt", KeyId="1234", Plaintext="p")] == [KEY]


def test_tag_specifications_of_another_service_are_its_own_tags() -> None:
    got = _auth(
        "sns",
        "CreateTopic",
        Name="t",
        TagSpecifications=[{"ResourceType": "topic", "Tags": [{"Key": "k", "Value": "v"}]}],
    )
    side = [r for r in got if r.why == "tag-on-create"]
    assert [(r.action, r.resource) for r in side] == [("sns:TagResource", f"arn:aws:sns:{REGION}:{ACCOUNT}:t")]
    assert "ec2:CreateAction" not in side[0].context


def test_an_untyped_tag_specification_is_asked_on_the_calls_first_resource_with_its_tags() -> None:
    # GIVEN a create whose first resource is named by ARN (CreateSnapshots of an instance) and a specification
    # without a ResourceType: the tags are asked on that resource, whose own tags are read from the state
    instance = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-1"
    lookups = RecordingLookups(tags={"team": "a"})
    got = _auth_with(
        lookups, "ec2", "CreateSnapshots", X=instance, TagSpecifications=[{"Tags": [{"Key": "k", "Value": "v"}]}]
    )
    [side] = [r for r in got if r.why == "tag-on-create"]
    assert (side.resource, side.context["aws:ResourceTag/team"]) == (instance, "a")
    assert ("resource_tags", instance) in lookups.asked


class _Listing:
    """A backend whose listing meets a concurrent create `races` times (or another fault), then answers."""

    def __init__(self, races: int, error: str = "dictionary changed size during iteration") -> None:
        self.races, self.error, self.calls = races, error, 0

    def iter_tagged_resources(self) -> Any:
        self.calls += 1
        if self.calls <= self.races:
            yield "half"
            raise RuntimeError(self.error)
        yield from ("a", "b")


def test_tagged_resources_read_again_when_another_thread_changes_the_backend() -> None:
    from landing_zone.local.authorization.state import tagged_resources

    # GIVEN a listing that twice meets a create in another request thread WHEN read THEN the settled, whole list
    racing = _Listing(races=2)
    assert tagged_resources(racing) == ["a", "b"] and racing.calls == 3
    # AND (negative control) a listing that never settles still raises after the attempts, and any other
    # RuntimeError is not swallowed
    with pytest.raises(RuntimeError, match="changed size"):
        tagged_resources(_Listing(races=5), attempts=5)
    other = _Listing(races=1, error="generator raised StopIteration")
    with pytest.raises(RuntimeError, match="StopIteration"):
        tagged_resources(other)
    assert other.calls == 1
