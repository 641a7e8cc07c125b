"""A throwaway AWS for trying pipelines on a laptop: moto in server mode, an organization, one member account
reached through OrganizationAccountAccessRole (temporary credentials only) and a versioned state bucket in it.

Used by `vend pipeline run --emulator`, the end-to-end test and benchmarks/pipeline_stages.py.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3

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


@contextlib.contextmanager
def _aws_managed_policies() -> Iterator[None]:
    """moto leaves AWS managed policies (AmazonEKSClusterPolicy, ...) out of an account's IAM unless configured, and
    its config API cannot switch that on in 5.2; the in-process flag is read when an account's IAM backend is
    created (here: by CreateAccount), so it is set for that call only. It has no effect on a moto in another
    process (start that one with MOTO_IAM_LOAD_MANAGED_POLICIES=true)."""
    try:
        from moto.core.config import default_user_config
    except ImportError:  # moto not installed here: the emulator runs elsewhere
        yield
        return
    from landing_zone.local.patching import MotoChanged

    if "load_aws_managed_policies" not in default_user_config.get("iam", {}):
        raise MotoChanged("moto's default_user_config has no iam.load_aws_managed_policies; update the emulator patch")
    iam_config = default_user_config.setdefault("iam", {})
    before = iam_config.get("load_aws_managed_policies", False)
    iam_config["load_aws_managed_policies"] = True
    try:
        yield
    finally:
        iam_config["load_aws_managed_policies"] = before


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

        patches = contextlib.ExitStack()
        patches.enter_context(llm_services_completed())
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
