"""OpenSearch Serverless as the bedrock-knowledge-base module uses it. moto 5.2 has collections and encryption and
network policies, but no data access policies and no DeleteSecurityPolicy, and its CreateCollection takes the first
policy of any type naming the collection and fails on an AWS-owned key. This patch adds what is missing and creates
collections as AWS does (https://docs.aws.amazon.com/opensearch-service/latest/ServerlessAPIReference/): the matching
encryption policy (exact name or a `prefix*` pattern) decides the key, "auto" being the AWS-owned one. The state lives
on moto's backend, so a moto reset clears it."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
import secrets
import string
import time
from collections.abc import Callable, Iterator
from typing import Any

from landing_zone.local.patching import added, replaced

_POLICY_NAME = re.compile(r"^[a-z][a-z0-9-]{2,31}$")
_DATA_PERMISSIONS = {
    "collection": {
        "aoss:CreateCollectionItems",
        "aoss:DeleteCollectionItems",
        "aoss:UpdateCollectionItems",
        "aoss:DescribeCollectionItems",
        "aoss:*",
    },
    "index": {
        "aoss:ReadDocument",
        "aoss:WriteDocument",
        "aoss:CreateIndex",
        "aoss:DeleteIndex",
        "aoss:UpdateIndex",
        "aoss:DescribeIndex",
        "aoss:*",
    },
    "model": {"aoss:CreateMLResource", "aoss:DeleteMLResource", "aoss:UpdateMLResource", "aoss:DescribeMLResource"},
}


def _errors() -> Any:
    from moto.opensearchserverless import exceptions

    return exceptions


def _ms() -> int:
    return int(time.time() * 1000)


def _version() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))


def encryption_key(policies: list[Any], collection: str) -> str | None:
    """The KMS key ARN ("auto": AWS-owned) of the encryption policy that covers `collection`; None: no policy does."""
    for policy in policies:
        if policy.type != "encryption":
            continue
        for rule in policy.policy.get("Rules") or []:
            if rule.get("ResourceType") != "collection":
                continue
            if any(fnmatch.fnmatchcase(f"collection/{collection}", r) for r in rule.get("Resource") or []):
                return "auto" if policy.policy.get("AWSOwnedKey") else str(policy.policy.get("KmsARN"))
    return None


def _create_collection(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_collection(
        self: Any,
        client_token: str,
        description: str,
        name: str,
        standby_replicas: str,
        tags: list[dict[str, str]],
        type: str,
    ) -> Any:
        from moto.opensearchserverless.models import Collection

        errors = _errors()
        if any(c.name == name for c in self.collections.values()):
            raise errors.ConflictException(msg=f"A collection with name {name} already exists.")
        key = encryption_key(list(self.security_policies.values()), name)
        if key is None:
            raise errors.ValidationException(
                msg=f"No matching security policy of encryption type found for collection name: {name}. Please "
                "create security policy of encryption type for this collection."
            )
        collection = Collection(
            client_token=client_token or secrets.token_hex(8),
            description=description,
            name=name,
            standby_replicas=standby_replicas or "ENABLED",
            tags=tags,
            type=type or "SEARCH",
            policy={"KmsARN": key},
            region=self.region_name,
            account_id=self.account_id,
        )
        self.collections[collection.id] = collection
        if tags:
            self.tag_resource(collection.arn, tags)
        return collection

    return create_collection


def _check_data_policy(name: str, policy_text: str) -> None:
    invalid = _errors().ValidationException
    if not _POLICY_NAME.match(name or ""):
        raise invalid(msg=f"Policy name {name} must be 3-32 lowercase letters, digits and hyphens, from a letter")
    try:
        policy = json.loads(policy_text)
    except (TypeError, ValueError) as e:
        raise invalid(msg="Policy json is invalid") from e
    if not isinstance(policy, list) or not policy:
        raise invalid(msg="Policy json is invalid, error: the policy must be a non-empty list of rules")
    for statement in policy:
        if not isinstance(statement, dict) or not statement.get("Rules") or not statement.get("Principal"):
            raise invalid(msg="Policy json is invalid, error: each statement needs Rules and Principal")
        for rule in statement["Rules"]:
            kind = rule.get("ResourceType")
            allowed = _DATA_PERMISSIONS.get(kind)
            if allowed is None or not rule.get("Resource") or not rule.get("Permission"):
                raise invalid(msg=f"Policy json is invalid, error: bad rule {json.dumps(rule)}")
            wrong = [p for p in rule["Permission"] if p not in allowed and p != "aoss:*"]
            if wrong:
                raise invalid(msg=f"Policy json is invalid, error: {', '.join(wrong)} not valid for {kind}")


def _access_policies(backend: Any) -> dict[tuple[str, str], dict[str, Any]]:
    if not hasattr(backend, "vend_access_policies"):
        backend.vend_access_policies = {}
    return backend.vend_access_policies  # type: ignore[no-any-return]


def _params(response: Any) -> dict[str, Any]:
    return dict(json.loads(response.body or "{}"))


def _detail(policy: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in policy.items() if v not in (None, "")}


def create_access_policy(self: Any) -> str:
    p = _params(self)
    if p.get("type") != "data":
        raise _errors().ValidationException(
            msg=f"1 validation error detected: Value '{p.get('type')}' at 'type' failed to satisfy constraint: "
            "Member must satisfy enum value set: [data]"
        )
    _check_data_policy(str(p.get("name")), str(p.get("policy")))
    policies = _access_policies(self.opensearchserverless_backend)
    key = (p["type"], p["name"])
    if key in policies:
        raise _errors().ConflictException(msg=f"Policy with name {p['name']} and type data already exists")
    now = _ms()
    policies[key] = {
        "type": p["type"],
        "name": p["name"],
        "policyVersion": _version(),
        "description": p.get("description"),
        "policy": json.loads(p["policy"]),
        "createdDate": now,
        "lastModifiedDate": now,
    }
    return json.dumps({"accessPolicyDetail": _detail(policies[key])})


def _access_policy(self: Any, p: dict[str, Any]) -> dict[str, Any]:
    found = _access_policies(self.opensearchserverless_backend).get((str(p.get("type")), str(p.get("name"))))
    if found is None:
        raise _errors().ResourceNotFoundException(
            msg=f"Policy with name {p.get('name')} and type {p.get('type')} is not found"
        )
    return found


def get_access_policy(self: Any) -> str:
    return json.dumps({"accessPolicyDetail": _detail(_access_policy(self, _params(self)))})


def update_access_policy(self: Any) -> str:
    p = _params(self)
    policy = _access_policy(self, p)
    if p.get("policyVersion") != policy["policyVersion"]:
        raise _errors().ValidationException(
            msg="Policy version specified in the request refers to an older version and policy has since changed"
        )
    if p.get("policy") is not None:
        _check_data_policy(policy["name"], str(p["policy"]))
        if json.loads(p["policy"]) != policy["policy"]:
            policy["policy"] = json.loads(p["policy"])
            policy["policyVersion"] = _version()
            policy["lastModifiedDate"] = _ms()
    if "description" in p:
        policy["description"] = p["description"]
    return json.dumps({"accessPolicyDetail": _detail(policy)})


def delete_access_policy(self: Any) -> str:
    p = _params(self)
    policy = _access_policy(self, p)
    del _access_policies(self.opensearchserverless_backend)[(policy["type"], policy["name"])]
    return "{}"


def list_access_policies(self: Any) -> str:
    p = _params(self)
    resources = p.get("resource") or []
    summaries = []
    for policy in _access_policies(self.opensearchserverless_backend).values():
        if policy["type"] != p.get("type"):
            continue
        named = {r for statement in policy["policy"] for rule in statement["Rules"] for r in rule["Resource"]}
        if resources and not any(fnmatch.fnmatchcase(r, n) for r in resources for n in named):
            continue
        summaries.append(_detail({k: v for k, v in policy.items() if k != "policy"}))
    return json.dumps({"accessPolicySummaries": summaries})


def delete_security_policy(self: Any) -> str:
    p = _params(self)
    backend = self.opensearchserverless_backend
    for token, policy in list(backend.security_policies.items()):
        if (policy.name, policy.type) == (p.get("name"), p.get("type")):
            del backend.security_policies[token]
            return "{}"
    raise _errors().ResourceNotFoundException(
        msg=f"Policy with name {p.get('name')} and type {p.get('type')} is not found"
    )


OPERATIONS: dict[str, Any] = {
    f.__name__: f
    for f in (
        create_access_policy,
        get_access_policy,
        update_access_policy,
        delete_access_policy,
        list_access_policies,
        delete_security_policy,
    )
}


@contextlib.contextmanager
def aoss_completed() -> Iterator[None]:
    """moto's OpenSearch Serverless with data access policies, policy deletion and AWS's collection creation."""
    from moto.opensearchserverless.models import OpenSearchServiceServerlessBackend
    from moto.opensearchserverless.responses import OpenSearchServiceServerlessResponse

    params = ("self", "client_token", "description", "name", "standby_replicas", "tags", "type")
    with contextlib.ExitStack() as stack:
        stack.enter_context(added(OpenSearchServiceServerlessResponse, OPERATIONS))
        stack.enter_context(
            replaced(OpenSearchServiceServerlessBackend, "create_collection", params, _create_collection)
        )
        yield
