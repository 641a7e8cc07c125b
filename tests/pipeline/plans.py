"""Small `terraform show -json` documents for the policy tests, shaped like the real ones (resource_changes +
configuration with references)."""

from __future__ import annotations

from typing import Any

COST_TAGS = {"team": "team-mlops", "stage": "staging", "cost-center": "CC-1003", "stack": "eks"}


def change(address: str, rtype: str, after: dict[str, Any], *, actions: tuple[str, ...] = ("create",),
           module: str = "", after_unknown: dict[str, Any] | None = None) -> dict[str, Any]:
    name = address.rsplit(".", 1)[-1].split("[")[0]
    rc: dict[str, Any] = {"address": address, "mode": "managed", "type": rtype, "name": name,
                          "change": {"actions": list(actions), "after": after, "after_unknown": after_unknown or {}}}
    if module:
        rc["module_address"] = module
    return rc


def plan(*changes: dict[str, Any], configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"format_version": "1.2", "resource_changes": list(changes),
            "configuration": configuration or {"root_module": {}}}


def secure_bucket_plan(module: str = "module.artifacts") -> dict[str, Any]:
    """A bucket plus its full public access block, wired by reference as the s3 module does."""
    return plan(
        change(f"{module}.aws_s3_bucket.this", "aws_s3_bucket", {"bucket": "b", "tags_all": COST_TAGS}, module=module),
        change(f"{module}.aws_s3_bucket_public_access_block.this", "aws_s3_bucket_public_access_block",
               {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
                "restrict_public_buckets": True}, module=module),
        configuration={"root_module": {"module_calls": {module.split(".")[1]: {"module": {"resources": [
            {"address": "aws_s3_bucket.this", "type": "aws_s3_bucket", "name": "this", "expressions": {}},
            {"address": "aws_s3_bucket_public_access_block.this", "type": "aws_s3_bucket_public_access_block",
             "name": "this",
             "expressions": {"bucket": {"references": ["aws_s3_bucket.this.id", "aws_s3_bucket.this"]}}},
        ]}}}}},
    )
