"""Every name the platform derives from a team slug, with the limit of the service that receives it.

Intake refuses a request whose slug would overflow any of them (naming the derived name, its limit and the longest
slug that fits), so nothing is created for a team whose account e-mail, role or rule name AWS would refuse half-way.
Names made by the stack templates count only when the request asks for that template; their expressions are quoted
from the .tf file they come from (tests/vending/test_naming.py fails when a template's expression changes).
Names a template already truncates (`substr(var.team, 0, 36)`) are bounded by it and not listed.
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


@dataclass(frozen=True)
class DerivedName:
    what: str  # the derived name and the service that receives it
    limit: int
    render: Callable[[str, str, Layout], str]  # (team, stage, layout) -> the name
    stack: str | None = None  # only when the request asks for this stack template
    source: tuple[str, str] | None = None  # (file, expression) for a name a Terraform template makes

    def name(self, team: str, stage: str, layout: Layout) -> str:
        return self.render(team, stage, layout)

    def max_team_length(self, stage: str, layout: Layout) -> int:
        """The longest slug whose name fits (the name grows by a fixed amount per slug character)."""
        base = len(self.name("", stage, layout))
        per_char = len(self.name("a", stage, layout)) - base
        return (self.limit - base) // per_char if per_char else 10**6


def _eks_cluster(team: str, stage: str) -> str:
    return f"{team}-{stage}-gpu"


EKS = "terraform/templates/workloads/eks-gpu-serving/main.tf"
EKS_MODULE = "terraform/modules/eks/main.tf"
RAG = "terraform/templates/workloads/rag-bedrock/main.tf"
LLM = "terraform/templates/workloads/sagemaker-endpoint/main.tf"
IAM_MODULE = "terraform/modules/iam/main.tf"

DERIVED_NAMES: tuple[DerivedName, ...] = (
    # Organizations CreateAccount: Email 6-64, AccountName 1-50; the e-mail's length depends on the root-mail domain.
    DerivedName("account e-mail (Organizations CreateAccount Email)", 64, lambda t, s, lo: lo.account_email(t, s)),
    DerivedName("account name (Organizations CreateAccount AccountName)", 50, lambda t, s, lo: account_name_for(t, s)),
    # Step Functions execution names: at most 80 characters.
    DerivedName(
        "execution name (Step Functions StartExecution name)",
        80,
        lambda t, s, lo: execution_name(request_id_for(t, s), 10**MAX_ATTEMPTS_DIGITS - 1),
    ),
    # Organizations policy names: at most 128 (vending.changes.team_policy_name).
    DerivedName(
        "team region-fence SCP name (Organizations CreatePolicy Name)",
        128,
        lambda t, s, lo: f"{lo.guardrails.policy_name_prefix}team-{t}",
    ),
    # STS RoleSessionName: at most 64 (the longest of the handlers' vending-{bootstrap,archive,change}-<team>).
    DerivedName("role session name (STS AssumeRole RoleSessionName)", 64, lambda t, s, lo: f"vending-bootstrap-{t}"),
    # GitHub environment names: at most 255 (vending.trust).
    DerivedName(
        "GitHub environment name",
        255,
        lambda t, s, lo: max(PLAN.environment(t, s), APPLY.environment(t, s), key=len),
    ),
    DerivedName(
        "model bucket name (S3, sagemaker-endpoint)",
        63,
        lambda t, s, lo: f"{t}-llm-{ACCOUNT_ID}",
        stack="sagemaker-endpoint",
        source=(LLM, '"${var.team}-llm-${var.account_id}"'),
    ),
    DerivedName(
        "documents bucket name (S3, rag-bedrock)",
        63,
        lambda t, s, lo: f"{t}-rag-{ACCOUNT_ID}",
        stack="rag-bedrock",
        source=(RAG, '"${var.team}-rag-${var.account_id}"'),
    ),
    DerivedName(
        "application role name (IAM, rag-bedrock)",
        64,
        lambda t, s, lo: f"{t}-rag-app",
        stack="rag-bedrock",
        source=(RAG, 'name_prefix                 = "${var.team}-rag"'),
    ),
    DerivedName(
        "EKS cluster name (eks-gpu-serving)",
        100,
        lambda t, s, lo: _eks_cluster(t, s),
        stack="eks-gpu-serving",
        source=(EKS, '"${var.team}-${var.stage}-gpu"'),
    ),
    DerivedName(
        "Karpenter controller role name (IAM, eks-gpu-serving)",
        64,
        lambda t, s, lo: f"{_eks_cluster(t, s)}-karpenter-controller",
        stack="eks-gpu-serving",
        source=(EKS_MODULE, '"${var.cluster_name}-karpenter-controller"'),
    ),
    DerivedName(
        "Karpenter interruption rule name (EventBridge, eks-gpu-serving)",
        64,
        lambda t, s, lo: max((f"{_eks_cluster(t, s)}-karpenter-{r}" for r in KARPENTER_RULES), key=len),
        stack="eks-gpu-serving",
        source=(EKS_MODULE, '"${var.cluster_name}-karpenter-${each.key}"'),
    ),
    DerivedName(
        "Karpenter interruption queue name (SQS, eks-gpu-serving)",
        80,
        lambda t, s, lo: f"{_eks_cluster(t, s)}-karpenter",
        stack="eks-gpu-serving",
        source=(EKS_MODULE, '"${var.cluster_name}-karpenter"'),
    ),
    DerivedName(
        "cluster role name (IAM, eks-gpu-serving)",
        64,
        lambda t, s, lo: f"{_eks_cluster(t, s)}-cluster",
        stack="eks-gpu-serving",
        source=(EKS_MODULE, '"${var.cluster_name}-cluster"'),
    ),
)


def overflowing(team: str, stage: str, stacks: tuple[str, ...], layout: Layout) -> list[str]:
    """One message per derived name the slug would overflow: the name, its length, the limit, the longest slug."""
    messages = []
    for derived in DERIVED_NAMES:
        if derived.stack is not None and derived.stack not in stacks:
            continue
        name = derived.name(team, stage, layout)
        if len(name) > derived.limit:
            messages.append(
                f"the {derived.what} {name!r} would be {len(name)} characters; the limit is {derived.limit}, "
                f"so a {stage} team slug may have at most {derived.max_team_length(stage, layout)} characters"
            )
    return messages
