"""The least-privilege recorder's half for the vended (member) accounts: every call a role made there, checked against
that role's own policies.

The functions' calls are checked against their FunctionSpec grants (runtime.least_privilege_report); once a function
assumes a member account's access role, or a pipeline runs Terraform as a team's CI roles, the calls are made as those
roles, so they are checked against what those roles are given: their identity policies and, when they have one, their
permissions boundary. The calls come from the emulator's authorization log (every authorization decided, by the ARN
of the role that signed it); the policies are read from the emulator as they are when the report is made.

The check is by action, as for the functions: a call is covered when an Allow statement of the role names its action
(Action or NotAction) and, for a bounded role, its boundary does too. Resources and conditions are decided call by
call by the authorization itself (a call they refuse is a denial, reported on its own).
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# AWS authorizes these for every principal: no policy can (or need) grant them.
NEEDS_NO_GRANT = frozenset({"sts:GetCallerIdentity"})

Documents = tuple[tuple[dict[str, Any], ...], dict[str, Any] | None]
DocumentsOf = Callable[[str], Documents | None]


def listed(value: Any) -> list[Any]:
    """A policy element that may be one item or a list of them, as a list."""
    return [value] if isinstance(value, (str, dict)) else list(value or [])


def _matches(action: str, patterns: Iterable[str]) -> bool:
    # IAM action names are case-insensitive.
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def statement_allows(statement: dict[str, Any], action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not _matches(action, listed(statement["NotAction"]))
    return _matches(action, listed(statement.get("Action")))


def _statements(documents: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [s for d in documents for s in (listed(d.get("Statement")) if d else []) if isinstance(s, dict)]


def _grant_names(statement: dict[str, Any]) -> list[str]:
    """What an Allow statement grants, named as the report lists it: its action patterns, or its NotAction."""
    if "NotAction" in statement:
        return ["NotAction:" + ",".join(sorted(listed(statement["NotAction"])))]
    return listed(statement.get("Action"))


def check_role(used: Mapping[str, int], documents: Documents) -> dict[str, Any]:
    """One role: the actions it used that its policies do not grant (`missing`; `(boundary)` when only its boundary
    leaves it out) and what its Allow statements grant that it never used (`unused`)."""
    identity, boundary = documents
    allows = [s for s in _statements(identity) if s.get("Effect") == "Allow"]
    bounds = _statements([boundary]) if boundary is not None else None
    missing = []
    for action in used:
        if action in NEEDS_NO_GRANT:
            continue
        if not any(statement_allows(s, action) for s in allows):
            missing.append(action)
        elif bounds is not None and not any(statement_allows(s, action) for s in bounds):
            missing.append(f"{action} (boundary)")
    granted = sorted({name for s in allows for name in _grant_names(s)})
    calls = [a for a in used if a not in NEEDS_NO_GRANT]
    unused = set()
    for s in allows:  # an action pattern no call matched; a NotAction statement no call went through
        if "NotAction" in s:
            if not any(statement_allows(s, a) for a in calls):
                unused.update(_grant_names(s))
        else:
            unused.update(p for p in listed(s.get("Action")) if not _matches_any(calls, p))
    return {"granted": granted, "bounded": boundary is not None, "missing": missing, "unused": sorted(unused)}


def _matches_any(actions: Iterable[str], pattern: str) -> bool:
    return any(_matches(a, [pattern]) for a in actions)


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def member_privilege_report(
    by_principal: Mapping[str, Mapping[str, int]],
    sessions: Mapping[str, Iterable[str]],
    platform_account: str,
    documents_of: DocumentsOf,
) -> dict[str, dict[str, Any]]:
    """Per role name, over every member account it was used in: the calls, the sessions that made them, what the role
    is granted, what it used without a grant, what it never used. A role gone by the time of the report (destroyed)
    is named under `gone` and its calls are not checked."""
    rows: dict[str, dict[str, Any]] = {}
    checked: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for arn, used in sorted(by_principal.items()):
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "iam" or parts[4] == platform_account or ":role/" not in arn:
            continue
        name = role_name(arn)
        row = rows.setdefault(
            name, {"accounts": [], "sessions": set(), "calls": 0, "used": Counter(), "gone": [], "missing": []}
        )
        row["accounts"].append(parts[4])
        row["sessions"].update(sessions.get(arn, ()))
        row["calls"] += sum(used.values())
        row["used"].update(used)
        documents = documents_of(arn)
        if documents is None:
            row["gone"].append(parts[4])
            continue
        verdict = check_role(used, documents)
        checked[name].append({**verdict, "used": used})
        row["missing"] += [f"{m} in {parts[4]}" for m in verdict["missing"]]
    for name, row in rows.items():
        verdicts = checked[name]
        row["sessions"] = sorted(row["sessions"])
        row["used"] = dict(sorted(row["used"].items()))
        row["granted"] = sorted({g for v in verdicts for g in v["granted"]})
        row["bounded"] = any(v["bounded"] for v in verdicts)
        # unused: granted to the role in some account and used in none of them
        used_somewhere = {g for v in verdicts for g in set(v["granted"]) - set(v["unused"])}
        row["unused"] = sorted(set(row["granted"]) - used_somewhere)
    return rows


def recorded_member_privilege(platform_account: str, documents_of: DocumentsOf | None = None) -> dict[str, Any]:
    """The report over what the emulator's authorization recorded since its last reset, with the roles' policies as
    the emulator holds them now (or as `documents_of` says: the negative control takes a statement away)."""
    from landing_zone.local.authorization import state
    from landing_zone.local.authorization.middleware import DECISIONS

    with DECISIONS._lock:
        by_principal = {arn: Counter(used) for arn, used in DECISIONS.by_principal.items()}
        sessions = {arn: set(names) for arn, names in DECISIONS.sessions.items()}
    return member_privilege_report(by_principal, sessions, platform_account, documents_of or state.role_documents)
