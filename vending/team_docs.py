"""A team's first-day guide, written from what the platform knows about its request (the lifecycle record), the
layout (tier, regions, guardrails) and the trust model: no account call, so it can be written at any time."""

from __future__ import annotations

from typing import Any

from vending.bootstrap import STATE_KEY_ALIAS
from vending.invocation_logging import LOG_GROUP as INVOCATION_LOG_GROUP
from vending.layout import Layout
from vending.lifecycle import RequestRecord
from vending.pipeline.templates import catalogue
from vending.quotas import QuotaState, describe, pending
from vending.trust import APPLY, PLAN, WORKFLOW_PATH


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(values) or "none"


def _capacity(record: RequestRecord) -> list[str]:
    """The tier's Service Quotas as the vend step (or the last tier change) left them."""
    quotas = [QuotaState.model_validate(q) for q in record.quotas]
    if not quotas:
        return []
    waiting = pending(quotas)
    lines = [
        "## GPU capacity (Service Quotas)",
        f"{len(waiting)} of {len(quotas)} quota(s) still wait for AWS"
        + (": launches needing them fail with a quota error until they are approved." if waiting else "."),
    ]
    lines += [f"- {describe(q)}" for q in quotas]
    if any(q.status == "ABOVE_TIER" for q in quotas):
        lines.append(
            "- A quota above your tier's need stays raised: AWS cannot lower a quota by request. Your tier's "
            "guardrails, not the quota, decide which instance types you may launch."
        )
    return [*lines, ""]


def guardrails_in_plain_words(layout: Layout) -> list[str]:
    """What the service control policies mean for a team, one sentence each (the guide and the portal)."""
    return [
        "Every resource you create must carry the tags "
        + ", ".join(f"`{t}`" for t in layout.organization.mandatory_tags)
        + "; they cannot be removed or changed afterwards (the provider's `default_tags` in your stacks set them).",
        "Any instance type outside your tier is refused, at plan time by the pipeline's policy stage and at call "
        "time by the service control policies (EC2, Auto Scaling, SageMaker, capacity purchases).",
        "The account cannot leave the organization, the root user is denied, and the platform's roles, the state "
        "bucket and its KMS key, GuardDuty, Config, Security Hub, Access Analyzer and CloudTrail are protected.",
        "Every Bedrock model invocation (request, response and metadata) is logged in each of your regions to the "
        f"log group `{INVOCATION_LOG_GROUP}` of your account, which you can read; only the platform may change the "
        "logging, its role or the log group.",
    ]


def state_bucket(record: RequestRecord) -> str:
    regions = record.request.get("regions") or ["us-east-1"]
    return record.state_bucket or f"tfstate-{record.account_id or '(not created yet)'}-{regions[0]}"


def backend_block(record: RequestRecord) -> str:
    """The S3 backend block of the team's stacks (the key is the stack folder's path)."""
    region = (record.request.get("regions") or ["us-east-1"])[0]
    return "\n".join(
        [
            "terraform {",
            '  backend "s3" {',
            f'    bucket       = "{state_bucket(record)}"',
            f'    key          = "{record.team}/{record.stage}/<stack>/terraform.tfstate"',
            f'    region       = "{region}"',
            "    use_lockfile = true",
            "    encrypt      = true",
            f'    kms_key_id   = "{STATE_KEY_ALIAS}"',
            "  }",
            "}",
        ]
    )


def team_guide(record: RequestRecord, layout: Layout) -> str:
    request: dict[str, Any] = record.request
    team, stage = record.team, record.stage
    tier_name = str(request.get("gpu_tier", ""))
    tier = layout.gpu_tiers.get(tier_name)
    regions = ", ".join(request.get("regions") or []) or "(none)"
    account = record.account_id or "(not created yet)"
    bucket = state_bucket(record)
    repository = request.get("repository", "<owner>/<repo>")
    templates = catalogue()
    stacks = list(request.get("stacks") or [])
    lines = [
        f"# {team} ({stage}): your AWS account",
        "",
        f"Status **{record.status.value}** (request `{record.request_id}`, attempt {record.attempts}).",
        "",
        "## Your account",
        f"- Account `{account}` in the OU `{record.ou_path or layout.ou_for_stage(stage)}`, owner "
        f"{request.get('owner_email', '')}, cost center `{request.get('cost_center', '')}`.",
        f"- Regions you can use: {regions}. Calls to any other region are denied, except global services.",
        f"- GPU tier **{tier_name}**: {tier.description if tier else ''}",
        f"  - EC2 accelerated types allowed: {_listed(tier.ec2_instance_types if tier else ())}",
        f"  - SageMaker accelerated types allowed: {_listed(tier.sagemaker_instance_types if tier else ())}",
        "",
        *_capacity(record),
        "## Guardrails, in plain words",
        *(f"- {line}" for line in guardrails_in_plain_words(layout)),
        f"- Applied SCPs today: {', '.join(record.scps) or '(see `vend request status`)'}.",
        "",
        "## Deploying from GitHub Actions (OIDC, no keys)",
        f"- Repository `{repository}`, workflow `{WORKFLOW_PATH}`.",
        f"- Plan job: environment `{PLAN.environment(team, stage)}`, role `{PLAN.role_name}` (read-only), from pull "
        "requests and main.",
        f"- Apply job: environment `{APPLY.environment(team, stage)}`, role `{APPLY.role_name}`, from main only; it "
        "applies the reviewed plan file after checking its digest.",
        "- Each role's trust requires your repository's OIDC `sub` to include `repo`, `context` and "
        "`job_workflow_ref` (ask the platform team to set the repository's OIDC subject customization).",
        "- Every IAM role your stacks create must carry the `VendingCIBoundary` permissions boundary (the modules "
        "pass it); the policy stage refuses one without it.",
        "",
        "## Terraform state",
        f"- Bucket `{bucket}` (versioned, KMS key `{STATE_KEY_ALIAS}`, TLS only, S3-native lock file).",
        "- Backend block (the key is the stack folder's path):",
        "",
        "```hcl",
        backend_block(record),
        "```",
        "",
        "## Your stacks",
    ]
    for stack in stacks:
        run = record.pipelines.get(stack) if isinstance(record.pipelines, dict) else None
        status = f" ({run.get('status')})" if isinstance(run, dict) and run.get("status") else ""
        described = templates[stack].description if stack in templates else "platform stack"
        lines.append(f"- `{stack}`{status}: {described}")
    lines += [
        "",
        "Templates you can add: " + ", ".join(f"`{name}`" for name in sorted(templates)) + ".",
        f"To add one: `vend request update {record.request_id} --stacks {','.join([*stacks, '<template>'])}` "
        "(a production change waits for an approval); the stack is rendered for your team and applied by the pipeline.",
        "",
    ]
    return "\n".join(lines)
