"""vending.preflight: the pure parts and the checks the emulator cannot plant (tests/e2e/test_preflight.py: rest)."""

from __future__ import annotations

from typing import Any

import pytest

from vending.layout import Layout, cached_layout
from vending.preflight import (
    Status,
    accounts_needed,
    check_organization,
    check_root_mail_domain,
    close_account_allowance,
)


def _layout(pattern: str) -> Layout:
    layout = cached_layout()
    organization = layout.organization.model_copy(update={"account_email_pattern": pattern})
    return layout.model_copy(update={"organization": organization})


@pytest.mark.parametrize(
    ("domain", "status"),
    [
        ("example.com", Status.FAIL),
        ("mail.example.org", Status.FAIL),
        ("corp.test", Status.FAIL),
        ("host.invalid", Status.FAIL),
        ("localhost", Status.FAIL),
        ("acme.example", Status.FAIL),
        ("platform.acme-corp.io", Status.PASS),
        ("notexample.com", Status.PASS),
    ],
)
def test_root_mail_domain_refuses_domains_that_receive_no_mail(domain: str, status: Status) -> None:
    assert check_root_mail_domain(_layout(f"aws+{{team}}-{{stage}}@{domain}")).status is status


@pytest.mark.parametrize(("members", "allowance"), [(0, 10), (99, 10), (110, 11), (10_000, 1000), (50_000, 1000)])
def test_close_account_allowance_is_ten_percent_between_10_and_1000(members: int, allowance: int) -> None:
    assert close_account_allowance(members) == allowance


def test_accounts_needed_is_one_per_team_and_stage() -> None:
    layout = cached_layout()
    assert accounts_needed(layout) == len(layout.teams) * 2


class _Fake:
    def __init__(self, **answers: Any) -> None:
        self.answers = answers

    def __getattr__(self, name: str) -> Any:
        return lambda **_: self.answers[name]


def test_organization_check_fails_outside_the_management_account() -> None:
    # GIVEN credentials of a member account (the emulator's admin is always in the management account)
    org = _Fake(
        describe_organization={"Organization": {"Id": "o-abc", "MasterAccountId": "111111111111", "FeatureSet": "ALL"}}
    )
    sts = _Fake(get_caller_identity={"Account": "222222222222"})
    result = check_organization(org, sts)
    # THEN the check names both accounts and says where to run
    assert result.status is Status.FAIL
    assert "222222222222" in result.detail and "111111111111" in result.detail
    assert "management account" in result.fix
