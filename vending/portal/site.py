"""The hosted portal's static files (vending/portal/site/ and the portal's stylesheet): what the CDK stack deploys to
S3 behind CloudFront and what `vend console --hosted` serves on the emulator, with the same Content-Security-Policy.
The browser reads config.json (where the API is, how to sign in) and request-schema.json (the request model's JSON
schema, kept equal to vending.request by `vend api spec --check`'s sibling test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
SITE_DIR = HERE / "site"
STYLESHEET = HERE / "static" / "portal.css"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}


def site_files() -> dict[str, Path]:
    """Name -> file of every static asset (config.json is made per deployment: config())."""
    files = {p.name: p for p in sorted(SITE_DIR.iterdir()) if p.suffix in CONTENT_TYPES}
    return {**files, STYLESHEET.name: STYLESHEET}


def request_schema_json() -> str:
    from vending.request import VendingRequest

    return json.dumps(VendingRequest.model_json_schema(), indent=1, sort_keys=True) + "\n"


# What the browser's signed calls send (site/sigv4.js), which the API's CORS preflight must allow (the CDK stack's
# OPTIONS methods and `vend api serve`'s).
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256")


def content_security_policy(connect: list[str], form_action: tuple[str, ...] = ()) -> str:
    """Scripts and styles from the site only, no inline script, no framing; calls only to the site and `connect`
    (the API, and in AWS the sign-in endpoints); forms post to the site and `form_action`."""
    own = "'self'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {' '.join([own, *connect])}",
            "frame-ancestors 'none'",
            f"form-action {' '.join([own, *form_action])}",
            "base-uri 'none'",
        ]
    )


def config(api_url: str, region: str, sign_in: dict[str, Any]) -> dict[str, Any]:
    """config.json: `sign_in` is {"kind": "cognito", domain, userPoolClientId, identityPoolId, provider} in AWS, or
    {"kind": "local", url, principalsUrl} on the emulator."""
    return {"apiUrl": api_url.rstrip("/"), "region": region, "signIn": sign_in}


def connect_sources(site_config: dict[str, Any]) -> list[str]:
    """Where the browser's calls go for this config.json: the API, and for Cognito its domain (the token endpoint)
    and the identity pool's endpoint (GetId, GetCredentialsForIdentity)."""
    api = urlsplit(site_config["apiUrl"])
    sources = [f"{api.scheme}://{api.netloc}"]
    sign_in = site_config["signIn"]
    if sign_in["kind"] == "cognito":
        sources += [sign_in["domain"], f"https://cognito-identity.{site_config['region']}.amazonaws.com"]
    return sources
