//! Reading and writing attribute values.

use std::collections::BTreeMap;

use terrane_core::{ObjectMap, Value};

pub fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

pub fn bool_attr(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(false)
}

pub fn num_attr(v: &Value, name: &str) -> Option<i64> {
    v.get(name).and_then(Value::as_number).map(|n| n as i64)
}

pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn set(v: &mut Value, name: &str, x: impl Into<Value>) {
    if let Value::Map(m) = v {
        m.insert(name.to_string(), x.into());
    }
}

/// An object value from pairs.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = ObjectMap::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Map(m)
}

/// A value for an optional string the API may leave out.
pub fn opt_str(s: Option<&str>) -> Value {
    s.map(Value::from).unwrap_or(Value::Null)
}

/// The tags to show for a resource read back from AWS: what AWS holds minus the
/// provider's default tags that the configuration did not set itself, so default tags
/// never show up as drift. Null when the prior state had no tags and AWS holds none.
pub fn own_tags(
    prior: &Value,
    actual: &BTreeMap<String, String>,
    defaults: &BTreeMap<String, String>,
) -> Value {
    let configured = string_map(prior.get("tags"));
    let own: BTreeMap<String, String> = actual
        .iter()
        .filter(|(k, v)| configured.contains_key(*k) || defaults.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if own.is_empty() && prior.get("tags").is_none_or(Value::is_null) {
        Value::Null
    } else {
        crate::context::tags_value(&own)
    }
}

/// Sets `name` to `default` when the configuration left it out: AWS's default, planned
/// as such so that reading it back is no drift.
pub fn default_to(v: &mut Value, name: &str, default: impl Into<Value>) {
    if v.get(name).is_none_or(|x| x.is_null() || x.is_unknown()) {
        set(v, name, default);
    }
}
