# no-public-eks-endpoint: an EKS cluster's API endpoint is not open to the internet. endpoint_public_access defaults to
# true and public_access_cidrs to 0.0.0.0/0, so an unset vpc_config is a public endpoint. Passes when public access is
# known false, or when it is on but limited to known CIDR blocks none of which is the internet (wider than /8 for
# IPv4). A Rego rule, so a stack's `# checkov:skip` of CKV_AWS_38/39 cannot turn it off.
package vend.eks_public_endpoint

import data.vend.lib.plan

rule := "no-public-eks-endpoint"

clusters contains rc if {
	some rc in plan.resources
	rc.type == "aws_eks_cluster"
}

public_off(rc) if {
	some i, vpc in object.get(plan.after(rc), "vpc_config", [])
	vpc.endpoint_public_access == false
	not plan.is_unknown(rc, ["vpc_config", i, "endpoint_public_access"])
}

limited(rc) if {
	some i, vpc in object.get(plan.after(rc), "vpc_config", [])
	not plan.is_unknown(rc, ["vpc_config", i, "public_access_cidrs"])
	cidrs := object.get(vpc, "public_access_cidrs", [])
	is_array(cidrs)
	count(cidrs) > 0
	every cidr in cidrs {
		not open_cidr(cidr)
	}
}

open_cidr(cidr) if {
	parts := split(trim_space(cidr), "/")
	count(parts) == 2
	to_number(parts[1]) < 8
}

deny contains v if {
	some rc in clusters
	not public_off(rc)
	not limited(rc)
	v := plan.violation(rule, rc, "endpoint_public_access", sprintf("the cluster API endpoint is public to %s: set vpc_config.endpoint_public_access = false (or limit public_access_cidrs)", [shown(rc)]))
}

shown(rc) := json.marshal(cidrs) if {
	cidrs := [c | some vpc in object.get(plan.after(rc), "vpc_config", []); some c in object.get(vpc, "public_access_cidrs", [])]
	count(cidrs) > 0
} else := "0.0.0.0/0 (the default, or known only after apply)"
