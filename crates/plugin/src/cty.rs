//! Values on the wire: cty's MessagePack encoding, which every provider built on
//! Terraform's SDKs reads and writes, and cty's JSON form of types.
//!
//! The encoding is driven by the type the schema gives: an object is a map holding
//! every attribute (sorted by name), lists, sets and tuples are arrays, an unknown value
//! is the extension type 0 (refined unknowns, extension type 12, read as unknown too),
//! and where the schema says `dynamic` the value travels as `[type JSON, value]`.

use rmpv::Value as Mp;
use terrane_core::types::{type_from as parse_type, type_json, ObjectAttr};
use terrane_core::{Number, Type, Value};

/// A value that does not fit its type, or bytes that are not cty's encoding.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CtyError {
    pub path: String,
    pub message: String,
}

fn err(path: &[String], message: impl Into<String>) -> CtyError {
    CtyError {
        path: if path.is_empty() {
            "the value".into()
        } else {
            path.join(".")
        },
        message: message.into(),
    }
}

const UNKNOWN_EXT: i8 = 0;
const REFINED_UNKNOWN_EXT: i8 = 12;

/// Encodes `value` (without sensitive marks) as a value of type `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, CtyError> {
    let mp = to_mp(value, ty, &mut Vec::new())?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &mp).map_err(|e| err(&[], e.to_string()))?;
    Ok(out)
}

/// Decodes bytes in cty's MessagePack form as a value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, CtyError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mp = rmpv::decode::read_value(&mut &bytes[..])
        .map_err(|e| err(&[], format!("not MessagePack: {e}")))?;
    from_mp(mp, ty, &mut Vec::new())
}

fn to_mp(value: &Value, ty: &Type, path: &mut Vec<String>) -> Result<Mp, CtyError> {
    let value = value.peel();
    if value.is_unknown() {
        return Ok(Mp::Ext(UNKNOWN_EXT, vec![0]));
    }
    if matches!(ty, Type::Any) {
        if value.is_null() {
            return Ok(Mp::Nil);
        }
        let actual = infer(value);
        let inner = to_mp(value, &actual, path)?;
        return Ok(Mp::Array(vec![
            Mp::Binary(type_json(&actual).to_string().into_bytes()),
            inner,
        ]));
    }
    if value.is_null() {
        return Ok(Mp::Nil);
    }
    Ok(match ty {
        Type::Any => unreachable!("handled above"),
        Type::String => Mp::from(match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_display(),
            other => {
                return Err(err(
                    path,
                    format!("a string is required, not {}", other.type_name()),
                ))
            }
        }),
        Type::Number => match value {
            Value::Number(n) => number(n),
            Value::String(s) => match s.trim().parse::<Number>() {
                Ok(n) => number(&n),
                Err(_) => return Err(err(path, format!("a number is required, not {s:?}"))),
            },
            other => {
                return Err(err(
                    path,
                    format!("a number is required, not {}", other.type_name()),
                ))
            }
        },
        Type::Bool => match value {
            Value::Bool(b) => Mp::Boolean(*b),
            Value::String(s) if s == "true" || s == "false" => Mp::Boolean(s == "true"),
            other => {
                return Err(err(
                    path,
                    format!("a bool is required, not {}", other.type_name()),
                ))
            }
        },
        Type::List(elem) | Type::Set(elem) => {
            let items = value.as_items().ok_or_else(|| {
                err(
                    path,
                    format!("a list is required, not {}", value.type_name()),
                )
            })?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(to_mp(item, elem, path)?);
                path.pop();
            }
            Mp::Array(out)
        }
        Type::Tuple(elems) => {
            let items = value.as_items().ok_or_else(|| {
                err(
                    path,
                    format!("a tuple is required, not {}", value.type_name()),
                )
            })?;
            if items.len() != elems.len() {
                return Err(err(
                    path,
                    format!(
                        "a tuple of {} elements is required, not {}",
                        elems.len(),
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, t)) in items.iter().zip(elems).enumerate() {
                path.push(i.to_string());
                out.push(to_mp(item, t, path)?);
                path.pop();
            }
            Mp::Array(out)
        }
        Type::Map(elem) => {
            let m = value.as_map().ok_or_else(|| {
                err(
                    path,
                    format!("a map is required, not {}", value.type_name()),
                )
            })?;
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                path.push(k.clone());
                out.push((Mp::from(k.as_str()), to_mp(v, elem, path)?));
                path.pop();
            }
            Mp::Map(out)
        }
        Type::Object(attrs) => {
            let m = value.as_map().ok_or_else(|| {
                err(
                    path,
                    format!("an object is required, not {}", value.type_name()),
                )
            })?;
            let mut out = Vec::with_capacity(attrs.len());
            for (name, attr) in attrs {
                path.push(name.clone());
                let v = m.get(name).cloned().unwrap_or(Value::Null);
                out.push((Mp::from(name.as_str()), to_mp(&v, &attr.ty, path)?));
                path.pop();
            }
            Mp::Map(out)
        }
    })
}

/// As cty writes a number: an integer if it fits 64 bits, else a float64 if one holds
/// it exactly, else its decimal digits as a string.
fn number(n: &Number) -> Mp {
    if let Some(i) = n.as_i64() {
        return Mp::from(i);
    }
    let f = n.as_f64();
    if Number::from_f64(f) == *n {
        Mp::F64(f)
    } else {
        Mp::from(n.to_string())
    }
}

fn from_mp(mp: Mp, ty: &Type, path: &mut Vec<String>) -> Result<Value, CtyError> {
    match mp {
        Mp::Nil => return Ok(Value::Null),
        Mp::Ext(UNKNOWN_EXT | REFINED_UNKNOWN_EXT, _) => return Ok(Value::Unknown),
        Mp::Ext(code, _) => return Err(err(path, format!("unexpected extension type {code}"))),
        _ => {}
    }
    Ok(match ty {
        Type::Any => {
            let Mp::Array(mut pair) = mp else {
                return Err(err(path, "a dynamic value must be [type, value]"));
            };
            if pair.len() != 2 {
                return Err(err(path, "a dynamic value must be [type, value]"));
            }
            let inner = pair.pop().unwrap_or(Mp::Nil);
            let type_bytes = match pair.pop() {
                Some(Mp::Binary(b)) => b,
                Some(Mp::String(s)) => s.into_bytes(),
                _ => return Err(err(path, "a dynamic value's type must be JSON bytes")),
            };
            let json: serde_json::Value = serde_json::from_slice(&type_bytes)
                .map_err(|e| err(path, format!("a dynamic value's type is not JSON: {e}")))?;
            let actual = parse_type(&json).map_err(|m| err(path, m))?;
            from_mp(inner, &actual, path)?
        }
        Type::String => match mp {
            Mp::String(s) => Value::String(s.into_str().unwrap_or_default()),
            other => return Err(err(path, format!("a string was expected, not {other}"))),
        },
        Type::Number => match mp {
            Mp::Integer(i) => Value::Number(match (i.as_i64(), i.as_u64()) {
                (Some(i), _) => Number::from(i),
                (None, Some(u)) => Number::from(u),
                _ => Number::ZERO,
            }),
            Mp::F32(f) => Value::from(f64::from(f)),
            Mp::F64(f) => Value::from(f),
            Mp::String(s) => {
                let s = s.into_str().unwrap_or_default();
                Value::Number(
                    s.parse()
                        .map_err(|_| err(path, format!("{s:?} is not a number")))?,
                )
            }
            other => return Err(err(path, format!("a number was expected, not {other}"))),
        },
        Type::Bool => match mp {
            Mp::Boolean(b) => Value::Bool(b),
            other => return Err(err(path, format!("a bool was expected, not {other}"))),
        },
        Type::List(elem) | Type::Set(elem) => {
            let Mp::Array(items) = mp else {
                return Err(err(path, "an array was expected"));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(i.to_string());
                out.push(from_mp(item, elem, path)?);
                path.pop();
            }
            if matches!(ty, Type::Set(_)) {
                Value::set(out)
            } else {
                Value::List(out)
            }
        }
        Type::Tuple(elems) => {
            let Mp::Array(items) = mp else {
                return Err(err(path, "an array was expected"));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, t)) in items.into_iter().zip(elems).enumerate() {
                path.push(i.to_string());
                out.push(from_mp(item, t, path)?);
                path.pop();
            }
            Value::List(out)
        }
        Type::Map(_) | Type::Object(_) => {
            let Mp::Map(entries) = mp else {
                return Err(err(path, "a map was expected"));
            };
            let mut out = terrane_core::ObjectMap::new();
            for (k, v) in entries {
                let key = match k {
                    Mp::String(s) => s.into_str().unwrap_or_default(),
                    other => {
                        return Err(err(
                            path,
                            format!("a map key must be a string, not {other}"),
                        ))
                    }
                };
                let t = match ty {
                    Type::Map(elem) => (**elem).clone(),
                    Type::Object(attrs) => match attrs.get(&key) {
                        Some(a) => a.ty.clone(),
                        None => return Err(err(path, format!("unexpected attribute {key:?}"))),
                    },
                    _ => unreachable!(),
                };
                path.push(key.clone());
                let v = from_mp(v, &t, path)?;
                path.pop();
                out.insert(key, v);
            }
            if let Type::Object(attrs) = ty {
                for name in attrs.keys() {
                    if out.get(name).is_none() {
                        out.insert(name.clone(), Value::Null);
                    }
                }
            }
            Value::Map(out)
        }
    })
}

/// The type a value has when nothing else says: what `dynamic` attributes carry.
pub fn infer(value: &Value) -> Type {
    match value.peel() {
        Value::Null | Value::Unknown => Type::Any,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::Tuple(items.iter().map(infer).collect()),
        Value::Set(items) => Type::Set(Box::new(items.first().map(infer).unwrap_or(Type::Any))),
        Value::Map(m) => Type::Object(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        ObjectAttr {
                            ty: infer(v),
                            optional: false,
                            default: None,
                        },
                    )
                })
                .collect(),
        ),
        Value::Sensitive(_) => unreachable!("peeled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(attrs: &[(&str, Type)]) -> Type {
        Type::Object(
            attrs
                .iter()
                .map(|(k, t)| {
                    (
                        k.to_string(),
                        ObjectAttr {
                            ty: t.clone(),
                            optional: false,
                            default: None,
                        },
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn unknown_is_cty_extension_zero() {
        assert_eq!(
            encode(&Value::Unknown, &Type::String).unwrap(),
            vec![0xd4, 0, 0]
        );
        assert_eq!(
            decode(&[0xd4, 0, 0], &Type::Number).unwrap(),
            Value::Unknown
        );
        // A refined unknown (extension 12 with a map of refinements) is unknown too.
        assert_eq!(
            decode(&[0xc7, 1, 12, 0x80], &Type::String).unwrap(),
            Value::Unknown
        );
    }

    #[test]
    fn objects_hold_every_attribute_sorted() {
        let ty = obj(&[("b", Type::Number), ("a", Type::String)]);
        let v = Value::map([("a", Value::from("x"))]);
        let bytes = encode(&v, &ty).unwrap();
        // fixmap 2, "a" "x", "b" nil
        assert_eq!(bytes, vec![0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'b', 0xc0]);
        let back = decode(&bytes, &ty).unwrap();
        assert_eq!(
            back,
            Value::map([("a", Value::from("x")), ("b", Value::Null)])
        );
    }

    #[test]
    fn numbers_are_integers_when_whole() {
        assert_eq!(encode(&Value::from(3.0), &Type::Number).unwrap(), vec![3]);
        let f = encode(&Value::from(1.5), &Type::Number).unwrap();
        assert_eq!(f[0], 0xcb);
        assert_eq!(decode(&f, &Type::Number).unwrap(), Value::from(1.5));
        // A number too large for float64 arrives as its digits.
        assert_eq!(
            decode(&[0xa2, b'1', b'2'], &Type::Number).unwrap(),
            Value::from(12)
        );
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let v = Value::List(vec![Value::from("a"), Value::Bool(true)]);
        let bytes = encode(&v, &Type::Any).unwrap();
        assert_eq!(decode(&bytes, &Type::Any).unwrap(), v);
        let mp = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        let Mp::Array(pair) = mp else { panic!() };
        assert_eq!(
            pair[0],
            Mp::Binary(br#"["tuple",["string","bool"]]"#.to_vec())
        );
    }

    #[test]
    fn type_json_round_trips() {
        for j in [
            r#""string""#,
            r#"["list",["map","number"]]"#,
            r#"["object",{"a":"bool","b":["set","string"]},["b"]]"#,
            r#"["tuple",["dynamic","number"]]"#,
        ] {
            let json: serde_json::Value = serde_json::from_str(j).unwrap();
            assert_eq!(type_json(&parse_type(&json).unwrap()), json);
        }
    }
}
