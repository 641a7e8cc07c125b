"""Bedrock model-invocation logging, part of the protected baseline (issue 24 item 1): Bootstrap turns it on in each of
the account's regions and converges it back, the audit reports it off or pointing elsewhere (read inside the account
through its access role), and the SCPs keep it, its role and its log group from team roles (scps.evaluate over the
audit's probes, each with its negative control: the statement removed, the probe passes)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from scps.render import render
from tests.guardrails.conftest import record_for, vend_with_record
from vending.exceptions import AccessRoleNotReady
from vending.guardrails.audit import audit_organization, member_sessions
from vending.guardrails.effective import PROBES, allowed, intended_levels
from vending.guardrails.intent import build_intent
from vending.guardrails.reconcile import reconcile_organization
from vending.invocation_logging import (
    LOG_GROUP,
    RETENTION_DAYS,
    ROLE_NAME,
    ensure_invocation_logging,
    intended_config,
    role_arn,
    trust_policy,
)
from vending.layout import Layout

REGIONS = ("us-east-1", "us-west-2")


@pytest.fixture
def vended(org: Any, layout: Layout) -> tuple[str, Any, Any]:
    """A vended team-backend account with its guardrails, its record in two regions, and a session inside it."""
    account, record = vend_with_record(org, layout, "team-backend", "staging")
    record = record_for(layout, "team-backend", "staging", account, regions=list(REGIONS))
    reconcile_organization(org, layout, dry_run=False, records=[record])
    inside = member_sessions(boto3.client("sts", region_name="us-east-1"), layout.organization.access_role_name)
    return account, record, inside(account)


def _findings(org: Any, layout: Layout, record: Any) -> list[tuple[str, str]]:
    sessions = member_sessions(boto3.client("sts", region_name="us-east-1"), layout.organization.access_role_name)
    report = audit_organization(org, layout, records=[record], sessions_for=sessions)
    return [(f.type, f.detail) for f in report.findings if f.type.startswith("invocation_logging")]


def test_invocation_logging_on_in_each_region_and_idempotent(vended: tuple[str, Any, Any]) -> None:
    # GIVEN a vended account WHEN its invocation logging is ensured (as Bootstrap does)
    account, _, session = vended
    changes = ensure_invocation_logging(session, account, REGIONS)
    # THEN every region logs every modality to the account's own log group, through the role only Bedrock assumes
    for region in REGIONS:
        config = session.client("bedrock", region_name=region).get_model_invocation_logging_configuration()
        assert config["loggingConfig"] == intended_config(account)
        assert config["loggingConfig"]["cloudWatchConfig"] == {"logGroupName": LOG_GROUP, "roleArn": role_arn(account)}
        groups = session.client("logs", region_name=region).describe_log_groups(logGroupNamePrefix=LOG_GROUP)
        assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups["logGroups"]] == [
            (LOG_GROUP, RETENTION_DAYS)
        ]
    trust = session.client("iam").get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    assert trust == trust_policy(account)
    assert trust["Statement"][0]["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert len([c for c in changes if c.startswith("put_model_invocation_logging_configuration")]) == len(REGIONS)
    # AND a second run changes nothing
    assert ensure_invocation_logging(session, account, REGIONS) == []


def test_invocation_logging_changed_by_hand_is_converged_back(vended: tuple[str, Any, Any]) -> None:
    # GIVEN logging on, then in us-west-2 repointed to another group without images, and in us-east-1 deleted
    account, _, session = vended
    ensure_invocation_logging(session, account, REGIONS)
    west = session.client("bedrock", region_name="us-west-2")
    west.put_model_invocation_logging_configuration(
        loggingConfig={
            "cloudWatchConfig": {"logGroupName": "elsewhere", "roleArn": role_arn(account)},
            "textDataDeliveryEnabled": True,
        }
    )
    session.client("bedrock", region_name="us-east-1").delete_model_invocation_logging_configuration()
    session.client("logs", region_name="us-west-2").put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=1)
    # WHEN Bootstrap (or a change) runs again
    changes = ensure_invocation_logging(session, account, REGIONS)
    # THEN each region is back as intended, and the changes say what was wrong
    for region in REGIONS:
        config = session.client("bedrock", region_name=region).get_model_invocation_logging_configuration()
        assert config["loggingConfig"] == intended_config(account)
    assert any("(us-east-1): off" in c for c in changes)
    assert any("(us-west-2)" in c and "'elsewhere'" in c and "imageDataDeliveryEnabled" in c for c in changes)
    assert any(f"put_retention_policy {LOG_GROUP} 1 -> {RETENTION_DAYS}" == c for c in changes)


def test_audit_invocation_logging_clean_then_off_and_repointed_by_hand(
    org: Any, layout: Layout, vended: tuple[str, Any, Any]
) -> None:
    # GIVEN an account whose logging Bootstrap turned on: the audit finds nothing and says it checked the account
    account, record, session = vended
    ensure_invocation_logging(session, account, REGIONS)
    sessions = member_sessions(boto3.client("sts", region_name="us-east-1"), layout.organization.access_role_name)
    report = audit_organization(org, layout, records=[record], sessions_for=sessions)
    assert report.findings == [] and report.invocation_logging == {"checked": 1, "findings": 0}
    # WHEN logging is turned off by hand in us-west-2 and repointed to another log group in us-east-1
    session.client("bedrock", region_name="us-west-2").delete_model_invocation_logging_configuration()
    session.client("bedrock", region_name="us-east-1").put_model_invocation_logging_configuration(
        loggingConfig={**intended_config(account), "cloudWatchConfig": {"logGroupName": "x", "roleArn": "r"}}
    )
    # THEN the audit names each, with its region and the request
    assert sorted(_findings(org, layout, record)) == [
        (
            "invocation_logging_drift",
            f"us-east-1: cloudWatchConfig.logGroupName is 'x', intended '{LOG_GROUP}' (team-backend-staging)",
        ),
        (
            "invocation_logging_drift",
            f"us-east-1: cloudWatchConfig.roleArn is 'r', intended '{role_arn(account)}' (team-backend-staging)",
        ),
        ("invocation_logging_off", "us-west-2: model-invocation logging is off (team-backend-staging)"),
    ]
    # AND Bootstrap's convergence clears them (what `vend request resume` / the next change runs)
    ensure_invocation_logging(session, account, REGIONS)
    assert _findings(org, layout, record) == []


def test_audit_invocation_logging_log_group_and_role_tampered(
    org: Any, layout: Layout, vended: tuple[str, Any, Any]
) -> None:
    # GIVEN logging on, WHEN the log group is deleted in us-west-2 and the role's policy is emptied of its grant
    account, record, session = vended
    ensure_invocation_logging(session, account, REGIONS)
    session.client("logs", region_name="us-west-2").delete_log_group(logGroupName=LOG_GROUP)
    nothing = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    session.client("iam").put_role_policy(
        RoleName=ROLE_NAME, PolicyName="WriteInvocationLogs", PolicyDocument=json.dumps(nothing)
    )
    # THEN both are drift, though the configuration itself still reads as intended
    assert sorted(_findings(org, layout, record)) == [
        (
            "invocation_logging_drift",
            f"role {ROLE_NAME}'s policy WriteInvocationLogs differs from the intended one (team-backend-staging)",
        ),
        ("invocation_logging_drift", f"us-west-2: log group {LOG_GROUP} is missing (team-backend-staging)"),
    ]


def test_audit_invocation_logging_never_set_up_and_unreadable(org: Any, layout: Layout) -> None:
    # GIVEN a READY account whose Bootstrap never set logging up (an account vended before this existed)
    account, record = vend_with_record(org, layout, "team-frontend", "staging")
    reconcile_organization(org, layout, dry_run=False, records=[record])
    found = _findings(org, layout, record)
    # THEN each of its regions is off, and the role is missing
    regions = record.request["regions"]
    assert [d for t, d in found if t == "invocation_logging_off"] == [
        f"{r}: model-invocation logging is off (team-frontend-staging)" for r in regions
    ]
    assert f"role {ROLE_NAME} or its policy WriteInvocationLogs is missing (team-frontend-staging)" in [
        d for t, d in found if t == "invocation_logging_drift"
    ]

    # AND an account the audit cannot enter is a finding too: an unchecked log is not a clean one
    def denied(account_id: str) -> Any:
        raise AccessRoleNotReady(f"cannot assume arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole")

    report = audit_organization(org, layout, records=[record], sessions_for=denied)
    assert [(f.type, f.target) for f in report.findings] == [("invocation_logging_unreadable", f"account:{account}")]
    assert report.invocation_logging == {"checked": 0, "findings": 1}


# ---- the SCPs: the audit's probes through scps.evaluate, with the statement removed as the negative control ----

LOGGING_PROBES = {
    "bedrock invocation logging off": "ProtectActivityLogs",
    "bedrock invocation logging repointed": "ProtectActivityLogs",
    "invocation logging role rewritten": "ProtectPlatformRoles",
    "invocation log group deleted": "ProtectInvocationLogGroup",
}


def _levels(layout: Layout, team: str, stage: str, account: str, drop: str = "") -> list[list[Any]]:
    intent = build_intent(layout, [record_for(layout, team, stage, account)]).get(account)
    assert intent is not None
    levels = intended_levels(render(layout), intent)
    return [[{**d, "Statement": [s for s in d["Statement"] if s.get("Sid") != drop]} for d in docs] for docs in levels]


@pytest.mark.parametrize("team", ["team-frontend", "team-backend", "team-mlops"])
@pytest.mark.parametrize("name", sorted(LOGGING_PROBES))
def test_invocation_logging_probe_denied_to_team_roles_and_only_by_its_statement(
    layout: Layout, team: str, name: str
) -> None:
    account = "222233334444"
    probe = next(p for p in PROBES if p.name == name)
    # GIVEN the SCPs the layout puts on a team account of each tier: a team role's probe is denied
    assert not allowed(_levels(layout, team, "staging", account), probe, account, team)
    # AND the platform's role is not (the same exemption as every protected-baseline statement)
    platform = probe.__class__(
        probe.name,
        probe.action,
        probe.resource,
        tuple(
            (k, f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole" if k == "aws:PrincipalArn" else v)
            for k, v in probe.context
        ),
    )
    assert allowed(_levels(layout, team, "staging", account), platform, account, team)
    # AND the negative control: without its statement the same probe passes (nothing else was denying it)
    assert allowed(_levels(layout, team, "staging", account, drop=LOGGING_PROBES[name]), probe, account, team)


def test_invocation_logging_statements_fit_every_target(layout: Layout) -> None:
    # The render's own size and count checks pass for every target (render raises otherwise), with room left
    rendered = render(layout)
    for budget in rendered.budgets(layout):
        assert budget.slots_left >= 0
        assert all(chars <= rendered.max_policy_chars for chars in budget.policy_chars.values()), budget.target
    # AND the Workloads OU keeps the free slot reconcile needs to replace a policy (layout.yaml)
    assert rendered.ou_budget("Workloads").slots_left >= 1


class _RefusingBedrock:
    """Bedrock answering PutModelInvocationLoggingConfiguration as it does while a new role has not propagated."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def get_model_invocation_logging_configuration(self) -> Any:
        return self.real.get_model_invocation_logging_configuration()

    def put_model_invocation_logging_configuration(self, **_: Any) -> None:
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "ValidationException", "Message": "Failed to validate permissions for log group"}}
        raise ClientError(error, "PutModelInvocationLoggingConfiguration")  # type: ignore[arg-type]


class _Session:
    def __init__(self, real: Any) -> None:
        self.real = real

    def client(self, name: str, **kw: Any) -> Any:
        made = self.real.client(name, **kw)
        return _RefusingBedrock(made) if name == "bedrock" else made


def test_invocation_logging_refused_right_after_the_role_is_made_is_retryable_later_terminal(
    vended: tuple[str, Any, Any],
) -> None:
    from botocore.exceptions import ClientError

    from vending.exceptions import AwsTransient

    account, _, session = vended
    # GIVEN Bedrock refusing the role: WHEN the role was made by this very run THEN the step's retry is asked for
    with pytest.raises(AwsTransient, match="not usable by Bedrock yet"):
        ensure_invocation_logging(_Session(session), account, ["us-east-1"])
    # AND WHEN the role already existed (a refusal that time will not fix) THEN the error stays terminal
    with pytest.raises(ClientError):
        ensure_invocation_logging(_Session(session), account, ["us-east-1"])
