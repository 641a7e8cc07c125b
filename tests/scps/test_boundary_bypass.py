"""Attacks by the CI role (and any role it creates) on the platform's anchors, decided by scps.evaluate.decide with the
permissions boundary alone: the SCP baseline protects the same anchors (tests/scps/test_bypass.py), so each layer is
tested without the other, and each case names the boundary statement that stops it (deleted, the request passes)."""

from __future__ import annotations

from typing import Any

import pytest

from scps.evaluate import BOUNDARY, Policies, Request, decide
from vending.bootstrap import BOUNDARY_NAME, boundary_policy
from vending.settings import STATE_KEY_ALIAS
from vending.trust import APPLY_ROLE_NAME, PLAN_ROLE_NAME

ACCOUNT = "111122223333"
BUCKET = f"tfstate-{ACCOUNT}-us-east-1"
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{APPLY_ROLE_NAME}"
MADE_BY_CI = f"arn:aws:iam::{ACCOUNT}:role/app-role"  # a role the CI role created: it carries the same boundary
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{BOUNDARY_NAME}"
OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

CASES: list[tuple[str, str, dict[str, Any], str]] = [
    *[
        (action, f"arn:aws:iam::{ACCOUNT}:role/{role}", ctx, "ProtectCIRoles")
        for role in (APPLY_ROLE_NAME, PLAN_ROLE_NAME)
        for action, ctx in (
            ("iam:UpdateAssumeRolePolicy", {}),
            ("iam:AttachRolePolicy", {"iam:PolicyARN": "arn:aws:iam::aws:policy/PowerUserAccess"}),
            ("iam:PutRolePolicy", {}),
            ("iam:DeleteRolePolicy", {}),
            ("iam:DetachRolePolicy", {}),
            ("iam:PutRolePermissionsBoundary", {"iam:PermissionsBoundary": BOUNDARY_ARN}),
            ("iam:DeleteRole", {}),
        )
    ],
    *[
        (action, BOUNDARY_ARN, {}, "ProtectBoundary")
        for action in (
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:DeletePolicy",
        )
    ],
    *[
        (action, OIDC, {}, "ProtectGithubOidcProvider")
        for action in (
            "iam:DeleteOpenIDConnectProvider",
            "iam:UpdateOpenIDConnectProviderThumbprint",
            "iam:AddClientIDToOpenIDConnectProvider",
            "iam:RemoveClientIDFromOpenIDConnectProvider",
        )
    ],
    ("s3:PutBucketPolicy", f"arn:aws:s3:::{BUCKET}", {}, "ProtectStateBucket"),
    ("s3:PutLifecycleConfiguration", f"arn:aws:s3:::{BUCKET}", {}, "ProtectStateBucket"),
    ("s3:DeleteObjectVersion", f"arn:aws:s3:::{BUCKET}/team/staging/stack/terraform.tfstate", {}, "ProtectStateBucket"),
    (
        "kms:ScheduleKeyDeletion",
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k-1",
        {"kms:ResourceAliases": [STATE_KEY_ALIAS]},
        "ProtectStateKey",
    ),
    ("kms:DeleteAlias", f"arn:aws:kms:us-east-1:{ACCOUNT}:{STATE_KEY_ALIAS}", {}, "ProtectStateKeyAlias"),
    # a role the team makes must carry the boundary: none, or another policy as its boundary
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/escape", {}, "NewRolesCarryTheBoundary"),
    (
        "iam:CreateRole",
        f"arn:aws:iam::{ACCOUNT}:role/escape",
        {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/Open"},
        "NewRolesCarryTheBoundary",
    ),
    (
        "iam:PutRolePermissionsBoundary",
        f"arn:aws:iam::{ACCOUNT}:role/app-role",
        {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/Open"},
        "NewRolesCarryTheBoundary",
    ),
    ("iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/app-role", {}, "NoBoundaryRemoval"),
    ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/u", {}, "NoLongLivedCredentials"),
]

ORDINARY: list[tuple[str, str, dict[str, Any]]] = [
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/app-role", {"iam:PermissionsBoundary": BOUNDARY_ARN}),
    ("iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/app-role", {}),
    ("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/app-role", {}),
    ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/app-policy", {}),
    (
        "iam:CreateOpenIDConnectProvider",
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X",
        {},
    ),
    ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/team/staging/stack/terraform.tfstate", {}),
    ("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/team/staging/stack/terraform.tfstate.tflock", {}),
    ("kms:ScheduleKeyDeletion", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k-2", {"kms:ResourceAliases": ["alias/app"]}),
]


def _decide(principal: str, action: str, resource: str, context: dict[str, Any], drop: str | None = None) -> Any:
    boundary = boundary_policy(ACCOUNT, BUCKET)
    boundary["Statement"] = [s for s in boundary["Statement"] if s["Sid"] != drop]
    request = Request(action, resource, principal, {"aws:RequestedRegion": "us-east-1", **context})
    return decide(request, Policies(identity=[ALLOW_ALL], boundary=boundary))


@pytest.mark.parametrize("principal", [CI_ROLE, MADE_BY_CI])
@pytest.mark.parametrize(
    ("action", "resource", "context", "sid"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_boundary_bypass_denied_and_the_named_statement_is_the_cause(
    principal: str, action: str, resource: str, context: dict[str, Any], sid: str
) -> None:
    # GIVEN a bounded principal granted everything by its identity policy WHEN it attacks an anchor
    decision = _decide(principal, action, resource, context)
    # THEN the boundary's named statement denies it
    assert (decision.allowed, decision.policy_kind, decision.statement) == (False, BOUNDARY, sid)
    # AND with that statement deleted the same request is allowed
    assert _decide(principal, action, resource, context, drop=sid).allowed


@pytest.mark.parametrize(("action", "resource", "context"), ORDINARY, ids=[o[0] for o in ORDINARY])
def test_boundary_bypass_ordinary_ci_work_allowed(action: str, resource: str, context: dict[str, Any]) -> None:
    assert _decide(CI_ROLE, action, resource, context).allowed
