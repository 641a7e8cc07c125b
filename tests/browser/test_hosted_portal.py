"""The portal as AWS hosts it (issue 25), in a real browser: static files on one origin (CloudFront's part), the vending
API on another, every call signed in the browser with SigV4 from a one-hour role session and verified by the API
server as API Gateway's IAM authorization does (botocore's signer: vending.cli.sigv4), after a real CORS preflight.

The walk: the admin requests an environment through the form (per-field errors as typed), follows it to READY, opens
the account and downloads the guide; the team's lead asks for a tier change and is refused another team's request;
the approver approves it; a tamper shows up as a finding for the lead. Every page: axe-core (no serious or critical
violation), a screenshot, its static weight and its time until the API's data is drawn. Controls in the walk: a
session whose secret is altered in the tab is refused (SignatureDoesNotMatch) on the next page; the site never sets a
cookie and never carries an Authorization header; every API call but the preflight does.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from playwright.sync_api import Page, Request, expect

from landing_zone.local.hosted_portal import HostedSite
from landing_zone.local.runtime import Emulator, deploy
from tests.browser import harness
from tests.browser.steps import detach_tier_policy_and_publish_audit, fill_request_form

pytestmark = [pytest.mark.emulator]

TEAM, REQUEST_ID = "team-frontend", "team-frontend-staging"
TIMEOUT_MS = 180_000


@pytest.fixture(autouse=True)
def patient_expectations() -> Iterator[None]:
    # Each page waits on the emulator (an AssumeRole, signed calls, a Step Functions history): on a loaded 2-core
    # machine that can take longer than expect()'s 5 s default.
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def hosted() -> Iterator[HostedSite]:
    with Emulator(), pytest.MonkeyPatch.context() as env:
        env.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        env.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
        env.setenv("VEND_API_QUIET", "1")
        deploy()
        site = HostedSite().start()
        try:
            yield site
        finally:
            site.stop()


class HostedWalk:
    """Loads each page afresh (a full navigation, the tab's session kept), then checks and measures it."""

    def __init__(self, page: Page, site: HostedSite) -> None:
        self.page, self.site = page, site
        self.metrics: dict[str, dict[str, Any]] = {}
        self.violations: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[Request] = []
        page.on("request", lambda request: self.calls.append(request))

    def goto(self, route: str, name: str, heading: str | re.Pattern[str]) -> None:
        self.page.goto(f"{self.site.url}/?page={name}{route}")
        expect(self.page.get_by_role("heading", level=1)).to_have_text(heading)
        self.check(name)

    def check(self, name: str, *, measure: bool = True) -> None:
        """`measure`: the page was loaded by a full navigation (goto); a page drawn in place has no load of its own."""
        if measure and name not in self.metrics:
            m = harness.page_metrics(self.page)
            drawn = self.page.evaluate("() => performance.getEntriesByName('portal-drawn')[0]?.startTime ?? null")
            self.metrics[name] = {
                "route": self.page.url.removeprefix(self.site.url),
                # the site's own files: the API's answers are cross-origin, so Resource Timing shows no bytes for them
                "site_transfer_bytes": m["transfer_bytes"],
                "site_decoded_bytes": m["decoded_bytes"],
                "requests": m["requests"],
                "ttfb_ms": round(m["ttfb_ms"], 1),
                "first_contentful_paint_ms": round(m["fcp_ms"], 1),
                "data_drawn_ms": None if drawn is None else round(drawn, 1),
            }
        self.violations[name] = harness.axe_violations(self.page)
        harness.screenshot(self.page, f"hosted-{name}")

    def sign_in(self, label: str) -> None:
        self.page.goto(f"{self.site.url}/#/signin")
        self.page.get_by_role("button", name=f"Sign in as {label}").click()
        expect(self.page.get_by_role("heading", level=1)).to_have_text("My requests")


def test_hosted_portal_walk_with_signed_calls(page: Page, hosted: HostedSite, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.vend_throughput import skipped_launch
    from vending.pipeline import orchestration

    # The pipelines are recorded SUCCEEDED at launch: what is walked is the hosting, not Terraform.
    monkeypatch.setattr(orchestration.LocalThreadLauncher, "launch", skipped_launch)
    page.set_default_timeout(60_000)
    walk = HostedWalk(page, hosted)

    # GIVEN the static site WHEN the platform admin signs in
    walk.goto("#/signin", "signin", "Sign in")
    walk.sign_in("Platform admin")
    walk.check("requests-empty", measure=False)
    kept = json.loads(page.evaluate("() => sessionStorage.getItem('vend.portal.credentials')"))
    # THEN the tab holds a temporary session (a session token, an hour at most), and no cookie exists at all
    assert kept["sessionToken"] and kept["accessKeyId"].startswith("ASIA")
    assert kept["expiration"] / 1000 <= time.time() + 3600 + 5
    assert page.context.cookies() == []

    # WHEN the admin fills the form, a field wrong first
    walk.goto("#/requests/new", "request-form", "Request an environment")
    fill_request_form(page, TEAM)
    walk.check("request-form-filled", measure=False)
    page.get_by_role("button", name="Submit request").click()
    # THEN the request's page follows the state machine to READY (no error shown on the form meanwhile)
    expect(page.locator("#request-form [role=alert]")).to_have_text("")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {REQUEST_ID}", timeout=60_000)
    expect(page.locator("#timeline .status").first).to_have_text("READY", timeout=TIMEOUT_MS)
    expect(page.locator("#timeline")).to_contain_text("CreateAccount")
    walk.check("request-ready", measure=False)
    walk.goto(f"#/accounts/{REQUEST_ID}", "account", re.compile(r"^Account \d{12}"))
    expect(page.locator("main")).to_contain_text('backend "s3"')
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the team guide (Markdown)").click()
    assert download.value.suggested_filename == f"{REQUEST_ID}-guide.md"
    assert "team-frontend" in download.value.path().read_text(encoding="utf-8")

    # WHEN the team's lead asks for a tier upgrade
    walk.sign_in("TeamFrontendLead")
    walk.goto(f"#/requests/{REQUEST_ID}", "request-as-lead", f"Request {REQUEST_ID}")
    page.get_by_label("New GPU tier").select_option("inference")
    page.get_by_role("button", name="Request the change").click()
    # THEN it waits for an approval, the lead has no approve button, and another team's request is refused
    expect(page.get_by_role("status")).to_contain_text("waits for a platform approval")
    walk.goto("#/changes", "changes-as-lead", "Changes and approvals")
    expect(page.locator("main")).to_contain_text("AWAITING_APPROVAL")
    assert page.get_by_role("button", name=re.compile("^Approve")).count() == 0
    walk.goto("#/requests/team-backend-staging", "forbidden", re.compile("^403"))

    # WHEN the approver approves it THEN the change is applied, approved by the approver's role
    walk.sign_in("Platform approver")
    walk.goto("#/changes", "changes", "Changes and approvals")
    page.get_by_role("button", name=re.compile(rf"^Approve {re.escape(REQUEST_ID)}\.c")).click()
    expect(page.locator("main .notice")).to_contain_text("Approved")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while "APPLIED" not in page.locator("main").inner_text() and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("Changes and approvals")
    expect(page.locator("main")).to_contain_text("APPLIED")
    expect(page.locator("main")).to_contain_text("role/PortalApprover")

    # WHEN the tier SCP is detached and the audit runs THEN the lead sees the finding with its remediation
    detached = detach_tier_policy_and_publish_audit(REQUEST_ID, "inference")
    walk.sign_in("TeamFrontendLead")
    walk.goto("#/findings", "findings", "Audit findings")
    expect(page.locator("main")).to_contain_text("missing_attachment")
    expect(page.locator("main")).to_contain_text(detached)
    expect(page.locator("main")).to_contain_text("vend audit --remediate")
    walk.goto("#/spend", "spend", "Spend per team")

    # Control: a session altered in the tab is refused by the API's signature check, not served
    page.evaluate(
        """() => { const k = 'vend.portal.credentials'; const c = JSON.parse(sessionStorage.getItem(k));
        c.secretAccessKey = c.secretAccessKey.slice(0, -1) + (c.secretAccessKey.endsWith('A') ? 'B' : 'A');
        sessionStorage.setItem(k, JSON.stringify(c)); }"""
    )
    page.goto(f"{hosted.url}/?page=tampered#/changes")
    expect(page.get_by_role("heading", level=1)).to_have_text("403 SignatureDoesNotMatch")

    # Every API call crossed origins signed (the preflights unsigned, as CORS requires); the site saw no signature
    api_calls = [r for r in walk.calls if r.url.startswith(hosted.api_url)]
    site_calls = [r for r in walk.calls if r.url.startswith(hosted.url)]
    signed = [r for r in api_calls if r.method != "OPTIONS"]
    assert len(signed) >= 30
    assert all(r.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential=ASIA") for r in signed)
    assert all("authorization" not in r.headers for r in site_calls)
    assert page.context.cookies() == []
    # AND signing out drops the session from the tab
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert page.evaluate("() => sessionStorage.getItem('vend.portal.credentials')") is None

    serious = {name: v for name, v in walk.violations.items() if v}
    (harness.artefacts_dir() / "hosted-portal-pages.json").write_text(
        json.dumps({"pages": walk.metrics, "axe_serious_or_critical": serious}, indent=1)
    )
    print(json.dumps(walk.metrics, indent=1))
    assert serious == {}, serious
    assert len(walk.violations) >= 12


# --- the Cognito sign-in, against endpoints that check the protocol -----------------------------------------------

COGNITO = {
    "kind": "cognito",
    "domain": "https://vend-portal-test.auth.us-east-1.amazoncognito.com",
    "userPoolClientId": "3n4b5urk1ft4fl3mg5e62d9ado",
    "identityPoolId": "us-east-1:4f5a0d0e-0f1c-4c5e-9d4b-2b8f6a1c9e10",
    "provider": "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",
}
ID_TOKEN = "eyJraWQiOiJ0ZXN0In0.eyJjb2duaXRvOmdyb3VwcyI6WyJ0ZWFtLWZyb250ZW5kLWxlYWRzIl19.c2lnbmF0dXJl"


class FakeCognito:
    """The hosted UI's /oauth2/authorize and /oauth2/token and the identity pool's GetId and GetCredentialsForIdentity,
    answered in the browser's network layer. Each request is checked as Cognito would: the PKCE verifier against
    the challenge, the state and redirect, and the identity calls' bodies against botocore's cognito-identity model.
    GetCredentialsForIdentity hands out a real emulator session of the role the token maps to (STS AssumeRole)."""

    def __init__(self, site: HostedSite, role: str, *, redirect_state: str | None = None) -> None:
        """`redirect_state`: the state the redirect carries instead of the one asked for (a forged answer)."""
        self.site, self.role, self.redirect_state = site, role, redirect_state
        self.challenge = self.state = ""
        self.problems: list[str] = []
        self.seen: list[str] = []

    def install(self, page: Page) -> None:
        page.route(f"{COGNITO['domain']}/oauth2/authorize?*", self.authorize)
        page.route(f"{COGNITO['domain']}/oauth2/token", self.token)
        page.route("https://cognito-identity.us-east-1.amazonaws.com/", self.identity)

    def _expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)

    def authorize(self, route: Any) -> None:
        from urllib.parse import parse_qs, urlsplit

        q = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        self.seen.append("authorize")
        self._expect(q.get("response_type") == "code", "authorize: response_type is not code (no implicit flow)")
        self._expect(q.get("client_id") == COGNITO["userPoolClientId"], "authorize: client_id")
        self._expect(q.get("redirect_uri") == self.site.url + "/", "authorize: redirect_uri")
        self._expect(q.get("code_challenge_method") == "S256", "authorize: PKCE S256")
        self.challenge, self.state = q.get("code_challenge", ""), q.get("state", "")
        state = self.redirect_state or self.state
        route.fulfill(status=302, headers={"Location": f"{self.site.url}/?code=the-code&state={state}"})

    def token(self, route: Any) -> None:
        import base64
        import hashlib
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(route.request.post_data or "").items()}
        self.seen.append("token")
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        self._expect(form.get("grant_type") == "authorization_code" and form.get("code") == "the-code", "token: code")
        self._expect(digest == self.challenge and len(verifier) >= 43, "token: PKCE verifier does not match")
        self._expect(form.get("redirect_uri") == self.site.url + "/", "token: redirect_uri")
        route.fulfill(
            status=200,
            headers={"Access-Control-Allow-Origin": self.site.url},
            content_type="application/json",
            body=json.dumps({"id_token": ID_TOKEN, "access_token": "a", "token_type": "Bearer", "expires_in": 3600}),
        )

    def identity(self, route: Any) -> None:
        import botocore.session
        from botocore.exceptions import ParamValidationError
        from botocore.validate import validate_parameters

        cors = {"Access-Control-Allow-Origin": self.site.url, "Access-Control-Allow-Headers": "*"}
        if route.request.method == "OPTIONS":
            route.fulfill(status=200, headers={**cors, "Access-Control-Allow-Methods": "POST"})
            return
        target = route.request.headers.get("x-amz-target", "")
        operation = target.removeprefix("AWSCognitoIdentityService.")
        self.seen.append(operation)
        model = botocore.session.get_session().get_service_model("cognito-identity")
        self._expect(operation in ("GetId", "GetCredentialsForIdentity"), f"identity: unexpected target {target}")
        self._expect(route.request.headers.get("content-type") == "application/x-amz-json-1.1", "identity: type")
        body = json.loads(route.request.post_data or "{}")
        try:
            validate_parameters(body, model.operation_model(operation).input_shape)
        except ParamValidationError as e:
            self.problems.append(f"{operation}: {e}")
        self._expect(body.get("Logins") == {COGNITO["provider"]: ID_TOKEN}, f"{operation}: Logins")
        if operation == "GetId":
            self._expect(body.get("IdentityPoolId") == COGNITO["identityPoolId"], "GetId: IdentityPoolId")
            answer: dict[str, Any] = {"IdentityId": "us-east-1:11111111-2222-3333-4444-555555555555"}
        else:
            self._expect(body.get("IdentityId", "").startswith("us-east-1:1111"), "GetCredentialsForIdentity: id")
            account = boto3.client("sts").get_caller_identity()["Account"]
            assumed = boto3.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{self.role}",
                RoleSessionName="CognitoIdentityCredentials",
                DurationSeconds=3600,
            )["Credentials"]
            answer = {
                "IdentityId": body["IdentityId"],
                "Credentials": {
                    "AccessKeyId": assumed["AccessKeyId"],
                    "SecretKey": assumed["SecretAccessKey"],
                    "SessionToken": assumed["SessionToken"],
                    "Expiration": int(assumed["Expiration"].timestamp()),
                },
            }
        route.fulfill(status=200, headers=cors, content_type="application/x-amz-json-1.1", body=json.dumps(answer))


@pytest.fixture
def cognito_site(hosted: HostedSite) -> Iterator[HostedSite]:
    site = HostedSite(sign_in=COGNITO).start()
    try:
        yield site
    finally:
        site.stop()


def test_the_cognito_sign_in_gets_a_role_session_and_the_api_sees_that_role(
    page: Page, cognito_site: HostedSite
) -> None:
    cognito = FakeCognito(cognito_site, "TeamFrontendLead")
    cognito.install(page)
    page.set_default_timeout(30_000)
    # GIVEN the hosted portal configured for Cognito WHEN the person signs in through the hosted UI
    page.goto(cognito_site.url + "/")
    page.get_by_role("button", name="Sign in").click()
    # THEN the code is exchanged (PKCE), the identity pool's session is kept, and the API answers as the lead's role
    expect(page.get_by_role("heading", level=1)).to_have_text("My requests")
    expect(page.locator("#who")).to_contain_text("lead: team-frontend")
    assert cognito.seen == ["authorize", "token", "GetId", "GetCredentialsForIdentity"]
    assert cognito.problems == []
    assert "code=" not in page.url  # the one-time code does not stay in the address bar or the history
    assert page.context.cookies() == []


def test_a_sign_in_that_comes_back_with_another_state_is_refused(page: Page, cognito_site: HostedSite) -> None:
    # GIVEN a hosted UI whose redirect carries another state than the tab asked for (an answer it did not start)
    cognito = FakeCognito(cognito_site, "TeamFrontendLead", redirect_state="forged")
    cognito.install(page)
    page.set_default_timeout(30_000)
    page.goto(cognito_site.url + "/")
    page.get_by_role("button", name="Sign in").click()
    # THEN the code is never exchanged and no session is kept
    expect(page.get_by_role("alert")).to_contain_text("sign-in state does not match")
    assert cognito.seen == ["authorize"]
    assert page.evaluate("() => sessionStorage.getItem('vend.portal.credentials')") is None
