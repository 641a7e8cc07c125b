"""The vending REST API: IAM-authorized, the platform-admin role only, routes and body models from docs/openapi.json."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from landing_zone.cdk.base import REPO_ROOT, BaseStack
from landing_zone.cdk.portal import CORS_ALLOW_METHODS
from vending.portal.site import CORS_ALLOW_HEADERS

OPENAPI_PATH = REPO_ROOT / "docs" / "openapi.json"


# The routes the approver role may call: every read, the draft preview, and approvals (vending.aws.identity: approvals
# come from a second principal). The resolver decides the rest (vending.api.access).
APPROVE_RESOURCE = "execute-api:/*/POST/requests/*/approve"
READ_RESOURCES = ("execute-api:/*/GET/*", "execute-api:/*/POST/preview")
APPROVER_RESOURCES = (*READ_RESOURCES, APPROVE_RESOURCE)
# A team lead's routes: the reads, submitting a request and filing a change; the resolver narrows them to the lead's
# own teams and sends every change a lead files to an approval.
LEAD_RESOURCES = (*READ_RESOURCES, "execute-api:/*/POST/requests", "execute-api:/*/PATCH/requests/*")
# CORS preflights of the hosted portal (landing_zone/cdk/portal.py), on every path.
PREFLIGHT_RESOURCE = "execute-api:/*/OPTIONS/*"


def build_api(
    stack: BaseStack,
    handler: lambda_.IFunction,
    *,
    approver_role_arn: str,
    lead_role_arns: list[str],
    portal_origin: str,
    portal_role_arns: tuple[str, str],
) -> apigw.RestApi:
    """`portal_role_arns`: the hosted portal's API-only admin and approver roles, admitted as the admin and the
    approver are."""
    admins = [stack.config.platform_admin_role_arn, portal_role_arns[0]]
    approvers = [approver_role_arn, portal_role_arns[1]]
    access_logs = logs.LogGroup(
        stack, "ApiAccessLogs", retention=logs.RetentionDays.SIX_MONTHS, removal_policy=RemovalPolicy.RETAIN
    )
    statements = [
        iam.PolicyStatement(
            effect=iam.Effect.ALLOW,
            principals=[iam.ArnPrincipal(arn) for arn in admins],
            actions=["execute-api:Invoke"],
            resources=["execute-api:/*"],
        ),
        # The approver reads and approves, and only that: the route takes the approver from the signature.
        iam.PolicyStatement(
            effect=iam.Effect.ALLOW,
            principals=[iam.ArnPrincipal(arn) for arn in approvers],
            actions=["execute-api:Invoke"],
            resources=list(APPROVER_RESOURCES),
        ),
        # The portal's CORS preflights: the browser sends them unsigned, and they reach only the mock integration
        # (no backend), so anyone may make them. Every Deny below leaves them out.
        iam.PolicyStatement(
            effect=iam.Effect.ALLOW,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            resources=[PREFLIGHT_RESOURCE],
        ),
        # Same-account IAM callers are allowed by their identity policy alone; this deny makes the platform's roles
        # and the layout's team leads the only callers whatever other roles' policies say.
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            not_resources=[PREFLIGHT_RESOURCE],
            conditions={"StringNotEquals": {"aws:PrincipalArn": [*admins, *approvers, *lead_role_arns]}},
        ),
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["execute-api:Invoke"],
            not_resources=[*APPROVER_RESOURCES, PREFLIGHT_RESOURCE],
            conditions={"StringEquals": {"aws:PrincipalArn": approvers}},
        ),
    ]
    if lead_role_arns:
        statements += [
            iam.PolicyStatement(
                effect=iam.Effect.ALLOW,
                principals=[iam.ArnPrincipal(arn) for arn in lead_role_arns],
                actions=["execute-api:Invoke"],
                resources=list(LEAD_RESOURCES),
            ),
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                not_resources=[*LEAD_RESOURCES, PREFLIGHT_RESOURCE],
                conditions={"StringEquals": {"aws:PrincipalArn": lead_role_arns}},
            ),
        ]
    policy = iam.PolicyDocument(statements=statements)
    api = apigw.RestApi(
        stack,
        "VendingApi",
        rest_api_name="account-vending",
        policy=policy,
        description="Account vending API (IAM auth, platform-admin role only)",
        endpoint_types=[apigw.EndpointType.REGIONAL],
        cloud_watch_role=True,
        cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
        deploy_options=apigw.StageOptions(
            stage_name="v1",
            tracing_enabled=True,
            logging_level=apigw.MethodLoggingLevel.INFO,
            data_trace_enabled=False,
            metrics_enabled=True,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
        ),
        default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        # The hosted portal calls from its CloudFront origin only; its OPTIONS methods are unauthenticated (a browser
        # never signs a preflight) and answered by a mock integration.
        default_cors_preflight_options=apigw.CorsOptions(
            allow_origins=[portal_origin],
            allow_headers=list(CORS_ALLOW_HEADERS),
            allow_methods=list(CORS_ALLOW_METHODS),
            max_age=Duration.hours(1),
        ),
    )
    for response_type, code in (
        (apigw.ResponseType.DEFAULT_4_XX, None),
        (apigw.ResponseType.DEFAULT_5_XX, None),
        (apigw.ResponseType.BAD_REQUEST_BODY, "400"),
    ):
        api.add_gateway_response(
            f"Gateway{response_type.response_type}",
            type=response_type,
            status_code=code,
            # so that the portal can read the error (the resolver's own answers carry the header too)
            response_headers={"Access-Control-Allow-Origin": f"'{portal_origin}'"},
            templates={
                "application/json": json.dumps(
                    {
                        "code": "$context.error.responseType",
                        "message": "$context.error.messageString $context.error.validationErrorString",
                    }
                )
            },
        )
    validator = api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
    integration = apigw.LambdaIntegration(handler, proxy=True)
    spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    body_models = _api_models(api, spec)
    for path, operations in sorted(spec["paths"].items()):
        resource = api.root.resource_for_path(path)
        for method, operation in sorted(operations.items()):
            params = {
                f"method.request.{'querystring' if p['in'] == 'query' else p['in']}.{p['name']}": bool(
                    p.get("required", False)
                )
                for p in operation.get("parameters", [])
            }
            model = body_models.get((path, method))
            resource.add_method(
                method.upper(),
                integration,
                authorization_type=apigw.AuthorizationType.IAM,
                operation_name=operation.get("operationId"),
                request_validator=validator,
                request_parameters=params or None,
                request_models={"application/json": model} if model else None,
            )
    stack.acknowledge(
        api,
        "AwsSolutions-APIG3",
        "Callers are IAM-signed and the resource policy denies every principal but the platform-admin "
        "role; a WAF web ACL would filter traffic that cannot get past the authorizer anyway.",
    )
    stack.acknowledge(
        api, "AwsSolutions-COG4", "The API uses IAM (SigV4) authorization for platform admins, not Cognito user pools."
    )
    stack.acknowledge(
        api,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
        "The account-level API Gateway logging role needs exactly this AWS-managed policy (logs only) "
        "for the execution logs that AwsSolutions-APIG6 asks for.",
    )
    return api


def _api_models(api: apigw.RestApi, spec: dict[str, Any]) -> dict[tuple[str, str], apigw.Model]:
    """Request body models from the committed OpenAPI spec (JSON Schema draft 4 subset API Gateway accepts)."""
    schemas = spec.get("components", {}).get("schemas", {})
    models: dict[tuple[str, str], apigw.Model] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if not body or "$ref" not in body:
                continue
            name = body["$ref"].rsplit("/", 1)[-1]
            source = schemas[name]
            schema = apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4,
                title=name,
                type=apigw.JsonSchemaType.OBJECT,
                required=source.get("required"),
                additional_properties=False,
                properties={prop: _draft4(value) for prop, value in source.get("properties", {}).items()},
            )
            models[(path, method)] = api.add_model(
                f"{name}Model", content_type="application/json", model_name=name, schema=schema
            )
    return models


_DRAFT4_TYPES = {
    "string": apigw.JsonSchemaType.STRING,
    "array": apigw.JsonSchemaType.ARRAY,
    "object": apigw.JsonSchemaType.OBJECT,
    "integer": apigw.JsonSchemaType.INTEGER,
    "number": apigw.JsonSchemaType.NUMBER,
    "boolean": apigw.JsonSchemaType.BOOLEAN,
}


def _draft4(schema: dict[str, Any]) -> apigw.JsonSchema:
    """Types, enums and array items only: the detailed rules (slugs, allow-lists) stay in the pydantic model, which
    answers with every bad field; the gateway only turns away bodies of the wrong shape."""
    kwargs: dict[str, Any] = {}
    if "enum" in schema:
        kwargs["enum"] = schema["enum"]
    if "const" in schema:
        kwargs["enum"] = [schema["const"]]
    kind = schema.get("type")
    if kind in _DRAFT4_TYPES:
        kwargs["type"] = _DRAFT4_TYPES[kind]
    if kind == "array" and isinstance(schema.get("items"), dict):
        kwargs["items"] = _draft4(schema["items"])
    return apigw.JsonSchema(**kwargs)
