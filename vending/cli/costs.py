"""`vend costs`: spend per team and stage from Cost Explorer (vending.costs), with a bar chart; `--live`: the live
meter (vending.spend.meter) per team and stage with a 24-hour sparkline; `prices --refresh`: the price snapshot."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from vending.cli.changes import session
from vending.cli.output import print_json, print_table
from vending.costs import activate_cost_allocation_tags, bar_chart, spend_by_team_and_stage
from vending.exceptions import InvalidRequest
from vending.layout import cached_layout
from vending.lifecycle import RequestStore
from vending.settings import Settings
from vending.spend.meter import LiveMeter, member_clients, read_live, sparkline
from vending.spend.prices import PRICING_REGION, SNAPSHOT, PriceBook, layout_targets, refresh_snapshot
from vending.spend.usage import UsageStore

TOP_SOURCES = 3


def _at(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise InvalidRequest(
            f"--at: {value!r} is not an ISO 8601 time", details=[{"field": "at", "message": "ISO 8601"}]
        ) from e
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def live_json(meters: list[LiveMeter]) -> list[dict[str, Any]]:
    return [
        {
            "team": m.reading.team,
            "stage": m.reading.stage,
            "account_id": m.reading.account_id,
            "request_id": m.reading.request_id,
            "at": m.reading.at.isoformat(),
            "hour_usd": m.reading.hour_usd,
            "day_usd": m.reading.day_usd,
            "by_source": m.reading.by_source,
            "unpriced": m.unpriced,
            "hourly_usd": m.hourly,
        }
        for m in meters
    ]


def live_rows(meters: list[LiveMeter]) -> list[list[str]]:
    rows = []
    for m in sorted(meters, key=lambda m: (-m.reading.day_usd, m.reading.team, m.reading.stage)):
        top = ", ".join(f"{name} {usd:,.2f}" for name, usd in m.top_sources[:TOP_SOURCES]) or "-"
        unpriced = ", ".join(f"{name}: {qty:,.2f}" for name, qty in sorted(m.unpriced.items())) or "-"
        rows.append(
            [
                f"{m.reading.team}/{m.reading.stage}",
                f"{m.reading.hour_usd:,.2f}",
                f"{m.reading.day_usd:,.2f}",
                sparkline(m.hourly),
                top,
                unpriced,
            ]
        )
    return rows


def cmd_live(args: argparse.Namespace) -> int:
    s, settings, layout = session(), Settings.from_env(), cached_layout()
    at = _at(args.at)
    records = RequestStore(s.client("dynamodb"), settings.requests_table).list(team=args.team)
    meters = read_live(
        member_clients(s.client("sts"), layout.organization.access_role_name, "vending-meter-cli"),
        records,
        PriceBook.load(),
        UsageStore(s.client("dynamodb"), settings.usage_table),
        at,
    )
    if args.json:
        print_json({"at": at.isoformat(), "meters": live_json(meters)})
        return 0
    columns = ["team/stage", "last hour $", "today $", "last 24 h", "top sources today", "unpriced today"]
    print_table(f"Live spend at {at:%Y-%m-%d %H:%M} UTC", columns, live_rows(meters))
    return 0


def cmd_prices(args: argparse.Namespace) -> int:
    if not args.refresh:
        book = PriceBook.load(SNAPSHOT)
        print_json(
            {k: book.data[k] for k in ("source", "as_of", "refreshed_by", "estimates")} | {"file": str(SNAPSHOT)}
        )
        return 0
    pricing = session().client("pricing", region_name=PRICING_REGION)
    counts = refresh_snapshot(pricing, layout_targets(cached_layout()), SNAPSHOT)
    print_json({"refreshed": str(SNAPSHOT), "prices": counts})
    return 0


def cmd_costs(args: argparse.Namespace) -> int:
    if args.live:
        return cmd_live(args)
    # Cost Explorer has one endpoint, in us-east-1.
    ce = session().client("ce", region_name="us-east-1")
    if args.activate_tags:
        errors = activate_cost_allocation_tags(ce, cached_layout().organization.mandatory_tags)
        print_json({"activated": list(cached_layout().organization.mandatory_tags), "errors": errors})
        return 1 if errors else 0
    report = spend_by_team_and_stage(ce, month=args.month, team=args.team)
    if args.json:
        print_json({**report.model_dump(), "total": report.total})
        return 0
    print(f"Spend {report.month} ({report.start} .. {report.end}){' for ' + report.team if report.team else ''}")
    for line in bar_chart(report):
        print(line)
    print(f"total {report.total:,.2f} USD")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("costs", help="spend per team and stage (Cost Explorer, cost-allocation tags)")
    parser.add_argument("--team")
    parser.add_argument("--month", help="YYYY-MM (default: this month)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--activate-tags", action="store_true", help="activate team/stage/cost-center as cost-allocation tags instead"
    )
    parser.add_argument("--live", action="store_true", help="the live meter: last hour, today, the last 24 hours")
    parser.add_argument("--at", help="with --live: read the meter at this UTC time (ISO 8601; default now)")
    parser.set_defaults(func=cmd_costs)
    sub = parser.add_subparsers(dest="costs_command")
    prices = sub.add_parser("prices", help="the live meter's price snapshot (vending/spend/prices.json)")
    prices.add_argument(
        "--refresh", action="store_true", help="rewrite it from the AWS Price List (pricing:GetProducts)"
    )
    prices.set_defaults(func=cmd_prices)
