"""vending.org_tree: OU paths to ids, creating what is missing."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from vending.exceptions import OrganizationsThrottled, OuNotFound
from vending.layout import Layout
from vending.org_tree import children_by_name, ensure_ou_path, resolve_ou_paths, root_id


def test_ensure_ou_path_org_fixture_has_layout_tree(org: Any, layout: Layout) -> None:
    # GIVEN the org fixture
    # WHEN every layout OU is resolved without creating
    ids = resolve_ou_paths(org, [ou.path for ou in layout.ous], create=False)
    # THEN all exist, nested as the layout says
    assert set(ids) == {"Platform", "Workloads", "Workloads/Staging", "Workloads/Production", "Suspended"}
    assert children_by_name(org, ids["Workloads"]) == {
        "Staging": ids["Workloads/Staging"],
        "Production": ids["Workloads/Production"],
    }


def test_ensure_ou_path_creates_once(bare_org: Any) -> None:
    # GIVEN an org with only its root
    # WHEN a nested path is ensured twice
    first = ensure_ou_path(bare_org, "Workloads/Sandbox")
    second = ensure_ou_path(bare_org, "Workloads/Sandbox")
    # THEN it is created once
    assert first == second
    assert list(children_by_name(bare_org, root_id(bare_org))) == ["Workloads"]


def test_ensure_ou_path_missing_without_create(bare_org: Any) -> None:
    # GIVEN an org with only its root
    # WHEN a path is resolved without creating
    # THEN OuNotFound names it
    with pytest.raises(OuNotFound, match="'Workloads'"):
        ensure_ou_path(bare_org, "Workloads/Staging", create=False)


def test_ensure_ou_path_racing_creator_tolerated(org: Any) -> None:
    # GIVEN another creator making the OU between our list and our create
    root = root_id(org)
    workloads = children_by_name(org, root)["Workloads"]
    with Stubber(org) as stub:
        stub.add_response("list_roots", {"Roots": [{"Id": root, "Name": "Root", "Arn": "arn:aws:x"}]})
        stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": []})
        stub.add_client_error("create_organizational_unit", service_error_code="DuplicateOrganizationalUnitException")
        stub.add_response(
            "list_organizational_units_for_parent",
            {"OrganizationalUnits": [{"Id": workloads, "Name": "Workloads", "Arn": "arn:aws:x"}]},
        )
        # WHEN the path is ensured
        found = ensure_ou_path(org, "Workloads")
    # THEN the racing creator's OU is used
    assert found == workloads


def test_ensure_ou_path_throttled_is_retryable(org: Any) -> None:
    # GIVEN CreateOrganizationalUnit throttled
    with Stubber(org) as stub:
        stub.add_response("list_roots", {"Roots": [{"Id": "r-abcd", "Name": "Root", "Arn": "arn:aws:x"}]})
        stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": []})
        stub.add_client_error("create_organizational_unit", service_error_code="TooManyRequestsException")
        # WHEN a path is ensured
        # THEN the retryable error is raised
        with pytest.raises(OrganizationsThrottled):
            ensure_ou_path(org, "Sandbox")
