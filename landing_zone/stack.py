"""The landing-zone stack: vending functions, the AccountVending state machine, the API, events, data and alarms.

Everything here is derived from the single sources of truth: vending/functions.py (functions and their grants),
step_functions/account_vending.asl.json (the workflow), vending/onboarding.py (the onboarding event pattern),
docs/openapi.json (the API routes, generated from the powertools resolver) and landing_zone/layout.yaml.
cdk-nag acknowledgements are made through `Validations.of(...).acknowledge` (cdk-nag 3) and every one is recorded
in `LandingZoneStack.acknowledgements` so that tests and reviewers can list them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    Aws,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from step_functions import ASL_PATH, STATE_MACHINE_NAME
from vending.functions import FUNCTIONS, RESOURCE_NAMES, STATE_MACHINE_KEYS, FunctionSpec, Grant, by_key
from vending.guardrails.audit import ALERT_DETAIL_TYPE as AUDIT_FINDINGS_DETAIL_TYPE
from vending.layout import Layout
from vending.notify import FAILED as ACCOUNT_FAILED
from vending.notify import READY as ACCOUNT_READY
from vending.onboarding import ONBOARDING_EVENT_PATTERN
from vending.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = REPO_ROOT / "docs" / "openapi.json"
# Packages that make up the Lambda code; dependencies other than pyyaml come from the Powertools layer
# (powertools, pydantic v2, aws-xray-sdk) and the runtime (boto3).
# The deployment layer (landing_zone/: CDK, the local emulator) never ships; only the layout data it holds does.
LAMBDA_PACKAGES = ("vending", "scps", "step_functions")
LAMBDA_DATA_FILES = ("landing_zone/layout.yaml",)
AUDIT_FINDINGS_METRIC = "GuardrailFindings"  # vending.guardrails.audit.publish, AccountVending namespace
AUDIT_REPORTS_PREFIX = "guardrail-audit/"  # vending.guardrails.audit.publish writes its reports under this prefix
METRICS_NAMESPACE = "AccountVending"
SERVICE_NAME = "account-vending"
POWERTOOLS_LAYER_ACCOUNT = "017000801446"  # https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer

# Organizations resource types per action (Service Authorization Reference:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html).
# An empty tuple means the action supports no resource-level permissions: "*" is the only valid resource.
ORG_ACTION_RESOURCES: dict[str, tuple[str, ...]] = {
    "organizations:DescribeOrganization": (),
    "organizations:ListRoots": (),
    "organizations:ListAccounts": (),
    "organizations:ListPolicies": (),
    "organizations:CreateAccount": (),
    "organizations:ListCreateAccountStatus": (),
    "organizations:DescribeCreateAccountStatus": (),
    "organizations:CreatePolicy": (),
    "organizations:ListOrganizationalUnitsForParent": ("ou", "root"),
    "organizations:ListAccountsForParent": ("ou", "root"),
    "organizations:ListChildren": ("ou", "root"),
    "organizations:CreateOrganizationalUnit": ("ou", "root"),
    "organizations:ListParents": ("account", "ou"),
    "organizations:DescribeAccount": ("account",),
    "organizations:ListPoliciesForTarget": ("account", "ou", "root"),
    "organizations:ListTargetsForPolicy": ("policy", "awspolicy"),
    "organizations:DescribePolicy": ("policy", "awspolicy"),
    "organizations:ListTagsForResource": ("account", "ou", "root", "policy"),
    "organizations:TagResource": ("account",),
    "organizations:MoveAccount": ("account", "ou", "root"),
    "organizations:AttachPolicy": ("account", "ou", "root", "policy", "awspolicy"),
    "organizations:DetachPolicy": ("account", "ou", "root", "policy", "awspolicy"),
    "organizations:UpdatePolicy": ("policy",),
    "organizations:EnablePolicyType": ("root",),
}
# Where "*" is unavoidable, a condition still narrows the write to service control policies.
ORG_POLICY_TYPE_CONDITION_ACTIONS = frozenset({"organizations:CreatePolicy", "organizations:EnablePolicyType"})


@dataclass(frozen=True, kw_only=True)
class VendingConfig:
    """Deployment parameters (CDK context values, see cdk.json and app.py)."""

    platform_admin_role_arn: str
    management_account_id: str
    organization_id: str
    powertools_layer_version: int
    alarm_email: str | None = None


@jsii.implements(ILocalBundling)
class _CopyPackages:
    """Builds the Lambda asset without Docker: the repo's packages plus pure-Python pyyaml (its C extension is optional
    and would be the wrong architecture anyway)."""

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        import yaml

        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "tests")
        out = Path(output_dir)
        for package in LAMBDA_PACKAGES:
            shutil.copytree(REPO_ROOT / package, out / package, ignore=ignore, dirs_exist_ok=True)
        for name in LAMBDA_DATA_FILES:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, out / name)
        shutil.copytree(Path(yaml.__file__).parent, out / "yaml", ignore=ignore, dirs_exist_ok=True)
        return True


class LandingZoneStack(Stack):
    """Account vending for LLM teams; deploy in the Organizations management account (CreateAccount needs it)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: VendingConfig, layout: Layout,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.layout = layout
        self.acknowledgements: list[tuple[str, str, str]] = []  # (construct path, rule id, reason)
        self.settings = Settings.from_env()

        self.key = self._key()
        self.tables = self._tables()
        self.access_logs_bucket, self.reports_bucket = self._buckets()
        self.topic = self._topic()
        self.pipeline_project = self._pipeline_project()
        self.functions = self._functions()
        self.state_machine = self._state_machine()
        self.api = self._api()
        self._onboarding()
        self._schedules_and_notifications()
        self._alarms_and_dashboard()

    # --- helpers -------------------------------------------------------------------------------------------------

    def acknowledge(self, construct: Construct, rule_id: str, reason: str) -> None:
        """Acknowledge one cdk-nag finding on one construct (and its children) with the reason it is acceptable."""
        Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
        self.acknowledgements.append((construct.node.path, rule_id, reason))

    def _arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION if region is None else region}:" \
               f"{Aws.ACCOUNT_ID if account is None else account}:{resource}"

    @property
    def state_machine_arn(self) -> str:
        # Built from the fixed name rather than a Ref: the state machine depends on the functions (substitutions),
        # so a Ref in a function's environment would be a dependency cycle.
        return self._arn("states", f"stateMachine:{STATE_MACHINE_NAME}")

    @property
    def executions_arn(self) -> str:
        return self._arn("states", f"execution:{STATE_MACHINE_NAME}:*")

    @property
    def event_bus_arn(self) -> str:
        return self._arn("events", f"event-bus/{self.settings.event_bus_name}")

    def _org_arns(self, kind: str) -> list[str]:
        mgmt, org = self.config.management_account_id, self.config.organization_id
        base = f"arn:{Aws.PARTITION}:organizations::{mgmt}"
        return {
            "account": [f"{base}:account/{org}/*"],
            "ou": [f"{base}:ou/{org}/ou-*"],
            "root": [f"{base}:root/{org}/r-*"],
            "policy": [f"{base}:policy/{org}/service_control_policy/p-*"],
            "awspolicy": [f"arn:{Aws.PARTITION}:organizations::aws:policy/service_control_policy/p-*"],
        }[kind]

    # --- data ----------------------------------------------------------------------------------------------------

    def _key(self) -> kms.Key:
        key = kms.Key(self, "DataKey", alias="alias/account-vending", enable_key_rotation=True,
                      removal_policy=RemovalPolicy.RETAIN,
                      description="Account vending: onboarding queue, notifications topic, reports, pipeline artifacts")
        # EventBridge (queue and topic targets) and CloudWatch alarms (topic) publish to encrypted destinations;
        # AWS-managed keys cannot be used by them, which is why this is a customer-managed key.
        for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
            key.add_to_resource_policy(iam.PolicyStatement(
                sid=f"Allow{service.split('.')[0].capitalize()}ToEncrypt",
                principals=[iam.ServicePrincipal(service)], actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ))
        return key

    def _tables(self) -> dict[str, ddb.Table]:
        # AWS-owned/managed encryption would also do; the tables use the AWS-managed key (aws/dynamodb) so that
        # KMS usage is visible in CloudTrail without adding a key grant to every function role: the roles stay exactly
        # what vending/functions.py declares.
        spec = {
            "requests_table": ("RequestsTable", self.settings.requests_table, "request_id", None),
            "idempotency_table": ("IdempotencyTable", self.settings.idempotency_table, "id", "expiration"),
            "pipeline_runs_table": ("PipelineRunsTable", self.settings.pipeline_runs_table, "run_id", None),
        }
        tables = {}
        for symbol, (cid, name, pk, ttl) in spec.items():
            tables[symbol] = ddb.Table(
                self, cid, table_name=name, partition_key=ddb.Attribute(name=pk, type=ddb.AttributeType.STRING),
                billing_mode=ddb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute=ttl,
                point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True),
                encryption=ddb.TableEncryption.AWS_MANAGED, deletion_protection=symbol != "idempotency_table",
                removal_policy=RemovalPolicy.DESTROY if symbol == "idempotency_table" else RemovalPolicy.RETAIN,
            )
        # Terraform apply approvals: who approved which saved plan (stack + plan digest), kept like the requests.
        tables["approvals_table"] = ddb.Table(
            self, "ApprovalsTable", table_name=self.settings.approvals_table,
            partition_key=ddb.Attribute(name="stack", type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name="plan_digest", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            encryption=ddb.TableEncryption.AWS_MANAGED, deletion_protection=True, removal_policy=RemovalPolicy.RETAIN,
        )
        return tables

    def _buckets(self) -> tuple[s3.Bucket, s3.Bucket]:
        access_logs = s3.Bucket(
            self, "AccessLogsBucket", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )
        self.acknowledge(access_logs, "AwsSolutions-S1",
                         "This is the server access log destination of the reports bucket; logging its own access "
                         "would recurse. S3 server access logging also requires SSE-S3 here, not KMS.")
        reports = s3.Bucket(
            self, "ReportsBucket", encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            enforce_ssl=True, versioned=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, removal_policy=RemovalPolicy.RETAIN,
            server_access_logs_bucket=access_logs, server_access_logs_prefix="reports/",
        )
        return access_logs, reports

    def _topic(self) -> sns.Topic:
        topic = sns.Topic(self, "NotificationsTopic", display_name="Account vending notifications",
                          master_key=self.key, enforce_ssl=True)
        if self.config.alarm_email:
            sns.Subscription(self, "AlarmEmail", topic=topic, protocol=sns.SubscriptionProtocol.EMAIL,
                             endpoint=self.config.alarm_email)
        return topic

    # --- Terraform pipeline runner (CodeBuild) ------------------------------------------------------------------

    def _pipeline_project(self) -> codebuild.Project:
        source = s3_assets.Asset(
            self, "PipelineSource", path=str(REPO_ROOT),
            exclude=[".venv", ".git", "cdk.out", "tests", "benchmarks", ".ci", "docs", "build", "dist", ".vend",
                     "**/__pycache__", "**/.terraform", ".pytest_cache", ".ruff_cache", ".mypy_cache", "*.egg-info",
                     "*.tfstate*", "*.tfplan"],
        )
        spec = codebuild.BuildSpec.from_object({
            "version": "0.2",
            "env": {"variables": {"TF_VERSION": "1.9.8", "TF_IN_AUTOMATION": "1", "VEND_TERRAFORM_ROOT": "terraform"}},
            "phases": {
                "install": {
                    "runtime-versions": {"python": "3.12"},
                    "commands": [
                        # Terraform: the official HashiCorp release for the build's architecture (arm64), verified
                        # against HashiCorp's SHA256SUMS before it is put on the PATH. Pin TF_VERSION above; the
                        # environments' versions.tf constrain it further.
                        'TF_ZIP="terraform_${TF_VERSION}_linux_arm64.zip"',
                        'curl -fsSLo "/tmp/${TF_ZIP}" "https://releases.hashicorp.com/terraform/${TF_VERSION}/${TF_ZIP}"',
                        'curl -fsSLo /tmp/SHA256SUMS '
                        '"https://releases.hashicorp.com/terraform/${TF_VERSION}/terraform_${TF_VERSION}_SHA256SUMS"',
                        'cd /tmp && grep " ${TF_ZIP}$" SHA256SUMS | sha256sum -c - && cd "$CODEBUILD_SRC_DIR"',
                        'unzip -o "/tmp/${TF_ZIP}" -d /usr/local/bin && terraform version',
                        # The vending package provides the `vend` CLI and the pipeline runner.
                        "python -m pip install --no-cache-dir .",
                    ],
                },
                "build": {"commands": ['export VEND_TERRAFORM_ROOT="$CODEBUILD_SRC_DIR/terraform"',
                                        'vend pipeline worker --run-id "$VEND_RUN_ID"']},
            },
        })
        project = codebuild.Project(
            self, "TerraformPipeline", project_name=self.settings.codebuild_project,
            description="Terraform pipeline worker: one build per vended stack (fmt, validate, plan, policy, apply)",
            source=codebuild.Source.s3(bucket=source.bucket, path=source.s3_object_key),
            build_spec=spec, encryption_key=self.key, timeout=Duration.hours(1), concurrent_build_limit=10,
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0,
                compute_type=codebuild.ComputeType.SMALL, privileged=False,
                environment_variables={
                    "VEND_PIPELINE_RUNS_TABLE": codebuild.BuildEnvironmentVariable(
                        value=self.settings.pipeline_runs_table),
                    "VEND_PIPELINE_LAUNCHER": codebuild.BuildEnvironmentVariable(value="codebuild"),
                    "VEND_APPROVALS_TABLE": codebuild.BuildEnvironmentVariable(value=self.settings.approvals_table),
                },
            ),
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(
                log_group=logs.LogGroup(self, "PipelineLogs", retention=logs.RetentionDays.THREE_MONTHS,
                                        removal_policy=RemovalPolicy.DESTROY))),
        )
        runs = self.tables["pipeline_runs_table"]
        project.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:PutItem"], resources=[runs.table_arn]))
        project.add_to_role_policy(iam.PolicyStatement(  # the runner records approval requests for gated applies
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
            resources=[self.tables["approvals_table"].table_arn]))
        project.add_to_role_policy(iam.PolicyStatement(
            actions=["sts:AssumeRole"], resources=self._resource_arns("account_access_role")))
        role = project.role
        assert role is not None
        self.acknowledge(role, f"AwsSolutions-IAM5[Resource::{self._nag(self._access_role_arn())}]",
                         "The worker applies Terraform in the vended account through its access role; account IDs "
                         "are only known after CreateAccount, so the role name is fixed and the account is not.")
        project_ref = f"<{self.get_logical_id(project.node.default_child)}>"  # type: ignore[arg-type]
        for finding, reason in (
            ("Action::s3:GetBucket*", "CDK's read grant on the staged source asset (the CDK bootstrap assets bucket): "
                                      "read-only bucket metadata CodeBuild needs to download the source."),
            ("Action::s3:GetObject*", "CDK's read grant on the staged source asset: GetObject and GetObjectVersion of "
                                      "the asset bucket, read-only."),
            ("Action::s3:List*", "CDK's read grant on the staged source asset bucket: listing, read-only."),
            ("Action::kms:GenerateDataKey*", "CodeBuild encrypts build artifacts and logs with the stack's key; the "
                                             "grant is on that one key ARN."),
            ("Action::kms:ReEncrypt*", "CodeBuild's encrypt/decrypt grant on the stack's key (one key ARN)."),
            (f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/"
             f"{project_ref}:*", "CodeBuild writes one log stream per build with a generated name; scoped to this "
                                 "project's log group."),
            (f"Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/{project_ref}-*",
             "CodeBuild test-report groups are named after the project; scoped to this project's report groups."),
        ):
            self.acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        return project

    # --- functions -----------------------------------------------------------------------------------------------

    def _access_role_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:iam::*:role/{self.layout.organization.access_role_name}"

    def _resource_arns(self, symbol: str) -> list[str]:
        if symbol not in RESOURCE_NAMES:
            raise KeyError(f"unknown symbolic resource {symbol!r}")
        match symbol:
            case "requests_table" | "idempotency_table" | "pipeline_runs_table" | "approvals_table":
                return [self.tables[symbol].table_arn]
            case "event_bus":
                return [self.event_bus_arn]
            case "state_machine":
                return [self.state_machine_arn]
            case "executions":
                return [self.executions_arn]
            case "reports_bucket":
                return [self.reports_bucket.arn_for_objects(f"{AUDIT_REPORTS_PREFIX}*")]
            case "codebuild_project":
                return [self.pipeline_project.project_arn]
            case "account_access_role":
                return [self._access_role_arn()]
        raise KeyError(f"no ARN mapping for {symbol!r}")  # "organization" is mapped per action

    def _statements(self, grant: Grant) -> list[iam.PolicyStatement]:
        """One grant -> statements. Organizations actions are split by the resource types each one supports."""
        statements: list[iam.PolicyStatement] = []
        for symbol in grant.resources:
            if symbol != "organization":
                statements.append(iam.PolicyStatement(actions=list(grant.actions),
                                                      resources=self._resource_arns(symbol)))
                if symbol == "reports_bucket" and "s3:PutObject" in grant.actions:
                    # The bucket is SSE-KMS: writing an object needs a data key from the bucket's key.
                    statements.append(iam.PolicyStatement(actions=["kms:GenerateDataKey"],
                                                          resources=[self.key.key_arn]))
                continue
            by_kinds: dict[tuple[str, ...], list[str]] = {}
            for action in grant.actions:
                if action not in ORG_ACTION_RESOURCES:
                    raise KeyError(f"{action}: add its resource types to ORG_ACTION_RESOURCES")
                by_kinds.setdefault(ORG_ACTION_RESOURCES[action], []).append(action)
            for kinds, actions in by_kinds.items():
                if kinds:
                    arns = [arn for kind in kinds for arn in self._org_arns(kind)]
                    statements.append(iam.PolicyStatement(actions=sorted(actions), resources=arns))
                    continue
                conditioned = sorted(a for a in actions if a in ORG_POLICY_TYPE_CONDITION_ACTIONS)
                plain = sorted(a for a in actions if a not in ORG_POLICY_TYPE_CONDITION_ACTIONS)
                if plain:
                    statements.append(iam.PolicyStatement(actions=plain, resources=["*"]))
                if conditioned:
                    statements.append(iam.PolicyStatement(
                        actions=conditioned, resources=["*"],
                        conditions={"StringEquals": {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}}))
        return statements

    def _nag(self, value: str) -> str:
        """The text cdk-nag prints for a resource string: pseudo parameters as <AWS::X>, GetAtt/Ref as <Id.Attr>."""
        resolved = self.resolve(value)
        if isinstance(resolved, str):
            return resolved
        parts = resolved["Fn::Join"][1]
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            elif "Ref" in part:
                out.append(f"<{part['Ref']}>")
            elif "Fn::GetAtt" in part:
                out.append(f"<{part['Fn::GetAtt'][0]}.{part['Fn::GetAtt'][1]}>")
            else:
                raise ValueError(f"cannot render {part} for a cdk-nag finding id")
        return "".join(out)

    def _acknowledge_wildcards(self, role: iam.Role, statements: list[iam.PolicyStatement]) -> None:
        reasons = {
            ":account/": "Vended account IDs are created at run time; scoped to accounts of this organization.",
            ":ou/": "OUs are created from layout.yaml at run time (PlaceInOu); scoped to OUs of this organization.",
            ":root/": "The root ID is not known at deploy time; scoped to the root of this organization.",
            ":policy/o-": "SCPs are created by ApplyGuardrails at run time; scoped to this organization's SCPs.",
            "::aws:policy/": "The AWS-managed FullAWSAccess SCP is read and attached/detached (quarantine); "
                             "scoped to AWS-managed service control policies.",
            ":execution:": "Execution names are generated per request attempt; scoped to AccountVending executions.",
            ":role/": "Access roles live in vended accounts whose IDs are only known after CreateAccount; the role "
                      "name is fixed by layout.yaml.",
            ":log-stream:": "Lambda creates one log stream per execution environment with a generated name; "
                            "scoped to this function's own log group.",
            f"/{AUDIT_REPORTS_PREFIX}*": "Audit reports are written under a dated key; scoped to the "
                                         f"{AUDIT_REPORTS_PREFIX} prefix of the reports bucket.",
        }
        seen: set[str] = set()
        # Active tracing adds xray:PutTraceSegments/PutTelemetryRecords on "*" to every function role.
        star = ["X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions."]
        for statement in statements:
            for resource in statement.resources:
                if "*" not in resource:
                    continue
                if resource == "*":
                    actions = ", ".join(sorted(statement.actions))
                    reason = (f"{actions}: Organizations supports no resource-level permissions for these actions "
                              "(Service Authorization Reference), so no ARN can be named")
                    if statement.to_statement_json().get("Condition"):
                        reason += "; narrowed by the condition organizations:PolicyType = SERVICE_CONTROL_POLICY"
                    star.append(reason + ".")
                    continue
                rendered = self._nag(resource)
                finding = f"AwsSolutions-IAM5[Resource::{rendered}]"
                reason = next(r for marker, r in reasons.items() if marker in rendered)
                if finding in seen:
                    continue
                seen.add(finding)
                self.acknowledge(role, finding, reason)
        self.acknowledge(role, "AwsSolutions-IAM5[Resource::*]", " ".join(star))

    def _functions(self) -> dict[str, lambda_.Function]:
        code = lambda_.Code.from_asset(
            str(REPO_ROOT / "vending"),  # source fingerprint; the bundler copies all packages
            bundling=BundlingOptions(image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
                                     local=_CopyPackages()),
        )
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer",
            f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-python312-arm64:{self.config.powertools_layer_version}",
        )
        environment = {
            "VEND_REQUESTS_TABLE": self.tables["requests_table"].table_name,
            "VEND_IDEMPOTENCY_TABLE": self.tables["idempotency_table"].table_name,
            "VEND_PIPELINE_RUNS_TABLE": self.tables["pipeline_runs_table"].table_name,
            "VEND_APPROVALS_TABLE": self.tables["approvals_table"].table_name,
            "VEND_EVENT_BUS": self.settings.event_bus_name,
            "VEND_EVENT_SOURCE": self.settings.event_source,
            "VEND_STATE_MACHINE_ARN": self.state_machine_arn,
            "VEND_REPORTS_BUCKET": self.reports_bucket.bucket_name,
            "VEND_PIPELINE_LAUNCHER": "codebuild",
            "VEND_CODEBUILD_PROJECT": self.pipeline_project.project_name,
            "VEND_PLATFORM_ACCOUNT_ID": Aws.ACCOUNT_ID,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
        functions: dict[str, lambda_.Function] = {}
        for spec in FUNCTIONS:
            functions[spec.key] = self._function(spec, code=code, layer=layer, environment=environment)
        return functions

    def _function(self, spec: FunctionSpec, *, code: lambda_.Code, layer: lambda_.ILayerVersion,
                  environment: dict[str, str]) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{spec.key}Logs", log_group_name=f"/aws/lambda/{spec.name}",
                                  retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, f"{spec.key}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"{spec.name}: the grants of vending/functions.py and nothing else")
        statements = [
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[f"{log_group.log_group_arn}:log-stream:*"]),
        ]
        for grant in spec.grants:
            statements.extend(self._statements(grant))
        for statement in statements:
            role.add_to_policy(statement)  # the role's DefaultPolicy; the function depends on it
        fn = lambda_.Function(
            self, f"{spec.key}Function", function_name=spec.name, description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64, handler=spec.handler,
            code=code, layers=[layer], role=role, timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb, tracing=lambda_.Tracing.ACTIVE, log_group=log_group,
            environment=environment, logging_format=lambda_.LoggingFormat.JSON,
        )
        self.acknowledge(fn, "AwsSolutions-L1",
                         "Python 3.12 is the runtime the team pins: the Powertools v3 layer version and the tested "
                         "dependency set (pydantic-core wheels) are built for it. Upgrading is a deliberate change.")
        self._acknowledge_wildcards(role, statements)
        return fn

    # --- the workflow --------------------------------------------------------------------------------------------

    def _state_machine(self) -> sfn.StateMachine:
        log_group = logs.LogGroup(self, "StateMachineLogs",
                                  log_group_name=f"/aws/vendedlogs/states/{STATE_MACHINE_NAME}",
                                  retention=logs.RetentionDays.SIX_MONTHS, removal_policy=RemovalPolicy.RETAIN)
        invoked = [self.functions[key] for key in STATE_MACHINE_KEYS]
        role = iam.Role(self, "StateMachineRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                        description="AccountVending: invoke exactly the workflow's functions, write logs and traces")
        # Exactly the unqualified ARNs the ASL names (no ":*" for versions or aliases: the definition uses none).
        role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                               resources=[fn.function_arn for fn in invoked]))
        machine = sfn.StateMachine(
            self, "AccountVending", state_machine_name=STATE_MACHINE_NAME, role=role,
            definition_body=sfn.DefinitionBody.from_file(str(ASL_PATH)),
            definition_substitutions={f"{key}FunctionArn": self.functions[key].function_arn
                                      for key in STATE_MACHINE_KEYS},
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        self.acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                         "CloudWatch Logs vended delivery (logs:CreateLogDelivery, PutResourcePolicy, "
                         "DescribeLogGroups...) and X-Ray (PutTraceSegments, GetSamplingRules...) support no "
                         "resource-level permissions; Step Functions requires them on '*' for logging and tracing.")
        return machine

    # --- the vending API -----------------------------------------------------------------------------------------

    def _api(self) -> apigw.RestApi:
        admin = self.config.platform_admin_role_arn
        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.SIX_MONTHS,
                                    removal_policy=RemovalPolicy.RETAIN)
        policy = iam.PolicyDocument(statements=[
            iam.PolicyStatement(effect=iam.Effect.ALLOW, principals=[iam.ArnPrincipal(admin)],
                                actions=["execute-api:Invoke"], resources=["execute-api:/*"]),
            # Same-account IAM callers are allowed by their identity policy alone; this deny makes the platform-admin
            # role the only caller whatever other roles' policies say.
            iam.PolicyStatement(effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
                                actions=["execute-api:Invoke"], resources=["execute-api:/*"],
                                conditions={"StringNotEquals": {"aws:PrincipalArn": admin}}),
        ])
        api = apigw.RestApi(
            self, "VendingApi", rest_api_name="account-vending", policy=policy,
            description="Account vending API (IAM auth, platform-admin role only)",
            endpoint_types=[apigw.EndpointType.REGIONAL], cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name="v1", tracing_enabled=True, logging_level=apigw.MethodLoggingLevel.INFO,
                data_trace_enabled=False, metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True),
            ),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        )
        for response_type, code in ((apigw.ResponseType.DEFAULT_4_XX, None), (apigw.ResponseType.DEFAULT_5_XX, None),
                                    (apigw.ResponseType.BAD_REQUEST_BODY, "400")):
            api.add_gateway_response(
                f"Gateway{response_type.response_type}", type=response_type, status_code=code,
                templates={"application/json": json.dumps({
                    "code": "$context.error.responseType",
                    "message": "$context.error.messageString $context.error.validationErrorString"})},
            )
        validator = api.add_request_validator("Validator", validate_request_body=True,
                                              validate_request_parameters=True)
        integration = apigw.LambdaIntegration(self.functions["Api"], proxy=True)
        spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
        body_models = self._api_models(api, spec)
        for path, operations in sorted(spec["paths"].items()):
            resource = api.root.resource_for_path(path)
            for method, operation in sorted(operations.items()):
                params = {f"method.request.{'querystring' if p['in'] == 'query' else p['in']}.{p['name']}":
                          bool(p.get("required", False)) for p in operation.get("parameters", [])}
                model = body_models.get((path, method))
                resource.add_method(
                    method.upper(), integration, authorization_type=apigw.AuthorizationType.IAM,
                    operation_name=operation.get("operationId"), request_validator=validator,
                    request_parameters=params or None,
                    request_models={"application/json": model} if model else None,
                )
        self.acknowledge(api, "AwsSolutions-APIG3",
                         "Callers are IAM-signed and the resource policy denies every principal but the platform-admin "
                         "role; a WAF web ACL would filter traffic that cannot get past the authorizer anyway.")
        self.acknowledge(api, "AwsSolutions-COG4",
                         "The API uses IAM (SigV4) authorization for platform admins, not Cognito user pools.")
        self.acknowledge(api, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                              "AmazonAPIGatewayPushToCloudWatchLogs]",
                         "The account-level API Gateway logging role needs exactly this AWS-managed policy (logs only) "
                         "for the execution logs that AwsSolutions-APIG6 asks for.")
        return api

    def _api_models(self, api: apigw.RestApi, spec: dict[str, Any]) -> dict[tuple[str, str], apigw.Model]:
        """Request body models from the committed OpenAPI spec (JSON Schema draft 4 subset API Gateway accepts)."""
        schemas = spec.get("components", {}).get("schemas", {})
        models: dict[tuple[str, str], apigw.Model] = {}
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                if not body or "$ref" not in body:
                    continue
                name = body["$ref"].rsplit("/", 1)[-1]
                source = schemas[name]
                schema = apigw.JsonSchema(
                    schema=apigw.JsonSchemaVersion.DRAFT4, title=name, type=apigw.JsonSchemaType.OBJECT,
                    required=source.get("required"), additional_properties=False,
                    properties={prop: _draft4(value) for prop, value in source.get("properties", {}).items()},
                )
                models[(path, method)] = api.add_model(f"{name}Model", content_type="application/json",
                                                       model_name=name, schema=schema)
        return models

    # --- events --------------------------------------------------------------------------------------------------

    def _onboarding(self) -> None:
        dlq = sqs.Queue(self, "OnboardingDlq", encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.key,
                        enforce_ssl=True, retention_period=Duration.days(14))
        self.acknowledge(dlq, "AwsSolutions-SQS3", "This is the dead-letter queue of the onboarding queue.")
        fn = self.functions["StartFromEvent"]
        queue = sqs.Queue(
            self, "OnboardingQueue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.key,
            enforce_ssl=True, retention_period=Duration.days(4),
            # Six times the function timeout, as the Lambda docs advise for SQS event sources.
            visibility_timeout=Duration.seconds(6 * by_key("StartFromEvent").timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
        )
        rule = events.Rule(self, "OnboardingRule", description="Team onboarding requests -> vending queue",
                           event_pattern=events.EventPattern(
                               source=ONBOARDING_EVENT_PATTERN["source"],
                               detail_type=ONBOARDING_EVENT_PATTERN["detail-type"]))
        rule.add_target(targets.SqsQueue(queue, dead_letter_queue=dlq))
        fn.add_event_source(sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True,
                                                   max_batching_window=Duration.seconds(5)))
        self.onboarding_queue, self.onboarding_dlq = queue, dlq

    def _schedules_and_notifications(self) -> None:
        events.Rule(self, "AuditSchedule", description="Daily guardrail audit of the organization",
                    schedule=events.Schedule.cron(minute="0", hour="6")
                    ).add_target(targets.LambdaFunction(self.functions["Audit"], retry_attempts=2))
        events.Rule(self, "NotificationsRule", description="Vending outcomes and audit findings -> notifications",
                    event_pattern=events.EventPattern(
                        source=[self.settings.event_source],
                        detail_type=[ACCOUNT_READY, ACCOUNT_FAILED, AUDIT_FINDINGS_DETAIL_TYPE]),
                    ).add_target(targets.SnsTopic(self.topic))

    # --- alarms and dashboard ------------------------------------------------------------------------------------

    def _alarms_and_dashboard(self) -> None:
        action = cw_actions.SnsAction(self.topic)
        alarms: list[cw.Alarm] = []

        def alarm(cid: str, metric: cw.IMetric, description: str) -> None:
            created = metric.create_alarm(
                self, cid, alarm_description=description, threshold=1, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
            created.add_alarm_action(action)
            alarms.append(created)

        alarm("ExecutionsFailedAlarm", self.state_machine.metric_failed(period=Duration.minutes(5)),
              "An AccountVending execution failed")
        alarm("ExecutionsTimedOutAlarm", self.state_machine.metric_timed_out(period=Duration.minutes(5)),
              "An AccountVending execution timed out")
        audit_findings = cw.Metric(namespace=METRICS_NAMESPACE, metric_name=AUDIT_FINDINGS_METRIC,
                                   dimensions_map={"service": SERVICE_NAME}, statistic="Sum",
                                   period=Duration.days(1))
        alarm("AuditFindingsAlarm", audit_findings, "The guardrail audit found drift (intended vs actual)")
        alarm("OnboardingDlqAlarm", self.onboarding_dlq.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"), "Onboarding events are in the dead-letter queue")
        for key, fn in self.functions.items():
            name = by_key(key).name
            alarm(f"{key}ErrorsAlarm", fn.metric_errors(period=Duration.minutes(5)), f"{name} errors")
            alarm(f"{key}ThrottlesAlarm", fn.metric_throttles(period=Duration.minutes(5)), f"{name} throttled")

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name="account-vending")
        dashboard.add_widgets(
            cw.GraphWidget(title="AccountVending executions", width=12, left=[
                self.state_machine.metric_started(), self.state_machine.metric_succeeded(),
                self.state_machine.metric_failed(), self.state_machine.metric_timed_out()]),
            cw.GraphWidget(title="Requests", width=12, left=[
                cw.Metric(namespace=METRICS_NAMESPACE, metric_name=name, dimensions_map={"service": SERVICE_NAME},
                          statistic="Sum")
                for name in ("AccountCreationsStarted", "AccountsAdopted", "AccountsReady", "RequestsFailed",
                             "RequestsRejected")]),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Lambda errors", width=8, left=[fn.metric_errors() for fn in self.functions.values()]),
            cw.GraphWidget(title="Lambda throttles", width=8,
                           left=[fn.metric_throttles() for fn in self.functions.values()]),
            cw.GraphWidget(title="Lambda p99 duration", width=8,
                           left=[fn.metric_duration(statistic="p99") for fn in self.functions.values()]),
        )
        dashboard.add_widgets(
            cw.SingleValueWidget(title="Audit findings (last day)", width=8, metrics=[audit_findings]),
            cw.GraphWidget(title="Onboarding queue", width=8, left=[
                self.onboarding_queue.metric_approximate_number_of_messages_visible(),
                self.onboarding_dlq.metric_approximate_number_of_messages_visible()]),
            cw.AlarmStatusWidget(title="Alarms", width=8, alarms=alarms),
        )


_DRAFT4_TYPES = {"string": apigw.JsonSchemaType.STRING, "array": apigw.JsonSchemaType.ARRAY,
                 "object": apigw.JsonSchemaType.OBJECT, "integer": apigw.JsonSchemaType.INTEGER,
                 "number": apigw.JsonSchemaType.NUMBER, "boolean": apigw.JsonSchemaType.BOOLEAN}


def _draft4(schema: dict[str, Any]) -> apigw.JsonSchema:
    """Types, enums and array items only: the detailed rules (slugs, allow-lists) stay in the pydantic model, which
    answers with every bad field; the gateway only turns away bodies of the wrong shape."""
    kwargs: dict[str, Any] = {}
    if "enum" in schema:
        kwargs["enum"] = schema["enum"]
    if "const" in schema:
        kwargs["enum"] = [schema["const"]]
    kind = schema.get("type")
    if kind in _DRAFT4_TYPES:
        kwargs["type"] = _DRAFT4_TYPES[kind]
    if kind == "array" and isinstance(schema.get("items"), dict):
        kwargs["items"] = _draft4(schema["items"])
    return apigw.JsonSchema(**kwargs)
