"""`vend costs`: spend per team and stage from Cost Explorer (vending.costs), with a bar chart."""

from __future__ import annotations

import argparse
from typing import Any

from vending.cli.changes import session
from vending.cli.output import print_json
from vending.costs import activate_cost_allocation_tags, bar_chart, spend_by_team_and_stage
from vending.layout import cached_layout


def cmd_costs(args: argparse.Namespace) -> int:
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
    parser.set_defaults(func=cmd_costs)
