# Load balancer listeners that serve plain HTTP.
package terrane.scan.elb

import rego.v1

import data.terrane.scan.lib

# The listener answers every request with a redirect to HTTPS.
_redirects_to_https(rc) if {
	some a in lib.block(rc.change.after, "default_action")
	lib.lower_str(lib.get(a, "type", null)) == "redirect"
	some r in lib.block(a, "redirect")
	lib.lower_str(lib.get(r, "protocol", null)) == "https"
}

# The listener's protocol, as written or defaulted; undefined when it is known only
# after apply.
_protocol(rc) := upper(p) if {
	p := lib.get(rc.change.after, "protocol", null)
	is_string(p)
} else := "unset" if {
	not lib.pending(rc, "protocol")
}

findings contains f if {
	some t in ["aws_lb_listener", "aws_alb_listener"]
	some rc in lib.resources(t)
	protocol := _protocol(rc)
	protocol in {"HTTP", "unset"}
	not _redirects_to_https(rc)
	f := {
		"rule": "TRN-ELB-001",
		"address": rc.address,
		"message": sprintf("listener%s serves plain HTTP%s and its default_action does not redirect to HTTPS", [_port(rc), _protocol_text(protocol)]),
	}
}

_port(rc) := sprintf(" on port %v", [p]) if {
	p := lib.get(rc.change.after, "port", null)
	is_number(p)
} else := ""

_protocol_text(p) := " (protocol is not set; an application load balancer then uses HTTP)" if {
	p == "unset"
} else := ""
