"""Who is calling, from the signature: the principal behind a signed request, never a name the caller typed.

The API reads the caller from API Gateway's request context (IAM authorization: `identity.userArn`), the CLI from
sts:GetCallerIdentity. Records keep the principal's IAM ARN (an assumed-role session becomes its role's ARN) and the
session name beside it.

Two callers are the same principal when they are the same role (or user) of the same account, whatever their session
names: a session name is chosen by whoever assumes the role (`--role-session-name`), so it identifies nobody. Anyone
who may assume the shared PlatformAdmin role is, to this service, the same person; an approval must come from another
role, which is what PlatformApprover is for (its trust names the people who may approve).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vending.exceptions import IdentityMismatch, InvalidRequest, NotSigned

# arn:<partition>:sts::<account>:assumed-role/<role name>/<session>   (the role's path is not in a session ARN)
# Longer than any principal ARN IAM issues (path <= 512, role <= 64 and session <= 64 characters).
MAX_PRINCIPAL_ARN = 1024
_NAME = r"[\w+=,.@-]+"
_ASSUMED = re.compile(rf"^arn:(?P<p>aws[a-z-]*):sts::(?P<a>\d{{12}}):assumed-role/(?P<role>{_NAME})/(?P<s>{_NAME})$")
# arn:<partition>:iam::<account>:role/<path/>name | user/<path/>name | root
_IAM = re.compile(rf"^arn:(?P<p>aws[a-z-]*):iam::(?P<a>\d{{12}}):(?P<kind>role|user)/(?:[\w+=,.@/-]*/)?(?P<n>{_NAME})$")
_ROOT = re.compile(r"^arn:(?P<p>aws[a-z-]*):iam::(?P<a>\d{12}):root$")


@dataclass(frozen=True)
class Principal:
    """A signed caller: `arn` is the IAM ARN of the role or user (path-less, as a session ARN carries it), `session`
    the role session name (None for users and root)."""

    arn: str
    session: str | None = None

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def key(self) -> str:
        """What identifies the principal: partition, account, kind and name (IAM names are case-insensitive)."""
        return self.arn.lower()

    def same_as(self, other: Principal) -> bool:
        return self.key == other.key

    def __str__(self) -> str:
        return f"{self.arn} (session {self.session})" if self.session else self.arn


def principal_from_arn(arn: str) -> Principal:
    """The principal behind a caller ARN as STS or API Gateway report it."""
    text = (arn or "").strip()
    if m := _ASSUMED.match(text):
        return Principal(f"arn:{m['p']}:iam::{m['a']}:role/{m['role']}", m["s"])
    if m := _IAM.match(text):
        return Principal(f"arn:{m['p']}:iam::{m['a']}:{m['kind']}/{m['n']}")
    if _ROOT.match(text):
        return Principal(text)
    raise NotSigned(f"caller: {arn!r} is not an IAM principal ARN (role session, role, user or root)")


def caller_principal(sts: object) -> Principal:
    """The principal of the credentials `sts` (an STS client) signs with."""
    return principal_from_arn(str(sts.get_caller_identity()["Arn"]))  # type: ignore[attr-defined]


def same_principal(a: str, b: str) -> bool:
    """Whether two recorded identities are one principal. Records from before identities were signed hold free text:
    those compare as text (case-insensitive), so an old record never lets its own author approve it."""
    try:
        return principal_from_arn(a).same_as(principal_from_arn(b))
    except NotSigned:
        return a.strip().lower() == b.strip().lower()


def check_claim(field: str, claimed: str | None, caller: Principal) -> Principal:
    """A name given in a body or a flag is at most a statement of who the caller is: it must name the signed caller
    (its role/user ARN or its session ARN); naming anyone else is refused."""
    if claimed is None:
        return caller
    if not claimed.strip() or len(claimed) > MAX_PRINCIPAL_ARN:
        problem = (
            "empty"
            if not claimed.strip()
            else f"{len(claimed)} characters, over {MAX_PRINCIPAL_ARN} (no principal ARN is longer)"
        )
        raise InvalidRequest(
            f"{field}: {problem}; leave it out (who acts is the signed caller) or name the signed caller",
            details=[{"field": field, "message": f"{problem}; leave it out or name the signed caller"}],
        )
    try:
        named = principal_from_arn(claimed)
    except NotSigned:
        named = None
    if named is not None and named.same_as(caller) and named.session in (None, caller.session):
        return caller
    raise IdentityMismatch(
        f"{field}: names {claimed!r}, but the request is signed by {caller}; who acts is taken from the signature",
        details=[{"field": field, "message": f"names {claimed!r}, not the signed caller {caller.arn}"}],
    )
