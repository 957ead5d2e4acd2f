# The local provider: file permissions and load balancers exposed off this machine.
package terrane.scan.local

import rego.v1

import data.terrane.scan.lib

# --- TRN-LOCAL-001: world-writable files ------------------------------------------

# Octal modes whose last digit (others) has the write bit.
_world_writable(mode) if {
	is_string(mode)
	count(mode) >= 1
	count(mode) <= 4
	trim(mode, "01234567") == ""
	substring(mode, count(mode) - 1, 1) in {"2", "3", "6", "7"}
}

_permission_problems(rc) := problems if {
	problems := {text |
		some attr in ["file_permission", "directory_permission"]
		mode := lib.get(rc.change.after, attr, null)
		_world_writable(mode)
		text := sprintf("%s is \"%s\"%s", [attr, mode, _default_text(rc, attr)])
	}
}

_default_text(rc, attr) := " (the default, as it is not set)" if {
	lib.config_resources[lib.config_address(rc)]
	lib.expression(rc, attr) == null
} else := ""

findings contains f if {
	some t in ["local_file", "local_sensitive_file"]
	some rc in lib.resources(t)
	problems := _permission_problems(rc)
	count(problems) > 0
	f := {
		"rule": "TRN-LOCAL-001",
		"address": rc.address,
		"message": sprintf("%s: any user on this machine can write %s", [concat("; ", sort(problems)), _target(rc)]),
	}
}

_target(rc) := concat("", ["\"", name, "\" or its directory"]) if {
	name := lib.get(rc.change.after, "filename", null)
	is_string(name)
} else := "the file or its directory"

# --- TRN-LOCAL-002: load balancers listening beyond loopback without TLS -------------

# The host part of a listen address: "127.0.0.1" of "127.0.0.1:80", "::1" of
# "[::1]:80", "" of ":80".
_host(listen) := substring(listen, 1, indexof(listen, "]") - 1) if {
	startswith(listen, "[")
	indexof(listen, "]") > 0
} else := h if {
	parts := split(listen, ":")
	count(parts) == 2
	h := parts[0]
} else := listen

_loopback(host) if startswith(host, "127.")

_loopback(host) if lower(host) in {"::1", "localhost", "0:0:0:0:0:0:0:1"}

findings contains f if {
	some rc in lib.resources("local_load_balancer")
	count(lib.block(rc.change.after, "tls")) == 0
	listen := lib.get(rc.change.after, "listen", null)
	is_string(listen)
	host := _host(listen)
	not _loopback(host)
	f := {
		"rule": "TRN-LOCAL-002",
		"address": rc.address,
		"message": sprintf("load balancer listens on \"%s\"%s without a tls block: traffic from other machines travels in plain text", [listen, _reach(host)]),
	}
}

_reach(host) := ", every network interface," if {
	host in {"", "0.0.0.0", "::", "[::]"}
} else := ", beyond loopback,"
