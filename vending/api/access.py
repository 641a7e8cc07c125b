"""Who may see and do what through the API (and so through the portal, which calls the API as its signed-in user).

- the platform admin role sees everything and may do everything;
- the platform approver role sees everything and approves changes (nothing else);
  (the hosted portal's PortalAdmin and PortalApprover roles, which may only call the API, are these two in a browser);
- a team lead (a role listed under the team's `leads:` in the layout) sees its teams' requests, changes, findings and
  spend, submits requests and files changes for them; a change a lead files always waits for a platform approval, so
  a team never widens what it may do on its own;
- anyone else is refused (403 NotPermitted).

Role names in the layout and the settings resolve in the API's own account (API Gateway's requestContext.accountId):
a role of the same name in a team's account is someone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vending.aws.identity import Principal
from vending.exceptions import NotPermitted
from vending.layout import Layout
from vending.settings import Settings


class Role(StrEnum):
    ADMIN = "admin"
    APPROVER = "approver"
    LEAD = "lead"
    NONE = "none"


def _matches(principal: Principal, name_or_arn: str, account: str) -> bool:
    """Whether `principal` is the role named (a name in `account`, or an ARN; the role's path is not compared, as a
    session ARN does not carry it)."""
    if name_or_arn.startswith("arn:"):
        partition, arn_account, rest = name_or_arn.split(":")[1], name_or_arn.split(":")[4], name_or_arn.split(":")[5]
        name = rest.rsplit("/", 1)[-1]
        wanted = f"arn:{partition}:iam::{arn_account}:role/{name}"
    else:
        wanted = f"arn:{principal.arn.split(':')[1]}:iam::{account}:role/{name_or_arn}"
    return principal.key == wanted.lower()


@dataclass(frozen=True)
class Access:
    principal: Principal
    role: Role
    teams: frozenset[str] = frozenset()  # a lead's teams

    @property
    def sees_all(self) -> bool:
        return self.role in {Role.ADMIN, Role.APPROVER}

    def can_see(self, team: str) -> bool:
        return self.sees_all or team in self.teams

    def require_team(self, team: str, doing: str = "see") -> None:
        """Read access to `team`'s requests, changes, findings and spend."""
        if not self.can_see(team):
            raise NotPermitted(f"caller: {self.principal.arn} may not {doing} {team}'s requests ({self._who()})")

    def require_act(self, team: str, doing: str) -> None:
        """Submit, change: the admin, or a lead of the team."""
        if self.role == Role.ADMIN or (self.role == Role.LEAD and team in self.teams):
            return
        raise NotPermitted(f"caller: {self.principal.arn} may not {doing} for {team} ({self._who()})")

    def require_admin(self, doing: str) -> None:
        if self.role != Role.ADMIN:
            raise NotPermitted(f"caller: only the platform admin may {doing} ({self._who()})")

    def require_approver(self) -> None:
        """Approvals: a platform principal (the requester is refused by vending.changes whoever it is)."""
        if not self.sees_all:
            raise NotPermitted(
                f"caller: {self.principal.arn} may not approve changes; the platform approver does ({self._who()})"
            )

    def _who(self) -> str:
        if self.role == Role.LEAD:
            return f"a lead of {', '.join(sorted(self.teams))}"
        return {Role.ADMIN: "the platform admin", Role.APPROVER: "the platform approver"}.get(
            self.role, "not a platform principal nor a team lead"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "principal": self.principal.arn,
            "session": self.principal.session,
            "role": self.role.value,
            "teams": sorted(self.teams),
            "sees_all": self.sees_all,
        }


def access_for(principal: Principal, account: str, layout: Layout, settings: Settings) -> Access:
    """What the signed `principal` may do; `account` is the API's own account (where role names resolve)."""
    if any(_matches(principal, r, account) for r in (settings.platform_admin_role, settings.portal_admin_role)):
        return Access(principal, Role.ADMIN)
    if any(_matches(principal, r, account) for r in (settings.platform_approver_role, settings.portal_approver_role)):
        return Access(principal, Role.APPROVER)
    teams = frozenset(t.slug for t in layout.teams if any(_matches(principal, lead, account) for lead in t.leads))
    return Access(principal, Role.LEAD, teams) if teams else Access(principal, Role.NONE)
