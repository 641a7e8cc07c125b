"""What API Gateway's IAM authorization does before the resolver runs, for `vend api serve`: check a request's SigV4
signature with the signer's secret and hand the resolver the signer's ARN (requestContext.identity.userArn), so
approvals and changes served locally are identity-based as in AWS. The secrets come from a lookup the deployment layer
provides (the emulator's credentials, `vend api serve --emulator`); without one nobody's identity can be proven here.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# (access key id, session token or None) -> (secret access key, the signer's ARN), or None for a key nobody issued
SecretLookup = Callable[[str, str | None], tuple[str, str] | None]

AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)"
    r"/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_SKEW_SECONDS = 15 * 60  # API Gateway refuses a signature dated further than this from its clock


class Refusal(NamedTuple):
    """The request's signature does not prove a known caller: what API Gateway answers (403, code and message)."""

    code: str
    message: str


def signer_arn(
    method: str, target: str, headers: dict[str, str], body: bytes, lookup: SecretLookup, *, now: datetime | None = None
) -> str | Refusal:
    """The ARN of the principal whose credentials signed this request, or why not."""
    lower = {k.lower(): v for k, v in headers.items()}
    found = AUTHORIZATION.match(lower.get("authorization", ""))
    if not found:
        return Refusal("IncompleteSignature", "the Authorization header is not a SigV4 signature")
    stamp = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return Refusal("IncompleteSignature", "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ")
    if abs(((now or datetime.now(UTC)) - signed_at).total_seconds()) > MAX_SKEW_SECONDS or stamp[:8] != found["date"]:
        return Refusal("InvalidSignatureException", "signature expired or dated in the future")
    token = lower.get("x-amz-security-token")
    known = lookup(found["key"], token)
    if known is None:
        return Refusal("UnrecognizedClientException", "the security token included in the request is invalid")
    secret, arn = known
    names = found["signed"].split(";")
    if "host" not in names or any(n not in lower for n in names):
        return Refusal("IncompleteSignature", "SignedHeaders must include host and name only sent headers")
    request = AWSRequest(method=method, url=f"http://{lower['host']}{target}", data=body)
    for name in names:
        request.headers[name] = lower[name]
    request.context["timestamp"] = stamp
    auth = SigV4Auth(Credentials(found["key"], secret, token), found["service"], found["region"])
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if not hmac.compare_digest(expected, found["signature"]):
        return Refusal(
            "SignatureDoesNotMatch", "the request signature we calculated does not match the signature you provided"
        )
    return arn
