"""What an HTTP request to the emulator asks for: the caller's key, the service, the operation and its parameters.

Parsed with the same botocore service models and moto's own protocol routers and parsers that moto dispatches
with, so the authorization sees the operation moto is about to run. Nothing here decides anything.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

# A SigV4 Authorization header: the credential scope names the key, the region and the signing service.
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Call:
    """One request as AWS's authorization sees it, before any resource or condition key is derived."""

    access_key: str
    session_token: str | None
    region: str
    signing_name: str
    service: str  # the botocore service name (bedrock-agent, s3, opensearchserverless...)
    operation: str  # the API operation (PutObject, CreateAccount...)
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/"


def credential_scope(authorization: str, query: dict[str, list[str]]) -> tuple[str, str, str] | None:
    """(access key, region, signing name) from a SigV4 header or a presigned URL's X-Amz-Credential."""
    found = _SCOPE.search(authorization or "")
    if found:
        return found.group(1), found.group(2), found.group(3)
    credential = (query.get("X-Amz-Credential") or [""])[0]
    parts = credential.split("/")
    if len(parts) == 5:
        return parts[0], parts[2], parts[3]
    return None


CACHE_DIR_ENV = "VEND_CACHE_DIR"


@functools.cache
def _signing_index() -> dict[str, tuple[str, ...]]:
    """Every botocore service by its signing name (bedrock signs six, s3 two: s3 and s3control).

    Reading the 466 models takes 3 CPU s, and every emulator process with IAM on needs the index: it is kept in a file
    named by a digest of what it is made from (botocore's version, its search paths and the services they list), so a
    changed or upgraded botocore, or a model of one's own in ~/.aws/models, makes a new one."""
    import botocore
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    services = sorted(loader.list_available_services("service-2"))
    source = json.dumps([botocore.__version__, [str(p) for p in loader.search_paths], services])
    cache = _cache_dir() / f"signing-index-{hashlib.sha256(source.encode()).hexdigest()[:24]}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):  # a broken file: made again
        kept = json.loads(cache.read_text(encoding="utf-8"))
        if kept.get("source") == source:
            return {k: tuple(v) for k, v in kept["index"].items()}
    index: dict[str, list[str]] = {}
    for name in services:
        meta = loader.load_service_model(name, "service-2").get("metadata", {})
        index.setdefault(meta.get("signingName", meta.get("endpointPrefix", name)), []).append(name)
    made = {k: tuple(sorted(v, key=lambda n: (n != k, n))) for k, v in index.items()}
    with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache.parent, delete=False, suffix=".tmp") as f:
            json.dump({"source": source, "index": made}, f)
        os.replace(f.name, cache)  # whole or not at all, whichever process writes last
    return made


def _cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vend"


@functools.cache
def services_signed_as(signing_name: str) -> tuple[str, ...]:
    """The botocore services whose requests are signed with `signing_name`, the one named like it first."""
    # Read once per process (from the cache file, or 3 s for the 466 models), then a dictionary look-up.
    return _signing_index().get(signing_name, (signing_name,))


def parse_call(request: Any) -> Call | None:
    """The Call a moto `Request` (werkzeug) makes, or None when it is not a signed AWS API request."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    query = parse_qs(request.query_string.decode("latin-1"), keep_blank_values=True)
    scope = credential_scope(request.headers.get("Authorization", ""), query)
    if scope is None:
        # The one unsigned call the project makes: a CI job trading its OIDC token for a role's credentials.
        form = parse_qs(request.get_data(cache=True).decode("utf-8", "replace"))
        if (form.get("Action") or query.get("Action") or [""])[0] != "AssumeRoleWithWebIdentity":
            return None
        scope = ("", "us-east-1", "sts")
    access_key, region, signing_name = scope
    token = request.headers.get("X-Amz-Security-Token") or (query.get("X-Amz-Security-Token") or [None])[0]
    for service in services_signed_as(signing_name) or (signing_name,):
        try:
            model = get_service_model(service)
            operation, uri_params = get_service_router(service).match(request)
        except Exception:  # noqa: S112 - not this service's operation: try the next one signed the same way
            continue
        params: dict[str, Any] = {}
        try:
            protocol = determine_request_protocol(model, request.content_type)
            parser = PROTOCOL_PARSERS[protocol](operation)
            params = dict(
                parser.parse(
                    {
                        "method": request.method,
                        "values": request.values,
                        "headers": request.headers,
                        "body": request.get_data(cache=True),
                        "url_path": request.path,
                        "url_params": uri_params,
                    }
                )
            )
        except Exception:
            params = dict(uri_params or {})
        return Call(
            access_key=access_key,
            session_token=token,
            region=region,
            signing_name=signing_name,
            service=service,
            operation=operation.name,
            params=params,
            headers={k: v for k, v in request.headers.items()},
            method=request.method,
            path=request.path,
        )
    return None
