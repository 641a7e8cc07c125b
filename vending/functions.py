"""The one list of Lambda functions: name, handler and the permissions each needs.

Read by the CDK stack (landing_zone/cdk/functions.py) and by the local runtime (landing_zone/local/runtime.py).
`key` is also the placeholder stem in the ASL file: ${<key>FunctionArn}.
Resources are symbolic; the stack maps them to ARNs (see RESOURCE_NAMES).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Symbolic resources a grant may name; the CDK stack resolves each to concrete ARNs.
RESOURCE_NAMES = (
    "requests_table",
    "requests_email_index",  # the requests table's index by account e-mail (the intake's ownership check)
    "idempotency_table",
    "pipeline_runs_table",
    "approvals_table",  # Terraform apply approvals: stack (hash) + plan digest (range)
    "creation_slots_table",  # the CreateAccount limiter: one lease item per slot (hash key `slot`)
    "event_bus",
    "state_machine",
    "executions",
    "reports_bucket",  # the audit reports' objects (guardrail-audit/*)
    "reports_listing",  # the reports bucket itself: s3:ListBucket is decided on the bucket, never on its objects
    "codebuild_project",
    "organization",  # the org, its root, OUs, accounts and policies (organizations ARNs)
    "account_access_role",  # arn:aws:iam::*:role/<access role> in member accounts
    # Day 2 (vending.changes, vending.retirement)
    "changes_table",  # change requests: change_id (hash)
    "closures_table",  # the closure queue: account_id (hash)
    "archive_bucket",  # objects of the platform archive bucket (retired accounts' state)
    "lifecycle_state_machine",  # AccountLifecycle (step_functions/account_lifecycle.asl.json)
    "lifecycle_executions",  # its executions: a resume or a decommission asks whether a stopped one still runs
    "archive_key",  # the customer-managed key the archive bucket's objects are encrypted with (SSE-KMS)
    # The GitHub App's private key (vending.github_setup.DEFAULT_PRIVATE_KEY_SECRET): the GitHub step of Bootstrap.
    "github_app_secret",
    "drift_function",  # the StackDrift function: `vend drift --check` invokes it as the schedule does
    "usage_table",  # the live meter's usage: account_id (hash) + event_key (range) (vending.spend.usage)
    "freezes_table",  # the spend fence's freezes: account_id (hash) (vending.spend.freezes)
    # The spend fence's Budgets backstop in this (the management) account: the vend-backstop-* budgets and their
    # actions, and the execution role Budgets assumes to attach vend-freeze (vending.spend.backstop).
    "backstop_budgets",
    "backstop_role",
    # Cost Explorer: GetCostAndUsage supports no resource-level permissions, so this is "*" (the whole bill).
    "cost_explorer",
)


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True)
class FunctionSpec:
    key: str
    name: str
    handler: str
    grants: tuple[Grant, ...] = field(default_factory=tuple)
    timeout_seconds: int = 60
    memory_mb: int = 256
    description: str = ""


_REQUESTS_RW = Grant(("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"), ("requests_table",))
_REQUESTS_READ = Grant(("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"), ("requests_table",))
# The intake's e-mail ownership check (vending.intake.preflight) reads the index, never the whole table.
_EMAIL_INDEX = Grant(("dynamodb:Query",), ("requests_email_index",))
# Submitting marks the in-flight record of an ended (aborted, timed-out) execution FAILED (service.submit_request).
_REPAIR_STALE = Grant(("dynamodb:PutItem",), ("requests_table",))
_EVENTS = Grant(("events:PutEvents",), ("event_bus",))
_ASSUME_ACCESS = Grant(("sts:AssumeRole",), ("account_access_role",))
_CREATION_SLOTS = Grant(("dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"), ("creation_slots_table",))
# Completing CheckPipelines' task token. AWS authorizes SendTask* against the state machine the token belongs to,
# and CheckPipelines waits in both machines (AccountVending's CheckPipelines; AccountLifecycle's
# CheckChangePipelines and CheckDestroys), so the grant names both (TOKEN_COMPLETERS; tests/vending/test_functions.py).
_TASK_RESPONSE = Grant(
    ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"),
    ("state_machine", "lifecycle_state_machine"),
)
_ORG_READ = Grant(
    (
        "organizations:DescribeOrganization",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListParents",
        "organizations:DescribeAccount",
        "organizations:ListAccounts",
        "organizations:ListPoliciesForTarget",
        "organizations:ListTargetsForPolicy",
        "organizations:ListPolicies",
        "organizations:DescribePolicy",
        "organizations:ListTagsForResource",
        "organizations:ListAccountsForParent",
        "organizations:ListChildren",
    ),
    ("organization",),
)

_CHANGES_RW = Grant(("dynamodb:GetItem", "dynamodb:PutItem"), ("changes_table",))
_SCP_WRITE = Grant(
    (
        "organizations:CreatePolicy",
        "organizations:UpdatePolicy",
        "organizations:AttachPolicy",
        "organizations:DetachPolicy",
        "organizations:EnablePolicyType",
    ),
    ("organization",),
)

# The Budgets backstop: the budget (ModifyBudget/ViewBudget) and its APPLY_SCP_POLICY action, handing Budgets the
# execution role (iam:PassRole on that one role; CreateBudgetAction and UpdateBudgetAction pass it).
_BACKSTOP_CONVERGE = (
    Grant(
        (
            "budgets:ViewBudget",
            "budgets:ModifyBudget",
            "budgets:DescribeBudgetActionsForBudget",
            "budgets:CreateBudgetAction",
            "budgets:UpdateBudgetAction",
        ),
        ("backstop_budgets",),
    ),
    Grant(("iam:PassRole",), ("backstop_role",)),
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "ValidateRequest",
        "vending-validate-request",
        "vending.handlers.validate_request.handler",
        description="Validate the request against the model and the layout",
    ),
    FunctionSpec(
        "Reserve",
        "vending-reserve",
        "vending.handlers.reserve.handler",
        (_REQUESTS_RW,),
        description="Conditional write: one account per team and stage",
    ),
    FunctionSpec(
        "CreateAccount",
        "vending-create-account",
        "vending.handlers.create_account.handler",
        (
            _REQUESTS_RW,
            _CREATION_SLOTS,
            # CreateAccount sends the account's tags: AWS also authorizes organizations:TagResource on the new account.
            Grant(("organizations:CreateAccount", "organizations:TagResource"), ("organization",)),
        ),
        description="Take a creation slot and start CreateAccount (the request id is saved before polling)",
    ),
    FunctionSpec(
        "CheckAccountStatus",
        "vending-check-account-status",
        "vending.handlers.check_account_status.handler",
        (
            _REQUESTS_RW,
            _CREATION_SLOTS,
            # ListAccounts: only to adopt the owner of the e-mail after EMAIL_ALREADY_EXISTS.
            Grant(("organizations:DescribeCreateAccountStatus", "organizations:ListAccounts"), ("organization",)),
        ),
        description="One poll of DescribeCreateAccountStatus; frees the creation slot when it ends",
    ),
    FunctionSpec(
        "PlaceInOu",
        "vending-place-in-ou",
        "vending.handlers.place_in_ou.handler",
        (
            _REQUESTS_RW,
            _ORG_READ,
            Grant(("organizations:CreateOrganizationalUnit", "organizations:MoveAccount"), ("organization",)),
        ),
        description="Create the OU path if missing and move the account into it",
    ),
    FunctionSpec(
        "TagAccount",
        "vending-tag-account",
        "vending.handlers.tag_account.handler",
        (_REQUESTS_RW, Grant(("organizations:TagResource",), ("organization",))),
        description="Put the cost tags on the account",
    ),
    FunctionSpec(
        "ApplyGuardrails",
        "vending-apply-guardrails",
        "vending.handlers.apply_guardrails.handler",
        (
            _REQUESTS_RW,
            _ORG_READ,
            Grant(
                (
                    "organizations:CreatePolicy",
                    "organizations:UpdatePolicy",
                    "organizations:AttachPolicy",
                    "organizations:DetachPolicy",
                    "organizations:EnablePolicyType",
                ),
                ("organization",),
            ),
            *_BACKSTOP_CONVERGE,
        ),
        timeout_seconds=300,
        description="Reconcile the SCPs of the account and its OU; lay down its Budgets backstop",
    ),
    FunctionSpec(
        "Bootstrap",
        "vending-bootstrap",
        "vending.handlers.bootstrap.handler",
        # The GitHub step reads the App's key only when a GitHub App is configured (vending.github_setup.github_step).
        (_REQUESTS_RW, _ASSUME_ACCESS, Grant(("secretsmanager:GetSecretValue",), ("github_app_secret",))),
        timeout_seconds=300,
        description="State bucket, OIDC provider and CI roles in the new account; the team repository's GitHub set up",
    ),
    FunctionSpec(
        "RequestQuotas",
        "vending-request-quotas",
        "vending.handlers.request_quotas.handler",
        # The Service Quotas calls are made in the new account as its access role, never as this function.
        (_REQUESTS_RW, _ASSUME_ACCESS),
        timeout_seconds=120,
        description="Ask Service Quotas in the new account for the tier's GPU quotas, in each of its regions",
    ),
    FunctionSpec(
        "StartPipelines",
        "vending-start-pipelines",
        "vending.handlers.start_pipelines.handler",
        (
            _REQUESTS_RW,
            _ASSUME_ACCESS,
            Grant(("dynamodb:PutItem", "dynamodb:GetItem"), ("pipeline_runs_table",)),
            Grant(("codebuild:StartBuild",), ("codebuild_project",)),
        ),
        description="Start one Terraform pipeline run per stack",
    ),
    FunctionSpec(
        "CheckPipelines",
        "vending-check-pipelines",
        "vending.handlers.check_pipelines.handler",
        (
            Grant(("dynamodb:GetItem", "dynamodb:PutItem"), ("pipeline_runs_table",)),
            Grant(("dynamodb:GetItem",), ("approvals_table",)),
            Grant(("codebuild:StartBuild",), ("codebuild_project",)),
            _TASK_RESPONSE,
        ),
        description="Waits by task token: stores it with the runs, relaunches approved plans, completes it if done",
    ),
    FunctionSpec(
        "PipelineBuildEvent",
        "vending-pipeline-build-event",
        "vending.handlers.pipeline_build_event.handler",
        (Grant(("dynamodb:GetItem", "dynamodb:PutItem"), ("pipeline_runs_table",)), _TASK_RESPONSE),
        description="CodeBuild build state change -> fail a run whose build died; complete the waiting task",
    ),
    FunctionSpec(
        "RecordReady",
        "vending-record-ready",
        "vending.handlers.record_ready.handler",
        (_REQUESTS_RW, _CHANGES_RW),
        description="Mark the request READY",
    ),
    FunctionSpec(
        "RecordFailed",
        "vending-record-failed",
        "vending.handlers.record_failed.handler",
        (_REQUESTS_RW, Grant(("states:GetExecutionHistory",), ("executions",))),
        description="Mark the request FAILED with the step and the reason",
    ),
    FunctionSpec(
        "Notify",
        "vending-notify",
        "vending.handlers.notify.handler",
        (_REQUESTS_READ, _EVENTS),
        description="Publish Team Account Ready / Failed",
    ),
    FunctionSpec(
        "StartFromEvent",
        "vending-start-from-event",
        "vending.handlers.start_from_event.handler",
        (
            _REQUESTS_READ,
            _EMAIL_INDEX,
            _REPAIR_STALE,
            _EVENTS,  # publishes "Team Onboarding Rejected" for a malformed request
            Grant(("states:StartExecution",), ("state_machine",)),
            Grant(("states:DescribeExecution",), ("executions", "lifecycle_executions")),
        ),
        description="EventBridge onboarding event -> state machine execution",
    ),
    FunctionSpec(
        "Api",
        "vending-api",
        "vending.api.handler.handler",
        (
            _REQUESTS_READ,
            _EMAIL_INDEX,
            _REPAIR_STALE,
            Grant(
                ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
                ("idempotency_table",),
            ),
            Grant(("states:StartExecution",), ("state_machine",)),
            Grant(("states:DescribeExecution",), ("executions", "lifecycle_executions")),
            # Day 2: change requests and approvals (PATCH, approve), decommission, the closure backlog
            Grant(("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"), ("changes_table",)),
            Grant(("dynamodb:Scan",), ("closures_table",)),
            Grant(("states:StartExecution",), ("lifecycle_state_machine",)),
            # The portal's reads (vending.api.reads), decided against this role on the emulator as in AWS:
            # GET /requests/{id}/timeline reads the history of the request's vend and change executions,
            Grant(("states:GetExecutionHistory",), ("executions", "lifecycle_executions")),
            # GET /findings the latest audit report (listed by prefix, then read),
            Grant(("s3:ListBucket",), ("reports_listing",)),
            Grant(("s3:GetObject",), ("reports_bucket",)),
            # GET /spend the spend fence's stored readings (vending.spend.readings: one Query per account, never a
            # member account's role), and Cost Explorer's month only when the fence stored none.
            Grant(("dynamodb:Query",), ("usage_table",)),
            Grant(("ce:GetCostAndUsage",), ("cost_explorer",)),
        ),
        description="The vending REST API",
    ),
    FunctionSpec(
        "Audit",
        "vending-guardrail-audit",
        "vending.handlers.audit.handler",
        (
            _ORG_READ,
            _EVENTS,
            Grant(("s3:PutObject",), ("reports_bucket",)),
            # The intent (vending records) is read in bulk: one paged Scan, no per-account reads, no writes.
            Grant(("dynamodb:Scan",), ("requests_table",)),
            # Each vended account's budget is read inside that account (Budgets shows it nowhere else).
            _ASSUME_ACCESS,
            # The stacks' drift checks (vending.pipeline.drift), read in bulk beside their runs.
            Grant(("dynamodb:Scan",), ("pipeline_runs_table",)),
            # The frozen accounts: `vend-freeze` is intended exactly there (vending.guardrails.intent).
            Grant(("dynamodb:Scan",), ("freezes_table",)),
            # and where the Budgets backstop attached it before the fence recorded it: the vend-backstop-* budget's
            # action read (only for an account carrying vend-freeze without a freeze record), nothing written.
            Grant(("budgets:DescribeBudgetActionsForBudget",), ("backstop_budgets",)),
        ),
        timeout_seconds=900,
        memory_mb=1024,
        description="Daily guardrail audit of the whole organization",
    ),
    FunctionSpec(
        "StackDrift",
        "vending-stack-drift",
        "vending.handlers.stack_drift.handler",
        (
            # Which stacks are applied (runs) into READY accounts (records); each check is queued beside its run and
            # launched as a build. It reads no account itself: the build plans as the stack's read-only plan role.
            Grant(("dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem"), ("pipeline_runs_table",)),
            Grant(("dynamodb:Scan",), ("requests_table",)),
            Grant(("codebuild:StartBuild",), ("codebuild_project",)),
        ),
        timeout_seconds=300,
        description="Daily drift check: a plan-only pass of every applied stack as its plan role",
    ),
    FunctionSpec(
        "RecordUsage",
        "vending-record-usage",
        "vending.handlers.record_usage.handler",
        # One conditional put per forwarded state-change event (vending.spend.usage); it reads no account.
        (Grant(("dynamodb:PutItem",), ("usage_table",)),),
        timeout_seconds=30,
        description="Record the member accounts' instance state-change events for the live meter",
    ),
)

# Day 2: the AccountLifecycle state machine's functions (it also calls CheckPipelines).
FUNCTIONS += (
    FunctionSpec(
        "BeginChange",
        "vending-begin-change",
        "vending.handlers.begin_change.handler",
        (_REQUESTS_RW, Grant(("dynamodb:GetItem",), ("changes_table",))),
        description="READY -> UPDATING with a change's intent",
    ),
    FunctionSpec(
        "ApplyChange",
        "vending-apply-change",
        "vending.handlers.apply_change.handler",
        (
            _REQUESTS_RW,
            _ORG_READ,
            _SCP_WRITE,
            _ASSUME_ACCESS,
            Grant(("organizations:TagResource",), ("organization",)),
            *_BACKSTOP_CONVERGE,  # the backstop's amount follows the tier
        ),
        timeout_seconds=300,
        description="Swap the GPU tier SCP, rewrite the team region fence and the account tags; converge the CI role "
        "trust and the budget in the account",
    ),
    FunctionSpec(
        "StartChangePipelines",
        "vending-start-change-pipelines",
        "vending.handlers.start_change_pipelines.handler",
        (
            _REQUESTS_RW,
            _ASSUME_ACCESS,
            Grant(("dynamodb:PutItem", "dynamodb:GetItem"), ("pipeline_runs_table",)),
            Grant(("codebuild:StartBuild",), ("codebuild_project",)),
        ),
        description="Pipelines for the stacks a change adds, and again for those whose variables it moved",
    ),
    FunctionSpec(
        "FinishChange",
        "vending-finish-change",
        "vending.handlers.finish_change.handler",
        (_REQUESTS_RW, _CHANGES_RW),
        description="UPDATING -> READY; the change is APPLIED",
    ),
    FunctionSpec(
        "LifecycleFailed",
        "vending-lifecycle-failed",
        "vending.handlers.lifecycle_failed.handler",
        (_REQUESTS_RW, _CHANGES_RW),
        description="Record why a change or a retirement stopped",
    ),
    FunctionSpec(
        "RetireAccount",
        "vending-retire-account",
        "vending.handlers.retire_account.handler",
        (
            _REQUESTS_RW,
            _ORG_READ,
            _SCP_WRITE,
            Grant(("organizations:CreateOrganizationalUnit", "organizations:MoveAccount"), ("organization",)),
            # A team outside the layout: its policies only this account used (vending.retirement).
            Grant(("organizations:DeletePolicy",), ("organization",)),
            # The account's Budgets backstop goes: its action, then its budget (ModifyBudget covers DeleteBudget).
            Grant(
                (
                    "budgets:DescribeBudgetActionsForBudget",
                    "budgets:DeleteBudgetAction",
                    "budgets:ModifyBudget",
                ),
                ("backstop_budgets",),
            ),
        ),
        timeout_seconds=300,
        description="Quarantine SCPs on the account, then the Suspended OU",
    ),
    FunctionSpec(
        "ArchiveState",
        "vending-archive-state",
        "vending.handlers.archive_state.handler",
        (
            _REQUESTS_RW,
            _ASSUME_ACCESS,
            # ListBucket: without it S3 answers HeadObject of a key not archived yet with 403, not 404.
            Grant(("s3:GetObject", "s3:PutObject", "s3:ListBucket"), ("archive_bucket",)),
            # The archive is SSE-KMS with the platform key: every PutObject asks the key for a data key.
            Grant(("kms:GenerateDataKey",), ("archive_key",)),
        ),
        timeout_seconds=900,
        description="Copy every version of the state bucket to the platform archive",
    ),
    FunctionSpec(
        "RequestClosure",
        "vending-request-closure",
        "vending.handlers.request_closure.handler",
        (
            _REQUESTS_RW,
            Grant(("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"), ("closures_table",)),
            Grant(("organizations:DescribeAccount", "organizations:CloseAccount"), ("organization",)),
        ),
        description="Queue CloseAccount and drain the closure queue within Organizations' quota (also scheduled)",
    ),
    FunctionSpec(
        "SpendFence",
        "vending-spend-fence",
        "vending.handlers.spend_fence.handler",
        (
            # The accounts to meter and their tiers, owners and regions: one paged Scan of the records.
            Grant(("dynamodb:Scan",), ("requests_table",)),
            # The freeze is written before anything is attached (conditional writes), read back on every interval.
            Grant(("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"), ("freezes_table",)),
            # Find (or create) vend-freeze and attach it; detach it once a thaw is approved (the approver's role may
            # not touch SCPs: vending.spend.fence.finish_thaws).
            Grant(
                (
                    "organizations:ListPolicies",
                    "organizations:CreatePolicy",
                    "organizations:AttachPolicy",
                    "organizations:DetachPolicy",
                    "organizations:ListTargetsForPolicy",  # the accounts vend-freeze is on (a backstop freeze)
                ),
                ("organization",),
            ),
            _EVENTS,
            # The meter reads usage inside each account; on_freeze: stop stops its accelerated instances there.
            _ASSUME_ACCESS,
            # The meter's usage (vending.spend.meter): the recorded state changes, and each instance type it looks up.
            Grant(("dynamodb:Query", "dynamodb:PutItem"), ("usage_table",)),
            # A freeze the Budgets backstop made is adopted (its action read); its thaw reverses the action.
            Grant(
                ("budgets:ViewBudget", "budgets:DescribeBudgetActionsForBudget", "budgets:ExecuteBudgetAction"),
                ("backstop_budgets",),
            ),
        ),
        timeout_seconds=240,
        description="Every metering interval: meter -> fence (freeze accounts over their hourly or daily spend cap)",
    ),
)
LIFECYCLE_KEYS = (
    "BeginChange",
    "ApplyChange",
    "StartChangePipelines",
    "CheckPipelines",
    "FinishChange",
    "LifecycleFailed",
    "RetireAccount",
    "ArchiveState",
    "RequestClosure",
)

# Functions the state machine calls; the others are entry points (API, events, schedule).
STATE_MACHINE_KEYS = tuple(
    f.key
    for f in FUNCTIONS
    if (
        f.key not in {"StartFromEvent", "Api", "Audit", "StackDrift", "PipelineBuildEvent", "RecordUsage", "SpendFence"}
        and f.key not in LIFECYCLE_KEYS
    )
    or f.key == "CheckPipelines"
)


# The function a `.waitForTaskToken` Task invokes -> every function that may complete that token. CheckPipelines
# stores the token with the runs; it completes it when the runs are done, and PipelineBuildEvent completes it when a
# build dies. (The CodeBuild worker completes it too; its role is granted in landing_zone/cdk/pipeline.py.)
TOKEN_COMPLETERS: dict[str, tuple[str, ...]] = {"CheckPipelines": ("CheckPipelines", "PipelineBuildEvent")}


def by_key(key: str) -> FunctionSpec:
    return next(f for f in FUNCTIONS if f.key == key)
