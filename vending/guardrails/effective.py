"""Effective permissions of an account under the SCPs on its path, intended vs actual, decided by scps.evaluate.

Names say where a policy is attached; only its content says what it allows. So the audit also asks, for a fixed set
of probe requests (PROBES), what the SCPs on each account's path (root -> OUs -> account) let through, evaluated the
way Organizations does (at every level some statement must Allow the request and none may Deny it), once with the
policies the organization actually has and once with the ones rendered from the layout for the account's intent.
A probe the actual policies allow and the intended ones deny is a weakened guardrail.

The probes cover what the guardrails exist for: every accelerated family (EC2 and SageMaker) per tier, a CPU type,
launches without cost tags, a region outside the allow-list, leaving the organization, the root user, platform
roles, state buckets and CloudTrail, and Bedrock: models per tier, a cross-region profile and the call it routes to
another region, provisioned throughput, the invocation logging (its configuration, its role, its log group) and the
live meter's usage forwarding (its rule, its role, passing the role). The identity side is full access: only the SCPs
decide.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scps.catalog import INVOCATION_LOG_GROUP
from scps.catalog import INVOCATION_LOGGING_ROLE_NAME as LOGGING_ROLE
from scps.catalog import USAGE_FORWARDING_ROLE_NAME as FORWARDING_ROLE
from scps.catalog import USAGE_FORWARDING_RULE as FORWARDING_RULE
from scps.evaluate import Policies, Request, decide
from scps.render import FULL_AWS_ACCESS, GuardrailSet
from vending.guardrails.intent import AccountIntent, OrgIntent, account_policies
from vending.guardrails.reconcile import Finding
from vending.guardrails.snapshot import OrgSnapshot

FINDING = "effective_permissions"
FULL_ACCESS_DOC: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
TEAM_ROLE = "arn:aws:iam::{account}:role/TeamAdmin"
# "{team}" is the account's own team (a team policy denies launches tagged for another team, which would otherwise hide
# every fence behind it); accounts without a team get DEFAULT_TEAM.
DEFAULT_TEAM = "t"
# The stage and cost center are the account's own as well: the stage OU and the team policy pin them (issue 20).
TAGS = {
    "aws:RequestTag/team": "{team}",
    "aws:RequestTag/stage": "{stage}",
    "aws:RequestTag/cost-center": "{cost_center}",
}
DEFAULT_OWN = {"stage": "staging", "cost_center": "CC-1"}
EC2_TYPES = (
    "t3.micro",
    "m5.large",
    "g4dn.xlarge",
    "g5.xlarge",
    "g6.xlarge",
    "g6e.xlarge",
    "inf2.xlarge",
    "p4d.24xlarge",
    "p5.48xlarge",
    "trn1.32xlarge",
    "trn1n.32xlarge",
    "dl1.24xlarge",
)
SAGEMAKER_TYPES = (
    "ml.m5.large",
    "ml.g5.xlarge",
    "ml.g6.xlarge",
    "ml.inf2.xlarge",
    "ml.p4d.24xlarge",
    "ml.p5.48xlarge",
    "ml.trn1.32xlarge",
)

# SCP documents per level of an account's path: root, each OU from the top, the account.
Levels = list[list[Any]]


@dataclass(frozen=True)
class Probe:
    name: str
    action: str
    resource: str  # "{account}" is replaced by the account id (in context values too, and "{team}" by the team)
    context: tuple[tuple[str, Any], ...]


def _probe(
    name: str,
    action: str,
    resource: str = "*",
    keys: Mapping[str, str | list[str]] | None = None,
    *,
    region: str = "us-east-1",
    principal: str = TEAM_ROLE,
) -> Probe:
    ctx: dict[str, str | list[str]] = {"aws:RequestedRegion": region, "aws:PrincipalArn": principal, **(keys or {})}
    return Probe(
        name, action, resource, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in ctx.items()))
    )


INSTANCE = "arn:aws:ec2:us-east-1:{account}:instance/*"
# Bedrock (issue 24): a model every invoking tier lists, a training-only one, a cross-region profile invoked in
# us-east-1 and the call it routes to its model in us-east-2 (a destination outside the organization's regions).
BEDROCK_MODEL = "arn:aws:bedrock:us-east-1::foundation-model/{model}"
BEDROCK_PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
BEDROCK_PROFILE_ARN = f"arn:aws:bedrock:us-east-1:{{account}}:inference-profile/{BEDROCK_PROFILE}"
PROBES: tuple[Probe, ...] = (
    *(_probe(f"run {t}", "ec2:RunInstances", INSTANCE, {"ec2:InstanceType": t, **TAGS}) for t in EC2_TYPES),
    *(
        _probe(
            f"sagemaker {t}",
            "sagemaker:CreateEndpointConfig",
            "arn:aws:sagemaker:us-east-1:{account}:endpoint-config/x",
            {"sagemaker:InstanceTypes": [t], **TAGS},
        )
        for t in SAGEMAKER_TYPES
    ),
    _probe("run untagged", "ec2:RunInstances", INSTANCE, {"ec2:InstanceType": "t3.micro"}),
    _probe(
        "run tagged for another team",
        "ec2:RunInstances",
        INSTANCE,
        {"ec2:InstanceType": "t3.micro", **TAGS, "aws:RequestTag/team": "another-team"},
    ),
    _probe("describe outside regions", "ec2:DescribeInstances", region="ap-south-1"),
    # Inside the organization's allow-list, outside every team's regions in the layout: only a team fence denies it.
    _probe("describe outside team regions", "ec2:DescribeInstances", region="eu-central-1"),
    _probe("describe", "ec2:DescribeInstances"),
    _probe("leave organization", "organizations:LeaveOrganization"),
    _probe("root user", "s3:ListAllMyBuckets", principal="arn:aws:iam::{account}:root"),
    _probe("delete platform role", "iam:DeleteRole", "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"),
    _probe("delete state bucket", "s3:DeleteBucket", "arn:aws:s3:::tfstate-{account}-us-east-1"),
    _probe("stop cloudtrail", "cloudtrail:StopLogging", "arn:aws:cloudtrail:us-east-1:{account}:trail/org"),
    _probe(
        "bedrock titan-embed-text-v2", "bedrock:InvokeModel", BEDROCK_MODEL.format(model="amazon.titan-embed-text-v2:0")
    ),
    _probe(
        "bedrock cohere.embed-english-v3", "bedrock:InvokeModel", BEDROCK_MODEL.format(model="cohere.embed-english-v3")
    ),
    _probe(
        "bedrock claude-3-opus",
        "bedrock:InvokeModel",
        BEDROCK_MODEL.format(model="anthropic.claude-3-opus-20240229-v1:0"),
    ),
    _probe(f"bedrock profile {BEDROCK_PROFILE}", "bedrock:InvokeModelWithResponseStream", BEDROCK_PROFILE_ARN),
    _probe(
        f"bedrock {BEDROCK_PROFILE} routed to us-east-2",
        "bedrock:InvokeModel",
        f"arn:aws:bedrock:us-east-2::foundation-model/{BEDROCK_PROFILE.split('.', 1)[1]}",
        {"bedrock:InferenceProfileArn": BEDROCK_PROFILE_ARN},
        region="us-east-2",
    ),
    _probe("bedrock provisioned throughput", "bedrock:CreateProvisionedModelThroughput", keys=TAGS),
    _probe("bedrock invocation logging off", "bedrock:DeleteModelInvocationLoggingConfiguration"),
    _probe("bedrock invocation logging repointed", "bedrock:PutModelInvocationLoggingConfiguration"),
    _probe("invocation logging role rewritten", "iam:PutRolePolicy", f"arn:aws:iam::{{account}}:role/{LOGGING_ROLE}"),
    _probe(
        "invocation log group deleted",
        "logs:DeleteLogGroup",
        f"arn:aws:logs:us-east-1:{{account}}:log-group:{INVOCATION_LOG_GROUP}",
    ),
    # The live meter's usage forwarding (vending.usage_forwarding): the rule, its role, and passing the role.
    *(
        _probe(f"usage forwarding rule {verb}", action, f"arn:aws:events:us-east-1:{{account}}:rule/{FORWARDING_RULE}")
        for verb, action in (
            ("deleted", "events:DeleteRule"),
            ("disabled", "events:DisableRule"),
            ("repatterned", "events:PutRule"),
            ("retargeted", "events:PutTargets"),
            ("untargeted", "events:RemoveTargets"),
        )
    ),
    _probe("usage forwarding role rewritten", "iam:PutRolePolicy", f"arn:aws:iam::{{account}}:role/{FORWARDING_ROLE}"),
    _probe("usage forwarding role passed", "iam:PassRole", f"arn:aws:iam::{{account}}:role/{FORWARDING_ROLE}"),
)


def _document(document: Any) -> Any:
    return _parsed(document) if isinstance(document, str) else document


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> Any:
    # Every probe reads the same few policy texts; parsed once. Nothing here writes to a document.
    return json.loads(text)


def _statements(document: Any) -> list[dict[str, Any]]:
    stmts = _document(document).get("Statement", [])
    return [stmts] if isinstance(stmts, dict) else list(stmts)


def allowed(
    levels: Levels, probe: Probe, account: str, team: str = DEFAULT_TEAM, own: Mapping[str, str] | None = None
) -> bool:
    """Whether the SCPs on `levels` let `probe` through in `account` of `team` (identity side: full access); `own`
    gives the account's stage and cost_center for the probes' tags."""
    values = {**DEFAULT_OWN, **(own or {}), "account": account, "team": team}
    ctx = {
        k: (list(v) if isinstance(v, tuple) else v.format(**values) if isinstance(v, str) else v)
        for k, v in probe.context
    }
    request = Request(
        probe.action, probe.resource.format(account=account), principal_arn=str(ctx["aws:PrincipalArn"]), context=ctx
    )
    scps = [[_document(d) for d in docs] for docs in levels]
    return decide(request, Policies(identity=[FULL_ACCESS_DOC], scps=scps)).allowed


def allowed_probes(
    levels: Levels, account: str, team: str = DEFAULT_TEAM, own: Mapping[str, str] | None = None
) -> frozenset[str]:
    """Names of the probes the SCPs on `levels` let through."""
    return frozenset(p.name for p in PROBES if allowed(levels, p, account, team, own))


def deny_statements(levels: Levels) -> frozenset[str]:
    """Every Deny statement on the path, as canonical JSON (Sid included)."""
    return frozenset(
        json.dumps(s, sort_keys=True) for docs in levels for d in docs for s in _statements(d) if s["Effect"] == "Deny"
    )


@dataclass(frozen=True)
class Effective:
    allowed: frozenset[str]
    denies: frozenset[str]

    def more_permissive_than(self, other: Effective) -> list[str]:
        """What this allows that `other` does not: probes it lets through, denies of `other` it lacks."""
        return sorted(
            [f"allows {p}" for p in self.allowed - other.allowed]
            + [f"lacks deny {d[:80]}" for d in other.denies - self.denies]
        )


def effective(
    levels: Levels, account: str, team: str = DEFAULT_TEAM, own: Mapping[str, str] | None = None
) -> Effective:
    return Effective(allowed_probes(levels, account, team, own), deny_statements(levels))


def weakened(
    actual: Levels, intended: Levels, account: str, team: str = DEFAULT_TEAM, own: Mapping[str, str] | None = None
) -> list[str]:
    """Probes the actual SCPs allow and the intended ones deny, in PROBES order."""
    return [
        p.name
        for p in PROBES
        if allowed(actual, p, account, team, own) and not allowed(intended, p, account, team, own)
    ]


def own_tags(intent: AccountIntent) -> dict[str, str]:
    """The account's own stage and cost center from its intent (the probes tag with them)."""
    tags = intent.tags or {}
    return {k: v for k, v in (("stage", tags.get("stage")), ("cost_center", tags.get("cost-center"))) if v}


# --- where the documents come from --------------------------------------------------------------------------


def intended_levels(rendered: GuardrailSet, intent: AccountIntent) -> Levels:
    """The documents the layout puts on the account's intended path (its intended OU, not where it sits now)."""

    def docs(names: Iterable[str]) -> list[Any]:
        return [FULL_ACCESS_DOC if n == FULL_AWS_ACCESS else rendered.policies[n].document for n in sorted(names)]

    levels = [docs({FULL_AWS_ACCESS})]
    parts = intent.ou_path.split("/") if intent.ou_path else []
    for i in range(1, len(parts) + 1):
        path = "/".join(parts[:i])
        names = set(rendered.ou_policies.get(path, ()))
        if path not in rendered.no_full_aws_access:
            names.add(FULL_AWS_ACCESS)
        levels.append(docs(names))
    levels.append(docs(account_policies(rendered, intent)))
    return levels


def snapshot_levels(snap: OrgSnapshot, account_id: str) -> Levels | None:
    """The documents attached on the account's actual path, from the audit's snapshot (no further API calls).
    None when a policy's content was not read (a snapshot taken without DescribePolicy)."""
    account = snap.accounts[account_id]
    path = snap.ou_paths.get(account.parent_id)
    if path is None:
        return None
    ou_ids = snap.ou_ids
    parts = path.split("/") if path else []
    targets = [snap.root_id, *(ou_ids["/".join(parts[:i])] for i in range(1, len(parts) + 1)), account_id]
    attachments = snap.attachments()
    levels: Levels = []
    for target in targets:
        docs: list[Any] = []
        for name in sorted(attachments.get(target, set())):
            policy = snap.policies[name]
            if policy.aws_managed and name == FULL_AWS_ACCESS:
                docs.append(FULL_ACCESS_DOC)
            elif policy.content is None:
                return None
            else:
                docs.append(policy.content)
        levels.append(docs)
    return levels


def effective_findings(
    snap: OrgSnapshot, rendered: GuardrailSet, intent: OrgIntent, unfixable: Iterable[str] = ()
) -> tuple[list[Finding], list[str]]:
    """One finding per compared account whose actual SCPs let through a probe its intended ones deny, and notes.

    Compared: member accounts with a usable, settled intent (team, platform, retired). Unknown accounts have no
    intent (unknown_account says so) and accounts being vended belong to the state machine. The cause is always one
    of the name- and content-level findings too (policy_drift, missing_attachment, a wrong OU, ...); remediation
    fixes it unless the account is listed as unfixable, in which case so is this finding."""
    findings: list[Finding] = []
    notes: list[str] = []
    stuck = {u.partition(": ")[0] for u in unfixable}
    for account_id in sorted(snap.accounts):
        known = intent.get(account_id)
        if known is None or known.problem or known.in_flight:
            continue
        key = f"account:{account_id}"
        actual = snapshot_levels(snap, account_id)
        if actual is None:
            notes.append(f"{key}: effective permissions not compared (policy content not read)")
            continue
        probes = weakened(
            actual, intended_levels(rendered, known), account_id, known.team or DEFAULT_TEAM, own_tags(known)
        )
        if probes:
            detail = f"allowed by the SCPs on its path, denied by the intended ones: {', '.join(probes)}"
            findings.append(Finding(FINDING, key, detail, key not in stuck))
    return findings, notes
