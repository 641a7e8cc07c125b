"""OU paths ("Workloads/Staging") to ids, creating what is missing; shared by placement and guardrails."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vending.aws.errors import error_code, raise_if_throttled
from vending.exceptions import OuNotFound


def root_id(org: Any) -> str:
    return str(org.list_roots()["Roots"][0]["Id"])


def children_by_name(org: Any, parent_id: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent_id):
        found.update({ou["Name"]: ou["Id"] for ou in page["OrganizationalUnits"]})
    return found


def ensure_ou_path(org: Any, path: str, *, create: bool = True) -> str:
    """Walk the path from the root; create missing OUs (idempotent: a racing creator is tolerated)."""
    parent = root_id(org)
    for name in path.split("/"):
        existing = children_by_name(org, parent)
        if name in existing:
            parent = existing[name]
            continue
        if not create:
            raise OuNotFound(f"OU {name!r} of {path!r} does not exist")
        try:
            parent = org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
        except ClientError as e:
            raise_if_throttled(e, f"CreateOrganizationalUnit {name}")
            if error_code(e) == "DuplicateOrganizationalUnitException":
                parent = children_by_name(org, parent)[name]
                continue
            raise OuNotFound(f"could not create OU {name!r} of {path!r}: {e}") from e
    return parent


def resolve_ou_paths(org: Any, paths: list[str], *, create: bool = True) -> dict[str, str]:
    return {path: ensure_ou_path(org, path, create=create) for path in sorted(paths)}


def parent_of(org: Any, account_id: str) -> str:
    return str(org.list_parents(ChildId=account_id)["Parents"][0]["Id"])
