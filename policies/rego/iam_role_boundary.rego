# iam-role-boundary: in a team stack every IAM role carries a permissions boundary whose ARN is known at plan and not
# empty. The team CI role may create roles only under its boundary (issue 9); a boundary known only after apply cannot
# be checked, so it is stopped (pass an ARN built from known values, not the output of a policy created in the run).
# The boundary must be the account's CI boundary (vend_context.boundary_arn_patterns, set by the pipeline from the
# account: arn:aws:iam::<account>:policy/VendingCIBoundary), not any policy the stack or the team chose.
# Stacks the platform itself runs (vend_context.team_stack false) are exempt.
package vend.iam_role_boundary

import data.vend.lib.plan

rule := "iam-role-boundary"

ctx := data.vend_context

roles contains rc if {
	object.get(ctx, "team_stack", true) != false
	some rc in plan.resources
	rc.type == "aws_iam_role"
}

deny contains v if {
	some rc in roles
	plan.is_unknown(rc, ["permissions_boundary"])
	v := plan.violation(rule, rc, "(unknown)", "permissions_boundary is unknown at plan time (known only after apply)")
}

deny contains v if {
	some rc in roles
	not plan.is_unknown(rc, ["permissions_boundary"])
	value := object.get(plan.after(rc), "permissions_boundary", null)
	not non_empty(value)
	v := plan.violation(rule, rc, value, sprintf("permissions_boundary is not set (%s): every role in a team stack needs the CI permissions boundary", [json.marshal(value)]))
}

deny contains v if {
	some rc in roles
	value := object.get(plan.after(rc), "permissions_boundary", null)
	non_empty(value)
	patterns := object.get(ctx, "boundary_arn_patterns", [])
	count(patterns) > 0
	not plan.matches_any(value, patterns)
	v := plan.violation(rule, rc, value, sprintf("permissions_boundary %q is not one of the allowed boundaries %s", [value, json.marshal(patterns)]))
}

non_empty(value) if {
	is_string(value)
	trim_space(value) != ""
}
