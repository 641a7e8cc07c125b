# gpu-instance-tier: accelerated capacity (an instance type in an accelerated family, landing_zone/layout.yaml
# accelerated_families) must be in the team's GPU tier (gpu_tiers.<tier>), wherever and however a resource selects it.
#
# By meaning, not by one attribute name (the provider schema's compute selectors, benchmarks/gpu_schema_coverage.py
# derives them from `terraform providers schema -json` and checks each against this rule):
# - every attribute named like an instance type or family at any depth: *instance_type, *instance_types,
#   instance_family (EC2 hosts), accelerator_type(s) (SageMaker variants and notebooks): aws_instance, launch
#   templates and configurations, spot requests and fleets, EC2 fleets, ASG mixed-instances overrides, capacity
#   reservations and capacity blocks, dedicated hosts, EKS node groups, Batch, EMR groups and fleets, SageMaker
#   endpoints/notebooks/apps/domains/spaces/user profiles/monitoring jobs, GameLift fleets and game server groups,
#   Image Builder, Cloud9, AppStream (stream.graphics.<ec2 type> judged as that EC2 type), ...;
# - WorkSpaces compute types (GRAPHICS*: the g4dn/g6 family they name, else accelerated of no tier);
# - CodeBuild GPU environments (projects' environment.type and fleets' environment_type *GPU*): no tier grants them;
# - attribute-based selection (instance_requirements): refused unless it caps accelerators at 0 or names only types or
#   patterns that stay inside the tier.
# A value is judged only when it has an instance type's shape (family letters then a generation digit, then a size),
# so an attribute such as spot_instance_type = "persistent" is never read as the p family.
#
# Values known only after apply (fail closed): an instance type (or a whole block carrying one) that the stack sets
# from a value known only after apply is a violation. One the provider computes because the stack left it unset is
# judged by what decides it instead: an instance launched from a launch template takes that template's type, so it
# passes when the template is in the same plan (reached directly or through a module output) and is judged itself;
# an Auto Scaling group without a mixed-instances policy takes its types from its launch template alike.
package vend.gpu_instance_tier

import data.vend.lib.plan

rule := "gpu-instance-tier"

ctx := data.vend_context

# Blocks that carry instance types: when a whole block is unknown, its instance types are too.
carrier_blocks := {
	"mixed_instances_policy", "launch_template_config", "launch_specification", "override", "overrides",
	"production_variants", "shadow_production_variants", "compute_resources", "master_instance_group",
	"core_instance_group", "master_instance_fleet", "core_instance_fleet", "instance_type_configs", "instance_fleet",
	"resource_spec", "default_resource_spec", "instance_requirements", "instance_definition", "workspace_properties",
	"environment",
}

# Maps where a key named like an instance type is data, not an instance type.
ignored_roots := {"tags", "tags_all", "labels", "tag"}

# Attributes named like a type that do not select capacity (a portal's list of types to hide, a spot request kind).
ignored_keys := {"hidden_instance_types", "spot_instance_type", "excluded_instance_types"}

type_key(key) if {
	is_string(key)
	not ignored_keys[key]
	endswith(key, "instance_type")
}

type_key(key) if {
	is_string(key)
	not ignored_keys[key]
	endswith(key, "instance_types")
}

type_key(key) if key in {"instance_family", "accelerator_type", "accelerator_types"}

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

normal(value) := lower(trim_space(value))

family_shape := `^[a-z]+[0-9][a-z0-9-]*$`

type_shape := `^(ml\.)?[a-z]+[0-9][a-z0-9-]*\.[a-z0-9-]+$`

# The instance type a value stands for, in the shape the layout's patterns are written in ("g5.xlarge",
# "ml.g5.xlarge"); a bare family ("p5", for hosts and Batch) stands for every size of it.
candidate(value) := concat("", [normal(value), ".anysize"]) if regex.match(family_shape, normal(value))

candidate(value) := normal(value) if regex.match(type_shape, normal(value))

# AppStream's graphics types name the EC2 instance they run on.
candidate(value) := t if {
	startswith(normal(value), "stream.graphics.")
	t := substring(normal(value), count("stream.graphics."), -1)
	regex.match(type_shape, t)
}

# Accelerated values that name no EC2 family a tier could grant (older AppStream graphics types).
unmapped_accelerated(value) if {
	startswith(normal(value), "stream.graphics")
	not candidate(value)
}

forbidden_type(t) if {
	plan.matches_any(t, ctx.accelerated_families)
	not plan.matches_any(t, ctx.allowed_instance_types)
}

forbidden(value) if forbidden_type(candidate(value))

forbidden(value) if unmapped_accelerated(value)

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

# --- WorkSpaces graphics bundles and CodeBuild GPU environments -----------------------------------------------------

workspace_type(value) := concat("", [f, ".anysize"]) if {
	startswith(normal(value), "graphics")
	f := regex.find_n(`g[0-9][a-z0-9]*`, normal(value), 1)[0]
}

workspace_forbidden(value) if {
	startswith(normal(value), "graphics")
	not workspace_type(value)
}

workspace_forbidden(value) if forbidden_type(workspace_type(value))

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_workspaces_workspace"
	some i, props in object.get(plan.after(rc), "workspace_properties", [])
	value := props.compute_type_name
	is_string(value)
	workspace_forbidden(value)
	detail := sprintf("workspace_properties[%v].compute_type_name %q is a graphics (GPU) WorkSpace, not in tier %q (allowed: %s)", [i, value, ctx.gpu_tier, allowed_text])
	v := plan.violation(rule, rc, value, detail)
}

# The compute type of a WorkSpace left to its bundle cannot be read from the plan (a bundle id names no type).
deny contains v if {
	some rc in plan.resources
	rc.type == "aws_workspaces_workspace"
	not known_compute_type(rc)
	detail := sprintf("workspace_properties.compute_type_name is not set to a known value, so the bundle %q could be a graphics (GPU) bundle outside tier %q: set compute_type_name", [object.get(plan.after(rc), "bundle_id", "(unknown)"), ctx.gpu_tier])
	v := plan.violation(rule, rc, "(unknown)", detail)
}

known_compute_type(rc) if {
	some props in object.get(plan.after(rc), "workspace_properties", [])
	is_string(props.compute_type_name)
}

codebuild_gpu(value) if {
	is_string(value)
	contains(upper(value), "GPU")
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_codebuild_project"
	some i, env in object.get(plan.after(rc), "environment", [])
	codebuild_gpu(env.type)
	detail := sprintf("environment[%v].type %q runs builds on GPUs, which no tier grants (tier %q)", [i, env.type, ctx.gpu_tier])
	v := plan.violation(rule, rc, env.type, detail)
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_codebuild_fleet"
	value := plan.after(rc).environment_type
	codebuild_gpu(value)
	detail := sprintf("environment_type %q is a GPU build fleet, which no tier grants (tier %q)", [value, ctx.gpu_tier])
	v := plan.violation(rule, rc, value, detail)
}

deny contains v if {
	some rc in plan.resources
	codebuild_type_unknown(rc)
	detail := sprintf("the CodeBuild environment type is unknown at plan time, so it cannot be proven not to be a GPU environment (tier %q)", [ctx.gpu_tier])
	v := plan.violation(rule, rc, "(unknown)", detail)
}

codebuild_type_unknown(rc) if {
	rc.type == "aws_codebuild_fleet"
	plan.is_unknown(rc, ["environment_type"])
}

codebuild_type_unknown(rc) if {
	rc.type == "aws_codebuild_project"
	plan.is_unknown(rc, ["environment"])
}

codebuild_type_unknown(rc) if {
	rc.type == "aws_codebuild_project"
	some i, _ in object.get(plan.unknown(rc), "environment", [])
	plan.is_unknown(rc, ["environment", i, "type"])
}

# --- documents Terraform does not model -----------------------------------------------------------------------------

# CloudFormation stacks and Cloud Control resources create resources from a document: the instance types are strings in
# it, so every token shaped like an instance type is judged; a template only at a URL, or a document known only after
# apply, cannot be read and is stopped, as is a Service Catalog product (its template is the product's, not the plan's).
embedded_documents := {
	"aws_cloudformation_stack": ["template_body", "parameters"],
	"aws_cloudformation_stack_set": ["template_body", "parameters"],
	"aws_cloudcontrolapi_resource": ["desired_state"],
}

document_text(value) := value if is_string(value)

else := json.marshal(value)

deny contains v if {
	some rc in plan.resources
	some attr in embedded_documents[rc.type]
	value := object.get(plan.after(rc), attr, null)
	value != null
	some token in regex.find_n(`(ml\.)?[a-z]+[0-9][a-z0-9-]*\.[a-z0-9-]+`, lower(document_text(value)), -1)
	forbidden(token)
	detail := sprintf("%s names %q, not in tier %q (allowed: %s)", [attr, token, ctx.gpu_tier, allowed_text])
	v := plan.violation(rule, rc, token, detail)
}

deny contains v if {
	some rc in plan.resources
	embedded_documents[rc.type]
	unreadable_document(rc)
	detail := sprintf("the document this %s creates resources from is not in the plan (a template URL, or known only after apply), so its instance types cannot be checked against tier %q", [rc.type, ctx.gpu_tier])
	v := plan.violation(rule, rc, "(unreadable)", detail)
}

unreadable_document(rc) if {
	some attr in embedded_documents[rc.type]
	plan.is_unknown(rc, [attr])
	attr != "parameters"
}

unreadable_document(rc) if is_string(object.get(plan.after(rc), "template_url", null))

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_servicecatalog_provisioned_product"
	detail := sprintf("a Service Catalog product launches from its own template, which the plan cannot show: its instance types cannot be checked against tier %q", [ctx.gpu_tier])
	v := plan.violation(rule, rc, object.get(plan.after(rc), "product_id", "(unknown)"), detail)
}

# --- values known only after apply ----------------------------------------------------------------------------------

deny contains v if {
	some rc in plan.resources
	walk(plan.unknown(rc), [path, true])
	count(path) > 0
	not ignored_roots[path[0]]
	unknown_carrier(path)
	not provider_computed(rc, path)
	detail := sprintf("%s is unknown at plan time (known only after apply), so its instance type cannot be checked against tier %q", [plan.path_string(path), ctx.gpu_tier])
	v := plan.violation(rule, rc, "(unknown)", detail)
}

unknown_carrier(path) if type_key(attribute(path))

unknown_carrier(path) if carrier_blocks[attribute(path)]

# The stack did not set the attribute (the configuration has no expression for it), so the provider fills it in from
# what decides it: for resources that can launch from a launch template, that template, which must be in the plan
# (where this rule judges it) unless the resource has no launch template at all (then the service default applies,
# which is never accelerated).
provider_computed(rc, path) if {
	plan.config_of(rc)
	not plan.configured(rc, path[0])
	not launches_from_unseen_template(rc)
}

launches_from_unseen_template(rc) if {
	plan.configured(rc, "launch_template")
	not template_in_plan(rc)
}

template_in_plan(rc) if {
	some attr in ["id", "name"]
	some ref in plan.block_references(rc, "launch_template", attr)
	contains(ref, "aws_launch_template.")
	plan.in_plan(rc, ref)
}

# --- attribute-based selection ----------------------------------------------------------------------------------------

# instance_requirements can pick any accelerated type unless it caps accelerators at 0 or names only types (or
# patterns) that stay inside the tier.
deny contains v if {
	some rc in plan.resources
	walk(plan.after(rc), [path, block])
	count(path) >= 2
	path[count(path) - 2] == "instance_requirements"
	is_object(block)
	not no_accelerators(block)
	not named_allowed_types(block)
	detail := sprintf("%s can select accelerated instance types outside tier %q (accelerator_count %s, allowed_instance_types %s): set accelerator_count { max = 0 } or list allowed_instance_types inside the tier", [plan.path_string(path), ctx.gpu_tier, json.marshal(object.get(block, "accelerator_count", [])), json.marshal(object.get(block, "allowed_instance_types", []))])
	v := plan.violation(rule, rc, json.marshal(block), detail)
}

no_accelerators(block) if {
	counts := object.get(block, "accelerator_count", [])
	is_array(counts)
	some c in counts
	object.get(c, "max", null) == 0
}

named_allowed_types(block) if {
	types := object.get(block, "allowed_instance_types", [])
	is_array(types)
	count(types) > 0
	every t in types {
		pattern_inside_tier(t)
	}
}

wildcard(p) if regex.match(`[*?\[]`, p)

literal_prefix(p) := regex.replace(lower(p), `[*?\[].*$`, "")

# A concrete type: judged as a value.
pattern_inside_tier(p) if {
	is_string(p)
	not wildcard(p)
	candidate(p)
	not forbidden(p)
}

# A pattern whose literal prefix no accelerated family can start with ("m*", "c7i.*").
pattern_inside_tier(p) if {
	is_string(p)
	wildcard(p)
	lp := literal_prefix(p)
	every a in ctx.accelerated_families {
		not overlaps(lp, literal_prefix(a))
	}
}

# A pattern inside one the tier allows ("g5.*" in the inference tier, which allows "g5.*").
pattern_inside_tier(p) if {
	is_string(p)
	wildcard(p)
	lp := literal_prefix(p)
	some allowed in ctx.allowed_instance_types
	la := literal_prefix(allowed)
	lower(allowed) == concat("", [la, "*"])
	startswith(lp, la)
}

overlaps(a, b) if startswith(a, b)

overlaps(a, b) if startswith(b, a)
