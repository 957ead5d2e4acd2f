# EC2: EBS encryption and the instance metadata service.
package terrane.scan.ec2

import rego.v1

import data.terrane.scan.lib

# --- TRN-EC2-004: EBS volumes -------------------------------------------------------

findings contains f if {
	some rc in lib.resources("aws_ebs_volume")
	lib.get(rc.change.after, "encrypted", null) != true
	not lib.pending(rc, "encrypted")
	f := {
		"rule": "TRN-EC2-004",
		"address": rc.address,
		"message": sprintf("EBS volume is not encrypted: %s", [lib.false_text(rc, "encrypted")]),
	}
}

# --- TRN-EC2-005: instance and launch template block devices ------------------------

# Instances and launch templates, checked by TRN-EC2-005 and TRN-EC2-006.
_machines := array.concat(lib.resources("aws_instance"), lib.resources("aws_launch_template"))

# Problems with the block devices of an instance, one phrase each.
_device_problems(rc) := {"no root_block_device block: the root volume is created unencrypted unless the account turns on EBS encryption by default"} if {
	rc.type == "aws_instance"
	count(lib.block(rc.change.after, "root_block_device")) == 0
}

_device_problems(rc) := problems if {
	rc.type == "aws_instance"
	count(lib.block(rc.change.after, "root_block_device")) > 0
	root := {sprintf("root_block_device is not encrypted (%s)", [_why(b)]) |
		some i, b in lib.block(rc.change.after, "root_block_device")
		_unencrypted(rc, ["root_block_device", i], b)
	}
	extra := {sprintf("ebs_block_device %s is not encrypted (%s)", [_device_name(b), _why(b)]) |
		some i, b in lib.block(rc.change.after, "ebs_block_device")
		_unencrypted(rc, ["ebs_block_device", i], b)
	}
	problems := root | extra
}

_device_problems(rc) := problems if {
	rc.type == "aws_launch_template"
	problems := {sprintf("block_device_mappings %s is not encrypted (%s)", [_device_name(m), _why(b)]) |
		some i, m in lib.block(rc.change.after, "block_device_mappings")
		some j, b in lib.block(m, "ebs")
		_unencrypted(rc, ["block_device_mappings", i, "ebs", j], b)
	}
}

# A block device whose `encrypted` is not true: false, or not set (a device created
# from a snapshot takes the snapshot's encryption, so it is left alone then).
_unencrypted(rc, path, b) if {
	lib.get(b, "encrypted", null) == false
}

_unencrypted(rc, path, b) if {
	lib.get(b, "encrypted", null) == null
	not lib.from_expression(rc, array.concat(path, ["encrypted"]))
	not _from_snapshot(b)
}

_why(b) := "encrypted = false" if {
	lib.get(b, "encrypted", null) == false
} else := "encrypted is not set"

_from_snapshot(b) if {
	s := lib.get(b, "snapshot_id", null)
	s != null
	s != ""
}

_device_name(b) := concat("", ["\"", n, "\""]) if {
	n := lib.get(b, "device_name", null)
	is_string(n)
} else := "(no device name)"

findings contains f if {
	some rc in _machines
	problems := _device_problems(rc)
	count(problems) > 0
	f := {
		"rule": "TRN-EC2-005",
		"address": rc.address,
		"message": concat("; ", sort(problems)),
	}
}

# --- TRN-EC2-006: IMDSv2 ------------------------------------------------------------

findings contains f if {
	some rc in _machines
	count(lib.block(rc.change.after, "metadata_options")) == 0
	f := {
		"rule": "TRN-EC2-006",
		"address": rc.address,
		"message": "no metadata_options block: the instance metadata service accepts IMDSv1 requests without a session token",
	}
}

findings contains f if {
	some rc in _machines
	some i, m in lib.block(rc.change.after, "metadata_options")
	lib.get(m, "http_endpoint", null) != "disabled"
	tokens := lib.get(m, "http_tokens", null)
	tokens != "required"
	not _tokens_unknown(rc, i, tokens)
	f := {
		"rule": "TRN-EC2-006",
		"address": rc.address,
		"message": sprintf("metadata_options.http_tokens is %s, so IMDSv1 requests without a session token are accepted", [_tokens_text(tokens)]),
	}
}

_tokens_unknown(rc, i, tokens) if {
	tokens == null
	lib.from_expression(rc, ["metadata_options", i, "http_tokens"])
}

_tokens_text(v) := concat("", ["\"", v, "\""]) if {
	is_string(v)
} else := "not set (it defaults to \"optional\")"
