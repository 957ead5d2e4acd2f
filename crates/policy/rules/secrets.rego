# Secrets in the configuration: literal secret values, and secret variables that are
# not marked sensitive. Both read the `configuration` section, where a literal is a
# `constant_value` and anything else (a variable, a reference) lists `references`.
package terrane.scan.secrets

import rego.v1

import data.terrane.scan.lib

# --- what looks like a secret -------------------------------------------------------

# Attribute names that hold a secret.
_secret_names := {
	"password", "master_password", "admin_password", "root_password", "db_password",
	"secret", "secret_string", "secret_key", "access_key", "secret_access_key",
	"token", "auth_token", "api_key", "apikey", "api_token", "access_token",
	"refresh_token", "bearer_token", "client_secret", "private_key", "private_key_pem",
	"passphrase", "sasl_password", "preshared_key",
}

_secret_suffixes := [
	"_password", "_passwd", "_secret", "_secret_key", "_access_key", "_private_key",
	"_api_key", "_apikey", "_auth_token", "_access_token", "_api_token",
	"_refresh_token", "_bearer_token", "_passphrase", "_preshared_key",
	"_client_secret", "_secret_string",
]

# Names built like secrets that are identifiers or settings.
_not_secret_names := {"creation_token", "client_token", "idempotency_token", "continuation_token", "next_token"}

# Attributes whose map keys are labels, not settings.
_label_maps := {"tags", "tags_all", "labels", "default_tags"}

_secret_name(n) if {
	is_string(n)
	l := lower(n)
	not l in _not_secret_names
	_secret_shaped(l)
}

_secret_shaped(l) if l in _secret_names

_secret_shaped(l) if {
	some s in _secret_suffixes
	endswith(l, s)
}

# An expression that is a non-empty literal string.
_literal(e) if _nonempty(e.constant_value)

# --- TRN-SEC-001: literal secrets -------------------------------------------------

# The attribute names used in the configuration (top-level and in nested blocks), each
# checked once against the secret patterns: the scans below then only look names up
# in _secret_names_used. Keys of literal maps are rarer and checked directly.
_names_used contains n if {
	some r in lib.config_resources
	is_object(r.expressions)
	some n, _ in r.expressions
}

_names_used contains n if {
	some r in lib.config_resources
	is_object(r.expressions)
	some _, bodies in r.expressions
	is_array(bodies)
	some body in bodies
	is_object(body)
	some n, _ in body
}

_secret_names_used contains n if {
	some n in _names_used
	_secret_name(n)
}

# Configuration resources that may hold a literal secret: an attribute with a
# secret-like name, or a literal map (whose keys are checked). Cheap passes over the
# whole configuration; _wheres then looks closely at these few.
_candidates contains ca if {
	names := _secret_names_used
	some ca, r in lib.config_resources
	r.mode == "managed"
	is_object(r.expressions)
	some attr, _ in r.expressions
	names[attr]
}

_candidates contains ca if {
	names := _secret_names_used
	some ca, r in lib.config_resources
	r.mode == "managed"
	is_object(r.expressions)
	some _, bodies in r.expressions
	is_array(bodies)
	some body in bodies
	is_object(body)
	some attr, _ in body
	names[attr]
}

_candidates contains ca if {
	labels := _label_maps
	some ca, r in lib.config_resources
	r.mode == "managed"
	is_object(r.expressions)
	some attr, e in r.expressions
	is_object(e.constant_value)
	not attr in labels
}

_candidates contains ca if {
	labels := _label_maps
	some ca, r in lib.config_resources
	r.mode == "managed"
	is_object(r.expressions)
	some _, bodies in r.expressions
	is_array(bodies)
	some body in bodies
	is_object(body)
	some attr, e in body
	is_object(e.constant_value)
	not attr in labels
}

# _wheres[CONFIGURATION ADDRESS]: where that resource holds literal secrets, sorted:
# "password", "environment.variables[\"API_TOKEN\"]".
_wheres[ca] := sorted if {
	names := _secret_names_used
	labels := _label_maps
	some ca in _candidates
	exprs := lib.config_resources[ca].expressions
	found := _literal_wheres(exprs, names, labels)
	count(found) > 0
	sorted := sort(found)
}

_literal_wheres(exprs, names, labels) := found if {
	top := {attr |
		some attr, e in exprs
		names[attr]
		_literal(e)
	}
	nested := {concat(".", [block, attr]) |
		some block, bodies in exprs
		is_array(bodies)
		some body in bodies
		is_object(body)
		some attr, e in body
		names[attr]
		_literal(e)
	}
	maps := {sprintf("%s[\"%s\"]", [attr, key]) |
		some attr, e in exprs
		is_object(e.constant_value)
		not attr in labels
		some key, value in e.constant_value
		_secret_name(key)
		_nonempty(value)
	}
	nested_maps := {sprintf("%s.%s[\"%s\"]", [block, attr, key]) |
		some block, bodies in exprs
		is_array(bodies)
		some body in bodies
		is_object(body)
		some attr, e in body
		is_object(e.constant_value)
		not attr in labels
		some key, value in e.constant_value
		_secret_name(key)
		_nonempty(value)
	}
	found := ((top | nested) | maps) | nested_maps
}

_nonempty(v) if {
	is_string(v)
	trim_space(v) != ""
}

_literal_message(names) := sprintf(
	"%s %s set to a literal string in the configuration: the secret is in the source code and in every copy of it",
	[concat(", ", names), _verb(names)]
)

_verb(names) := "is" if {
	count(names) == 1
} else := "are"

# One pass over the resource changes, keeping the instances of offending resources.
findings contains f if {
	wheres := _wheres
	types := {lib.config_resources[ca].type | some ca, _ in wheres}
	some rc in input.resource_changes
	rc.type in types
	lib.live(rc)
	names := wheres[lib.config_address(rc)]
	f := {
		"rule": "TRN-SEC-001",
		"address": rc.address,
		"message": _literal_message(names),
	}
}

# Providers: `provider "aws" { access_key = "AKIA..." }`.
findings contains f if {
	some key, p in lib.objects(input.configuration.provider_config)
	names := sort({attr |
		some attr, e in lib.objects(lib.get(p, "expressions", {}))
		_secret_name(attr)
		_literal(e)
	})
	count(names) > 0
	f := {
		"rule": "TRN-SEC-001",
		"address": _provider_address(key),
		"message": _literal_message(names),
	}
}

# "aws" → "provider.aws", "aws.west" → "provider.aws.west", "module.m:aws" →
# "module.m.provider.aws".
_provider_address(key) := concat("", [parts[0], ".provider.", parts[1]]) if {
	parts := split(key, ":")
	count(parts) == 2
} else := concat("", ["provider.", key])

# --- TRN-SEC-002: secret variables not marked sensitive -----------------------------

_variable_words := [
	"password", "passwd", "secret", "token", "api_key", "apikey", "private_key",
	"access_key", "secret_key", "passphrase", "credential",
]

# Names that contain a secret word but name something else: an ID, a length, a
# switch, a path to a file.
_variable_not_suffixes := [
	"_id", "_ids", "_arn", "_arns", "_name", "_names", "_length", "_enabled", "_enable",
	"_version", "_ttl", "_count", "_days", "_policy", "_path", "_file", "_filename",
	"_type", "_expiry", "_expiration", "_rotation", "_kms_key", "_kms_key_id", "_url",
	"_endpoint", "_bucket", "_prefix",
]

_variable_not_prefixes := [
	"enable_", "use_", "create_", "manage_", "generate_", "rotate_", "is_", "has_", "no_",
]

_secret_variable(name, decl) if {
	l := lower(name)
	some w in _variable_words
	contains(l, w)
	not _variable_other(l)
	d := lib.get(decl, "default", null)
	not is_boolean(d)
	not is_number(d)
}

_variable_other(l) if {
	some s in _variable_not_suffixes
	endswith(l, s)
}

_variable_other(l) if {
	some p in _variable_not_prefixes
	startswith(l, p)
}

findings contains f if {
	some prefix, m in lib.modules
	some name, decl in lib.objects(lib.get(m, "variables", {}))
	_secret_variable(name, decl)
	lib.get(decl, "sensitive", false) != true
	f := {
		"rule": "TRN-SEC-002",
		"address": concat("", [prefix, "var.", name]),
		"message": sprintf("variable \"%s\" looks like a secret but is not marked sensitive = true, so its value is shown in plan output and logs", [name]),
	}
}
