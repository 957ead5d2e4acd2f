//! Providers built into the terrane binary, with Terraform's resource names and
//! attributes so existing configurations work unchanged: `local` (files, and the local
//! cloud's services, load balancers, DNS zones and records, autoscalers and backup
//! policies, which the workspace's agent runs), `random`, `tls` (keys, certificates and
//! requests), `null`, `terraform` (`terraform_data`) and `time` (`time_sleep`).
//!
//! Every provider here is a [`Dispatch`] of one [`terrane_provider::Resource`] per type.
//! The `local` provider's context ([`local::LocalCtx`]) is made from a [`LocalHost`]
//! the CLI passes in; the agent-backed types share one adapter ([`agent::Agent`]).
//! This crate stands on the provider interface and the agent's contract
//! (`terrane-agent-api`) alone.

pub mod agent;
pub mod autoscaler;
pub mod backup_policy;
pub mod balancer;
pub mod dns;
pub mod file;
pub mod local;
pub mod misc;
pub mod random;
pub mod service;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;

use terrane_core::Value;
use terrane_provider::{Context, Dispatch, Provider, ProviderFactory, ProviderSchema, Result};

/// What the `local` provider needs of the program that hosts it.
#[derive(Clone, Debug)]
pub struct LocalHost {
    /// The workspace directory: its agent keeps `.terrane/agent` there, and a
    /// balancer's relative TLS file names resolve against it.
    pub workspace: PathBuf,
    /// The terrane executable, to start the workspace's agent (`terrane agent`) when a
    /// change needs one and none runs.
    pub program: PathBuf,
}

/// Registers every built-in provider; `local` is the `local` provider's host.
pub fn register_all(registry: &mut terrane_provider::Registry, local: LocalHost) {
    registry.register(Arc::new(local::factory(local)));
    registry.register(Arc::new(random::factory()));
    registry.register(Arc::new(tls::factory()));
    registry.register(Arc::new(misc::null_factory()));
    registry.register(Arc::new(misc::terraform_factory()));
    registry.register(Arc::new(misc::time_factory()));
}

/// A factory for providers that take no configuration: each `configure` makes a new
/// [`Dispatch`], and the schema is read from the types it registers.
pub struct SimpleFactory {
    name: &'static str,
    schema: ProviderSchema,
    make: Box<dyn Fn() -> Arc<dyn Provider> + Send + Sync>,
}

impl SimpleFactory {
    pub fn new<C: Context + 'static>(
        name: &'static str,
        make: impl Fn() -> Dispatch<C> + Send + Sync + 'static,
    ) -> SimpleFactory {
        let (resources, data_sources) = make().schemas();
        SimpleFactory {
            name,
            schema: ProviderSchema {
                resources,
                data_sources,
                ..ProviderSchema::default()
            },
            make: Box::new(move || Arc::new(make())),
        }
    }
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

pub use terrane_provider::parse_duration;
