"""Steps both portals share in the browser (the server-rendered one and the hosted one draw the same form, with the
same labels and error ids, so a person walks them alike)."""

from __future__ import annotations

import boto3
from playwright.sync_api import Page, expect


def fill_request_form(page: Page, team: str) -> None:
    """Fill the request form for `team`, a field wrong first: its error must show as it is typed (the API's own
    validation) and go once corrected, and the preview must follow the tier and the region."""
    page.get_by_label("Team (required)").fill(team)
    page.get_by_label("Stage (required)").select_option("staging")
    page.get_by_label("Owner email (required)").fill(f"{team}-leads@example.com")
    page.get_by_label("Cost center (required)").fill("1001")
    expect(page.locator("#err-cost_center")).to_contain_text("CC-1234", timeout=10_000)
    expect(page.get_by_label("Cost center (required)")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Cost center (required)").fill("CC-1001")
    expect(page.locator("#err-cost_center")).to_have_text("", timeout=10_000)
    page.get_by_label("Gpu tier (required)").select_option("none")
    page.get_by_label("us-east-1").check()
    page.get_by_label("Repository (required)").fill(f"example-org/{team}-infra")
    expect(page.locator("#preview")).to_contain_text("Monthly budget", timeout=10_000)
    expect(page.locator("#preview")).to_contain_text("us-east-1")


def detach_tier_policy_and_publish_audit(request_id: str, tier: str) -> str:
    """Someone detaches the account's tier SCP with the admin's credentials; the audit runs and publishes. Returns
    the detached policy's name (the finding names it)."""
    from vending.cli import main as vend
    from vending.lifecycle import RequestStore

    record = RequestStore(boto3.client("dynamodb"), "vending-requests").require(request_id)
    org = boto3.client("organizations")
    attached = org.list_policies_for_target(TargetId=record.account_id, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    policy = next(p for p in attached if p["Name"] != "FullAWSAccess" and tier in p["Name"])
    org.detach_policy(PolicyId=policy["Id"], TargetId=record.account_id)
    vend(["audit", "--publish", "--skip-budgets", "--skip-invocation-logging", "--json"])
    return str(policy["Name"])
