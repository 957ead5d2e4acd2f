//! Values of the configuration language and of state.
//!
//! A [`Value`] is JSON-like data plus two marks that the engine tracks through every
//! expression: [`Value::Unknown`] ("known after apply") and [`Value::Sensitive`] (a
//! value that must never be shown to a human). Maps are ordered (`BTreeMap`) so that
//! everything derived from values — plans, state rows, diffs — is deterministic.

use std::cmp::Ordering;
use std::fmt;

use crate::doc::{Doc, Projection};
use crate::map::ObjectMap;
use crate::number::Number;

/// A configuration or state value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// A list or tuple.
    List(Vec<Value>),
    /// A set: kept sorted and free of duplicates by [`Value::set`].
    Set(Vec<Value>),
    /// A map or object.
    Map(ObjectMap),
    /// A value that is only known after apply.
    Unknown,
    /// A value that must be redacted wherever a human reads it.
    Sensitive(Box<Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// Builds a set, sorting and removing duplicates.
    pub fn set(mut items: Vec<Value>) -> Value {
        items.sort_by(total_cmp);
        items.dedup();
        Value::Set(items)
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Wraps the value in a sensitive mark (idempotent).
    pub fn into_sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            // An unknown value stays unknown; its sensitivity is carried by the wrapper.
            other => Value::Sensitive(Box::new(other)),
        }
    }

    /// Applies the sensitive mark when `sensitive` is true.
    pub fn mark_if(self, sensitive: bool) -> Value {
        if sensitive {
            self.into_sensitive()
        } else {
            self
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.peel(), Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self.peel(), Value::Unknown)
    }

    /// True when neither the value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Sensitive(inner) => inner.is_wholly_known(),
            Value::List(items) | Value::Set(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(map) => map.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// True when the value or anything inside it carries the sensitive mark.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(items) | Value::Set(items) => items.iter().any(Value::contains_sensitive),
            Value::Map(map) => map.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// Every non-empty string inside a sensitive part of this value.
    pub fn sensitive_strings(&self) -> Vec<&str> {
        fn walk<'a>(v: &'a Value, inside: bool, out: &mut Vec<&'a str>) {
            match v {
                Value::Sensitive(inner) => walk(inner, true, out),
                Value::String(s) if inside && !s.is_empty() => out.push(s),
                Value::List(items) | Value::Set(items) => {
                    items.iter().for_each(|i| walk(i, inside, out))
                }
                Value::Map(map) => map.values().for_each(|i| walk(i, inside, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, false, &mut out);
        out
    }

    /// Marks sensitive every string that contains one of `needles` (and is not
    /// marked already).
    pub fn mark_texts(self, needles: &[&str]) -> Value {
        if needles.is_empty() {
            return self;
        }
        match self {
            Value::String(s) if needles.iter().any(|n| s.contains(n)) => {
                Value::String(s).into_sensitive()
            }
            Value::List(items) => {
                Value::List(items.into_iter().map(|i| i.mark_texts(needles)).collect())
            }
            Value::Set(items) => {
                Value::Set(items.into_iter().map(|i| i.mark_texts(needles)).collect())
            }
            Value::Map(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (k, v.mark_texts(needles)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The value without a top-level sensitive mark.
    pub fn peel(&self) -> &Value {
        match self {
            Value::Sensitive(inner) => inner.peel(),
            other => other,
        }
    }

    /// Removes every sensitive mark, deeply, and reports whether there was one.
    pub fn unmark(&self) -> (Value, bool) {
        let mut sensitive = false;
        let v = self.unmark_into(&mut sensitive);
        (v, sensitive)
    }

    fn unmark_into(&self, sensitive: &mut bool) -> Value {
        match self {
            Value::Sensitive(inner) => {
                *sensitive = true;
                inner.unmark_into(sensitive)
            }
            Value::List(items) => {
                Value::List(items.iter().map(|v| v.unmark_into(sensitive)).collect())
            }
            Value::Set(items) => {
                Value::Set(items.iter().map(|v| v.unmark_into(sensitive)).collect())
            }
            Value::Map(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.unmark_into(sensitive)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.peel() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.peel() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self.peel() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as the nearest `f64` (for math Terraform also does in `float64`).
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(Number::as_f64)
    }

    pub fn as_map(&self) -> Option<&ObjectMap> {
        match self.peel() {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_items(&self) -> Option<&[Value]> {
        match self.peel() {
            Value::List(items) | Value::Set(items) => Some(items),
            _ => None,
        }
    }

    /// Looks up an attribute of a map/object value (through a sensitive mark).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// A short name of the value's kind, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "object",
            Value::Unknown => "unknown",
            Value::Sensitive(inner) => inner.type_name(),
        }
    }

    /// Converts from JSON as stored in state files (no marks).
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(Number::from_json(n)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON, dropping marks: unknown values become `null`, sensitive values
    /// are written in plain text. Callers that must not reveal sensitive values use
    /// [`Value::to_json_redacted`] or record [`Value::sensitive_mask`] alongside.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_doc(false)
    }

    /// Converts to JSON with every sensitive value replaced by `null`.
    pub fn to_json_redacted(&self) -> serde_json::Value {
        self.to_doc(true)
    }

    /// Builds the value in a document model: unknown attributes of an object are left
    /// out (as Terraform's plan JSON leaves them out), other unknown values become
    /// `null`; sensitive values become `null` when `redact`, else they are written in
    /// plain text.
    pub fn to_doc<D: Doc>(&self, redact: bool) -> D {
        match self {
            Value::Null | Value::Unknown => D::null(),
            Value::Bool(b) => D::bool(*b),
            Value::Number(n) => D::number(n),
            Value::String(s) => D::string(s),
            Value::List(items) | Value::Set(items) => {
                D::array(items.iter().map(|v| v.to_doc(redact)).collect())
            }
            Value::Map(map) => D::object(
                map.iter()
                    .filter(|(_, v)| !matches!(v, Value::Unknown))
                    .map(|(k, v)| (k.as_str(), v.to_doc(redact)))
                    .collect(),
            ),
            Value::Sensitive(_) if redact => D::null(),
            Value::Sensitive(inner) => inner.to_doc(redact),
        }
    }

    /// [`Value::to_doc`] of only the part `p` reaches: maps keep the fields it names.
    pub fn to_doc_projected<D: Doc>(&self, redact: bool, p: &Projection) -> D {
        match self {
            Value::Map(map) if !p.is_all() => D::object(
                map.iter()
                    .filter(|(_, v)| !matches!(v, Value::Unknown))
                    .filter_map(|(k, v)| {
                        p.field(k)
                            .map(|p| (k.as_str(), v.to_doc_projected(redact, p)))
                    })
                    .collect(),
            ),
            Value::Sensitive(inner) if !redact => inner.to_doc_projected(redact, p),
            _ => self.to_doc(redact),
        }
    }

    /// Terraform's `after_unknown` shape: `true` where a value is unknown, objects and
    /// arrays mirroring the structure elsewhere, `false` for known leaves.
    pub fn unknown_mask(&self) -> serde_json::Value {
        self.unknown_mask_doc()
            .unwrap_or(serde_json::Value::Bool(false))
    }

    /// Terraform's `before_sensitive`/`after_sensitive` shape.
    pub fn sensitive_mask(&self) -> serde_json::Value {
        self.sensitive_mask_doc()
            .unwrap_or(serde_json::Value::Bool(false))
    }

    /// [`Value::unknown_mask`] in a document model; `None` stands for `false`.
    pub fn unknown_mask_doc<D: Doc>(&self) -> Option<D> {
        self.mask(&|v| matches!(v, Value::Unknown))
    }

    /// [`Value::sensitive_mask`] in a document model; `None` stands for `false`.
    pub fn sensitive_mask_doc<D: Doc>(&self) -> Option<D> {
        self.mask(&|v| matches!(v, Value::Sensitive(_)))
    }

    fn mask<D: Doc>(&self, hit: &dyn Fn(&Value) -> bool) -> Option<D> {
        if hit(self) {
            return Some(D::bool(true));
        }
        match self {
            Value::Sensitive(inner) => inner.mask(hit),
            // Every element's mask, `false` for those with nothing marked (an empty
            // list is `[]`), as Terraform writes them.
            Value::List(items) | Value::Set(items) => Some(D::array(
                items
                    .iter()
                    .map(|v| v.mask(hit).unwrap_or_else(|| D::bool(false)))
                    .collect(),
            )),
            // Only marked entries are kept (a map with none is `{}`, not `false`).
            Value::Map(map) => Some(D::object(
                map.iter()
                    .filter_map(|(k, v)| v.mask(hit).map(|m| (k.as_str(), m)))
                    .collect(),
            )),
            _ => None,
        }
    }

    /// Paths (JSON-pointer style) of sensitive values, for storing next to plain JSON.
    pub fn sensitive_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_sensitive_paths(String::new(), &mut out);
        out
    }

    fn collect_sensitive_paths(&self, prefix: String, out: &mut Vec<String>) {
        match self {
            Value::Sensitive(_) => out.push(prefix),
            Value::List(items) | Value::Set(items) => {
                for (i, v) in items.iter().enumerate() {
                    v.collect_sensitive_paths(format!("{prefix}/{i}"), out);
                }
            }
            Value::Map(map) => {
                for (k, v) in map {
                    let key = k.replace('~', "~0").replace('/', "~1");
                    v.collect_sensitive_paths(format!("{prefix}/{key}"), out);
                }
            }
            _ => {}
        }
    }

    /// Re-applies sensitive marks recorded by [`Value::sensitive_paths`].
    pub fn with_sensitive_paths(mut self, paths: &[String]) -> Value {
        for path in paths {
            let segments: Vec<String> = path
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            self.mark_path(&segments);
        }
        self
    }

    fn mark_path(&mut self, segments: &[String]) {
        let Some((first, rest)) = segments.split_first() else {
            let inner = std::mem::take(self);
            *self = inner.into_sensitive();
            return;
        };
        match self {
            Value::Map(map) => {
                if let Some(v) = map.get_mut(first) {
                    v.mark_path(rest);
                }
            }
            Value::List(items) | Value::Set(items) => {
                if let Some(v) = first.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    v.mark_path(rest);
                }
            }
            _ => {}
        }
    }

    /// Equality that ignores sensitive marks.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Sensitive(a), b) => a.same_as(b),
            (a, Value::Sensitive(b)) => a.same_as(b),
            (Value::List(a), Value::List(b)) | (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            // State is stored as JSON, which has no sets: a set read back from a
            // provider equals the list state holds when the elements are the same.
            (Value::Set(a), Value::List(b)) | (Value::List(b), Value::Set(a)) => {
                match Value::set(b.clone()) {
                    Value::Set(b) => {
                        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.same_as(y))
                    }
                    _ => false,
                }
            }
            // An attribute that is absent is the same as one that is null (an imported
            // object carries only what the provider read).
            (Value::Map(a), Value::Map(b)) => {
                let null = Value::Null;
                a.iter()
                    .all(|(k, va)| va.same_as(b.get(k).unwrap_or(&null)))
                    && b.iter()
                        .filter(|(k, _)| !a.contains_key(*k))
                        .all(|(_, vb)| vb.is_null())
            }
            (a, b) => a == b,
        }
    }

    /// Renders a value for error messages and the console (sensitive redacted).
    pub fn to_display(&self) -> String {
        let mut s = String::new();
        self.write_display(&mut s);
        s
    }

    fn write_display(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::String(s) => {
                let _ = write!(out, "{s:?}");
            }
            Value::List(items) | Value::Set(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_display(out);
                }
                out.push(']');
            }
            Value::Map(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{k} = ");
                    v.write_display(out);
                }
                out.push('}');
            }
            Value::Unknown => out.push_str("(known after apply)"),
            Value::Sensitive(_) => out.push_str("(sensitive value)"),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(Number::from_f64(n))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number::from_i64(n))
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Number(Number::from(n))
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Number(Number::from(n))
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::List(_) => 4,
        Value::Set(_) => 5,
        Value::Map(_) => 6,
        Value::Unknown => 7,
        Value::Sensitive(_) => 8,
    }
}

/// A total order over values, used to keep sets sorted.
pub fn total_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = total_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Map(x), Value::Map(y)) => {
            for ((kp, p), (kq, q)) in x.iter().zip(y) {
                let o = kp.cmp(kq).then_with(|| total_cmp(p, q));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Sensitive(x), Value::Sensitive(y)) => total_cmp(x, y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_the_same_as_the_list_state_stores_for_it() {
        let set = Value::set(vec![Value::from("b"), Value::from("a")]);
        let stored = Value::List(vec![Value::from("a"), Value::from("b")]);
        assert!(set.same_as(&stored) && stored.same_as(&set));
        let reordered = Value::List(vec![Value::from("b"), Value::from("a")]);
        assert!(set.same_as(&reordered));
        let other = Value::List(vec![Value::from("a"), Value::from("c")]);
        assert!(!set.same_as(&other));
        // Two lists still compare in order.
        assert!(!stored.same_as(&reordered));
    }

    #[test]
    fn an_absent_attribute_is_the_same_as_a_null_one() {
        let read = Value::map([("id", Value::from("x"))]);
        let full = Value::map([("id", Value::from("x")), ("note", Value::Null)]);
        assert!(read.same_as(&full) && full.same_as(&read));
        let set = Value::map([("id", Value::from("x")), ("note", Value::from("n"))]);
        assert!(!read.same_as(&set) && !set.same_as(&read));
    }

    #[test]
    fn masks_follow_terraform_shape() {
        let v = Value::map([
            ("id", Value::Unknown),
            ("name", Value::from("a")),
            ("secret", Value::from("x").into_sensitive()),
            ("list", Value::List(vec![Value::from(1.0), Value::Unknown])),
        ]);
        assert_eq!(
            v.unknown_mask().to_string(),
            r#"{"id":true,"list":[false,true]}"#
        );
        // Lists are always written element by element, as Terraform writes them.
        assert_eq!(
            v.sensitive_mask().to_string(),
            r#"{"list":[false,false],"secret":true}"#
        );
        assert_eq!(v.to_json_redacted()["secret"], serde_json::Value::Null);
    }

    #[test]
    fn sensitive_paths_round_trip() {
        let v = Value::map([
            ("a/b", Value::from("x").into_sensitive()),
            (
                "l",
                Value::List(vec![Value::from(1.0), Value::from(2.0).into_sensitive()]),
            ),
        ]);
        let paths = v.sensitive_paths();
        assert_eq!(paths, vec!["/a~1b".to_string(), "/l/1".to_string()]);
        let (plain, had) = v.unmark();
        assert!(had);
        assert_eq!(plain.with_sensitive_paths(&paths), v);
    }

    #[test]
    fn sets_are_sorted_and_unique() {
        let s = Value::set(vec![Value::from("b"), Value::from("a"), Value::from("b")]);
        assert_eq!(s, Value::Set(vec![Value::from("a"), Value::from("b")]));
    }
}
