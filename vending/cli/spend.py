"""`vend spend status|thaw|approve`: the frozen accounts, and lifting a freeze through an approved thaw
(vending.spend.fence). Who files and who approves is the signed-in principal, never a name typed on the line."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from vending.cli.args import request_id_arg
from vending.cli.caller import signed_caller
from vending.cli.changes import session
from vending.cli.output import print_json, print_table
from vending.layout import cached_layout
from vending.settings import Settings
from vending.spend.fence import approve_thaw, event_notifier, request_thaw
from vending.spend.freezes import FreezeRecord, FreezeStatus, FreezeStore


def _store() -> FreezeStore:
    return FreezeStore(session().client("dynamodb"), Settings.from_env().freezes_table)


def _row(r: FreezeRecord) -> tuple[str, ...]:
    thaw = f"filed by {r.thaw_requested_by}" if r.thaw_requested_by else "-"
    return (
        r.request_id,
        r.account_id,
        f"{r.cap} {r.cap_usd:g} USD",
        f"{r.reading_usd:,.2f} USD at {r.reading_at}",
        r.frozen_at,
        r.on_freeze,
        thaw,
    )


def cmd_status(args: argparse.Namespace) -> int:
    frozen = _store().list(status=FreezeStatus.FROZEN)
    if args.json:
        print_json({"frozen": [r.model_dump(mode="json") for r in frozen]})
        return 0
    print_table(
        f"Frozen accounts: {len(frozen)}",
        ["request", "account", "cap", "reading", "frozen at", "on freeze", "thaw"],
        [_row(r) for r in frozen],
    )
    return 0


def cmd_thaw(args: argparse.Namespace) -> int:
    s = session()
    who = signed_caller(s, args.by)
    store = FreezeStore(s.client("dynamodb"), Settings.from_env().freezes_table)
    filed = request_thaw(
        store, args.request_id, by=who.arn, session=who.session, reason=args.reason, now=datetime.now(UTC)
    )
    if args.json:
        print_json(filed.model_dump(mode="json"))
    else:
        print(f"thaw of {filed.request_id} filed by {who.arn}; another principal approves it: vend spend approve")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    s = session()
    settings = Settings.from_env()
    who = signed_caller(s, args.by)
    thawed = approve_thaw(
        FreezeStore(s.client("dynamodb"), settings.freezes_table),
        None,  # the approver's role may not touch SCPs: the fence's next interval detaches vend-freeze
        cached_layout(),
        args.request_id,
        by=who.arn,
        session=who.session,
        now=datetime.now(UTC),
        notify=event_notifier(s.client("events"), bus=settings.event_bus_name, source=settings.event_source),
    )
    if args.json:
        print_json(thawed.model_dump(mode="json"))
    else:
        print(
            f"{thawed.request_id} thawed by {who.arn}: the next spend-fence interval detaches vend-freeze from "
            f"{thawed.account_id}"
        )
    return 0


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("spend", help="the spend fence: frozen accounts and thaws")
    sub = group.add_subparsers(dest="spend_command", required=True)
    status = sub.add_parser("status", help="frozen accounts with the cap, the reading and when")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    thaw = sub.add_parser("thaw", help="file a thaw of a frozen account; someone else approves it")
    thaw.add_argument("request_id", type=request_id_arg)
    thaw.add_argument("--reason", required=True, help="what was fixed: why the account may spend again")
    thaw.add_argument("--by", help="optional: must name the signed-in AWS principal (anyone else is refused)")
    thaw.add_argument("--json", action="store_true")
    thaw.set_defaults(func=cmd_thaw)
    approve = sub.add_parser("approve", help="approve the filed thaw: the record is cleared, vend-freeze detached")
    approve.add_argument("request_id", type=request_id_arg)
    approve.add_argument("--by", help="optional: must name the signed-in principal, never the thaw's filer")
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(func=cmd_approve)
