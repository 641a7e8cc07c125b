"""A private, versioned, KMS-encrypted bucket, made idempotently: the state bucket and the archive share it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vending.aws.errors import error_code


def ensure_private_bucket(s3: Any, bucket: str, *, region: str, kms_key_arn: str | None = None) -> bool:
    """Create the bucket if missing (owner-enforced objects), block public access, version it and encrypt it with
    the key (the AWS-managed S3 key when None). True when this call created it; every step is safe to repeat."""
    created = True
    try:
        args: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
        if region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**args)
    except ClientError as e:
        if error_code(e) != "BucketAlreadyOwnedByYou":
            raise
        created = False
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    default: dict[str, str] = {"SSEAlgorithm": "aws:kms"}
    if kms_key_arn:
        default["KMSMasterKeyID"] = kms_key_arn
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
        },
    )
    return created
