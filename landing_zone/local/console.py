"""`vend console`: the portal on the emulator. Signing in means choosing one of the emulator's principals (the platform
admin, the platform approver, each team lead role of the layout); the console assumes that role (one hour) with its
own platform-admin credentials and keeps the temporary credentials on the server (vending.portal.sessions)."""

from __future__ import annotations

from typing import Any

import boto3

from landing_zone.grant_statements import PLATFORM_ADMIN_ROLE, PLATFORM_APPROVER_ROLE, lead_role_names
from vending.layout import Layout, cached_layout
from vending.portal.app import Portal
from vending.portal.server import PortalServer, serve_in_thread
from vending.portal.sessions import Choice, SignedIn

SESSION_SECONDS = 3600


class EmulatorSignIn:
    """Sign-in by sts:AssumeRole on the emulator, as the console's own principal (the platform admin)."""

    def __init__(
        self,
        account: str,
        layout: Layout,
        session: boto3.Session | None = None,
        platform_roles: tuple[str, str] = (PLATFORM_ADMIN_ROLE, PLATFORM_APPROVER_ROLE),
    ) -> None:
        """`platform_roles`: the admin's and the approver's roles; the hosted portal, whose browser holds the
        session, passes the API-only PortalAdmin and PortalApprover (as its Cognito groups map in AWS)."""
        self.account = account
        self.session = session or boto3.Session()
        leads = {name: sorted(t.slug for t in layout.teams if name in t.leads) for name in lead_role_names(layout)}
        admin, approver = platform_roles
        self._choices = [
            Choice(admin, "Platform admin", "sees and does everything"),
            Choice(approver, "Platform approver", "sees everything, approves changes"),
            *(Choice(name, name, f"team lead of {', '.join(teams)}") for name, teams in leads.items()),
        ]

    def choices(self) -> list[Choice]:
        return list(self._choices)

    def sign_in(self, key: str) -> SignedIn:
        if key not in {c.key for c in self._choices}:
            raise ValueError(f"{key!r} is not a principal of this console")
        answer = self.session.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{self.account}:role/{key}",
            RoleSessionName=f"portal-{key}"[:64],
            DurationSeconds=SESSION_SECONDS,
        )
        credentials = answer["Credentials"]
        return SignedIn(
            arn=str(answer["AssumedRoleUser"]["Arn"]),
            credentials={k: str(credentials[k]) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
            expires_at=credentials["Expiration"].timestamp(),
        )


def start_console(port: int = 0, *, session: boto3.Session | None = None) -> tuple[PortalServer, str, Portal]:
    """The portal served in this process on 127.0.0.1 against the running, deployed emulator (tests call this)."""
    session = session or boto3.Session()
    account = str(session.client("sts").get_caller_identity()["Account"])
    from landing_zone.local.runtime import role_sessions

    # The resolver runs as the Api function's role (as in AWS), the signed-in principal only as its caller.
    portal = Portal(
        EmulatorSignIn(account, cached_layout(), session), account=account, resolver_session=role_sessions("Api")
    )
    server, url = serve_in_thread(portal, port)
    return server, url, portal


def cmd_console(args: Any) -> int:
    import time

    from landing_zone.local.cli import _quiet_handlers
    from landing_zone.local.runtime import deploy, start_emulator

    _quiet_handlers(args.verbose)
    emulator = start_emulator(args.emulator_port)
    deploy()
    server, url, _ = start_console(args.port)
    print(f"emulator at {emulator.endpoint}", flush=True)
    print(f"vending portal on {url}  (sign in as the platform admin, the approver or a team lead)", flush=True)
    if args.hosted:
        from landing_zone.local.hosted_portal import HostedSite

        hosted = HostedSite(site_port=args.hosted_port).start()
        print(f"hosted portal (static files + SigV4-signed API calls, as in AWS) on {hosted.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        emulator.stop()
    return 0


def register(subparsers: Any) -> None:
    console = subparsers.add_parser("console", help="the self-service portal on the embedded emulator")
    console.add_argument("--port", type=int, default=8090, help="the portal's port on 127.0.0.1 (0 picks a free one)")
    console.add_argument("--emulator-port", type=int, default=0, help="the emulator's port (default: a free one)")
    console.add_argument("--verbose", action="store_true", help="show the handlers' logs")
    console.add_argument(
        "--hosted", action="store_true", help="also serve the portal as AWS hosts it: static files, signed API calls"
    )
    console.add_argument("--hosted-port", type=int, default=8091, help="the hosted portal's port (0: a free one)")
    console.set_defaults(func=cmd_console)
