"""A throwaway AWS for trying pipelines on a laptop: moto in server mode, an organization, one member account
reached through OrganizationAccountAccessRole (temporary credentials only) and a versioned state bucket in it.

Used by `vend pipeline run --emulator`, the end-to-end test and benchmarks/pipeline_stages.py.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import boto3

from landing_zone.local.organizations import aws_managed_policies as _aws_managed_policies
from vending.aws.sessions import access_role_arn

EMULATOR_REGION = "us-east-1"
_DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto's fake management-account keys


@dataclass
class EmulatedAccount:
    endpoint: str
    account_id: str
    state_bucket: str
    region: str
    credentials: dict[str, str]
    server: Any = field(repr=False, default=None)
    patches: contextlib.ExitStack | None = field(repr=False, default=None)

    def terraform_env(self) -> dict[str, str]:
        """What a PipelineSpec's env needs: the assumed role's temporary keys and the emulator endpoint."""
        return {
            "AWS_ACCESS_KEY_ID": self.credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": self.credentials["SessionToken"],
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.patches is not None:
            self.patches.close()
            self.patches = None


def start_emulated_account(
    team: str = "team-mlops", stage: str = "staging", region: str = EMULATOR_REGION, endpoint: str | None = None
) -> EmulatedAccount:
    """Start moto (unless `endpoint` is given), vend a member account and create its state bucket."""
    server = None
    if endpoint is None:
        from moto.server import ThreadedMotoServer  # the emulator is an optional dependency

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per API call otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
    patches = None
    if server is not None:  # an in-process moto: make it answer as AWS does where the templates need it
        from landing_zone.local.llm_services import llm_services_completed
        from landing_zone.local.moto_costs import access_key_lookup_creates_no_iam

        patches = contextlib.ExitStack()
        patches.enter_context(llm_services_completed())
        patches.enter_context(access_key_lookup_creates_no_iam())
    mgmt = {"endpoint_url": endpoint, "region_name": region, **_DUMMY}
    org = boto3.client("organizations", **mgmt)
    with contextlib.suppress(org.exceptions.AlreadyInOrganizationException):
        org.create_organization(FeatureSet="ALL")
    with _aws_managed_policies():
        created = org.create_account(Email=f"aws+{team}-{stage}@example.com", AccountName=f"{team}-{stage}")
    status = org.describe_create_account_status(CreateAccountRequestId=created["CreateAccountStatus"]["Id"])
    account_id = status["CreateAccountStatus"]["AccountId"]
    sts = boto3.client("sts", **mgmt)
    creds = sts.assume_role(
        RoleArn=access_role_arn(account_id, "OrganizationAccountAccessRole"),
        RoleSessionName=f"vend-pipeline-{team}"[:64],
        DurationSeconds=3600,
    )["Credentials"]
    account = EmulatedAccount(
        endpoint=endpoint,
        account_id=account_id,
        region=region,
        state_bucket=f"tfstate-{account_id}-{region}",
        credentials={k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")},
        server=server,
        patches=patches,
    )
    s3 = account.client("s3")
    kwargs: dict[str, Any] = {"Bucket": account.state_bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_bucket_versioning(Bucket=account.state_bucket, VersioningConfiguration={"Status": "Enabled"})
    return account
