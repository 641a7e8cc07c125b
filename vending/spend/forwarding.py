"""The member account's half of the usage capture: in each of the team's regions, a rule on the account's default bus
that forwards its EC2 and SageMaker state-change events to the platform account's bus (whose policy admits the
organization's accounts: landing_zone/cdk/events.py), where RecordUsage records them.

PutRule and PutTargets replace what is there, so converging again (a retried Bootstrap) is safe.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from vending.exceptions import BootstrapFailed
from vending.spend.usage import USAGE_EVENT_PATTERN

FORWARDING_RULE = "vending-usage-forwarding"


def platform_bus_arn(region: str, account_id: str, bus_name: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:event-bus/{bus_name}"


def ensure_usage_forwarding(events_in: Callable[[str], Any], regions: Iterable[str], target_bus_arn: str) -> list[str]:
    """The forwarding rule in each region (events_in(region) is the member account's EventBridge client); returns
    the rule ARNs."""
    arns = []
    for region in regions:
        events = events_in(region)
        arn = events.put_rule(
            Name=FORWARDING_RULE,
            EventPattern=json.dumps(USAGE_EVENT_PATTERN),
            State="ENABLED",
            Description="Instance state changes -> the platform's live meter (vending.spend)",
        )["RuleArn"]
        answer = events.put_targets(Rule=FORWARDING_RULE, Targets=[{"Id": "platform-meter", "Arn": target_bus_arn}])
        if answer.get("FailedEntryCount"):
            raise BootstrapFailed(f"{FORWARDING_RULE} in {region}: {answer.get('FailedEntries')}")
        arns.append(str(arn))
    return arns
