"""`vend api serve --emulator` (issue 23): it finds the AccountLifecycle machine by name, checks each request's SigV4
signature against the emulator's credentials as API Gateway would, and hands the signer to the resolver, so a change
is recorded as its signer's and approved by another principal only; a forged or unknown signature is refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.api.test_api import GOOD, serve_on_emulator
from vending.lifecycle import RequestStore, Status
from vending.request import parse_request

REGION = "us-east-1"
REQUEST_ID = "team-mlops-staging"


def _call(url: str, method: str, path: str, body: Any, creds: Credentials, *, sent: Any = ...) -> tuple[int, Any]:
    """Signed with `creds` over `body`; `sent` (when given) is what actually goes on the wire (a forged body)."""
    data = json.dumps(body).encode() if body is not None else b""
    request = AWSRequest(method=method, url=url + path, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(creds, "execute-api", REGION).add_auth(request)
    wire = data if sent is ... else json.dumps(sent).encode()
    http = urllib.request.Request(url + path, data=wire or None, headers=dict(request.headers), method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(http, timeout=60) as answer:  # noqa: S310  (http://127.0.0.1 only)
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _session(sts: Any, account: str, role: str, name: str) -> Credentials:
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=name)["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


@pytest.mark.emulator
def test_served_api_takes_the_signer_as_the_caller_and_finds_the_lifecycle_by_name(tmp_path: Path) -> None:
    with serve_on_emulator(tmp_path) as (url, endpoint, keys):
        # GIVEN the platform admin's emulator-only credentials the server printed, to set things up
        setup = boto3.Session(
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )
        sts = setup.client("sts", endpoint_url=endpoint)
        account = sts.get_caller_identity()["Account"]
        admin = _session(sts, account, "PlatformAdmin", "alice")
        other_admin = _session(sts, account, "PlatformAdmin", "bob")
        approver = _session(sts, account, "PlatformApprover", "carol")
        # AND team-mlops/staging READY (the record as the vending workflow leaves it)
        store = RequestStore(setup.client("dynamodb", endpoint_url=endpoint), "vending-requests")
        request = parse_request({**GOOD, "gpu_tier": "inference"})
        store.reserve(request, f"vend-{REQUEST_ID}-a1")
        store.update(REQUEST_ID, status=Status.READY, step="RecordReady", account_id="210987654321")

        # WHEN alice (PlatformAdmin) asks for a tier upgrade through the served API
        status, change = _call(url, "PATCH", f"/requests/{REQUEST_ID}", {"gpu_tier": "training"}, admin)
        # THEN it is filed as hers (the signer), waiting for an approval: no 422 NotConfigured, no 403 NotSigned
        assert status == 200, change
        assert change["requested_by"] == f"arn:aws:iam::{account}:role/PlatformAdmin"
        assert (change["requested_session"], change["status"]) == ("alice", "AWAITING_APPROVAL")

        # WHEN the body is changed after signing, or the key is one nobody issued
        status, refused = _call(url, "POST", f"/requests/{REQUEST_ID}/approve", {}, approver, sent={"x": 1})
        assert (status, refused["code"]) == (403, "SignatureDoesNotMatch"), refused
        forged = Credentials("AKIDUNISSUED00000000", "unissued-secret")  # a key id nobody issued
        status, refused = _call(url, "POST", f"/requests/{REQUEST_ID}/approve", {}, forged)
        assert (status, refused["code"]) == (403, "UnrecognizedClientException"), refused
        # AND when another session of the same admin role approves: the same principal, refused
        status, refused = _call(url, "POST", f"/requests/{REQUEST_ID}/approve", {}, other_admin)
        assert (status, refused["code"]) == (422, "SelfApproval"), refused

        # WHEN carol (PlatformApprover) approves it
        status, approved = _call(url, "POST", f"/requests/{REQUEST_ID}/approve", {}, approver)
        # THEN it is approved by her, and its execution runs on the AccountLifecycle machine found by name
        assert status == 202, approved
        assert approved["approved_by"] == f"arn:aws:iam::{account}:role/PlatformApprover"
        assert approved["approved_session"] == "carol"
        sfn = setup.client("stepfunctions", endpoint_url=endpoint)
        machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "AccountLifecycle")
        names = [e["name"] for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]]
        assert names == [approved["execution_name"]]
