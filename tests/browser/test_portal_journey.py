"""The portal in a real browser (issue 25): headless Chromium walks a team from the form to READY, a tier change asked
by the team's lead and approved by the platform approver, and a finding after a tamper; every page is checked with
axe-core (no serious or critical violation), photographed, and its weight and first render recorded.

The portal is served in-process against the emulator, as `vend console` serves it. The team's first vend runs with
no Terraform provider reachable (the pipeline's real failure, TerraformUnavailable at CheckPipelines): the timeline
shows the failure and its cause and the admin resumes it; the resumed attempt's pipelines are recorded SUCCEEDED at
launch (benchmarks.vend_throughput.skipped_launch), since what is walked here is the portal, not Terraform (an applied
bootstrap is tested by tests/e2e/test_vending_state_machine.py).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from landing_zone.local.runtime import Deployment, Emulator, deploy
from tests.browser import harness
from tests.browser.steps import detach_tier_policy_and_publish_audit, fill_request_form

pytestmark = [pytest.mark.emulator]

TEAM, REQUEST_ID = "team-frontend", "team-frontend-staging"
TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def portal_url() -> Iterator[tuple[str, Deployment]]:
    from landing_zone.local.console import start_console

    with Emulator():
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        os.environ["VEND_PORTAL_QUIET"] = "1"
        deployment = deploy()
        server, url, _ = start_console()
        try:
            yield url, deployment
        finally:
            server.shutdown()
            server.server_close()


class Walk:
    """Visits pages, and for each: axe-core's serious/critical violations, a screenshot, weight and timings."""

    def __init__(self, page: Page, url: str) -> None:
        self.page, self.url = page, url
        self.metrics: dict[str, dict[str, Any]] = {}
        self.violations: dict[str, list[dict[str, Any]]] = {}

    def check(self, name: str, *, measure: bool = True) -> None:
        self.page.wait_for_load_state("load")
        if measure and name not in self.metrics:
            m = harness.page_metrics(self.page)
            self.metrics[name] = {
                "path": m["url"].removeprefix(self.url),
                "transfer_bytes": m["transfer_bytes"],
                "decoded_bytes": m["decoded_bytes"],
                "html_bytes": m["html_bytes"],
                "requests": m["requests"],
                "ttfb_ms": round(m["ttfb_ms"], 1),
                "first_contentful_paint_ms": round(m["fcp_ms"], 1),
                "dom_content_loaded_ms": round(m["dom_content_loaded_ms"], 1),
            }
        self.violations[name] = harness.axe_violations(self.page)
        harness.screenshot(self.page, f"portal-{name}")

    def goto(self, path: str, name: str) -> None:
        self.page.goto(self.url + path)
        self.check(name)

    def sign_in(self, principal: str) -> None:
        if self.page.get_by_role("button", name="Sign out").count():
            self.page.get_by_role("button", name="Sign out").click()
        self.page.goto(self.url + "/signin")
        self.page.locator(f'input[name="principal"][value="{principal}"]').check()
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", level=1)).to_have_text("My requests")


def _wait_status(page: Page, status: str) -> None:
    """The timeline refreshes itself (portal.js) and reloads the page once the request settles."""
    expect(page.locator("#timeline .status").first).to_have_text(status, timeout=TIMEOUT_MS)


def test_portal_journey_from_the_form_to_ready_a_change_approved_and_a_finding(
    page: Page, portal_url: tuple[str, Deployment], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = portal_url
    walk = Walk(page, url)
    page.set_default_timeout(60_000)

    # GIVEN the sign-in page WHEN the platform admin signs in
    walk.goto("/signin", "signin")
    walk.sign_in("PlatformAdmin")
    walk.check("requests-empty")
    assert not [c for c in page.context.cookies() if "ASIA" in c["value"] or "AKIA" in c["value"]]
    [cookie] = [c for c in page.context.cookies() if c["name"] == "vend_portal"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # WHEN the admin fills the form for the team, a field wrong first
    walk.goto("/requests/new", "request-form")
    fill_request_form(page, TEAM)
    walk.check("request-form-filled", measure=False)

    # WHEN it is submitted, with no Terraform provider reachable for the first attempt
    monkeypatch.setenv("VEND_TF_PROVIDER_MIRROR", "")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/nonexistent/terraformrc")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {REQUEST_ID}")
    walk.check("request-running")
    # THEN the live timeline ends FAILED at CheckPipelines with its cause
    _wait_status(page, "FAILED")
    expect(page.locator("#timeline")).to_contain_text("TerraformUnavailable")
    expect(page.locator("#timeline")).to_contain_text("CreateAccount")
    walk.check("request-failed", measure=False)

    # WHEN the admin resumes it (pipelines now recorded SUCCEEDED at launch)
    monkeypatch.undo()
    from benchmarks.vend_throughput import skipped_launch
    from vending.pipeline import orchestration

    monkeypatch.setattr(orchestration.LocalThreadLauncher, "launch", skipped_launch)
    page.get_by_role("button", name="Resume from CheckPipelines").click()
    # THEN the timeline reaches READY, the second attempt beside the first
    _wait_status(page, "READY")
    expect(page.locator("#timeline")).to_contain_text("Vend, attempt 2: SUCCEEDED")
    walk.check("request-ready", measure=False)
    walk.goto("/", "requests")
    walk.goto(f"/accounts/{REQUEST_ID}", "account")
    expect(page.locator("main")).to_contain_text("Guardrails, in plain words")
    expect(page.locator("main")).to_contain_text('backend "s3"')
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the team guide (Markdown)").click()
    assert download.value.suggested_filename == f"{REQUEST_ID}-guide.md"

    # WHEN the team's lead asks for a tier upgrade
    walk.sign_in("TeamFrontendLead")
    walk.goto(f"/requests/{REQUEST_ID}", "request-as-lead")
    page.get_by_label("New GPU tier").select_option("inference")
    page.get_by_role("button", name="Request the change").click()
    # THEN it waits for an approval, and the lead has no approve button
    expect(page.get_by_role("status")).to_contain_text("waits for a platform approval")
    walk.goto("/changes", "changes-as-lead")
    expect(page.locator("main")).to_contain_text("AWAITING_APPROVAL")
    assert page.get_by_role("button", name=re.compile("^Approve")).count() == 0
    # AND another team's pages are refused to the lead
    walk.goto("/requests/team-backend-staging", "forbidden")
    expect(page.get_by_role("heading", level=1)).to_contain_text("403")

    # WHEN the platform approver (another principal) approves it
    walk.sign_in("PlatformApprover")
    walk.goto("/changes", "changes")
    page.get_by_role("button", name=re.compile(rf"^Approve {re.escape(REQUEST_ID)}\.c")).click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    # THEN the change runs and is applied
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while "APPLIED" not in page.locator("main").inner_text() and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    expect(page.locator("main")).to_contain_text("APPLIED")
    expect(page.locator("main")).to_contain_text("role/PlatformApprover")
    walk.check("changes-applied", measure=False)

    # WHEN someone detaches the account's tier SCP with the admin's credentials, and the audit runs
    detached = detach_tier_policy_and_publish_audit(REQUEST_ID, "inference")
    # THEN the lead sees the finding on its account, with its remediation
    walk.sign_in("TeamFrontendLead")
    walk.goto("/findings", "findings")
    expect(page.locator("main")).to_contain_text("missing_attachment")
    expect(page.locator("main")).to_contain_text(detached)
    expect(page.locator("main")).to_contain_text("vend audit --remediate")
    walk.goto("/spend", "spend")
    expect(page.get_by_role("heading", level=1)).to_have_text("Spend per team")

    # AND no page had a serious or critical axe-core violation
    serious = {name: v for name, v in walk.violations.items() if v}
    out = harness.artefacts_dir() / "portal-pages.json"
    out.write_text(json.dumps({"pages": walk.metrics, "axe_serious_or_critical": serious}, indent=1))
    print(json.dumps(walk.metrics, indent=1))
    assert serious == {}, serious
    assert len(walk.violations) >= 14
