# Helpers shared by the scan rules.
#
# `input` is a plan document (Terraform's JSON plan format, with its `configuration`
# section). Resources come from `resource_changes`; the configuration tells how they
# are linked (references) and which values were written as literals.
#
# Regorus stops the whole evaluation on a builtin given a value of the wrong type
# (`object.get(null, ...)`, `some x in null`, `lower(5)`, `json.unmarshal("{")`), so
# every helper here checks types first and the rules only iterate over what these
# helpers return.
package terrane.scan.lib

import rego.v1

# --- resources --------------------------------------------------------------------

# A resource that exists after the change: managed, not being deleted, with planned
# values.
live(rc) if {
	rc.mode == "managed"
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
}

# The live resource changes of type t, in plan order. One pass over the plan per call:
# rules that check a type several times bind the list to a rule of their own. (The
# conditions of live are written out: a function call per resource costs more than
# the pass.)
resources(t) := [rc |
	some rc in input.resource_changes
	rc.type == t
	rc.mode == "managed"
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
]

# --- values -----------------------------------------------------------------------

# object.get that accepts anything: d when o is not an object.
get(o, k, d) := v if {
	is_object(o)
	v := object.get(o, k, d)
} else := d

# A nested block as a list of objects: a list block is itself, a single block is one
# object, a missing or null block is none.
blocks(v) := bs if {
	is_array(v)
	bs := [b | some b in v; is_object(b)]
} else := [v] if {
	is_object(v)
} else := []

# The blocks named `name` of an object (the planned values of a resource or a block).
block(o, name) := blocks(get(o, name, null))

# A value as a list: an array or set as its items, null as none, anything else as
# itself (IAM's "Action": "*" or "Action": ["s3:GetObject"]).
as_list(v) := v if {
	is_array(v)
} else := xs if {
	is_set(v)
	xs := [x | some x in v]
} else := [] if {
	is_null(v)
} else := [v]

# The lowercase form of a string, "" for anything else.
lower_str(v) := lower(v) if {
	is_string(v)
} else := ""

# --- configuration ----------------------------------------------------------------

# A value if it is an object, else {}; if it is an array, else [].
objects(v) := v if {
	is_object(v)
} else := {}

arrays(v) := v if {
	is_array(v)
} else := []

_root := input.configuration.root_module

# modules[PREFIX]: every module of the configuration, keyed by the prefix of its
# addresses ("" for the root, "module.net." for a child, "module.a.module.b." for a
# grandchild). Three levels deep.
modules[""] := _root

modules[p] := m if {
	some n1, c1 in objects(get(_root, "module_calls", {}))
	m := get(c1, "module", {})
	p := concat("", ["module.", n1, "."])
}

modules[p] := m if {
	some n1, c1 in objects(get(_root, "module_calls", {}))
	some n2, c2 in objects(get(get(c1, "module", {}), "module_calls", {}))
	m := get(c2, "module", {})
	p := concat("", ["module.", n1, ".module.", n2, "."])
}

modules[p] := m if {
	some n1, c1 in objects(get(_root, "module_calls", {}))
	some n2, c2 in objects(get(get(c1, "module", {}), "module_calls", {}))
	some n3, c3 in objects(get(get(c2, "module", {}), "module_calls", {}))
	m := get(c3, "module", {})
	p := concat("", ["module.", n1, ".module.", n2, ".module.", n3, "."])
}

# config_resources[ADDRESS]: the configuration of every resource and data source,
# keyed by its address without instance keys ("module.net.aws_vpc.main"); the
# configuration writes addresses relative to their module, as Terraform does.
config_resources[a] := r if {
	some p, m in modules
	some r in arrays(get(m, "resources", []))
	is_string(r.address)
	a := concat("", [p, r.address])
}

# The module part of a resource change's address, without instance keys and with a
# trailing dot: "module.net." for "module.net[0].aws_vpc.main", "" in the root.
# (Regular expressions are avoided on paths taken once per resource: regorus compiles
# the pattern on every call.)
module_prefix(rc) := concat("", array.concat(array.concat([parts[0]], rest), ["."])) if {
	is_string(rc.module_address)
	rc.module_address != ""
	parts := split(rc.module_address, "[")
	rest := [substring(p, indexof(p, "]") + 1, -1) | some i, p in parts; i > 0]
} else := ""

# The configuration address of a resource change: its address without instance keys.
config_address(rc) := concat("", [module_prefix(rc), "data.", rc.type, ".", rc.name]) if {
	rc.mode == "data"
} else := concat("", [module_prefix(rc), rc.type, ".", rc.name])

# The configuration expressions of a resource change ({} when there is no
# configuration section).
expressions(rc) := e if {
	e := config_resources[config_address(rc)].expressions
	is_object(e)
} else := {}

# The expression at `path` of a resource's configuration: an attribute name, or a
# path through nested blocks such as ["metadata_options", 0, "http_tokens"] (blocks
# are always lists in the configuration).
expression(rc, path) := object.get(expressions(rc), path, null)

# True when the attribute at `path` is set from an expression that is not a literal
# (a reference to a variable, a resource, a function of them): a null planned value
# then means "known only after apply", not "not set".
from_expression(rc, path) if {
	e := expression(rc, path)
	is_object(e)
	not "constant_value" in object.keys(e)
}

# A top-level attribute whose planned value is null because its expression is known
# only after apply: rules that need the value leave the resource alone.
pending(rc, attr) if {
	get(rc.change.after, attr, null) == null
	from_expression(rc, attr)
}

# The references of an expression, as strings.
refs(expr) := rs if {
	is_array(expr.references)
	rs := [r | some r in expr.references; is_string(r)]
} else := []

# --- links between resources --------------------------------------------------------

# First parts of references that do not name a managed resource.
_not_resources := {"var", "local", "data", "module", "count", "each", "path", "self", "terraform"}

# What attribute `attr` of a resource points at, as keys: "ref:ADDRESS" for each
# managed resource its expression references ("aws_s3_bucket.logs", also when written
# "aws_s3_bucket.logs.id" or "aws_s3_bucket.logs[0].id"; in the configuration's form,
# module prefix added), and "lit:VALUE" for its planned value when that is a known
# string.
link_keys(rc, attr) := keys if {
	p := module_prefix(rc)
	e := object.get(expressions(rc), attr, null)
	not_resources := _not_resources
	refs_keys := {k |
		some r in refs(e)
		parts := split(r, ".")
		count(parts) >= 2
		not parts[0] in not_resources
		k := concat("", ["ref:", p, parts[0], ".", split(parts[1], "[")[0]])
	}
	lit_keys := {k |
		v := get(rc.change.after, attr, null)
		is_string(v)
		v != ""
		k := concat("", ["lit:", v])
	}
	keys := refs_keys | lit_keys
}

# The keys by which other resources can point at resource rc: "ref:" its
# configuration address, and "lit:" the known string values of `names` (such as a
# bucket's "bucket" and "id").
self_keys(rc, names) := keys if {
	lits := {k |
		some n in names
		v := get(rc.change.after, n, null)
		is_string(v)
		v != ""
		k := concat("", ["lit:", v])
	}
	keys := {concat("", ["ref:", config_address(rc)])} | lits
}

# --- messages ---------------------------------------------------------------------

# How a boolean attribute that should be true is set: "ATTR = false", or "ATTR is not
# set" when the configuration leaves it out (providers plan the default, false).
false_text(rc, attr) := concat("", [attr, " is not set (it defaults to false)"]) if {
	config_resources[config_address(rc)]
	expression(rc, attr) == null
} else := concat("", [attr, " = false"]) if {
	get(rc.change.after, attr, null) == false
} else := concat("", [attr, " is not set (it defaults to false)"])

# How a resource is named in messages: its planned name attribute in quotes when
# known, else its address.
label(rc, attr) := concat("", ["\"", v, "\""]) if {
	v := get(rc.change.after, attr, null)
	is_string(v)
	v != ""
} else := rc.address
