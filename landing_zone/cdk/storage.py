"""Data: the stack's customer-managed key, the DynamoDB tables, the report buckets and the notifications topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from landing_zone.cdk.base import BaseStack
from vending.lifecycle import EMAIL_INDEX, EMAIL_KEY
from vending.spend.readings import TTL_ATTRIBUTE


@dataclass(frozen=True)
class Storage:
    key: kms.Key
    tables: dict[str, ddb.Table]  # by the symbolic names of vending/functions.py
    access_logs_bucket: s3.Bucket
    reports_bucket: s3.Bucket
    archive_bucket: s3.Bucket
    topic: sns.Topic


def build_storage(stack: BaseStack) -> Storage:
    key = _key(stack)
    access_logs, reports = _buckets(stack, key)
    return Storage(
        key=key,
        tables=_tables(stack),
        access_logs_bucket=access_logs,
        reports_bucket=reports,
        archive_bucket=_archive_bucket(stack, key, access_logs),
        topic=_topic(stack, key),
    )


def _key(stack: BaseStack) -> kms.Key:
    key = kms.Key(
        stack,
        "DataKey",
        alias="alias/account-vending",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
        description="Account vending: onboarding queue, notifications topic, reports, pipeline artifacts",
    )
    # EventBridge (queue and topic targets) and CloudWatch alarms (topic) publish to encrypted destinations;
    # AWS-managed keys cannot be used by them, which is why this is a customer-managed key.
    for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Allow{service.split('.')[0].capitalize()}ToEncrypt",
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
    return key


def _tables(stack: BaseStack) -> dict[str, ddb.Table]:
    # The tables use the AWS-managed key (aws/dynamodb) so that KMS usage is visible in CloudTrail without adding a
    # key grant to every function role: the roles stay exactly what vending/functions.py declares.
    # No table has a fixed name: CloudFormation generates one, so a retained table left by a failed first deploy
    # (rolled back) never collides with the next deploy's ("already exists"). The functions and the CodeBuild
    # worker read the names from their environment; the stack's outputs give them to the CLI (TABLE_OUTPUTS).
    spec = {
        "requests_table": ("RequestsTable", "request_id", None),
        "idempotency_table": ("IdempotencyTable", "id", "expiration"),
        "pipeline_runs_table": ("PipelineRunsTable", "run_id", None),
        # The CreateAccount limiter: one lease item per slot, shared by every execution (vending.accounts).
        "creation_slots_table": ("CreationSlotsTable", "slot", None),
        # Day 2: change requests (who asked, who approved) and the account-closure queue (vending.retirement).
        "changes_table": ("ChangesTable", "change_id", None),
        "closures_table": ("ClosuresTable", "account_id", None),
        # The spend fence's freezes: one item per account (vending.spend.freezes).
        "freezes_table": ("FreezesTable", "account_id", None),
    }
    tables = {}
    for symbol, (cid, pk, ttl) in spec.items():
        tables[symbol] = ddb.Table(
            stack,
            cid,
            partition_key=ddb.Attribute(name=pk, type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=ttl,
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=ddb.TableEncryption.AWS_MANAGED,
            deletion_protection=symbol != "idempotency_table",
            removal_policy=RemovalPolicy.DESTROY if symbol == "idempotency_table" else RemovalPolicy.RETAIN,
        )
    # The intake's e-mail ownership check reads this index (one item per request that owns the e-mail), not the table.
    tables["requests_table"].add_global_secondary_index(
        index_name=EMAIL_INDEX,
        partition_key=ddb.Attribute(name=EMAIL_KEY, type=ddb.AttributeType.STRING),
        projection_type=ddb.ProjectionType.INCLUDE,
        non_key_attributes=["team"],
    )
    # Terraform apply approvals: who approved which saved plan (stack + plan digest), kept like the requests.
    tables["approvals_table"] = ddb.Table(
        stack,
        "ApprovalsTable",
        partition_key=ddb.Attribute(name="stack", type=ddb.AttributeType.STRING),
        sort_key=ddb.Attribute(name="plan_digest", type=ddb.AttributeType.STRING),
        billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
        encryption=ddb.TableEncryption.AWS_MANAGED,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    # The live meter's usage (vending.spend.usage): one item per state-change transition of a member account.
    tables["usage_table"] = ddb.Table(
        stack,
        "UsageTable",
        partition_key=ddb.Attribute(name="account_id", type=ddb.AttributeType.STRING),
        sort_key=ddb.Attribute(name="event_key", type=ddb.AttributeType.STRING),
        # The fence's stored readings (vending.spend.readings, `meter#<account>`) expire; usage events carry no
        # such attribute and stay.
        time_to_live_attribute=TTL_ATTRIBUTE,
        billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
        encryption=ddb.TableEncryption.AWS_MANAGED,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    return tables


def private_bucket(stack: BaseStack, construct_id: str, **settings: Any) -> s3.Bucket:
    """Every bucket of the stack: TLS only, versioned, no public access, objects owned by the bucket owner (no ACLs),
    kept when the stack is deleted; `settings` add its encryption, logging and lifecycle, or override these."""
    defaults: dict[str, Any] = {
        "enforce_ssl": True,
        "versioned": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "removal_policy": RemovalPolicy.RETAIN,
    }
    return s3.Bucket(stack, construct_id, **{**defaults, **settings})


def _buckets(stack: BaseStack, key: kms.Key) -> tuple[s3.Bucket, s3.Bucket]:
    access_logs = private_bucket(
        stack,
        "AccessLogsBucket",
        encryption=s3.BucketEncryption.S3_MANAGED,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
    )
    stack.acknowledge(
        access_logs,
        "AwsSolutions-S1",
        "This is the server access log destination of the reports bucket; logging its own access "
        "would recurse. S3 server access logging also requires SSE-S3 here, not KMS.",
    )
    reports = private_bucket(
        stack,
        "ReportsBucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="reports/",
    )
    return access_logs, reports


def _archive_bucket(stack: BaseStack, key: kms.Key, access_logs: s3.Bucket) -> s3.Bucket:
    """Retired accounts' Terraform state and its versions (vending.retirement), kept as ensure_archive_bucket keeps
    them locally: Glacier after ARCHIVE_GLACIER_AFTER_DAYS, expired after ARCHIVE_RETENTION_DAYS."""
    from vending.retirement import ARCHIVE_GLACIER_AFTER_DAYS, ARCHIVE_RETENTION_DAYS

    return private_bucket(
        stack,
        "ArchiveBucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="archive/",
        lifecycle_rules=[
            s3.LifecycleRule(
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.GLACIER,
                        transition_after=Duration.days(ARCHIVE_GLACIER_AFTER_DAYS),
                    )
                ],
                expiration=Duration.days(ARCHIVE_RETENTION_DAYS),
                noncurrent_version_expiration=Duration.days(ARCHIVE_RETENTION_DAYS),
            )
        ],
    )


def _topic(stack: BaseStack, key: kms.Key) -> sns.Topic:
    topic = sns.Topic(
        stack, "NotificationsTopic", display_name="Account vending notifications", master_key=key, enforce_ssl=True
    )
    # CloudWatch alarm actions publish as the service principal, which needs the topic policy to allow it (an
    # identity policy cannot): without this every alarm action fails with "not authorized to publish". Scoped to
    # this account's alarms against the confused deputy
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html).
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": stack.arn("cloudwatch", "alarm:*")},
            },
        )
    )
    if stack.config.alarm_email:
        sns.Subscription(
            stack, "AlarmEmail", topic=topic, protocol=sns.SubscriptionProtocol.EMAIL, endpoint=stack.config.alarm_email
        )
    return topic
