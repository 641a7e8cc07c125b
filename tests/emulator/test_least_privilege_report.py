"""The least-privilege recorder's verdict (tests/e2e/test_least_privilege.py prints and asserts it): a grant taken
away from a function whose calls were recorded is named as missing, action by action (the negative control)."""

from __future__ import annotations

import dataclasses

import pytest

from landing_zone.local import runtime
from vending.functions import FUNCTIONS


@pytest.mark.parametrize("spec", [f for f in FUNCTIONS if f.grants], ids=lambda f: f.key)
def test_least_privilege_report_names_each_action_of_a_removed_grant(
    monkeypatch: pytest.MonkeyPatch, spec: runtime.FunctionSpec
) -> None:
    # GIVEN a function that used every action it is granted (the positive control: nothing missing, nothing unused)
    log = runtime.OperationLog()
    for grant in spec.grants:
        for action in grant.actions:
            log.record(spec.key, action.replace("*", "Anything"))
    row = runtime.least_privilege_report(log)[spec.key]
    assert (row["missing"], row["unused"]) == ([], [])

    # WHEN its first grant with an action no other grant names is removed from what it is allowed
    def others(i: int) -> set[str]:
        return {a for j, g in enumerate(spec.grants) if j != i for a in g.actions}

    index = next(i for i, g in enumerate(spec.grants) if set(g.actions) - others(i))
    removed, kept = spec.grants[index], [g for j, g in enumerate(spec.grants) if j != index]
    still = others(index)
    monkeypatch.setattr(
        runtime, "FUNCTIONS", [dataclasses.replace(f, grants=tuple(kept)) if f is spec else f for f in FUNCTIONS]
    )
    # THEN each of its actions that no other grant covers is named missing for that function
    row = runtime.least_privilege_report(log)[spec.key]
    expected = sorted(a.replace("*", "Anything") for a in removed.actions if a not in still)
    assert sorted(row["missing"]) == expected and expected


def test_least_privilege_report_counts_what_aws_authorizes_beside_a_call() -> None:
    # GIVEN ArchiveState's calls, and the emulator's authorization log for its role (SSE-KMS: kms:GenerateDataKey)
    spec = next(f for f in FUNCTIONS if f.key == "ArchiveState")
    log = runtime.OperationLog()
    log.record(spec.key, "s3:PutObject")
    assert "kms:GenerateDataKey" in runtime.least_privilege_report(log)[spec.key]["unused"]
    role = f"arn:aws:iam::111111111111:role/{runtime.function_role_name(spec)}"
    authorized = {
        role: {"s3:PutObject": 1, "kms:GenerateDataKey": 1},
        "arn:aws:iam::1:role/other": {"s3:ListBucket": 1},
    }
    # THEN the key's grant counts as used, and another role's calls do not count
    row = runtime.least_privilege_report(log, authorized)[spec.key]
    assert row["authorized_beside"] == ["kms:GenerateDataKey"]
    assert "kms:GenerateDataKey" not in row["unused"] and "s3:ListBucket" in row["unused"]
