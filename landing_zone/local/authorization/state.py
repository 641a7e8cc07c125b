"""What the emulator's state says about a caller and a resource: the principal behind an access key, its identity
policies, boundary and session policy, the SCPs and RCPs on its account's path, and each resource's own policy.

Read from moto's backends at the moment of each call (never cached: an SCP detached a second ago no longer
applies). Only the emulator imports this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from landing_zone.local.authorization.requests import IAM_PRINCIPAL

PARTITION = "aws"


def _backend(name: str) -> Any:
    from moto.backends import get_backend

    return get_backend(name)  # type: ignore[call-overload]


def _doc(text: Any) -> dict[str, Any] | None:
    if text is None or text == "":
        return None
    if isinstance(text, bytes):
        text = text.decode()
    if isinstance(text, dict):
        return text
    from urllib.parse import unquote

    try:
        return dict(json.loads(text))
    except ValueError:
        return dict(json.loads(unquote(text)))


@dataclass(frozen=True)
class Caller:
    """The principal a request is signed by, with everything that bounds it."""

    account: str
    arn: str  # role or user ARN (aws:PrincipalArn)
    session_arn: str | None
    kind: str  # "AssumedRole" | "User"
    identity: tuple[dict[str, Any], ...]
    boundary: dict[str, Any] | None
    session: tuple[dict[str, Any], ...] | None
    tags: dict[str, str] = field(default_factory=dict)
    user_id: str = ""
    service_linked: bool = False

    @property
    def name(self) -> str:
        return (self.session_arn or self.arn).split("/", 1)[-1]


def _iam_tags(tags: Any) -> dict[str, str]:
    """moto keeps IAM tags as {"Key": ..., "Value": ...} items: in a list on roles, by lower-cased key elsewhere."""
    items = tags.values() if isinstance(tags, dict) else (tags or [])
    return {str(t["Key"]): str(t["Value"]) for t in items}


def _managed_document(iam: Any, arn: str) -> dict[str, Any] | None:
    try:
        policy = iam.get_policy(arn)
    except Exception:
        return {"Version": "2012-10-17", "Statement": []}
    version = next((v for v in policy.versions if v.is_default), None)
    return _doc(version.document if version else None)


def _role_policies(iam: Any, role: Any) -> tuple[dict[str, Any], ...]:
    docs = [_doc(text) for text in role.policies.values()]
    docs += [_managed_document(iam, arn) for arn in role.managed_policies]
    return tuple(d for d in docs if d)


def role_documents(role_arn: str) -> tuple[tuple[dict[str, Any], ...], dict[str, Any] | None] | None:
    """A role's identity policies (inline and attached) and its permissions boundary, as they are now; None when the
    role does not exist (any more)."""
    account = role_arn.split(":")[4]
    iam = _backend("iam")[account][PARTITION]
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:
        return None
    boundary = _managed_document(iam, role.permissions_boundary_arn) if role.permissions_boundary_arn else None
    return _role_policies(iam, role), boundary


def caller(access_key: str, token: str | None) -> Caller | None:
    """The principal behind `access_key`; None when the emulator does not know the key."""
    from moto.iam.models import get_account_id_from

    account = get_account_id_from(access_key)
    iam = _backend("iam")[account][PARTITION]
    if token:
        sts = _backend("sts")[account][PARTITION]
        assumed = next((r for r in list(sts.assumed_roles) if r.access_key_id == access_key), None)
        if assumed is None or assumed.session_token != token:
            return None
        try:
            role = iam.get_role_by_arn(assumed.role_arn)
        except Exception:
            return None
        session_policy = _doc(assumed.policy) if assumed.policy else None
        return Caller(
            account=account,
            arn=role.arn,
            session_arn=f"arn:aws:sts::{account}:assumed-role/{role.name}/{assumed.session_name}",
            kind="AssumedRole",
            identity=_role_policies(iam, role),
            boundary=_managed_document(iam, role.permissions_boundary_arn) if role.permissions_boundary_arn else None,
            session=(session_policy,) if session_policy else None,
            tags=_iam_tags(role.tags),
            user_id=f"{role.id}:{assumed.session_name}",
            service_linked=role.path.startswith("/aws-service-role/"),
        )
    key = iam.access_keys.get(access_key)
    if key is None:
        return None
    user = iam.get_user(key.user_name)
    docs = [_doc(text) for text in user.policies.values()]
    docs += [_managed_document(iam, arn) for arn in user.managed_policies]
    for group in iam.get_groups_for_user(user.name):
        docs += [_doc(text) for text in group.policies.values()]
        docs += [_managed_document(iam, arn) for arn in group.managed_policies]
    boundary = getattr(user, "permissions_boundary_arn", None) or None
    return Caller(
        account=account,
        arn=user.arn,
        session_arn=None,
        kind="User",
        identity=tuple(d for d in docs if d),
        boundary=_managed_document(iam, boundary) if boundary else None,
        session=None,
        user_id=user.id,
    )


def organization_of(account: str) -> tuple[Any, Any] | None:
    """(the Organizations backend, the FakeAccount) for a member of an emulated organization."""
    for backends in list(_backend("organizations").values()):
        backend = backends.get(PARTITION) if hasattr(backends, "get") else None
        if backend is None or backend.org is None:
            continue
        found = next((a for a in backend.accounts if a.id == account), None)
        if found is not None:
            return backend, found
    return None


def _levels(account: str, policy_type: str) -> list[list[dict[str, Any]]] | None:
    """The policies of `policy_type` on the account's path root -> OUs -> account; None: not governed."""
    found = organization_of(account)
    if found is None:
        return None
    backend, member = found
    if member.id == backend.org.master_account_id:
        return None  # SCPs and RCPs never apply to the management account
    root = next(ou for ou in backend.ou if ou.id == backend.org.root_id)
    enabled = any(t["Type"] == policy_type and t["Status"] == "ENABLED" for t in getattr(root, "policy_types", []))
    if not enabled:
        return None
    path = [member]
    parent = member.parent_id
    while parent:
        ou = next((o for o in backend.ou if o.id == parent), None)
        if ou is None:
            break
        path.append(ou)
        parent = ou.parent_id if not ou.id.startswith("r-") else None
    levels = []
    for holder in reversed(path):
        docs = [_doc(p.content) for p in holder.attached_policies if p.type == policy_type]
        levels.append([d for d in docs if d])
    return levels


def scps(account: str) -> list[list[dict[str, Any]]] | None:
    return _levels(account, "SERVICE_CONTROL_POLICY")


def rcps(account: str) -> list[list[dict[str, Any]]] | None:
    return _levels(account, "RESOURCE_CONTROL_POLICY")


def organization_id(account: str) -> str | None:
    found = organization_of(account)
    return str(found[0].org.id) if found else None


class MotoLookups:
    """`requests.Lookups` over moto's backends."""

    def organization_id(self, account: str) -> str | None:
        return organization_id(account)

    def org_entity_arn(self, account: str, entity_id: str) -> str | None:
        """The ARN of an account, OU, root or policy of the caller's organization, by its id."""
        found = organization_of(account)
        if found is None:
            return None
        backend = found[0]
        org, mgmt = backend.org.id, backend.org.master_account_id
        base = f"arn:aws:organizations::{mgmt}"
        if entity_id.isdigit():
            return f"{base}:account/{org}/{entity_id}"
        if entity_id.startswith("ou-"):
            return f"{base}:ou/{org}/{entity_id}"
        if entity_id.startswith("r-"):
            return f"{base}:root/{org}/{entity_id}"
        if entity_id.startswith("p-"):
            policy = next((p for p in backend.policies if p.id == entity_id), None)
            if policy is None:
                return None
            kind = str(policy.type).lower()
            if policy.aws_managed:
                return f"arn:aws:organizations::aws:policy/{kind}/{entity_id}"
            return f"{base}:policy/{org}/{kind}/{entity_id}"
        return None

    def role_path(self, account: str, role_name: str) -> str | None:
        try:
            return str(_backend("iam")[account][PARTITION].get_role(role_name).path)
        except Exception:
            return None

    def key_id(self, account: str, region: str, key: str) -> str | None:
        try:
            backend = _backend("kms")[account][region]
            if key.startswith("arn:") and ":key/" in key:
                return key.rsplit("/", 1)[-1]
            if "alias/" in key:
                return backend.get_key_id_from_alias("alias/" + key.split("alias/", 1)[1])
            return str(backend.get_key_id(key))
        except Exception:
            return None

    def bucket_account(self, bucket: str) -> str | None:
        from moto.s3.models import s3_backends

        found = s3_backends.bucket_accounts.get(bucket)
        return found[1] if found else None

    def _bucket(self, bucket: str) -> Any:
        account = self.bucket_account(bucket)
        if account is None:
            return None
        from moto.s3.models import s3_backends

        return s3_backends[account][PARTITION].buckets.get(bucket)

    def bucket_kms_key(self, bucket: str) -> str | None:
        found = self._bucket(bucket)
        rules = ((found.encryption or {}).get("Rule") if found is not None else None) or []
        for rule in rules if isinstance(rules, list) else [rules]:
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return str(default.get("KMSMasterKeyID") or "alias/aws/s3")
        return None

    def object_kms_key(self, bucket: str, key: str) -> str | None:
        found = self._bucket(bucket)
        if found is None:
            return None
        obj = found.keys.get(key)
        if getattr(obj, "encryption", None) != "aws:kms":  # missing, a delete marker, or not SSE-KMS
            return None
        return str(obj.kms_key_id) if obj.kms_key_id else None

    def object_exists(self, bucket: str, key: str) -> bool:
        found = self._bucket(bucket)
        return found is not None and found.keys.get(key) is not None

    def task_token_state_machine(self, token: str) -> str | None:
        """The state machine whose running execution issued `token` (the interpreter's backend holds them)."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        for regions in list(stepfunctions_parser_backends.values()):
            for backend in list(regions.values()):
                for machine in list(backend.state_machines):
                    for execution in list(getattr(machine, "executions", [])):
                        worker = getattr(execution, "exec_worker", None)
                        pool = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
                        if pool is not None and pool.get(token) is not None:
                            return str(machine.arn)
        return None

    def permissions_boundary(self, arn: str) -> str | None:
        """The boundary policy ARN a role or user (named by its ARN) carries now."""
        found = IAM_PRINCIPAL.match(arn)
        if not found:
            return None
        account, kind, name = found.groups()
        try:
            iam = _backend("iam")[account][PARTITION]
            entity = iam.get_role(name) if kind == "role" else iam.get_user(name)
        except Exception:
            return None
        return getattr(entity, "permissions_boundary_arn", None) or None

    def resource_tags(self, arn: str) -> dict[str, str] | None:
        parts = arn.split(":", 5)
        if len(parts) < 6:
            return None
        service, account, resource = parts[2], parts[4], parts[5]
        if service == "iam" and resource.startswith("role/"):
            try:
                role = _backend("iam")[account][PARTITION].get_role(resource.rsplit("/", 1)[-1])
            except Exception:
                return None
            return _iam_tags(role.tags)
        if service == "organizations" and resource.startswith("account/"):
            found = organization_of(resource.rsplit("/", 1)[-1])
            return dict(found[1].tags) if found else None
        return _service_resource_tags(arn, service, parts[3], account, resource)


# S3 puts a bucket's tags in aws:ResourceTag only once ABAC is turned on for it (off by default), so its tags are
# never read here; IAM and Organizations are read above.
_NO_RESOURCE_TAG_KEY = frozenset({"s3", "iam", "organizations"})


def _service_resource_tags(arn: str, service: str, region: str, account: str, resource: str) -> dict[str, str] | None:
    """The tags of any resource a moto backend lists for the Resource Groups Tagging API (TaggableResourcesMixin):
    AWS puts them in the request context as aws:ResourceTag/<key> for the services that support the key."""
    if service in _NO_RESOURCE_TAG_KEY or not account:
        return None
    from moto.core.base_backend import BackendDict
    from moto.core.resource_tagging import TaggableResourcesMixin

    # Only backends already made for this account and region are read: reading must not create one (a new EC2
    # region backend makes a default VPC).
    for backends in list(BackendDict._instances):  # type: ignore[misc]
        kind = backends.backend
        if not (isinstance(kind, type) and issubclass(kind, TaggableResourcesMixin) and account in backends):
            continue
        if service != kind.SERVICE_NAMESPACE:
            continue
        backend = backends[account].get(region or PARTITION)
        if backend is None:
            continue
        if service == "ec2":  # EC2 keeps every resource's tags by id (and would list every public AMI otherwise)
            tags = backend.tags.get(resource.rsplit("/", 1)[-1])
            return dict(tags) if tags is not None else None
        for tagged in tagged_resources(backend):
            if tagged.arn == arn:
                return dict(tagged.tags)
    return None


def tagged_resources(backend: Any, attempts: int = 50) -> list[Any]:
    """The backend's tagged resources, listed while other request threads may be creating some: moto iterates its
    dicts live, so a create in another thread raises "dictionary changed size during iteration" mid-listing (seen
    once in CI: a log group created while a call's aws:ResourceTag keys were read). Read again; it settles."""
    for _ in range(attempts - 1):
        try:
            return list(backend.iter_tagged_resources())
        except RuntimeError as e:
            if "changed size during iteration" not in str(e):
                raise
    return list(backend.iter_tagged_resources())


def resource_policy(arn: str, action: str, region: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the resource's own policy, the account that owns it) for the kinds of resource that have one."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or "*" in arn:
        return None, None
    service, arn_region, account, resource = parts[2], parts[3] or region, parts[4], parts[5]
    if account == "aws":  # AWS-managed (FullAWSAccess, managed IAM policies): no resource policy, no owner account
        return None, None
    try:
        if service == "s3":
            bucket_name = resource.split("/", 1)[0]
            lookups = MotoLookups()
            owner = lookups.bucket_account(bucket_name)
            bucket = lookups._bucket(bucket_name)
            return (_doc(bucket.policy) if bucket is not None else None), owner
        if service == "kms" and resource.startswith("key/"):
            key = _backend("kms")[account][arn_region].keys.get(resource.split("/", 1)[1])
            return (_doc(key.policy) if key is not None else None), account
        if service == "sns":
            topic = _backend("sns")[account][arn_region].topics.get(arn)
            return (_doc(topic.policy) if topic is not None else None), account
        if service == "sqs":
            queue = _backend("sqs")[account][arn_region].queues.get(resource)
            return (_doc(getattr(queue, "policy", None)) if queue is not None else None), account
        if service == "events" and resource.startswith("event-bus/"):
            bus = _backend("events")[account][arn_region].event_buses.get(resource.split("/", 1)[1])
            return (_doc(bus.policy) if bus is not None else None), account
        if service == "iam" and resource.startswith("role/") and action.startswith("sts:"):
            role = _backend("iam")[account][PARTITION].get_role(resource.rsplit("/", 1)[-1])
            return _doc(role.assume_role_policy_document), account
    except Exception:
        return None, account
    return None, account or None
