"""The orphan inventory the chaos soak reports: zero after a clean vend, and it sees what was planted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from landing_zone.local import orphans, runtime
from vending.aws.sessions import access_role_arn, assume_role_session
from vending.layout import cached_layout
from vending.lifecycle import RequestRecord, RequestStore, Status
from vending.pipeline import orchestration
from vending.service import submit_request
from vending.settings import Settings


@pytest.fixture(scope="module")
def vended() -> Iterator[tuple[RequestRecord, Any]]:
    """One team vended READY through the real state machine (pipelines recorded SUCCEEDED at launch)."""
    from benchmarks.vend_throughput import request, skip_pipelines

    patch = pytest.MonkeyPatch()
    patch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    patch.setattr(orchestration.LocalThreadLauncher, "launch", orchestration.LocalThreadLauncher.launch)
    try:
        with runtime.Emulator():
            deployment = runtime.deploy()
            skip_pipelines()
            org = boto3.client("organizations")
            scps_before = orphans.scp_policy_ids(org)
            store = RequestStore(boto3.client("dynamodb"), Settings.from_env().requests_table)
            req = request(0)
            submit_request(boto3.client("stepfunctions"), store, deployment.state_machine_arn, req)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                record = store.get(req.request_id)
                if record is not None and record.status in (Status.READY, Status.FAILED):
                    break
                time.sleep(0.5)
            assert record is not None and record.status == Status.READY, record
            yield record, scps_before
    finally:
        patch.undo()


def _report(record: RequestRecord) -> dict[str, Any]:
    return orphans.orphan_report(
        {record.request_id: record},
        sts=boto3.client("sts"),
        org=boto3.client("organizations"),
        access_role_name=cached_layout().organization.access_role_name,
    )


def test_orphans_clean_vend_leaves_none(vended: tuple[RequestRecord, Any]) -> None:
    # GIVEN a team vended READY without faults
    record, scps_before = vended
    # WHEN its account and the organization are inventoried
    report = _report(record)
    # THEN nothing in the account lies outside the request's expected set, and no new SCP is left unattached
    assert report["count"] == 0, report
    assert orphans.unattached_new_scps(boto3.client("organizations"), scps_before) == []


def test_orphans_planted_bucket_role_key_alias_and_scp_are_counted(vended: tuple[RequestRecord, Any]) -> None:
    # GIVEN the READY team's account, and in it what a duplicated step would leave: a second bucket, an extra role,
    # a second live KMS key with its own alias, an SCP attached to the account that the record does not list
    record, scps_before = vended
    assert record.account_id
    layout = cached_layout()
    member = assume_role_session(
        boto3.client("sts"),
        access_role_arn(record.account_id, layout.organization.access_role_name),
        "plant",
        "us-east-1",
    )
    member.client("s3").create_bucket(Bucket=f"tfstate-{record.account_id}-us-east-1-copy")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*"}]}
    member.client("iam").create_role(RoleName="TeamCIRole2", AssumeRolePolicyDocument=json.dumps(trust))
    kms = member.client("kms")
    key = kms.create_key(Description="a retried CreateKey's twin")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/terraform-state-2", TargetKeyId=key)
    org = boto3.client("organizations")
    stray = org.create_policy(
        Name="vend-stray", Description="planted", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(trust)
    )["Policy"]["PolicySummary"]["Id"]
    unattached = org.create_policy(
        Name="vend-unattached", Description="planted", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(trust)
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=stray, TargetId=record.account_id)
    try:
        # WHEN the account is inventoried
        report = _report(record)
        # THEN each planted resource is an orphan of its kind, named under the account
        assert report["by_account"][record.account_id] == {
            "bucket": [f"tfstate-{record.account_id}-us-east-1-copy"],
            "iam_role": ["TeamCIRole2"],
            "kms_key": [f"us-east-1:{key}"],
            "kms_alias": ["us-east-1:alias/terraform-state-2"],
            "scp_attachment": ["vend-stray"],
        }
        assert report["count"] == 5
        assert report["by_kind"]["bucket"] == 1 and report["by_kind"]["kms_key"] == 1
        # AND a new SCP attached to nothing is an organization-wide orphan
        assert orphans.unattached_new_scps(org, scps_before) == ["vend-unattached"]
        # AND a key scheduled for deletion (bootstrap's cleanup of a duplicate) is no longer live, but still counted
        # apart for as long as it exists
        kms.delete_alias(AliasName="alias/terraform-state-2")
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        after = _report(record)["by_account"][record.account_id]
        assert "kms_key" not in after and after["kms_key_pending_deletion"] == [f"us-east-1:{key}"]
    finally:
        org.detach_policy(PolicyId=stray, TargetId=record.account_id)
        org.delete_policy(PolicyId=stray)
        org.delete_policy(PolicyId=unattached)


def test_orphans_a_resource_of_each_kind_in_each_region_is_named(vended: tuple[RequestRecord, Any]) -> None:
    # GIVEN the READY team's account and, in every region of the allow-list, a live KMS key, a key pending deletion,
    # an alias, a DynamoDB table and a log group; an inline and an attached policy on the vend's roles; an SCP
    # attached to an OU of the organization
    record, _ = vended
    assert record.account_id
    layout = cached_layout()
    regions = layout.organization.allowed_regions
    assert len(regions) > 1
    sts, org = boto3.client("sts"), boto3.client("organizations")
    member = assume_role_session(
        sts, access_role_arn(record.account_id, layout.organization.access_role_name), "plant", regions[0]
    )
    ou_attachments_before = orphans.ou_scp_attachments(org)
    before = _report(record)["by_account"].get(record.account_id, {})  # what the other tests left, if anything
    planted: dict[str, list[str]] = {kind: [] for kind in ("kms_key", "kms_key_pending_deletion", "kms_alias")}
    planted |= {"dynamodb_table": [], "log_group": []}
    cleanup = []
    for region in regions:
        kms = member.client("kms", region_name=region)
        live = kms.create_key()["KeyMetadata"]["KeyId"]
        doomed = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
        kms.create_alias(AliasName="alias/planted", TargetKeyId=live)
        ddb = member.client("dynamodb", region_name=region)
        ddb.create_table(
            TableName="planted",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        )
        member.client("logs", region_name=region).create_log_group(logGroupName="/planted")
        planted["kms_key"].append(f"{region}:{live}")
        planted["kms_key_pending_deletion"].append(f"{region}:{doomed}")
        planted["kms_alias"].append(f"{region}:alias/planted")
        planted["dynamodb_table"].append(f"{region}:planted")
        planted["log_group"].append(f"{region}:/planted")
        cleanup.append((kms, live, ddb, member.client("logs", region_name=region)))
    iam = member.client("iam")
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    iam.put_role_policy(RoleName="TeamCIRole", PolicyName="Planted", PolicyDocument=document)
    managed = iam.create_policy(PolicyName="Planted", PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="TeamCIPlanRole", PolicyArn=managed)
    ou = next(
        o["Id"]
        for o in org.list_organizational_units_for_parent(ParentId=org.list_roots()["Roots"][0]["Id"])[
            "OrganizationalUnits"
        ]
    )
    content = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    scp = org.create_policy(
        Name="vend-planted-ou", Description="planted", Type="SERVICE_CONTROL_POLICY", Content=content
    )
    scp_id = scp["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=scp_id, TargetId=ou)
    try:
        # WHEN the account and the organization are inventoried
        report = _report(record)["by_account"][record.account_id]
        found = {kind: sorted(set(names) - set(before.get(kind, []))) for kind, names in report.items()}
        # THEN each planted resource is named, under its kind and region, and nothing else is new
        for kind, names in planted.items():
            assert found.pop(kind) == sorted(names), kind
        assert found.pop("role_policy") == [f"TeamCIPlanRole:attached:{managed}", "TeamCIRole:inline:Planted"]
        assert found.pop("iam_policy") == ["Planted"]
        assert not any(found.values()), found
        assert orphans.new_ou_scp_attachments(org, ou_attachments_before) == [f"{ou}:vend-planted-ou"]
    finally:
        org.detach_policy(PolicyId=scp_id, TargetId=ou)
        org.delete_policy(PolicyId=scp_id)
        iam.delete_role_policy(RoleName="TeamCIRole", PolicyName="Planted")
        iam.detach_role_policy(RoleName="TeamCIPlanRole", PolicyArn=managed)
        iam.delete_policy(PolicyArn=managed)
        for kms, live, ddb, logs in cleanup:
            kms.delete_alias(AliasName="alias/planted")
            kms.schedule_key_deletion(KeyId=live, PendingWindowInDays=7)
            ddb.delete_table(TableName="planted")
            logs.delete_log_group(logGroupName="/planted")


def test_orphans_bootstraps_own_twin_cleanup_is_owned_any_other_doomed_key_is_counted(
    vended: tuple[RequestRecord, Any],
) -> None:
    from vending.bootstrap import STATE_KEY_TAG

    # GIVEN the READY team's account, with a state-key twin that bootstrap scheduled for deletion (a retried
    # CreateKey under a lost answer; the soak met one), and the same-looking key in the second region
    record, _ = vended
    assert record.account_id
    layout = cached_layout()
    home = record.request["regions"][0]
    other = next(r for r in layout.organization.allowed_regions if r != home)
    member = assume_role_session(
        boto3.client("sts"), access_role_arn(record.account_id, layout.organization.access_role_name), "plant", home
    )
    doomed = {}
    for region in (home, other):
        kms = member.client("kms", region_name=region)
        doomed[region] = kms.create_key(Tags=[STATE_KEY_TAG])["KeyMetadata"]["KeyId"]
        kms.schedule_key_deletion(KeyId=doomed[region], PendingWindowInDays=7)
    # WHEN the orphans are listed
    found = _report(record)["by_account"].get(record.account_id, {})
    # THEN the home region's twin is bootstrap's own cleanup; the other region's is an orphan
    assert f"{home}:{doomed[home]}" not in found.get("kms_key_pending_deletion", [])
    assert f"{other}:{doomed[other]}" in found.get("kms_key_pending_deletion", [])


def test_orphans_a_tagged_resource_no_terraform_state_records_is_named_in_each_region(
    vended: tuple[RequestRecord, Any],
) -> None:
    # GIVEN the READY team's account and, in every region of the allow-list, a queue and a topic carrying the team's
    # tags (what a stack makes), one of the topics recorded in a Terraform state object of the state bucket
    record, _ = vended
    assert record.account_id and record.state_bucket
    layout = cached_layout()
    regions = layout.organization.allowed_regions
    member = assume_role_session(
        boto3.client("sts"),
        access_role_arn(record.account_id, layout.organization.access_role_name),
        "plant",
        regions[0],
    )
    before = _report(record)["by_account"].get(record.account_id, {}).get("tagged_resource", [])
    tags = {"team": record.request["team"], "stage": record.request["stage"], "cost-center": "CC-1001"}
    planted, recorded, cleanup = [], "", []
    for region in regions:
        sqs, sns = member.client("sqs", region_name=region), member.client("sns", region_name=region)
        url = sqs.create_queue(QueueName="stack-queue", tags=tags)["QueueUrl"]
        queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = sns.create_topic(Name="stack-topic", Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["TopicArn"]
        planted.append(queue)
        if recorded:
            planted.append(topic)
        else:
            recorded = topic  # the first region's topic is in a state: a stack owns it
        cleanup.append((sqs, url, sns, topic))
    s3 = member.client("s3")
    state = {"version": 4, "resources": [{"type": "aws_sns_topic", "instances": [{"attributes": {"arn": recorded}}]}]}
    s3.put_object(Bucket=record.state_bucket, Key="stacks/topic/terraform.tfstate", Body=json.dumps(state).encode())
    try:
        # WHEN the account is inventoried
        found = _report(record)["by_account"][record.account_id].get("tagged_resource", [])
        # THEN every planted resource but the one a state records is named, by its ARN (its region in it)
        assert sorted(set(found) - set(before)) == sorted(planted)
        assert recorded not in found
    finally:
        s3.delete_object(Bucket=record.state_bucket, Key="stacks/topic/terraform.tfstate")
        for sqs, url, sns, topic in cleanup:
            sqs.delete_queue(QueueUrl=url)
            sns.delete_topic(TopicArn=topic)
    # AND with them gone the account is back to what it held before
    assert _report(record)["by_account"].get(record.account_id, {}).get("tagged_resource", []) == before


def test_orphans_what_a_stack_made_of_each_kind_is_owned_while_its_state_records_it(
    vended: tuple[RequestRecord, Any],
) -> None:
    # GIVEN the READY team's account and what a stack makes of the inventoried kinds: a bucket, a role with an inline
    # and an attached policy, a customer managed policy, a key with its alias, a table and a log group in the second
    # region; and a state object in the state bucket recording them all
    record, _ = vended
    assert record.account_id and record.state_bucket
    layout = cached_layout()
    home, other = layout.organization.allowed_regions[:2]
    member = assume_role_session(
        boto3.client("sts"), access_role_arn(record.account_id, layout.organization.access_role_name), "plant", home
    )
    before = _report(record)["by_account"].get(record.account_id, {})
    s3, iam, kms = member.client("s3"), member.client("iam"), member.client("kms", region_name=other)
    bucket = f"stack-data-{record.account_id}"
    s3.create_bucket(Bucket=bucket)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    role = iam.create_role(RoleName="StackNodeRole", Path="/stack/", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="StackNodeRole", PolicyName="Reads", PolicyDocument=document)
    managed = iam.create_policy(PolicyName="StackManaged", Path="/stack/", PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="StackNodeRole", PolicyArn=managed)
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/stack-data", TargetKeyId=key["KeyId"])
    logs = member.client("logs", region_name=other)
    logs.create_log_group(logGroupName="/stack/app")
    prefix = f"{record.account_id}"
    resources = [
        ("aws_s3_bucket", {"arn": f"arn:aws:s3:::{bucket}", "bucket": bucket}),
        ("aws_iam_role", {"arn": role["Arn"], "name": "StackNodeRole"}),
        ("aws_iam_role_policy", {"role": "StackNodeRole", "name": "Reads"}),
        ("aws_iam_policy", {"arn": managed}),
        ("aws_iam_role_policy_attachment", {"role": "StackNodeRole", "policy_arn": managed}),
        ("aws_kms_key", {"arn": key["Arn"]}),
        ("aws_kms_alias", {"arn": f"arn:aws:kms:{other}:{prefix}:alias/stack-data"}),
        ("aws_cloudwatch_log_group", {"arn": f"arn:aws:logs:{other}:{prefix}:log-group:/stack/app"}),
    ]
    state = {"version": 4, "resources": [{"type": t, "instances": [{"attributes": a}]} for t, a in resources]}
    state_key = "stacks/data/terraform.tfstate"
    planted = {
        "bucket": [bucket],
        "iam_role": ["StackNodeRole"],
        "role_policy": [f"StackNodeRole:attached:{managed}", "StackNodeRole:inline:Reads"],
        "iam_policy": ["StackManaged"],
        "kms_key": [f"{other}:{key['KeyId']}"],
        "kms_alias": [f"{other}:alias/stack-data"],
        "log_group": [f"{other}:/stack/app"],
    }
    try:
        # WHEN the account is inventoried with no state recording them (the negative control): each is an orphan
        unrecorded = _report(record)["by_account"][record.account_id]
        assert {k: sorted(set(v) - set(before.get(k, []))) for k, v in unrecorded.items() if k in planted} == planted
        # AND once a state object in the state bucket records them, none is
        s3.put_object(Bucket=record.state_bucket, Key=state_key, Body=json.dumps(state).encode())
        recorded = _report(record)["by_account"].get(record.account_id, {})
        assert recorded == before
    finally:
        s3.delete_object(Bucket=record.state_bucket, Key=state_key)
        s3.delete_bucket(Bucket=bucket)
        iam.delete_role_policy(RoleName="StackNodeRole", PolicyName="Reads")
        iam.detach_role_policy(RoleName="StackNodeRole", PolicyArn=managed)
        iam.delete_policy(PolicyArn=managed)
        iam.delete_role(RoleName="StackNodeRole")
        kms.delete_alias(AliasName="alias/stack-data")
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
        logs.delete_log_group(logGroupName="/stack/app")
