"""Small `terraform show -json` documents for the policy tests, shaped like the real ones (resource_changes +
configuration with references)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

COST_TAGS = {"team": "team-mlops", "stage": "staging", "cost-center": "CC-1003", "stack": "eks"}


def change(
    address: str,
    rtype: str,
    after: dict[str, Any],
    *,
    actions: tuple[str, ...] = ("create",),
    module: str = "",
    after_unknown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    name = address.rsplit(".", 1)[-1].split("[")[0]
    rc: dict[str, Any] = {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "change": {"actions": list(actions), "after": after, "after_unknown": after_unknown or {}},
    }
    if module:
        rc["module_address"] = module
    return rc


def plan(*changes: dict[str, Any], configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "resource_changes": list(changes),
        "configuration": configuration or {"root_module": {}},
    }


def secure_bucket_plan(module: str = "module.artifacts") -> dict[str, Any]:
    """A bucket plus its full public access block, wired by reference as the s3 module does."""
    return plan(
        change(f"{module}.aws_s3_bucket.this", "aws_s3_bucket", {"bucket": "b", "tags_all": COST_TAGS}, module=module),
        change(
            f"{module}.aws_s3_bucket_public_access_block.this",
            "aws_s3_bucket_public_access_block",
            {
                "block_public_acls": True,
                "block_public_policy": True,
                "ignore_public_acls": True,
                "restrict_public_buckets": True,
            },
            module=module,
        ),
        configuration={
            "root_module": {
                "module_calls": {
                    module.split(".")[1]: {
                        "module": {
                            "resources": [
                                {
                                    "address": "aws_s3_bucket.this",
                                    "type": "aws_s3_bucket",
                                    "name": "this",
                                    "expressions": {},
                                },
                                {
                                    "address": "aws_s3_bucket_public_access_block.this",
                                    "type": "aws_s3_bucket_public_access_block",
                                    "name": "this",
                                    "expressions": {
                                        "bucket": {"references": ["aws_s3_bucket.this.id", "aws_s3_bucket.this"]}
                                    },
                                },
                            ]
                        }
                    }
                }
            }
        },
    )


# --- the policy corpus ------------------------------------------------------------------------------------------------
# Each case: a plan, the GPU tier of the team, and the violations it must produce as (rule, address, value fragment
# that the message must name). Compliant cases expect none. Built to cover every rule, every resource type that can
# launch an instance type, values known only after apply, and absent tags.

BOUNDARY = "arn:aws:iam::123456789012:policy/VendingCIBoundary"
S3_CONFIG_MODULE = "artifacts"
TLS_ONLY = (
    '{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*",'
    '"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}'
)


@dataclass(frozen=True)
class Case:
    name: str
    tier: str
    doc: dict[str, Any]
    expected: frozenset[tuple[str, str, str]]  # (rule, address, fragment of the offending value)
    team: str = "team-mlops"


def tagged(after: dict[str, Any], **tags: str) -> dict[str, Any]:
    return {**after, "tags": {}, "tags_all": {**COST_TAGS, **tags}}


def tag_blocks(**tags: str) -> list[dict[str, Any]]:
    """An Auto Scaling group's `tag` blocks (default_tags never reach a group)."""
    return [{"key": k, "value": v, "propagate_at_launch": True} for k, v in {**COST_TAGS, **tags}.items()]


def one(address: str, rtype: str, after: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """A single resource plan."""
    return plan(change(address, rtype, after, **kw))


def s3_plan(
    *,
    policy: str | None = None,
    policy_unknown: bool = False,
    flags: dict[str, Any] | None = None,
    flags_unknown: tuple[str, ...] = (),
    acl: str | None = None,
    with_pab: bool = True,
) -> dict[str, Any]:
    """The s3 module's shape: bucket, public access block and bucket policy wired by reference."""
    module = f"module.{S3_CONFIG_MODULE}"
    pab_flags = {
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
        **(flags or {}),
    }
    for flag in flags_unknown:
        pab_flags.pop(flag, None)
    changes = [
        change(
            f"{module}.aws_s3_bucket.this",
            "aws_s3_bucket",
            tagged({"bucket": "b", "force_destroy": False}),
            module=module,
            after_unknown={"arn": True, "id": True, "policy": True, "acl": True},
        )
    ]
    resources: list[dict[str, Any]] = [
        {
            "address": "aws_s3_bucket.this",
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "this",
            "expressions": {"bucket": {"constant_value": "b"}},
        }
    ]
    ref = {"references": ["aws_s3_bucket.this.id", "aws_s3_bucket.this"]}
    if with_pab:
        changes.append(
            change(
                f"{module}.aws_s3_bucket_public_access_block.this",
                "aws_s3_bucket_public_access_block",
                pab_flags,
                module=module,
                after_unknown={"bucket": True, **dict.fromkeys(flags_unknown, True)},
            )
        )
        resources.append(
            {
                "address": "aws_s3_bucket_public_access_block.this",
                "mode": "managed",
                "type": "aws_s3_bucket_public_access_block",
                "name": "this",
                "expressions": {"bucket": ref},
            }
        )
    if policy is not None or policy_unknown:
        after = {} if policy_unknown else {"policy": policy}
        changes.append(
            change(
                f"{module}.aws_s3_bucket_policy.this",
                "aws_s3_bucket_policy",
                after,
                module=module,
                after_unknown={"bucket": True, **({"policy": True} if policy_unknown else {})},
            )
        )
        resources.append(
            {
                "address": "aws_s3_bucket_policy.this",
                "mode": "managed",
                "type": "aws_s3_bucket_policy",
                "name": "this",
                "expressions": {
                    "bucket": ref,
                    "policy": {"references": ["aws_s3_bucket.this.arn", "aws_s3_bucket.this"]},
                },
            }
        )
    if acl is not None:
        changes.append(
            change(
                f"{module}.aws_s3_bucket_acl.this",
                "aws_s3_bucket_acl",
                {"acl": acl},
                module=module,
                after_unknown={"bucket": True},
            )
        )
        resources.append(
            {
                "address": "aws_s3_bucket_acl.this",
                "mode": "managed",
                "type": "aws_s3_bucket_acl",
                "name": "this",
                "expressions": {"bucket": ref},
            }
        )
    return plan(
        *changes,
        configuration={"root_module": {"module_calls": {S3_CONFIG_MODULE: {"module": {"resources": resources}}}}},
    )


def public_policy(condition: dict[str, Any] | None = None, principal: Any = "*") -> str:
    statement: dict[str, Any] = {
        "Sid": "Public",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _gpu(
    name: str,
    tier: str,
    address: str,
    rtype: str,
    after: dict[str, Any],
    value: str,
    after_unknown: dict[str, Any] | None = None,
) -> Case:
    return Case(
        name,
        tier,
        one(address, rtype, tagged(after), after_unknown=after_unknown),
        frozenset({("gpu-instance-tier", address, value)}),
    )


def _lt(instance_type: str) -> list[dict[str, Any]]:
    return [
        {
            "launch_template_specification": [{"launch_template_id": "lt-1", "version": "$Latest"}],
            "override": [{"instance_type": "m6i.large"}, {"instance_type": instance_type}],
        }
    ]


def violating_cases() -> list[Case]:
    g = "gpu-instance-tier"
    cases = [
        _gpu(
            "ec2-instance-p5-in-none",
            "none",
            "aws_instance.gpu",
            "aws_instance",
            {"instance_type": "p5.48xlarge"},
            "p5.48xlarge",
        ),
        _gpu(
            "launch-template-p4d-in-inference",
            "inference",
            "aws_launch_template.gpu",
            "aws_launch_template",
            {"instance_type": "p4d.24xlarge"},
            "p4d.24xlarge",
        ),
        _gpu(
            "launch-configuration-g5-in-none",
            "none",
            "aws_launch_configuration.gpu",
            "aws_launch_configuration",
            {"instance_type": "g5.xlarge"},
            "g5.xlarge",
        ),
        _gpu(
            "asg-mixed-instances-override",
            "none",
            "aws_autoscaling_group.mixed",
            "aws_autoscaling_group",
            {
                "mixed_instances_policy": [{"launch_template": _lt("g6.2xlarge"), "instances_distribution": []}],
                "tag": tag_blocks(),
            },
            "g6.2xlarge",
        ),
        _gpu(
            "ec2-fleet-override",
            "inference",
            "aws_ec2_fleet.this",
            "aws_ec2_fleet",
            {"launch_template_config": [{"override": [{"instance_type": "trn1.32xlarge"}]}]},
            "trn1.32xlarge",
        ),
        _gpu(
            "spot-instance-request",
            "none",
            "aws_spot_instance_request.cheap",
            "aws_spot_instance_request",
            {"instance_type": "g4dn.xlarge", "spot_price": "0.5"},
            "g4dn.xlarge",
        ),
        _gpu(
            "spot-fleet-launch-specification",
            "none",
            "aws_spot_fleet_request.a",
            "aws_spot_fleet_request",
            {"launch_specification": [{"instance_type": "p3.2xlarge", "ami": "ami-1"}]},
            "p3.2xlarge",
        ),
        _gpu(
            "spot-fleet-template-overrides",
            "inference",
            "aws_spot_fleet_request.b",
            "aws_spot_fleet_request",
            {"launch_template_config": [{"overrides": [{"instance_type": "p5.48xlarge"}]}]},
            "p5.48xlarge",
        ),
        _gpu(
            "eks-node-group-types",
            "inference",
            'module.eks.aws_eks_node_group.this["train"]',
            "aws_eks_node_group",
            {"instance_types": ["g5.2xlarge", "p5.48xlarge"]},
            "p5.48xlarge",
        ),
        _gpu(
            "batch-compute-environment",
            "none",
            "aws_batch_compute_environment.gpu",
            "aws_batch_compute_environment",
            {"compute_resources": [{"instance_type": ["optimal", "g5.12xlarge"], "type": "EC2"}]},
            "g5.12xlarge",
        ),
        _gpu(
            "sagemaker-endpoint-variant",
            "inference",
            "aws_sagemaker_endpoint_configuration.llm",
            "aws_sagemaker_endpoint_configuration",
            {"production_variants": [{"variant_name": "a", "instance_type": "ml.p4d.24xlarge"}]},
            "ml.p4d.24xlarge",
        ),
        _gpu(
            "sagemaker-shadow-variant",
            "none",
            "aws_sagemaker_endpoint_configuration.shadow",
            "aws_sagemaker_endpoint_configuration",
            {
                "production_variants": [{"instance_type": "ml.m5.large"}],
                "shadow_production_variants": [{"instance_type": "ml.g5.xlarge"}],
            },
            "ml.g5.xlarge",
        ),
        _gpu(
            "sagemaker-notebook",
            "none",
            "aws_sagemaker_notebook_instance.nb",
            "aws_sagemaker_notebook_instance",
            {"instance_type": "ml.g4dn.xlarge"},
            "ml.g4dn.xlarge",
        ),
        _gpu(
            "capacity-reservation",
            "inference",
            "aws_ec2_capacity_reservation.block",
            "aws_ec2_capacity_reservation",
            {"instance_type": "p5.48xlarge", "instance_count": 1},
            "p5.48xlarge",
        ),
        _gpu(
            "emr-core-instance-group",
            "none",
            "aws_emr_cluster.spark",
            "aws_emr_cluster",
            {
                "master_instance_group": [{"instance_type": "m5.xlarge"}],
                "core_instance_group": [{"instance_type": "g5.4xlarge"}],
            },
            "g5.4xlarge",
        ),
        _gpu(
            "emr-instance-fleet",
            "none",
            "aws_emr_instance_fleet.task",
            "aws_emr_instance_fleet",
            {"instance_type_configs": [{"instance_type": "p3.8xlarge"}]},
            "p3.8xlarge",
        ),
        _gpu(
            "sagemaker-domain-default-resource-spec",
            "none",
            "aws_sagemaker_domain.studio",
            "aws_sagemaker_domain",
            {
                "default_user_settings": [
                    {"jupyter_lab_app_settings": [{"default_resource_spec": [{"instance_type": "ml.g5.2xlarge"}]}]}
                ]
            },
            "ml.g5.2xlarge",
        ),
        _gpu(
            "gamelift-fleet",
            "none",
            "aws_gamelift_fleet.game",
            "aws_gamelift_fleet",
            {"ec2_instance_type": "g4dn.xlarge"},
            "g4dn.xlarge",
        ),
        _gpu(
            "instance-type-unknown-at-plan",
            "training",
            "aws_instance.from_lookup",
            "aws_instance",
            {},
            "unknown",
            after_unknown={"instance_type": True},
        ),
        _gpu(
            "node-group-types-unknown",
            "training",
            "aws_eks_node_group.computed",
            "aws_eks_node_group",
            {},
            "unknown",
            after_unknown={"instance_types": True},
        ),
        _gpu(
            "asg-overrides-block-unknown",
            "training",
            "aws_autoscaling_group.dyn",
            "aws_autoscaling_group",
            {"mixed_instances_policy": [{"launch_template": [{}]}], "tag": tag_blocks()},
            "unknown",
            after_unknown={"mixed_instances_policy": [{"launch_template": [{"override": True}]}]},
        ),
        _gpu(
            "launch-template-instance-requirements",
            "inference",
            "aws_launch_template.abs",
            "aws_launch_template",
            {"instance_requirements": [{"vcpu_count": [{"min": 4}], "memory_mib": [{"min": 8192}]}]},
            "instance_requirements",
        ),
        Case(
            "tier-case-insensitive",
            "none",
            one("aws_instance.upper", "aws_instance", tagged({"instance_type": "P5.48XLARGE"})),
            frozenset({(g, "aws_instance.upper", "P5.48XLARGE")}),
        ),
    ]
    t = "required-cost-tags"
    cases += [
        Case(
            "tag-absent",
            "none",
            one(
                "aws_cloudwatch_log_group.a",
                "aws_cloudwatch_log_group",
                {"name": "/a", "tags": {}, "tags_all": {"team": "team-mlops", "stage": "staging"}},
            ),
            frozenset({(t, "aws_cloudwatch_log_group.a", "cost-center")}),
        ),
        Case(
            "tag-empty",
            "none",
            one("aws_sqs_queue.q", "aws_sqs_queue", tagged({"name": "q"}, stage="  ")),
            frozenset({(t, "aws_sqs_queue.q", "stage")}),
        ),
        Case(
            "no-tags-at-all",
            "none",
            one("aws_kms_key.k", "aws_kms_key", {"description": "k", "tags": None, "tags_all": {}}),
            frozenset({(t, "aws_kms_key.k", tag) for tag in ("team", "stage", "cost-center")}),
        ),
        Case(
            "tags-only-attribute-absent",
            "none",
            one("aws_thing.legacy", "aws_thing", {"tags": {"team": "x"}}),
            frozenset(
                {
                    (t, "aws_thing.legacy", "stage"),
                    (t, "aws_thing.legacy", "cost-center"),
                    (t, "aws_thing.legacy", "team-mlops"),
                }
            ),
        ),
        Case(
            "tags-all-unknown-unprovable",
            "none",
            one(
                "aws_dynamodb_table.t",
                "aws_dynamodb_table",
                {"name": "t", "tags": {"team": "team-mlops"}},
                after_unknown={"tags_all": True},
            ),
            frozenset({(t, "aws_dynamodb_table.t", "stage"), (t, "aws_dynamodb_table.t", "cost-center")}),
        ),
        Case(
            "wrong-team-tag",
            "none",
            one("aws_sns_topic.s", "aws_sns_topic", tagged({"name": "s"}, team="team-frontend")),
            frozenset({(t, "aws_sns_topic.s", "team-frontend")}),
        ),
    ]
    s = "no-public-s3"
    m = f"module.{S3_CONFIG_MODULE}"
    cases += [
        Case(
            "bucket-policy-principal-star",
            "none",
            s3_plan(policy=public_policy()),
            frozenset({(s, f"{m}.aws_s3_bucket_policy.this", '"*"')}),
        ),
        Case(
            "bucket-policy-aws-star-list",
            "none",
            s3_plan(policy=public_policy(principal={"AWS": ["*"]})),
            frozenset({(s, f"{m}.aws_s3_bucket_policy.this", "*")}),
        ),
        Case(
            "bucket-policy-non-restricting-condition",
            "none",
            s3_plan(policy=public_policy({"Bool": {"aws:SecureTransport": "true"}})),
            frozenset({(s, f"{m}.aws_s3_bucket_policy.this", "*")}),
        ),
        Case(
            "bucket-policy-unknown-without-block",
            "none",
            s3_plan(policy_unknown=True, with_pab=False),
            frozenset({(s, f"{m}.aws_s3_bucket_policy.this", "unknown"), (s, f"{m}.aws_s3_bucket.this", "b")}),
        ),
        Case(
            "bucket-policy-unknown-block-policy-off",
            "none",
            s3_plan(policy_unknown=True, flags={"block_public_policy": False}),
            frozenset(
                {
                    (s, f"{m}.aws_s3_bucket_policy.this", "unknown"),
                    (s, f"{m}.aws_s3_bucket_public_access_block.this", "false"),
                }
            ),
        ),
        Case(
            "public-access-block-flag-unknown",
            "none",
            s3_plan(flags_unknown=("restrict_public_buckets",)),
            frozenset({(s, f"{m}.aws_s3_bucket_public_access_block.this", "unknown")}),
        ),
        Case(
            "public-access-block-flag-absent",
            "none",
            s3_plan(flags={"ignore_public_acls": None}),
            frozenset({(s, f"{m}.aws_s3_bucket_public_access_block.this", "null")}),
        ),
        Case(
            "bucket-acl-public-read",
            "none",
            s3_plan(acl="public-read"),
            frozenset({(s, f"{m}.aws_s3_bucket_acl.this", "public-read")}),
        ),
        Case(
            "bucket-without-access-block",
            "none",
            s3_plan(with_pab=False),
            frozenset({(s, f"{m}.aws_s3_bucket.this", "b")}),
        ),
        Case(
            "acl-grant-all-users",
            "none",
            one(
                "aws_s3_bucket_acl.grant",
                "aws_s3_bucket_acl",
                {
                    "access_control_policy": [
                        {
                            "grant": [
                                {
                                    "permission": "READ",
                                    "grantee": [
                                        {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}
                                    ],
                                }
                            ]
                        }
                    ]
                },
            ),
            frozenset({(s, "aws_s3_bucket_acl.grant", "AllUsers")}),
        ),
    ]
    r = "iam-role-boundary"
    cases += [
        Case(
            "role-without-boundary",
            "none",
            one("module.eks.aws_iam_role.node", "aws_iam_role", tagged({"name": "node", "permissions_boundary": None})),
            frozenset({(r, "module.eks.aws_iam_role.node", "null")}),
        ),
        Case(
            "role-boundary-unknown",
            "none",
            one("aws_iam_role.x", "aws_iam_role", tagged({"name": "x"}), after_unknown={"permissions_boundary": True}),
            frozenset({(r, "aws_iam_role.x", "unknown")}),
        ),
        Case(
            "role-boundary-not-the-ci-boundary",
            "none",
            one(
                "aws_iam_role.wide",
                "aws_iam_role",
                tagged({"name": "wide", "permissions_boundary": "arn:aws:iam::123456789012:policy/TeamOwnBoundary"}),
            ),
            frozenset({(r, "aws_iam_role.wide", "TeamOwnBoundary")}),
        ),
        Case(
            "role-boundary-empty",
            "none",
            one("aws_iam_role.e", "aws_iam_role", tagged({"name": "e", "permissions_boundary": ""})),
            frozenset({(r, "aws_iam_role.e", '""')}),
        ),
    ]
    return cases


def compliant_cases() -> list[Case]:
    none: frozenset[tuple[str, str, str]] = frozenset()
    lt_cpu = _lt("c7i.xlarge")
    return [
        Case(
            "cpu-everywhere-tier-none",
            "none",
            plan(
                change("aws_instance.web", "aws_instance", tagged({"instance_type": "t3.micro"})),
                change("aws_launch_template.web", "aws_launch_template", tagged({"instance_type": "m6i.large"})),
                change(
                    "aws_autoscaling_group.web",
                    "aws_autoscaling_group",
                    {"mixed_instances_policy": [{"launch_template": lt_cpu}], "tag": tag_blocks()},
                ),
                change("aws_eks_node_group.cpu", "aws_eks_node_group", tagged({"instance_types": ["m6i.large"]})),
                change(
                    "aws_batch_compute_environment.cpu",
                    "aws_batch_compute_environment",
                    tagged({"compute_resources": [{"instance_type": ["optimal"]}]}),
                ),
                change(
                    "aws_sagemaker_notebook_instance.cpu",
                    "aws_sagemaker_notebook_instance",
                    tagged({"instance_type": "ml.t3.medium"}),
                ),
                change(
                    "aws_launch_template.abs",
                    "aws_launch_template",
                    tagged(
                        {
                            "instance_requirements": [
                                {"accelerator_count": [{"max": 0}], "allowed_instance_types": ["m*"]}
                            ]
                        }
                    ),
                ),
            ),
            none,
        ),
        Case(
            "inference-tier-gpus",
            "inference",
            plan(
                change(
                    'aws_eks_node_group.this["gpu"]',
                    "aws_eks_node_group",
                    tagged({"instance_types": ["g5.2xlarge", "g6e.xlarge", "inf2.xlarge"]}),
                ),
                change(
                    "aws_sagemaker_endpoint_configuration.llm",
                    "aws_sagemaker_endpoint_configuration",
                    tagged(
                        {
                            "production_variants": [{"instance_type": "ml.g5.2xlarge"}],
                            "shadow_production_variants": [{"instance_type": "ml.inf2.xlarge"}],
                        }
                    ),
                ),
                change(
                    "aws_launch_template.named",
                    "aws_launch_template",
                    tagged({"instance_requirements": [{"allowed_instance_types": ["g5.xlarge", "m6i.large"]}]}),
                ),
            ),
            none,
        ),
        Case(
            "training-tier-everything-allowed",
            "training",
            plan(
                change(
                    "aws_ec2_capacity_reservation.p5",
                    "aws_ec2_capacity_reservation",
                    tagged({"instance_type": "p5.48xlarge"}),
                ),
                change(
                    "aws_ec2_fleet.train",
                    "aws_ec2_fleet",
                    tagged({"launch_template_config": [{"override": [{"instance_type": "trn1n.32xlarge"}]}]}),
                ),
                change(
                    "aws_spot_fleet_request.t",
                    "aws_spot_fleet_request",
                    tagged({"launch_specification": [{"instance_type": "p4d.24xlarge"}]}),
                ),
                change(
                    "aws_sagemaker_notebook_instance.nb",
                    "aws_sagemaker_notebook_instance",
                    tagged({"instance_type": "ml.p5.48xlarge"}),
                ),
            ),
            none,
        ),
        Case(
            "deleted-gpu-is-gone",
            "none",
            plan(
                change("aws_instance.old", "aws_instance", {}, actions=("delete",)),
                change("aws_eks_node_group.old", "aws_eks_node_group", None, actions=("delete",)),  # type: ignore[arg-type]
            ),
            none,
        ),
        Case(
            "tags-unknown-but-set-in-tags",
            "none",
            one(
                "aws_dynamodb_table.t",
                "aws_dynamodb_table",
                {"name": "t", "tags": dict(COST_TAGS)},
                after_unknown={"tags_all": True},
            ),
            none,
        ),
        Case(
            "untaggable-resources",
            "none",
            plan(
                change("aws_iam_role_policy.p", "aws_iam_role_policy", {"name": "p", "policy": "{}"}),
                change("aws_s3_bucket_versioning.v", "aws_s3_bucket_versioning", {"bucket": "b"}),
            ),
            none,
        ),
        Case("s3-module-known-tls-policy", "none", s3_plan(policy=TLS_ONLY), none),
        Case("s3-module-policy-unknown-fully-blocked", "none", s3_plan(policy_unknown=True), none),
        Case(
            "s3-private-acl-and-restricted-public-principal",
            "none",
            s3_plan(
                acl="private", policy=public_policy({"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::1:d/x"}})
            ),
            none,
        ),
        Case(
            "role-with-boundary",
            "none",
            one("aws_iam_role.ci", "aws_iam_role", tagged({"name": "ci", "permissions_boundary": BOUNDARY})),
            none,
        ),
        Case(
            "platform-stack-role-without-boundary",
            "none",
            one(
                "aws_iam_role.platform",
                "aws_iam_role",
                tagged({"name": "p", "permissions_boundary": None}, team="shared"),
            ),
            none,
            team="shared",
        ),
    ]
