"""The Lambda functions of vending/functions.py: one role each holding exactly the declared grants, one log group."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Aws, BundlingOptions, DockerImage, Duration, ILocalBundling, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from landing_zone.cdk.base import METRICS_NAMESPACE, REPO_ROOT, SERVICE_NAME, BaseStack
from landing_zone.cdk.grants import AUDIT_REPORTS_PREFIX, acknowledge_wildcards, statements
from landing_zone.cdk.roles import backstop_role_arn
from landing_zone.cdk.storage import Storage
from landing_zone.grant_statements import PLATFORM_APPROVER_ROLE
from vending.budgets import BACKSTOP_PREFIX, BACKSTOP_ROLE_NAME
from vending.functions import FUNCTIONS, RESOURCE_NAMES, FunctionSpec, by_key
from vending.github_setup import DEFAULT_PRIVATE_KEY_SECRET
from vending.lifecycle import EMAIL_INDEX

# Packages that make up the Lambda code; dependencies other than pyyaml come from the Powertools layer
# (powertools, pydantic v2, aws-xray-sdk) and the runtime (boto3).
# The deployment layer (landing_zone/: CDK, the local emulator) never ships; only the layout data it holds does.
LAMBDA_PACKAGES = ("vending", "scps", "step_functions")
LAMBDA_DATA_FILES = ("landing_zone/layout.yaml",)
# Intake resolves every requested stack before an account exists (vending.pipeline.stacks): the committed stacks and
# the templates ship as data, without modules (the pipeline worker has the whole repository).
LAMBDA_DATA_DIRS = ("terraform/environments", "terraform/templates")
# Pure-Python dependencies the Powertools layer lacks (import names): the layout reader and the e-mail validator.
LAMBDA_DEPENDENCIES = ("yaml", "email_validator", "idna", "dns")
# What the function's environment holds besides the asset (requirement specifiers, pinned by constraints.txt): the
# Python runtime's boto3 and the Powertools layer. tests/cdk/test_install_paths.py installs exactly these into a clean
# virtualenv, puts the staged asset on the path and invokes a handler, so a dependency missing from both fails there.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "aws-lambda-powertools[parser,tracer]")
POWERTOOLS_LAYER_ACCOUNT = "017000801446"  # https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer


@jsii.implements(ILocalBundling)
class _CopyPackages:
    """Builds the Lambda asset without Docker: the repo's packages plus the pure-Python dependencies (pyyaml's C
    extension is optional and would be the wrong architecture anyway)."""

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        import importlib

        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "tests", ".terraform", "*.tfstate*")
        out = Path(output_dir)
        for package in LAMBDA_PACKAGES:
            shutil.copytree(REPO_ROOT / package, out / package, ignore=ignore, dirs_exist_ok=True)
        for name in LAMBDA_DATA_FILES:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, out / name)
        for name in LAMBDA_DATA_DIRS:
            shutil.copytree(REPO_ROOT / name, out / name, ignore=ignore, dirs_exist_ok=True)
        for module in LAMBDA_DEPENDENCIES:
            source = Path(importlib.import_module(module).__file__ or "").parent
            shutil.copytree(source, out / module, ignore=ignore, dirs_exist_ok=True)
        return True


class Functions:
    """Creates every function; `log_groups` is kept for the terminal-error metric filters (monitoring.py)."""

    def __init__(self, stack: BaseStack, storage: Storage, pipeline_project: codebuild.Project) -> None:
        self.stack, self.storage, self.pipeline_project = stack, storage, pipeline_project
        self.log_groups: dict[str, logs.LogGroup] = {}
        code = lambda_.Code.from_asset(
            str(REPO_ROOT / "vending"),  # source fingerprint; the bundler copies all packages
            bundling=BundlingOptions(
                image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"), local=_CopyPackages()
            ),
        )
        layer = lambda_.LayerVersion.from_layer_version_arn(
            stack,
            "PowertoolsLayer",
            f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-python312-arm64:{stack.config.powertools_layer_version}",
        )
        tables, settings = storage.tables, stack.settings
        environment = {
            "VEND_REQUESTS_TABLE": tables["requests_table"].table_name,
            "VEND_IDEMPOTENCY_TABLE": tables["idempotency_table"].table_name,
            "VEND_PIPELINE_RUNS_TABLE": tables["pipeline_runs_table"].table_name,
            "VEND_CREATION_SLOTS_TABLE": tables["creation_slots_table"].table_name,
            "VEND_CHANGES_TABLE": tables["changes_table"].table_name,
            "VEND_CLOSURES_TABLE": tables["closures_table"].table_name,
            "VEND_USAGE_TABLE": tables["usage_table"].table_name,
            "VEND_FREEZES_TABLE": tables["freezes_table"].table_name,
            "VEND_ARCHIVE_BUCKET": storage.archive_bucket.bucket_name,
            "VEND_LIFECYCLE_STATE_MACHINE_ARN": stack.lifecycle_state_machine_arn,
            "VEND_APPROVALS_TABLE": tables["approvals_table"].table_name,
            "VEND_EVENT_BUS": settings.event_bus_name,
            "VEND_EVENT_SOURCE": settings.event_source,
            "VEND_STATE_MACHINE_ARN": stack.state_machine_arn,
            "VEND_REPORTS_BUCKET": storage.reports_bucket.bucket_name,
            "VEND_PIPELINE_LAUNCHER": "codebuild",
            "VEND_CODEBUILD_PROJECT": pipeline_project.project_name,
            # The vended CI roles trust this one role besides GitHub's jobs (vending.trust).
            "VEND_PIPELINE_ROLE_ARN": _project_role(pipeline_project).role_arn,
            "VEND_PLATFORM_ACCOUNT_ID": Aws.ACCOUNT_ID,
            # Who the API admits beside the layout's team leads (vending.api.access).
            "VEND_PLATFORM_ADMIN_ROLE": stack.config.platform_admin_role_arn,
            "VEND_PLATFORM_APPROVER_ROLE": f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{PLATFORM_APPROVER_ROLE}",
            # The Budgets backstop's execution role (landing_zone/cdk/roles.py); "" when vend-freeze's id is not given.
            "VEND_BACKSTOP_ROLE_ARN": backstop_role_arn(stack),
            # No VEND_GITHUB_APP_ID yet: the asset lacks githubkit and cryptography (compiled; the functions are arm64),
            # so the GitHub step of Bootstrap says it is skipped and `vend github configure` sets repositories up.
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
        self.environment = environment
        self.functions: dict[str, lambda_.Function] = {
            spec.key: self._function(spec, code=code, layer=layer, environment=environment) for spec in FUNCTIONS
        }

    def resource_arns(self, symbol: str) -> list[str]:
        if symbol not in RESOURCE_NAMES:
            raise KeyError(f"unknown symbolic resource {symbol!r}")
        match symbol:
            case (
                "requests_table"
                | "idempotency_table"
                | "pipeline_runs_table"
                | "approvals_table"
                | "creation_slots_table"
                | "changes_table"
                | "closures_table"
                | "usage_table"
                | "freezes_table"
            ):
                return [self.storage.tables[symbol].table_arn]
            case "requests_email_index":
                return [f"{self.storage.tables['requests_table'].table_arn}/index/{EMAIL_INDEX}"]
            case "event_bus":
                return [self.stack.event_bus_arn]
            case "state_machine":
                return [self.stack.state_machine_arn]
            case "executions":
                return [self.stack.executions_arn]
            case "archive_bucket":
                return [self.storage.archive_bucket.bucket_arn, self.storage.archive_bucket.arn_for_objects("*")]
            case "archive_key":
                return [self.storage.key.key_arn]
            case "github_app_secret":
                # Secrets Manager appends a 6-character suffix to the secret's name in its ARN.
                return [
                    f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:"
                    f"{DEFAULT_PRIVATE_KEY_SECRET}-??????"
                ]
            case "lifecycle_state_machine":
                return [self.stack.lifecycle_state_machine_arn]
            case "lifecycle_executions":
                return [self.stack.lifecycle_executions_arn]
            case "reports_bucket":
                return [self.storage.reports_bucket.arn_for_objects(f"{AUDIT_REPORTS_PREFIX}*")]
            case "cost_explorer":
                return ["*"]  # GetCostAndUsage supports no resource-level permissions
            case "reports_listing":
                return [self.storage.reports_bucket.bucket_arn]
            case "codebuild_project":
                return [self.pipeline_project.project_arn]
            case "drift_function":
                # By its fixed name: the admin role's policy must not depend on the function's resource.
                name = by_key("StackDrift").name
                return [f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{Aws.ACCOUNT_ID}:function:{name}"]
            case "account_access_role":
                return [self.stack.access_role_arn]
            case "backstop_budgets":
                budgets = f"arn:{Aws.PARTITION}:budgets::{Aws.ACCOUNT_ID}:budget/{BACKSTOP_PREFIX}*"
                return [budgets, f"{budgets}/action/*"]
            case "backstop_role":
                return [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{BACKSTOP_ROLE_NAME}"]
        raise KeyError(f"no ARN mapping for {symbol!r}")  # "organization" is mapped per action

    def _function(
        self, spec: FunctionSpec, *, code: lambda_.Code, layer: lambda_.ILayerVersion, environment: dict[str, str]
    ) -> lambda_.Function:
        stack = self.stack
        log_group = logs.LogGroup(
            stack,
            f"{spec.key}Logs",
            log_group_name=f"/aws/lambda/{spec.name}",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.log_groups[spec.key] = log_group
        role = iam.Role(
            stack,
            f"{spec.key}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.name}: the grants of vending/functions.py and nothing else",
        )
        policy = [
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{log_group.log_group_arn}:log-stream:*"],
            )
        ]
        for grant in spec.grants:
            policy.extend(statements(stack, grant, arns=self.resource_arns, reports_key=self.storage.key))
        for statement in policy:
            role.add_to_policy(statement)  # the role's DefaultPolicy; the function depends on it
        fn = lambda_.Function(
            stack,
            f"{spec.key}Function",
            function_name=spec.name,
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=spec.handler,
            code=code,
            layers=[layer],
            role=role,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment=environment,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        stack.acknowledge(
            fn,
            "AwsSolutions-L1",
            "Python 3.12 is the runtime the team pins: the Powertools v3 layer version and the tested "
            "dependency set (pydantic-core wheels) are built for it. Upgrading is a deliberate change.",
        )
        acknowledge_wildcards(stack, role, policy)
        return fn


def _project_role(project: codebuild.Project) -> iam.IRole:
    if project.role is None:
        raise TypeError("the pipeline project has no role for the vended CI roles to trust")
    return project.role
