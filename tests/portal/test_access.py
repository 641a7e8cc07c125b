"""Who sees what (vending.api.access) and the layout's `leads:` (vending.layout), without an emulator; the timeline
read from an execution history (vending.api.reads.execution_timeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from vending.api.access import Role, access_for
from vending.aws.identity import principal_from_arn
from vending.exceptions import NotPermitted
from vending.layout import TeamSpec, cached_layout
from vending.settings import Settings

ACCOUNT = "123456789012"


def _access(arn: str, account: str = ACCOUNT) -> Any:
    return access_for(principal_from_arn(arn), account, cached_layout(), Settings.from_env())


def test_access_admin_approver_lead_and_anyone_else() -> None:
    admin = _access(f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformAdmin/alice")
    approver = _access(f"arn:aws:sts::{ACCOUNT}:assumed-role/PlatformApprover/carol")
    lead = _access(f"arn:aws:sts::{ACCOUNT}:assumed-role/TeamMlopsLead/dana")
    stranger = _access(f"arn:aws:sts::{ACCOUNT}:assumed-role/TeamAdmin/eve")
    assert (admin.role, approver.role, lead.role, stranger.role) == (Role.ADMIN, Role.APPROVER, Role.LEAD, Role.NONE)
    # THEN the lead sees and acts on its team only, and never approves, resumes or decommissions
    assert lead.teams == frozenset({"team-mlops"}) and lead.can_see("team-mlops") and not lead.can_see("team-backend")
    lead.require_act("team-mlops", "file a change")
    for refused in (
        lambda: lead.require_team("team-backend"),
        lambda: lead.require_act("team-backend", "submit"),
        lead.require_approver,
        lambda: lead.require_admin("resume"),
    ):
        with pytest.raises(NotPermitted):
            refused()
    # AND the approver sees all and approves but files nothing
    approver.require_team("team-backend")
    approver.require_approver()
    with pytest.raises(NotPermitted):
        approver.require_act("team-backend", "file a change")
    # AND a role of the same name in another account is nobody here
    assert _access("arn:aws:sts::999999999999:assumed-role/PlatformAdmin/x").role == Role.NONE
    assert _access("arn:aws:sts::999999999999:assumed-role/TeamMlopsLead/x").role == Role.NONE


def test_access_the_hosted_portals_roles_are_the_admin_and_the_approver() -> None:
    # GIVEN the sessions the identity pool hands out (every one named CognitoIdentityCredentials)
    admin = _access(f"arn:aws:sts::{ACCOUNT}:assumed-role/PortalAdmin/CognitoIdentityCredentials")
    approver = _access(f"arn:aws:sts::{ACCOUNT}:assumed-role/PortalApprover/CognitoIdentityCredentials")
    # THEN they are the admin and the approver, and only in the API's own account
    assert (admin.role, approver.role) == (Role.ADMIN, Role.APPROVER)
    with pytest.raises(NotPermitted):
        approver.require_act("team-backend", "file a change")
    assert _access("arn:aws:sts::999999999999:assumed-role/PortalAdmin/CognitoIdentityCredentials").role == Role.NONE
    assert _access(f"arn:aws:sts::{ACCOUNT}:assumed-role/PortalAdminX/CognitoIdentityCredentials").role == Role.NONE


def test_access_a_lead_given_as_an_arn_with_a_path_matches_its_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    layout = cached_layout()
    team = layout.teams[0].model_copy(update={"leads": (f"arn:aws:iam::{ACCOUNT}:role/people/Lead-A",)})
    changed = layout.model_copy(update={"teams": (team, *layout.teams[1:])})
    access = access_for(
        principal_from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/Lead-A/s"), ACCOUNT, changed, Settings.from_env()
    )
    assert access.role == Role.LEAD and access.teams == frozenset({team.slug})


@pytest.mark.parametrize(
    "leads",
    [("has space",), ("x" * 65,), ("arn:aws:iam::12:role/Short",), ("TeamLead", "teamlead"), ("arn:aws:sts::1:x",)],
)
def test_layout_leads_refuses_what_is_not_a_role_name_or_arn(leads: tuple[str, ...]) -> None:
    base = cached_layout().teams[0].model_dump()
    with pytest.raises(ValidationError) as refused:
        TeamSpec.model_validate({**base, "leads": leads})
    assert "leads" in str(refused.value)


class _Sfn:
    """describe_execution and the history paginator of one failed execution."""

    def __init__(self, events: list[dict[str, Any]], described: dict[str, Any]) -> None:
        self.events, self.described = events, described

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return self.described

    def get_paginator(self, name: str) -> Any:
        events = self.events

        class _Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"events": events}]

        return _Pages()


def test_timeline_steps_durations_retries_and_the_failure_cause() -> None:
    from vending.api.reads import execution_timeline

    t0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)

    def at(s: float) -> datetime:
        return t0 + timedelta(seconds=s)

    events = [
        {"type": "TaskStateEntered", "timestamp": at(0), "stateEnteredEventDetails": {"name": "CreateAccount"}},
        {
            "type": "LambdaFunctionFailed",
            "timestamp": at(1),
            "lambdaFunctionFailedEventDetails": {"error": "Throttled"},
        },
        {"type": "TaskStateExited", "timestamp": at(2.5), "stateExitedEventDetails": {"name": "CreateAccount"}},
        {"type": "TaskStateEntered", "timestamp": at(3), "stateEnteredEventDetails": {"name": "Bootstrap"}},
        {
            "type": "ExecutionFailed",
            "timestamp": at(4),
            "executionFailedEventDetails": {"error": "BootstrapFailed", "cause": "no bucket"},
        },
    ]
    described = {"name": "vend-x-a1", "status": "FAILED", "startDate": at(0), "stopDate": at(4)}
    found = execution_timeline(_Sfn(events, described), "arn")
    assert found is not None
    create, bootstrap = found["steps"]
    assert (create["outcome"], create["seconds"], create["errors"]) == ("done", 2.5, ["Throttled"])
    assert (bootstrap["outcome"], bootstrap["errors"]) == ("failed", ["BootstrapFailed"])
    assert found["failure"] == {"error": "BootstrapFailed", "cause": "no bucket"} and found["seconds"] == 4.0


@pytest.mark.parametrize("path", ["/me", "/findings", "/spend", "/changes", "/requests/team-mlops-staging/timeline"])
def test_read_routes_refuse_an_unsigned_call(path: str) -> None:
    import json

    from vending.api.routes import resolve
    from vending.portal.app import _LambdaContext, api_event

    event = api_event("GET", path, caller="", account=ACCOUNT)
    del event["requestContext"]["identity"]["userArn"]
    answer = resolve(event, _LambdaContext())
    assert (answer["statusCode"], json.loads(answer["body"])["code"]) == (403, "NotSigned")
