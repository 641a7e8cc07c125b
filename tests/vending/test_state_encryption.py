"""Terraform state is written with the account's state key, never SSE-S3.

An S3 backend with `encrypt = true` and no kms_key_id sends `x-amz-server-side-encryption: AES256`, which overrides
the bucket's default (the KMS state key the guardrails protect). So every backend the project commits, renders or
documents names the state key, and the state bucket refuses a write that asks for another encryption.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest

from scps.evaluate import Request, is_denied
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.bootstrap import bootstrap_account, tls_only_policy
from vending.layout import cached_layout
from vending.lifecycle import RequestStore, Status
from vending.pipeline.stacks import render_stack, resolve_stack
from vending.pipeline.templates import ENVIRONMENTS, TERRAFORM, template_names
from vending.request import VendingRequest
from vending.settings import STATE_KEY_ALIAS
from vending.team_docs import team_guide


def _s3_backend(text: str) -> dict[str, Any]:
    (block,) = hcl2.loads(text)["terraform"]
    (backend,) = block["backend"]
    return {k: v[0] if isinstance(v, list) else v for k, v in backend["s3"].items()}


def _assert_uses_state_key(backend: dict[str, Any], where: str) -> None:
    assert backend.get("encrypt") is True, where
    assert backend.get("kms_key_id") == STATE_KEY_ALIAS, f"{where}: state would be written with SSE-S3 (AES256)"


COMMITTED = sorted(p for p in ENVIRONMENTS.rglob("backend.tf") if ".terraform" not in p.parts)


def test_state_encryption_committed_backends_are_found() -> None:
    # GIVEN the committed environments THEN there is a backend.tf in each stack folder (guards the next test)
    assert len(COMMITTED) == len(list(ENVIRONMENTS.glob("*/*/*/main.tf"))) > 0


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.relative_to(ENVIRONMENTS).as_posix())
def test_state_encryption_committed_backend_names_the_state_key(path: Path) -> None:
    # GIVEN a committed backend.tf THEN it encrypts with the state key
    _assert_uses_state_key(_s3_backend(path.read_text(encoding="utf-8")), str(path))


@pytest.mark.parametrize("stack", sorted(template_names()))
def test_state_encryption_rendered_backend_names_the_state_key(stack: str, tmp_path: Path) -> None:
    # GIVEN a workload template rendered for a team that has no committed folder for it (the pipeline's path)
    source = resolve_stack("team-new", "staging", stack, TERRAFORM)
    out = render_stack(source, TERRAFORM, tmp_path, gpu_tier="inference")
    # THEN its backend encrypts with the state key
    _assert_uses_state_key(_s3_backend((out / "backend.tf").read_text(encoding="utf-8")), f"rendered {stack}")


def test_state_encryption_team_guide_backend_names_the_state_key(store: RequestStore, request_: VendingRequest) -> None:
    # GIVEN a READY record, WHEN its team guide is written
    store.reserve(request_, "vend-team-mlops-staging-a1")
    record = store.update(
        request_.request_id,
        status=Status.READY,
        step="RecordReady",
        account_id="111122223333",
        state_bucket="tfstate-111122223333-us-east-1",
    )
    guide = team_guide(record, cached_layout())
    # THEN the backend block it tells the team to copy encrypts with the state key
    (block,) = re.findall(r"```hcl\n(terraform \{.*?\n\})\n```", guide, re.S)
    _assert_uses_state_key(_s3_backend(block), "team guide")


@pytest.fixture
def member(org: Any, member_account: Callable[[str, str], str]) -> tuple[str, boto3.Session]:
    account_id = member_account("aws+team-mlops-staging@example.com", "team-mlops-staging")
    session = assume_role_session(
        boto3.client("sts", region_name="us-east-1"),
        access_role_arn(account_id, "OrganizationAccountAccessRole"),
        "vending-bootstrap-team-mlops",
        "us-east-1",
    )
    return account_id, session


def test_state_encryption_backend_key_is_the_state_buckets_key(member: tuple[str, boto3.Session]) -> None:
    # GIVEN a bootstrapped account
    account_id, session = member
    result = bootstrap_account(
        session, account_id=account_id, region="us-east-1", repository="o/r", stage="staging", team="team-mlops"
    )
    # WHEN the backends' kms_key_id is resolved in that account THEN it is the key the state bucket encrypts with
    kms, s3 = session.client("kms", region_name="us-east-1"), session.client("s3", region_name="us-east-1")
    named = kms.describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"]["Arn"]
    rule = s3.get_bucket_encryption(Bucket=result.state_bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert named == result.kms_key_arn == rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    # AND the bucket's policy is the one evaluated below
    policy = json.loads(s3.get_bucket_policy(Bucket=result.state_bucket)["Policy"])
    assert policy == tls_only_policy(result.state_bucket)


@pytest.mark.parametrize(
    ("headers", "denied"),
    [
        ({"s3:x-amz-server-side-encryption": "AES256"}, True),  # `encrypt = true` without kms_key_id
        ({"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": "k"}, False),
        ({}, False),  # no header: the bucket default, the state key
    ],
)
def test_state_encryption_bucket_policy_refuses_non_kms_writes(headers: dict[str, str], denied: bool) -> None:
    # GIVEN the state bucket's policy, WHEN a state object is written with these encryption headers
    bucket = "tfstate-111122223333-us-east-1"
    request = Request(
        action="s3:PutObject",
        resource=f"arn:aws:s3:::{bucket}/team-mlops/staging/eks/terraform.tfstate",
        context={"aws:SecureTransport": "true", **headers},
    )
    # THEN only a write that asks for SSE-S3 is refused
    assert is_denied([tls_only_policy(bucket)], request) is denied
