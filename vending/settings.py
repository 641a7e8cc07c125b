"""Runtime settings, read from the environment at call time (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The Terraform state key of every vended account (vending.bootstrap makes it). Every backend names it as
# kms_key_id: `encrypt = true` alone makes the S3 backend send SSE-S3 (AES256), not the bucket's KMS key. The alias
# resolves in the caller's account, which is the account of the state bucket.
STATE_KEY_ALIAS = "alias/terraform-state"
# The Terraform pipeline project's concurrent build limit (landing_zone/cdk/pipeline.py); the account's CodeBuild
# quota must allow it (vending.preflight checks).
PIPELINE_CONCURRENT_BUILDS = 10


@dataclass(frozen=True)
class Settings:
    requests_table: str
    idempotency_table: str
    pipeline_runs_table: str
    approvals_table: str
    creation_slots_table: str  # the shared limiter of CreateAccount requests in flight; "" turns it off
    event_bus_name: str
    event_source: str
    state_machine_arn: str
    reports_bucket: str
    pipeline_launcher: str  # "local" (worker threads beside the emulator) or "codebuild"
    codebuild_project: str
    terraform_root: Path
    platform_account_id: str
    # Day 2 (vending.changes, vending.retirement): change requests, the closure queue, the platform archive of
    # retired accounts' state, and the AccountLifecycle state machine.
    changes_table: str = "vending-changes"
    closures_table: str = "vending-closures"
    archive_bucket: str = ""
    lifecycle_state_machine_arn: str = ""
    # The platform pipeline's role (CodeBuild's project role; VendingPipelineRole on the emulator): the one principal
    # besides GitHub's jobs that the vended CI roles trust, so the vending workflow runs team stacks as them.
    pipeline_role_arn: str = ""
    # The live meter's usage table: member accounts' instance state-change events (vending.spend.usage).
    usage_table: str = "vending-usage"
    # The spend fence's freezes (vending.spend.freezes): one item per account, key account_id.
    freezes_table: str = "vending-freezes"
    # The platform's principals the API admits beside the team leads (vending.api.access): role names, resolved in
    # the API's own account, or role ARNs. The admin sees and does everything, the approver sees all and approves.
    platform_admin_role: str = "PlatformAdmin"
    platform_approver_role: str = "PlatformApprover"
    # The same two, as the hosted portal's browser sessions (API callers only: landing_zone.grant_statements).
    portal_admin_role: str = "PortalAdmin"
    portal_approver_role: str = "PortalApprover"
    # The role AWS Budgets assumes to attach vend-freeze (vending.spend.backstop); "" leaves the backstop out.
    backstop_role_arn: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            requests_table=env("VEND_REQUESTS_TABLE", "vending-requests"),
            idempotency_table=env("VEND_IDEMPOTENCY_TABLE", "vending-idempotency"),
            pipeline_runs_table=env("VEND_PIPELINE_RUNS_TABLE", "vending-pipeline-runs"),
            approvals_table=env("VEND_APPROVALS_TABLE", "vending-pipeline-approvals"),
            creation_slots_table=env("VEND_CREATION_SLOTS_TABLE", "vending-creation-slots"),
            event_bus_name=env("VEND_EVENT_BUS", "default"),
            event_source=env("VEND_EVENT_SOURCE", "platform.vending"),
            state_machine_arn=env("VEND_STATE_MACHINE_ARN", ""),
            reports_bucket=env("VEND_REPORTS_BUCKET", ""),
            pipeline_launcher=env("VEND_PIPELINE_LAUNCHER", "local"),
            codebuild_project=env("VEND_CODEBUILD_PROJECT", "vending-terraform-pipeline"),
            terraform_root=Path(env("VEND_TERRAFORM_ROOT", str(REPO_ROOT / "terraform"))),
            platform_account_id=env("VEND_PLATFORM_ACCOUNT_ID", ""),
            changes_table=env("VEND_CHANGES_TABLE", "vending-changes"),
            closures_table=env("VEND_CLOSURES_TABLE", "vending-closures"),
            archive_bucket=env("VEND_ARCHIVE_BUCKET", ""),
            lifecycle_state_machine_arn=env("VEND_LIFECYCLE_STATE_MACHINE_ARN", ""),
            pipeline_role_arn=env("VEND_PIPELINE_ROLE_ARN", ""),
            usage_table=env("VEND_USAGE_TABLE", "vending-usage"),
            freezes_table=env("VEND_FREEZES_TABLE", "vending-freezes"),
            platform_admin_role=env("VEND_PLATFORM_ADMIN_ROLE", "PlatformAdmin"),
            platform_approver_role=env("VEND_PLATFORM_APPROVER_ROLE", "PlatformApprover"),
            portal_admin_role=env("VEND_PORTAL_ADMIN_ROLE", "PortalAdmin"),
            portal_approver_role=env("VEND_PORTAL_APPROVER_ROLE", "PortalApprover"),
            backstop_role_arn=env("VEND_BACKSTOP_ROLE_ARN", ""),
        )
