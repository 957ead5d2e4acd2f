//! [`Doc`]: a JSON-like value model that documents are built in.
//!
//! The machine-readable plan is written once, generically, and built in two value
//! models: `serde_json` for what terrane prints, and a policy engine's own values for
//! what policies read. Building the engine's values directly skips a JSON tree that
//! would only be converted and thrown away, which on a large plan costs as much as
//! evaluating the policies.

/// A value model a document can be built in.
pub trait Doc: Sized {
    fn null() -> Self;
    fn bool(b: bool) -> Self;
    /// A number; integral values within ±9·10¹⁵ are integers.
    fn number(n: f64) -> Self;
    fn string(s: &str) -> Self;
    fn array(items: Vec<Self>) -> Self;
    /// An object of `entries`, in their order (for models that keep one).
    fn object(entries: Vec<(&str, Self)>) -> Self;
}

impl Doc for serde_json::Value {
    fn null() -> Self {
        serde_json::Value::Null
    }

    fn bool(b: bool) -> Self {
        serde_json::Value::Bool(b)
    }

    fn number(n: f64) -> Self {
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            serde_json::Value::Number((n as i64).into())
        } else {
            serde_json::Number::from_f64(n)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null)
        }
    }

    fn string(s: &str) -> Self {
        serde_json::Value::String(s.to_string())
    }

    fn array(items: Vec<Self>) -> Self {
        serde_json::Value::Array(items)
    }

    fn object(entries: Vec<(&str, Self)>) -> Self {
        serde_json::Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}
