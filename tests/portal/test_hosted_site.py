"""The hosted portal's parts without a browser: the browser's SigV4 signer (vending/portal/site/sigv4.js, run by Node's
WebCrypto) checked by botocore's signer as `vend api serve` verifies it; CORS only for the portal's origin; the
request schema the form is drawn from kept equal to the model; the site's files and headers."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from vending.cli.sigv4 import Refusal, signer_arn
from vending.portal.site import SITE_DIR, content_security_policy, request_schema_json, site_files

KEY, SECRET, TOKEN = "ASIAEXAMPLEKEY123456", "secret/With+Odd=Chars", "session-token-value"
ARN = "arn:aws:sts::123456789012:assumed-role/TeamFrontendLead/portal"
NODE = shutil.which("node")
# sigv4.js expects a window; Node 20 has WebCrypto, TextEncoder and URL as globals.
SIGN = """
globalThis.window = globalThis;
require(process.argv[1]);
const input = JSON.parse(process.argv[2]);
window.SigV4.sign({...input, now: new Date(input.now)}).then(h => process.stdout.write(JSON.stringify(h)));
"""


def lookup(key: str, token: str | None) -> tuple[str, str] | None:
    return (SECRET, ARN) if key == KEY and token == TOKEN else None


def js_sign(method: str, url: str, body: str = "", *, secret: str = SECRET, now: datetime) -> dict[str, str]:
    assert NODE, "Node.js is part of the toolchain (scripts/setup.sh): it runs axe-core and this signer"
    payload = {
        "method": method,
        "url": url,
        "body": body,
        "region": "us-east-1",
        "credentials": {"accessKeyId": KEY, "secretAccessKey": secret, "sessionToken": TOKEN},
        "now": now.isoformat(),
    }
    out = subprocess.run(
        [NODE, "-e", SIGN, str(SITE_DIR / "sigv4.js"), json.dumps(payload)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(json.loads(out.stdout))


CASES = [
    ("GET", "https://abc.execute-api.us-east-1.amazonaws.com/v1/requests", ""),
    ("GET", "https://abc.execute-api.us-east-1.amazonaws.com/v1/requests?team=team-a&status=READY", ""),
    (
        "POST",
        "http://127.0.0.1:8091/preview",
        json.dumps({"team": "team-ä", "regions": ["us-east-1"]}, ensure_ascii=False),
    ),
    ("PATCH", "https://abc.execute-api.us-east-1.amazonaws.com/v1/requests/team-a-staging", '{"gpu_tier":"training"}'),
]


@pytest.mark.parametrize(("method", "url", "body"), CASES)
def test_the_browsers_signature_is_the_one_botocore_computes(method: str, url: str, body: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    headers = js_sign(method, url, body, now=now)
    host, _, target = url.split("://", 1)[1].partition("/")
    sent = {**headers, "Host": host}
    raw = body.encode()
    # GIVEN the browser's headers WHEN the server verifies them as API Gateway does THEN the signer is the caller
    assert signer_arn(method, "/" + target, sent, raw, lookup, now=now) == ARN
    # Controls: any part the signature covers, changed in transit, is refused
    tampered = [
        (method, "/" + target + ("&x=1" if "?" in target else "?x=1"), sent, raw),
        (method, "/" + target, {**sent, "Host": "other.example.com"}, raw),
        ("DELETE", "/" + target, sent, raw),
        (method, "/" + target, sent, raw + b" "),
    ]
    for args in tampered:
        verdict = signer_arn(*args, lookup, now=now)
        assert isinstance(verdict, Refusal) and verdict.code == "SignatureDoesNotMatch", args
    wrong_secret = {**js_sign(method, url, body, secret=SECRET + "x", now=now), "Host": host}
    assert signer_arn(method, "/" + target, wrong_secret, raw, lookup, now=now) == Refusal(
        "SignatureDoesNotMatch",
        "the request signature we calculated does not match the signature you provided",
    )


def test_the_form_schema_is_the_request_models() -> None:
    # The form is drawn from request-schema.json; a model change without it would draw a stale form.
    committed = (SITE_DIR / "request-schema.json").read_text(encoding="utf-8")
    assert committed == request_schema_json(), "run: python -c 'from vending.portal.site import *; ...' (see README)"
    schema = json.loads(committed)
    assert {"team", "stage", "gpu_tier", "regions", "repository"} <= set(schema["required"])


def test_the_site_is_the_static_files_and_a_strict_policy() -> None:
    assert set(site_files()) == {"index.html", "app.js", "sigv4.js", "request-schema.json", "portal.css"}
    html = (SITE_DIR / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "<script>" not in html and " style=" not in html
    app = (SITE_DIR / "app.js").read_text(encoding="utf-8")
    # The API's answers are drawn as text, never parsed as markup
    assert "innerHTML" not in app and "insertAdjacentHTML" not in app and "eval(" not in app
    policy = content_security_policy(["https://*.execute-api.us-east-1.amazonaws.com"])
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert "connect-src 'self' https://*.execute-api.us-east-1.amazonaws.com;" in policy


@pytest.fixture
def cors_server() -> Iterator[str]:
    from vending.cli.api import make_server

    server = make_server(0, cors_origin="https://portal.example.com")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _call(url: str, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    try:
        request = urllib.request.Request(url, method=method, headers=headers)  # noqa: S310 (http://127.0.0.1 only)
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310
            return r.status, {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}


def test_the_preflight_is_answered_for_the_portals_origin_only(cors_server: str) -> None:
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,x-amz-date"}
    status, headers = _call(cors_server + "/requests", "OPTIONS", {"Origin": "https://portal.example.com", **ask})
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://portal.example.com"
    assert {"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} <= {
        h.strip() for h in headers["access-control-allow-headers"].split(",")
    }
    assert "POST" in headers["access-control-allow-methods"]
    # Control: another origin, or a path the API does not have, gets no preflight
    assert _call(cors_server + "/requests", "OPTIONS", {"Origin": "https://evil.example.com", **ask})[0] == 403
    assert _call(cors_server + "/nowhere", "OPTIONS", {"Origin": "https://portal.example.com", **ask})[0] == 403
    # An unsigned call is still refused (401), and the refusal is readable by the portal, as gateway responses are
    status, headers = _call(cors_server + "/requests", "GET", {"Origin": "https://portal.example.com"})
    assert status == 401 and headers["access-control-allow-origin"] == "https://portal.example.com"


def test_without_a_portal_origin_options_is_just_a_method() -> None:
    from vending.cli.api import make_server

    server = make_server(0, require_sigv4=False)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/requests"
        status, headers = _call(url, "OPTIONS", {"Origin": "https://portal.example.com"})
        assert status == 405 and "access-control-allow-origin" not in headers
    finally:
        server.shutdown()
        server.server_close()


def _resolved(monkeypatch: pytest.MonkeyPatch, origin: str | None) -> dict[str, Any]:
    from vending.api.routes import PORTAL_ORIGIN_ENV, resolve
    from vending.portal.app import _LambdaContext, api_event

    if origin is None:
        monkeypatch.delenv(PORTAL_ORIGIN_ENV, raising=False)
    else:
        monkeypatch.setenv(PORTAL_ORIGIN_ENV, origin)
    # A refused call (an unsigned event): it must be readable by the portal too
    return resolve(api_event("GET", "/me", caller="", account="123456789012"), _LambdaContext())


def test_the_lambdas_answers_name_the_portals_origin_only_when_one_is_deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    answered = _resolved(monkeypatch, "https://d111.cloudfront.net")
    assert answered["headers"]["Access-Control-Allow-Origin"] == "https://d111.cloudfront.net"
    assert "Access-Control-Allow-Origin" not in (_resolved(monkeypatch, None).get("headers") or {})
