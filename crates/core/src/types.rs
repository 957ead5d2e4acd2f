//! Type constraints (`string`, `list(number)`, `object({...})`, ...) and conversion of
//! values to them, following Terraform's conversion rules where users rely on them
//! (numbers and bools convert to strings and back, tuples to lists and sets, objects to
//! maps, optional object attributes default to null).

use std::collections::BTreeMap;
use std::fmt;

use crate::number::Number;
use crate::value::Value;
use serde_json::{json, Value as Json};

#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    /// Attribute types, and whether each attribute is optional (with an optional default).
    Object(BTreeMap<String, ObjectAttr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectAttr {
    pub ty: Type,
    pub optional: bool,
    pub default: Option<Value>,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (k, a)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if a.optional {
                        write!(f, "{k} = optional({})", a.ty)?;
                    } else {
                        write!(f, "{k} = {}", a.ty)?;
                    }
                }
                f.write_str("})")
            }
        }
    }
}

impl Type {
    /// Converts `value` to this type. Unknown values pass through; sensitive marks are
    /// kept. The error is a sentence fragment such as `a number is required`.
    pub fn convert(&self, value: Value) -> Result<Value, String> {
        match value {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Sensitive(inner) => return Ok(self.convert(*inner)?.into_sensitive()),
            Value::Null => return Ok(Value::Null),
            _ => {}
        }
        match self {
            Type::Any => Ok(value),
            Type::String => match value {
                Value::String(_) => Ok(value),
                Value::Number(n) => Ok(Value::String(n.to_string())),
                Value::Bool(b) => Ok(Value::String(b.to_string())),
                other => Err(format!(
                    "a string is required, but got {}",
                    other.type_name()
                )),
            },
            Type::Number => match value {
                Value::Number(_) => Ok(value),
                Value::String(ref s) => s
                    .trim()
                    .parse::<Number>()
                    .map(Value::Number)
                    .map_err(|_| format!("a number is required, but got the string {s:?}")),
                other => Err(format!(
                    "a number is required, but got {}",
                    other.type_name()
                )),
            },
            Type::Bool => match value {
                Value::Bool(_) => Ok(value),
                Value::String(ref s) if s == "true" => Ok(Value::Bool(true)),
                Value::String(ref s) if s == "false" => Ok(Value::Bool(false)),
                other => Err(format!("a bool is required, but got {}", other.type_name())),
            },
            Type::List(elem) | Type::Set(elem) => {
                let items = match value {
                    Value::List(items) | Value::Set(items) => items,
                    other => {
                        return Err(format!(
                            "a {} is required, but got {}",
                            if matches!(self, Type::List(_)) {
                                "list"
                            } else {
                                "set"
                            },
                            other.type_name()
                        ))
                    }
                };
                let converted = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| elem.convert(v).map_err(|e| format!("element {i}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if matches!(self, Type::Set(_)) {
                    Value::set(converted)
                } else {
                    Value::List(converted)
                })
            }
            Type::Map(elem) => match value {
                Value::Map(map) => Ok(Value::Map(
                    map.into_iter()
                        .map(|(k, v)| {
                            elem.convert(v)
                                .map(|v| (k.clone(), v))
                                .map_err(|e| format!("element {k:?}: {e}"))
                        })
                        .collect::<Result<_, _>>()?,
                )),
                other => Err(format!("a map is required, but got {}", other.type_name())),
            },
            Type::Tuple(types) => match value {
                Value::List(items) | Value::Set(items) if items.len() == types.len() => {
                    Ok(Value::List(
                        items
                            .into_iter()
                            .zip(types)
                            .enumerate()
                            .map(|(i, (v, t))| {
                                t.convert(v).map_err(|e| format!("element {i}: {e}"))
                            })
                            .collect::<Result<_, _>>()?,
                    ))
                }
                other => Err(format!(
                    "a tuple of {} elements is required, but got {}",
                    types.len(),
                    other.type_name()
                )),
            },
            Type::Object(attrs) => match value {
                Value::Map(mut map) => {
                    let mut out = crate::ObjectMap::new();
                    for (name, attr) in attrs {
                        // An optional attribute left out or null takes its default,
                        // converted to the attribute's type so that the defaults of
                        // the objects inside it apply too (as Terraform does).
                        let given = map
                            .remove(name)
                            .filter(|v| !(v.is_null() && attr.optional && attr.default.is_some()));
                        let v = match (given, &attr.default) {
                            (Some(v), _) => v,
                            (None, Some(d)) if attr.optional => d.clone(),
                            (None, None) if attr.optional => {
                                out.insert(name.clone(), Value::Null);
                                continue;
                            }
                            _ => return Err(format!("attribute {name:?} is required")),
                        };
                        let v = attr
                            .ty
                            .convert(v)
                            .map_err(|e| format!("attribute {name:?}: {e}"))?;
                        out.insert(name.clone(), v);
                    }
                    Ok(Value::Map(out))
                }
                other => Err(format!(
                    "an object is required, but got {}",
                    other.type_name()
                )),
            },
        }
    }
}

/// cty's JSON form of a type, as Terraform writes it in schemas and plans: `"string"`,
/// `["list","number"]`, `["object",{...},[optional...]]`.
pub fn type_json(t: &Type) -> Json {
    match t {
        Type::Any => json!("dynamic"),
        Type::String => json!("string"),
        Type::Number => json!("number"),
        Type::Bool => json!("bool"),
        Type::List(e) => json!(["list", type_json(e)]),
        Type::Set(e) => json!(["set", type_json(e)]),
        Type::Map(e) => json!(["map", type_json(e)]),
        Type::Tuple(es) => json!(["tuple", es.iter().map(type_json).collect::<Vec<_>>()]),
        Type::Object(attrs) => {
            let types: serde_json::Map<String, Json> = attrs
                .iter()
                .map(|(k, a)| (k.clone(), type_json(&a.ty)))
                .collect();
            let optional: Vec<&String> = attrs
                .iter()
                .filter(|(_, a)| a.optional)
                .map(|(k, _)| k)
                .collect();
            let defaults: serde_json::Map<String, Json> = attrs
                .iter()
                .filter_map(|(k, a)| a.default.as_ref().map(|d| (k.clone(), d.to_json())))
                .collect();
            match (optional.is_empty(), defaults.is_empty()) {
                (true, true) => json!(["object", types]),
                (_, true) => json!(["object", types, optional]),
                _ => json!(["object", types, optional, defaults]),
            }
        }
    }
}

/// Parses cty's JSON form of a type (see [`type_json`]).
pub fn type_from(j: &Json) -> std::result::Result<Type, String> {
    let elem = |v: &Json| type_from(v).map(Box::new);
    match j {
        Json::String(s) => match s.as_str() {
            "dynamic" => Ok(Type::Any),
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            other => Err(format!("unknown type {other:?}")),
        },
        Json::Array(parts) => match (parts.first().and_then(Json::as_str), parts.get(1)) {
            (Some("list"), Some(e)) => Ok(Type::List(elem(e)?)),
            (Some("set"), Some(e)) => Ok(Type::Set(elem(e)?)),
            (Some("map"), Some(e)) => Ok(Type::Map(elem(e)?)),
            (Some("tuple"), Some(Json::Array(es))) => Ok(Type::Tuple(
                es.iter()
                    .map(type_from)
                    .collect::<std::result::Result<_, _>>()?,
            )),
            (Some("object"), Some(Json::Object(types))) => {
                let optional: Vec<&str> = parts
                    .get(2)
                    .and_then(Json::as_array)
                    .map(|o| o.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                let defaults = parts.get(3);
                let mut attrs = BTreeMap::new();
                for (k, t) in types {
                    attrs.insert(
                        k.clone(),
                        ObjectAttr {
                            ty: type_from(t)?,
                            optional: optional.contains(&k.as_str()),
                            default: defaults.and_then(|d| d.get(k)).map(Value::from_json),
                        },
                    );
                }
                Ok(Type::Object(attrs))
            }
            _ => Err(format!("unknown type {j}")),
        },
        _ => Err(format!("unknown type {j}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_primitives_like_terraform() {
        assert_eq!(Type::String.convert(Value::from(3)), Ok(Value::from("3")));
        assert_eq!(
            Type::Number.convert(Value::from("2.5")),
            Ok(Value::from(2.5))
        );
        assert!(Type::Number.convert(Value::from("x")).is_err());
        assert_eq!(
            Type::Set(Box::new(Type::String)).convert(Value::List(vec![
                "b".into(),
                "a".into(),
                "b".into()
            ])),
            Ok(Value::Set(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn optional_object_attributes_default() {
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "a".to_string(),
            ObjectAttr {
                ty: Type::String,
                optional: false,
                default: None,
            },
        );
        attrs.insert(
            "b".to_string(),
            ObjectAttr {
                ty: Type::Number,
                optional: true,
                default: Some(Value::from(1)),
            },
        );
        let t = Type::Object(attrs);
        let v = t.convert(Value::map([("a", Value::from("x"))])).unwrap();
        assert_eq!(v.get("b"), Some(&Value::from(1)));
        assert!(t.convert(Value::map([("b", Value::from(2))])).is_err());
    }
}
