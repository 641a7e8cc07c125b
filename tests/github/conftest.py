"""A local GitHub (server.py) with one repository, its App installed, reviewers known; a bootstrapped request's record;
the App's private key in Secrets Manager (moto, in-process). Nothing leaves the machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from tests.github.server import GitHubState, LocalGitHub
from vending.github_setup import GitHubAppSettings
from vending.lifecycle import RequestRecord, Status

APP_ID = 123456
REPO = "example-org/team-mlops-infra"
TEAM, STAGE = "team-mlops", "staging"
ACCOUNT = "210987654321"
REGION = "us-east-1"
SECRET = "vend/github-app/private-key"
REVIEWER_TEAM = ("example-org", "team-mlops-leads")  # landing_zone/layout.yaml's github_reviewers for team-mlops


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def state(app_key: rsa.RSAPrivateKey) -> GitHubState:
    public = (
        app_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    state = GitHubState(app_id=APP_ID, public_key=public)
    state.add_repository(REPO)
    state.add_team(*REVIEWER_TEAM)
    state.add_user("octocat")
    return state


@pytest.fixture
def github(state: GitHubState) -> Iterator[LocalGitHub]:
    with LocalGitHub(state) as server:
        yield server


@pytest.fixture
def settings(github: LocalGitHub) -> GitHubAppSettings:
    return GitHubAppSettings(app_id=str(APP_ID), private_key_secret=SECRET, api_url=github.url)


@pytest.fixture
def secretsmanager(app_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name=SECRET, SecretString=_pem(app_key))
        yield client


def bootstrapped_record(**overrides: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "request_id": f"{TEAM}-{STAGE}",
        "team": TEAM,
        "stage": STAGE,
        "status": Status.READY,
        "request": {"team": TEAM, "stage": STAGE, "repository": REPO, "regions": [REGION, "us-west-2"]},
        "account_id": ACCOUNT,
        "state_bucket": f"tfstate-{ACCOUNT}-{REGION}",
        "ci_role_arn": f"arn:aws:iam::{ACCOUNT}:role/TeamCIRole",
    }
    return RequestRecord(**{**fields, **overrides})


@pytest.fixture
def record() -> RequestRecord:
    return bootstrapped_record()
