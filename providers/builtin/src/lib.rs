//! Providers built into the terrane binary, with Terraform's resource names and
//! attributes so existing configurations work unchanged: `local` (files), `random`,
//! `null`, `terraform` (`terraform_data`) and `time` (`time_sleep`).

pub mod autoscaler;
pub mod backup_policy;
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

pub use terrane_provider::parse_duration;
