# no-open-admin-ingress: nothing opens an administration port (SSH, RDP, Telnet, VNC, WinRM, Docker, the Kubernetes API
# and kubelet, etcd) to the internet. A Rego rule, not only checkov's CKV_AWS_24/25: a stack author's
# `# checkov:skip` cannot turn it off, only a platform waiver (policies/waivers.yaml) can.
#
# Covers security groups (inline ingress, aws_security_group_rule, aws_vpc_security_group_ingress_rule, the default
# group) and network ACLs (inline ingress, aws_network_acl_rule). "The internet" is any IPv4 block wider than /8 or
# IPv6 wider than /16, not only 0.0.0.0/0 (two /1 blocks open it just as well). Protocol -1 ("all") opens every port.
# A source block known only after apply on an admin port cannot be proven private: stopped (fail closed).
package vend.admin_ingress

import data.vend.lib.plan

rule := "no-open-admin-ingress"

admin_ports := {22: "SSH", 23: "Telnet", 3389: "RDP", 5900: "VNC", 5985: "WinRM", 5986: "WinRM", 2375: "Docker",
	2376: "Docker", 6443: "Kubernetes API", 10250: "kubelet", 2379: "etcd", 2380: "etcd"}

# Each ingress entry as {from, to, protocol, cidrs, unknown_cidrs, where}.
entries contains [rc, e] if {
	some rc in plan.resources
	rc.type in {"aws_security_group", "aws_default_security_group"}
	some i, r in object.get(plan.after(rc), "ingress", [])
	e := {
		"from": object.get(r, "from_port", 0), "to": object.get(r, "to_port", 0), "protocol": object.get(r, "protocol", "-1"),
		"cidrs": array.concat(list(r, "cidr_blocks"), list(r, "ipv6_cidr_blocks")),
		"unknown": unknown_any(rc, ["ingress", i], ["cidr_blocks", "ipv6_cidr_blocks"]),
		"where": sprintf("ingress[%v]", [i]),
	}
}

entries contains [rc, e] if {
	some rc in plan.resources
	rc.type == "aws_security_group_rule"
	r := plan.after(rc)
	r.type == "ingress"
	e := {
		"from": object.get(r, "from_port", 0), "to": object.get(r, "to_port", 0), "protocol": object.get(r, "protocol", "-1"),
		"cidrs": array.concat(list(r, "cidr_blocks"), list(r, "ipv6_cidr_blocks")),
		"unknown": unknown_any(rc, [], ["cidr_blocks", "ipv6_cidr_blocks"]),
		"where": "rule",
	}
}

entries contains [rc, e] if {
	some rc in plan.resources
	rc.type == "aws_vpc_security_group_ingress_rule"
	r := plan.after(rc)
	e := {
		"from": object.get(r, "from_port", 0), "to": object.get(r, "to_port", 0), "protocol": object.get(r, "ip_protocol", "-1"),
		"cidrs": [c | some c in [object.get(r, "cidr_ipv4", null), object.get(r, "cidr_ipv6", null)]; is_string(c)],
		"unknown": unknown_any(rc, [], ["cidr_ipv4", "cidr_ipv6"]),
		"where": "rule",
	}
}

entries contains [rc, e] if {
	some rc in plan.resources
	rc.type in {"aws_network_acl", "aws_default_network_acl"}
	some i, r in object.get(plan.after(rc), "ingress", [])
	lower(object.get(r, "action", "")) == "allow"
	e := {
		"from": object.get(r, "from_port", 0), "to": object.get(r, "to_port", 0), "protocol": object.get(r, "protocol", "-1"),
		"cidrs": [c | some c in [object.get(r, "cidr_block", null), object.get(r, "ipv6_cidr_block", null)]; is_string(c); c != ""],
		"unknown": unknown_any(rc, ["ingress", i], ["cidr_block", "ipv6_cidr_block"]),
		"where": sprintf("ingress[%v]", [i]),
	}
}

entries contains [rc, e] if {
	some rc in plan.resources
	rc.type == "aws_network_acl_rule"
	r := plan.after(rc)
	object.get(r, "egress", false) == false
	lower(object.get(r, "rule_action", "")) == "allow"
	e := {
		"from": object.get(r, "from_port", 0), "to": object.get(r, "to_port", 0), "protocol": object.get(r, "protocol", "-1"),
		"cidrs": [c | some c in [object.get(r, "cidr_block", null), object.get(r, "ipv6_cidr_block", null)]; is_string(c); c != ""],
		"unknown": unknown_any(rc, [], ["cidr_block", "ipv6_cidr_block"]),
		"where": "rule",
	}
}

list(r, key) := v if {
	v := object.get(r, key, [])
	is_array(v)
} else := []

# after_unknown marks a list attribute element by element ([false, true]) or whole (true).
unknown_any(rc, prefix, keys) := true if {
	some key in keys
	marks := object.get(plan.unknown(rc), array.concat(prefix, [key]), false)
	any_true(marks)
} else := false

any_true(marks) if marks == true

any_true(marks) if {
	is_array(marks)
	some m in marks
	m == true
}

all_protocols(p) if lower(sprintf("%v", [p])) in {"-1", "all"}

tcp_or_udp(p) if lower(sprintf("%v", [p])) in {"tcp", "6", "udp", "17"}

number_or(v, d) := v if is_number(v)

else := d

# The admin ports an entry opens.
opened(e) := {port | some port, _ in admin_ports} if all_protocols(e.protocol)

opened(e) := {port |
	some port, _ in admin_ports
	number_or(e.from, 0) <= port
	port <= number_or(e.to, 65535)
} if tcp_or_udp(e.protocol)

open_cidr(cidr) if {
	parts := split(trim_space(cidr), "/")
	count(parts) == 2
	not contains(parts[0], ":")
	to_number(parts[1]) < 8
}

open_cidr(cidr) if {
	parts := split(trim_space(cidr), "/")
	count(parts) == 2
	contains(parts[0], ":")
	to_number(parts[1]) < 16
}

deny contains v if {
	some [rc, e] in entries
	some cidr in e.cidrs
	open_cidr(cidr)
	ports := opened(e)
	count(ports) > 0
	names := sort({sprintf("%v (%s)", [p, admin_ports[p]]) | some p in ports})
	detail := sprintf("%s opens %s to %s", [e.where, concat(", ", names), cidr])
	v := plan.violation(rule, rc, cidr, detail)
}

deny contains v if {
	some [rc, e] in entries
	e.unknown == true
	ports := opened(e)
	count(ports) > 0
	names := sort({sprintf("%v (%s)", [p, admin_ports[p]]) | some p in ports})
	detail := sprintf("%s opens %s to a source block known only after apply, which cannot be proven private", [e.where, concat(", ", names)])
	v := plan.violation(rule, rc, "(unknown)", detail)
}
