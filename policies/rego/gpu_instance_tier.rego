# gpu-instance-tier: an instance type in an accelerated family (landing_zone/layout.yaml accelerated_families) must be
# in the team's GPU tier (gpu_tiers.<tier>), wherever a resource can name one.
#
# Covered by attribute name rather than by a list of types, so a resource type we did not think of is still checked:
# every attribute whose name ends in `instance_type` or `instance_types`, at any depth (aws_instance,
# aws_launch_template, aws_launch_configuration, aws_spot_instance_request, aws_ec2_capacity_reservation,
# aws_autoscaling_group mixed_instances_policy overrides, aws_ec2_fleet and aws_spot_fleet_request launch
# specifications and overrides, aws_eks_node_group instance_types, aws_batch_compute_environment
# compute_resources.instance_type, SageMaker endpoint variants (production and shadow), notebooks, apps and domain
# resource specs, EMR instance groups and fleets, GameLift ec2_instance_type, Image Builder instance_types, ...).
# ECS capacity providers launch through an Auto Scaling group, which is checked itself.
#
# Fail closed: an instance type (or a whole block that carries one) known only after apply is a violation, and an
# attribute-based selection (instance_requirements) must exclude accelerators or name its types.
package vend.gpu_instance_tier

import data.vend.lib.plan

rule := "gpu-instance-tier"

ctx := data.vend_context

# Blocks that carry instance types: when a whole block is unknown, its instance types are too.
carrier_blocks := {
	"mixed_instances_policy", "launch_template_config", "launch_specification", "override", "overrides",
	"production_variants", "shadow_production_variants", "compute_resources", "master_instance_group",
	"core_instance_group", "master_instance_fleet", "core_instance_fleet", "instance_type_configs", "instance_fleet",
	"resource_spec", "default_resource_spec", "instance_requirements",
}

# Maps where a key named like an instance type is data, not an instance type.
ignored_roots := {"tags", "tags_all", "labels"}

type_key(key) if {
	is_string(key)
	endswith(key, "instance_type")
}

type_key(key) if {
	is_string(key)
	endswith(key, "instance_types")
}

# The attribute name a leaf belongs to: the last key, or the list's key for a list element.
attribute(path) := path[count(path) - 1] if is_string(path[count(path) - 1])

attribute(path) := path[count(path) - 2] if {
	count(path) >= 2
	is_number(path[count(path) - 1])
}

checked(path) if {
	not ignored_roots[path[0]]
	not "instance_requirements" in path
}

forbidden(value) if {
	plan.matches_any(value, ctx.accelerated_families)
	not plan.matches_any(value, ctx.allowed_instance_types)
}

allowed_text := concat(", ", ctx.allowed_instance_types) if count(ctx.allowed_instance_types) > 0

else := "no accelerated types"

deny contains v if {
	some rc in plan.resources
	walk(plan.after(rc), [path, value])
	is_string(value)
	checked(path)
	type_key(attribute(path))
	forbidden(value)
	detail := sprintf("%s %q is not in tier %q (allowed: %s)", [plan.path_string(path), value, ctx.gpu_tier, allowed_text])
	v := plan.violation(rule, rc, value, detail)
}

deny contains v if {
	some rc in plan.resources
	walk(plan.unknown(rc), [path, true])
	count(path) > 0
	not ignored_roots[path[0]]
	unknown_carrier(path)
	detail := sprintf("%s is unknown at plan time (known only after apply), so its instance type cannot be checked against tier %q", [plan.path_string(path), ctx.gpu_tier])
	v := plan.violation(rule, rc, "(unknown)", detail)
}

unknown_carrier(path) if type_key(attribute(path))

unknown_carrier(path) if carrier_blocks[attribute(path)]

# instance_requirements (attribute-based selection) can pick any accelerated type unless it caps accelerators at 0 or
# names concrete types that the tier allows.
deny contains v if {
	some rc in plan.resources
	walk(plan.after(rc), [path, block])
	count(path) >= 2
	path[count(path) - 2] == "instance_requirements"
	is_object(block)
	not no_accelerators(block)
	not named_allowed_types(block)
	detail := sprintf("%s can select accelerated instance types outside tier %q (accelerator_count %s, allowed_instance_types %s): set accelerator_count { max = 0 } or list allowed_instance_types without wildcards", [plan.path_string(path), ctx.gpu_tier, json.marshal(object.get(block, "accelerator_count", [])), json.marshal(object.get(block, "allowed_instance_types", []))])
	v := plan.violation(rule, rc, json.marshal(block), detail)
}

no_accelerators(block) if block.accelerator_count[0].max == 0

named_allowed_types(block) if {
	types := block.allowed_instance_types
	count(types) > 0
	every t in types {
		not contains(t, "*")
		not contains(t, "?")
		not forbidden(t)
	}
}
