"""Effective permissions of an account under its SCPs, for the remediation property tests.

Definition used by the tests: an account's effective permissions are
- `denies`: every Deny statement (canonical JSON, Sid included) attached on its path root -> OUs -> account, and
- `allowed`: the subset of a fixed set of probe requests (PROBES) that the SCPs on that path let through, evaluated
  the way Organizations does: at every level some statement must Allow the request and none may Deny it.
The probes cover what the guardrails exist for: every accelerated family (EC2 and SageMaker) per tier, a CPU type,
launches without cost tags, a region outside the allow-list, leaving the organization, the root user, platform
roles, state buckets and CloudTrail. "More permissive than X" = a probe allowed that X denies, or a deny of X gone.

Requests are decided by scps.evaluate, the one policy-evaluation library the emulator and the audit use too; an
operator IAM does not define (which would never match) fails these tests loudly instead of being silently inert.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scps.evaluate import Policies, Request, decide, unknown_operators
from scps.render import FULL_AWS_ACCESS, GuardrailSet
from vending.guardrails.intent import AccountIntent, account_policies
from vending.layout import Layout

FULL_ACCESS_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TEAM_ROLE = "arn:aws:iam::{account}:role/TeamAdmin"
TAGS = {"aws:RequestTag/team": "t", "aws:RequestTag/stage": "staging", "aws:RequestTag/cost-center": "CC-1"}
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


@dataclass(frozen=True)
class Probe:
    name: str
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...]


def _probe(
    name: str, action: str, resource: str = "*", region: str = "us-east-1", principal: str = TEAM_ROLE, **extra: Any
) -> Probe:
    ctx = {"aws:RequestedRegion": region, "aws:PrincipalArn": principal, **extra}
    return Probe(
        name, action, resource, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in ctx.items()))
    )


PROBES: tuple[Probe, ...] = (
    *(
        _probe(
            f"run {t}",
            "ec2:RunInstances",
            "arn:aws:ec2:us-east-1:{account}:instance/*",
            **{"ec2:InstanceType": t},
            **TAGS,
        )
        for t in EC2_TYPES
    ),
    *(
        _probe(
            f"sagemaker {t}",
            "sagemaker:CreateEndpointConfig",
            "arn:aws:sagemaker:us-east-1:{account}:endpoint-config/x",
            **{"sagemaker:InstanceTypes": [t]},
            **TAGS,
        )
        for t in SAGEMAKER_TYPES
    ),
    _probe(
        "run untagged",
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:{account}:instance/*",
        **{"ec2:InstanceType": "t3.micro"},
    ),
    _probe("describe outside regions", "ec2:DescribeInstances", region="ap-south-1"),
    _probe("describe", "ec2:DescribeInstances"),
    _probe("leave organization", "organizations:LeaveOrganization"),
    _probe("root user", "s3:ListAllMyBuckets", principal="arn:aws:iam::{account}:root"),
    _probe("delete platform role", "iam:DeleteRole", "arn:aws:iam::{account}:role/VendingPlatformRole"),
    _probe("delete state bucket", "s3:DeleteBucket", "arn:aws:s3:::tfstate-{account}-us-east-1"),
    _probe("stop cloudtrail", "cloudtrail:StopLogging", "arn:aws:cloudtrail:us-east-1:{account}:trail/org"),
)


def _statements(document: Any) -> list[dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    stmts = doc.get("Statement", [])
    return [stmts] if isinstance(stmts, dict) else list(stmts)


def allowed(levels: list[list[Any]], probe: Probe, account: str) -> bool:
    """Whether the SCPs on `levels` let `probe` through, decided by scps.evaluate (identity side: full access)."""
    ctx = {
        k: (list(v) if isinstance(v, tuple) else v.format(account=account) if isinstance(v, str) else v)
        for k, v in probe.context
    }
    documents = [json.loads(d) if isinstance(d, str) else d for docs in levels for d in docs]
    unknown = unknown_operators(documents)
    if unknown:
        # An operator IAM does not define never matches: a Deny using it would silently stop protecting.
        raise AssertionError(f"SCPs use condition operators IAM does not define: {unknown}")
    request = Request(
        probe.action, probe.resource.format(account=account), principal_arn=str(ctx["aws:PrincipalArn"]), context=ctx
    )
    scps = [[json.loads(d) if isinstance(d, str) else d for d in docs] for docs in levels]
    return decide(request, Policies(identity=[FULL_ACCESS_DOC], scps=scps)).allowed


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


def effective(levels: list[list[Any]], account: str) -> Effective:
    denies = frozenset(
        json.dumps(s, sort_keys=True) for docs in levels for d in docs for s in _statements(d) if s["Effect"] == "Deny"
    )
    return Effective(frozenset(p.name for p in PROBES if allowed(levels, p, account)), denies)


# --- where the documents come from --------------------------------------------------------------------------


def actual_levels(backend: Any, account_id: str) -> list[list[Any]]:
    """SCP documents on the account's path, read straight from moto's backend (cheap enough to run per step)."""
    ous = {o.id: o for o in backend.ou}
    account = backend.get_account_by_id(account_id)
    chain = [account]
    parent = ous.get(account.parent_id)
    while parent is not None:
        chain.append(parent)
        parent = ous.get(getattr(parent, "parent_id", None))
    return [
        [
            FULL_ACCESS_DOC if p.name == FULL_AWS_ACCESS else p.content
            for p in holder.attached_policies
            if p.type == "SERVICE_CONTROL_POLICY"
        ]
        for holder in reversed(chain)
    ]


def intended_levels(layout: Layout, rendered: GuardrailSet, intent: AccountIntent) -> list[list[Any]]:
    def docs(names: set[str] | tuple[str, ...]) -> list[Any]:
        return [FULL_ACCESS_DOC if n == FULL_AWS_ACCESS else rendered.policies[n].document for n in sorted(names)]

    levels = [docs({FULL_AWS_ACCESS})]
    parts = intent.ou_path.split("/")
    for i in range(1, len(parts) + 1):
        path = "/".join(parts[:i])
        names = set(rendered.ou_policies.get(path, ()))
        if path not in rendered.no_full_aws_access:
            names.add(FULL_AWS_ACCESS)
        levels.append(docs(names))
    levels.append(docs(account_policies(rendered, intent)))
    del layout
    return levels
