"""Spend per team and stage from Cost Explorer, grouped by the cost-allocation tags; and activating those tags.

Cost Explorer groups by at most two dimensions or tags at once, so one GetCostAndUsage call (paged) groups by the
`team` and `stage` tags. Untagged spend comes back under the empty tag value (`team$`).
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from vending.exceptions import InvalidRequest

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
METRIC = "UnblendedCost"
UNTAGGED = "(untagged)"


class CostLine(BaseModel):
    team: str
    stage: str
    amount: float
    unit: str = "USD"
    estimated: bool = False


class CostReport(BaseModel):
    month: str
    start: str
    end: str
    team: str | None
    lines: list[CostLine]

    @property
    def total(self) -> float:
        return round(sum(line.amount for line in self.lines), 2)


def month_range(month: str | None, today: date | None = None) -> tuple[str, str, str]:
    """YYYY-MM -> (month, first day, first day of the next month); Cost Explorer's End is exclusive."""
    if month is None:
        d = today or datetime.now(UTC).date()
        month = f"{d.year:04d}-{d.month:02d}"
    if not MONTH.match(month):
        raise InvalidRequest(
            f"month: {month!r} must look like YYYY-MM", details=[{"field": "month", "message": "must be YYYY-MM"}]
        )
    year, mon = (int(p) for p in month.split("-"))
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return month, f"{year:04d}-{mon:02d}-01", nxt.isoformat()


def _tag_value(key: str) -> str:
    """Cost Explorer returns tag groups as `<tag>$<value>`; an empty value is untagged spend."""
    value = key.partition("$")[2]
    return value or UNTAGGED


def spend_by_team_and_stage(
    ce: Any, *, month: str | None = None, team: str | None = None, today: date | None = None
) -> CostReport:
    month, start, end = month_range(month, today)
    kwargs: dict[str, Any] = {
        "TimePeriod": {"Start": start, "End": end},
        "Granularity": "MONTHLY",
        "Metrics": [METRIC],
        "GroupBy": [{"Type": "TAG", "Key": "team"}, {"Type": "TAG", "Key": "stage"}],
    }
    if team:
        kwargs["Filter"] = {"Tags": {"Key": "team", "Values": [team], "MatchOptions": ["EQUALS"]}}
    totals: dict[tuple[str, str], Decimal] = {}
    estimated: dict[tuple[str, str], bool] = {}
    unit = "USD"
    while True:
        page = ce.get_cost_and_usage(**kwargs)
        for result in page.get("ResultsByTime", []):
            for group in result.get("Groups", []):
                keys = group.get("Keys", [])
                ident = (_tag_value(keys[0]) if keys else UNTAGGED, _tag_value(keys[1]) if len(keys) > 1 else UNTAGGED)
                metric = group["Metrics"][METRIC]
                unit = metric.get("Unit", unit)
                totals[ident] = totals.get(ident, Decimal(0)) + Decimal(metric["Amount"])
                estimated[ident] = estimated.get(ident, False) or bool(result.get("Estimated"))
        token = page.get("NextPageToken")
        if not token:
            break
        kwargs["NextPageToken"] = token
    lines = [
        CostLine(team=t, stage=s, amount=round(float(v), 2), unit=unit, estimated=estimated[(t, s)])
        for (t, s), v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return CostReport(month=month, start=start, end=end, team=team, lines=lines)


def bar_chart(report: CostReport, width: int = 40) -> list[str]:
    """One line per team/stage: a bar scaled to the largest spend, then the amount."""
    if not report.lines:
        return [f"no spend recorded for {report.month}"]
    top = max(line.amount for line in report.lines) or 1.0
    label = max(len(f"{line.team}/{line.stage}") for line in report.lines)
    out = []
    for line in report.lines:
        bar = "█" * max(round(width * line.amount / top), 1 if line.amount > 0 else 0)
        est = " (estimated)" if line.estimated else ""
        out.append(f"{f'{line.team}/{line.stage}':<{label}}  {bar:<{width}}  {line.amount:>12,.2f} {line.unit}{est}")
    return out


def activate_cost_allocation_tags(ce: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Activate the mandatory tags as cost-allocation tags for the organization (run in the management account).
    A tag only becomes activatable once Billing has seen it on a resource; those come back as errors to retry later."""
    answer = ce.update_cost_allocation_tags_status(
        CostAllocationTagsStatus=[{"TagKey": k, "Status": "Active"} for k in keys]
    )
    return list(answer.get("Errors", []))
