"""The portal (issue 25) on the emulator, without a browser: pages render from the API as the signed-in principal,
who you are decides what you see, the browser never receives AWS keys, every POST needs its CSRF token, field errors
are reported per field, and nobody approves their own change."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import boto3
import pytest

from landing_zone.local.demo import request_for
from tests.portal.conftest import Client, client
from vending.layout import cached_layout
from vending.lifecycle import RequestStore, Status

pytestmark = [pytest.mark.emulator]

FRONTEND, BACKEND = "team-frontend-staging", "team-backend-staging"
PAGES = ("/", "/requests/new", "/changes", "/findings", "/spend")


def _ready(team: str, account_id: str) -> None:
    """A READY record, as the vending workflow leaves it."""
    store = RequestStore(boto3.client("dynamodb"), "vending-requests")
    request = request_for(cached_layout().team(team))  # type: ignore[arg-type]
    if store.get(request.request_id) is None:
        store.reserve(request, f"vend-{request.request_id}-a1")
        store.update(request.request_id, status=Status.READY, step="RecordReady", account_id=account_id)


@pytest.fixture(scope="module")
def seeded(console: tuple[str, Any, Any]) -> str:
    _ready("team-frontend", "210987654321")
    _ready("team-backend", "210987654322")
    return str(console[0])


def _api(portal: Any, principal_arn: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """The resolver as the portal calls it, for a caller ARN (no sign-in)."""
    from vending.api.routes import resolve
    from vending.portal.app import _LambdaContext, api_event

    path, _, query = path.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&")) if query else None
    event = api_event(method, path, caller=principal_arn, account=portal.account, body=body, query=params)
    result = resolve(event, _LambdaContext())
    return result["statusCode"], json.loads(result["body"] or "null")


def test_portal_every_page_renders_for_the_admin_and_the_form_follows_the_request_schema(seeded: str) -> None:
    from vending.request import VendingRequest

    # GIVEN the platform admin signed in
    admin = client(seeded, "PlatformAdmin")
    # WHEN each page is opened THEN each answers 200 HTML with one h1, a main landmark and the nav
    for path in (*PAGES, f"/requests/{FRONTEND}", f"/accounts/{FRONTEND}"):
        page = admin.get(path)
        assert page.status == 200, (path, page.text[page.text.find("<main") :][:1500])
        assert (
            page.header(
                "Content-Type",
            )
            == "text/html; charset=utf-8"
        )
        assert page.text.count("<h1") == 1 and '<main id="main"' in page.text and 'aria-label="Main"' in page.text
    # AND the form has a labelled control for every field of the request model's JSON schema
    form = admin.get("/requests/new").text
    for name in VendingRequest.model_json_schema()["properties"]:
        assert f'name="{name}"' in form, name
        assert re.search(rf'<label for="f-{name}"|<legend>{name.replace("_", " ").capitalize()}', form, re.I), name
    # AND the account page carries the guardrails in plain words, the backend block and the guide download
    account = html.unescape(admin.get(f"/accounts/{FRONTEND}").text)
    assert "Guardrails, in plain words" in account and 'backend "s3"' in account
    guide = admin.get(f"/accounts/{FRONTEND}/guide.md")
    assert guide.status == 200 and guide.header("Content-Disposition") == f'attachment; filename="{FRONTEND}-guide.md"'
    assert guide.text.startswith("# team-frontend (staging)")


def test_portal_reports_each_bad_field_and_creates_nothing(seeded: str) -> None:
    admin = client(seeded, "PlatformAdmin")
    page = admin.get("/requests/new")
    bad = {
        "csrf": admin.csrf(page),
        "team": "Team_Bad",
        "stage": "staging",
        "owner_email": "not-an-email",
        "cost_center": "1234",
        "gpu_tier": "none",
        "regions": ["us-east-1"],
        "repository": "example-org/new-team-infra",
        "action": "submit",
    }
    # WHEN the as-you-type check runs on the draft (the JS endpoint)
    checked = admin.post("/validate", bad, headers={"X-CSRF-Token": bad["csrf"]})
    # THEN each bad field is named with its own message, and the good ones are not
    fields = {e["field"] for e in json.loads(checked.text)["errors"]}
    assert fields == {"team", "owner_email", "cost_center"}, checked.text
    # WHEN the form is submitted without JS
    answer = admin.post("/requests/new", bad)
    # THEN 400 with the error text under each bad field, marked invalid, and nothing was created
    assert answer.status == 400
    for name in ("team", "owner_email", "cost_center"):
        err = re.search(rf'<p class="error-text" id="err-{name}" aria-live="polite">([^<]*)</p>', answer.text)
        assert err and err.group(1).strip(), name
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', answer.text, re.S), name
    err_stage = re.search(r'id="err-stage" aria-live="polite">([^<]*)</p>', answer.text)
    assert err_stage and not err_stage.group(1).strip()
    assert RequestStore(boto3.client("dynamodb"), "vending-requests").get("team-bad-staging") is None
    # AND the draft's good fields are kept in the form
    assert 'value="example-org/new-team-infra"' in answer.text


def test_portal_lead_sees_only_its_teams_on_pages_and_api(seeded: str, console: tuple[str, Any, Any]) -> None:
    portal = console[1]
    account = portal.account
    # GIVEN the lead of team-frontend signed in
    lead = client(seeded, "TeamFrontendLead")
    # WHEN it lists requests THEN only team-frontend's show
    listing = lead.get("/").text
    assert FRONTEND in listing and BACKEND not in listing
    # AND team-backend's request and account pages are refused (403), while its own open
    for path in (f"/requests/{BACKEND}", f"/accounts/{BACKEND}", f"/accounts/{BACKEND}/guide.md"):
        assert lead.get(path).status == 403, path
    for path in (f"/requests/{FRONTEND}", f"/accounts/{FRONTEND}"):
        assert lead.get(path).status == 200, path
    # AND at the API: 403 NotPermitted for team-backend, with no record leaked
    frontend_lead = f"arn:aws:sts::{account}:assumed-role/TeamFrontendLead/x"
    status, body = _api(portal, frontend_lead, "GET", f"/requests/{BACKEND}")
    assert (status, body["code"]) == (403, "NotPermitted") and "account_id" not in body
    status, body = _api(portal, frontend_lead, "GET", "/requests?team=team-backend")
    assert (status, body["code"]) == (403, "NotPermitted")
    status, body = _api(portal, frontend_lead, "GET", "/requests")
    assert status == 200 and {r["team"] for r in body["requests"]} == {"team-frontend"}
    # AND it may not submit for another team
    other = request_for(cached_layout().team("team-backend"), stage="production")  # type: ignore[arg-type]
    status, body = _api(portal, frontend_lead, "POST", "/requests", other.model_dump(mode="json"))
    assert (status, body["code"]) == (403, "NotPermitted"), body
    # NEGATIVE CONTROL: the lead listed for team-backend does see it
    status, body = _api(portal, f"arn:aws:sts::{account}:assumed-role/TeamBackendLead/y", "GET", f"/requests/{BACKEND}")
    assert status == 200 and body["team"] == "team-backend"
    assert client(seeded, "TeamBackendLead").get(f"/accounts/{BACKEND}").status == 200
    # AND a role that is neither a platform principal nor a lead is refused everything
    stranger = f"arn:aws:sts::{account}:assumed-role/SomeoneElse/z"
    for path in ("/requests", f"/requests/{FRONTEND}", "/findings", "/spend", "/changes", "/me"):
        status, body = _api(portal, stranger, "GET", path)
        assert (status, body["code"]) == (403, "NotPermitted"), path
    # AND a role named like the lead but in another account is someone else
    status, body = _api(portal, "arn:aws:sts::999999999999:assumed-role/TeamFrontendLead/x", "GET", "/requests")
    assert (status, body["code"]) == (403, "NotPermitted")


def test_portal_browser_never_receives_aws_keys_and_the_cookie_is_opaque(
    seeded: str, console: tuple[str, Any, Any]
) -> None:
    portal = console[1]
    browsers: list[Client] = []
    for principal in ("PlatformAdmin", "PlatformApprover", "TeamFrontendLead"):
        # WHEN each principal signs in and opens every page
        c = client(seeded, principal)
        for path in (*PAGES, f"/requests/{FRONTEND}", f"/accounts/{FRONTEND}", f"/accounts/{FRONTEND}/guide.md"):
            c.get(path)
        browsers.append(c)
    # THEN the session cookie is HttpOnly and SameSite=Strict
    set_cookie = next(v for c in browsers for r in c.seen for v in r.set_cookies() if v.startswith("vend_portal="))
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    # AND no answer, header or cookie carries any session's key id, secret or token
    secrets = [v for s in portal.sessions._items.values() for v in s.signed_in.credentials.values()]
    assert len(secrets) >= 9
    leaked = [
        (r.status, secret[:8])
        for c in browsers
        for r in c.seen
        for secret in secrets
        if secret in r.text or any(secret in v for _, v in r.headers)
    ]
    assert leaked == []
    assert not any(re.search(r"(ASIA|AKIA)[A-Z0-9]{16}", r.text) for c in browsers for r in c.seen)
    # WHEN one signs out THEN its session is gone on the server and its cookie no longer opens a page
    c = browsers[0]
    sid = c.cookies["vend_portal"]
    page = c.get("/")
    assert c.post("/signout", {"csrf": c.csrf(page)}).status == 303
    assert portal.sessions.get(sid) is None
    replay = Client(seeded, cookies={"vend_portal": sid})
    assert replay.get("/").status == 303 and replay.get("/").header("Location") == "/signin"


def test_portal_refuses_a_post_without_its_csrf_token(seeded: str) -> None:
    admin = client(seeded, "PlatformAdmin")
    token = admin.csrf(admin.get("/requests/new"))
    form = {"team": "team-csrf", "stage": "staging"}
    # WHEN a form is posted with no token, or another's token THEN 403 and nothing happens
    assert admin.post("/requests/new", form).status == 403
    forged = ("y" if token.startswith("x") else "x") + token[1:]  # never the token itself (1 in 64 began with "x")
    assert admin.post("/requests/new", {**form, "csrf": forged}).status == 403
    assert admin.post("/validate", form).status == 403
    assert admin.post(f"/requests/{FRONTEND}/change", {"gpu_tier": "training"}).status == 403
    assert RequestStore(boto3.client("dynamodb"), "vending-requests").get(FRONTEND).status == Status.READY  # type: ignore[union-attr]
    # AND sign-in without the sign-in form's token is refused
    fresh = Client(seeded)
    assert fresh.post("/signin", {"principal": "PlatformAdmin"}).status == 403
    # NEGATIVE CONTROL: with the token the same form is taken (and answered with its field errors)
    assert admin.post("/requests/new", {**form, "csrf": token}).status == 400


def test_portal_lead_files_a_change_that_only_another_principal_approves(seeded: str) -> None:
    # GIVEN the lead of team-backend signed in
    lead = client(seeded, "TeamBackendLead")
    page = lead.get(f"/requests/{BACKEND}")
    # WHEN it asks for a tier downgrade (which an admin could run at once)
    filed = lead.post(f"/requests/{BACKEND}/change", {"csrf": lead.csrf(page), "gpu_tier": "none"})
    # THEN the change waits for an approval, since a lead filed it
    assert filed.status == 303 and filed.header("Location") == f"/requests/{BACKEND}?notice=change-awaits-approval"
    changes = lead.get("/changes").text
    assert "AWAITING_APPROVAL" in changes and "filed by a lead of team-backend" in changes
    assert "Approve " not in changes  # no approve button for a lead
    # AND the lead cannot approve it (403), nor can the admin... who may approve, since someone else asked
    change_id = re.search(rf"({BACKEND}\.c\d+)", changes).group(1)  # type: ignore[union-attr]
    refused = lead.post(f"/changes/{change_id}/approve", {"csrf": lead.csrf(lead.get("/changes"))})
    assert refused.status == 403 and "may not approve" in refused.text
    # WHEN the approver approves it THEN it runs, approved by the approver
    approver = client(seeded, "PlatformApprover")
    listing = approver.get("/changes")
    assert f"Approve {change_id}" in listing.text
    approved = approver.post(f"/changes/{change_id}/approve", {"csrf": approver.csrf(listing)})
    assert approved.status == 303, approved.text[:500]
    assert "role/PlatformApprover" in approver.get("/changes").text


def test_portal_refuses_approving_ones_own_change(seeded: str) -> None:
    # GIVEN the admin files a tier upgrade for team-frontend (an upgrade waits for an approval)
    admin = client(seeded, "PlatformAdmin")
    page = admin.get(f"/requests/{FRONTEND}")
    filed = admin.post(f"/requests/{FRONTEND}/change", {"csrf": admin.csrf(page), "gpu_tier": "training"})
    assert filed.header("Location") == f"/requests/{FRONTEND}?notice=change-awaits-approval", filed.text[:500]
    listing = admin.get("/changes")
    change_id = re.search(rf"({FRONTEND}\.c\d+)", listing.text).group(1)  # type: ignore[union-attr]
    # WHEN the same admin approves it (another session of the same role, too)
    mine = admin.post(f"/changes/{change_id}/approve", {"csrf": admin.csrf(listing)})
    again = client(seeded, "PlatformAdmin")
    theirs = again.post(f"/changes/{change_id}/approve", {"csrf": again.csrf(again.get("/changes"))})
    # THEN both are refused as a self-approval and the change still waits
    for answer in (mine, theirs):
        assert answer.status == 422 and "SelfApproval" in answer.text
    assert "AWAITING_APPROVAL" in admin.get("/changes").text
