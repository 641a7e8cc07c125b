"""Each invocation runs under credentials of its own, assumed as the Lambda service assumes them; the Lambda service's
STS client is made once per identity and endpoint, not once per invocation."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from landing_zone.local import runtime
from vending.functions import FUNCTIONS


@pytest.fixture
def enforced(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    sts = boto3.client("sts")
    service = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/lambda-service", RoleSessionName="lambda")
    monkeypatch.setattr(
        runtime,
        "_IDENTITIES",
        runtime._Identities(lambda_service=service["Credentials"], state_machine={}, account_id="123456789012"),
    )
    runtime._lambda_service_sts.cache_clear()
    yield
    runtime._lambda_service_sts.cache_clear()


def _key(session: boto3.Session) -> str:
    return session.get_credentials().get_frozen_credentials().access_key


def test_every_invocation_assumes_its_own_credentials_through_one_service_client(enforced: None) -> None:
    # WHEN three invocations of a function start
    keys = {_key(runtime.function_session(FUNCTIONS[0], f"invocation-{n}")) for n in range(3)}
    # THEN each runs under credentials of its own (a fresh AssumeRole), as in Lambda
    assert len(keys) == 3
    # AND the Lambda service's STS client was built once
    info = runtime._lambda_service_sts.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_another_identity_or_endpoint_gets_another_client() -> None:
    args = ("AKID", "secret", "token", "http://localhost:5000")
    first = runtime._lambda_service_sts(*args)
    assert runtime._lambda_service_sts(*args) is first
    assert runtime._lambda_service_sts("AKID", "secret", "other-token", args[3]) is not first
    assert runtime._lambda_service_sts(*args[:3], "http://localhost:5001") is not first
