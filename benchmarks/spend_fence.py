"""The spend fence under a controlled clock (issue 24 item 4): minutes from crossing a cap to the freeze, and false
freezes over a generated week of ordinary usage per tier.

    .venv/bin/python benchmarks/spend_fence.py [--days 7] [--seed 24] [--json]

Usage is generated per minute, priced with modeled us-east-1 on-demand prices (PRICES, not the meter's snapshot:
the meter, vending.spend.meter, is another piece of issue 24), and read as the meter reads it every metering interval
(vending.spend.fence.INTERVAL_MINUTES): the 60 minutes ending at the reading and the UTC day up to it. The readings go
through the real fence (vending.spend.fence.fence) against moto's Organizations, DynamoDB and EventBridge, with the
fence's clock set to each reading's time; the SCPs then attached to the account are decided by scps.evaluate.

- Crossing: an ordinary day, then a runaway (six p5.48xlarge launched; a Bedrock token flood on Claude 3.5 Sonnet)
  starting at each minute offset 0..59 of an hour; the crossing minute is the first minute the true rolling-hour
  spend exceeds the cap; N = the minute of the freeze - the crossing minute. With a 5-minute interval N must be <= 5.
  After the freeze a team role's GPU launch (p5 for training, g5 for inference) and InvokeModel, decided on the SCPs
  attached to the account, are denied, the platform's allowed, a t3 allowed; after an approved thaw the GPU launch is
  allowed again.
- False freezes: each tier's ordinary week (diurnal load, weekday training runs, lognormal noise, bursts) must freeze
  nothing; the figure printed beside it is the week's peak hour and peak day as a share of the caps (the headroom).
  The negative control: the same week with the caps set to 80 % of its own peaks must freeze every account.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.setdefault(_k, "testing")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from landing_zone.local.dynamodb import atomic_conditional_writes  # noqa: E402
from landing_zone.local.organizations import aws_like_organizations  # noqa: E402
from scps.evaluate import Policies, Request, decide  # noqa: E402
from vending.guardrails.account import apply_account_guardrails  # noqa: E402
from vending.layout import Layout, SpendCaps, load_layout  # noqa: E402
from vending.org_tree import resolve_ou_paths  # noqa: E402
from vending.spend.fence import INTERVAL_MINUTES, approve_thaw, event_notifier, fence, request_thaw  # noqa: E402
from vending.spend.freezes import FreezeStore, freezes_table_definition  # noqa: E402
from vending.spend.reading import SpendReading  # noqa: E402

REGION = "us-east-1"
FREEZES = "vending-freezes"
START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # a Monday
MINUTES_PER_DAY = 24 * 60
# Modeled on-demand prices, USD per hour (us-east-1, public price list, rounded) and per million tokens.
PRICES = {
    "ec2:m5.large": 0.096,
    "ec2:t3.large": 0.0832,
    "ec2:g5.xlarge": 1.006,
    "ec2:g6.xlarge": 0.8048,
    "ec2:inf2.xlarge": 0.7582,
    "ec2:p4d.24xlarge": 21.96,
    "ec2:p5.48xlarge": 55.04,
    "ec2:trn1.32xlarge": 21.50,
    "sagemaker:ml.g5.xlarge": 1.408,
}
TOKENS_PER_MILLION = {  # (input, output) USD per million tokens
    "bedrock:claude-3-5-haiku": (0.80, 4.00),
    "bedrock:claude-3-5-sonnet": (3.00, 15.00),
    "bedrock:titan-embed-text-v2": (0.02, 0.0),
    "bedrock:cohere-embed-english-v3": (0.10, 0.0),
}
TEAM_OF_TIER = {"none": "team-frontend", "inference": "team-backend", "training": "team-mlops"}
PLATFORM_ROLE = "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
TEAM_ROLE = "arn:aws:iam::{account}:role/TeamAdmin"


# --- usage ----------------------------------------------------------------------------------------------------------


def _diurnal(minute_of_day: int, weekday: bool) -> float:
    """Load shape: a working-day bell (peak ~14:00 UTC), a low night, a quieter weekend."""
    hour = minute_of_day / 60
    bell = math.exp(-(((hour - 14.0) / 3.5) ** 2))
    return (0.15 + 0.85 * bell) * (1.0 if weekday else 0.35)


def _instances(cost: list[float], source: str, count: float, start: int, end: int, by: dict[str, float]) -> None:
    rate = PRICES[source] * count / 60
    for m in range(max(start, 0), min(end, len(cost))):
        cost[m] += rate
    by[source] = by.get(source, 0.0) + rate * max(min(end, len(cost)) - max(start, 0), 0)


def _tokens(rng: random.Random, model: str, per_minute_millions: tuple[float, float], load: float) -> float:
    price_in, price_out = TOKENS_PER_MILLION[model]
    noise = rng.lognormvariate(0.0, 0.35)
    return (per_minute_millions[0] * price_in + per_minute_millions[1] * price_out) * load * noise


def ordinary_week(tier: str, days: int, seed: int) -> list[float]:
    """USD per minute of one account of `tier` doing its ordinary work (what the caps must leave room for)."""
    rng = random.Random(f"{tier}-{seed}")
    cost = [0.0] * (days * MINUTES_PER_DAY)
    by: dict[str, float] = {}
    for day in range(days):
        weekday = (START + timedelta(days=day)).weekday() < 5
        base = day * MINUTES_PER_DAY
        if tier == "none":
            _instances(cost, "ec2:m5.large", 3, base, base + MINUTES_PER_DAY, by)
            if weekday:  # CI and dev boxes in working hours
                _instances(cost, "ec2:t3.large", rng.randint(4, 10), base + 8 * 60, base + 19 * 60, by)
        if tier == "inference":
            # A two-instance endpoint all day, autoscaled up to 6 at the peak, and the RAG app's tokens.
            _instances(cost, "sagemaker:ml.g5.xlarge", 2, base, base + MINUTES_PER_DAY, by)
            for hour in range(24):
                extra = round(4 * _diurnal(hour * 60, weekday) * rng.uniform(0.6, 1.1))
                _instances(cost, "ec2:g5.xlarge", extra, base + hour * 60, base + hour * 60 + 60, by)
        if tier == "training":
            _instances(cost, "ec2:g5.xlarge", 4, base + 7 * 60, base + 20 * 60, by)  # dev boxes
            if weekday and rng.random() < 0.7:  # a training run most weekdays: p4d or two p5 for a few hours
                start = base + rng.randint(8, 15) * 60
                if rng.random() < 0.5:
                    _instances(cost, "ec2:p4d.24xlarge", 2, start, start + rng.randint(3, 8) * 60, by)
                else:
                    _instances(cost, "ec2:p5.48xlarge", 2, start, start + rng.randint(2, 5) * 60, by)
            if rng.random() < 0.3:  # an overnight Trainium job
                start = base + 20 * 60
                _instances(cost, "ec2:trn1.32xlarge", 1, start, start + 8 * 60, by)
        for m in range(MINUTES_PER_DAY):
            load = _diurnal(m, weekday)
            if rng.random() < 0.002:  # a burst: a batch re-embedding or a load test for a while
                load *= rng.uniform(2.0, 4.0)
            if tier == "inference":
                cost[base + m] += _tokens(rng, "bedrock:claude-3-5-haiku", (0.10, 0.02), load)
                cost[base + m] += _tokens(rng, "bedrock:claude-3-5-sonnet", (0.02, 0.004), load)
                cost[base + m] += _tokens(rng, "bedrock:titan-embed-text-v2", (0.5, 0.0), load)
            if tier == "training":
                cost[base + m] += _tokens(rng, "bedrock:claude-3-5-sonnet", (0.03, 0.006), load)
                cost[base + m] += _tokens(rng, "bedrock:cohere-embed-english-v3", (0.3, 0.0), load)
    return cost


def runaway(cost: list[float], kind: str, start: int) -> None:
    """Add a runaway from minute `start` on: six p5.48xlarge, or a Sonnet token flood (2 M output tokens a minute)."""
    if kind == "p5":
        _instances(cost, "ec2:p5.48xlarge", 6, start, len(cost), {})
    else:
        price_in, price_out = TOKENS_PER_MILLION["bedrock:claude-3-5-sonnet"]
        for m in range(start, len(cost)):
            cost[m] += 1.0 * price_in + 0.12 * price_out


# --- readings ---------------------------------------------------------------------------------------------------


@dataclass
class Account:
    team: str
    stage: str
    account_id: str
    cost: list[float]
    prefix: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        total, self.prefix = 0.0, [0.0]
        for c in self.cost:
            total += c
            self.prefix.append(total)

    def window(self, start: int, end: int) -> float:
        """USD spent in minutes [start, end)."""
        return self.prefix[max(min(end, len(self.cost)), 0)] - self.prefix[max(min(start, len(self.cost)), 0)]

    def reading(self, minute: int) -> SpendReading:
        """What the meter reads at the end of minute `minute - 1` (at = START + minute)."""
        midnight = minute - minute % MINUTES_PER_DAY
        return SpendReading(
            self.team,
            self.stage,
            self.account_id,
            f"{self.team}-{self.stage}",
            START + timedelta(minutes=minute),
            round(self.window(minute - 60, minute), 4),
            round(self.window(midnight, minute), 4),
            {},
        )

    def crossing(self, caps: SpendCaps, after: int) -> int | None:
        """The first minute (>= after) at whose end the rolling hour or the day so far exceeds a cap."""
        for minute in range(after + 1, len(self.cost) + 1):
            midnight = (minute - 1) - (minute - 1) % MINUTES_PER_DAY
            if self.window(minute - 60, minute) > caps.hourly_usd or self.window(midnight, minute) > caps.daily_usd:
                return minute
        return None


def ticks(minutes: int) -> Iterator[int]:
    yield from range(INTERVAL_MINUTES, minutes + 1, INTERVAL_MINUTES)


# --- the organization ---------------------------------------------------------------------------------------------


class Org:
    """moto's Organizations, DynamoDB and EventBridge with the layout's OU tree and one vended account per team."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.org = boto3.client("organizations", region_name=REGION)
        self.org.create_organization(FeatureSet="ALL")
        resolve_ou_paths(self.org, [ou.path for ou in layout.ous])
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(**freezes_table_definition(FREEZES))
        self.freezes = FreezeStore(ddb, FREEZES)
        self.events = boto3.client("events", region_name=REGION)
        self.sent: list[str] = []
        publish = event_notifier(self.events, bus="default", source="platform.vending")

        def notify(detail_type: str, record: Any) -> None:
            self.sent.append(f"{detail_type} {record.account_id}")
            publish(detail_type, record)

        self.notify = notify
        self.accounts: dict[str, str] = {}

    def vend(self, team: str, stage: str = "staging") -> str:
        spec = self.layout.team(team)
        assert spec is not None
        out = self.org.create_account(Email=self.layout.account_email(team, stage), AccountName=f"{team}-{stage}")
        account = str(out["CreateAccountStatus"]["AccountId"])
        apply_account_guardrails(
            self.org, self.layout, account_id=account, team=team, stage=stage, gpu_tier=spec.gpu_tier
        )
        return account

    def attached_documents(self, account: str) -> list[list[Any]]:
        """The SCP documents on the account's path as Organizations holds them: root, each OU, the account."""
        levels: list[list[Any]] = []
        target = account
        while True:
            docs = [
                json.loads(self.org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"])
                for p in self.org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
            ]
            levels.insert(0, docs)
            parent = self.org.list_parents(ChildId=target)["Parents"][0]
            if parent["Type"] == "ROOT":
                root_docs = [
                    json.loads(self.org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"])
                    for p in self.org.list_policies_for_target(TargetId=parent["Id"], Filter="SERVICE_CONTROL_POLICY")[
                        "Policies"
                    ]
                ]
                return [root_docs, *levels]
            target = parent["Id"]

    def allowed(self, account: str, action: str, resource: str, context: dict[str, Any], principal: str) -> bool:
        full = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        request = Request(
            action, resource, principal.format(account=account), {"aws:RequestedRegion": REGION, **context}
        )
        return decide(request, Policies(identity=[full], scps=self.attached_documents(account))).allowed


# --- the two measurements -------------------------------------------------------------------------------------


# The accelerated type each tier may launch until it is frozen.
GPU_OF_TIER = {"inference": "g5.xlarge", "training": "p5.48xlarge"}


def _probes(team: str, tier: str, account: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    spec_tags = {"aws:RequestTag/team": team, "aws:RequestTag/stage": "staging"}
    instance = f"arn:aws:ec2:{REGION}:{account}:instance/*"
    return {
        "gpu launch": ("ec2:RunInstances", instance, {"ec2:InstanceType": GPU_OF_TIER[tier], **spec_tags}),
        "t3 launch": ("ec2:RunInstances", instance, {"ec2:InstanceType": "t3.micro", **spec_tags}),
        "InvokeModel": (
            "bedrock:InvokeModel",
            f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-text-v2:0",
            {},
        ),
        "stop an instance": ("ec2:StopInstances", instance, {"ec2:InstanceType": GPU_OF_TIER[tier]}),
    }


def crossing_to_freeze(layout: Layout, kind: str, team: str, offsets: range, seed: int) -> dict[str, Any]:
    """For each runaway start offset, the minutes from the cap's crossing to the fence's freeze."""
    spec = layout.team(team)
    assert spec is not None
    caps = layout.spend_caps(team, spec.gpu_tier)
    assert caps is not None
    figures: list[int] = []
    checks: dict[str, Any] = {}
    for offset in offsets:
        with mock_aws(), aws_like_organizations(), atomic_conditional_writes():
            env = Org(layout)
            account_id = env.vend(team)
            cost = ordinary_week(spec.gpu_tier, 2, seed)
            start = MINUTES_PER_DAY + 9 * 60 + offset  # day 2, from 09:00 + offset
            runaway(cost, kind, start)
            account = Account(team, "staging", account_id, cost)
            crossed = account.crossing(caps, after=start - 1)
            assert crossed is not None, "the runaway never crossed the cap"
            frozen_at = None
            for minute in ticks(len(cost)):
                now = START + timedelta(minutes=minute)
                report = fence([account.reading(minute)], layout, env.org, env.freezes, env.notify, now)
                if report.frozen:
                    frozen_at = minute
                    break
            assert frozen_at is not None and frozen_at >= crossed, (offset, crossed, frozen_at)
            figures.append(frozen_at - crossed)
            if offset == offsets[0]:
                probes = _probes(team, spec.gpu_tier, account_id)
                checks["after_freeze"] = {
                    name: {
                        "team": env.allowed(account_id, *probe, TEAM_ROLE),
                        "platform": env.allowed(account_id, *probe, PLATFORM_ROLE),
                    }
                    for name, probe in probes.items()
                }
                checks["notifications"] = list(env.sent)
                admin, approver = (
                    f"arn:aws:iam::{account_id}:role/PlatformAdmin",
                    f"arn:aws:iam::{account_id}:role/PlatformApprover",
                )
                thaw_at = START + timedelta(minutes=frozen_at + 30)
                request_thaw(env.freezes, account_id, by=admin, session=None, reason="runaway stopped", now=thaw_at)
                approve_thaw(env.freezes, env.org, layout, account_id, by=approver, session=None, now=thaw_at)
                checks["after_thaw"] = {
                    "gpu launch (team)": env.allowed(account_id, *probes["gpu launch"], TEAM_ROLE),
                    "freeze attached": "vend-freeze"
                    in {
                        p["Name"]
                        for p in env.org.list_policies_for_target(TargetId=account_id, Filter="SERVICE_CONTROL_POLICY")[
                            "Policies"
                        ]
                    },
                }
    return {
        "kind": kind,
        "team": team,
        "caps": caps.model_dump(),
        "interval_minutes": INTERVAL_MINUTES,
        "offsets": len(figures),
        "minutes_after_crossing": {"max": max(figures), "min": min(figures), "all": figures},
        **checks,
    }


def false_freezes(layout: Layout, days: int, seed: int, *, caps_scale: float | None = None) -> dict[str, Any]:
    """Fence an ordinary week of every tier; caps_scale (the negative control) sets each team's caps to that share of
    the week's own peak hour and peak day."""
    out: dict[str, Any] = {}
    with mock_aws(), aws_like_organizations(), atomic_conditional_writes():
        accounts: list[Account] = []
        base = layout
        weeks = {tier: ordinary_week(tier, days, seed) for tier in TEAM_OF_TIER}
        peaks = {tier: _peaks(Account("", "", "", cost)) for tier, cost in weeks.items()}
        if caps_scale is not None:
            data = layout.model_dump(mode="json")
            for team in data["teams"]:
                peak_hour, peak_day = peaks[team["gpu_tier"]]
                team["spend_caps"] = {"hourly_usd": peak_hour * caps_scale, "daily_usd": peak_day * caps_scale}
            base = Layout.model_validate(data)
        env = Org(base)
        for tier, team in TEAM_OF_TIER.items():
            accounts.append(Account(team, "staging", env.vend(team), weeks[tier]))
        minutes = days * MINUTES_PER_DAY
        readings = 0
        frozen: dict[str, int] = {}
        for minute in ticks(minutes):
            batch = [a.reading(minute) for a in accounts if a.account_id not in frozen]
            readings += len(batch)
            report = fence(batch, base, env.org, env.freezes, env.notify, START + timedelta(minutes=minute))
            for account_id in report.frozen:
                frozen[account_id] = minute
        for tier, team in TEAM_OF_TIER.items():
            spec = base.team(team)
            assert spec is not None
            caps = base.spend_caps(team, spec.gpu_tier)
            assert caps is not None
            account = next(a for a in accounts if a.team == team)
            peak_hour, peak_day = peaks[tier]
            out[tier] = {
                "team": team,
                "caps": caps.model_dump(),
                "week_usd": round(account.window(0, minutes), 2),
                "peak_hour_usd": round(peak_hour, 2),
                "peak_day_usd": round(peak_day, 2),
                "peak_hour_of_cap": round(peak_hour / caps.hourly_usd, 3),
                "peak_day_of_cap": round(peak_day / caps.daily_usd, 3),
                "frozen": account.account_id in frozen,
            }
        out["readings"] = readings
        out["false_freezes"] = len(frozen) if caps_scale is None else None
        out["frozen"] = len(frozen)
    return out


def _peaks(account: Account) -> tuple[float, float]:
    minutes = len(account.cost)
    hour = max(account.window(m - 60, m) for m in range(60, minutes + 1))
    day = max(account.window(d, d + MINUTES_PER_DAY) for d in range(0, minutes, MINUTES_PER_DAY))
    return hour, day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--offsets", type=int, default=60, help="runaway start offsets to try (0..N-1 minutes)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    layout = load_layout()
    result = {
        "crossing": [
            crossing_to_freeze(layout, "p5", "team-mlops", range(args.offsets), args.seed),
            crossing_to_freeze(layout, "bedrock", "team-backend", range(args.offsets), args.seed),
        ],
        "ordinary_week": false_freezes(layout, args.days, args.seed),
        "negative_control": false_freezes(layout, args.days, args.seed, caps_scale=0.8),
    }
    ok = (
        all(c["minutes_after_crossing"]["max"] <= INTERVAL_MINUTES for c in result["crossing"])
        and result["ordinary_week"]["false_freezes"] == 0
        and result["negative_control"]["frozen"] == len(TEAM_OF_TIER)
    )
    result["ok"] = ok
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for c in result["crossing"]:
            m = c["minutes_after_crossing"]
            print(
                f"crossing {c['kind']:<8} {c['team']:<14} caps {c['caps']}: frozen {m['min']}..{m['max']} min after "
                f"crossing over {c['offsets']} start offsets (interval {c['interval_minutes']} min)"
            )
            print(f"  after the freeze: {c['after_freeze']}")
            print(f"  after the thaw:   {c['after_thaw']}")
        week = result["ordinary_week"]
        print(f"ordinary week ({args.days} days, {week['readings']} readings): false freezes {week['false_freezes']}")
        for tier in TEAM_OF_TIER:
            t = week[tier]
            print(
                f"  {tier:<10} {t['team']:<14} week {t['week_usd']:>9,.2f} USD  peak hour {t['peak_hour_usd']:>7,.2f} "
                f"({t['peak_hour_of_cap']:.0%} of {t['caps']['hourly_usd']:g})  peak day {t['peak_day_usd']:>8,.2f} "
                f"({t['peak_day_of_cap']:.0%} of {t['caps']['daily_usd']:g})"
            )
        print(f"negative control (caps at 80% of each week's peaks): {result['negative_control']['frozen']} of "
              f"{len(TEAM_OF_TIER)} frozen")  # fmt: skip
        print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
