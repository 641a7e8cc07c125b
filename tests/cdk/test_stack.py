"""The synthesized landing-zone stack, checked with aws_cdk.assertions.Template (GIVEN one synthesis per session)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import step_functions
from tests.cdk.conftest import staged_asset, vending_functions
from vending.functions import FUNCTIONS, LIFECYCLE_KEYS, STATE_MACHINE_KEYS
from vending.onboarding import ONBOARDING_EVENT_PATTERN

pytestmark = pytest.mark.cdk

ORG_WRITE = re.compile(r"^organizations:(Create|Update|Attach|Detach|Move|Tag|Untag|Enable|Delete|Remove)")
# Organizations actions that support no resource-level permissions (Service Authorization Reference).
ORG_WRITE_WITHOUT_RESOURCE_TYPES = {"organizations:CreateAccount", "organizations:CreatePolicy"}


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return resource["Properties"]["PolicyDocument"]["Statement"]


def _function_by_name(resources: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    return next(
        (k, v)
        for k, v in _of_type(resources, "AWS::Lambda::Function").items()
        if v["Properties"].get("FunctionName") == name
    )


def _role_policies(resources: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    return [
        p
        for p in _of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role_logical_id} in p["Properties"].get("Roles", [])
    ]


def test_synth_cdk_nag_has_no_unacknowledged_findings(synthesized: dict[str, Any]) -> None:
    # GIVEN the app synthesized with AwsSolutionsChecks registered through Validations (synth raises on findings)
    report = json.loads((synthesized["outdir"] / "policy-validation-report.json").read_text())
    # THEN no plugin reported a violation, and every acknowledgement carries a specific reason
    violations = [v for r in report.get("pluginReports", []) for v in r.get("violations", [])]
    assert violations == []
    acks = synthesized["stack"].acknowledgements
    assert acks, "expected the stack to record its acknowledgements"
    for path, rule, reason in acks:
        assert rule.startswith("AwsSolutions-"), (path, rule)
        assert len(reason) >= 40, f"{path} {rule}: reason too thin: {reason!r}"


def test_functions_every_spec_exists_with_its_handler(resources: dict[str, Any]) -> None:
    for spec in FUNCTIONS:
        _, fn = _function_by_name(resources, spec.name)
        props = fn["Properties"]
        assert props["Handler"] == spec.handler
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Timeout"] == spec.timeout_seconds
        assert props["MemorySize"] == spec.memory_mb
    assert len(vending_functions(resources)) == len(FUNCTIONS)
    # and the one other function is CDK's handler that copies the portal's files (landing_zone/cdk/portal.py)
    others = set(_of_type(resources, "AWS::Lambda::Function")) - set(vending_functions(resources))
    assert len(others) == 1 and others.pop().startswith("CustomCDKBucketDeployment")


def test_functions_roles_hold_exactly_the_declared_actions(resources: dict[str, Any]) -> None:
    # Platform extras every function needs (logs, traces) or that its wiring adds (queue consumption, KMS data key).
    extras = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    queue_consumer = {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "kms:Decrypt",
    }
    # The reports bucket is SSE-KMS: the audit's writes need a data key, the API's reads (GET /findings) a Decrypt.
    wiring = {
        "StartFromEvent": queue_consumer,
        "RecordUsage": queue_consumer,
        "Audit": {"kms:GenerateDataKey"},
        "Api": {"kms:Decrypt"},
    }
    for spec in FUNCTIONS:
        _, fn = _function_by_name(resources, spec.name)
        role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        granted = {a for p in _role_policies(resources, role_id) for s in _statements(p) for a in _as_list(s["Action"])}
        declared = {a for g in spec.grants for a in g.actions}
        assert granted == declared | extras | wiring.get(spec.key, set()), spec.key


def test_organizations_write_actions_name_resources_where_aws_allows(resources: dict[str, Any]) -> None:
    for lid, policy in _of_type(resources, "AWS::IAM::Policy").items():
        for statement in _statements(policy):
            writes = {a for a in _as_list(statement["Action"]) if ORG_WRITE.match(a)}
            if not writes or "*" not in _as_list(statement["Resource"]):
                continue
            assert writes <= ORG_WRITE_WITHOUT_RESOURCE_TYPES, (lid, writes)
            if "organizations:CreatePolicy" in writes:
                assert statement["Condition"] == {
                    "StringEquals": {"organizations:PolicyType": ["SERVICE_CONTROL_POLICY", "TAG_POLICY"]}
                }


def test_organizations_arns_are_scoped_to_the_organization(
    synthesized: dict[str, Any], resources: dict[str, Any]
) -> None:
    config = synthesized["stack"].config
    text = json.dumps([_statements(p) for p in _of_type(resources, "AWS::IAM::Policy").values()])
    for arn in re.findall(r':organizations::[^"]+', text):
        assert (f"::{config.management_account_id}:" in arn and config.organization_id in arn) or arn.startswith(
            ":organizations::aws:policy/service_control_policy/"
        ), arn


def test_api_every_method_uses_iam_authorization(template: Any, resources: dict[str, Any]) -> None:
    # the CORS preflights (OPTIONS) are the exception, checked in test_portal_hosting.py
    methods = {
        k: m
        for k, m in _of_type(resources, "AWS::ApiGateway::Method").items()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
    }
    assert methods
    for lid, method in methods.items():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM", lid


def test_api_routes_match_the_committed_openapi_spec(resources: dict[str, Any]) -> None:
    from vending.cli.api import SPEC_PATH

    spec = json.loads(SPEC_PATH.read_text())
    expected = {m.upper() for ops in spec["paths"].values() for m in ops}
    methods = {
        k: m
        for k, m in _of_type(resources, "AWS::ApiGateway::Method").items()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
    }
    assert sorted(m["Properties"]["HttpMethod"] for m in methods.values()) == sorted(
        m.upper() for ops in spec["paths"].values() for m in ops
    )
    assert expected
    for method in methods.values():
        props = method["Properties"]
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert "RequestValidatorId" in props


def test_api_resource_policy_admits_the_admin_the_approver_and_the_team_leads_on_their_routes(
    synthesized: dict[str, Any], resources: dict[str, Any]
) -> None:
    from scps.evaluate import Policies, Request, decide

    admin = synthesized["stack"].config.platform_admin_role_arn
    approver = "arn:aws:iam::111111111111:role/PlatformApprover"
    lead = "arn:aws:iam::111111111111:role/TeamMlopsLead"
    (api,) = _of_type(resources, "AWS::ApiGateway::RestApi").values()
    # API Gateway expands the `execute-api:/` shorthand to the API's ARN when it stores the policy
    api_arn = "arn:aws:execute-api:us-east-1:111111111111:abc123"
    policy = json.loads(json.dumps(_resolved(api["Properties"]["Policy"])).replace('"execute-api:/', f'"{api_arn}/'))
    assert approver in json.dumps(policy) and lead in json.dumps(policy), policy

    def allowed(principal: str, route: str) -> bool:
        request = Request(action="execute-api:Invoke", resource=f"{api_arn}/v1/{route}", principal_arn=principal)
        return decide(request, Policies(resource=policy, resource_account="111111111111")).allowed

    # GIVEN the resource policy WHEN each role calls each route THEN the admin calls every route
    assert allowed(admin, "PATCH/requests/team-a-staging") and allowed(admin, "POST/requests/team-a-staging/approve")
    assert allowed(admin, "POST/requests/team-a-staging/decommission")
    # AND the approver reads and approves, and nothing else
    assert allowed(approver, "POST/requests/team-a-staging/approve") and allowed(approver, "GET/requests")
    assert allowed(approver, "GET/findings") and allowed(approver, "POST/preview")
    assert not allowed(approver, "PATCH/requests/team-a-staging") and not allowed(approver, "POST/requests")
    # AND a team lead (the layout's `leads:`) reads, submits and files changes (the resolver scopes them to its
    # teams), but never approves, resumes or decommissions
    assert allowed(lead, "GET/requests/team-mlops-staging/timeline") and allowed(lead, "POST/requests")
    assert allowed(lead, "PATCH/requests/team-mlops-staging") and allowed(lead, "POST/preview")
    for route in (
        "POST/requests/team-mlops-staging/approve",
        "POST/requests/team-mlops-staging/resume",
        "POST/requests/team-mlops-staging/decommission",
    ):
        assert not allowed(lead, route), route
    # AND any other role nothing
    other = "arn:aws:iam::111111111111:role/TeamAdmin"
    assert not allowed(other, "POST/requests/team-a-staging/approve") and not allowed(other, "GET/requests")
    # AND each lead role the layout names exists, trusted by the account, allowed to invoke the API only
    leads = [
        r for r in _of_type(resources, "AWS::IAM::Role").values() if r["Properties"].get("RoleName") == "TeamMlopsLead"
    ]
    assert len(leads) == 1 and leads[0]["Properties"]["MaxSessionDuration"] == 3600


def test_approver_role_holds_only_the_approval_grants_and_the_admin_cannot_assume_it(
    synthesized: dict[str, Any], resources: dict[str, Any]
) -> None:
    admin = synthesized["stack"].config.platform_admin_role_arn
    (role,) = [
        r
        for r in _of_type(resources, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == "PlatformApprover"
    ]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    deny = next(s for s in trust if s["Effect"] == "Deny")
    assert deny["Condition"] == {"ArnEquals": {"aws:PrincipalArn": admin}} and "sts:AssumeRole" in deny["Action"]
    policies = [
        p
        for p in _of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": next(k for k, v in resources.items() if v is role)} in p["Properties"]["Roles"]
    ]
    actions = {
        a for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] for a in _as_list(s["Action"])
    }
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:ListStateMachines",
    }


def test_admin_role_is_provisioned_with_the_cli_grants_and_the_approver_cannot_assume_it(
    synthesized: dict[str, Any], resources: dict[str, Any]
) -> None:
    from landing_zone.grant_statements import admin_granted_actions

    # GIVEN the configured platform-admin role ARN WHEN synthesized THEN the stack creates that role
    admin = synthesized["stack"].config.platform_admin_role_arn
    logical, role = next(
        (k, r)
        for k, r in _of_type(resources, "AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == admin.rsplit("/", 1)[1]
    )
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    deny = next(s for s in trust if s["Effect"] == "Deny")
    assert "PlatformApprover" in json.dumps(deny["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    # AND its policy holds exactly the CLI's grants (plus the reports key the audit's writes need), no "*" action
    # CDK moves what overflows a role's inline policy size into managed policies attached to the role: both count.
    policies = [
        p
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for p in _of_type(resources, kind).values()
        if {"Ref": logical} in p["Properties"].get("Roles", [])
    ]
    actions = {
        a for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] for a in _as_list(s["Action"])
    }
    assert actions == {*admin_granted_actions(), "kms:GenerateDataKey", "kms:Decrypt"}
    assert not any(a.endswith(":*") or a == "*" for a in actions)


def _resolved(value: Any) -> Any:
    """Pseudo parameters and joins made concrete (partition aws, this test's account), to evaluate a policy."""
    if isinstance(value, dict):
        if value == {"Ref": "AWS::Partition"}:
            return "aws"
        if value == {"Ref": "AWS::AccountId"}:
            return "111111111111"
        if set(value) == {"Fn::Join"}:
            sep, parts = value["Fn::Join"]
            return sep.join(_resolved(p) for p in parts)
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_api_stage_has_access_logs_tracing_and_validation(template: Any) -> None:
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "TracingEnabled": True,
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True, "ValidateRequestParameters": True}
    )
    template.has_resource_properties("AWS::ApiGateway::Model", {"Name": "VendingRequest"})


def test_tables_have_pitr_encryption_and_keys(resources: dict[str, Any]) -> None:
    tables = {lid: t["Properties"] for lid, t in _of_type(resources, "AWS::DynamoDB::Table").items()}
    keys = {re.sub(r"[0-9A-F]{8}$", "", lid): p["KeySchema"][0]["AttributeName"] for lid, p in tables.items()}
    assert keys == {
        "RequestsTable": "request_id",
        "IdempotencyTable": "id",
        "PipelineRunsTable": "run_id",
        "ApprovalsTable": "stack",
        "CreationSlotsTable": "slot",
        "ChangesTable": "change_id",
        "ClosuresTable": "account_id",
        "UsageTable": "account_id",
        "FreezesTable": "account_id",
    }
    by_id = {re.sub(r"[0-9A-F]{8}$", "", lid): p for lid, p in tables.items()}
    assert by_id["ApprovalsTable"]["KeySchema"][1] == {"AttributeName": "plan_digest", "KeyType": "RANGE"}
    for name, props in tables.items():
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
    assert by_id["IdempotencyTable"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # The spend fence's stored readings (vending.spend.readings) expire; the usage events carry no expires_at.
    assert by_id["UsageTable"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


# The properties that fix a resource's physical name, by resource type (CloudFormation generates one when absent).
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::SSM::Parameter": "Name",
    "AWS::Events::EventBus": "Name",
}


def _fixed_name(value: Any) -> bool:
    """A name that is the same for every creation of the stack: anything but one that embeds the stack's id."""
    return "AWS::StackId" not in json.dumps(value)


def test_retained_resources_have_no_fixed_names_so_a_redeploy_after_a_rollback_succeeds(
    resources: dict[str, Any],
) -> None:
    # GIVEN the synthesized stack. A failed first deploy rolls back and leaves every Retain resource behind; the next
    # deploy creates them again, and one with a fixed name fails "already exists".
    retained = {lid: r for lid, r in resources.items() if r.get("DeletionPolicy") == "Retain"}
    assert len(_of_type(retained, "AWS::DynamoDB::Table")) == 8  # the idempotency table is the one destroyed
    assert _of_type(retained, "AWS::Logs::LogGroup")
    # THEN none of them has a name fixed across creations of the stack
    fixed = {
        lid: r["Properties"][NAME_PROPERTIES[r["Type"]]]
        for lid, r in retained.items()
        if NAME_PROPERTIES.get(r["Type"]) in r.get("Properties", {})
        and _fixed_name(r["Properties"][NAME_PROPERTIES[r["Type"]]])
    }
    assert fixed == {}
    # AND the state machines' log groups keep the /aws/vendedlogs/ prefix, made unique by the stack id's UUID
    for lid, group in _of_type(retained, "AWS::Logs::LogGroup").items():
        if lid.startswith(("StateMachineLogs", "LifecycleLogs")):
            join = group["Properties"]["LogGroupName"]["Fn::Join"][1]
            assert join[0].startswith("/aws/vendedlogs/states/"), lid
            assert join[1] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}, lid


def test_retained_name_check_catches_a_fixed_name() -> None:
    # Negative control of the check above: the names the stack had before (fixed) are reported, a stack-id one is not.
    assert _fixed_name("vending-requests") and _fixed_name("/aws/vendedlogs/states/AccountVending")
    assert not _fixed_name({"Fn::Join": ["", ["/x-", {"Fn::Select": [2, {"Ref": "AWS::StackId"}]}]]})


def test_functions_and_worker_read_the_generated_table_names_and_the_outputs_give_them_to_the_cli(
    resources: dict[str, Any], synthesized: dict[str, Any]
) -> None:
    tables = {lid for lid in _of_type(resources, "AWS::DynamoDB::Table")}
    _, function = _function_by_name(resources, FUNCTIONS[0].name)
    env = function["Properties"]["Environment"]["Variables"]
    table_vars = {k: v for k, v in env.items() if k.startswith("VEND_") and k.endswith("_TABLE")}
    # every table reaches the functions by a Ref (its generated name), none by a literal
    assert {v["Ref"] for v in table_vars.values()} == tables
    (project,) = _of_type(resources, "AWS::CodeBuild::Project").values()
    worker = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    assert worker["VEND_PIPELINE_RUNS_TABLE"] == table_vars["VEND_PIPELINE_RUNS_TABLE"]
    assert worker["VEND_APPROVALS_TABLE"] == table_vars["VEND_APPROVALS_TABLE"]
    outputs = synthesized["template"]["Outputs"]
    by_variable = {
        o["Description"]: o["Value"] for o in outputs.values() if o.get("Description", "").startswith("VEND_")
    }
    assert by_variable == {k: v for k, v in env.items() if k.startswith("VEND_")}


def test_encryption_and_tls_on_queues_topic_and_buckets(resources: dict[str, Any]) -> None:
    for lid, queue in _of_type(resources, "AWS::SQS::Queue").items():
        assert "KmsMasterKeyId" in queue["Properties"], lid
    for lid, topic in _of_type(resources, "AWS::SNS::Topic").items():
        assert "KmsMasterKeyId" in topic["Properties"], lid
    for lid, bucket in _of_type(resources, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], lid
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, lid
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, lid
    tls_only = [
        s
        for kind in ("AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy")
        for p in _of_type(resources, kind).values()
        for s in _statements(p)
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert len(tls_only) >= 5  # two queues, two buckets, one topic
    reports = next(
        b for b in _of_type(resources, "AWS::S3::Bucket").values() if "LoggingConfiguration" in b["Properties"]
    )
    rule = reports["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_state_machine_logs_all_and_traces(template: Any) -> None:
    from aws_cdk.assertions import Match

    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineName": step_functions.STATE_MACHINE_NAME,
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
            "TracingConfiguration": {"Enabled": True},
        },
    )


def test_state_machine_definition_is_the_asl_file_after_substitution(
    synthesized: dict[str, Any], resources: dict[str, Any]
) -> None:
    machine = _machine(resources, "AccountVending")
    props = machine["Properties"]
    # DefinitionBody.from_file ships the file as an asset (DefinitionS3Location); read what would be uploaded.
    key = props["DefinitionS3Location"]["Key"]
    text = (synthesized["outdir"] / f"asset.{key}").read_text()
    substitutions = props["DefinitionSubstitutions"]
    assert set(substitutions) == step_functions.placeholders()
    # every placeholder points at the function of that key
    for key in STATE_MACHINE_KEYS:
        spec = next(f for f in FUNCTIONS if f.key == key)
        lid, _ = _function_by_name(resources, spec.name)
        assert substitutions[f"{key}FunctionArn"] == {"Fn::GetAtt": [lid, "Arn"]}
    markers = {name: f"arn:aws:lambda:region:account:function:{name}" for name in substitutions}
    deployed = json.loads(step_functions.PLACEHOLDER.sub(lambda m: markers[m.group(1)], text))
    assert deployed == step_functions.definition(markers)


def _machine(resources: dict[str, Any], name: str) -> dict[str, Any]:
    machines = _of_type(resources, "AWS::StepFunctions::StateMachine").values()
    return next(m for m in machines if m["Properties"]["StateMachineName"] == name)


@pytest.mark.parametrize(
    ("name", "keys"), [("AccountVending", STATE_MACHINE_KEYS), ("AccountLifecycle", LIFECYCLE_KEYS)]
)
def test_state_machine_role_invokes_exactly_the_workflow_functions(
    resources: dict[str, Any], name: str, keys: tuple[str, ...]
) -> None:
    # GIVEN each state machine, THEN its role invokes exactly the functions its definition names, no other
    role_id = _machine(resources, name)["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoke = [
        s
        for p in _role_policies(resources, role_id)
        for s in _statements(p)
        if "lambda:InvokeFunction" in _as_list(s["Action"])
    ]
    resources_invoked = [r for s in invoke for r in _as_list(s["Resource"])]
    expected = [{"Fn::GetAtt": [_function_by_name(resources, f.name)[0], "Arn"]} for f in FUNCTIONS if f.key in keys]
    assert sorted(map(json.dumps, resources_invoked)) == sorted(map(json.dumps, expected))


def test_onboarding_rule_queue_dlq_and_partial_batch_failures(resources: dict[str, Any]) -> None:
    rules = _of_type(resources, "AWS::Events::Rule").values()
    onboarding = next(r for r in rules if r["Properties"].get("EventPattern") == ONBOARDING_EVENT_PATTERN)
    target = onboarding["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]
    queue = resources[target]
    assert "RedrivePolicy" in queue["Properties"]
    (mapping,) = [
        m
        for m in _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [target, "Arn"]}
    ]
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [target, "Arn"]}
    lid, _ = _function_by_name(resources, "vending-start-from-event")
    assert mapping["Properties"]["FunctionName"] == {"Ref": lid}


def test_schedule_runs_the_audit_daily_and_outcomes_reach_the_topic(resources: dict[str, Any]) -> None:
    rules = list(_of_type(resources, "AWS::Events::Rule").values())
    audit_id, _ = _function_by_name(resources, "vending-guardrail-audit")
    scheduled = next(r for r in rules if r["Properties"].get("ScheduleExpression", "").startswith("cron"))
    assert scheduled["Properties"]["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert scheduled["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [audit_id, "Arn"]}
    notify = next(
        r
        for r in rules
        if "detail-type" in r["Properties"].get("EventPattern", {})
        and "Team Account Ready" in r["Properties"]["EventPattern"]["detail-type"]
    )
    assert set(notify["Properties"]["EventPattern"]["detail-type"]) == {
        "Team Account Ready",
        "Team Account Failed",
        "Guardrail Audit Findings",
        "Team Spend Frozen",
        "Team Spend Thawed",
    }
    # AND the spend fence runs every metering interval (a crossing is frozen within it)
    fence_id, _ = _function_by_name(resources, "vending-spend-fence")
    fence_rule = next(r for r in rules if r["Properties"].get("ScheduleExpression") == "rate(5 minutes)")
    assert fence_rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [fence_id, "Arn"]}
    (topic_id,) = _of_type(resources, "AWS::SNS::Topic")
    assert notify["Properties"]["Targets"][0]["Arn"] == {"Ref": topic_id}


def test_codebuild_runs_the_pipeline_worker(resources: dict[str, Any]) -> None:
    (project,) = _of_type(resources, "AWS::CodeBuild::Project").values()
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == [
        'export VEND_TERRAFORM_ROOT="$CODEBUILD_SRC_DIR/terraform"',
        'vend pipeline worker --run-id "$VEND_RUN_ID"',
    ]
    install = " ".join(spec["phases"]["install"]["commands"])
    assert "releases.hashicorp.com/terraform" in install and "sha256sum -c" in install
    assert 'pip install --no-cache-dir "checkov==${CHECKOV_VERSION}"' in install
    # editable: the runner reads policies/ and tools/versions.env beside its package; the pipeline extra is the Rego
    # engine (tests/cdk/test_install_paths.py runs this command in a clean virtualenv)
    assert (
        'python -m pip install --no-cache-dir -c constraints.txt -e ".[pipeline]"'
        in spec["phases"]["install"]["commands"]
    )
    # no provider mirror in AWS: Terraform installs providers from the registry against the lock files
    assert "VEND_TF_PROVIDER_MIRROR" not in json.dumps(spec) and "TF_CLI_CONFIG_FILE" not in json.dumps(spec)
    assert project["Properties"]["Environment"]["PrivilegedMode"] is False


def test_vended_ci_roles_trust_the_codebuild_project_role_and_it_may_assume_them(resources: dict[str, Any]) -> None:
    """The functions that write the CI roles' trust (Bootstrap, ApplyChange) name the project's own role, and that role
    may assume exactly the CI roles and the access role in member accounts."""
    (project,) = _of_type(resources, "AWS::CodeBuild::Project").values()
    role_ref = project["Properties"]["ServiceRole"]
    role_id = role_ref["Fn::GetAtt"][0]
    for function in vending_functions(resources).values():
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        assert env.get("VEND_PIPELINE_ROLE_ARN") == {"Fn::GetAtt": [role_id, "Arn"]}, function["Properties"]
    assumed = [
        r
        for p in _role_policies(resources, role_id)
        for s in _statements(p)
        if "sts:AssumeRole" in _as_list(s["Action"])
        for r in _as_list(s["Resource"])
    ]
    assert "arn:aws:iam::*:role/TeamCIPlanRole" in assumed and "arn:aws:iam::*:role/TeamCIRole" in assumed
    assert len(assumed) == 3, assumed


def test_alarms_fire_on_outcomes_not_on_retried_errors(resources: dict[str, Any]) -> None:
    from landing_zone.cdk.monitoring import retried_error_names
    from vending.exceptions import RETRYABLE_ERROR_NAMES, TerminalError

    alarms = _of_type(resources, "AWS::CloudWatch::Alarm").values()
    by_metric: dict[str, list[Any]] = {}
    for alarm in alarms:
        by_metric.setdefault(alarm["Properties"].get("MetricName", ""), []).append(alarm)
    # THEN no alarm watches Lambda's Errors metric (it counts AccessRoleNotReady, OrganizationsThrottled... retried)
    assert "Errors" not in by_metric
    # AND the workflow's failed, timed-out and aborted executions each have an alarm
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        assert by_metric[metric], metric
    assert len(by_metric["Throttles"]) == len(FUNCTIONS) and by_metric["GuardrailFindings"]
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"], "every alarm notifies the topic"
    # AND every function has a terminal-error alarm on a metric filter of its own log group
    filters = _of_type(resources, "AWS::Logs::MetricFilter").values()
    for spec in FUNCTIONS:
        metric = f"{spec.key}TerminalErrors"
        assert len(by_metric[metric]) == 1, spec.key
        (flt,) = [f for f in filters if f["Properties"]["MetricTransformations"][0]["MetricName"] == metric]
        log_group = resources[flt["Properties"]["LogGroupName"]["Ref"]]
        assert log_group["Properties"]["LogGroupName"] == f"/aws/lambda/{spec.name}"
        pattern = flt["Properties"]["FilterPattern"]
        # the filter counts the runtime's unhandled-error records, except the errors the ASL retries
        assert '$.errorType = "*"' in pattern
        excluded = set(re.findall(r'\$\.errorType != "([^"]+)"', pattern))
        assert excluded == set(retried_error_names())
    assert set(RETRYABLE_ERROR_NAMES) <= set(retried_error_names())
    assert not {cls.__name__ for cls in TerminalError.__subclasses__()} & set(retried_error_names())
    assert _of_type(resources, "AWS::CloudWatch::Dashboard")


def test_pipeline_source_asset_leaves_out_environments_and_local_state(
    synthesized: dict[str, Any], resources: dict[str, Any]
) -> None:
    # GIVEN the directory CDK staged for the CodeBuild source (what the asset zip holds)
    (project,) = _of_type(resources, "AWS::CodeBuild::Project").values()
    digest = re.search(r"([0-9a-f]{64})\.zip", json.dumps(project["Properties"]["Source"]["Location"]))
    assert digest
    staged = staged_asset(synthesized["outdir"], digest.group(1))
    names = {p.name for p in staged.rglob("*")}
    # THEN no virtualenv, VCS, local state, build output or Terraform working directory is in it
    assert not [n for n in names if n.startswith(".venv")]
    assert not names & {".git", ".vend", "cdk.out", "node_modules", "__pycache__", ".terraform"}
    # AND what the worker reads is: the package, the stacks with their lock files, the policies, the versions
    for needed in ("pyproject.toml", "vending", "terraform", "policies", "tools/versions.env"):
        assert (staged / needed).exists(), needed
    assert any(staged.rglob(".terraform.lock.hcl"))
    size = sum(p.stat().st_size for p in staged.rglob("*") if p.is_file())
    assert size < 10 * 1024 * 1024, f"pipeline source asset is {size} bytes"


def test_lambda_asset_ships_the_service_and_its_data_not_the_deployment_layer(
    synthesized: dict[str, Any], resources: dict[str, Any]
) -> None:
    # GIVEN the directory CDK staged for the functions' code (one asset shared by every function)
    functions = vending_functions(resources).values()
    keys = {f["Properties"]["Code"]["S3Key"] for f in functions if "S3Key" in f["Properties"].get("Code", {})}
    digests = {m.group(1) for k in keys if (m := re.search(r"([0-9a-f]{64})\.zip", json.dumps(k)))}
    assert len(digests) == 1, digests
    staged = synthesized["outdir"] / f"asset.{digests.pop()}"
    # THEN the service and everything intake reads at run time is there: the layout, the stacks and templates,
    # and the pure-Python dependencies the Powertools layer lacks
    for needed in (
        "vending/handlers",
        "scps",
        "step_functions",
        "landing_zone/layout.yaml",
        "terraform/templates/workloads",
        "terraform/environments",
        "yaml",
        "email_validator",
        "dns",
    ):
        assert (staged / needed).exists(), needed
    # AND the deployment layer and the emulator do not ship
    assert not (staged / "landing_zone" / "local").exists() and not (staged / "landing_zone" / "cdk").exists()
    assert not (staged / "moto").exists() and not list(staged.rglob("*.tfstate"))


def test_preflight_bootstrap_check_asks_for_the_version_the_assembly_requires(synthesized: dict[str, Any]) -> None:
    from vending.preflight import DEFAULT_QUALIFIER, MIN_BOOTSTRAP_VERSION

    # GIVEN the cloud assembly's manifest (what `cdk deploy` checks against the bootstrap stack)
    manifest = json.loads((synthesized["outdir"] / "manifest.json").read_text())
    found = re.findall(r'"requiresBootstrapStackVersion": (\d+)', json.dumps(manifest))
    parameters = set(re.findall(r'"bootstrapStackVersionSsmParameter": "([^"]+)"', json.dumps(manifest)))
    # THEN `vend platform preflight` requires at least that version, under the same parameter
    assert found and max(int(v) for v in found) == MIN_BOOTSTRAP_VERSION
    assert parameters == {f"/cdk-bootstrap/{DEFAULT_QUALIFIER}/version"}


def test_usage_capture_rule_queue_and_bus_policy(resources: dict[str, Any]) -> None:
    # The live meter's usage: the state-change events on the platform bus -> a queue -> RecordUsage; the bus admits
    # PutEvents from the organization's accounts only (their forwarding rules: vending.usage_forwarding).
    from vending.usage_forwarding import USAGE_EVENT_PATTERN

    [rule] = [
        r
        for r in _of_type(resources, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern") == USAGE_EVENT_PATTERN
    ]
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("UsageQueue")
    [mapping] = [
        m
        for m in _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0].startswith("UsageQueue")
    ]
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    [policy] = _of_type(resources, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents" and statement["Principal"] == "*"
    assert (
        list(statement["Condition"]) == ["StringEquals"]
        and "aws:PrincipalOrgID" in statement["Condition"]["StringEquals"]
    )
    [table] = [t for k, t in _of_type(resources, "AWS::DynamoDB::Table").items() if k.startswith("UsageTable")]
    assert [k["AttributeName"] for k in table["Properties"]["KeySchema"]] == ["account_id", "event_key"]


def _backstop_roles(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (k, r)
        for k, r in _of_type(resources, "AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == "VendingBudgetsFreezeRole"
    ]


def _backstop_setting(resources: dict[str, Any]) -> Any:
    fn = next(
        r
        for r in _of_type(resources, "AWS::Lambda::Function").values()
        if r["Properties"].get("FunctionName") == "vending-apply-guardrails"
    )
    return fn["Properties"]["Environment"]["Variables"]["VEND_BACKSTOP_ROLE_ARN"]


def test_backstop_role_is_left_out_without_the_freeze_policy_id(resources: dict[str, Any]) -> None:
    # GIVEN cdk.json's context (no vending:freezePolicyId) THEN no execution role, and the functions know it
    assert _backstop_roles(resources) == []
    assert _backstop_setting(resources) == ""


def test_backstop_role_attaches_only_vend_freeze_for_budgets_of_this_account(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.cdk.conftest import REPO_ROOT, _load_app_module, synthesize
    from tests.cdk.synth_cache import synthesized_into

    module = _load_app_module()
    # A malformed id is refused before anything is synthesized (bad input, nothing made)
    with pytest.raises(ValueError, match="vending:freezePolicyId"):
        module.build_app(outdir=str(tmp_path_factory.mktemp("bad")), context={"vending:freezePolicyId": "vend-freeze"})
    # GIVEN vend-freeze's id WHEN synthesized (cdk-nag included) THEN the role exists
    outdir = tmp_path_factory.mktemp("backstop")
    context = {"vending:freezePolicyId": "p-examplefz1"}
    stack = synthesized_into(outdir, REPO_ROOT, lambda d: synthesize(d, context), variant=json.dumps(context))
    resources = json.loads((outdir / f"{stack['stack_name']}.template.json").read_text())["Resources"]
    ((key, role),) = _backstop_roles(resources)
    # trusted by budgets.amazonaws.com for this account only (the confused-deputy guard)
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # allowed to attach/detach exactly vend-freeze, on accounts of the organization (no OU, no root, no other SCP)
    statements = [
        s
        for p in _of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": key} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert [sorted(_as_list(s["Action"])) for s in statements] == [
        ["organizations:AttachPolicy", "organizations:DetachPolicy"]
    ]
    rendered = json.dumps(statements[0]["Resource"])
    assert "policy/o-exampleorg1/service_control_policy/p-examplefz1" in rendered
    assert "account/o-exampleorg1/*" in rendered and "p-*" not in rendered and ":ou/" not in rendered
    # and the functions hand exactly this role to Budgets
    assert "VendingBudgetsFreezeRole" in json.dumps(_backstop_setting(resources))
