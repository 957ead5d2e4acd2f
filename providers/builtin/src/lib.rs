//! Providers built into the terrane binary, with Terraform's resource names and
//! attributes so existing configurations work unchanged: `local` (files), `random`,
//! `null`, `terraform` (`terraform_data`) and `time` (`time_sleep`).

pub mod autoscaler;
pub mod balancer;
pub mod dns;
pub mod local;
pub mod misc;
pub mod random;
pub mod service;

use std::sync::Arc;

use terrane_core::Value;
use terrane_provider::{
    Provider, ProviderError, ProviderFactory, ProviderSchema, Registry, Result,
};

/// Registers every built-in provider.
pub fn register_all(registry: &mut Registry) {
    registry.register(Arc::new(local::factory()));
    registry.register(Arc::new(random::factory()));
    registry.register(Arc::new(misc::null_factory()));
    registry.register(Arc::new(misc::terraform_factory()));
    registry.register(Arc::new(misc::time_factory()));
}

/// A factory for providers that take no configuration.
pub struct SimpleFactory {
    name: &'static str,
    schema: ProviderSchema,
    make: fn() -> Arc<dyn Provider>,
}

impl ProviderFactory for SimpleFactory {
    fn name(&self) -> &str {
        self.name
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure(&self, _config: &Value) -> Result<Arc<dyn Provider>> {
        Ok((self.make)())
    }
}

pub(crate) fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

pub(crate) fn set_attr(v: &mut Value, name: &str, x: Value) {
    if let Value::Map(m) = v {
        m.insert(name.to_string(), x);
    }
}

pub(crate) fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::internal(format!("unknown resource type {type_name}"))
}

/// Parses a Go-style duration such as `30s`, `1m30s`, `250ms` or `1h`.
pub fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("an empty duration".into());
    }
    if rest == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "{s:?} is not a duration such as 30s, 1m30s or 250ms"
            ));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("{s:?} is not a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(format!(
                    "{s:?} has an unknown unit; use ns, us, ms, s, m or h"
                ))
            }
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert!(parse_duration("5 minutes").is_err());
    }
}
