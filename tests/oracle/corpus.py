"""A deterministic corpus of authorization requests over the project's real policy documents, for the IAM oracle.

Each case is plain JSON (so the same case goes to iam-simulate and to scps.evaluate.decide):
    {"id", "group", "request": {"action", "resource", "context", "principal": {arn, account, session_arn, service,
     federated}}, "policies": {"identity", "boundary", "session", "scps", "rcps", "resource", "resource_account",
     "resource_kind"}}

Where the documents come from:
- SCPs: scps.render over landing_zone/layout.yaml, assembled per account (root -> OUs -> account) exactly as
  tests/guardrails/effective.py `intended_levels` does (which uses vending.guardrails.intent.account_policies);
  one team account per team and stage, a Platform account and a retired (Suspended, quarantined) account.
- Team CI roles: vending.bootstrap's ensure_ci_role / ensure_plan_role (identity policies and trust policies, from
  vending.trust) recorded through a fake IAM client, and vending.bootstrap.boundary_policy.
- Lambda function roles: landing_zone.local.runtime._function_policy over vending.functions.FUNCTIONS.
- Resource policies: vending.bootstrap.tls_only_policy (state bucket) and the state key's policy (AccountAdministers,
  copied from vending.bootstrap.ensure_state_key, which builds it inline); the platform key and topic policies as
  landing_zone/cdk/storage.py makes CDK render them (see _platform_key_policy, _topic_policy).

What is deliberately NOT in the corpus, because iam-simulate cannot express it the way AWS and the spec do:
- service-linked roles (SCPs never apply to them; iam-simulate applies whatever SCPs it is given) and the
  management account's own principals under SCPs (exempt in AWS): those go in with `scps: None` (not governed);
- SCPs for service principals and web-identity callers (AWS never applies SCPs to them): `scps: None` too;
- a resource policy naming an assumed-role *session* ARN together with a session policy (AWS does not limit such a
  grant by the session policy; iam-simulate denies as soon as the session policy does not allow);
- the API Gateway resource policy ("execute-api:/*" is a CDK shorthand, not an ARN either side can match).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import Any

from landing_zone.local.runtime import _function_policy
from scps.render import render
from tests.guardrails.effective import EC2_TYPES, SAGEMAKER_TYPES, intended_levels
from vending import bootstrap
from vending.functions import FUNCTIONS
from vending.guardrails.intent import AccountIntent
from vending.layout import Layout, load_layout
from vending.settings import Settings
from vending.trust import GITHUB_OIDC_HOST, job_workflow_ref

Doc = dict[str, Any]
Case = dict[str, Any]

SEED = 20260503
MANAGEMENT = "111111111111"
ORGANIZATION = "o-abcdef1234"
OUTSIDER = "999999999999"
REGION = "us-east-1"
FULL_ACCESS: Doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# AWS attaches RCPFullAWSAccess to every root, OU and account; the corpus states it (both sides then agree on it).
ALLOW_LIST: Doc = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOnlyAllowList",
            "Effect": "Allow",
            "Action": ["s3:Get*", "s3:List*", "iam:Get*", "iam:List*", "sts:GetCallerIdentity", "kms:Decrypt"],
            "Resource": "*",
        }
    ],
}
RCP_FULL_ACCESS: Doc = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}
# The project has no RCPs yet; this one is AWS's documented example (EnforceSecureTransport plus a confused-deputy
# guard), so that the RCP path of the evaluator is checked too.
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_examples.html
EXAMPLE_RCP: Doc = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EnforceSecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["sts:*", "s3:*", "sqs:*", "secretsmanager:*", "kms:*"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "OnlyOwnAccountsPrincipals",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:*", "kms:*"],
            "Resource": "*",
            "Condition": {
                "StringNotEqualsIfExists": {"aws:PrincipalAccount": ["200000000011", "200000000012", MANAGEMENT]},
                "Null": {"aws:PrincipalAccount": "false"},
            },
        },
    ],
}

# An allow-list RCP (again not something AWS lets one build without RCPFullAWSAccess beside it): S3 reads only.
S3_READ_RCP: Doc = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Get*", "Resource": "*"}],
}


# --- the documents -------------------------------------------------------------------------------------------


class _RecordingIam:
    """Just enough of an IAM client for bootstrap's ensure_*_role: records the documents instead of sending them."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.trust: dict[str, Doc] = {}
        self.inline: dict[str, list[Doc]] = {}

    def get_role(self, RoleName: str) -> dict[str, Any]:
        return {"Role": {"Arn": f"arn:aws:iam::{self.account}:role/{RoleName}", "RoleName": RoleName}}

    def update_assume_role_policy(self, RoleName: str, PolicyDocument: str) -> None:
        self.trust[RoleName] = json.loads(PolicyDocument)

    def put_role_permissions_boundary(self, RoleName: str, PermissionsBoundary: str) -> None:
        del RoleName, PermissionsBoundary

    def put_role_policy(self, RoleName: str, PolicyName: str, PolicyDocument: str) -> None:
        del PolicyName
        self.inline.setdefault(RoleName, []).append(json.loads(PolicyDocument))


class Account:
    """One governed account of the corpus: its SCP levels and, for team accounts, its CI roles' documents."""

    def __init__(self, layout: Layout, intent: AccountIntent, repository: str = "", stage: str = "") -> None:
        self.id = intent.account_id
        self.intent = intent
        self.team = intent.team
        self.stage = stage
        self.repository = repository
        self.levels: list[list[Doc]] = intended_levels(layout, render(layout), intent)
        self.state_bucket = bootstrap.state_bucket_name(self.id, REGION)
        self.key_arn = f"arn:aws:kms:{REGION}:{self.id}:key/0000aaaa-{self.id[-4:]}-4000-8000-00000000{self.id[-4:]}"
        self.provider_arn = f"arn:aws:iam::{self.id}:oidc-provider/{GITHUB_OIDC_HOST}"
        self.boundary_arn = f"arn:aws:iam::{self.id}:policy/{bootstrap.BOUNDARY_NAME}"
        self.boundary = bootstrap.boundary_policy(self.id, self.state_bucket)
        iam = _RecordingIam(self.id)
        if intent.team_account:
            common = {"provider_arn": self.provider_arn, "boundary_arn": self.boundary_arn}
            kw = {**common, "repository": repository, "stage": stage, "team": self.team}
            bootstrap.ensure_ci_role(iam, **kw)
            bootstrap.ensure_plan_role(iam, **kw, state_bucket=self.state_bucket, kms_key_arn=self.key_arn)
        self.trust = iam.trust
        self.inline = iam.inline

    def role(self, name: str) -> str:
        return f"arn:aws:iam::{self.id}:role/{name}"


@cache
def layout() -> Layout:
    return load_layout()


@cache
def accounts() -> tuple[Account, ...]:
    lay = layout()
    out = []
    n = 10
    for team in lay.teams:
        for stage in lay.stage_ous:
            n += 1
            intent = AccountIntent(
                f"2000000000{n:02d}",
                "team",
                lay.ou_for_stage(stage),
                f"record:{team.slug}-{stage}",
                tier=team.gpu_tier,
                team=team.slug,
            )
            out.append(Account(lay, intent, team.repository, stage))
    out.append(Account(lay, AccountIntent("200000000090", "platform", "Platform", "layout:platform_accounts")))
    out.append(Account(lay, AccountIntent("200000000099", "retired", "Suspended", "record:old-team-staging")))
    # An SCP allow-list (FullAWSAccess replaced below the root): the project no longer renders one (the quarantine is
    # a Deny that exempts the platform's roles), but the evaluation of allow-lists must still agree.
    sandbox = Account(lay, AccountIntent("200000000098", "retired", "Suspended", "record:allow-list-sandbox"))
    sandbox.levels = [
        level
        if i == 0
        else [ALLOW_LIST if d == FULL_ACCESS or d.get("Statement") == FULL_ACCESS["Statement"] else d for d in level]
        for i, level in enumerate(sandbox.levels)
    ]
    out.append(sandbox)
    return tuple(out)


@cache
def settings() -> Settings:
    return replace(
        Settings.from_env(),
        requests_table="vending-requests",
        idempotency_table="vending-idempotency",
        pipeline_runs_table="vending-pipeline-runs",
        approvals_table="vending-pipeline-approvals",
        creation_slots_table="vending-creation-slots",
        event_bus_name="default",
        codebuild_project="vending-terraform-pipeline",
        changes_table="vending-changes",
        closures_table="vending-closures",
        reports_bucket=f"vending-reports-{MANAGEMENT}",
        archive_bucket=f"vending-archive-{MANAGEMENT}",
    )


@cache
def function_policies() -> dict[str, Doc]:
    return {
        spec.key: _function_policy(
            spec, account=MANAGEMENT, organization_id=ORGANIZATION, settings=settings(), layout=layout()
        )
        for spec in FUNCTIONS
    }


def state_key_policy(account: str) -> Doc:
    # vending/bootstrap.py ensure_state_key builds this inline before CreateKey.
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def _platform_key_policy() -> Doc:
    # landing_zone/cdk/storage.py _key: CDK's default key policy (the account administers the key) plus one statement
    # per service that publishes to encrypted destinations.
    services = ("events.amazonaws.com", "cloudwatch.amazonaws.com")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            *(
                {
                    "Sid": f"Allow{s.split('.')[0].capitalize()}ToEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": s},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": MANAGEMENT}},
                }
                for s in services
            ),
        ],
    }


TOPIC_ARN = f"arn:aws:sns:{REGION}:{MANAGEMENT}:vending-notifications"
PLATFORM_KEY_ARN = f"arn:aws:kms:{REGION}:{MANAGEMENT}:key/1111aaaa-2222-4333-8444-555566667777"


def _topic_policy() -> Doc:
    # landing_zone/cdk/storage.py _topic (enforce_ssl=True) and events.py (targets.SnsTopic adds the events grant).
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowPublishThroughSSLOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": TOPIC_ARN,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "0",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": TOPIC_ARN,
            },
        ],
    }


def _access_role_trust() -> Doc:
    # Organizations creates OrganizationAccountAccessRole trusting the management account.
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }


# --- request building ---------------------------------------------------------------------------------------


def _concrete(action: str, rng: random.Random) -> str:
    """An action a pattern names ("ec2:Describe*" -> "ec2:DescribeVpcs"); the pattern itself when it has no '*'."""
    if "*" not in action:
        return action
    return action.replace("*", rng.choice(["Instances", "Vpcs", "Thing", "Policy", ""]), 1).replace("*", "")


def _actions(doc: Doc) -> list[str]:
    out = []
    for s in doc["Statement"]:
        for field in ("Action", "NotAction"):
            v = s.get(field, [])
            out += [v] if isinstance(v, str) else list(v)
    return out


def near_miss(action: str, rng: random.Random) -> str:
    service, _, name = action.partition(":")
    return rng.choice(
        [
            f"{service}:{name}s",
            f"{service}:{name[:-1]}",
            f"{service}:Get{name}",
            f"{service}2:{name}",
            action.upper(),
            action.lower(),
        ]
    )


def principal(arn: str, account: str, **kw: str | None) -> dict[str, Any]:
    return {"arn": arn, "account": account, "session_arn": None, "service": None, "federated": None, **kw}


def role_principal(arn: str, session: str | None = None) -> dict[str, Any]:
    account = arn.split(":")[4]
    session_arn = None
    if session is not None:
        session_arn = arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + f"/{session}"
    return principal(arn, account, session_arn=session_arn)


def base_context(p: dict[str, Any], rng: random.Random, region: str | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if p["service"]:
        ctx["aws:PrincipalServiceName"] = p["service"]
    elif p["arn"]:
        ctx["aws:PrincipalArn"] = p["arn"]
        ctx["aws:PrincipalAccount"] = p["account"]
        ctx["aws:PrincipalType"] = (
            "AssumedRole" if p["session_arn"] else ("Account" if p["arn"].endswith(":root") else "Role")
        )
    ctx["aws:RequestedRegion"] = region or rng.choice(
        ["us-east-1", "us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "sa-east-1"]
    )
    secure = rng.random()
    if secure < 0.7:
        ctx["aws:SecureTransport"] = "true"
    elif secure < 0.9:
        ctx["aws:SecureTransport"] = "false"
    return ctx


def case(
    group: str,
    action: str,
    resource: str,
    p: dict[str, Any],
    context: dict[str, Any],
    *,
    identity: list[Doc] | None = None,
    boundary: Doc | None = None,
    session: list[Doc] | None = None,
    scps: list[list[Doc]] | None = None,
    rcps: list[list[Doc]] | None = None,
    resource_policy: Doc | None = None,
    resource_account: str,
    resource_kind: str = "default",
) -> Case:
    return {
        "group": group,
        "request": {"action": action, "resource": resource, "principal": p, "context": context},
        "policies": {
            "identity": identity or [],
            "boundary": boundary,
            "session": session,
            "scps": scps,
            "rcps": rcps,
            "resource": resource_policy,
            "resource_account": resource_account,
            "resource_kind": resource_kind,
        },
    }


# --- groups -------------------------------------------------------------------------------------------------

TAG_KEYS = ("team", "stage", "cost-center")


def _scp_actions() -> list[str]:
    acts: set[str] = set()
    for a in accounts():
        for level in a.levels:
            for doc in level:
                acts.update(_actions(doc))
    acts.update(
        [
            "ec2:RunInstances",
            "ec2:StartInstances",
            "ec2:ModifyInstanceAttribute",
            "ec2:DescribeInstances",
            "ec2:TerminateInstances",
            "ec2:AllocateHosts",
            "autoscaling:CreateAutoScalingGroup",
            "autoscaling:CreateLaunchConfiguration",
            "sagemaker:CreateEndpointConfig",
            "sagemaker:CreateNotebookInstance",
            "s3:ListAllMyBuckets",
            "s3:GetObject",
            "iam:GetRole",
            "sts:GetCallerIdentity",
            "cloudtrail:LookupEvents",
            "bedrock:InvokeModel",
        ]
    )
    return sorted(acts)


def _scp_resource(account: str, rng: random.Random) -> str:
    return rng.choice(
        [
            "*",
            f"arn:aws:ec2:{REGION}:{account}:instance/i-0abc",
            f"arn:aws:ec2:{REGION}:{account}:volume/vol-0abc",
            f"arn:aws:ec2:{REGION}:{account}:subnet/subnet-0abc",
            f"arn:aws:s3:::tfstate-{account}-{REGION}",
            f"arn:aws:s3:::tfstate-{account}-{REGION}/env/terraform.tfstate",
            f"arn:aws:s3:::data-{account}",
            f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            f"arn:aws:iam::{account}:role/VendingPlatformRole",
            f"arn:aws:iam::{account}:role/TeamCIRole",
            f"arn:aws:iam::{account}:role/organizationaccountaccessrole",
            f"arn:aws:cloudtrail:{REGION}:{account}:trail/org",
            f"arn:aws:kms:{REGION}:{account}:key/1234",
            f"arn:aws:kms:{REGION}:{account}:alias/terraform-state",
            f"arn:aws:kms:{REGION}:{account}:alias/other",
            f"arn:aws:sagemaker:{REGION}:{account}:endpoint-config/x",
            f"arn:aws:s3:::tfstate-{OUTSIDER}-{REGION}",
        ]
    )


def _scp_context(ctx: dict[str, Any], team: str, rng: random.Random) -> None:
    """Adds the condition keys the guardrails test, each present, absent, matching or not at random."""
    if rng.random() < 0.5:
        ctx["ec2:InstanceType"] = rng.choice([*EC2_TYPES, "c7g.large", "vt1.3xlarge", "f1.2xlarge", "G5.xlarge"])
    if rng.random() < 0.15:
        ctx["ec2:Attribute/InstanceType"] = rng.choice(EC2_TYPES)
    if rng.random() < 0.35:
        ctx["sagemaker:InstanceTypes"] = rng.sample(
            [*SAGEMAKER_TYPES, "ml.t3.medium", "ml.c5.xlarge"], rng.randint(1, 3)
        )
    if rng.random() < 0.1:
        ctx["autoscaling:InstanceTypes"] = rng.sample([*EC2_TYPES[:6], "c5.large"], rng.randint(1, 3))
    if rng.random() < 0.1:
        ctx["autoscaling:InstanceType"] = rng.choice(EC2_TYPES)
    if rng.random() < 0.05:
        ctx["ec2:ElasticGpuType"] = "eg1.medium"
    if rng.random() < 0.05:
        ctx["sagemaker:AcceleratorTypes"] = ["ml.eia2.medium"]
    for key in TAG_KEYS:
        r = rng.random()
        if r < 0.55:
            value = {"team": team or "team-x", "stage": "staging", "cost-center": "CC-1001"}[key]
            ctx[f"aws:RequestTag/{key}"] = value
        elif r < 0.65:
            ctx[f"aws:RequestTag/{key}"] = ""
        elif r < 0.75 and key == "team":
            ctx[f"aws:RequestTag/{key}"] = "team-other"
    if rng.random() < 0.3:
        ctx["aws:TagKeys"] = rng.sample([*TAG_KEYS, "owner", "Name", "TEAM"], rng.randint(1, 3))
    if rng.random() < 0.3:
        ctx["aws:ResourceTag/team"] = team or "team-x"
    if rng.random() < 0.2:
        ctx["kms:ResourceAliases"] = rng.sample(
            ["alias/terraform-state", "alias/other", "alias/Terraform-State"], rng.randint(1, 2)
        )
    if rng.random() < 0.1:
        ctx["iam:PermissionsBoundary"] = rng.choice(
            [f"arn:aws:iam::{ctx.get('aws:PrincipalAccount', '')}:policy/VendingCIBoundary", "arn:aws:iam::1:policy/x"]
        )


def scp_group(rng: random.Random, n: int) -> Iterator[Case]:
    """Principals of governed accounts under their account's SCP levels, identity policies and boundary."""
    actions = _scp_actions()
    for i in range(n):
        acct = accounts()[i % len(accounts())]
        who = rng.choice(["ci", "plan", "admin", "access", "platform", "root", "ci-session"])
        boundary = None
        if who in ("ci", "plan", "ci-session") and acct.intent.team_account:
            name = "TeamCIRole" if who != "plan" else "TeamCIPlanRole"
            p = role_principal(acct.role(name), "GitHubActions" if who == "ci-session" else None)
            identity = acct.inline[name]
            boundary = acct.boundary
        elif who == "root":
            p = principal(f"arn:aws:iam::{acct.id}:root", acct.id)
            identity = [FULL_ACCESS]
        else:
            name = {"access": "OrganizationAccountAccessRole", "platform": "VendingPlatformRole"}.get(who, "TeamAdmin")
            if who in ("access", "platform") and rng.random() < 0.1:
                name = name.lower()  # ARN conditions compare case-sensitively: not the exempted role
            p = role_principal(acct.role(name), rng.choice([None, "sso-session"]))
            identity = [FULL_ACCESS]
        r = rng.random()
        action = rng.choice(actions)
        action = _concrete(action, rng) if r < 0.85 else near_miss(_concrete(action, rng), rng)
        ctx = base_context(p, rng)
        _scp_context(ctx, acct.team, rng)
        resource = _scp_resource(acct.id, rng)
        # A KMS key always has a key policy, and whether IAM policies count depends on it: a key request carries its
        # key's policy (iam-simulate recognises keys by service and ARN, decide() by resource_kind).
        # Only KMS actions reach a key (another service's action on a key ARN is not a request AWS can receive).
        is_key = ":kms:" in resource and ":key/" in resource and action.split(":")[0].lower() == "kms"
        yield case(
            f"scp:{acct.intent.kind}:{who}",
            action,
            resource,
            p,
            ctx,
            identity=identity,
            boundary=boundary,
            scps=acct.levels,
            resource_policy=state_key_policy(acct.id) if is_key else None,
            resource_account=acct.id,
            resource_kind="kms" if is_key else "default",
        )


def boundary_group(rng: random.Random, n: int) -> Iterator[Case]:
    """Administrators of team accounts under a narrower boundary than VendingCIBoundary (which allows "*" and only
    denies): the plan role's read-only policy used as a boundary, so that a boundary's missing Allow decides."""
    teams = [a for a in accounts() if a.intent.team_account]
    for _ in range(n):
        acct = rng.choice(teams)
        p = role_principal(acct.role("TeamAdmin"), rng.choice([None, "admin"]))
        boundary = acct.inline["TeamCIPlanRole"][0]
        ctx = base_context(p, rng, rng.choice(["us-east-1", "us-west-2"]))
        r = rng.random()
        if r < 0.4:
            action = rng.choice(
                [*STATE_ACTIONS, "ec2:DescribeInstances", "ec2:RunInstances", "iam:GetRole", "s3:GetObject"]
            )
            res = rng.choice(["*", f"arn:aws:s3:::{acct.state_bucket}/x.tflock", f"arn:aws:s3:::{acct.state_bucket}"])
            yield case(
                "boundary:plan-as-boundary",
                action,
                res,
                p,
                ctx,
                identity=[FULL_ACCESS],
                boundary=boundary,
                scps=acct.levels,
                resource_account=acct.id,
            )
        elif r < 0.7:
            bucket = f"arn:aws:s3:::{acct.state_bucket}"
            action = rng.choice(STATE_ACTIONS)
            yield case(
                "boundary:bucket",
                action,
                bucket + ("/x.tflock" if action.endswith("Object") else ""),
                p,
                ctx,
                identity=[FULL_ACCESS],
                boundary=boundary,
                scps=acct.levels,
                resource_policy=bootstrap.tls_only_policy(acct.state_bucket),
                resource_account=acct.id,
            )
        else:
            key_arn = acct.key_arn if rng.random() < 0.8 else acct.key_arn.replace("key/0000", "key/9999")
            yield case(
                "boundary:key",
                rng.choice(KEY_ACTIONS),
                key_arn,
                p,
                ctx,
                identity=[FULL_ACCESS],
                boundary=boundary,
                scps=acct.levels,
                resource_policy=state_key_policy(acct.id),
                resource_account=acct.id,
                resource_kind="kms",
            )


def _resource_of(arn: str) -> str:
    return arn.replace("*", "x-1")


def function_group(rng: random.Random, n: int) -> Iterator[Case]:
    """The Lambda roles (management account: SCPs do not apply) against their grants, others' grants and near misses."""
    policies = function_policies()
    keys = sorted(policies)
    everything = [
        (a, r)
        for doc in policies.values()
        for s in doc["Statement"]
        for a in s["Action"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    for _ in range(n):
        key = rng.choice(keys)
        doc = policies[key]
        role = f"arn:aws:iam::{MANAGEMENT}:role/vending-{key}-role"
        p = role_principal(role, rng.choice([None, f"vending-{key}"]))
        r = rng.random()
        if r < 0.45:
            s = rng.choice(doc["Statement"])
            action = rng.choice(s["Action"])
            res = rng.choice([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        else:
            action, res = rng.choice(everything)
        if r > 0.85:
            action = near_miss(action, rng)
        res = _resource_of(res)
        if rng.random() < 0.1:
            res = res.replace(MANAGEMENT, OUTSIDER)
        parts = res.split(":")
        res_account = (parts[4] if len(parts) > 4 else "") or MANAGEMENT  # "*": actions without resource types
        if action.startswith("sts:AssumeRole") and rng.random() < 0.7:
            target = rng.choice(accounts()).id
            res = f"arn:aws:iam::{target}:role/OrganizationAccountAccessRole"
            yield case(
                f"function:assume:{key}",
                "sts:AssumeRole",
                res,
                p,
                base_context(p, rng, REGION),
                identity=[doc],
                resource_policy=_access_role_trust(),
                resource_account=target,
                resource_kind="trust",
            )
            continue
        # A key is decided under its key policy (the platform key's, as the stack renders it).
        on_key = action.startswith("kms:") and ":key/" in res
        yield case(
            f"function:{key}",
            action,
            res,
            p,
            base_context(p, rng, REGION),
            identity=[doc],
            resource_account=res_account if res_account.isdigit() else MANAGEMENT,
            **({"resource_policy": _platform_key_policy(), "resource_kind": "kms"} if on_key else {}),
        )


STATE_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:GetBucketPolicy",
    "s3:PutEncryptionConfiguration",
)
KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:Encrypt",
    "kms:ScheduleKeyDeletion",
    "kms:PutKeyPolicy",
    "kms:DescribeKey",
)


def _team_principal(acct: Account, rng: random.Random) -> tuple[str, dict[str, Any], list[Doc], Doc | None]:
    who = rng.choice(["ci", "plan", "plan", "admin", "access", "outsider", "outsider-admin"])
    if who in ("ci", "plan"):
        name = "TeamCIRole" if who == "ci" else "TeamCIPlanRole"
        return (
            who,
            role_principal(acct.role(name), rng.choice([None, "GitHubActions"])),
            acct.inline[name],
            acct.boundary,
        )
    if who == "admin":
        return who, role_principal(acct.role("TeamAdmin")), [FULL_ACCESS], None
    if who == "access":
        return who, role_principal(acct.role("OrganizationAccountAccessRole")), [FULL_ACCESS], None
    other = f"arn:aws:iam::{OUTSIDER}:role/Outsider"
    return who, role_principal(other), [FULL_ACCESS] if who == "outsider-admin" else [], None


def resource_group(rng: random.Random, n: int) -> Iterator[Case]:
    """State buckets and state keys of team accounts (with their account's SCPs for in-account callers)."""
    teams = [a for a in accounts() if a.intent.team_account]
    for _ in range(n):
        acct = rng.choice(teams)
        who, p, identity, boundary = _team_principal(acct, rng)
        scps = acct.levels if p["account"] == acct.id else None
        ctx = base_context(p, rng, REGION)
        if rng.random() < 0.5:
            bucket = acct.state_bucket if rng.random() < 0.85 else bootstrap.state_bucket_name(OUTSIDER, REGION)
            key = rng.choice(["env/terraform.tfstate", "env/terraform.tfstate.tflock", "x.tflock", ""])
            action = rng.choice(STATE_ACTIONS)
            obj = action.endswith("Object")
            res = f"arn:aws:s3:::{bucket}/{key or 'k'}" if obj else f"arn:aws:s3:::{bucket}"
            yield case(
                f"bucket:{who}",
                action,
                res,
                p,
                ctx,
                identity=identity,
                boundary=boundary,
                scps=scps,
                resource_policy=bootstrap.tls_only_policy(acct.state_bucket),
                resource_account=acct.id,
            )
        else:
            action = rng.choice(KEY_ACTIONS)
            key_arn = acct.key_arn if rng.random() < 0.85 else acct.key_arn.replace("key/0000", "key/9999")
            if rng.random() < 0.3:
                ctx["kms:ResourceAliases"] = ["alias/terraform-state"]
            yield case(
                f"key:{who}",
                action,
                key_arn,
                p,
                ctx,
                identity=identity,
                boundary=boundary,
                scps=scps,
                resource_policy=state_key_policy(acct.id),
                resource_account=acct.id,
                resource_kind="kms",
            )


def platform_resource_group(rng: random.Random, n: int) -> Iterator[Case]:
    """The platform's key and topic: service principals (no SCPs apply to them), function roles, outsiders."""
    policies = function_policies()
    for _ in range(n):
        who = rng.choice(["events", "cloudwatch", "lambda", "function", "outsider"])
        if who in ("events", "cloudwatch", "lambda"):
            svc = f"{who}.amazonaws.com"
            p = principal(svc, "", service=svc)
            identity: list[Doc] = []
        elif who == "function":
            key = rng.choice(sorted(policies))
            p = role_principal(f"arn:aws:iam::{MANAGEMENT}:role/vending-{key}-role")
            identity = [policies[key], FULL_ACCESS][rng.random() < 0.3 :][:1]
        else:
            p = role_principal(f"arn:aws:iam::{OUTSIDER}:role/Outsider")
            identity = [FULL_ACCESS]
        ctx = base_context(p, rng, REGION)
        if p["service"]:
            r = rng.random()
            if r < 0.6:
                ctx["aws:SourceAccount"] = MANAGEMENT
            elif r < 0.85:
                ctx["aws:SourceAccount"] = OUTSIDER
        if rng.random() < 0.5:
            action = rng.choice(["sns:Publish", "sns:Publish", "sns:Subscribe", "sns:SetTopicAttributes"])
            yield case(
                f"topic:{who}",
                action,
                TOPIC_ARN if rng.random() < 0.9 else TOPIC_ARN + "-other",
                p,
                ctx,
                identity=identity,
                resource_policy=_topic_policy(),
                resource_account=MANAGEMENT,
            )
        else:
            yield case(
                f"platform-key:{who}",
                rng.choice(["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:CreateGrant"]),
                PLATFORM_KEY_ARN,
                p,
                ctx,
                identity=identity,
                resource_policy=_platform_key_policy(),
                resource_account=MANAGEMENT,
                resource_kind="kms",
            )


def trust_group(rng: random.Random, n: int) -> Iterator[Case]:
    """GitHub's OIDC provider assuming the CI roles: the workflow's jobs from the right and the wrong places."""
    teams = [a for a in accounts() if a.intent.team_account]
    for _ in range(n):
        acct = rng.choice(teams)
        name = rng.choice(["TeamCIRole", "TeamCIPlanRole"])
        right = rng.random() < 0.6  # the job's own environment and ref; otherwise anything
        own_suffix = "" if name == "TeamCIRole" else "-plan"
        env_suffix = own_suffix if right else rng.choice(["", "-plan", "-prod", ""])
        stage = acct.stage if rng.random() < 0.85 else "production"
        repo = acct.repository if rng.random() < 0.85 else "example-org/attacker-infra"
        refs = ["refs/heads/main", "refs/pull/42/merge", "refs/heads/feature", "refs/tags/v1"]
        ref = rng.choice(refs[: 1 if name == "TeamCIRole" else 2] if right else refs)
        sub = f"repo:{repo}:environment:{acct.team}-{stage}{env_suffix}:job_workflow_ref:{job_workflow_ref(repo, ref)}"
        r = rng.random()
        if r < 0.7:
            provider = (
                acct.provider_arn if rng.random() < 0.9 else f"arn:aws:iam::{OUTSIDER}:oidc-provider/{GITHUB_OIDC_HOST}"
            )
            p = principal(provider, provider.split(":")[4], federated=provider)
            ctx: dict[str, Any] = {f"{GITHUB_OIDC_HOST}:sub": sub}
            if rng.random() < 0.9:
                ctx[f"{GITHUB_OIDC_HOST}:aud"] = rng.choice(
                    ["sts.amazonaws.com", "sts.amazonaws.com", "https://github.com/example-org"]
                )
            action = "sts:AssumeRoleWithWebIdentity" if rng.random() < 0.9 else "sts:AssumeRole"
            identity: list[Doc] = []
            scps = None
        else:
            # An IAM principal trying the role: same account, other account; the trust policy names neither.
            p = rng.choice(
                [role_principal(acct.role("TeamAdmin")), role_principal(f"arn:aws:iam::{OUTSIDER}:role/Outsider")]
            )
            ctx = base_context(p, rng, REGION)
            action = rng.choice(["sts:AssumeRole", "sts:TagSession"])
            identity = [FULL_ACCESS]
            scps = acct.levels if p["account"] == acct.id else None
        yield case(
            f"trust:{name}:{'federated' if p['federated'] else 'iam'}",
            action,
            acct.role(name),
            p,
            ctx,
            identity=identity,
            scps=scps,
            resource_policy=acct.trust[name],
            resource_account=acct.id,
            resource_kind="trust",
        )


def rcp_session_group(rng: random.Random, n: int) -> Iterator[Case]:
    """RCPs (AWS's example) on team accounts' state resources, and CI sessions scoped down by a session policy."""
    teams = [a for a in accounts() if a.intent.team_account]
    for i in range(n):
        acct = rng.choice(teams)
        who, p, identity, boundary = _team_principal(acct, rng)
        ctx = base_context(p, rng, REGION)
        scps = acct.levels if p["account"] == acct.id else None
        session = None
        if i % 2 and who in ("ci", "plan", "admin", "access"):
            # Sessions get the plan role's read-only policy (or nothing but s3 reads) as their session policy. No
            # resource policy here names a session ARN (see the module docstring).
            session = [
                rng.choice(
                    [
                        acct.inline["TeamCIPlanRole"][0],
                        {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
                        },
                    ]
                )
            ]
            if p["session_arn"] is None:
                p = role_principal(p["arn"], "scoped")
                ctx = base_context(p, rng, REGION)
        if rng.random() < 0.5:
            action = rng.choice(STATE_ACTIONS)
            res = f"arn:aws:s3:::{acct.state_bucket}" + ("/x.tflock" if action.endswith("Object") else "")
            policy, kind = bootstrap.tls_only_policy(acct.state_bucket), "default"
        else:
            action = rng.choice(KEY_ACTIONS)
            res, policy, kind = acct.key_arn, state_key_policy(acct.id), "kms"
        r = rng.random()
        rcps = [[RCP_FULL_ACCESS], [RCP_FULL_ACCESS, EXAMPLE_RCP], [RCP_FULL_ACCESS]] if r < 0.6 else None
        if i % 8 == 0:
            # A level without RCPFullAWSAccess (AWS does not let one detach it): checks the every-level-allows rule.
            rcps = [[RCP_FULL_ACCESS], [EXAMPLE_RCP]]
        elif i % 8 == 4:
            rcps = [[RCP_FULL_ACCESS], [RCP_FULL_ACCESS], [S3_READ_RCP]]
        yield case(
            f"{'session' if session else 'rcp'}:{who}",
            action,
            res,
            p,
            ctx,
            identity=identity,
            boundary=boundary,
            session=session,
            scps=scps,
            rcps=rcps,
            resource_policy=policy,
            resource_account=acct.id,
            resource_kind=kind,
        )


def _bucket_grant(bucket: str, principal_value: Any, action: str, not_principal: bool = False) -> Doc:
    """The state bucket's real policy plus one statement: an Allow to `principal_value`, or a NotPrincipal Deny."""
    doc = bootstrap.tls_only_policy(bucket)
    arn = f"arn:aws:s3:::{bucket}"
    extra: Doc = (
        {
            "Sid": "DenyAllBut",
            "Effect": "Deny",
            "NotPrincipal": principal_value,
            "Action": action,
            "Resource": f"{arn}/*",
        }
        if not_principal
        else {"Sid": "Grant", "Effect": "Allow", "Principal": principal_value, "Action": action, "Resource": f"{arn}/*"}
    )
    return {**doc, "Statement": [*doc["Statement"], extra]}


def grant_group(rng: random.Random, n: int) -> Iterator[Case]:
    """Bucket-policy grants naming the role, the session, everyone or the account, to callers with and without a
    (narrow) boundary or a session policy, in and out of the account: where boundaries and session policies limit a
    resource-policy grant and where they do not. The grants are synthetic (the project's buckets grant no one);
    the rest of each case is real. No session policy is combined with a grant naming the session (module docstring)."""
    teams = [a for a in accounts() if a.intent.team_account]
    for _ in range(n):
        acct = rng.choice(teams)
        caller = rng.choice([acct, acct, None])  # None: another account's role
        role = caller.role("TeamAdmin") if caller else f"arn:aws:iam::{OUTSIDER}:role/Outsider"
        session_name = rng.choice([None, "s1"])
        p = role_principal(role, session_name)
        grantee_kind = rng.choice(["role", "session", "other-session", "star", "account", "other-role"])
        grantee = {
            "role": {"AWS": role},
            "session": {"AWS": p["session_arn"] or role},
            "other-session": {"AWS": role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/") + "/other"},
            "star": {"AWS": "*"} if rng.random() < 0.5 else "*",
            "account": {"AWS": f"arn:aws:iam::{p['account']}:root"},
            "other-role": {"AWS": acct.role("TeamCIRole")},
        }[grantee_kind]
        action = rng.choice(["s3:GetObject", "s3:PutObject"])
        not_principal = rng.random() < 0.15
        policy = _bucket_grant(acct.state_bucket, grantee, rng.choice([action, "s3:*", "s3:Get*"]), not_principal)
        identity = rng.choice([[], [FULL_ACCESS], [acct.inline["TeamCIPlanRole"][0]]])
        boundary = rng.choice([None, None, acct.inline["TeamCIPlanRole"][0], acct.boundary])
        session = None
        if p["session_arn"] and grantee_kind not in ("session", "star") and rng.random() < 0.3:
            session = [
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
                }
            ]
        ctx = base_context(p, rng, REGION)
        yield case(
            f"grant:{grantee_kind}{':not-principal' if not_principal else ''}",
            action,
            f"arn:aws:s3:::{acct.state_bucket}/" + rng.choice(["x.tflock", "env/terraform.tfstate"]),
            p,
            ctx,
            identity=identity,
            boundary=boundary,
            session=session,
            scps=acct.levels if caller else None,
            resource_policy=policy,
            resource_account=acct.id,
        )


def build(seed: int = SEED) -> list[Case]:
    rng = random.Random(seed)
    groups = [
        scp_group(rng, 6000),
        function_group(rng, 2000),
        resource_group(rng, 2000),
        platform_resource_group(rng, 800),
        trust_group(rng, 800),
        rcp_session_group(rng, 1000),
        boundary_group(rng, 600),
        grant_group(rng, 1000),
    ]
    cases = [c for g in groups for c in g]
    for i, c in enumerate(cases):
        c["id"] = i
    return cases


def oracle_principal(p: dict[str, Any]) -> str:
    """The caller as iam-simulate knows it: the session, the web-identity provider, the service or the ARN."""
    return str(p["session_arn"] or p["federated"] or p["service"] or p["arn"])


def oracle_input(cases: list[Case]) -> dict[str, Any]:
    """The corpus as decide.mjs reads it: every distinct document once (the SCP levels alone would otherwise repeat
    ~150 MB of JSON), cases naming documents by index."""
    documents: list[Doc] = []
    index: dict[str, int] = {}
    seen: dict[int, int] = {}  # id(document) -> index; most documents are shared objects

    def ref(doc: Doc) -> int:
        if id(doc) not in seen:
            text = json.dumps(doc, sort_keys=True)
            if text not in index:
                index[text] = len(documents)
                documents.append(doc)
            seen[id(doc)] = index[text]
        return seen[id(doc)]

    def refs(docs: list[Doc] | None) -> list[int] | None:
        return None if docs is None else [ref(d) for d in docs]

    out = []
    for c in cases:
        p = c["policies"]
        out.append(
            {
                "id": c["id"],
                "request": {**c["request"], "principal": oracle_principal(c["request"]["principal"])},
                "policies": {
                    "identity": refs(p["identity"]),
                    "boundary": None if p["boundary"] is None else ref(p["boundary"]),
                    "session": refs(p["session"]),
                    "scps": None if p["scps"] is None else [refs(level) for level in p["scps"]],
                    "rcps": None if p["rcps"] is None else [refs(level) for level in p["rcps"]],
                    "resource": None if p["resource"] is None else ref(p["resource"]),
                    "resource_account": p["resource_account"],
                },
            }
        )
    return {"documents": documents, "cases": out}
