"""`vend platform preflight`: is this organization ready for the first deploy? One result per check, with its fix.

Read-only: every check reads (Organizations, Service Quotas, Cost Explorer, CloudFormation, SSM, STS) and changes
nothing. A check whose read is refused reports that as its failure, naming the call, rather than guessing.
Run it in the management account, in the region the stack will be deployed to.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from vending.layout import Layout
from vending.settings import PIPELINE_CONCURRENT_BUILDS

# The services whose trusted access the platform relies on, and why.
TRUSTED_SERVICES = {
    "config.amazonaws.com": "the guardrail audit's organization-wide inventory (an AWS Config organization aggregator)",
    "tagpolicies.tag.amazonaws.com": "tag-policy compliance across the organization (scps/tag_policy.py)",
}
ACCOUNTS_QUOTA = ("organizations", "Default maximum number of accounts")
# The pipeline project runs on Linux, compute type SMALL (landing_zone/cdk/pipeline.py); CloudFormation refuses a
# project whose concurrent build limit exceeds this account quota, so the first deploy would fail on it.
CODEBUILD_QUOTA = ("codebuild", "Concurrently running builds for Linux/Small environment")
# CloseAccount: 10% of the member accounts, at least 10 and at most 1,000, per rolling 30 days
# (https://docs.aws.amazon.com/organizations/latest/APIReference/API_CloseAccount.html). Not a Service Quotas quota.
CLOSE_ACCOUNT_SHARE, CLOSE_ACCOUNT_MIN, CLOSE_ACCOUNT_MAX = 0.10, 10, 1000
# The bootstrap version the synthesized assembly requires (the highest requiresBootstrapStackVersion in its manifest,
# the lookup role's; tests/cdk checks it against the synthesized stack).
MIN_BOOTSTRAP_VERSION = 8
DEFAULT_QUALIFIER = "hnb659fds"
# A stack in any other state (failed, rolled back, deleted, in progress) is no usable bootstrap.
USABLE_STACK_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")
BOOTSTRAP_STACK = "CDKToolkit"
# RFC 2606 / RFC 6761: names that never receive mail. An account's root e-mail must reach a person.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "test", "invalid", "localhost")
IAM_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 (a check status, not a password)
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {**asdict(self), "status": self.status.value}


@dataclass(frozen=True)
class PreflightClients:
    """The clients of the management account the checks read with (Cost Explorer's endpoint is us-east-1)."""

    organizations: Any
    service_quotas: Any
    ce: Any
    cloudformation: Any
    ssm: Any
    sts: Any


def run_preflight(
    clients: PreflightClients, layout: Layout, *, region: str, qualifier: str = DEFAULT_QUALIFIER
) -> list[CheckResult]:
    """Every check, in the order an admin fixes them; a refused or failing read is that check's failure."""
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("organization", lambda: check_organization(clients.organizations, clients.sts)),
        ("scp-policy-type", lambda: check_policy_type(clients.organizations, "SERVICE_CONTROL_POLICY")),
        ("tag-policy-type", lambda: check_policy_type(clients.organizations, "TAG_POLICY")),
        ("trusted-access", lambda: check_trusted_access(clients.organizations)),
        ("access-role", lambda: check_access_role(clients.organizations, clients.sts, layout)),
        ("account-quota", lambda: check_account_quota(clients.organizations, clients.service_quotas, layout)),
        ("close-account-quota", lambda: check_close_account_quota(clients.organizations)),
        ("codebuild-concurrency", lambda: check_codebuild_concurrency(clients.service_quotas, region)),
        ("cost-allocation-tags", lambda: check_cost_allocation_tags(clients.ce, layout)),
        ("root-mail-domain", lambda: check_root_mail_domain(layout)),
        ("platform-region-allowed", lambda: check_platform_region_allowed(layout, region)),
        (
            "cdk-bootstrap",
            lambda: check_cdk_bootstrap(clients.cloudformation, clients.ssm, clients.sts, region, qualifier),
        ),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(check())
        except ClientError as e:
            error = e.response.get("Error", {})
            results.append(
                CheckResult(
                    name,
                    Status.FAIL,
                    f"{e.operation_name} answered {error.get('Code')}: {error.get('Message')}",
                    f"run the preflight as the platform admin in the management account; it needs {e.operation_name}",
                )
            )
    return results


def failed(results: list[CheckResult]) -> bool:
    return any(r.status is Status.FAIL for r in results)


def check_organization(org: Any, sts: Any) -> CheckResult:
    organization = org.describe_organization()["Organization"]
    caller = sts.get_caller_identity()["Account"]
    if organization["MasterAccountId"] != caller:
        return CheckResult(
            "organization",
            Status.FAIL,
            f"running in {caller}, not in the management account {organization['MasterAccountId']}",
            "run the preflight and the deploy with credentials of the management account "
            "(CreateAccount works only there)",
        )
    if organization["FeatureSet"] != "ALL":
        return CheckResult(
            "organization",
            Status.FAIL,
            f"{organization['Id']} has feature set {organization['FeatureSet']}: no SCPs, no CloseAccount",
            "aws organizations enable-all-features  (then every member account accepts the handshake)",
        )
    return CheckResult("organization", Status.PASS, f"{organization['Id']}: all features, management account {caller}")


def check_policy_type(org: Any, policy_type: str) -> CheckResult:
    name = "scp-policy-type" if policy_type == "SERVICE_CONTROL_POLICY" else "tag-policy-type"
    root = org.list_roots()["Roots"][0]
    enabled = {t["Type"] for t in root.get("PolicyTypes", []) if t.get("Status") == "ENABLED"}
    if policy_type in enabled:
        return CheckResult(name, Status.PASS, f"{policy_type} enabled on {root['Id']}")
    return CheckResult(
        name,
        Status.FAIL,
        f"{policy_type} is not enabled on the root {root['Id']}",
        f"aws organizations enable-policy-type --root-id {root['Id']} --policy-type {policy_type}",
    )


def check_trusted_access(org: Any) -> CheckResult:
    enabled: set[str] = set()
    for page in org.get_paginator("list_aws_service_access_for_organization").paginate():
        enabled |= {s["ServicePrincipal"] for s in page["EnabledServicePrincipals"]}
    missing = [s for s in TRUSTED_SERVICES if s not in enabled]
    if not missing:
        return CheckResult("trusted-access", Status.PASS, f"enabled for {', '.join(TRUSTED_SERVICES)}")
    return CheckResult(
        "trusted-access",
        Status.FAIL,
        "; ".join(f"{s} not trusted ({TRUSTED_SERVICES[s]})" for s in missing),
        "  &&  ".join(f"aws organizations enable-aws-service-access --service-principal {s}" for s in missing),
    )


def _member_accounts(org: Any) -> list[dict[str, Any]]:
    accounts = [a for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
    master = org.describe_organization()["Organization"]["MasterAccountId"]
    return [a for a in accounts if a["Id"] != master]


def _state(account: dict[str, Any]) -> str:
    return str(account.get("State") or account.get("Status") or "")


def check_access_role(org: Any, sts: Any, layout: Layout, *, probe: int = 3) -> CheckResult:
    """The layout's access role: a valid IAM name, exempt from the guardrails, and assumable in the member accounts
    already there (up to `probe` of them: an invited account has no such role unless someone made it)."""
    name = layout.organization.access_role_name
    if not IAM_ROLE_NAME.match(name):
        return CheckResult(
            "access-role", Status.FAIL, f"{name!r} is not a valid IAM role name", "fix access_role_name in layout.yaml"
        )
    if name not in layout.organization.platform_role_names:
        return CheckResult(
            "access-role",
            Status.FAIL,
            f"{name} is not in platform_role_names: the guardrails would fence the platform out",
            "add it to organization.platform_role_names in layout.yaml",
        )
    active = [a for a in _member_accounts(org) if _state(a) == "ACTIVE"][:probe]
    refused = []
    for account in active:
        arn = f"arn:aws:iam::{account['Id']}:role/{name}"
        try:
            sts.assume_role(RoleArn=arn, RoleSessionName="vend-preflight", DurationSeconds=900)
        except ClientError as e:
            refused.append(f"{account['Id']} ({e.response.get('Error', {}).get('Code')})")
    if refused:
        return CheckResult(
            "access-role",
            Status.WARN,
            f"{name} cannot be assumed in {', '.join(refused)}: accounts vended there (adopted by e-mail) would fail "
            "at Bootstrap",
            f"create {name} in those accounts trusting the management account, or set access_role_name to the role "
            "they have",
        )
    probed = f"; assumed in {len(active)} member account(s)" if active else "; no member account to probe yet"
    return CheckResult(
        "access-role", Status.PASS, f"{name}: CreateAccount creates it, the guardrails exempt it{probed}"
    )


def _quota(sq: Any, service_code: str, quota_name: str) -> dict[str, Any] | None:
    for page in sq.get_paginator("list_service_quotas").paginate(ServiceCode=service_code):
        for quota in page["Quotas"]:
            if quota["QuotaName"] == quota_name:
                return dict(quota)
    return None


def accounts_needed(layout: Layout) -> int:
    """One account per team and stage of the layout."""
    return len(layout.teams) * len(layout.stage_ous)


def check_account_quota(org: Any, sq: Any, layout: Layout) -> CheckResult:
    service, quota_name = ACCOUNTS_QUOTA
    quota = _quota(sq, service, quota_name)
    if quota is None:
        return CheckResult(
            "account-quota",
            Status.WARN,
            f"no {service} quota named {quota_name!r}",
            "check it in the Service Quotas console",
        )
    in_org = len(_member_accounts(org)) + 1
    limit, needed = int(quota["Value"]), accounts_needed(layout)
    detail = f"{in_org} of {limit} accounts used; the layout's teams need {needed} more"
    if in_org + needed <= limit:
        return CheckResult("account-quota", Status.PASS, detail)
    return CheckResult(
        "account-quota",
        Status.FAIL,
        detail,
        f"aws service-quotas request-service-quota-increase --service-code {service} "
        f"--quota-code {quota['QuotaCode']} --desired-value {in_org + needed}",
    )


def close_account_allowance(members: int) -> int:
    return max(CLOSE_ACCOUNT_MIN, min(CLOSE_ACCOUNT_MAX, math.floor(members * CLOSE_ACCOUNT_SHARE)))


def check_close_account_quota(org: Any) -> CheckResult:
    members = _member_accounts(org)
    allowance = close_account_allowance(len([a for a in members if _state(a) == "ACTIVE"]))
    closing = [a["Id"] for a in members if _state(a) in ("PENDING_CLOSURE", "SUSPENDED")]
    detail = (
        f"CloseAccount allows {allowance} closures per rolling 30 days; {len(closing)} account(s) closing or closed"
    )
    if len(closing) < allowance:
        return CheckResult("close-account-quota", Status.PASS, detail)
    return CheckResult(
        "close-account-quota",
        Status.WARN,
        detail + " (suspended accounts stay listed for 90 days, so the allowance may already be spent)",
        "retirements will queue until the window frees a slot: `vend account closures --drain` retries them",
    )


def check_codebuild_concurrency(sq: Any, region: str) -> CheckResult:
    service, quota_name = CODEBUILD_QUOTA
    quota = _quota(sq, service, quota_name)
    if quota is None:
        return CheckResult(
            "codebuild-concurrency",
            Status.WARN,
            f"no {service} quota named {quota_name!r} in {region}",
            "check CodeBuild's concurrent-build quota for Linux/Small in the Service Quotas console",
        )
    value = int(quota["Value"])
    detail = (
        f"{value} concurrent Linux/Small builds in {region}; the pipeline project asks for {PIPELINE_CONCURRENT_BUILDS}"
    )
    if value >= PIPELINE_CONCURRENT_BUILDS:
        return CheckResult("codebuild-concurrency", Status.PASS, detail)
    return CheckResult(
        "codebuild-concurrency",
        Status.FAIL,
        detail + ": CloudFormation refuses the project",
        f"aws service-quotas request-service-quota-increase --region {region} --service-code {service} "
        f"--quota-code {quota['QuotaCode']} --desired-value {PIPELINE_CONCURRENT_BUILDS}",
    )


def check_cost_allocation_tags(ce: Any, layout: Layout) -> CheckResult:
    keys = layout.organization.mandatory_tags
    listed = {
        t["TagKey"]: t["Status"]
        for t in ce.list_cost_allocation_tags(TagKeys=list(keys), Type="UserDefined").get("CostAllocationTags", [])
    }
    unseen = [k for k in keys if k not in listed]
    inactive = [k for k in keys if listed.get(k) == "Inactive"]
    if not unseen and not inactive:
        return CheckResult("cost-allocation-tags", Status.PASS, f"active: {', '.join(keys)}")
    problems = ([f"inactive: {', '.join(inactive)}"] if inactive else []) + (
        [f"not seen by Billing yet: {', '.join(unseen)}"] if unseen else []
    )
    fixes = (["vend costs --activate-tags"] if inactive else []) + (
        ["tag any resource with the unseen keys, wait for Billing (up to 24 h), then `vend costs --activate-tags`"]
        if unseen
        else []
    )
    return CheckResult("cost-allocation-tags", Status.FAIL, "; ".join(problems), "; ".join(fixes))


def root_mail_domain(layout: Layout) -> str:
    return layout.organization.account_email_pattern.rpartition("@")[2].lower()


def check_root_mail_domain(layout: Layout) -> CheckResult:
    domain = root_mail_domain(layout)
    reserved = domain in RESERVED_DOMAINS or domain.endswith(tuple(f".{d}" for d in RESERVED_DOMAINS))
    if reserved or domain.rsplit(".", 1)[-1] in RESERVED_TLDS or "." not in domain:
        return CheckResult(
            "root-mail-domain",
            Status.FAIL,
            f"account e-mails go to {domain}, which receives no mail: nobody could recover a root user",
            "set organization.account_email_pattern in layout.yaml to a mailbox of yours with plus addressing, "
            "e.g. aws+{team}-{stage}@<your domain>",
        )
    return CheckResult("root-mail-domain", Status.PASS, f"account e-mails go to {domain}")


def check_platform_region_allowed(layout: Layout, region: str) -> CheckResult:
    """The member accounts' usage forwarding puts their state changes on the platform's bus as a role of theirs, a
    request to the platform's region that the OU-level region fence denies outside the allow-list (the fence has no
    room for an exemption of the role): the live meter would be blind (vending.usage_forwarding)."""
    allowed = layout.organization.allowed_regions
    if region not in allowed:
        return CheckResult(
            "platform-region-allowed",
            Status.FAIL,
            f"the platform's region {region} is not in organization.allowed_regions {list(allowed)}: the member "
            "accounts' usage forwarding into it would be denied by the region fence",
            f"add {region} to organization.allowed_regions in layout.yaml, or deploy the platform in one of them",
        )
    return CheckResult("platform-region-allowed", Status.PASS, f"the platform's region {region} is allowed")


def check_cdk_bootstrap(cfn: Any, ssm: Any, sts: Any, region: str, qualifier: str) -> CheckResult:
    account = sts.get_caller_identity()["Account"]
    fix = f"cdk bootstrap aws://{account}/{region}"
    try:
        stack = cfn.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"][0]
    except ClientError as e:
        if "does not exist" not in str(e.response.get("Error", {}).get("Message", "")):
            raise
        return CheckResult("cdk-bootstrap", Status.FAIL, f"no {BOOTSTRAP_STACK} stack in {account}/{region}", fix)
    if stack["StackStatus"] not in USABLE_STACK_STATES:
        return CheckResult("cdk-bootstrap", Status.FAIL, f"{BOOTSTRAP_STACK} is {stack['StackStatus']}", fix)
    parameter = f"/cdk-bootstrap/{qualifier}/version"
    try:
        version = int(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        return CheckResult("cdk-bootstrap", Status.FAIL, f"no {parameter} (another qualifier?)", fix)
    if version < MIN_BOOTSTRAP_VERSION:
        return CheckResult(
            "cdk-bootstrap", Status.FAIL, f"bootstrap version {version} < {MIN_BOOTSTRAP_VERSION} required", fix
        )
    return CheckResult("cdk-bootstrap", Status.PASS, f"{BOOTSTRAP_STACK} version {version} in {account}/{region}")
