"""The Terraform pipeline runner in AWS: a CodeBuild project whose buildspec runs `vend pipeline worker`.

Tool versions come from tools/versions.env (read at synthesis); the image's architecture is the platform the
committed lock files carry hashes for. tests/cdk/test_buildspec.py runs the build phase locally against the emulator.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets

from landing_zone.cdk.base import REPO_ROOT, BaseStack
from landing_zone.cdk.storage import Storage
from landing_zone.cdk.versions import load_tool_versions
from landing_zone.grant_statements import pipeline_role_statements
from vending.settings import PIPELINE_CONCURRENT_BUILDS
from vending.trust import APPLY_ROLE_NAME, PLAN_ROLE_NAME

# What the source asset leaves out: virtualenvs (.venv-checkov alone is ~250 MB), local state, build output and
# anything the worker never reads. Globs relative to the repository root (CDK's default glob ignore mode).
SOURCE_EXCLUDES = (
    ".venv*",
    ".git",
    ".vend",
    "cdk.out",
    "node_modules",
    "**/__pycache__",
    "**/.terraform",
    "tests",
    "benchmarks",
    ".ci",
    "docs",
    "build",
    "dist",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".import_linter_cache",
    "*.egg-info",
    "*.tfstate*",
    "*.tfplan",
)
# The image's CPU architecture per Terraform platform (lock-file hashes are per platform).
IMAGES = {"linux_amd64": codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5}
# Where the install phase puts checkov's own virtualenv (checkov pins boto3) inside the CodeBuild build container is
# a setting: CODEBUILD_CHECKOV_VENV in tools/versions.env (documented there), required, never a path baked in here.
CHECKOV_VENV_SETTING = "CODEBUILD_CHECKOV_VENV"


def buildspec(versions: dict[str, str]) -> dict[str, Any]:
    """The buildspec as data. The install phase is what CodeBuild adds to a machine; the build phase is what a test
    runs locally with the same variables."""
    checkov_venv = versions.get(CHECKOV_VENV_SETTING)
    if not checkov_venv:
        raise ValueError(f"tools/versions.env: {CHECKOV_VENV_SETTING} is not set (checkov's virtualenv in CodeBuild)")
    return {
        "version": "0.2",
        "env": {
            "variables": {
                "TERRAFORM_VERSION": versions["TERRAFORM_VERSION"],
                "CHECKOV_VERSION": versions["CHECKOV_VERSION"],
                "TERRAFORM_PLATFORM": versions["TERRAFORM_PLATFORM"],
                "TF_IN_AUTOMATION": "1",
                # CodeBuild does not expand variables inside variables: both values are resolved here.
                "CHECKOV_VENV": checkov_venv,
                "VEND_CHECKOV_BIN": f"{checkov_venv}/bin/checkov",
            }
        },
        "phases": {
            "install": {
                "runtime-versions": {"python": "3.12"},
                "commands": [
                    # The official HashiCorp release for the image's platform, verified against HashiCorp's SHA256SUMS
                    # before it is put on the PATH. No provider mirror is set: providers come from the registry,
                    # checked against the committed lock files (-lockfile=readonly).
                    'TF_ZIP="terraform_${TERRAFORM_VERSION}_${TERRAFORM_PLATFORM}.zip"',
                    'curl -fsSLo "/tmp/${TF_ZIP}" "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/${TF_ZIP}"',
                    "curl -fsSLo /tmp/SHA256SUMS "
                    '"https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_SHA256SUMS"',
                    'cd /tmp && grep " ${TF_ZIP}$" SHA256SUMS | sha256sum -c - && cd "$CODEBUILD_SRC_DIR"',
                    'unzip -o "/tmp/${TF_ZIP}" -d /usr/local/bin && terraform version',
                    # checkov pins boto3 tightly: its own virtualenv, as scripts/setup.sh does.
                    # (the path has no spaces: tools/versions.env values cannot hold any)
                    "python -m venv $CHECKOV_VENV && $CHECKOV_VENV/bin/pip install --no-cache-dir "
                    '"checkov==${CHECKOV_VERSION}" && "$VEND_CHECKOV_BIN" --version',
                    # The vending package provides the `vend` CLI and the pipeline runner; the `pipeline` extra is its
                    # policy stage's Rego engine (without it every policy stage fails closed). Pinned by the repo's
                    # constraints. Editable: the runner reads policies/ and tools/versions.env beside its package
                    # (vending.settings.REPO_ROOT), which a site-packages install would not have.
                    # tests/cdk/test_install_paths.py runs this very command in a clean virtualenv.
                    'python -m pip install --no-cache-dir -c constraints.txt -e ".[pipeline]"',
                ],
            },
            "build": {
                "commands": [
                    'export VEND_TERRAFORM_ROOT="$CODEBUILD_SRC_DIR/terraform"',
                    'vend pipeline worker --run-id "$VEND_RUN_ID"',
                ]
            },
        },
    }


def build_pipeline_project(stack: BaseStack, storage: Storage) -> codebuild.Project:
    versions = load_tool_versions()
    platform = versions["TERRAFORM_PLATFORM"]
    if platform not in IMAGES:
        raise ValueError(f"tools/versions.env: no CodeBuild image for TERRAFORM_PLATFORM={platform!r}")
    source = s3_assets.Asset(stack, "PipelineSource", path=str(REPO_ROOT), exclude=list(SOURCE_EXCLUDES))
    settings = stack.settings
    project = codebuild.Project(
        stack,
        "TerraformPipeline",
        project_name=settings.codebuild_project,
        description="Terraform pipeline worker: one build per vended stack (fmt, validate, plan, policy, apply)",
        source=codebuild.Source.s3(bucket=source.bucket, path=source.s3_object_key),
        build_spec=codebuild.BuildSpec.from_object(buildspec(versions)),
        encryption_key=storage.key,
        timeout=Duration.hours(1),
        concurrent_build_limit=PIPELINE_CONCURRENT_BUILDS,
        environment=codebuild.BuildEnvironment(
            build_image=IMAGES[platform],
            compute_type=codebuild.ComputeType.SMALL,
            privileged=False,
            environment_variables={
                "VEND_PIPELINE_RUNS_TABLE": codebuild.BuildEnvironmentVariable(
                    value=storage.tables["pipeline_runs_table"].table_name
                ),
                "VEND_PIPELINE_LAUNCHER": codebuild.BuildEnvironmentVariable(value="codebuild"),
                "VEND_APPROVALS_TABLE": codebuild.BuildEnvironmentVariable(
                    value=storage.tables["approvals_table"].table_name
                ),
            },
        ),
        logging=codebuild.LoggingOptions(
            cloud_watch=codebuild.CloudWatchLoggingOptions(
                log_group=logs.LogGroup(
                    stack,
                    "PipelineLogs",
                    retention=logs.RetentionDays.THREE_MONTHS,
                    removal_policy=RemovalPolicy.DESTROY,
                )
            )
        ),
    )
    # One source with the emulator's worker role (landing_zone.grant_statements), so a missing grant fails locally.
    for statement in pipeline_role_statements(
        runs_table=storage.tables["pipeline_runs_table"].table_arn,
        approvals_table=storage.tables["approvals_table"].table_arn,
        access_role=stack.access_role_arn,
        state_machines=[stack.state_machine_arn, stack.lifecycle_state_machine_arn],
    ):
        project.add_to_role_policy(iam.PolicyStatement.from_json(statement))
    _acknowledge(stack, project)
    return project


def _acknowledge(stack: BaseStack, project: codebuild.Project) -> None:
    role = project.role
    if not isinstance(role, iam.Role):
        raise TypeError(f"expected the CodeBuild project's own role to acknowledge findings on, got {role!r}")
    stack.acknowledge(
        role,
        f"AwsSolutions-IAM5[Resource::{stack.nag(stack.access_role_arn)}]",
        "The worker applies Terraform in the vended account through its access role; account IDs "
        "are only known after CreateAccount, so the role name is fixed and the account is not.",
    )
    for name in (PLAN_ROLE_NAME, APPLY_ROLE_NAME):
        stack.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:aws:iam::*:role/{name}]",
            f"The worker plans (TeamCIPlanRole) and applies (TeamCIRole) a team's stacks as that team's CI roles, "
            f"fenced by the account's SCPs; {name} trusts this one role by ARN (vending.trust), and account IDs are "
            "only known after CreateAccount.",
        )
    project_ref = f"<{stack.get_logical_id(project.node.default_child)}>"  # type: ignore[arg-type]
    for finding, reason in (
        (
            "Action::s3:GetBucket*",
            "CDK's read grant on the staged source asset (the CDK bootstrap assets bucket): "
            "read-only bucket metadata CodeBuild needs to download the source.",
        ),
        (
            "Action::s3:GetObject*",
            "CDK's read grant on the staged source asset: GetObject and GetObjectVersion of "
            "the asset bucket, read-only.",
        ),
        ("Action::s3:List*", "CDK's read grant on the staged source asset bucket: listing, read-only."),
        (
            "Action::kms:GenerateDataKey*",
            "CodeBuild encrypts build artifacts and logs with the stack's key; the grant is on that one key ARN.",
        ),
        ("Action::kms:ReEncrypt*", "CodeBuild's encrypt/decrypt grant on the stack's key (one key ARN)."),
        (
            f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/"
            f"{project_ref}:*",
            "CodeBuild writes one log stream per build with a generated name; scoped to this project's log group.",
        ),
        (
            f"Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/{project_ref}-*",
            "CodeBuild test-report groups are named after the project; scoped to this project's report groups.",
        ),
    ):
        stack.acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
