"""Every name the platform derives from a team slug, with the limit of the service that receives it.

Intake refuses a request whose slug would overflow any of them (naming the derived name, its limit and the longest
slug that fits), so nothing is created for a team whose account e-mail, role or rule name AWS would refuse half-way.
Names made by a stack count only when the request asks for that stack (bootstrap: always); their expressions are
quoted from the .tf file they come from (tests/vending/test_naming.py fails when one changes). Names a template
already truncates (`substr(var.team, 0, 36)`) are bounded by it and not listed; nor are names built from keys a team
chooses in its own tfvars (node groups, pod identities).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vending.layout import Layout
from vending.request import account_name_for, execution_name, request_id_for
from vending.trust import APPLY, PLAN

ACCOUNT_ID = "123456789012"  # every account id has 12 digits: a stand-in of the right length
MAX_ATTEMPTS_DIGITS = 3  # execution names carry the attempt number; room for attempt 999
KARPENTER_RULES = ("spot-interruption", "rebalance", "state-change", "health")  # terraform/modules/eks/main.tf


Render = Callable[[str, str, tuple[str, ...], Layout], str]  # (team, stage, regions, layout) -> the name


@dataclass(frozen=True)
class DerivedName:
    what: str  # the derived name and the service that receives it
    limit: int
    render: Render
    stack: str | None = None  # only when the request asks for this stack (bootstrap: always)
    source: tuple[str, str] | None = None  # (file, expression) for a name a Terraform stack makes

    def name(self, team: str, stage: str, regions: tuple[str, ...], layout: Layout) -> str:
        return self.render(team, stage, regions, layout)

    def max_team_length(self, stage: str, regions: tuple[str, ...], layout: Layout) -> int:
        """The longest slug whose name fits (the name grows by a fixed amount per slug character)."""
        base = len(self.name("", stage, regions, layout))
        per_char = len(self.name("a", stage, regions, layout)) - base
        return (self.limit - base) // per_char if per_char else 10**6


BOOTSTRAP = "terraform/environments/team-mlops/staging/bootstrap/main.tf"  # the body every team's bootstrap shares
NETWORKING = "terraform/environments/team-mlops/staging/networking/main.tf"
NETWORKING_MODULE = "terraform/modules/networking/main.tf"
EKS_BODY = "terraform/environments/team-mlops/staging/eks/main.tf"
CLOUDFRONT = "terraform/environments/team-frontend/staging/cloudfront/main.tf"
EKS = "terraform/templates/workloads/eks-gpu-serving/main.tf"
EKS_MODULE = "terraform/modules/eks/main.tf"
RAG = "terraform/templates/workloads/rag-bedrock/main.tf"
LLM = "terraform/templates/workloads/sagemaker-endpoint/main.tf"


def _eks_names(stack: str, cluster: Callable[[str, str], str], cluster_source: tuple[str, str]) -> list[DerivedName]:
    """What terraform/modules/eks names after the cluster (Karpenter on in both stacks that call it)."""
    return [
        DerivedName(f"EKS cluster name ({stack})", 100, lambda t, s, r, lo: cluster(t, s), stack, cluster_source),
        DerivedName(
            f"cluster role name (IAM, {stack})",
            64,
            lambda t, s, r, lo: f"{cluster(t, s)}-cluster",
            stack,
            (EKS_MODULE, '"${var.cluster_name}-cluster"'),
        ),
        DerivedName(
            f"Karpenter controller role name (IAM, {stack})",
            64,
            lambda t, s, r, lo: f"{cluster(t, s)}-karpenter-controller",
            stack,
            (EKS_MODULE, '"${var.cluster_name}-karpenter-controller"'),
        ),
        DerivedName(
            f"Karpenter interruption rule name (EventBridge, {stack})",
            64,
            lambda t, s, r, lo: max((f"{cluster(t, s)}-karpenter-{k}" for k in KARPENTER_RULES), key=len),
            stack,
            (EKS_MODULE, '"${var.cluster_name}-karpenter-${each.key}"'),
        ),
        DerivedName(
            f"Karpenter interruption queue name (SQS, {stack})",
            80,
            lambda t, s, r, lo: f"{cluster(t, s)}-karpenter",
            stack,
            (EKS_MODULE, '"${var.cluster_name}-karpenter"'),
        ),
    ]


DERIVED_NAMES: tuple[DerivedName, ...] = (
    # Organizations CreateAccount: Email 6-64, AccountName 1-50; the e-mail's length depends on the root-mail domain.
    DerivedName("account e-mail (Organizations CreateAccount Email)", 64, lambda t, s, r, lo: lo.account_email(t, s)),
    DerivedName(
        "account name (Organizations CreateAccount AccountName)", 50, lambda t, s, r, lo: account_name_for(t, s)
    ),
    # Step Functions execution names: at most 80 characters.
    DerivedName(
        "execution name (Step Functions StartExecution name)",
        80,
        lambda t, s, r, lo: execution_name(request_id_for(t, s), 10**MAX_ATTEMPTS_DIGITS - 1),
    ),
    # Organizations policy names: at most 128 (vending.changes.team_policy_name).
    DerivedName(
        "team region-fence SCP name (Organizations CreatePolicy Name)",
        128,
        lambda t, s, r, lo: f"{lo.guardrails.policy_name_prefix}team-{t}-{s}",
    ),
    # STS RoleSessionName: at most 64 (the longest of the handlers' vending-{bootstrap,archive,change}-<team>).
    DerivedName("role session name (STS AssumeRole RoleSessionName)", 64, lambda t, s, r, lo: f"vending-bootstrap-{t}"),
    # GitHub environment names: at most 255 (vending.trust).
    DerivedName(
        "GitHub environment name",
        255,
        lambda t, s, r, lo: max(PLAN.environment(t, s), APPLY.environment(t, s), key=len),
    ),
    # The bootstrap stack (every request): the artifacts bucket, the workload role, the baseline's key alias.
    DerivedName(
        "artifacts bucket name (S3, bootstrap)",
        63,
        lambda t, s, r, lo: f"{t}-{s}-artifacts-{ACCOUNT_ID}",
        "bootstrap",
        (BOOTSTRAP, '"${var.team}-${var.stage}-artifacts-${var.account_id}"'),
    ),
    DerivedName(
        "workload role name (IAM, bootstrap)",
        64,
        lambda t, s, r, lo: f"{t}-workload",
        "bootstrap",
        (BOOTSTRAP, "name_prefix = var.team"),
    ),
    DerivedName(
        "baseline key alias (KMS, bootstrap)",
        256,
        lambda t, s, r, lo: f"alias/{t}-{s}-baseline",
        "bootstrap",
        ("terraform/modules/baseline/main.tf", '"alias/${var.team}-${var.stage}-baseline"'),
    ),
    # networking: one VPC per requested region, named <team>-<stage>-<region>; its flow-logs role adds the region.
    DerivedName(
        "flow-logs role name (IAM, networking)",
        64,
        lambda t, s, r, lo: max((f"{t}-{s}-{region}-{region}-flow-logs" for region in r), key=len, default=""),
        "networking",
        (NETWORKING_MODULE, '"${var.name}-${local.region}-flow-logs"'),
    ),
    DerivedName(
        "origin bucket name (S3, cloudfront)",
        63,
        lambda t, s, r, lo: f"{t}-{s}-web-{ACCOUNT_ID}",
        "cloudfront",
        (CLOUDFRONT, '"${var.team}-${var.stage}-web-${var.account_id}"'),
    ),
    *_eks_names("eks", lambda t, s: f"{t}-{s}", (EKS_BODY, '"${var.team}-${var.stage}"')),
    *_eks_names("eks-gpu-serving", lambda t, s: f"{t}-{s}-gpu", (EKS, '"${var.team}-${var.stage}-gpu"')),
    DerivedName(
        "model bucket name (S3, sagemaker-endpoint)",
        63,
        lambda t, s, r, lo: f"{t}-llm-{ACCOUNT_ID}",
        "sagemaker-endpoint",
        (LLM, '"${var.team}-llm-${var.account_id}"'),
    ),
    DerivedName(
        "documents bucket name (S3, rag-bedrock)",
        63,
        lambda t, s, r, lo: f"{t}-rag-{ACCOUNT_ID}",
        "rag-bedrock",
        (RAG, '"${var.team}-rag-${var.account_id}"'),
    ),
    DerivedName(
        "application role name (IAM, rag-bedrock)",
        64,
        lambda t, s, r, lo: f"{t}-rag-app",
        "rag-bedrock",
        (RAG, 'name_prefix                 = "${var.team}-rag"'),
    ),
)


def overflowing(team: str, stage: str, stacks: tuple[str, ...], regions: tuple[str, ...], layout: Layout) -> list[str]:
    """One message per derived name the slug would overflow: the name, its length, the limit, the longest slug."""
    messages = []
    for derived in DERIVED_NAMES:
        if derived.stack is not None and derived.stack not in stacks:
            continue
        name = derived.name(team, stage, regions, layout)
        if len(name) > derived.limit:
            messages.append(
                f"the {derived.what} {name!r} would be {len(name)} characters; the limit is {derived.limit}, "
                f"so a {stage} team slug may have at most {derived.max_team_length(stage, regions, layout)} characters"
            )
    return messages
