# Security group ingress open to the whole internet.
#
# Rules come from three places: inline `ingress` blocks of aws_security_group,
# aws_security_group_rule with type = "ingress", and aws_vpc_security_group_ingress_rule.
# A rule open on every port is reported once, as TRN-EC2-003, not also as SSH or RDP.
package terrane.scan.network

import rego.v1

import data.terrane.scan.lib

_world := {"0.0.0.0/0", "::/0", "0000:0000:0000:0000:0000:0000:0000:0000/0"}

# The ingress rules of a resource that are open to the world, as
# {cidr, protocol, from, to}. Computed per resource, so the findings below never join
# all rules with all resources.
_open_rules(rc, world) := rules if {
	rc.type == "aws_security_group"
	rules := [r |
		some b in lib.block(rc.change.after, "ingress")
		some cidr in array.concat(lib.as_list(lib.get(b, "cidr_blocks", null)), lib.as_list(lib.get(b, "ipv6_cidr_blocks", null)))
		cidr in world
		r := {
			"cidr": cidr,
			"protocol": lib.lower_str(lib.get(b, "protocol", null)),
			"from": lib.get(b, "from_port", null),
			"to": lib.get(b, "to_port", null),
		}
	]
}

_open_rules(rc, world) := rules if {
	rc.type == "aws_security_group_rule"
	after := rc.change.after
	after.type == "ingress"
	rules := [r |
		some cidr in array.concat(lib.as_list(lib.get(after, "cidr_blocks", null)), lib.as_list(lib.get(after, "ipv6_cidr_blocks", null)))
		cidr in world
		r := {
			"cidr": cidr,
			"protocol": lib.lower_str(lib.get(after, "protocol", null)),
			"from": lib.get(after, "from_port", null),
			"to": lib.get(after, "to_port", null),
		}
	]
}

_open_rules(rc, world) := rules if {
	rc.type == "aws_vpc_security_group_ingress_rule"
	after := rc.change.after
	rules := [r |
		some cidr in [lib.get(after, "cidr_ipv4", null), lib.get(after, "cidr_ipv6", null)]
		cidr in world
		r := {
			"cidr": cidr,
			"protocol": lib.lower_str(lib.get(after, "ip_protocol", null)),
			"from": lib.get(after, "from_port", null),
			"to": lib.get(after, "to_port", null),
		}
	]
}

_kind := {
	"aws_security_group": "security group",
	"aws_security_group_rule": "ingress rule",
	"aws_vpc_security_group_ingress_rule": "ingress rule",
}

# _exposed[ADDRESS]: {"kind", "rules"} for every resource with ingress open to the world.
_exposed[rc.address] := {"kind": _kind[rc.type], "rules": rules} if {
	world := _world
	some t, _ in _kind
	some rc in lib.resources(t)
	rules := _open_rules(rc, world)
	count(rules) > 0
}

_all_protocols := {"-1", "all"}

# Port-based protocols (ICMP "ports" are message types).
_port_protocols := {"tcp", "udp", "6", "17"}

_all_ports(r) if r.protocol in _all_protocols

_all_ports(r) if {
	r.protocol in _port_protocols
	is_number(r.from)
	is_number(r.to)
	r.from <= 0
	r.to >= 65535
}

# The rule opens `port`, and not as part of every port.
_opens(r, port) if {
	not _all_ports(r)
	r.protocol in _port_protocols
	is_number(r.from)
	is_number(r.to)
	r.from <= port
	port <= r.to
}

_all_text(r) := "all traffic" if {
	r.protocol in _all_protocols
} else := sprintf("%s %v-%v", [r.protocol, r.from, r.to])

_ranges(r) := sprintf("%s %v", [r.protocol, r.from]) if {
	r.from == r.to
} else := sprintf("%s %v-%v", [r.protocol, r.from, r.to])

_port_rules := [
	{"rule": "TRN-EC2-001", "port": 22, "service": "SSH"},
	{"rule": "TRN-EC2-002", "port": 3389, "service": "RDP"},
]

findings contains f if {
	some address, x in _exposed
	some pr in _port_rules
	sources := {sprintf("%s (%s)", [r.cidr, _ranges(r)]) |
		some r in x.rules
		_opens(r, pr.port)
	}
	count(sources) > 0
	f := {
		"rule": pr.rule,
		"address": address,
		"message": sprintf(
			"%s allows %s (port %d) from the whole internet: %s",
			[x.kind, pr.service, pr.port, concat(", ", sort(sources))]
		),
	}
}

findings contains f if {
	some address, x in _exposed
	sources := {sprintf("%s (%s)", [r.cidr, _all_text(r)]) |
		some r in x.rules
		_all_ports(r)
	}
	count(sources) > 0
	f := {
		"rule": "TRN-EC2-003",
		"address": address,
		"message": sprintf("%s allows every port from the whole internet: %s", [x.kind, concat(", ", sort(sources))]),
	}
}
