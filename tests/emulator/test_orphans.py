"""The orphan inventory the chaos soak reports: zero after a clean vend, and it sees what was planted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from landing_zone.local import orphans, runtime
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.pipeline import orchestration
from vending.service import submit_request
from vending.settings import Settings


@pytest.fixture(scope="module")
def vended() -> Iterator[tuple[RequestRecord, Any]]:
    """One team vended READY through the real state machine (pipelines recorded SUCCEEDED at launch)."""
    from benchmarks.vend_throughput import request, skip_pipelines

    patch = pytest.MonkeyPatch()
    patch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    patch.setattr(orchestration.LocalThreadLauncher, "launch", orchestration.LocalThreadLauncher.launch)
    try:
        with runtime.Emulator():
            deployment = runtime.deploy()
            skip_pipelines()
            org = boto3.client("organizations")
            scps_before = orphans.scp_policy_ids(org)
            store = RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table)
            req = request(0)
            submit_request(boto3.client("stepfunctions"), store, deployment.state_machine_arn, req)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                record = store.get(req.request_id)
                if record is not None and record.status in (Status.READY, Status.FAILED):
                    break
                time.sleep(0.5)
            assert record is not None and record.status == Status.READY, record
            yield record, scps_before
    finally:
        patch.undo()


def _report(record: RequestRecord) -> dict[str, Any]:
    return orphans.orphan_report(
        {record.request_id: record},
        sts=boto3.client("sts"),
        org=boto3.client("organizations"),
        access_role_name=cached_layout().organization.access_role_name,
    )


def test_orphans_clean_vend_leaves_none(vended: tuple[RequestRecord, Any]) -> None:
    # GIVEN a team vended READY without faults
    record, scps_before = vended
    # WHEN its account and the organization are inventoried
    report = _report(record)
    # THEN nothing in the account lies outside the request's expected set, and no new SCP is left unattached
    assert report["count"] == 0, report
    assert orphans.unattached_new_scps(boto3.client("organizations"), scps_before) == []


def test_orphans_planted_bucket_role_key_alias_and_scp_are_counted(vended: tuple[RequestRecord, Any]) -> None:
    # GIVEN the READY team's account, and in it what a duplicated step would leave: a second bucket, an extra role,
    # a second live KMS key with its own alias, an SCP attached to the account that the record does not list
    record, scps_before = vended
    assert record.account_id
    layout = cached_layout()
    member = assume_role_session(
        boto3.client("sts"),
        access_role_arn(record.account_id, layout.organization.access_role_name),
        "plant",
        "us-east-1",
    )
    member.client("s3").create_bucket(Bucket=f"tfstate-{record.account_id}-us-east-1-copy")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*"}]}
    member.client("iam").create_role(RoleName="TeamCIRole2", AssumeRolePolicyDocument=json.dumps(trust))
    kms = member.client("kms")
    key = kms.create_key(Description="a retried CreateKey's twin")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/terraform-state-2", TargetKeyId=key)
    org = boto3.client("organizations")
    stray = org.create_policy(
        Name="vend-stray", Description="planted", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(trust)
    )["Policy"]["PolicySummary"]["Id"]
    unattached = org.create_policy(
        Name="vend-unattached", Description="planted", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(trust)
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=stray, TargetId=record.account_id)
    try:
        # WHEN the account is inventoried
        report = _report(record)
        # THEN each planted resource is an orphan of its kind, named under the account
        assert report["by_account"][record.account_id] == {
            "bucket": [f"tfstate-{record.account_id}-us-east-1-copy"],
            "iam_role": ["TeamCIRole2"],
            "kms_key": [key],
            "kms_alias": ["alias/terraform-state-2"],
            "scp_attachment": ["vend-stray"],
        }
        assert report["count"] == 5
        assert report["by_kind"]["bucket"] == 1 and report["by_kind"]["kms_key"] == 1
        # AND a new SCP attached to nothing is an organization-wide orphan
        assert orphans.unattached_new_scps(org, scps_before) == ["vend-unattached"]
        # AND a key scheduled for deletion (bootstrap's cleanup of a duplicate) no longer counts
        kms.delete_alias(AliasName="alias/terraform-state-2")
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        assert "kms_key" not in _report(record)["by_account"][record.account_id]
    finally:
        org.detach_policy(PolicyId=stray, TargetId=record.account_id)
        org.delete_policy(PolicyId=stray)
        org.delete_policy(PolicyId=unattached)
