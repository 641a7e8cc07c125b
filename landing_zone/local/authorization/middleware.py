"""The emulator's one authorization decision per call, in front of moto's server.

Every request that reaches the emulator (the Lambdas, the CLI, the API server, pipeline workers, Terraform) is
parsed into its operation (calls.py), turned into the authorizations AWS makes for it (requests.py), and each is
decided by the project's policy evaluator (scps.evaluate) over the caller's identity policies, boundary and session
policy, the SCPs and RCPs on its account's path and the resource's own policy (state.py). A denial is answered as
the service answers it (status, error code, AWS's message naming the action, the resource and the kind of policy
that denied it) and moto never sees the call. moto's own identity-policy check is switched off while this runs;
its signature check stays.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from landing_zone.local.authorization import requests as authz_requests
from landing_zone.local.authorization import state
from landing_zone.local.authorization.calls import Call, parse_call
from scps import evaluate


@dataclass(frozen=True)
class Denied:
    caller: str
    action: str
    resource: str
    why: str  # the authorization's reason: call, tag-on-create, pass-role, sse-kms, missing-object
    reason: str  # the evaluator's reason (explicit_deny, no_scp_allow, ...)
    message: str


@dataclass
class DecisionLog:
    """How many decisions were made, how long they took, and every denial (for tests and the demo's figures)."""

    decisions: int = 0
    calls: int = 0
    seconds: float = 0.0
    denials: list[Denied] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)
    unparsed: int = 0
    errors: int = 0  # the emulator's own faults while deciding (each answered 500, failing closed)
    # Every authorization decided, by the role (or user) ARN that signed the call: what each principal used, in every
    # account (the least-privilege recorder checks the member accounts' roles with it), and its session names.
    by_principal: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sessions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            self.decisions = self.calls = self.unparsed = self.errors = 0
            self.seconds = 0.0
            self.denials.clear()
            self.by_reason.clear()
            self.by_principal.clear()
            self.sessions.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": self.calls,
                "decisions": self.decisions,
                "denials": len(self.denials),
                "unparsed": self.unparsed,
                "errors": self.errors,
                "ms_per_call": round(1000 * self.seconds / self.calls, 3) if self.calls else 0.0,
                "reasons": dict(self.by_reason),
            }


DECISIONS = DecisionLog()


def warm_up() -> None:
    """Load, once per process, what every decision reads: the signing-name index of the botocore models (about
    3 s) and the Service Authorization Reference (about 1 s). Otherwise the first call pays for it, and a client
    with a short read timeout sees it time out."""
    from landing_zone.local.authorization import calls

    calls.services_signed_as("s3")
    authz_requests.iam_action(Call("", None, "us-east-1", "s3", "s3", "ListBuckets"))


def principal_context(caller: state.Caller, org_id: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "aws:PrincipalArn": caller.arn,
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": caller.kind,
        "aws:userid": caller.user_id,
        "aws:PrincipalIsAWSService": "false",
        "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "aws:EpochTime": str(int(time.time())),
    }
    if caller.kind == "User":
        context["aws:username"] = caller.arn.rsplit("/", 1)[-1]
    if org_id:
        context["aws:PrincipalOrgID"] = org_id
    for k, v in caller.tags.items():
        context[f"aws:PrincipalTag/{k}"] = v
    return context


def decide_call(call: Call, caller: state.Caller) -> Denied | None:
    """Every authorization AWS makes for `call`; the first one refused, or None when all are allowed."""
    lookups = state.MotoLookups()
    org_id = state.organization_id(caller.account)
    base = principal_context(caller, org_id)
    scps = None if caller.service_linked else state.scps(caller.account)
    principal = evaluate.Principal(arn=caller.arn, account=caller.account, session_arn=caller.session_arn)
    requests = authz_requests.authorization_requests(call, caller.account, lookups)
    # The owner's organization and RCPs, read once per owner account of this call (most calls have one owner).
    owners: dict[str, tuple[str | None, list[list[dict[str, Any]]] | None]] = {
        caller.account: (org_id, state.rcps(caller.account))
    }
    for req in requests:
        resource_doc, owner = state.resource_policy(req.resource, req.action, call.region)
        context = {**base, **req.context}
        owner_org, owner_rcps = None, None
        if owner:
            if owner not in owners:
                owners[owner] = (state.organization_id(owner), state.rcps(owner))
            owner_org, owner_rcps = owners[owner]
            context.setdefault("aws:ResourceAccount", owner)
            if owner_org:
                context.setdefault("aws:ResourceOrgID", owner_org)
        request = evaluate.Request(
            action=req.action,
            resource=req.resource,
            principal_arn=caller.arn,
            context=context,
            principal=principal,
            literal_resource=True,
        )
        policies = evaluate.Policies(
            identity=caller.identity,
            boundary=caller.boundary,
            session=caller.session,
            scps=scps,
            rcps=owner_rcps,
            resource=resource_doc,
            resource_account=owner or caller.account,
            resource_kind=req.resource_kind,
        )
        decision = evaluate.decide(request, policies)
        with DECISIONS._lock:
            DECISIONS.decisions += 1
            DECISIONS.by_reason[decision.reason] += 1
            DECISIONS.by_principal[caller.arn][req.action] += 1
            if caller.session_arn:
                DECISIONS.sessions[caller.arn].add(caller.name.split("/", 1)[-1])
        if not decision.allowed:
            return Denied(
                caller=caller.session_arn or caller.arn,
                action=req.action,
                resource=req.resource,
                why=req.why,
                reason=decision.reason,
                message=evaluate.denial_message(request, decision, caller.session_arn or caller.arn),
            )
    return None


def decide_as_service_role(
    role_arn: str, service: str, source: dict[str, str], action: str, resource: str, region: str, keys: dict[str, Any]
) -> Denied | None:
    """A service acting as a role of the customer's (EventBridge delivering to a target as the rule's RoleArn): the
    role's trust must admit `service` with the confused-deputy keys the service sets (`source`: aws:SourceAccount,
    aws:SourceArn), then `action` on `resource` is decided as the role's session, as any call of the role is: its
    identity policies and boundary, the SCPs of its account, the resource's own policy (`keys`: the request's keys)."""
    account = role_arn.split(":")[4]
    documents = state.role_documents(role_arn)
    if documents is None:
        return Denied(service, "sts:AssumeRole", role_arn, "pass-role", "no_role", f"role {role_arn} does not exist")
    trust, owner = state.resource_policy(role_arn, "sts:AssumeRole", region)
    assume = evaluate.Request(
        action="sts:AssumeRole",
        resource=role_arn,
        principal_arn=service,
        context={**source, "aws:PrincipalIsAWSService": "true", "aws:PrincipalServiceName": service},
        principal=evaluate.Principal(arn="", service=service),
        literal_resource=True,
    )
    decision = evaluate.decide(
        assume, evaluate.Policies(resource=trust, resource_account=owner or account, resource_kind="trust")
    )
    if not decision.allowed:
        return Denied(
            service, "sts:AssumeRole", role_arn, "pass-role", decision.reason,
            evaluate.denial_message(assume, decision, service),
        )  # fmt: skip
    identity, boundary = documents
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{service.split('.')[0]}"
    caller = state.Caller(account, role_arn, session_arn, "AssumedRole", identity, boundary, None)
    org_id = state.organization_id(account)
    resource_doc, resource_owner = state.resource_policy(resource, action, region)
    context = {**principal_context(caller, org_id), "aws:RequestedRegion": region, "aws:ViaAWSService": "false"}
    context.update(keys)
    if resource_owner:
        context["aws:ResourceAccount"] = resource_owner
    request = evaluate.Request(
        action=action,
        resource=resource,
        principal_arn=role_arn,
        context=context,
        principal=evaluate.Principal(arn=role_arn, account=account, session_arn=session_arn),
        literal_resource=True,
    )
    policies = evaluate.Policies(
        identity=identity,
        boundary=boundary,
        scps=state.scps(account),
        rcps=state.rcps(resource_owner) if resource_owner else None,
        resource=resource_doc,
        resource_account=resource_owner or account,
    )
    decision = evaluate.decide(request, policies)
    with DECISIONS._lock:
        DECISIONS.decisions += 2
        DECISIONS.by_reason[decision.reason] += 1
        DECISIONS.by_principal[role_arn][action] += 1
    if decision.allowed:
        return None
    return Denied(
        session_arn, action, resource, "call", decision.reason, evaluate.denial_message(request, decision, session_arn)
    )


def _decide_web_identity(call: Call) -> Denied | None:
    """AssumeRoleWithWebIdentity: the role's trust policy decides, for the token's issuer as the federated principal,
    with the token's claims as condition keys (`<issuer>:sub`, `<issuer>:aud`). The signature of the token is not
    checked here (no issuer keys offline): what is decided is whether the trust admits these claims."""
    role_arn = str(call.params.get("RoleArn", ""))
    requests = authz_requests.authorization_requests(
        call, role_arn.split(":")[4] if role_arn.count(":") >= 5 else "", state.MotoLookups()
    )
    context = dict(requests[0].context) if requests else {}
    issuer = next((k.rsplit(":", 1)[0] for k in context if k.endswith(":sub")), "")
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    provider = f"arn:aws:iam::{account}:oidc-provider/{issuer}"
    trust, owner = state.resource_policy(role_arn, "sts:AssumeRoleWithWebIdentity", call.region)
    request = evaluate.Request(
        action="sts:AssumeRoleWithWebIdentity",
        resource=role_arn,
        principal_arn=provider,
        context={**context, "aws:FederatedProvider": provider},
        principal=evaluate.Principal(arn="", federated=provider),
        literal_resource=True,
    )
    decision = evaluate.decide(
        request, evaluate.Policies(resource=trust, resource_account=owner or account, resource_kind="trust")
    )
    with DECISIONS._lock:
        DECISIONS.decisions += 1
        DECISIONS.by_reason[decision.reason] += 1
    if decision.allowed:
        return None
    return Denied(
        caller=provider,
        action="sts:AssumeRoleWithWebIdentity",
        resource=role_arn,
        why="call",
        reason=decision.reason,
        message=evaluate.denial_message(request, decision, provider),
    )


def _error_response(call: Call, denied: Denied) -> tuple[str, list[tuple[str, str]], bytes]:
    """AccessDenied as the service's protocol answers it."""
    from moto.core.utils import get_service_model

    model = get_service_model(call.service)
    protocol = model.protocol
    request_id = str(uuid.uuid4())
    message = denied.message
    if protocol in ("json", "rest-json"):
        code = "AccessDeniedException"
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        status = "400 Bad Request" if protocol == "json" else "403 Forbidden"
        headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
        if model.metadata.get("awsQueryCompatible") is not None:
            # SQS speaks JSON but keeps its query-protocol error codes in this header (botocore reads it).
            headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        return status, headers, body
    escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>{escaped}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
    elif protocol == "rest-xml":
        body = (
            f"<Error><Code>AccessDenied</Code><Message>{escaped}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
    else:  # query
        code = "AuthorizationError" if call.signing_name == "sns" else "AccessDenied"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escaped}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    if call.method == "HEAD":
        body = b""
    return "403 Forbidden", [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


class AuthorizationMiddleware:
    """WSGI middleware: decide, then hand the untouched request to moto."""

    def __init__(self, app: Callable[..., Iterable[bytes]], enabled: Callable[[], bool]) -> None:
        self.app = app
        self.enabled = enabled

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self.enabled() or environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        started = time.perf_counter()
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        from moto.core.request import Request

        own = dict(environ)
        own["wsgi.input"] = io.BytesIO(body)
        try:
            call = parse_call(Request(own))
        except Exception:
            call = None
        denied = None
        if call is None:
            with DECISIONS._lock:
                DECISIONS.unparsed += 1
        else:
            try:
                if not call.access_key and call.operation == "AssumeRoleWithWebIdentity":
                    denied = _decide_web_identity(call)
                elif (caller := state.caller(call.access_key, call.session_token)) is not None:
                    denied = decide_call(call, caller)  # an unknown key: moto refuses it (InvalidClientTokenId)
            except Exception:
                # A fault of the emulator's own: fail closed, loudly, naming the call (never allow by accident).
                with DECISIONS._lock:
                    DECISIONS.errors += 1
                print(f"authz error on {call.service}:{call.operation}:\n{traceback.format_exc()}", file=sys.__stderr__)
                raise
        with DECISIONS._lock:
            DECISIONS.calls += 1
            DECISIONS.seconds += time.perf_counter() - started
            if denied is not None:
                DECISIONS.denials.append(denied)
                if os.environ.get("VEND_AUTHZ_LOG"):  # a debugging aid: every denial on stderr as it happens
                    print(f"authz denied ({denied.why}, {denied.reason}): {denied.message}", file=sys.__stderr__)
        if denied is not None and call is not None:
            status, headers, payload = _error_response(call, denied)
            headers.append(("Content-Length", str(len(payload))))
            start_response(status, headers)
            return [payload]
        if os.environ.get("VEND_AUTHZ_LOG") and call is not None:
            verbose = os.environ["VEND_AUTHZ_LOG"] == "all"

            def logged(status: str, headers: Any, *rest: Any) -> Any:
                if verbose:
                    print(f"authz call: {call.service}:{call.operation} -> {status}", file=sys.__stderr__)
                if status.startswith("403"):
                    print(f"authz allowed, moto refused: {call.service}:{call.operation} {status}", file=sys.__stderr__)
                return start_response(status, headers, *rest)

            return self.app(environ, logged)
        return self.app(environ, start_response)


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return bytes(stream.read(int(length)))
    if environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return bytes(stream.read())
    return b""
