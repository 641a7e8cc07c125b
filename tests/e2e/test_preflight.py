"""`vend platform preflight` on the emulator (IAM enforced, as the platform admin): every check passes on an
organization set right, and each one reports its own failure, with its fix, once that setting is planted wrong."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from landing_zone.local.billing_and_quotas import billing_saw_tags, set_quota
from landing_zone.local.runtime import REGION, Deployment, Emulator
from vending.cli import main as vend
from vending.layout import Layout, cached_layout
from vending.preflight import (
    ACCOUNTS_QUOTA,
    CODEBUILD_QUOTA,
    TRUSTED_SERVICES,
    CheckResult,
    PreflightClients,
    Status,
    run_preflight,
)

# The CDKToolkit stack as `cdk bootstrap` leaves it, reduced to what the check reads: its version parameter.
BOOTSTRAP_TEMPLATE = textwrap.dedent(
    """
    Resources:
      CdkBootstrapVersion:
        Type: AWS::SSM::Parameter
        Properties: {Name: /cdk-bootstrap/hnb659fds/version, Type: String, Value: "27"}
    """
)


@pytest.fixture(scope="module")
def admin(emulator: tuple[Emulator, Deployment]) -> Iterator[tuple[boto3.Session, Deployment]]:
    # deploy() made this process the platform admin (PlatformAdmin's credentials in the environment)
    yield boto3.Session(region_name=REGION), emulator[1]


def _clients(session: boto3.Session) -> PreflightClients:
    return PreflightClients(
        organizations=session.client("organizations"),
        service_quotas=session.client("service-quotas"),
        ce=session.client("ce", region_name="us-east-1"),
        cloudformation=session.client("cloudformation"),
        ssm=session.client("ssm"),
        sts=session.client("sts"),
    )


def _ready_layout() -> Layout:
    layout = cached_layout()
    organization = layout.organization.model_copy(
        update={"account_email_pattern": "aws+{team}-{stage}@platform.acme-corp.io"}
    )
    return layout.model_copy(update={"organization": organization})


def _by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


def _org_backend(account: str) -> Any:
    from moto.organizations.models import organizations_backends

    return organizations_backends[account]["aws"]


def test_preflight_passes_on_a_ready_org_and_reports_each_setting_planted_wrong(
    admin: tuple[boto3.Session, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    session, deployment = admin
    account = deployment.management_account_id
    org = session.client("organizations")
    root = org.list_roots()["Roots"][0]["Id"]

    # GIVEN an organization set right: tag policies on, trusted access for the platform's services, quotas raised,
    # the mandatory tags active as cost-allocation tags, CDK bootstrapped, a root-mail domain that receives mail
    # (the deployment's guardrail reconcile already enabled tag policies: it attaches them)
    enabled = {t["Type"] for t in org.list_roots()["Roots"][0].get("PolicyTypes", []) if t["Status"] == "ENABLED"}
    assert "TAG_POLICY" in enabled
    for service in TRUSTED_SERVICES:
        org.enable_aws_service_access(ServicePrincipal=service)
    set_quota(account, *CODEBUILD_QUOTA, 10)
    billing_saw_tags(account, cached_layout().organization.mandatory_tags)
    assert vend(["costs", "--activate-tags"]) == 0  # the fix the check names, through the CLI
    session.client("cloudformation").create_stack(StackName="CDKToolkit", TemplateBody=BOOTSTRAP_TEMPLATE)
    # WHEN the preflight runs
    ready = _by_check(run_preflight(_clients(session), _ready_layout(), region=REGION))
    # THEN every check passes
    assert {name: r.status for name, r in ready.items()} == dict.fromkeys(ready, Status.PASS), ready
    assert len(ready) == 12

    # GIVEN each setting planted wrong
    _org_backend(account).org.feature_set = "CONSOLIDATED_BILLING"
    org.disable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    org.disable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    org.disable_aws_service_access(ServicePrincipal="config.amazonaws.com")
    # a member account whose access role has another name (as an invited account would)
    org.create_account(Email="invited@platform.acme-corp.io", AccountName="invited", RoleName="SomeOtherRole")
    # ten closed accounts: CloseAccount's rolling allowance (10% of members, at least 10) may be spent
    for n in range(10):
        status = org.create_account(Email=f"old{n}@platform.acme-corp.io", AccountName=f"old{n}")
        org.close_account(AccountId=status["CreateAccountStatus"]["AccountId"])
    set_quota(account, *ACCOUNTS_QUOTA, 12)  # 12 accounts used, the layout's teams need 6 more
    set_quota(account, *CODEBUILD_QUOTA, 1)  # a new account's CodeBuild quota
    session.client("ce", region_name="us-east-1").update_cost_allocation_tags_status(
        CostAllocationTagsStatus=[{"TagKey": "stage", "Status": "Inactive"}]
    )
    session.client("cloudformation").delete_stack(StackName="CDKToolkit")
    # WHEN the preflight runs through the CLI, with the repository's layout (example.com: the placeholder domain)
    capsys.readouterr()
    assert vend(["platform", "preflight", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    wrong = {c["check"]: c for c in report["checks"]}
    # THEN each check reports its own failure, with its fix
    assert report["ok"] is False
    assert {name: c["status"] for name, c in wrong.items()} == {
        "organization": "fail",
        "scp-policy-type": "fail",
        "tag-policy-type": "fail",
        "trusted-access": "fail",
        "access-role": "warn",
        "account-quota": "fail",
        "close-account-quota": "warn",
        "codebuild-concurrency": "fail",
        "cost-allocation-tags": "fail",
        "root-mail-domain": "fail",
        # the repository's layout allows the platform's region (tests/guardrails/test_usage_forwarding.py plants it)
        "platform-region-allowed": "pass",
        "cdk-bootstrap": "fail",
    }
    assert "CONSOLIDATED_BILLING" in wrong["organization"]["detail"]
    assert "enable-all-features" in wrong["organization"]["fix"]
    assert wrong["scp-policy-type"]["fix"].endswith(f"--root-id {root} --policy-type SERVICE_CONTROL_POLICY")
    assert wrong["tag-policy-type"]["fix"].endswith(f"--root-id {root} --policy-type TAG_POLICY")
    assert "config.amazonaws.com" in wrong["trusted-access"]["detail"]
    assert "tagpolicies" not in wrong["trusted-access"]["detail"]  # still enabled: only the missing one is named
    assert "OrganizationAccountAccessRole cannot be assumed" in wrong["access-role"]["detail"]
    assert "12 of 12 accounts used" in wrong["account-quota"]["detail"]
    assert "--quota-code L-E619E033 --desired-value 18" in wrong["account-quota"]["fix"]
    assert "10 account(s) closing or closed" in wrong["close-account-quota"]["detail"]
    assert "1 concurrent Linux/Small builds" in wrong["codebuild-concurrency"]["detail"]
    assert "--desired-value 10" in wrong["codebuild-concurrency"]["fix"]
    assert wrong["cost-allocation-tags"]["detail"] == "inactive: stage"
    assert wrong["cost-allocation-tags"]["fix"] == "vend costs --activate-tags"
    assert "example.com" in wrong["root-mail-domain"]["detail"]
    assert wrong["cdk-bootstrap"]["fix"] == f"cdk bootstrap aws://{account}/{REGION}"

    # AND the human output is one line per check with its fix under it
    assert vend(["platform", "preflight"]) == 1
    lines = capsys.readouterr().out.splitlines()
    status_lines = [line for line in lines if line.split(" ", 1)[0] in ("PASS", "WARN", "FAIL")]
    assert len(status_lines) == 12
    assert sum(1 for line in lines if line.strip().startswith("fix:")) == 11
