"""The hosted portal (landing_zone/cdk/portal.py) and the API's CORS, checked on the synthesized template.

Each check is a function of the template (and the cloud assembly for config.json), so that the last test can plant
a fault in a copy of the template and see the check fail (the negative controls)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from scps.evaluate import Policies, Principal, Request, decide
from tests.cdk.conftest import staged_asset

pytestmark = pytest.mark.cdk

REGION, ACCOUNT = "us-east-1", "111111111111"
API_ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin"
APPROVER = f"arn:aws:iam::{ACCOUNT}:role/PlatformApprover"
LEADS = ("TeamBackendLead", "TeamFrontendLead", "TeamMlopsLead")
CORS_HEADERS = {"Authorization", "Content-Type", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}
Template = dict[str, Any]


def _concrete(value: Any) -> Any:
    """The template's intrinsics as text: pseudo parameters for this test's region and account, a Ref as <Id>, a
    GetAtt as <Id.Attr>; joins joined."""
    if isinstance(value, list):
        return [_concrete(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        return pseudo.get(value["Ref"], "amazonaws.com" if value["Ref"] == "AWS::URLSuffix" else f"<{value['Ref']}>")
    if set(value) == {"Fn::GetAtt"}:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(_concrete(p) for p in parts)
    return {k: _concrete(v) for k, v in value.items()}


def _of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _one(template: Template, kind: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in _of_type(template, kind).items() if k.startswith(prefix)]
    return found


def _role(template: Template, name: str) -> dict[str, Any]:
    (role,) = [r for r in _of_type(template, "AWS::IAM::Role").values() if r["Properties"].get("RoleName") == name]
    return role


# --- the checks -------------------------------------------------------------------------------------------------


def check_site_bucket_is_private_encrypted_and_tls_only(template: Template) -> None:
    bucket_id, bucket = _one(template, "AWS::S3::Bucket", "PortalSiteBucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"} and bucket["DeletionPolicy"] == "Retain"
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "portal-site/"
    (policy,) = [
        p
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def check_only_this_distribution_reads_the_site(template: Template) -> None:
    bucket_id, _ = _one(template, "AWS::S3::Bucket", "PortalSiteBucket")
    distribution_id, distribution = _one(template, "AWS::CloudFront::Distribution")
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    _, oac = _one(template, "AWS::CloudFront::OriginAccessControl")
    # OAC (SigV4-signed origin requests), not a legacy origin access identity
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [next(iter(_of_type(template, oac["Type"]))), "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    (policy,) = [
        p
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    # the bucket's ARN made concrete: the evaluator matches resources as ARNs
    site = "arn:aws:s3:::portal-site"
    document = json.loads(
        json.dumps(_concrete(policy["Properties"]["PolicyDocument"])).replace(f"<{bucket_id}.Arn>", site)
    )
    this = f"arn:aws:cloudfront::{ACCOUNT}:distribution/<{distribution_id}>"
    site_object = f"{site}/index.html"

    def reads(principal: Principal, source_arn: str | None) -> bool:
        context = {"aws:SourceArn": source_arn} if source_arn else {}
        request = Request(action="s3:GetObject", resource=site_object, principal=principal, context=context)
        return decide(request, Policies(resource=document, resource_account=ACCOUNT)).allowed

    cloudfront = Principal(arn="", service="cloudfront.amazonaws.com")
    assert reads(cloudfront, this)
    assert not reads(cloudfront, f"arn:aws:cloudfront::{ACCOUNT}:distribution/EOTHER")  # another distribution
    assert not reads(Principal(arn=""), None)  # anyone else, unsigned
    assert all(
        s["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        for s in document["Statement"]
        if s["Effect"] == "Allow"
    )


def check_distribution_serves_https_with_the_headers_policy(template: Template) -> None:
    _, distribution = _one(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    headers_id, _ = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    assert config["DefaultRootObject"] == "index.html" and config["PriceClass"] == "PriceClass_100"
    assert "Bucket" in config["Logging"]
    # the app routes by hash: no 403/404 rewritten to index.html (which would hide a missing file)
    assert "CustomErrorResponses" not in config
    # and the distribution refers to nothing of the API (the API refers to it: CORS)
    assert "VendingApi" not in json.dumps(distribution) + json.dumps(_of_type(template, headers_id))


def _directives(template: Template) -> dict[str, list[str]]:
    _, policy = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    csp = _concrete(policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"])
    text = csp["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    return {d.split()[0]: d.split()[1:] for d in text.split("; ")}


def check_headers_policy_sets_a_strict_csp_and_the_security_headers(template: Template) -> None:
    directives = _directives(template)
    cognito = f"https://account-vending-{ACCOUNT}.auth.{REGION}.amazoncognito.com"
    assert directives == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": [
            "'self'",
            f"https://*.execute-api.{REGION}.amazonaws.com",
            f"https://cognito-identity.{REGION}.amazonaws.com",
            cognito,
        ],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", cognito],
        "base-uri": ["'none'"],
    }
    assert not any("unsafe" in source for sources in directives.values() for source in sources)
    _, policy = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"


def check_user_pool_is_invitation_only_with_totp_mfa(template: Template) -> None:
    _, pool = _one(template, "AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["MfaConfiguration"] == "ON" and props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    password = props["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12 and all(
        password[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    assert props["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert pool["DeletionPolicy"] == "Retain"


def check_app_client_uses_the_code_flow_without_a_secret(template: Template) -> None:
    distribution_id, _ = _one(template, "AWS::CloudFront::Distribution")
    _, client = _one(template, "AWS::Cognito::UserPoolClient")
    props = _concrete(client["Properties"])
    assert props["GenerateSecret"] is False
    assert props["AllowedOAuthFlows"] == ["code"] and props["AllowedOAuthScopes"] == ["openid"]
    home = f"https://<{distribution_id}.DomainName>/"
    assert props["CallbackURLs"] == [home] and props["LogoutURLs"] == [home]
    assert props["IdTokenValidity"] == 60 and props["TokenValidityUnits"]["IdToken"] == "minutes"
    _, domain = _one(template, "AWS::Cognito::UserPoolDomain")
    assert _concrete(domain["Properties"]["Domain"]) == f"account-vending-{ACCOUNT}"


def check_identity_pool_gives_each_group_its_role_and_nobody_else_anything(template: Template) -> None:
    client_id, _ = _one(template, "AWS::Cognito::UserPoolClient")
    pool_id, pool = _one(template, "AWS::Cognito::IdentityPool")
    props = pool["Properties"]
    assert props["AllowUnauthenticatedIdentities"] is False and props["AllowClassicFlow"] is False
    (provider,) = props["CognitoIdentityProviders"]
    assert provider["ClientId"] == {"Ref": client_id} and provider["ServerSideTokenCheck"] is True
    _, attachment = _one(template, "AWS::Cognito::IdentityPoolRoleAttachment")
    (mapping,) = attachment["Properties"]["RoleMappings"].values()
    assert mapping["Type"] == "Token" and mapping["AmbiguousRoleResolution"] == "Deny"
    assert _concrete(mapping["IdentityProvider"]).endswith(f":<{client_id}>")
    # the default authenticated role may do nothing
    default_role = attachment["Properties"]["Roles"]["authenticated"]["Fn::GetAtt"][0]
    assert not [
        p for p in _of_type(template, "AWS::IAM::Policy").values() if {"Ref": default_role} in p["Properties"]["Roles"]
    ]
    assert "ManagedPolicyArns" not in template["Resources"][default_role]["Properties"]
    groups = {
        g["Properties"]["GroupName"]: _concrete(g["Properties"]["RoleArn"])
        for g in _of_type(template, "AWS::Cognito::UserPoolGroup").values()
    }
    role_ids = {r["Properties"].get("RoleName"): k for k, r in _of_type(template, "AWS::IAM::Role").items()}
    assert groups == {
        "platform-admins": f"<{role_ids['PortalAdmin']}.Arn>",
        "platform-approvers": f"<{role_ids['PortalApprover']}.Arn>",
        **{lead: f"<{role_ids[lead]}.Arn>" for lead in LEADS},
    }
    del pool_id


def _assumes_from_pool(trust: dict[str, Any], pool: str, amr: list[str]) -> bool:
    request = Request(
        action="sts:AssumeRoleWithWebIdentity",
        resource=APPROVER,
        # a web identity holds no identity policy: the account is given so that the trust policy alone decides
        principal=Principal(arn="", account=ACCOUNT, federated="cognito-identity.amazonaws.com"),
        context={"cognito-identity.amazonaws.com:aud": pool, "cognito-identity.amazonaws.com:amr": amr},
        literal_resource=True,
    )
    return decide(request, Policies(resource=trust, resource_account=ACCOUNT, resource_kind="trust")).allowed


def check_portal_and_lead_roles_trust_only_authenticated_identities_of_this_pool(template: Template) -> None:
    pool = f"<{_one(template, 'AWS::Cognito::IdentityPool')[0]}>"
    signed_in = ["authenticated", "cognito-idp.us-east-1.amazonaws.com/us-east-1_x", "cognito-idp...:CognitoSignIn:1"]
    for name in ("PortalAdmin", "PortalApprover", *LEADS):
        role = _role(template, name)
        trust = _concrete(role["Properties"]["AssumeRolePolicyDocument"])
        assert _assumes_from_pool(trust, pool, signed_in), name
        assert not _assumes_from_pool(trust, "us-east-1:another-pool", signed_in), name
        assert not _assumes_from_pool(trust, pool, ["unauthenticated"]), name
        assert role["Properties"]["MaxSessionDuration"] == 3600, name
    # the CLI's roles are never handed to a browser: no identity pool in their trust
    for name in ("PlatformAdmin", "PlatformApprover"):
        assert "cognito-identity" not in json.dumps(_role(template, name)["Properties"]["AssumeRolePolicyDocument"])


def check_portal_roles_may_only_call_the_api(template: Template) -> None:
    policies = _of_type(template, "AWS::IAM::Policy").values()
    for name in ("PortalAdmin", "PortalApprover"):
        role_id = next(
            k for k, v in _of_type(template, "AWS::IAM::Role").items() if v["Properties"].get("RoleName") == name
        )
        attached = [p for p in policies if {"Ref": role_id} in p["Properties"]["Roles"]]
        statements = [s for p in attached for s in _concrete(p["Properties"]["PolicyDocument"])["Statement"]]
        assert statements and all(s["Action"] == "execute-api:Invoke" for s in statements), (name, statements)


def check_preflights_are_the_only_unauthenticated_methods(template: Template) -> None:
    distribution_id, _ = _one(template, "AWS::CloudFront::Distribution")
    methods = _of_type(template, "AWS::ApiGateway::Method").values()
    open_methods = [m["Properties"] for m in methods if m["Properties"]["AuthorizationType"] != "AWS_IAM"]
    assert open_methods and all(m["HttpMethod"] == "OPTIONS" for m in open_methods)
    assert all(m["AuthorizationType"] == "NONE" and m["Integration"]["Type"] == "MOCK" for m in open_methods)
    for method in open_methods:
        (response,) = _concrete(method["Integration"]["IntegrationResponses"])
        headers = response["ResponseParameters"]
        assert (
            headers["method.response.header.Access-Control-Allow-Origin"] == f"'https://<{distribution_id}.DomainName>'"
        )
        assert set(headers["method.response.header.Access-Control-Allow-Headers"].strip("'").split(",")) == CORS_HEADERS
        assert headers["method.response.header.Access-Control-Allow-Methods"] == "'GET,POST,PATCH'"


def _api_allows(template: Template, principal: Principal, route: str, identity: Sequence[Any] = ()) -> bool:
    """`identity`: the caller's identity policies (a same-account caller is let in by them, unless a Deny of the
    resource policy says otherwise)."""
    _, api = _one(template, "AWS::ApiGateway::RestApi")
    # API Gateway expands the `execute-api:/` shorthand to the API's ARN when it stores the policy
    policy = json.loads(json.dumps(_concrete(api["Properties"]["Policy"])).replace('"execute-api:/', f'"{API_ARN}/'))
    request = Request(action="execute-api:Invoke", resource=f"{API_ARN}/v1/{route}", principal=principal)
    return decide(request, Policies(identity=identity, resource=policy, resource_account=ACCOUNT)).allowed


def check_resource_policy_admits_anonymous_preflights_and_nothing_more(template: Template) -> None:
    # an unsigned caller holds no identity policy: the account is given so that the resource policy alone decides
    anonymous = Principal(arn="", account=ACCOUNT)
    other = Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:role/TeamAdmin")
    assert _api_allows(template, anonymous, "OPTIONS/requests") and _api_allows(template, anonymous, "OPTIONS/")
    for route in ("GET/requests", "POST/requests", "PATCH/requests/team-a-staging", "POST/requests/x/approve"):
        assert not _api_allows(template, anonymous, route), route
        assert not _api_allows(template, other, route), route
    assert _api_allows(template, Principal.from_arn(ADMIN), "GET/requests")


def check_portal_roles_are_admitted_as_the_admin_and_the_approver(template: Template) -> None:
    admin = Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:role/PortalAdmin")
    approver = Principal.from_arn(f"arn:aws:iam::{ACCOUNT}:role/PortalApprover")
    # their identity policy lets them invoke the whole API: the resource policy alone keeps the approver to its routes
    whole_api = [{"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{API_ARN}/*"}]}]
    for route in ("GET/requests", "POST/requests", "POST/requests/x/resume", "POST/requests/x/decommission"):
        assert _api_allows(template, admin, route), route
    assert _api_allows(template, approver, "POST/requests/x/approve") and _api_allows(template, approver, "GET/changes")
    for route in ("POST/requests", "PATCH/requests/x", "POST/requests/x/resume", "POST/requests/x/decommission"):
        assert not _api_allows(template, approver, route, whole_api), route


def check_gateway_errors_and_the_api_function_name_the_portal_origin(template: Template) -> None:
    distribution_id, _ = _one(template, "AWS::CloudFront::Distribution")
    origin = f"https://<{distribution_id}.DomainName>"
    responses = {
        r["Properties"]["ResponseType"]: _concrete(r["Properties"]["ResponseParameters"])
        for r in _of_type(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY"}
    for kind, parameters in responses.items():
        assert parameters.get("gatewayresponse.header.Access-Control-Allow-Origin") == f"'{origin}'", kind
    (api_function,) = [
        f
        for f in _of_type(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName") == ("vending-api")
    ]
    assert _concrete(api_function["Properties"]["Environment"]["Variables"]["VEND_PORTAL_ORIGIN"]) == origin


def _deployment(template: Template) -> dict[str, Any]:
    (deployment,) = _of_type(template, "Custom::CDKBucketDeployment").values()
    return deployment["Properties"]


def _deployed_files(template: Template, outdir: Path) -> dict[str, str]:
    """Every file the site deployment puts in the bucket, by key, with the deploy-time values filled in."""
    props = _deployment(template)
    files = {}
    for key, markers in zip(props["SourceObjectKeys"], props["SourceMarkers"], strict=True):
        root = staged_asset(outdir, key.removesuffix(".zip"))
        for path in root.rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                for marker, value in markers.items():
                    text = text.replace(marker, _concrete(value))
                files[path.relative_to(root).as_posix()] = text
    return files


def check_site_deployment_ships_the_app_the_stylesheet_and_its_config(template: Template, outdir: Path) -> None:
    props = _deployment(template)
    bucket_id, _ = _one(template, "AWS::S3::Bucket", "PortalSiteBucket")
    distribution_id, _ = _one(template, "AWS::CloudFront::Distribution")
    assert props["DestinationBucketName"] == {"Ref": bucket_id}
    assert props["DistributionId"] == {"Ref": distribution_id} and props["DistributionPaths"] == ["/*"]
    files = _deployed_files(template, outdir)
    assert {"index.html", "app.js", "sigv4.js", "request-schema.json", "portal.css"} <= set(files)
    assert not [key for key in files if key.endswith("portal.js")]  # the server-rendered pages' script stays out
    ids = {
        kind: _one(template, kind)[0]
        for kind in (
            "AWS::Cognito::UserPool",
            "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::IdentityPool",
            "AWS::Cognito::UserPoolDomain",
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGateway::Stage",
        )
    }
    assert json.loads(files["config.json"]) == {
        "apiUrl": f"https://<{ids['AWS::ApiGateway::RestApi']}>.execute-api.{REGION}.amazonaws.com/"
        f"<{ids['AWS::ApiGateway::Stage']}>",
        "region": REGION,
        "signIn": {
            "kind": "cognito",
            "domain": f"https://<{ids['AWS::Cognito::UserPoolDomain']}>.auth.{REGION}.amazoncognito.com",
            "userPoolClientId": f"<{ids['AWS::Cognito::UserPoolClient']}>",
            "identityPoolId": f"<{ids['AWS::Cognito::IdentityPool']}>",
            "provider": f"<{ids['AWS::Cognito::UserPool']}.ProviderName>",
        },
    }
    # the stage's Ref is its name, the one the API's callers use
    assert template["Resources"][ids["AWS::ApiGateway::Stage"]]["Properties"]["StageName"] == "v1"


CHECKS: list[Callable[[Template], None]] = [
    check_site_bucket_is_private_encrypted_and_tls_only,
    check_only_this_distribution_reads_the_site,
    check_distribution_serves_https_with_the_headers_policy,
    check_headers_policy_sets_a_strict_csp_and_the_security_headers,
    check_user_pool_is_invitation_only_with_totp_mfa,
    check_app_client_uses_the_code_flow_without_a_secret,
    check_identity_pool_gives_each_group_its_role_and_nobody_else_anything,
    check_portal_and_lead_roles_trust_only_authenticated_identities_of_this_pool,
    check_preflights_are_the_only_unauthenticated_methods,
    check_resource_policy_admits_anonymous_preflights_and_nothing_more,
    check_gateway_errors_and_the_api_function_name_the_portal_origin,
    check_portal_roles_may_only_call_the_api,
    check_portal_roles_are_admitted_as_the_admin_and_the_approver,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_portal_hosting(check: Callable[[Template], None], synthesized: dict[str, Any]) -> None:
    # GIVEN the synthesized stack WHEN the check reads it THEN it holds
    check(synthesized["template"])


def test_portal_site_deployment(synthesized: dict[str, Any]) -> None:
    check_site_deployment_ships_the_app_the_stylesheet_and_its_config(synthesized["template"], synthesized["outdir"])


# --- negative controls: each fault planted in a copy of the template, and the check that must catch it ------------


def _resource(template: Template, kind: str, prefix: str = "") -> dict[str, Any]:
    return _one(template, kind, prefix)[1]["Properties"]


def _public_bucket(t: Template) -> None:
    _resource(t, "AWS::S3::Bucket", "PortalSiteBucket")["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = (
        False
    )


def _any_distribution_reads(t: Template) -> None:
    bucket_id, _ = _one(t, "AWS::S3::Bucket", "PortalSiteBucket")
    (policy,) = [
        p for p in _of_type(t, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        if statement["Effect"] == "Allow":
            statement["Condition"] = {"StringLike": {"AWS:SourceArn": "arn:aws:cloudfront::*:distribution/*"}}


def _errors_rewritten(t: Template) -> None:
    config = _resource(t, "AWS::CloudFront::Distribution")["DistributionConfig"]
    config["CustomErrorResponses"] = [{"ErrorCode": 403, "ResponseCode": 200, "ResponsePagePath": "/index.html"}]


def _inline_scripts(t: Template) -> None:
    config = _resource(t, "AWS::CloudFront::ResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]
    csp = config["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Join"][1]
    csp[0] = csp[0].replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def _mfa_optional(t: Template) -> None:
    _resource(t, "AWS::Cognito::UserPool")["MfaConfiguration"] = "OPTIONAL"


def _implicit_flow(t: Template) -> None:
    _resource(t, "AWS::Cognito::UserPoolClient")["AllowedOAuthFlows"] = ["code", "implicit"]


def _client_secret(t: Template) -> None:
    _resource(t, "AWS::Cognito::UserPoolClient")["GenerateSecret"] = True


def _guests_allowed(t: Template) -> None:
    _resource(t, "AWS::Cognito::IdentityPool")["AllowUnauthenticatedIdentities"] = True


def _ambiguous_gets_default(t: Template) -> None:
    (mapping,) = _resource(t, "AWS::Cognito::IdentityPoolRoleAttachment")["RoleMappings"].values()
    mapping["AmbiguousRoleResolution"] = "AuthenticatedRole"


def _federated_conditions(t: Template, drop: str) -> None:
    trust = _role(t, "TeamMlopsLead")["Properties"]["AssumeRolePolicyDocument"]
    for statement in trust["Statement"]:
        statement.get("Condition", {}).pop(drop, None)


def _unsigned_get(t: Template) -> None:
    method = next(m for m in _of_type(t, "AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] == "GET")
    method["Properties"]["AuthorizationType"] = "NONE"


def _deny_covers_preflights(t: Template) -> None:
    for statement in _resource(t, "AWS::ApiGateway::RestApi")["Policy"]["Statement"]:
        if statement["Effect"] == "Deny" and "StringNotEquals" in statement.get("Condition", {}):
            statement["Resource"] = "execute-api:/*"
            del statement["NotResource"]


def _anonymous_reads(t: Template) -> None:
    for statement in _resource(t, "AWS::ApiGateway::RestApi")["Policy"]["Statement"]:
        if statement["Principal"] == {"AWS": "*"}:
            statement.pop("NotResource", None)
            statement["Resource" if statement["Effect"] == "Allow" else "NotResource"] = [
                "execute-api:/*/OPTIONS/*",
                "execute-api:/*/GET/*",
            ]


def _portal_admin_may_read_tables(t: Template) -> None:
    role_id = next(
        k for k, v in _of_type(t, "AWS::IAM::Role").items() if v["Properties"].get("RoleName") == "PortalAdmin"
    )
    policy = next(p for p in _of_type(t, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"])
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}
    )


def _portal_approver_unfenced(t: Template) -> None:
    for statement in _resource(t, "AWS::ApiGateway::RestApi")["Policy"]["Statement"]:
        equals = statement.get("Condition", {}).get("StringEquals", {})
        if statement["Effect"] == "Deny" and "PortalApprover" in json.dumps(equals.get("aws:PrincipalArn")):
            kept = [a for a in equals["aws:PrincipalArn"] if "PortalApprover" not in json.dumps(a)]
            equals["aws:PrincipalArn"] = kept


def _admins_get_the_cli_role(t: Template) -> None:
    for group in _of_type(t, "AWS::Cognito::UserPoolGroup").values():
        if group["Properties"]["GroupName"] == "platform-admins":
            group["Properties"]["RoleArn"] = "arn:aws:iam::123456789012:role/PlatformAdmin"


def _error_without_origin(t: Template) -> None:
    response = next(iter(_of_type(t, "AWS::ApiGateway::GatewayResponse").values()))
    response["Properties"]["ResponseParameters"].pop("gatewayresponse.header.Access-Control-Allow-Origin")


FAULTS: list[tuple[str, Callable[[Template], None], Callable[[Template], None]]] = [
    ("public-site-bucket", check_site_bucket_is_private_encrypted_and_tls_only, _public_bucket),
    ("any-distribution-reads-the-site", check_only_this_distribution_reads_the_site, _any_distribution_reads),
    ("errors-rewritten-to-index", check_distribution_serves_https_with_the_headers_policy, _errors_rewritten),
    ("unsafe-inline-scripts", check_headers_policy_sets_a_strict_csp_and_the_security_headers, _inline_scripts),
    ("mfa-optional", check_user_pool_is_invitation_only_with_totp_mfa, _mfa_optional),
    ("implicit-flow", check_app_client_uses_the_code_flow_without_a_secret, _implicit_flow),
    ("client-secret", check_app_client_uses_the_code_flow_without_a_secret, _client_secret),
    ("guests-allowed", check_identity_pool_gives_each_group_its_role_and_nobody_else_anything, _guests_allowed),
    (
        "ambiguous-gets-default-role",
        check_identity_pool_gives_each_group_its_role_and_nobody_else_anything,
        _ambiguous_gets_default,
    ),
    (
        "lead-trust-without-aud",
        check_portal_and_lead_roles_trust_only_authenticated_identities_of_this_pool,
        lambda t: _federated_conditions(t, "StringEquals"),
    ),
    (
        "lead-trust-without-amr",
        check_portal_and_lead_roles_trust_only_authenticated_identities_of_this_pool,
        lambda t: _federated_conditions(t, "ForAnyValue:StringLike"),
    ),
    ("unsigned-get", check_preflights_are_the_only_unauthenticated_methods, _unsigned_get),
    (
        "deny-covers-preflights",
        check_resource_policy_admits_anonymous_preflights_and_nothing_more,
        _deny_covers_preflights,
    ),
    ("anonymous-reads", check_resource_policy_admits_anonymous_preflights_and_nothing_more, _anonymous_reads),
    ("error-without-origin", check_gateway_errors_and_the_api_function_name_the_portal_origin, _error_without_origin),
    ("portal-admin-reads-tables", check_portal_roles_may_only_call_the_api, _portal_admin_may_read_tables),
    (
        "portal-approver-not-kept-to-its-routes",
        check_portal_roles_are_admitted_as_the_admin_and_the_approver,
        _portal_approver_unfenced,
    ),
    (
        "admins-get-the-cli-role",
        check_identity_pool_gives_each_group_its_role_and_nobody_else_anything,
        _admins_get_the_cli_role,
    ),
    (
        "portal-approver-trust-without-aud",
        check_portal_and_lead_roles_trust_only_authenticated_identities_of_this_pool,
        lambda t: [
            s["Condition"].pop("StringEquals", None)
            for s in _role(t, "PortalApprover")["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        ],
    ),
]


@pytest.mark.parametrize(("check", "plant"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_portal_hosting_check_catches_a_planted_fault(
    check: Callable[[Template], None], plant: Callable[[Template], None], synthesized: dict[str, Any]
) -> None:
    # GIVEN a copy of the template with one fault planted WHEN the check reads it THEN it fails
    template = copy.deepcopy(synthesized["template"])
    plant(template)
    with pytest.raises(AssertionError):
        check(template)


def test_portal_site_deployment_check_catches_a_wrong_config_value(synthesized: dict[str, Any]) -> None:
    template = copy.deepcopy(synthesized["template"])
    for markers in _deployment(template)["SourceMarkers"]:
        for marker, value in markers.items():
            if "PortalIdentityPool" in json.dumps(value):
                markers[marker] = {"Fn::Join": ["", ['"', {"Ref": "PortalUserPoolF6EA700C"}, '"']]}
    with pytest.raises(AssertionError):
        check_site_deployment_ships_the_app_the_stylesheet_and_its_config(template, synthesized["outdir"])
