# IAM policies that grant every action on every resource.
package terrane.scan.iam

import rego.v1

import data.terrane.scan.lib

# Resource types whose `policy` attribute is a policy document (a JSON string).
_policy_types := ["aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"]

# Every policy document of a resource: its `policy`, and the inline policies of a role.
_documents(rc) := [p] if {
	rc.type in _policy_types
	p := lib.get(rc.change.after, "policy", null)
	is_string(p)
}

_documents(rc) := docs if {
	rc.type == "aws_iam_role"
	docs := [p |
		some b in lib.block(rc.change.after, "inline_policy")
		p := lib.get(b, "policy", null)
		is_string(p)
	]
}

# The parsed document, when it is a JSON object.
_parse(text) := doc if {
	json.is_valid(text)
	doc := json.unmarshal(text)
	is_object(doc)
}

_full_admin(statement) if {
	is_object(statement)
	statement.Effect == "Allow"
	"*" in lib.as_list(lib.get(statement, "Action", null))
	"*" in lib.as_list(lib.get(statement, "Resource", null))
}

findings contains f if {
	some t in array.concat(_policy_types, ["aws_iam_role"])
	some rc in lib.resources(t)
	some text in _documents(rc)
	doc := _parse(text)
	some statement in lib.as_list(lib.get(doc, "Statement", null))
	_full_admin(statement)
	f := {
		"rule": "TRN-IAM-001",
		"address": rc.address,
		"message": sprintf("policy %s allows every action (\"*\") on every resource (\"*\"): full administrator access", [_name(rc, statement)]),
	}
}

_name(rc, statement) := sprintf("%s, statement \"%s\",", [lib.label(rc, "name"), statement.Sid]) if {
	is_string(statement.Sid)
	statement.Sid != ""
} else := lib.label(rc, "name")
