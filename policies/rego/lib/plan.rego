# Helpers over a `terraform show -json` plan, shared by the rules in policies/rego/*.rego.
#
# Evaluated in-process by the pipeline's policy stage (regorus, vending/pipeline/policy.py) and runnable unchanged by
# conftest/opa in the CI workflow:
#   conftest test plan.json -p policies/rego --data context.json --all-namespaces
# where context.json is `{"vend_context": {...}}` as rendered by `vend`'s PolicyContext.to_data().
package vend.lib.plan

# Every managed resource the plan leaves in place (created, updated, replaced or unchanged); pure deletes are gone.
resources contains rc if {
	some rc in input.resource_changes
	object.get(rc, "mode", "managed") == "managed"
	is_object(rc.change.after)
}

after(rc) := rc.change.after

unknown(rc) := u if {
	u := rc.change.after_unknown
	is_object(u)
} else := {}

# True when the value at `path` of the resource is known only after apply.
is_unknown(rc, path) if object.get(unknown(rc), path, false) == true

# The module instance the resource lives in ("" at the root), its own index (null without count/for_each) and the
# module path in the configuration (instance keys stripped): what links a resource to the references in its config.
module_instance(rc) := object.get(rc, "module_address", "")

own_index(rc) := object.get(rc, "index", null)

config_module(rc) := regex.replace(module_instance(rc), `\[[^\]]*\]`, "")

prefixed(prefix, address) := address if prefix == ""

else := concat(".", [prefix, address])

# Configuration resources by full config address ("module.a.module.b.aws_x.name"), from any depth of module_calls.
config_resources[address] := res if {
	walk(input.configuration.root_module, [path, res])
	count(path) >= 2
	path[count(path) - 2] == "resources"
	is_number(path[count(path) - 1])
	prefix := concat(".", [sprintf("module.%v", [path[i + 1]]) | some i, seg in path; seg == "module_calls"])
	address := prefixed(prefix, res.address)
}

config_of(rc) := config_resources[prefixed(config_module(rc), concat(".", [rc.type, rc.name]))]

# The config addresses (in the same module) that the resource's `attr` expression refers to, e.g. aws_s3_bucket.this.
references(rc, attr) := {ref |
	some raw in object.get(config_of(rc), ["expressions", attr, "references"], [])
	parts := split(raw, ".")
	count(parts) >= 2
	not startswith(raw, "var.")
	not startswith(raw, "local.")
	not startswith(raw, "module.")
	ref := concat(".", [parts[0], regex.replace(parts[1], `\[.*$`, "")])
}

# The config addresses that an expression nested in a block refers to (launch_template[0].id), module outputs resolved:
# a reference to module.<name>.<output> stands for what that output's expression refers to inside the module, given as
# "module.<name>.<type>.<name>" (config address relative to the resource's own module).
block_references(rc, block, attr) := {ref |
	some entry in object.get(config_of(rc), ["expressions", block], [])
	some raw in object.get(entry, [attr, "references"], [])
	some ref in resolved_reference(rc, raw)
}

resolved_reference(_, raw) := {ref} if {
	parts := split(raw, ".")
	count(parts) >= 2
	not startswith(raw, "var.")
	not startswith(raw, "local.")
	not startswith(raw, "module.")
	not startswith(raw, "data.")
	ref := concat(".", [parts[0], regex.replace(parts[1], `\[.*$`, "")])
}

resolved_reference(rc, raw) := {ref |
	parts := split(raw, ".")
	count(parts) >= 3
	name := regex.replace(parts[1], `\[.*$`, "")
	some inner in object.get(module_config(rc), ["module_calls", name, "module", "outputs", parts[2], "expression", "references"], [])
	inner_parts := split(inner, ".")
	count(inner_parts) >= 2
	not startswith(inner, "var.")
	not startswith(inner, "local.")
	not startswith(inner, "module.")
	not startswith(inner, "data.")
	ref := concat(".", ["module", name, inner_parts[0], regex.replace(inner_parts[1], `\[.*$`, "")])
} if startswith(raw, "module.")

# The configuration block of the module the resource lives in (root_module at the root).
module_config(rc) := input.configuration.root_module if config_module(rc) == ""

module_config(rc) := m if {
	config_module(rc) != ""
	names := [seg | some i, seg in split(config_module(rc), "."); i % 2 == 1]
	path := array.concat(["root_module"], [step | some name in names; some step in ["module_calls", name, "module"]])
	m := object.get(input.configuration, path, null)
	m != null
}

# A managed resource in the plan at a config address relative to rc's module (e.g. aws_launch_template.t3, or
# module.lt.aws_launch_template.this for one reached through a module output).
in_plan(rc, ref) if {
	some other in resources
	prefixed(config_module(other), concat(".", [other.type, other.name])) == prefixed(config_module(rc), ref)
}

# Whether the configuration sets the attribute at all (an Optional+Computed attribute left unset is unknown in the
# plan without being the author's value).
configured(rc, attr) if config_of(rc).expressions[attr]

# Render a JSON path (["production_variants", 0, "instance_type"]) as production_variants[0].instance_type.
path_string(path) := concat("", [segment(i, s) | some i, s in path])

segment(_, s) := sprintf("[%v]", [s]) if is_number(s)

segment(i, s) := s if {
	is_string(s)
	i == 0
}

segment(i, s) := concat("", [".", s]) if {
	is_string(s)
	i > 0
}

# A glob from the layout ("g5.*", "ml.p*") as an anchored regex: glob.match's default "." delimiter would stop "p*"
# at the first dot.
glob_regex(glob) := concat("", ["^", replace(replace(replace(glob, ".", `\.`), "*", ".*"), "?", "."), "$"])

matches_any(value, globs) if {
	some glob in globs
	regex.match(glob_regex(lower(glob)), lower(value))
}

violation(rule, rc, value, detail) := {
	"msg": sprintf("%s: %s: %s", [rc.address, rule, detail]),
	"rule": rule,
	"address": rc.address,
	"value": value,
	"detail": detail,
}
