"""aws:ResourceTag/<key> from the emulator's state (MotoLookups.resource_tags): AWS puts a resource's own tags in the
request context of every call on it, so a tag-based deny (the cost-tag fence after create, a team's ABAC policy)
decides on them. Read from moto's backends without making any (a new EC2 region backend would make a default VPC)."""

from __future__ import annotations

import boto3
from moto.backends import get_backend

from landing_zone.local.authorization.state import MotoLookups

ACCOUNT, REGION = "123456789012", "us-east-1"
TAGS = {"team": "team-a", "cost-center": "cc-1"}


def test_the_tags_of_a_resource_of_each_kind_are_its_own(aws: None) -> None:
    # GIVEN tagged resources of several services, and an untagged instance beside the tagged one
    ec2 = boto3.client("ec2", REGION)
    run = {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1}
    tag_list = [{"Key": k, "Value": v} for k, v in TAGS.items()]
    tagged = ec2.run_instances(**run, TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}])
    bare = ec2.run_instances(**run)
    boto3.client("logs", REGION).create_log_group(logGroupName="g", tags=TAGS)
    topic = boto3.client("sns", REGION).create_topic(Name="t", Tags=tag_list)["TopicArn"]
    key = boto3.client("kms", REGION).create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in TAGS.items()])
    boto3.client("dynamodb", REGION).create_table(
        TableName="tb",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=tag_list,
    )
    boto3.client("s3", REGION).create_bucket(Bucket="tagged-bucket")
    boto3.client("s3", REGION).put_bucket_tagging(Bucket="tagged-bucket", Tagging={"TagSet": tag_list})
    lookups, base = MotoLookups(), f"{REGION}:{ACCOUNT}"
    # WHEN each resource's tags are read by its ARN THEN they are its own tags
    for arn in (
        f"arn:aws:ec2:{base}:instance/{tagged['Instances'][0]['InstanceId']}",
        f"arn:aws:logs:{base}:log-group:g",
        topic,
        key["KeyMetadata"]["Arn"],
        f"arn:aws:dynamodb:{base}:table/tb",
    ):
        assert lookups.resource_tags(arn) == TAGS, arn
    # AND an untagged resource has none, an unknown one and one of another account or region are not found
    assert not lookups.resource_tags(f"arn:aws:ec2:{base}:instance/{bare['Instances'][0]['InstanceId']}")
    assert lookups.resource_tags(f"arn:aws:ec2:{base}:instance/i-0000000000000000") is None
    assert lookups.resource_tags(f"arn:aws:logs:{REGION}:210987654321:log-group:g") is None
    assert lookups.resource_tags(f"arn:aws:sns:us-west-2:{ACCOUNT}:t") is None
    # AND a bucket's tags are not read: S3 puts them in aws:ResourceTag only once ABAC is on for the bucket
    assert lookups.resource_tags("arn:aws:s3:::tagged-bucket") is None


def test_reading_tags_makes_no_backend(aws: None) -> None:
    # GIVEN EC2 used in one region only
    boto3.client("ec2", REGION).describe_vpcs()
    # WHEN tags of a resource in another region are read
    assert MotoLookups().resource_tags(f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-1") is None
    # THEN no backend was made for that region (it would have made a default VPC there)
    assert "eu-west-1" not in dict.keys(get_backend("ec2")[ACCOUNT])  # type: ignore[call-overload]
