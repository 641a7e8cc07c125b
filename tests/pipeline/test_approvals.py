"""Approvals: recorded per stack and plan digest, with who and when; file and DynamoDB stores behave the same."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from vending.exceptions import InvalidRequest
from vending.pipeline.approvals import ApprovalNotFound, DynamoDbApprovalStore, FileApprovalStore

STACK = "team-mlops/production/bootstrap"


@pytest.fixture(params=["file", "dynamodb"])
def store(request, tmp_path, monkeypatch):
    if request.param == "file":
        yield FileApprovalStore(tmp_path / "approvals.json")
        return
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        dynamo = DynamoDbApprovalStore(boto3.client("dynamodb", region_name="us-east-1"), "approvals")
        dynamo.create_table()
        yield dynamo


def test_approval_store_request_then_approve_records_who_and_when(store):
    # GIVEN a pending request for a plan
    pending = store.request(STACK, "abc123", '{"add": 3}')
    assert pending.status == "pending" and store.get(STACK, "abc123").status == "pending"
    # WHEN someone approves the stack
    approved = store.approve(STACK, by="alice@example.com")
    # THEN that plan is approved, with the approver and a timestamp
    assert (approved.plan_digest, approved.status, approved.approved_by) == ("abc123", "approved", "alice@example.com")
    assert approved.approved_at
    assert store.get(STACK, "abc123").approved_by == "alice@example.com"


def test_approval_store_other_plan_is_not_approved(store):
    # GIVEN an approved plan
    store.request(STACK, "plan-1", "")
    store.approve(STACK, by="alice")
    # WHEN a different plan is requested later, THEN it is pending, not approved
    assert store.request(STACK, "plan-2", "").status == "pending"
    assert store.get(STACK, "plan-1").status == "approved"


def test_approval_store_nothing_pending_is_an_error(store):
    # GIVEN no pending request, WHEN approving, THEN ApprovalNotFound tells to run the pipeline first
    with pytest.raises(ApprovalNotFound, match="run the pipeline first"):
        store.approve(STACK, by="alice")


def test_approval_store_request_is_idempotent(store):
    # GIVEN the same plan requested twice (a re-run before approval), THEN one record exists
    store.request(STACK, "same", "")
    store.request(STACK, "same", "")
    assert len(store.list(STACK)) == 1


def test_approval_store_empty_approver_is_refused(store):
    store.request(STACK, "p", "")
    with pytest.raises(InvalidRequest, match="--by"):
        store.approve(STACK, by="  ")
