# S3 buckets: encryption, versioning, public access.
#
# A bucket's settings live in separate resources (aws_s3_bucket_versioning, ...) whose
# `bucket` points at it: by reference (`aws_s3_bucket.logs.id`, unknown until apply,
# found in the configuration) or by the literal bucket name.
package terrane.scan.s3

import rego.v1

import data.terrane.scan.lib

_bucket_names := ["bucket", "id"]

_buckets := lib.resources("aws_s3_bucket")

# The link keys of each bucket, by address: computed once, tested by every rule.
_bucket_keys[rc.address] := lib.self_keys(rc, _bucket_names) if {
	some rc in _buckets
}

_linked(rc, targets) if {
	some k in _bucket_keys[rc.address]
	k in targets
}

# Link keys of the buckets that an encryption configuration points at.
_encrypted contains k if {
	some rc in lib.resources("aws_s3_bucket_server_side_encryption_configuration")
	some k in lib.link_keys(rc, "bucket")
}

# Link keys of the buckets that a versioning resource with status "Enabled" (or a
# status known only after apply) points at.
_versioned contains k if {
	some rc in lib.resources("aws_s3_bucket_versioning")
	_versioning_enabled(rc)
	some k in lib.link_keys(rc, "bucket")
}

_versioning_enabled(rc) if {
	some b in lib.block(rc.change.after, "versioning_configuration")
	b.status == "Enabled"
}

_versioning_enabled(rc) if {
	some i, b in lib.block(rc.change.after, "versioning_configuration")
	b.status == null
	lib.from_expression(rc, ["versioning_configuration", i, "status"])
}

# Link keys of the buckets that a public access block points at.
_access_blocked contains k if {
	some rc in lib.resources("aws_s3_bucket_public_access_block")
	some k in lib.link_keys(rc, "bucket")
}

_inline_encryption(rc) if {
	count(lib.block(rc.change.after, "server_side_encryption_configuration")) > 0
}

_inline_versioning(rc) if {
	some v in lib.block(rc.change.after, "versioning")
	v.enabled == true
}

findings contains f if {
	some rc in _buckets
	not _inline_encryption(rc)
	not _linked(rc, _encrypted)
	f := {
		"rule": "TRN-S3-001",
		"address": rc.address,
		"message": sprintf(
			"bucket %s has no default server-side encryption: no aws_s3_bucket_server_side_encryption_configuration points at it",
			[lib.label(rc, "bucket")]
		),
	}
}

findings contains f if {
	some rc in _buckets
	not _inline_versioning(rc)
	not _linked(rc, _versioned)
	f := {
		"rule": "TRN-S3-002",
		"address": rc.address,
		"message": sprintf(
			"bucket %s keeps no object versions: no aws_s3_bucket_versioning with status \"Enabled\" points at it",
			[lib.label(rc, "bucket")]
		),
	}
}

findings contains f if {
	some rc in _buckets
	not _linked(rc, _access_blocked)
	f := {
		"rule": "TRN-S3-003",
		"address": rc.address,
		"message": sprintf(
			"bucket %s has no aws_s3_bucket_public_access_block, so a public ACL or bucket policy would take effect",
			[lib.label(rc, "bucket")]
		),
	}
}

_public_acls := {"public-read", "public-read-write", "authenticated-read"}

_acl_reach := {
	"public-read": "anyone on the internet can list and read its objects",
	"public-read-write": "anyone on the internet can read and write its objects",
	"authenticated-read": "any AWS account can list and read its objects",
}

findings contains f if {
	some t in ["aws_s3_bucket", "aws_s3_bucket_acl"]
	some rc in lib.resources(t)
	acl := rc.change.after.acl
	acl in _public_acls
	f := {
		"rule": "TRN-S3-004",
		"address": rc.address,
		"message": sprintf("acl is \"%s\": %s", [acl, _acl_reach[acl]]),
	}
}

_access_flags := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

_flag_on(rc, flag) if rc.change.after[flag] == true

# Set from a reference or variable known only after apply: not reported.
_flag_on(rc, flag) if lib.pending(rc, flag)

findings contains f if {
	some rc in lib.resources("aws_s3_bucket_public_access_block")
	off := [flag | some flag in _access_flags; not _flag_on(rc, flag)]
	count(off) > 0
	f := {
		"rule": "TRN-S3-005",
		"address": rc.address,
		"message": sprintf("public access block leaves %s off (each must be true)", [concat(", ", off)]),
	}
}
