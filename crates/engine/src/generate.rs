//! Configuration written from an imported object (`plan --generate-config-out`): a
//! `resource` block with every argument a configuration can set, as the provider read
//! it, in HCL that terrane and Terraform both read back.

use std::fmt::Write;

use terrane_core::Value;
use terrane_provider::Schema;

/// The header of a file of generated configuration.
pub const HEADER: &str = "# __generated__ by terrane\n# Please review these resources and move them into your main configuration files.\n";

/// A `resource` block for `value`, the object of `type_name` imported by `id`: the
/// arguments the schema lets a configuration set (required and optional ones, `null`
/// where the object has none; computed-only ones are left out), nested blocks as blocks,
/// and sensitive arguments as `null` with a comment, never their value.
pub fn resource_block(
    type_name: &str,
    name: &str,
    id: &str,
    value: &Value,
    schema: &Schema,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# __generated__ by terrane from {}", string(id));
    let _ = writeln!(out, "resource {} {} {{", string(type_name), string(name));
    body(&mut out, value, schema, 2);
    out.push_str("}\n");
    out
}

fn body(out: &mut String, value: &Value, schema: &Schema, indent: usize) {
    let pad = " ".repeat(indent);
    let settable: Vec<(&String, bool)> = schema
        .attributes
        .iter()
        .filter(|(_, a)| a.required || a.optional)
        .map(|(k, a)| (k, a.sensitive))
        .collect();
    let width = settable.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, sensitive) in settable {
        let v = value.get(k).cloned().unwrap_or(Value::Null);
        if sensitive || v.contains_sensitive() {
            let _ = writeln!(out, "{pad}{k:<width$} = null # sensitive");
        } else {
            let _ = writeln!(out, "{pad}{k:<width$} = {}", literal(&v, indent));
        }
    }
    for (kind, block) in &schema.blocks {
        let items: Vec<&Value> = match value.get(kind) {
            Some(Value::List(items) | Value::Set(items)) => items.iter().collect(),
            Some(v @ Value::Map(_)) => vec![v],
            _ => Vec::new(),
        };
        for item in items {
            let _ = writeln!(out, "{pad}{kind} {{");
            body(out, item, &block.schema, indent + 2);
            let _ = writeln!(out, "{pad}}}");
        }
    }
}

/// A value as an HCL expression (an object's entries on lines of their own).
pub fn literal(v: &Value, indent: usize) -> String {
    match v {
        Value::Null | Value::Unknown | Value::Sensitive(_) => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::List(items) | Value::Set(items) => {
            let items: Vec<String> = items.iter().map(|i| literal(i, indent)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(m) if m.is_empty() => "{}".into(),
        Value::Map(m) => {
            let pad = " ".repeat(indent + 2);
            let mut out = String::from("{\n");
            for (k, v) in m {
                let key = if is_identifier(k) {
                    k.clone()
                } else {
                    string(k)
                };
                let _ = writeln!(out, "{pad}{key} = {}", literal(v, indent + 2));
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
            out
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn string(s: &str) -> String {
    terrane_core::hcl::quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrane_core::Type;
    use terrane_provider::AttrSchema;

    #[test]
    fn blocks_set_what_a_configuration_can_and_hide_secrets() {
        let mut schema = Schema::default();
        schema
            .attributes
            .insert("path".into(), AttrSchema::required(Type::String));
        schema
            .attributes
            .insert("tags".into(), AttrSchema::optional(Type::Any));
        schema
            .attributes
            .insert("note".into(), AttrSchema::optional(Type::String));
        let mut secret = AttrSchema::optional(Type::String);
        secret.sensitive = true;
        schema.attributes.insert("password".into(), secret);
        let mut id = AttrSchema::optional(Type::String);
        id.optional = false;
        id.computed = true;
        schema.attributes.insert("id".into(), id);
        let value = Value::map([
            ("path", Value::from("a \"b\" ${c}\n")),
            (
                "tags",
                Value::map([("env", Value::from("prod")), ("a b", Value::from(1))]),
            ),
            ("password", Value::from("hunter2")),
            ("id", Value::from("x")),
        ]);
        let text = resource_block("demo_thing", "t", "x", &value, &schema);
        assert_eq!(
            text,
            "# __generated__ by terrane from \"x\"\nresource \"demo_thing\" \"t\" {\n  note     = null\n  password = null # sensitive\n  path     = \"a \\\"b\\\" $${c}\\n\"\n  tags     = {\n    \"a b\" = 1\n    env = \"prod\"\n  }\n}\n"
        );
        assert!(!text.contains("hunter2"));
    }
}
