"""The member account's half of the usage capture: in each of the team's regions, a rule on the account's default bus
that forwards its EC2 and SageMaker state-change events to the platform account's bus (whose policy admits the
organization's accounts: landing_zone/cdk/events.py), where RecordUsage records them (vending.spend.usage).
Below vending.guardrails (the audit checks it) and vending.spend (which imports the pattern from here).

The rule's target names a role of the member account (VendUsageForwarding) that EventBridge assumes to put the events
on the platform's bus: PutTargets "If you're setting an event bus in another account as the target and that account
granted permission to your account through an organization instead of directly by the account ID, you must specify a
RoleArn", and a bus in another region needs one too. EventBridge then calls PutEvents as that role, so the member
account's SCPs apply to it: the team's region fence exempts it by name (scps.render.team_policy), and the platform's
region must be in the organization's allow-list (require_platform_region_allowed; the OU-level fence has no room for
an exemption). Only the platform may change the rule (the stage OU's ProtectUsageForwarding), the role
(ProtectPlatformRoles) or pass the role (ProtectUsageForwarding): the meter would otherwise be blind.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html

PutRule, PutTargets and PutRolePolicy replace what is there, so converging again (a retried Bootstrap) is safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from scps.catalog import USAGE_FORWARDING_ROLE_NAME, USAGE_FORWARDING_RULE
from vending.aws.errors import error_code
from vending.aws.service_roles import ServiceRole, service_trust
from vending.exceptions import BootstrapFailed

EC2_DETAIL = "EC2 Instance State-change Notification"
ENDPOINT_DETAIL = "SageMaker Endpoint State Change"
TRAINING_DETAIL = "SageMaker Training Job State Change"
# Only AWS emits events with an aws.* source (PutEvents refuses them from anyone else).
SOURCE_OF = {EC2_DETAIL: "aws.ec2", ENDPOINT_DETAIL: "aws.sagemaker", TRAINING_DETAIL: "aws.sagemaker"}
# What the member accounts forward and the platform bus's rule sends to RecordUsage (landing_zone/cdk/events.py).
USAGE_EVENT_PATTERN: dict[str, list[str]] = {
    "source": ["aws.ec2", "aws.sagemaker"],
    "detail-type": [EC2_DETAIL, ENDPOINT_DETAIL, TRAINING_DETAIL],
}
FORWARDING_RULE = USAGE_FORWARDING_RULE
ROLE_NAME = USAGE_FORWARDING_ROLE_NAME
POLICY_NAME = "PutUsageEventsOnPlatformBus"
TARGET_ID = "platform-meter"
DESCRIPTION = "Instance state changes -> the platform's live meter (vending.spend)"


def platform_bus_arn(region: str, account_id: str, bus_name: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:event-bus/{bus_name}"


BUS_POLICY_SID = "OrganizationAccountsForwardStateChanges"


def platform_bus_statement(bus_arn: str, organization_id: str) -> dict[str, Any]:
    """The platform bus's policy statement (the CDK stack's and the emulator's): PutEvents by the organization's
    accounts only. An organization grant, so the member accounts' targets must name a role (see above)."""
    return {
        "Sid": BUS_POLICY_SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": bus_arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
    }


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{ROLE_NAME}"


def trust_policy(account_id: str) -> dict[str, Any]:
    """Only EventBridge, for this account's forwarding rule (in any region): a rule a team made itself cannot use the
    role even if it could name it (confused-deputy conditions, as the EventBridge user guide gives them)."""
    return service_trust("events.amazonaws.com", account_id, f"arn:aws:events:*:{account_id}:rule/{FORWARDING_RULE}")


def role_policy(target_bus_arn: str) -> dict[str, Any]:
    """PutEvents on the platform's bus, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": target_bus_arn}],
    }


def require_platform_region_allowed(target_bus_arn: str, allowed_regions: Iterable[str]) -> None:
    """The role's PutEvents is a request to the platform's region, and the OU-level region fence (no exemption: its
    policies have no room for one) denies it outside the allow-list: the meter would be blind. Refused before anything
    is made. vend platform preflight checks the same before the first deploy."""
    region = target_bus_arn.split(":")[3]
    allowed = tuple(allowed_regions)
    if region not in allowed:
        raise BootstrapFailed(
            f"the platform's region {region} is not in organization.allowed_regions {list(allowed)}: the usage "
            "forwarding's PutEvents would be denied by the region fence; add it to the layout's allow-list"
        )


ROLE = ServiceRole(
    ROLE_NAME,
    POLICY_NAME,
    "EventBridge forwards instance state changes to the platform's meter (vend baseline)",
    "EventBridge for this account's forwarding rule",
)


def intended_target(account_id: str, target_bus_arn: str) -> dict[str, str]:
    return {"Id": TARGET_ID, "Arn": target_bus_arn, "RoleArn": role_arn(account_id)}


def ensure_usage_forwarding(
    events_in: Callable[[str], Any],
    iam: Any,
    account_id: str,
    regions: Iterable[str],
    target_bus_arn: str,
    allowed_regions: Iterable[str],
) -> list[str]:
    """The forwarding role, then the forwarding rule in each region (events_in(region) is the member account's
    EventBridge client, iam its IAM client); returns the rule ARNs."""
    require_platform_region_allowed(target_bus_arn, allowed_regions)
    ROLE.ensure(iam, trust_policy(account_id), role_policy(target_bus_arn))
    arns = []
    for region in regions:
        events = events_in(region)
        arn = events.put_rule(
            Name=FORWARDING_RULE, EventPattern=json.dumps(USAGE_EVENT_PATTERN), State="ENABLED", Description=DESCRIPTION
        )["RuleArn"]
        answer = events.put_targets(Rule=FORWARDING_RULE, Targets=[intended_target(account_id, target_bus_arn)])
        if answer.get("FailedEntryCount"):
            raise BootstrapFailed(f"{FORWARDING_RULE} in {region}: {answer.get('FailedEntries')}")
        # A target someone added beside ours would be left: the audit reports it (check_usage_forwarding).
        arns.append(str(arn))
    return arns


def _rule_problems(events: Any, region: str, account_id: str, target_bus_arn: str) -> tuple[list[str], list[str]]:
    """(off, drift) for the rule of one region."""
    try:
        rule = events.describe_rule(Name=FORWARDING_RULE)
    except ClientError as e:
        if error_code(e) != "ResourceNotFoundException":
            raise
        return [f"{region}: rule {FORWARDING_RULE} is missing"], []
    off = [] if rule.get("State") == "ENABLED" else [f"{region}: rule {FORWARDING_RULE} is {rule.get('State')}"]
    drift = []
    pattern = rule.get("EventPattern")
    if not pattern or json.loads(pattern) != USAGE_EVENT_PATTERN:
        drift.append(f"{region}: rule {FORWARDING_RULE}'s pattern is {pattern!r}, intended {USAGE_EVENT_PATTERN}")
    targets = events.list_targets_by_rule(Rule=FORWARDING_RULE).get("Targets", [])
    want = intended_target(account_id, target_bus_arn)
    ours = [{k: t.get(k) for k in ("Id", "Arn", "RoleArn")} for t in targets]
    if ours != [want]:
        drift.append(f"{region}: rule {FORWARDING_RULE}'s targets are {ours}, intended [{want}]")
    else:
        extras = sorted(k for k in targets[0] if k not in ("Id", "Arn", "RoleArn"))
        if extras:  # an input transformer or a fixed input would forward something else than the event itself
            drift.append(f"{region}: rule {FORWARDING_RULE}'s target also sets {extras}")
    return off, drift


def check_usage_forwarding(
    events_in: Callable[[str], Any], iam: Any, account_id: str, regions: Iterable[str], target_bus_arn: str
) -> dict[str, list[str]]:
    """What the audit reports for one account, by kind ("off": the rule is missing or not enabled in a region;
    "drift": its pattern, its target, the role it names, or the role itself is not as intended). Reads only."""
    found: dict[str, list[str]] = {"off": [], "drift": []}
    for region in regions:
        off, drift = _rule_problems(events_in(region), region, account_id, target_bus_arn)
        found["off"] += off
        found["drift"] += drift
    found["drift"] += ROLE.problems(iam, trust_policy(account_id), role_policy(target_bus_arn))
    return found
