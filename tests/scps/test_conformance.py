"""scps.evaluate against the cases AWS documents: each row names the documentation page (and section) it comes from.

Pages (https://docs.aws.amazon.com/IAM/latest/UserGuide/...):
EVAL   reference_policies_evaluation-logic.html
ACCT   reference_policies_evaluation-logic_policy-eval-basics.html ("within a single account")
XACCT  reference_policies_evaluation-logic-cross-account.html
BOUND  access_policies_boundaries.html
SESS   access_policies.html#policies_session
SCPS   https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
RCPS   https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html
KMS    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
TRUST  id_roles_compare-resource-policies.html, id_roles_create_for-idp_oidc.html
NOT    reference_policies_elements_notaction.html, _notresource.html, _notprincipal.html
COND   reference_policies_elements_condition_operators.html (+ _condition-single-vs-multi-valued-context-keys.html)
VARS   reference_policies_variables.html
ARNS   reference_policies_elements_resource.html, reference-arns.html
"""

from __future__ import annotations

from typing import Any

import pytest

from scps.evaluate import Decision, Policies, Principal, Request, decide, denial_message

A, B = "111122223333", "444455556666"
ROLE = f"arn:aws:iam::{A}:role/app"
SESSION = f"arn:aws:sts::{A}:assumed-role/app/s1"
ROLE_B = f"arn:aws:iam::{B}:role/reader"
SESSION_B = f"arn:aws:sts::{B}:assumed-role/reader/s2"
BUCKET = "arn:aws:s3:::data"
OBJECT = "arn:aws:s3:::data/k"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OIDC = f"arn:aws:iam::{A}:oidc-provider/token.actions.githubusercontent.com"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Action": action, "Resource": resource, **extra})


def deny(action: Any = "*", resource: Any = "*", sid: str = "D", **extra: Any) -> dict[str, Any]:
    return doc({"Sid": sid, "Effect": "Deny", "Action": action, "Resource": resource, **extra})


def grant(
    principal: Any, action: Any = "*", resource: Any = "*", effect: str = "Allow", **extra: Any
) -> dict[str, Any]:
    return doc({"Sid": "R", "Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra})


FULL = allow()
LEVELS_OK = [[FULL], [FULL], [FULL]]  # root, OU, account


def req(action: str = "s3:GetObject", resource: str = OBJECT, who: str = SESSION, **context: Any) -> Request:
    return Request(action, resource, principal=Principal.from_arn(who), context=context)


def cond(condition: dict[str, Any], effect: str = "Allow", action: str = "s3:GetObject") -> Policies:
    """Identity policy whose single statement carries `condition` (a Deny is paired with an allow-all)."""
    statement = {"Effect": effect, "Action": action, "Resource": "*", "Condition": condition}
    return Policies(identity=[doc(statement)] if effect == "Allow" else [FULL, doc(statement)])


OK = (True, "allowed")

CASES: list[tuple[str, Request, Policies, tuple[bool, str]]] = [
    # --- EVAL: deny by default, an explicit deny overrides any allow ------------------------------------------
    ("EVAL implicit deny without policies", req(), Policies(), (False, "no_identity_allow")),
    ("EVAL identity allow", req(), Policies(identity=[allow("s3:GetObject")]), OK),
    ("EVAL explicit deny beats allow", req(), Policies(identity=[FULL, deny("s3:*")]), (False, "explicit_deny")),
    ("EVAL allow for another action", req(), Policies(identity=[allow("s3:PutObject")]), (False, "no_identity_allow")),
    # --- SCPS: an Allow at every level of the path, no Deny anywhere -----------------------------------------
    ("SCPS FullAWSAccess at every level", req(), Policies(identity=[FULL], scps=LEVELS_OK), OK),
    (
        "SCPS no allow at the OU level",
        req(),
        Policies(identity=[FULL], scps=[[FULL], [], [FULL]]),
        (False, "no_scp_allow"),
    ),
    (
        "SCPS allow-list at the account level excludes ec2",
        req("ec2:RunInstances", "*"),
        Policies(identity=[FULL], scps=[[FULL], [FULL], [allow("s3:*")]]),
        (False, "no_scp_allow"),
    ),
    (
        "SCPS deny at the account level",
        req(),
        Policies(identity=[FULL], scps=[[FULL], [FULL], [FULL, deny("s3:GetObject")]]),
        (False, "explicit_deny"),
    ),
    ("SCPS allow grants nothing by itself", req(), Policies(scps=LEVELS_OK), (False, "no_identity_allow")),
    (
        "SCPS deny exempts the platform role (ArnNotLike aws:PrincipalArn)",
        req("iam:DeleteRole", f"arn:aws:iam::{A}:role/x", who=f"arn:aws:sts::{A}:assumed-role/Platform/p"),
        Policies(
            identity=[FULL],
            scps=[
                [FULL, deny("iam:*", Condition={"ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/Platform"}})]
            ],
        ),
        OK,
    ),
    (
        "SCPS deny with exemption still denies a team role",
        req("iam:DeleteRole", f"arn:aws:iam::{A}:role/x"),
        Policies(
            identity=[FULL],
            scps=[
                [FULL, deny("iam:*", Condition={"ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/Platform"}})]
            ],
        ),
        (False, "explicit_deny"),
    ),
    ("SCPS management account is not governed", req(), Policies(identity=[FULL], scps=None), OK),
    (
        "SCPS do not govern service principals",
        Request("sns:Publish", f"arn:aws:sns:us-east-1:{A}:t", principal=Principal("", service="events.amazonaws.com")),
        Policies(
            scps=[[deny()]],
            resource=grant({"Service": "events.amazonaws.com"}, "sns:Publish"),
        ),
        OK,
    ),
    # --- RCPS ------------------------------------------------------------------------------------------------
    (
        "RCPS deny on the resource side",
        req(),
        Policies(
            identity=[FULL], rcps=[[FULL, deny("s3:*", Condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}})]]
        ),
        (False, "explicit_deny"),
    ),
    ("RCPS level without an allow", req(), Policies(identity=[FULL], rcps=[[FULL], []]), (False, "no_rcp_allow")),
    # --- BOUND -----------------------------------------------------------------------------------------------
    ("BOUND identity and boundary allow", req(), Policies(identity=[FULL], boundary=allow("s3:*")), OK),
    (
        "BOUND boundary does not allow",
        req(),
        Policies(identity=[FULL], boundary=allow("ec2:*")),
        (False, "no_boundary_allow"),
    ),
    ("BOUND boundary alone grants nothing", req(), Policies(boundary=FULL), (False, "no_identity_allow")),
    (
        "BOUND explicit deny in the boundary",
        req(),
        Policies(identity=[FULL], boundary=doc(*FULL["Statement"], *deny("s3:*")["Statement"])),
        (False, "explicit_deny"),
    ),
    (
        "BOUND same-account grant to the session ARN is not limited by the boundary",
        req(),
        Policies(boundary=allow("ec2:*"), resource=grant({"AWS": SESSION}, "s3:GetObject", OBJECT)),
        OK,
    ),
    (
        "BOUND same-account grant to the role ARN is limited by the boundary",
        req(),
        Policies(boundary=allow("ec2:*"), resource=grant({"AWS": ROLE}, "s3:GetObject", OBJECT)),
        (False, "no_boundary_allow"),
    ),
    # --- SESS ------------------------------------------------------------------------------------------------
    ("SESS identity and session policy allow", req(), Policies(identity=[FULL], session=[allow("s3:Get*")]), OK),
    (
        "SESS session policy does not allow",
        req(),
        Policies(identity=[FULL], session=[allow("ec2:*")]),
        (False, "no_session_allow"),
    ),
    (
        "SESS grant to the session ARN is not limited by the session policy",
        req(),
        Policies(session=[allow("ec2:*")], resource=grant({"AWS": SESSION}, "s3:GetObject", OBJECT)),
        OK,
    ),
    (
        "SESS grant to the role ARN is limited by the session policy",
        req(),
        Policies(session=[allow("ec2:*")], resource=grant({"AWS": ROLE}, "s3:GetObject", OBJECT)),
        (False, "no_session_allow"),
    ),
    # --- ACCT: within one account either side may allow ----------------------------------------------------------
    (
        "ACCT bucket policy naming the role alone",
        req(),
        Policies(resource=grant({"AWS": ROLE}, "s3:GetObject", OBJECT)),
        OK,
    ),
    ("ACCT bucket policy to everyone", req(), Policies(resource=grant("*", "s3:GetObject", OBJECT)), OK),
    (
        "ACCT bucket policy naming the account delegates to IAM",
        req(),
        Policies(resource=grant({"AWS": f"arn:aws:iam::{A}:root"}, "s3:GetObject", OBJECT)),
        (False, "no_identity_allow"),
    ),
    (
        "ACCT bucket policy naming the account plus identity allow",
        req(),
        Policies(identity=[allow("s3:GetObject")], resource=grant({"AWS": A}, "s3:GetObject", OBJECT)),
        OK,
    ),
    (
        "ACCT resource-policy deny beats identity allow",
        req(),
        Policies(identity=[FULL], resource=grant("*", "s3:*", OBJECT, effect="Deny")),
        (False, "explicit_deny"),
    ),
    # --- XACCT: both sides must allow ---------------------------------------------------------------------------
    (
        "XACCT resource policy alone is not enough",
        req(who=SESSION_B),
        Policies(resource=grant({"AWS": ROLE_B}, "s3:GetObject", OBJECT), resource_account=A),
        (False, "no_identity_allow"),
    ),
    (
        "XACCT identity alone is not enough",
        req(who=SESSION_B),
        Policies(identity=[FULL], resource_account=A),
        (False, "no_resource_allow"),
    ),
    (
        "XACCT both allow",
        req(who=SESSION_B),
        Policies(identity=[FULL], resource=grant({"AWS": ROLE_B}, "s3:GetObject", OBJECT), resource_account=A),
        OK,
    ),
    (
        "XACCT resource policy trusts the caller's account",
        req(who=SESSION_B),
        Policies(identity=[FULL], resource=grant({"AWS": B}, "s3:GetObject", OBJECT), resource_account=A),
        OK,
    ),
    (
        "XACCT resource policy trusts another account",
        req(who=SESSION_B),
        Policies(identity=[FULL], resource=grant({"AWS": "999999999999"}, "s3:GetObject", OBJECT), resource_account=A),
        (False, "no_resource_allow"),
    ),
    # --- KMS: the key policy must allow ---------------------------------------------------------------------------
    (
        "KMS key policy without the root statement ignores IAM policies",
        req("kms:Decrypt", KEY),
        Policies(
            identity=[FULL], resource=grant({"AWS": f"arn:aws:iam::{A}:role/admin"}, "kms:*"), resource_kind="kms"
        ),
        (False, "no_resource_allow"),
    ),
    (
        "KMS key policy enabling IAM policies plus identity allow",
        req("kms:Decrypt", KEY),
        Policies(
            identity=[allow("kms:Decrypt")],
            resource=grant({"AWS": f"arn:aws:iam::{A}:root"}, "kms:*"),
            resource_kind="kms",
        ),
        OK,
    ),
    (
        "KMS key policy enabling IAM policies, no identity allow",
        req("kms:Decrypt", KEY),
        Policies(resource=grant({"AWS": f"arn:aws:iam::{A}:root"}, "kms:*"), resource_kind="kms"),
        (False, "no_identity_allow"),
    ),
    (
        "KMS key policy naming the role",
        req("kms:Decrypt", KEY),
        Policies(resource=grant({"AWS": ROLE}, "kms:Decrypt"), resource_kind="kms"),
        OK,
    ),
    (
        "KMS cross-account: key policy allows the account and identity allows",
        req("kms:Decrypt", KEY, who=SESSION_B),
        Policies(
            identity=[allow("kms:Decrypt", KEY)],
            resource=grant({"AWS": B}, "kms:Decrypt"),
            resource_account=A,
            resource_kind="kms",
        ),
        OK,
    ),
    (
        "KMS cross-account without identity allow",
        req("kms:Decrypt", KEY, who=SESSION_B),
        Policies(resource=grant({"AWS": B}, "kms:Decrypt"), resource_account=A, resource_kind="kms"),
        (False, "no_identity_allow"),
    ),
    # --- TRUST ---------------------------------------------------------------------------------------------------
    (
        "TRUST same account naming the caller's role",
        req("sts:AssumeRole", f"arn:aws:iam::{A}:role/target"),
        Policies(resource=grant({"AWS": ROLE}, "sts:AssumeRole"), resource_kind="trust"),
        OK,
    ),
    (
        "TRUST same account naming the account needs an identity allow",
        req("sts:AssumeRole", f"arn:aws:iam::{A}:role/target"),
        Policies(resource=grant({"AWS": f"arn:aws:iam::{A}:root"}, "sts:AssumeRole"), resource_kind="trust"),
        (False, "no_identity_allow"),
    ),
    (
        "TRUST same account naming the account plus identity allow",
        req("sts:AssumeRole", f"arn:aws:iam::{A}:role/target"),
        Policies(
            identity=[allow("sts:AssumeRole")], resource=grant({"AWS": A}, "sts:AssumeRole"), resource_kind="trust"
        ),
        OK,
    ),
    (
        "TRUST identity allow without a trust statement",
        req("sts:AssumeRole", f"arn:aws:iam::{A}:role/target"),
        Policies(identity=[FULL], resource=grant({"AWS": ROLE_B}, "sts:AssumeRole"), resource_kind="trust"),
        (False, "no_resource_allow"),
    ),
    (
        "TRUST cross account naming the caller needs an identity allow",
        req("sts:AssumeRole", f"arn:aws:iam::{A}:role/target", who=SESSION_B),
        Policies(resource=grant({"AWS": ROLE_B}, "sts:AssumeRole"), resource_account=A, resource_kind="trust"),
        (False, "no_identity_allow"),
    ),
    (
        "TRUST web identity: the federated provider is trusted, no identity policy",
        Request(
            "sts:AssumeRoleWithWebIdentity",
            f"arn:aws:iam::{A}:role/ci",
            principal=Principal("", A, federated=OIDC),
            context={"token.actions.githubusercontent.com:sub": "repo:org/app:ref:refs/heads/main"},
        ),
        Policies(
            resource=grant(
                {"Federated": OIDC},
                "sts:AssumeRoleWithWebIdentity",
                Condition={"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/app:*"}},
            ),
            resource_kind="trust",
        ),
        OK,
    ),
    (
        "TRUST web identity from another repository",
        Request(
            "sts:AssumeRoleWithWebIdentity",
            f"arn:aws:iam::{A}:role/ci",
            principal=Principal("", A, federated=OIDC),
            context={"token.actions.githubusercontent.com:sub": "repo:evil/app:ref:refs/heads/main"},
        ),
        Policies(
            resource=grant(
                {"Federated": OIDC},
                "sts:AssumeRoleWithWebIdentity",
                Condition={"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/app:*"}},
            ),
            resource_kind="trust",
        ),
        (False, "no_resource_allow"),
    ),
    # --- NOT ---------------------------------------------------------------------------------------------------
    (
        "NOT Deny NotAction iam:* denies s3",
        req(),
        Policies(identity=[FULL, doc({"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"})]),
        (False, "explicit_deny"),
    ),
    (
        "NOT Deny NotAction iam:* leaves iam",
        req("iam:ListRoles", "*"),
        Policies(identity=[FULL, doc({"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"})]),
        OK,
    ),
    (
        "NOT Allow NotResource excludes the bucket",
        req(),
        Policies(
            identity=[
                doc({"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]})
            ]
        ),
        (False, "no_identity_allow"),
    ),
    (
        "NOT Allow NotResource covers other buckets",
        req(resource="arn:aws:s3:::other/k"),
        Policies(identity=[doc({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::data/*"})]),
        OK,
    ),
    (
        "NOT Deny NotPrincipal denies everyone else",
        req(who=f"arn:aws:sts::{A}:assumed-role/other/s"),
        Policies(
            identity=[FULL],
            resource=doc(
                {"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "s3:*", "Resource": "*"}
            ),
        ),
        (False, "explicit_deny"),
    ),
    (
        "NOT Deny NotPrincipal spares the named session",
        req(),
        Policies(
            identity=[FULL],
            resource=doc(
                {"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, SESSION]}, "Action": "s3:*", "Resource": "*"}
            ),
        ),
        OK,
    ),
    # --- COND: every operator family ----------------------------------------------------------------------------
    (
        "COND StringEquals is case-sensitive in values",
        req(**{"aws:PrincipalTag/team": "Web"}),
        cond({"StringEquals": {"aws:PrincipalTag/team": "web"}}),
        (False, "no_identity_allow"),
    ),
    (
        "COND StringEqualsIgnoreCase",
        req(**{"aws:PrincipalTag/team": "Web"}),
        cond({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "web"}}),
        OK,
    ),
    (
        "COND key names are case-insensitive",
        req(**{"AWS:principaltag/TEAM": "web"}),
        cond({"StringEquals": {"aws:PrincipalTag/team": "web"}}),
        OK,
    ),
    (
        "COND StringLike wildcard",
        req(**{"s3:prefix": "home/alice/x"}),
        cond({"StringLike": {"s3:prefix": "home/*"}}),
        OK,
    ),
    (
        "COND StringNotEquals on a missing key is true",
        req(),
        cond({"StringNotEquals": {"aws:PrincipalTag/team": "web"}}, "Deny"),
        (False, "explicit_deny"),
    ),
    (
        "COND StringEquals on a missing key is false",
        req(),
        cond({"StringEquals": {"aws:PrincipalTag/team": "web"}}),
        (False, "no_identity_allow"),
    ),
    ("COND NumericLessThan", req(**{"s3:max-keys": "5"}), cond({"NumericLessThan": {"s3:max-keys": "10"}}), OK),
    (
        "COND NumericGreaterThanEquals fails",
        req(**{"s3:max-keys": "5"}),
        cond({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}),
        (False, "no_identity_allow"),
    ),
    (
        "COND DateGreaterThan",
        req(**{"aws:CurrentTime": "2025-06-01T00:00:00Z"}),
        cond({"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}}),
        OK,
    ),
    (
        "COND DateLessThan epoch",
        req(**{"aws:EpochTime": "1700000000"}),
        cond({"DateLessThan": {"aws:EpochTime": "1600000000"}}),
        (False, "no_identity_allow"),
    ),
    (
        "COND Bool SecureTransport false denies",
        req(**{"aws:SecureTransport": False}),
        cond({"Bool": {"aws:SecureTransport": "false"}}, "Deny"),
        (False, "explicit_deny"),
    ),
    ("COND BinaryEquals", req(**{"k": "QmluYXJ5"}), cond({"BinaryEquals": {"k": "QmluYXJ5"}}), OK),
    (
        "COND IpAddress inside the block",
        req(**{"aws:SourceIp": "203.0.113.7"}),
        cond({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
        OK,
    ),
    (
        "COND NotIpAddress outside the block denies",
        req(**{"aws:SourceIp": "198.51.100.1"}),
        cond({"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}, "Deny"),
        (False, "explicit_deny"),
    ),
    (
        "COND Null true on a missing key",
        req(),
        cond({"Null": {"aws:RequestTag/team": "true"}}, "Deny"),
        (False, "explicit_deny"),
    ),
    (
        "COND Null false on a present key",
        req(**{"aws:RequestTag/team": "web"}),
        cond({"Null": {"aws:RequestTag/team": "false"}}),
        OK,
    ),
    (
        "COND IfExists on a missing key is true",
        req(),
        cond({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}),
        OK,
    ),
    (
        "COND IfExists on a present key tests it",
        req(**{"ec2:InstanceType": "p5.48xlarge"}),
        cond({"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}),
        (False, "no_identity_allow"),
    ),
    (
        "COND ForAnyValue on a missing key is false",
        req(),
        cond({"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}}),
        (False, "no_identity_allow"),
    ),
    (
        "COND ForAllValues on a missing key is true",
        req(),
        cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "stage"]}}),
        OK,
    ),
    (
        "COND ForAllValues subset",
        req(**{"aws:TagKeys": ["team"]}),
        cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "stage"]}}),
        OK,
    ),
    (
        "COND ForAllValues not a subset",
        req(**{"aws:TagKeys": ["team", "owner"]}),
        cond({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "stage"]}}),
        (False, "no_identity_allow"),
    ),
    (
        "COND single-valued operator on a multi-valued key",
        req(**{"aws:TagKeys": ["team"]}),
        cond({"StringEquals": {"aws:TagKeys": "team"}}),
        (False, "no_identity_allow"),
    ),
    (
        "COND several keys in one block are ANDed",
        req(**{"a": "1"}),
        cond({"StringEquals": {"a": "1", "b": "2"}}),
        (False, "no_identity_allow"),
    ),
    ("COND several values of one key are ORed", req(**{"a": "2"}), cond({"StringEquals": {"a": ["1", "2"]}}), OK),
    # --- ARNS: component matching ----------------------------------------------------------------------------
    (
        "ARNS ArnLike wildcard in the account component",
        req(**{"aws:SourceArn": f"arn:aws:sns:us-east-1:{A}:topic"}),
        cond({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:topic"}}),
        OK,
    ),
    (
        "ARNS ArnLike wildcard does not cross colons",
        req(**{"aws:SourceArn": f"arn:aws:iam::{A}:role/app"}),
        cond({"ArnLike": {"aws:SourceArn": "arn:aws:iam:*:role/app"}}),
        (False, "no_identity_allow"),
    ),
    (
        "ARNS StringLike wildcard crosses colons",
        req(**{"aws:SourceArn": f"arn:aws:iam::{A}:role/app"}),
        cond({"StringLike": {"aws:SourceArn": "arn:aws:iam:*:role/app"}}),
        OK,
    ),
    (
        "ARNS ArnEquals accepts wildcards like ArnLike",
        req(**{"aws:SourceArn": f"arn:aws:iam::{A}:role/app"}),
        cond({"ArnEquals": {"aws:SourceArn": "arn:aws:iam::*:role/*"}}),
        OK,
    ),
    (
        "ARNS Resource wildcard spans the resource part",
        req(resource="arn:aws:s3:::data/a:b/c"),
        Policies(identity=[allow("s3:GetObject", "arn:aws:s3:::data/*")]),
        OK,
    ),
    (
        "ARNS Resource region wildcard",
        req("ec2:StartInstances", f"arn:aws:ec2:eu-west-1:{A}:instance/i-1"),
        Policies(identity=[allow("ec2:*", f"arn:aws:ec2:*:{A}:instance/*")]),
        OK,
    ),
    (
        "ARNS Resource is case-sensitive",
        req(resource="arn:aws:s3:::Data/k"),
        Policies(identity=[allow("s3:GetObject", "arn:aws:s3:::data/*")]),
        (False, "no_identity_allow"),
    ),
    ("ARNS Action is case-insensitive", req("S3:getobject"), Policies(identity=[allow("s3:GetObj?ct")]), OK),
    (
        "ARNS Action wildcard stays in the service",
        req("s3control:GetJobTagging", "*"),
        Policies(identity=[allow("s3:*")]),
        (False, "no_identity_allow"),
    ),
    # --- VARS ----------------------------------------------------------------------------------------------------
    (
        "VARS ${aws:username} in a resource",
        req(resource="arn:aws:s3:::data/home/alice/f", who=f"arn:aws:iam::{A}:user/alice", **{"aws:username": "alice"}),
        Policies(identity=[allow("s3:GetObject", "arn:aws:s3:::data/home/${aws:username}/*")]),
        OK,
    ),
    (
        "VARS ${aws:username} of another user",
        req(resource="arn:aws:s3:::data/home/bob/f", who=f"arn:aws:iam::{A}:user/alice", **{"aws:username": "alice"}),
        Policies(identity=[allow("s3:GetObject", "arn:aws:s3:::data/home/${aws:username}/*")]),
        (False, "no_identity_allow"),
    ),
    (
        "VARS ${aws:PrincipalTag/x} in a condition",
        req(**{"aws:PrincipalTag/team": "web", "aws:ResourceTag/team": "web"}),
        cond({"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
        OK,
    ),
    (
        "VARS missing variable without default never matches",
        req(**{"aws:ResourceTag/team": "web"}),
        cond({"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
        (False, "no_identity_allow"),
    ),
    (
        "VARS default value",
        req(**{"aws:ResourceTag/team": "none"}),
        cond({"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team, 'none'}"}}),
        OK,
    ),
    ("VARS ${*} is a literal asterisk", req(**{"k": "a*"}), cond({"StringLike": {"k": "a${*}"}}), OK),
    (
        "VARS ${*} does not act as a wildcard",
        req(**{"k": "abc"}),
        cond({"StringLike": {"k": "a${*}"}}),
        (False, "no_identity_allow"),
    ),
]


@pytest.mark.parametrize(("request_", "policies", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_conformance_documented_case(request_: Request, policies: Policies, expected: tuple[bool, str]) -> None:
    # GIVEN a case from AWS's documentation, WHEN decided, THEN the outcome and the deciding policy type are AWS's
    decision = decide(request_, policies)
    assert (decision.allowed, decision.reason) == expected, decision


def test_conformance_table_is_large_and_cites_its_source() -> None:
    assert len(CASES) >= 40
    sources = {"EVAL", "ACCT", "XACCT", "BOUND", "SESS", "SCPS", "RCPS", "KMS", "TRUST", "NOT", "COND", "VARS", "ARNS"}
    assert all(c[0].split()[0] in sources for c in CASES)
    assert len({c[0] for c in CASES}) == len(CASES)


def test_conformance_explicit_deny_names_the_policy_type_and_statement() -> None:
    decision = decide(req(), Policies(identity=[FULL], scps=[[FULL], [FULL, deny("s3:*", sid="NoS3")]]))
    assert decision == Decision(False, "explicit_deny", "service control policy", "NoS3")


@pytest.mark.parametrize(
    ("decision", "tail"),
    [
        (
            Decision(False, "no_identity_allow", "identity-based policy"),
            "because no identity-based policy allows the s3:GetObject action",
        ),
        (
            Decision(False, "explicit_deny", "service control policy", "D"),
            "with an explicit deny in a service control policy",
        ),
        (
            Decision(False, "no_scp_allow", "service control policy"),
            "because no service control policy allows the s3:GetObject action",
        ),
        (
            Decision(False, "no_resource_allow", "resource-based policy"),
            "because no resource-based policy allows the s3:GetObject action",
        ),
        (
            Decision(False, "no_boundary_allow", "permissions boundary"),
            "because no permissions boundary allows the s3:GetObject action",
        ),
        (
            Decision(False, "no_session_allow", "session policy"),
            "because no session policy allows the s3:GetObject action",
        ),
    ],
)
def test_conformance_denial_message_wording(decision: Decision, tail: str) -> None:
    message = denial_message(req(), decision, SESSION)
    assert message == f"User: {SESSION} is not authorized to perform: s3:GetObject on resource: {OBJECT} {tail}"
