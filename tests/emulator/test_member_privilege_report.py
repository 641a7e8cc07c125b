"""The least-privilege recorder's verdict on member accounts (tests/e2e/test_least_privilege.py prints and asserts it
over a whole run): each role's calls against that role's own policies and boundary, with a negative control for each
way a call can go ungranted."""

from __future__ import annotations

from typing import Any

from landing_zone.local.member_privilege import Documents, check_role, member_privilege_report

PLATFORM = "111111111111"
MEMBER, OTHER = "222222222222", "333333333333"
ACCESS = f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"
CI = f"arn:aws:iam::{MEMBER}:role/team-ci-apply"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(*actions: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": "*"}


CI_POLICY = policy(allow("s3:PutObject", "s3:GetObject"), allow("ec2:Describe*"))
BOUNDARY = policy({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
USED = {"s3:PutObject": 3, "ec2:DescribeVpcs": 2, "sts:GetCallerIdentity": 1}


def test_check_role_covered_calls_are_not_missing_and_unused_grants_are_named() -> None:
    # GIVEN a bounded role whose policy names every action it used, and one it never used (the positive control)
    verdict = check_role(USED, ((CI_POLICY,), BOUNDARY))
    # THEN nothing is missing (GetCallerIdentity needs no grant), and the action pattern no call matched is named,
    # even when it shares a statement with one that was used
    assert verdict["missing"] == []
    assert verdict["unused"] == ["s3:GetObject"]
    assert check_role({"ec2:DescribeVpcs": 1}, ((CI_POLICY,), BOUNDARY))["unused"] == ["s3:GetObject", "s3:PutObject"]
    assert check_role({**USED, "s3:GetObject": 1}, ((CI_POLICY,), BOUNDARY))["unused"] == []


def test_check_role_names_an_action_its_policy_lost() -> None:
    # GIVEN the same calls, WHEN the statement granting s3:PutObject is gone (the negative control)
    verdict = check_role(USED, ((policy(allow("ec2:Describe*")),), BOUNDARY))
    # THEN exactly that action is named
    assert verdict["missing"] == ["s3:PutObject"]


def test_check_role_names_an_action_its_boundary_leaves_out() -> None:
    # GIVEN a role allowed iam:PassRole by its policy but not by its boundary
    verdict = check_role({"iam:PassRole": 1}, ((policy(allow("iam:PassRole")),), BOUNDARY))
    # THEN the boundary is named as what leaves it out; without a boundary it is covered
    assert verdict["missing"] == ["iam:PassRole (boundary)"]
    assert check_role({"iam:PassRole": 1}, ((policy(allow("iam:PassRole")),), None))["missing"] == []


def test_check_role_reads_not_action_single_statements_and_case() -> None:
    # GIVEN AdministratorAccess-like and NotAction statements, a Statement given as one object, an action in other case
    admin: Documents = ({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},), None
    assert check_role({"S3:putobject": 1}, admin)["missing"] == []
    not_iam: Documents = (policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),), None
    assert check_role({"iam:CreateRole": 1, "s3:PutObject": 1}, not_iam)["missing"] == ["iam:CreateRole"]
    # AND a Deny statement grants nothing
    denied: Documents = (policy({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}),), None
    assert check_role({"s3:PutObject": 1}, denied)["missing"] == ["s3:PutObject"]


def test_member_privilege_report_checks_each_member_role_against_its_own_account() -> None:
    # GIVEN calls by the platform's own roles, a CI role in two member accounts and the access role in one
    documents: dict[str, Documents] = {
        CI: ((CI_POLICY,), BOUNDARY),
        CI.replace(MEMBER, OTHER): ((policy(allow("ec2:Describe*")),), BOUNDARY),  # this account's lost s3:PutObject
        ACCESS: ((policy(allow("*")),), None),
    }
    by_principal = {
        f"arn:aws:iam::{PLATFORM}:role/vending-bootstrap-role": {"sts:AssumeRole": 1},
        CI: dict(USED),
        CI.replace(MEMBER, OTHER): dict(USED),
        ACCESS: {"iam:CreateRole": 2},
        f"arn:aws:iam::{OTHER}:role/Gone": {"s3:ListBucket": 1},
    }
    sessions = {ACCESS: {"vending-bootstrap-team-a"}}
    report = member_privilege_report(by_principal, sessions, PLATFORM, documents.get)
    # THEN only member accounts' roles are reported, by role name, each checked against its own account's policies
    assert sorted(report) == ["Gone", "OrganizationAccountAccessRole", "team-ci-apply"]
    ci = report["team-ci-apply"]
    assert ci["accounts"] == [MEMBER, OTHER] and ci["calls"] == 12 and ci["bounded"]
    assert ci["missing"] == [f"s3:PutObject in {OTHER}"]
    assert ci["unused"] == ["s3:GetObject"]
    access = report["OrganizationAccountAccessRole"]
    assert (access["missing"], access["sessions"], access["granted"]) == ([], ["vending-bootstrap-team-a"], ["*"])
    # AND a role that no longer exists is named, its calls unchecked
    assert report["Gone"]["gone"] == [OTHER] and report["Gone"]["missing"] == []
