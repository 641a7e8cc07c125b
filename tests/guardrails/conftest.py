"""A moto organization with the layout's OU tree, behaving like AWS where the guardrails depend on it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from landing_zone.local.organizations import aws_like_organizations
from vending.guardrails import apply_account_guardrails
from vending.guardrails.orgapi import Backoff
from vending.guardrails.snapshot import Account, OrgSnapshot, Policy
from vending.layout import DEFAULT_LAYOUT, Layout, cached_layout
from vending.lifecycle import RequestRecord, Status
from vending.org_tree import resolve_ou_paths


@pytest.fixture
def layout() -> Layout:
    # The packaged file named outright: cached_layout() would keep whatever $VEND_LAYOUT_FILE said first.
    return cached_layout(str(DEFAULT_LAYOUT))


@pytest.fixture
def aws() -> Iterator[None]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), aws_like_organizations():
        yield


@pytest.fixture
def org(aws: None, layout: Layout) -> Any:
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    resolve_ou_paths(client, [ou.path for ou in layout.ous])
    return client


@pytest.fixture
def no_sleep() -> Backoff:
    return Backoff(attempts=3, sleep=lambda _s: None)


def ou_id(org: Any, path: str) -> str:
    from vending.org_tree import ensure_ou_path

    return ensure_ou_path(org, path, create=False)


def vend_account(org: Any, layout: Layout, team: str, stage: str) -> str:
    """What the vending workflow does before ApplyGuardrails: create, place, tag; then ApplyGuardrails itself."""
    spec = layout.team(team)
    assert spec is not None
    account_id = org.create_account(Email=layout.account_email(team, stage), AccountName=f"{team}-{stage}")[
        "CreateAccountStatus"
    ]["AccountId"]
    root = org.list_roots()["Roots"][0]["Id"]
    dest = ou_id(org, layout.ou_for_stage(stage))
    org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=dest)
    org.tag_resource(
        ResourceId=account_id,
        Tags=[
            {"Key": "team", "Value": team},
            {"Key": "stage", "Value": stage},
            {"Key": "cost-center", "Value": spec.cost_center},
            {"Key": "gpu-tier", "Value": spec.gpu_tier},
        ],
    )
    apply_account_guardrails(org, layout, account_id=account_id, team=team, stage=stage, gpu_tier=spec.gpu_tier)
    return account_id


def policy_id(org: Any, name: str) -> str:
    pages = org.get_paginator("list_policies").paginate(Filter="SERVICE_CONTROL_POLICY")
    return next(p["Id"] for page in pages for p in page["Policies"] if p["Name"] == name)


def record_for(
    layout: Layout, team: str, stage: str, account_id: str | None, *, status: str = "READY", **request: Any
) -> RequestRecord:
    """The vending record the lifecycle store holds for a vended account (the audit's source of intent)."""
    spec = layout.team(team)
    assert spec is not None
    body = {
        "team": team,
        "stage": stage,
        "owner_email": spec.owner_email,
        "cost_center": spec.cost_center,
        "gpu_tier": spec.gpu_tier,
        "regions": list(spec.regions),
        "stacks": list(spec.stacks),
        "repository": spec.repository,
        **request,
    }
    return RequestRecord(
        request_id=f"{team}-{stage}",
        team=team,
        stage=stage,
        status=Status(status),
        request=body,
        account_id=account_id,
        account_email=layout.account_email(team, stage),
    )


def snapshot_of(ou_paths: Mapping[str, str], parents: Mapping[str, str], policies: Iterable[Policy]) -> OrgSnapshot:
    """A hand-made organization for the audit's parts: root `r-1` (list it in `ou_paths` as ""), each account (id ->
    parent id) named after its id, the policies by name."""
    return OrgSnapshot(
        root_id="r-1",
        management_account_id="999999999999",
        scp_enabled=True,
        ou_paths=dict(ou_paths),
        accounts={a: Account(a, a, f"{a}@example.com", parent) for a, parent in parents.items()},
        policies={p.name: p for p in policies},
    )


def vend_with_record(org: Any, layout: Layout, team: str, stage: str) -> tuple[str, RequestRecord]:
    account_id = vend_account(org, layout, team, stage)
    return account_id, record_for(layout, team, stage, account_id)


class Throttling:
    """The org client, but `operation` always answers TooManyRequestsException."""

    def __init__(self, org: Any, operation: str) -> None:
        self.org, self.operation = org, operation

    def __getattr__(self, name: str) -> Any:
        if name != self.operation:
            return getattr(self.org, name)

        def throttled(**_: Any) -> Any:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}}, name)

        return throttled
