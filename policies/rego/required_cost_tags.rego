# required-cost-tags: every taggable resource (one with tags_all or tags) carries each mandatory tag
# (organization.mandatory_tags in landing_zone/layout.yaml) with a non-empty value, and, where the run says which
# values they must have (expected_tags: the stack's team, stage, cost center), that value.
#
# tags_all is what AWS will get: the provider's default_tags merged with the resource's tags. It is known at plan when
# every tag value is (default_tags set from variables are). When tags_all (or one of its values) is known only after
# apply, a mandatory tag still counts as present if the resource's own `tags` sets it to a known non-empty value
# (resource tags override default_tags, so that value is the one AWS gets); otherwise it cannot be proven and the
# resource is stopped (fail closed). An absent tag is a violation, not only an empty one.
#
# An Auto Scaling group has no tags/tags_all map (and the provider's default_tags never reach it): its tags are its
# `tag` blocks, so those are what it is judged on; a group with no mandatory tag among its blocks is stopped, and a
# block whose value is known only after apply cannot prove its tag.
#
# The expected values are the account's own (team, stage and cost center of the request), so a stack cannot charge
# another team's budget or stage by writing their values.
package vend.required_cost_tags

import data.vend.lib.plan

rule := "required-cost-tags"

ctx := data.vend_context

taggable(rc) if "tags_all" in object.keys(plan.after(rc))

taggable(rc) if rc.type == "aws_autoscaling_group"

taggable(rc) if "tags" in object.keys(plan.after(rc))

taggable(rc) if "tags_all" in object.keys(plan.unknown(rc))

tag_map(rc, attr) := m if {
	attr != "tag"
	m := plan.after(rc)[attr]
	is_object(m)
} else := m if {
	attr == "tag"
	m := {block.key: block.value |
		some i, block in object.get(plan.after(rc), "tag", [])
		is_string(block.key)
		not object.get(plan.unknown(rc), ["tag", i, "value"], false)
	}
} else := {}

unknown_tag(rc, attr, tag) if plan.unknown(rc)[attr] == true

unknown_tag(rc, attr, tag) if {
	attr != "tag"
	plan.unknown(rc)[attr][tag] == true
}

# A tag block whose key is unknown could be any tag; one whose value is unknown cannot prove that tag.
unknown_tag(rc, "tag", tag) if {
	some i, block in object.get(plan.after(rc), "tag", [])
	object.get(plan.unknown(rc), ["tag", i, "value"], false) == true
	block.key == tag
}

unknown_tag(rc, "tag", _) if {
	some i, _ in object.get(plan.after(rc), "tag", [])
	object.get(plan.unknown(rc), ["tag", i, "key"], false) == true
}

# The attribute that decides: the tag blocks of an Auto Scaling group, else tags_all where the resource has it, else
# tags.
source(rc) := "tag" if rc.type == "aws_autoscaling_group"

else := "tags_all" if "tags_all" in object.keys(plan.after(rc))

else := "tags_all" if "tags_all" in object.keys(plan.unknown(rc))

else := "tags"

# The known value of a mandatory tag, or "unknown", or "absent".
state(rc, tag) := {"known": tag_map(rc, source(rc))[tag]} if {
	not unknown_tag(rc, source(rc), tag)
	is_string(tag_map(rc, source(rc))[tag])
} else := {"known": tag_map(rc, "tags")[tag]} if {
	unknown_tag(rc, source(rc), tag)
	not unknown_tag(rc, "tags", tag)
	is_string(tag_map(rc, "tags")[tag])
} else := {"unknown": true} if {
	unknown_tag(rc, source(rc), tag)
} else := {"absent": true}

deny contains v if {
	some rc in plan.resources
	taggable(rc)
	some tag in ctx.mandatory_tags
	s := state(rc, tag)
	s.absent
	v := plan.violation(rule, rc, tag, sprintf("tag %q is absent (%s has %s)", [tag, source(rc), json.marshal(sort(object.keys(tag_map(rc, source(rc)))))]))
}

deny contains v if {
	some rc in plan.resources
	taggable(rc)
	some tag in ctx.mandatory_tags
	s := state(rc, tag)
	s.unknown
	v := plan.violation(rule, rc, tag, sprintf("tag %q is unknown at plan time (%s known only after apply and not set to a known value in tags), so it cannot be proven", [tag, source(rc)]))
}

deny contains v if {
	some rc in plan.resources
	taggable(rc)
	some tag in ctx.mandatory_tags
	value := state(rc, tag).known
	trim_space(value) == ""
	v := plan.violation(rule, rc, value, sprintf("tag %q is empty (%q)", [tag, value]))
}

deny contains v if {
	some rc in plan.resources
	taggable(rc)
	some tag, expected in object.get(ctx, "expected_tags", {})
	tag in ctx.mandatory_tags
	value := state(rc, tag).known
	trim_space(value) != ""
	value != expected
	v := plan.violation(rule, rc, value, sprintf("tag %q is %q, expected %q for this stack", [tag, value, expected]))
}
