# allowed-regions: a stack uses only the team's regions (vend_context.allowed_regions: the request's regions, a subset of
# the organization's allow-list).
# - Every AWS provider configuration that a planned resource uses (the default and each alias, in the root module and
#   in modules): its region is a constant, or a variable whose value the plan holds (a list variable: each of its
#   values could be picked, so each must be allowed). A region the plan cannot resolve (a local, another resource)
#   cannot be proven and is stopped. A provider with no region takes the pipeline's (AWS_REGION, the state region).
#   A configuration no planned resource uses acts nowhere: a stack may declare one provider per region of the
#   organization and switch its modules on by count (terraform/templates/networking).
# - Every resource attribute that names a region (region, region_name, *_region: replicas, copies, peering).
package vend.allowed_regions

import data.vend.lib.plan

rule := "allowed-regions"

ctx := data.vend_context

allowed := object.get(ctx, "allowed_regions", [])

permitted(region) if {
	some r in allowed
	r == region
}

region_shape := `^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$`

aws_providers contains [key, p] if {
	some key, p in object.get(input, ["configuration", "provider_config"], {})
	p.name == "aws"
	used(key)
}

# The provider configuration key of each resource of the configuration, by module path ("" or "module.a.module.b")
# and address within its module; Terraform resolves a provider passed to a module to the caller's key.
config_resources contains [module_path(path), r.address, r.provider_config_key] if {
	walk(object.get(input, ["configuration", "root_module"], {}), [path, node])
	is_object(node)
	# A module's resource list, not an expression that happens to be named "resources" (a policy statement's)
	resources := object.get(node, "resources", null)
	is_array(resources)
	some r in resources
	is_object(r)
	is_string(object.get(r, "provider_config_key", null))
}

module_path(path) := concat(".", [sprintf("module.%s", [path[i + 1]]) |
	some i
	path[i] == "module_calls"
])

instance_free(address) := regex.replace(address, `\[[^\]]*\]`, "")

planned contains [instance_free(object.get(rc, "module_address", "")), sprintf("%s%s.%s", [data_prefix(rc), rc.type, rc.name])] if {
	some rc in object.get(input, "resource_changes", [])
}

data_prefix(rc) := "data." if object.get(rc, "mode", "managed") == "data"

data_prefix(rc) := "" if object.get(rc, "mode", "managed") != "data"

used(key) if {
	some entry in config_resources
	entry[2] == key
	[entry[0], entry[1]] in planned
}

provider_rc(key) := {"address": sprintf("provider[%q]", [key])}

region_expr(p) := p.expressions.region

# Values a provider's region expression can take, or "unresolvable".
regions_of(p) := {region_expr(p).constant_value} if is_string(region_expr(p).constant_value)

regions_of(p) := values if {
	not "constant_value" in object.keys(region_expr(p))
	refs := {name | some ref in region_expr(p).references; startswith(ref, "var."); name := regex.replace(split(ref, ".")[1], `\[.*$`, "")}
	count(refs) == 1
	others := [ref | some ref in region_expr(p).references; not startswith(ref, "var.")]
	count(others) == 0
	some name in refs
	value := input.variables[name].value
	values := variable_values(value)
}

variable_values(value) := {value} if is_string(value)

variable_values(value) := {v | some v in value} if is_array(value)

deny contains v if {
	some [key, p] in aws_providers
	region_expr(p)
	some region in regions_of(p)
	not permitted(region)
	v := plan.violation(rule, provider_rc(key), region, sprintf("provider region %q is outside the team's regions %s", [region, json.marshal(sort(allowed))]))
}

deny contains v if {
	some [key, p] in aws_providers
	region_expr(p)
	not regions_of(p)
	v := plan.violation(rule, provider_rc(key), "(unresolved)", sprintf("provider region %s cannot be resolved from the plan (use a constant or a variable), so it cannot be proven inside %s", [json.marshal(region_expr(p)), json.marshal(sort(allowed))]))
}

tag_root(path) if path[0] in {"tags", "tags_all"}

region_key(key) if key in {"region", "region_name", "home_region"}

region_key(key) if {
	is_string(key)
	endswith(key, "_region")
}

attribute(path) := path[count(path) - 1] if is_string(path[count(path) - 1])

attribute(path) := path[count(path) - 2] if {
	count(path) >= 2
	is_number(path[count(path) - 1])
}

deny contains v if {
	some rc in plan.resources
	walk(plan.after(rc), [path, value])
	count(path) > 0
	not tag_root(path)
	is_string(value)
	region_key(attribute(path))
	regex.match(region_shape, value)
	not permitted(value)
	v := plan.violation(rule, rc, value, sprintf("%s %q is outside the team's regions %s", [plan.path_string(path), value, json.marshal(sort(allowed))]))
}
