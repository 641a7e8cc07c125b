# audit-and-detection-on: a stack cannot switch off, remove or blind the account's audit trail and threat detection.
# - CloudTrail: a trail with enable_logging false (or known only after apply), or event selectors that drop management
#   events; deleting a trail.
# - GuardDuty: a detector with enable false (or unknown), a detector feature set DISABLED, a filter that ARCHIVEs
#   findings (suppression); deleting a detector.
# - Security Hub: an automation rule that suppresses findings or sets them RESOLVED; removing Security Hub.
# - IAM Access Analyzer: archive rules (they hide findings).
# - AWS Config: a recorder status with is_enabled false; deleting a recorder.
# A Rego rule, so no inline `checkov:skip` in the stack turns it off; only a platform waiver can.
package vend.detection_on

import data.vend.lib.plan

rule := "audit-and-detection-on"

off(rc, attr) if object.get(plan.after(rc), attr, true) == false

off(rc, attr) if plan.is_unknown(rc, [attr])

deny contains v if {
	some rc in plan.resources
	some [rtype, attr] in [["aws_cloudtrail", "enable_logging"], ["aws_guardduty_detector", "enable"], ["aws_config_configuration_recorder_status", "is_enabled"]]
	rc.type == rtype
	off(rc, attr)
	value := object.get(plan.after(rc), attr, "(unknown)")
	v := plan.violation(rule, rc, value, sprintf("%s is %v: the stack switches %s off (or cannot prove it on)", [attr, value, rtype]))
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_cloudtrail"
	some i, sel in object.get(plan.after(rc), "event_selector", [])
	object.get(sel, "include_management_events", true) == false
	v := plan.violation(rule, rc, false, sprintf("event_selector[%v].include_management_events is false: the trail stops recording management events", [i]))
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_guardduty_detector_feature"
	upper(object.get(plan.after(rc), "status", "")) == "DISABLED"
	v := plan.violation(rule, rc, "DISABLED", sprintf("GuardDuty feature %v is set DISABLED", [object.get(plan.after(rc), "name", "(unknown)")]))
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_guardduty_filter"
	upper(object.get(plan.after(rc), "action", "")) != "NOOP"
	v := plan.violation(rule, rc, plan.after(rc).action, sprintf("GuardDuty filter action %v archives (suppresses) findings", [plan.after(rc).action]))
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_securityhub_automation_rule"
	walk(object.get(plan.after(rc), "actions", []), [path, value])
	path[count(path) - 1] in {"status", "workflow"}
	is_string(value)
	upper(value) in {"SUPPRESSED", "RESOLVED"}
	v := plan.violation(rule, rc, value, sprintf("automation rule sets findings %s (suppression)", [value]))
}

deny contains v if {
	some rc in plan.resources
	rc.type == "aws_accessanalyzer_archive_rule"
	v := plan.violation(rule, rc, object.get(plan.after(rc), "rule_name", "(unknown)"), "an archive rule hides Access Analyzer findings")
}

# Pure deletes (a replacement keeps the resource).
protected_types := {"aws_cloudtrail", "aws_guardduty_detector", "aws_securityhub_account", "aws_config_configuration_recorder",
	"aws_config_configuration_recorder_status", "aws_config_delivery_channel"}

deny contains v if {
	some rc in input.resource_changes
	rc.type in protected_types
	rc.change.actions == ["delete"]
	v := plan.violation(rule, rc, "delete", sprintf("the plan deletes %s", [rc.type]))
}
