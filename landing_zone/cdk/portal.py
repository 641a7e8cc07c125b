"""The portal in AWS: the static single-page app (vending/portal/site/) in a private bucket behind CloudFront, and its
sign-in. People sign in to a Cognito user pool; the identity pool trades the ID token for one hour of credentials of
the role their group names (cognito:preferred_role), and the app signs its API calls with them (SigV4). The API's
resource policy still decides who calls what (api.py): the portal adds no way in that the CLI does not have.

Built in three steps because the API sits between them: the distribution first (the API allows its origin for CORS),
then sign-in (the API-only PortalAdmin and PortalApprover roles; the trust on the lead roles), then the site's files
with the API's URL in config.json. Nothing here references the API before the last step, so API -> distribution is
the only edge between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy

from landing_zone.cdk.base import BaseStack
from landing_zone.cdk.roles import api_caller_role
from landing_zone.cdk.storage import Storage, private_bucket
from landing_zone.grant_statements import (
    PORTAL_ADMIN_ROLE,
    PORTAL_APPROVER_ROLE,
    lead_role_names,
)
from vending.portal.site import SITE_DIR, STYLESHEET
from vending.portal.site import content_security_policy as site_policy

# The site's files and the stylesheet it shares with the server-rendered portal (which alone uses portal.js).
STYLESHEET_KEY = STYLESHEET.name
CORS_ALLOW_METHODS = ("GET", "POST", "PATCH")
ADMINS_GROUP, APPROVERS_GROUP = "platform-admins", "platform-approvers"


@dataclass(frozen=True)
class PortalHosting:
    bucket: s3.Bucket
    distribution: cloudfront.Distribution

    @property
    def origin(self) -> str:
        """What the browser sends as Origin, and what the API answers CORS for."""
        return f"https://{self.distribution.distribution_domain_name}"


@dataclass(frozen=True)
class PortalSignIn:
    user_pool: cognito.UserPool
    domain: cognito.UserPoolDomain
    client: cognito.UserPoolClient
    identity_pool: cognito.CfnIdentityPool


def cognito_domain_prefix() -> str:
    # Prefixes are global per region; the account id makes this one unique (and "aws"/"cognito" may not appear).
    return f"account-vending-{Aws.ACCOUNT_ID}"


def content_security_policy() -> str:
    """The site's policy (vending.portal.site) with API Gateway and Cognito as where calls go (the API's own host is
    left as a wildcard: naming it would make the distribution depend on the API, which depends on the distribution)."""
    region = Aws.REGION
    cognito_domain = f"https://{cognito_domain_prefix()}.auth.{region}.amazoncognito.com"
    return site_policy(
        [
            f"https://*.execute-api.{region}.amazonaws.com",
            f"https://cognito-identity.{region}.amazonaws.com",
            cognito_domain,
        ],
        (cognito_domain,),
    )


def build_portal_hosting(stack: BaseStack, storage: Storage) -> PortalHosting:
    bucket = private_bucket(
        stack,
        "PortalSiteBucket",
        # SSE-S3: the files are the public app (no data, no secrets), served to anyone who loads the page; a KMS key
        # would only add a key policy for CloudFront to keep right.
        encryption=s3.BucketEncryption.S3_MANAGED,
        server_access_logs_bucket=storage.access_logs_bucket,
        server_access_logs_prefix="portal-site/",
    )
    # CloudFront's standard logs are delivered with an ACL, which the access-logs bucket (owner enforced) refuses.
    cdn_logs = private_bucket(
        stack,
        "PortalCdnLogsBucket",
        encryption=s3.BucketEncryption.S3_MANAGED,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        server_access_logs_bucket=storage.access_logs_bucket,
        server_access_logs_prefix="portal-cdn-logs/",
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
    )
    headers = cloudfront.ResponseHeadersPolicy(
        stack,
        "PortalHeaders",
        comment="Vending portal: CSP, HSTS, nosniff, no framing, no referrer",
        security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                content_security_policy=content_security_policy(), override=True
            ),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=Duration.days(365), include_subdomains=True, override=True
            ),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cloudfront.ResponseHeadersFrameOptions(
                frame_option=cloudfront.HeadersFrameOption.DENY, override=True
            ),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
            ),
        ),
    )
    # No error responses mapping 403/404 to index.html: the app routes by hash (#/...), so every page is index.html.
    distribution = cloudfront.Distribution(
        stack,
        "PortalDistribution",
        comment="Account vending portal (static app; calls the vending API with SigV4)",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origins.S3BucketOrigin.with_origin_access_control(bucket),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            response_headers_policy=headers,
        ),
        default_root_object="index.html",
        # In force once a custom domain's certificate is attached; *.cloudfront.net keeps CloudFront's own policy.
        minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
        enable_logging=True,
        log_bucket=cdn_logs,
        log_file_prefix="portal/",
        price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        http_version=cloudfront.HttpVersion.HTTP2_AND_3,
    )
    stack.acknowledge(
        distribution,
        "AwsSolutions-CFR1",
        "The portal is for the platform's own people, who may travel; the API it calls admits only the platform's "
        "roles, so a geo restriction would block colleagues without protecting anything.",
    )
    stack.acknowledge(
        distribution,
        "AwsSolutions-CFR2",
        "The distribution serves a few static files with no server logic; every call that acts goes to the API, "
        "where IAM (SigV4) and the resource policy decide. A WAF web ACL would filter requests for static files.",
    )
    stack.acknowledge(
        distribution,
        "AwsSolutions-CFR4",
        "No custom domain yet: the default *.cloudfront.net certificate's TLS policy is CloudFront's own; "
        "TLS_V1_2_2021 is set and takes effect once a custom domain's certificate is attached.",
    )
    return PortalHosting(bucket=bucket, distribution=distribution)


def portal_trust_statement(identity_pool_id: str) -> dict[str, Any]:
    """What a role needs in its trust to be handed out by the identity pool: this pool's authenticated users only."""
    return {
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
        },
    }


def build_portal_roles(stack: BaseStack, trust: dict[str, Any], api_arn: str) -> tuple[iam.Role, iam.Role]:
    """PortalAdmin and PortalApprover: what the platform-admins and platform-approvers groups get in a browser. They
    may call the API and nothing else (the API treats them as the admin and the approver: vending.api.access), so a
    browser tab never holds the CLI's PlatformAdmin or PlatformApprover session; only the identity pool hands them
    out."""
    pool = iam.FederatedPrincipal("cognito-identity.amazonaws.com", trust["Condition"], "sts:AssumeRoleWithWebIdentity")
    admin, approver = (
        api_caller_role(stack, f"{name}Role", name, assumed_by=pool, description=description, api_arn=api_arn)
        for name, description in (
            (PORTAL_ADMIN_ROLE, "The vending portal's platform admin: calls the vending API only"),
            (PORTAL_APPROVER_ROLE, "The vending portal's platform approver: calls the vending API only"),
        )
    )
    return admin, approver


def build_portal_sign_in(
    stack: BaseStack, hosting: PortalHosting, *, api_arn: str, lead_roles: list[iam.Role]
) -> PortalSignIn:
    user_pool = cognito.UserPool(
        stack,
        "PortalUserPool",
        self_sign_up_enabled=False,  # an admin creates each user and puts it in its group
        sign_in_aliases=cognito.SignInAliases(email=True),
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        mfa=cognito.Mfa.REQUIRED,
        mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
        password_policy=cognito.PasswordPolicy(
            min_length=14,
            require_lowercase=True,
            require_uppercase=True,
            require_digits=True,
            require_symbols=True,
            temp_password_validity=Duration.days(3),
        ),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        # Threat protection (compromised credentials, risky sign-ins) needs the Plus plan; a handful of users.
        feature_plan=cognito.FeaturePlan.PLUS,
        standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    domain = user_pool.add_domain(
        "PortalSignInDomain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=cognito_domain_prefix())
    )
    home = f"{hosting.origin}/"
    client = user_pool.add_client(
        "PortalClient",
        generate_secret=False,  # a browser cannot keep a secret: authorization code with PKCE instead
        auth_flows=cognito.AuthFlow(user_srp=True),
        o_auth=cognito.OAuthSettings(
            flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False),
            scopes=[cognito.OAuthScope.OPENID],
            callback_urls=[home],
            logout_urls=[home],
        ),
        supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        id_token_validity=Duration.hours(1),
        access_token_validity=Duration.hours(1),
        refresh_token_validity=Duration.hours(8),
        prevent_user_existence_errors=True,
        enable_token_revocation=True,
    )
    identity_pool = cognito.CfnIdentityPool(
        stack,
        "PortalIdentityPool",
        allow_unauthenticated_identities=False,
        allow_classic_flow=False,
        cognito_identity_providers=[
            cognito.CfnIdentityPool.CognitoIdentityProviderProperty(
                client_id=client.user_pool_client_id,
                provider_name=user_pool.user_pool_provider_name,
                server_side_token_check=True,  # a signed-out or deleted user's token is refused
            )
        ],
    )
    trust = portal_trust_statement(identity_pool.ref)
    for role in lead_roles:
        assert role.assume_role_policy is not None
        role.assume_role_policy.add_statements(iam.PolicyStatement.from_json(trust))
    portal_admin, portal_approver = build_portal_roles(stack, trust, api_arn)
    groups = [
        (ADMINS_GROUP, portal_admin.role_arn, "The platform admins (in the portal: the API as the admin)"),
        (APPROVERS_GROUP, portal_approver.role_arn, "Approve changes, read everything (in the portal)"),
        *(
            (name, role.role_arn, "A team lead: its teams' requests and changes")
            for name, role in zip(lead_role_names(stack.layout), lead_roles, strict=True)  # build_lead_roles' order
        ),
    ]
    for precedence, (name, role_arn, description) in enumerate(groups):
        cognito.CfnUserPoolGroup(
            stack,
            f"PortalGroup{''.join(ch for ch in name.title() if ch.isalnum())}",
            user_pool_id=user_pool.user_pool_id,
            group_name=name,
            role_arn=role_arn,
            precedence=precedence,  # the lowest wins cognito:preferred_role for a user in several groups
            description=description,
        )
    # The pool's default for authenticated users: a role that may do nothing (the Token mapping below decides, and
    # a user without a group is denied rather than given this role).
    no_access = iam.Role(
        stack,
        "PortalNoAccessRole",
        assumed_by=iam.FederatedPrincipal(
            "cognito-identity.amazonaws.com", trust["Condition"], "sts:AssumeRoleWithWebIdentity"
        ),
        description="The portal identity pool's default authenticated role: no permissions",
        max_session_duration=Duration.hours(1),
    )
    cognito.CfnIdentityPoolRoleAttachment(
        stack,
        "PortalIdentityPoolRoles",
        identity_pool_id=identity_pool.ref,
        roles={"authenticated": no_access.role_arn},
        role_mappings={
            "portal": cognito.CfnIdentityPoolRoleAttachment.RoleMappingProperty(
                type="Token",
                ambiguous_role_resolution="Deny",
                identity_provider=Fn.join(":", [user_pool.user_pool_provider_name, client.user_pool_client_id]),
            )
        },
    )
    return PortalSignIn(user_pool=user_pool, domain=domain, client=client, identity_pool=identity_pool)


def site_config(api: apigw.RestApi, sign_in: PortalSignIn) -> dict[str, Any]:
    """config.json, which the app reads first: where the API is and how to sign in."""
    return {
        "apiUrl": f"https://{api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/"
        f"{api.deployment_stage.stage_name}",
        "region": Aws.REGION,
        "signIn": {
            "kind": "cognito",
            "domain": sign_in.domain.base_url(),
            "userPoolClientId": sign_in.client.user_pool_client_id,
            "identityPoolId": sign_in.identity_pool.ref,
            "provider": sign_in.user_pool.user_pool_provider_name,
        },
    }


def deploy_portal_site(stack: BaseStack, hosting: PortalHosting, sign_in: PortalSignIn, api: apigw.RestApi) -> None:
    deployment = s3deploy.BucketDeployment(
        stack,
        "PortalSiteDeployment",
        sources=[
            s3deploy.Source.asset(str(SITE_DIR)),
            s3deploy.Source.data(STYLESHEET_KEY, STYLESHEET.read_text(encoding="utf-8")),
            s3deploy.Source.json_data("config.json", site_config(api, sign_in)),
        ],
        destination_bucket=hosting.bucket,
        distribution=hosting.distribution,  # invalidated after each deploy: config.json changes with the stack
        distribution_paths=["/*"],
        memory_limit=256,
    )
    CfnOutput(stack, "PortalUrl", value=f"{hosting.origin}/", description="The hosted vending portal")
    # The handler is CDK's (one per stack): it copies the assets from the bootstrap bucket into the site bucket,
    # replacing what is there, then invalidates the distribution.
    role = deployment.handler_role
    for finding, reason in {
        "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]": (
            "CDK's BucketDeployment handler writes its own logs with the AWS-managed basic execution policy."
        ),
        **{
            f"IAM5[Action::s3:{action}]": (
                "CDK's BucketDeployment grants read on the bootstrap assets and read/write on the site bucket with "
                "these action groups; both are scoped to those two buckets."
            )
            for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*")
        },
        f"IAM5[Resource::{stack.nag(f'{hosting.bucket.bucket_arn}/*')}]": (
            "The handler replaces the site's objects, whose keys are the app's files: every object of the site bucket."
        ),
        "IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]": (
            "The site's assets are staged in the CDK bootstrap bucket under content-hash keys known at deploy time."
        ),
        "IAM5[Resource::*]": (
            "cloudfront:CreateInvalidation and GetInvalidation as CDK grants them to the BucketDeployment handler, "
            "which invalidates the portal distribution after copying config.json."
        ),
    }.items():
        stack.acknowledge(role, f"AwsSolutions-{finding}", reason)
    assert role.node.scope is not None
    stack.acknowledge(
        role.node.scope,  # the handler function
        "AwsSolutions-L1",
        "The runtime is the one CDK's BucketDeployment handler is built and tested for (python3.13 in this CDK "
        "release); it moves with aws-cdk-lib upgrades, not with this stack.",
    )
