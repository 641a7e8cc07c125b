# no-public-s3: no bucket can be made public.
# - no public canned ACL (aws_s3_bucket_acl, the deprecated aws_s3_bucket.acl) and no ACL grant to AllUsers or
#   AuthenticatedUsers;
# - every public access block (bucket or account) sets all four flags, known true at plan;
# - every bucket in the plan is covered by a bucket public access block (linked by reference in the configuration, or
#   by a known bucket name) or by an account-level block in the plan;
# - no bucket policy Allow to Principal "*" (or {"AWS": "*"}, or NotPrincipal) without a condition that restricts who
#   can use it (source ARN/account/VPC/IP, principal org/account/ARN), judged on its operator and values, not only on
#   the key's name (aws:SourceIp 0.0.0.0/0 restricts nothing). A policy known only after apply (typically
#   because it names the bucket's ARN, created in the same run) cannot be read: it passes only when the bucket's public
#   access block in the same plan sets block_public_policy and restrict_public_buckets, known true, because S3 then
#   refuses a public policy (PutBucketPolicy is denied) and ignores public grants; otherwise it is stopped.
package vend.no_public_s3

import data.vend.lib.plan

rule := "no-public-s3"

public_acls := {"public-read", "public-read-write", "authenticated-read"}

public_grantees := {"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}

flags := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

# Condition keys that tie a public principal to someone in particular (compared lower-case).
restricting_keys := {
	"aws:sourcearn", "aws:sourceaccount", "aws:sourceowner", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceip",
	"aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount", "aws:principalarn", "aws:sourceorgid",
	"aws:sourceorgpaths", "aws:userid", "aws:username", "aws:principalservicename",
}

# --- ACLs ----------------------------------------------------------------------------------------------------------

deny contains v if {
	some rc in plan.resources
	rc.type in {"aws_s3_bucket", "aws_s3_bucket_acl"}
	acl := plan.after(rc).acl
	acl in public_acls
	v := plan.violation(rule, rc, acl, sprintf("acl %q is a public canned ACL", [acl]))
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_s3_bucket_acl"
	plan.is_unknown(rc, ["acl"])
	plan.configured(rc, "acl")
	v := plan.violation(rule, rc, "(unknown)", "acl is unknown at plan time, so it cannot be proven private")
}

deny contains v if {
	some rc in plan.resources
	rc.type in {"aws_s3_bucket", "aws_s3_bucket_acl"}
	walk(plan.after(rc), [path, uri])
	path[count(path) - 1] == "uri"
	uri in public_grantees
	v := plan.violation(rule, rc, uri, sprintf("%s grants access to %q", [plan.path_string(path), uri]))
}

# --- public access blocks ------------------------------------------------------------------------------------------

access_blocks contains rc if {
	some rc in plan.resources
	rc.type in {"aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"}
}

flag_ok(rc, flag) if {
	not plan.is_unknown(rc, [flag])
	plan.after(rc)[flag] == true
}

deny contains v if {
	some rc in access_blocks
	some flag in flags
	not flag_ok(rc, flag)
	value := flag_value(rc, flag)
	v := plan.violation(rule, rc, value, sprintf("%s is %s, must be true", [flag, value]))
}

flag_value(rc, flag) := "unknown at plan time" if plan.is_unknown(rc, [flag])

else := json.marshal(object.get(plan.after(rc), flag, null))

# Where a resource's `bucket` points: [module instance, referenced config address, own index] when the configuration
# refers to an aws_s3_bucket; for a bucket itself, the same key built from its own address.
bucket_link(rc) := [plan.module_instance(rc), ref, plan.own_index(rc)] if {
	rc.type != "aws_s3_bucket"
	some ref in plan.references(rc, "bucket")
	startswith(ref, "aws_s3_bucket.")
}

bucket_link(rc) := [plan.module_instance(rc), concat(".", [rc.type, rc.name]), plan.own_index(rc)] if {
	rc.type == "aws_s3_bucket"
}

bucket_name(rc) := name if {
	name := plan.after(rc).bucket
	is_string(name)
}

# The public access blocks that cover a bucket or a resource pointing at one.
covering_blocks(rc) := {pab |
	some pab in access_blocks
	covers(pab, rc)
}

covers(pab, rc) if {
	pab.type == "aws_s3_bucket_public_access_block"
	bucket_link(pab) == bucket_link(rc)
}

covers(pab, rc) if {
	pab.type == "aws_s3_bucket_public_access_block"
	bucket_name(pab) == bucket_name(rc)
}

covers(pab, _) if pab.type == "aws_s3_account_public_access_block"

fully_blocked(rc) if {
	some pab in covering_blocks(rc)
	every flag in flags {
		flag_ok(pab, flag)
	}
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_s3_bucket"
	count(covering_blocks(rc)) == 0
	v := plan.violation(rule, rc, object.get(plan.after(rc), "bucket", "(unknown name)"), "bucket has no aws_s3_bucket_public_access_block in the plan")
}

# --- bucket policies -----------------------------------------------------------------------------------------------

policy_resources contains rc if {
	some rc in plan.resources
	rc.type == "aws_s3_bucket_policy"
}

# The deprecated inline policy of aws_s3_bucket is Optional+Computed: only a configured one is checked.
policy_resources contains rc if {
	some rc in plan.resources
	rc.type == "aws_s3_bucket"
	plan.configured(rc, "policy")
}

deny contains v if {
	some rc in policy_resources
	doc := json.unmarshal(plan.after(rc).policy)
	some i, statement in statements(doc)
	public_allow(statement)
	not restricted(statement)
	principal := json.marshal(object.get(statement, "Principal", object.get(statement, "NotPrincipal", null)))
	action := json.marshal(object.get(statement, "Action", object.get(statement, "NotAction", null)))
	detail := sprintf("policy statement %v (%s) allows %s to principal %s without a restricting condition", [i, object.get(statement, "Sid", "no Sid"), action, principal])
	v := plan.violation(rule, rc, principal, detail)
}

deny contains v if {
	some rc in policy_resources
	plan.is_unknown(rc, ["policy"])
	not fully_blocked(rc)
	v := plan.violation(rule, rc, "(unknown)", "policy is unknown at plan time and the bucket has no public access block in the plan with all four flags known true, so the policy cannot be proven non-public")
}

deny contains v if {
	some rc in policy_resources
	not plan.is_unknown(rc, ["policy"])
	raw := plan.after(rc).policy
	is_string(raw)
	not json.is_valid(raw)
	v := plan.violation(rule, rc, raw, "policy is not valid JSON")
}

statements(doc) := doc.Statement if is_array(doc.Statement)

else := [doc.Statement] if is_object(doc.Statement)

else := []

public_allow(statement) if {
	object.get(statement, "Effect", "") == "Allow"
	public_principal(statement.Principal)
}

public_allow(statement) if {
	object.get(statement, "Effect", "") == "Allow"
	statement.NotPrincipal
}

public_principal(p) if p == "*"

public_principal(p) if p.AWS == "*"

public_principal(p) if "*" in p.AWS

# A condition restricts a public principal only when its VALUES name someone in particular: a positive operator (not a
# negation, not ...IfExists, not ForAllValues, which all hold for a caller without the key), a restricting key, and
# every value specific (aws:SourceIp 0.0.0.0/0 is everyone; aws:SourceArn "arn:aws:*" or aws:PrincipalOrgID "*" is
# anyone).
restricted(statement) if {
	some op, conditions in statement.Condition
	positive_operator(op)
	some key, values in conditions
	lower(key) in restricting_keys
	every value in as_array(values) {
		restricting_value(lower(key), value)
	}
}

positive_operator(op) if {
	o := lower(op)
	not endswith(o, "ifexists")
	not startswith(o, "forallvalues:")
	trim_prefix(o, "foranyvalue:") in {"stringequals", "stringlike", "stringequalsignorecase", "arnequals", "arnlike", "ipaddress"}
}

as_array(v) := v if is_array(v)

else := [v]

restricting_value("aws:sourceip", value) if {
	is_string(value)
	not open_cidr(value)
}

restricting_value(key, value) if {
	key != "aws:sourceip"
	is_string(value)
	regex.replace(lower(value), `arn|aws|[-:*?/]`, "") != ""
}

# The whole address space or a block of it too wide to name anyone (an IPv4 prefix under /8, IPv6 under /16).
open_cidr(cidr) if {
	parts := split(trim_space(cidr), "/")
	count(parts) == 2
	bits := to_number(parts[1])
	not contains(parts[0], ":")
	bits < 8
}

open_cidr(cidr) if {
	parts := split(trim_space(cidr), "/")
	count(parts) == 2
	bits := to_number(parts[1])
	contains(parts[0], ":")
	bits < 16
}
