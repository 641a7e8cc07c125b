"""One priced reading of an account's usage: what the meter (vending.spend.meter) hands the fence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SpendReading:
    team: str
    stage: str
    account_id: str
    request_id: str
    at: datetime  # end of the window read (UTC)
    hour_usd: float  # priced usage in the 60 minutes ending at `at`
    day_usd: float  # priced usage since 00:00 UTC of `at`'s day up to `at`
    by_source: dict[str, float]
    # today's usage without a price: "<source> (<unit>)" -> quantity (never counted as $0)
    unpriced: dict[str, float] = field(default_factory=dict)
