# no-commitment-purchase: a team stack does not buy commitments (reserved capacity or a term it pays for whether it uses
# it or not): RDS reserved instances, ElastiCache reserved nodes, EC2 Capacity Blocks (prepaid GPU capacity), Bedrock
# provisioned throughput with a commitment term, MediaConvert reserved queues, and any resource type whose name says it
# buys a reservation, a savings plan or a capacity block (so a type the provider adds later is caught by its meaning).
# Commitments outlive a team's account and its tier; the platform buys them. Platform stacks are exempt.
package vend.commitments

import data.vend.lib.plan

rule := "no-commitment-purchase"

ctx := data.vend_context

named_commitment(t) if regex.match(`(reserved_(instance|cache_node|node|db_instance|capacity)|savings_?plan|capacity_block)`, t)

commitment(rc) if named_commitment(rc.type)

commitment(rc) if {
	rc.type == "aws_bedrock_provisioned_model_throughput"
	object.get(plan.after(rc), "commitment_duration", null) != null
}

commitment(rc) if {
	rc.type == "aws_bedrock_provisioned_model_throughput"
	plan.is_unknown(rc, ["commitment_duration"])
}

commitment(rc) if {
	rc.type == "aws_media_convert_queue"
	upper(object.get(plan.after(rc), "pricing_plan", "")) == "RESERVED"
}

deny contains v if {
	object.get(ctx, "team_stack", true) != false
	some rc in plan.resources
	commitment(rc)
	v := plan.violation(rule, rc, rc.type, sprintf("%s buys a commitment (reserved capacity or a paid term), which only the platform buys", [rc.type]))
}
