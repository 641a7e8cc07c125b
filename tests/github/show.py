"""Show `vend github configure` against the local GitHub, for the closing note of issue 21:
`python -m tests.github.show` prints the dry run, the run, the second run, and the calls validated / violations.

Everything is local: moto in-process (the requests table, the App's key in Secrets Manager) and tests/github/server.py
on 127.0.0.1 validating each call against @octokit/openapi."""

from __future__ import annotations

import os
import sys

import boto3
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from tests.github.conftest import APP_ID, REGION, REPO, REVIEWER_TEAM, SECRET, _pem, bootstrapped_record
from tests.github.server import GitHubState, LocalGitHub
from vending.cli import main as vend
from vending.lifecycle import RequestStore


def show() -> int:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from cryptography.hazmat.primitives import serialization

    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    state = GitHubState(app_id=APP_ID, public_key=public)
    state.add_repository(REPO)
    state.add_team(*REVIEWER_TEAM)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "VEND_REQUESTS_TABLE": "vending-requests",
            "VEND_GITHUB_APP_ID": str(APP_ID),
            "VEND_GITHUB_APP_PRIVATE_KEY_SECRET": SECRET,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    with mock_aws(), LocalGitHub(state) as github:
        os.environ["VEND_GITHUB_API_URL"] = github.url
        boto3.client("secretsmanager", region_name=REGION).create_secret(Name=SECRET, SecretString=_pem(key))
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="vending-requests",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        )
        record = bootstrapped_record()
        RequestStore(ddb, "vending-requests")._put(record, condition="attribute_not_exists(request_id)")
        for title, extra in (("dry run", ["--dry-run"]), ("run", []), ("second run", [])):
            print(f"$ vend github configure {record.request_id} {' '.join(extra)}".rstrip(), f"  # {title}")
            code = vend(["github", "configure", record.request_id, *extra])
            if code:
                return code
        app = github.app
        print(
            f"\nlocal GitHub: {len(app.calls)} calls, {app.validated} validated against @octokit/openapi "
            f"(request and response), {len(app.violations)} violations, {len(app.writes)} writes"
        )
        for v in app.violations:
            print(f"  violation: {v.kind} {v.method} {v.path}: {v.error[:300]}")
        return 1 if app.violations else 0


if __name__ == "__main__":
    sys.exit(show())
