//! Reading and writing attribute values.

use std::collections::BTreeMap;

use terrane_core::{ObjectMap, Value};
use terrane_provider::ImportKey;

/// Imported by an ID that is the value of `attr`, with the user's `tags` unset: the read
/// counts every tag the object holds, but the provider's default tags, as the user's.
pub fn import_by(attr: &'static str, what: fn(&str) -> String) -> Option<ImportKey> {
    Some(ImportKey {
        attr,
        null: &["tags"],
        what,
    })
}

pub fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

pub fn bool_attr(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(false)
}

pub fn num_attr(v: &Value, name: &str) -> Option<i64> {
    v.get(name).and_then(Value::as_f64).map(|n| n as i64)
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

/// The `timeouts` block of resources that wait for AWS: `create`, `update`, `delete`,
/// each a duration such as "10m".
pub fn timeouts_block() -> terrane_provider::BlockSchema {
    let d = || terrane_provider::AttrSchema::optional(terrane_core::Type::String);
    terrane_provider::BlockSchema::single(
        terrane_provider::Schema::new()
            .attr("create", d())
            .attr("update", d())
            .attr("delete", d()),
    )
}

/// How long the `op` step ("create", "update" or "delete") may wait: the resource's
/// `timeouts` block, else `default`.
pub fn timeout(
    v: &Value,
    op: &str,
    default: std::time::Duration,
) -> terrane_provider::Result<std::time::Duration> {
    match v
        .get("timeouts")
        .and_then(|t| t.get(op))
        .and_then(Value::as_str)
    {
        Some(s) => terrane_provider::parse_duration(s)
            .map_err(|e| terrane_provider::ProviderError::config(format!("timeouts.{op}: {e}"))),
        None => Ok(default),
    }
}

/// Checks a configuration's `timeouts` block at plan time.
pub fn check_timeouts(config: &Value) -> terrane_provider::Result<()> {
    for op in ["create", "update", "delete"] {
        timeout(config, op, std::time::Duration::ZERO)?;
    }
    Ok(())
}

/// Polls `check` until it yields a value, backing off from 100 ms to 5 s between
/// tries; fails naming `what` once `limit` has passed.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    limit: std::time::Duration,
    mut check: F,
) -> terrane_provider::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = terrane_provider::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Err(terrane_provider::ProviderError::api(format!(
                "timed out after {}s waiting for {what} (raise it in the resource's timeouts block)",
                limit.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

/// A list of strings from a list or set attribute (empty when unset).
pub fn str_list(v: &Value, name: &str) -> Vec<String> {
    v.get(name)
        .and_then(Value::as_items)
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A list value of strings.
pub fn str_list_value<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::List(items.into_iter().map(|s| Value::from(s.as_ref())).collect())
}

/// A set value of strings.
pub fn str_set_value<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::set(items.into_iter().map(|s| Value::from(s.as_ref())).collect())
}

/// A nested block as read back from AWS, limited to the attributes the configuration
/// set: AWS fills in the others with defaults that are not the configuration's business
/// (and would show up as drift). Null when the block is not configured.
pub fn read_block(configured: Option<&Value>, actual: &[(&str, Value)]) -> Value {
    let Some(configured) = configured.filter(|c| !c.is_null()) else {
        return Value::Null;
    };
    let mut out = configured.clone();
    for (name, v) in actual {
        if configured.get(name).is_some_and(|c| !c.is_null()) {
            set(&mut out, name, v.clone());
        }
    }
    out
}

/// A number value from an optional integer the API may leave out.
pub fn opt_num<N: Into<f64>>(n: Option<N>) -> Value {
    n.map(|n| Value::from(n.into())).unwrap_or(Value::Null)
}

/// `name` (generated when left out) and `name_prefix` (what a generated name starts
/// with), both forcing a new object: the pair most AWS resources take.
pub fn name_attrs(schema: terrane_provider::Schema) -> terrane_provider::Schema {
    use terrane_core::Type;
    use terrane_provider::AttrSchema;
    schema
        .attr(
            "name",
            AttrSchema::optional_computed(Type::String).force_new(),
        )
        .attr(
            "name_prefix",
            AttrSchema::optional(Type::String).force_new(),
        )
}
