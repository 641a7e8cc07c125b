"""Bedrock guardrails and their versions, which moto 5.2 does not have, added to moto's Bedrock following the API
reference (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateGuardrail.html) and botocore's model:
a guardrail is a DRAFT that CreateGuardrailVersion snapshots as version 1, 2, ...; GetGuardrail reads the draft or a
version; DeleteGuardrail with a version deletes that version, without one the guardrail and all its versions.
The state lives on moto's Bedrock backend, so a moto reset clears it."""

from __future__ import annotations

import contextlib
import copy
import re
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from landing_zone.local.patching import added, replaced

# The request's *Config members and the names GetGuardrail gives them (topicPolicyConfig -> topicPolicy, and inside
# filtersConfig -> filters, tierConfig -> tier...); the items themselves keep their members.
POLICIES = (
    "topicPolicyConfig",
    "contentPolicyConfig",
    "wordPolicyConfig",
    "sensitiveInformationPolicyConfig",
    "contextualGroundingPolicyConfig",
    "automatedReasoningPolicyConfig",
)
_NAME = re.compile(r"^[0-9a-zA-Z-_]{1,50}$")


@dataclass
class Guardrail:
    guardrail_id: str
    arn: str
    draft: dict[str, Any]
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_version: int = 1


def _errors() -> Any:
    from moto.bedrock import exceptions

    return exceptions


def _now() -> datetime:
    return datetime.now(UTC)


def as_read(params: dict[str, Any]) -> dict[str, Any]:
    """The policies of a Create/UpdateGuardrail request as GetGuardrail returns them."""
    out: dict[str, Any] = {}
    for name in POLICIES:
        config = params.get(name)
        if config:
            out[name.removesuffix("Config")] = {k.removesuffix("Config"): copy.deepcopy(v) for k, v in config.items()}
    return out


def _validate(params: dict[str, Any]) -> None:
    """What AWS refuses up front (ValidationException), checked before anything is stored."""
    invalid = _errors().ValidationException
    name = params.get("name")
    if name is not None and not _NAME.match(str(name)):
        raise invalid(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint")
    for member in ("blockedInputMessaging", "blockedOutputsMessaging"):
        if not params.get(member):
            raise invalid(f"1 validation error detected: Value null at '{member}' failed to satisfy constraint")
    if not any(params.get(p) for p in POLICIES):
        raise invalid("At least one policy must be configured for the guardrail")
    for flt in (params.get("contentPolicyConfig") or {}).get("filtersConfig") or []:
        if flt.get("type") == "PROMPT_ATTACK" and flt.get("outputStrength", "NONE") != "NONE":
            raise invalid("PROMPT_ATTACK content filter strength for response must be NONE")


def _guardrails(backend: Any) -> dict[str, Guardrail]:
    if not hasattr(backend, "vend_guardrails"):
        backend.vend_guardrails = {}
    return backend.vend_guardrails  # type: ignore[no-any-return]


def _kms_arn(response: Any, key: str | None) -> str | None:
    if not key:
        return None
    if key.startswith("arn:"):
        return key
    return f"arn:aws:kms:{response.region}:{response.current_account}:key/{key}"


def _identifier(response: Any) -> str:
    """The guardrail id of a request: its path names the guardrail by id or by ARN."""
    raw = response.uri_match.get("guardrailIdentifier") if getattr(response, "uri_match", None) else None
    if not raw:
        raw = response.path.split("/guardrails/", 1)[-1]
    raw = unquote(str(raw))
    return raw.rsplit("/", 1)[-1] if raw.startswith("arn:") else raw


def _find(response: Any) -> Guardrail:
    guardrail_id = _identifier(response)
    found = _guardrails(response.bedrock_backend).get(guardrail_id)
    if found is None:
        raise _errors().ResourceNotFoundException(f"Guardrail {guardrail_id} was not found.")
    return found


def _result(payload: dict[str, Any]) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult(payload)


def create_guardrail(self: Any) -> Any:
    params = {k: self._get_param(k) for k in _members("CreateGuardrail")}
    _validate(params)
    backend = self.bedrock_backend
    if any(g.draft["name"] == params["name"] for g in _guardrails(backend).values()):
        raise _errors().ResourceInUseException(f"A guardrail named {params['name']} already exists.")
    guardrail_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))
    arn = f"arn:aws:bedrock:{self.region}:{self.current_account}:guardrail/{guardrail_id}"
    now = _now()
    draft = {
        "name": params["name"],
        "guardrailId": guardrail_id,
        "guardrailArn": arn,
        "version": "DRAFT",
        "status": "READY",
        "createdAt": now,
        "updatedAt": now,
        "blockedInputMessaging": params["blockedInputMessaging"],
        "blockedOutputsMessaging": params["blockedOutputsMessaging"],
        **as_read(params),
    }
    if params.get("description"):
        draft["description"] = params["description"]
    if kms := _kms_arn(self, params.get("kmsKeyId")):
        draft["kmsKeyArn"] = kms
    _guardrails(backend)[guardrail_id] = Guardrail(guardrail_id, arn, draft)
    tags = params.get("tags") or []
    if tags:
        backend.tagger.tag_resource(arn, [{"Key": t["key"], "Value": t["value"]} for t in tags])
    return _result({"guardrailId": guardrail_id, "guardrailArn": arn, "version": "DRAFT", "createdAt": now})


def _members(operation: str) -> list[str]:
    from moto.core.utils import get_service_model

    return list(get_service_model("bedrock").operation_model(operation).input_shape.members)


def get_guardrail(self: Any) -> Any:
    guardrail = _find(self)
    version = self._get_param("guardrailVersion") or self.querystring.get("guardrailVersion", [None])[0]
    if version in (None, "", "DRAFT"):
        return _result(guardrail.draft)
    found = guardrail.versions.get(str(version))
    if found is None:
        raise _errors().ResourceNotFoundException(
            f"Guardrail {guardrail.guardrail_id} version {version} was not found."
        )
    return _result(found)


def update_guardrail(self: Any) -> Any:
    guardrail = _find(self)
    params = {k: self._get_param(k) for k in _members("UpdateGuardrail")}
    _validate(params)
    now = _now()
    kept = {k: guardrail.draft[k] for k in ("guardrailId", "guardrailArn", "version", "status", "createdAt")}
    guardrail.draft = {
        **kept,
        "name": params["name"],
        "updatedAt": now,
        "blockedInputMessaging": params["blockedInputMessaging"],
        "blockedOutputsMessaging": params["blockedOutputsMessaging"],
        **as_read(params),
    }
    if params.get("description"):
        guardrail.draft["description"] = params["description"]
    if kms := _kms_arn(self, params.get("kmsKeyId")):
        guardrail.draft["kmsKeyArn"] = kms
    return _result(
        {"guardrailId": guardrail.guardrail_id, "guardrailArn": guardrail.arn, "version": "DRAFT", "updatedAt": now}
    )


def create_guardrail_version(self: Any) -> Any:
    guardrail = _find(self)
    version = str(guardrail.next_version)
    guardrail.next_version += 1
    now = _now()
    snapshot = {**copy.deepcopy(guardrail.draft), "version": version, "createdAt": now, "updatedAt": now}
    snapshot.pop("description", None)
    if self._get_param("description"):
        snapshot["description"] = self._get_param("description")
    guardrail.versions[version] = snapshot
    return _result({"guardrailId": guardrail.guardrail_id, "version": version})


def delete_guardrail(self: Any) -> Any:
    guardrail = _find(self)
    version = self._get_param("guardrailVersion") or self.querystring.get("guardrailVersion", [None])[0]
    if version not in (None, "", "DRAFT"):
        if guardrail.versions.pop(str(version), None) is None:
            raise _errors().ResourceNotFoundException(
                f"Guardrail {guardrail.guardrail_id} version {version} was not found."
            )
        return _result({})
    del _guardrails(self.bedrock_backend)[guardrail.guardrail_id]
    with contextlib.suppress(Exception):
        self.bedrock_backend.tagger.delete_all_tags_for_resource(guardrail.arn)
    return _result({})


def list_guardrails(self: Any) -> Any:
    only = self._get_param("guardrailIdentifier")
    summaries = []
    for guardrail in _guardrails(self.bedrock_backend).values():
        if only and unquote(str(only)).rsplit("/", 1)[-1] != guardrail.guardrail_id:
            continue
        items = [guardrail.draft, *guardrail.versions.values()] if only else [guardrail.draft]
        for item in items:
            summaries.append(
                {
                    "id": guardrail.guardrail_id,
                    "arn": guardrail.arn,
                    "status": item["status"],
                    "name": item["name"],
                    "version": item["version"],
                    "createdAt": item["createdAt"],
                    "updatedAt": item["updatedAt"],
                    **({"description": item["description"]} if item.get("description") else {}),
                }
            )
    return _result({"guardrails": summaries})


def _list_arns(original: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    def list_arns(self: Any) -> list[str]:
        return original(self) + [g.arn for g in _guardrails(self).values()]  # guardrails take tags too

    return list_arns


OPERATIONS: dict[str, Any] = {
    f.__name__: f
    for f in (
        create_guardrail,
        get_guardrail,
        update_guardrail,
        create_guardrail_version,
        delete_guardrail,
        list_guardrails,
    )
}


# ---- knowledge-base data sources (bedrock-agent) ----------------------------------------------------------------


def _agent_errors() -> Any:
    from moto.bedrockagent import exceptions

    return exceptions


def _knowledge_base(response: Any) -> Any:
    kb_id = unquote(str(response.uri_match.get("knowledgeBaseId") or response._get_param("knowledgeBaseId")))
    found = response.bedrockagent_backend.knowledge_bases.get(kb_id)
    if found is None:
        raise _agent_errors().ResourceNotFoundException(f"Knowledge base {kb_id} does not exist.")
    if not hasattr(found, "vend_data_sources"):
        found.vend_data_sources = {}
    return found


def _data_source(response: Any) -> tuple[Any, dict[str, Any]]:
    kb = _knowledge_base(response)
    ds_id = unquote(str(response.uri_match.get("dataSourceId") or response._get_param("dataSourceId")))
    found = kb.vend_data_sources.get(ds_id)
    if found is None:
        raise _agent_errors().ResourceNotFoundException(f"Data source {ds_id} does not exist.")
    return kb, found


_DATA_SOURCE_MEMBERS = (
    "description",
    "dataSourceConfiguration",
    "serverSideEncryptionConfiguration",
    "vectorIngestionConfiguration",
)


def create_data_source(self: Any) -> Any:
    kb = _knowledge_base(self)
    name = self._get_param("name")
    if any(d["name"] == name for d in kb.vend_data_sources.values()):
        raise _agent_errors().ConflictException(f"A data source named {name} already exists in {kb.knowledge_base_id}.")
    configuration = self._get_param("dataSourceConfiguration") or {}
    if configuration.get("type") == "S3" and not (configuration.get("s3Configuration") or {}).get("bucketArn"):
        raise _agent_errors().ValidationException("s3Configuration.bucketArn is required for an S3 data source.")
    now = _now()
    ds_id = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))
    source = {
        "knowledgeBaseId": kb.knowledge_base_id,
        "dataSourceId": ds_id,
        "name": name,
        "status": "AVAILABLE",
        "dataDeletionPolicy": self._get_param("dataDeletionPolicy") or "DELETE",
        "createdAt": now,
        "updatedAt": now,
        **{k: self._get_param(k) for k in _DATA_SOURCE_MEMBERS if self._get_param(k) is not None},
    }
    kb.vend_data_sources[ds_id] = source
    return _result({"dataSource": source})


def get_data_source(self: Any) -> Any:
    return _result({"dataSource": _data_source(self)[1]})


def update_data_source(self: Any) -> Any:
    _, source = _data_source(self)
    source["name"] = self._get_param("name") or source["name"]
    for key in _DATA_SOURCE_MEMBERS:
        value = self._get_param(key)
        if value is None:
            source.pop(key, None)
        else:
            source[key] = value
    if self._get_param("dataDeletionPolicy"):
        source["dataDeletionPolicy"] = self._get_param("dataDeletionPolicy")
    source["updatedAt"] = _now()
    return _result({"dataSource": source})


def delete_data_source(self: Any) -> Any:
    kb, source = _data_source(self)
    del kb.vend_data_sources[source["dataSourceId"]]
    return _result(
        {"knowledgeBaseId": kb.knowledge_base_id, "dataSourceId": source["dataSourceId"], "status": "DELETING"}
    )


def list_data_sources(self: Any) -> Any:
    kb = _knowledge_base(self)
    keys = ("knowledgeBaseId", "dataSourceId", "name", "status", "description", "updatedAt")
    return _result({"dataSourceSummaries": [{k: d[k] for k in keys if k in d} for d in kb.vend_data_sources.values()]})


DATA_SOURCE_OPERATIONS: dict[str, Any] = {
    f.__name__: f
    for f in (create_data_source, get_data_source, update_data_source, delete_data_source, list_data_sources)
}


@contextlib.contextmanager
def data_sources_added() -> Iterator[None]:
    """moto's knowledge bases with their data sources (Agents for Amazon Bedrock), until exit."""
    from moto.bedrockagent.responses import AgentsforBedrockResponse

    with added(AgentsforBedrockResponse, DATA_SOURCE_OPERATIONS):
        yield


@contextlib.contextmanager
def guardrails_added() -> Iterator[None]:
    """moto's Bedrock with guardrails and guardrail versions, until exit (its catch-all route already reaches it)."""
    from moto.bedrock.models import BedrockBackend
    from moto.bedrock.responses import BedrockResponse

    with contextlib.ExitStack() as stack:
        stack.enter_context(added(BedrockResponse, OPERATIONS))
        stack.enter_context(replaced(BedrockBackend, "_list_arns", ("self",), _list_arns))
        yield


# ---- model-invocation logging: what PutModelInvocationLoggingConfiguration checks before it accepts a destination ----
#
# moto 5.2 stores any loggingConfig. AWS checks that it can deliver: a CloudWatch destination names a log group of the
# same account and region, and a role Bedrock may assume that may write the group's invocation stream ("Only
# destinations from the same account and Region are supported",
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html); otherwise a ValidationException
# "Failed to validate permissions for log group: <group>, with role: <role>. Verify the IAM role permissions are
# correct." An S3 destination names an existing bucket of the same region. Decided with scps.evaluate, as every call.

INVOCATION_STREAM = "aws/bedrock/modelinvocations"


def _logging_problem(account: str, region: str, config: dict[str, Any]) -> str | None:
    from moto.backends import get_backend

    from landing_zone.local.authorization.state import _doc, role_documents
    from scps import evaluate

    cloudwatch = config.get("cloudWatchConfig") or {}
    s3 = config.get("s3Config") or {}
    if not cloudwatch and not s3:
        return "At least one logging destination (cloudWatchConfig or s3Config) is required."
    if s3:
        try:
            bucket = get_backend("s3")[account]["aws"].get_bucket(str(s3.get("bucketName")))  # type: ignore[call-overload]
        except Exception:
            bucket = None
        if bucket is None or bucket.region_name != region:
            return f"Failed to validate permissions for bucket: {s3.get('bucketName')}."
    if not cloudwatch:
        return None
    group, role = str(cloudwatch.get("logGroupName", "")), str(cloudwatch.get("roleArn", ""))
    failed = f"Failed to validate permissions for log group: {group}, with role: {role}. Verify the IAM role " + (
        "permissions are correct."
    )
    if group not in get_backend("logs")[account][region].groups:  # type: ignore[call-overload]
        return failed
    if role.count(":") < 5 or role.split(":")[4] != account:
        return failed
    documents = role_documents(role)
    if documents is None:
        return failed
    identity, boundary = documents
    iam = get_backend("iam")[account]["aws"]  # type: ignore[call-overload]
    trust = _doc(iam.get_role_by_arn(role).assume_role_policy_document)
    assume = evaluate.Request(
        action="sts:AssumeRole",
        resource=role,
        principal=evaluate.Principal(arn="", service="bedrock.amazonaws.com"),
        context={"aws:SourceAccount": account, "aws:SourceArn": f"arn:aws:bedrock:{region}:{account}:*"},
        literal_resource=True,
    )
    if not evaluate.decide(
        assume, evaluate.Policies(resource=trust, resource_account=account, resource_kind="trust")
    ).allowed:
        return failed
    stream = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{INVOCATION_STREAM}"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        write = evaluate.Request(action=action, resource=stream, principal_arn=role, literal_resource=True)
        if not evaluate.decide(write, evaluate.Policies(identity=identity, boundary=boundary)).allowed:
            return failed
    return None


def _validated_put(original: Callable[..., None]) -> Callable[..., None]:
    def put_model_invocation_logging_configuration(self: Any, logging_config: dict[str, Any]) -> None:
        problem = _logging_problem(self.account_id, self.region_name, logging_config or {})
        if problem:
            # moto's ValidationException has a fixed message; AWS's names the group and the role.
            raise _errors().BedrockClientError("ValidationException", problem)
        original(self, logging_config)

    return put_model_invocation_logging_configuration


@contextlib.contextmanager
def invocation_logging_validated() -> Iterator[None]:
    """moto's PutModelInvocationLoggingConfiguration refusing a destination Bedrock could not deliver to, until exit."""
    from moto.bedrock.models import BedrockBackend

    with replaced(
        BedrockBackend, "put_model_invocation_logging_configuration", ("self", "logging_config"), _validated_put
    ):
        yield
