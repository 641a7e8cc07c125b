"""One metering interval: read the meter for every vended account, then fence (what the scheduled handler runs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from vending.aws.sessions import access_role_arn, assume_role_session
from vending.layout import Layout
from vending.lifecycle import RequestRecord, RequestStore
from vending.spend.fence import (
    Backstop,
    FenceReport,
    Stopper,
    account_intents,
    adopt_backstop_freezes,
    event_notifier,
    fence,
    finish_thaws,
    stop_accelerated_instances,
)
from vending.spend.freezes import FreezeRecord, FreezeStore
from vending.spend.reading import SpendReading
from vending.spend.readings import ReadingStore

logger = Logger(child=True)

# records, at -> one reading per metered account (vending.spend.meter.read_meter, bound to its clients and prices).
ReadMeter = Callable[[list[RequestRecord], datetime], list[SpendReading]]


def access_role_stopper(sts: Any, layout: Layout, session_name: str = "vending-spend-fence") -> Stopper:
    """Stop a frozen account's accelerated instances as the platform's access role in it (the freeze exempts it)."""

    def stop(record: FreezeRecord, regions: tuple[str, ...]) -> list[str]:
        role = access_role_arn(record.account_id, layout.organization.access_role_name)

        def ec2_for(region: str) -> Any:
            return assume_role_session(sts, role, session_name, region).client("ec2")

        return stop_accelerated_instances(ec2_for, layout, regions)

    return stop


def run_interval(
    *,
    read: ReadMeter,
    store: RequestStore,
    freezes: FreezeStore,
    layout: Layout,
    org: Any,
    events: Any,
    sts: Any,
    bus: str,
    source: str,
    now: datetime,
    run_id: str,
    backstop: Backstop | None = None,
    readings: ReadingStore | None = None,
) -> FenceReport:
    """`readings`: where each account's reading is kept for GET /spend (vending.spend.readings); stored after the
    fence acted, and a failed write only logs: what is shown never holds up a freeze."""
    notify = event_notifier(events, bus=bus, source=source)
    # approvals since the last interval (an executed backstop action is reversed with the detach)
    thawed = finish_thaws(freezes, org, layout, notify=notify, now=now, backstop=backstop)
    records = [r for r in store.list() if r.account_id]
    intents = account_intents(layout, records)
    stopper = access_role_stopper(sts, layout)
    adopted = (
        adopt_backstop_freezes(
            records,
            layout,
            org,
            freezes,
            backstop,
            intents=intents,
            notify=notify,
            now=now,
            stop=stopper,
            run_id=run_id,
        )
        if backstop is not None
        else []
    )
    read_now = read(records, now)
    report = fence(
        read_now,
        layout,
        org,
        freezes,
        notify,
        now,
        intents=intents,
        stop=stopper,
        run_id=run_id,
    )
    report.thawed, report.adopted = thawed, adopted
    if readings is not None:
        for reading in read_now:
            try:
                readings.put(reading)
            except ClientError as e:
                logger.warning("reading not stored", extra={"account_id": reading.account_id, "error": str(e)})
    return report
