//! The provider interface: how the engine reaches the outside world.
//!
//! A provider declares a [`ProviderSchema`] (attribute types, required / optional /
//! computed, sensitive, force-new), is configured from a `provider` block by its
//! [`ProviderFactory`], and then plans, creates, reads, updates, deletes and imports
//! objects. Values cross this boundary without sensitive marks; the engine re-applies
//! them from the schema. Providers never see the engine, the graph or state storage.

pub mod duration;
pub mod resource;
pub mod schema;
pub mod snapshot;
pub mod testing;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use terrane_core::{Diagnostic, PathStep, Value};

pub use duration::parse_duration;
pub use resource::{Context, DataSource, Dispatch, ImportKey, Resource};
pub use schema::{AttrSchema, BlockSchema, Nesting, ProviderSchema, Schema};

/// Where a provider error came from, so callers can decide about retries without
/// reading message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration given to the provider is wrong.
    Config,
    /// The remote API (or the host) refused or failed the request.
    Api,
    /// The object does not exist.
    NotFound,
    /// A bug in the provider.
    Internal,
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub retryable: bool,
    pub message: String,
    /// The provider's own diagnostics, each about the whole object or one attribute
    /// of its configuration (a plugin's diagnostics carry attribute paths). Empty
    /// when the message says it all; the engine shows each at its attribute.
    pub diagnostics: Vec<ErrorDetail>,
}

/// One of a provider's error diagnostics.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorDetail {
    pub summary: String,
    pub detail: String,
    /// The attribute it is about; empty when it is about the whole object.
    pub path: Vec<PathStep>,
}

impl ProviderError {
    pub fn config(message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Config,
            retryable: false,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }

    pub fn api(message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Api,
            retryable: false,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::NotFound,
            retryable: false,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }

    pub fn internal(message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Internal,
            retryable: false,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }

    /// The same error with the provider's diagnostics attached.
    pub fn with_diagnostics(mut self, diagnostics: Vec<ErrorDetail>) -> ProviderError {
        self.diagnostics = diagnostics;
        self
    }
}

pub type Result<T> = std::result::Result<T, ProviderError>;

/// A planned change for one resource instance, as the provider sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedChange {
    /// The object as it will be after apply; computed attributes not yet known are
    /// [`Value::Unknown`].
    pub planned: Value,
    /// Attributes whose change forces the object to be replaced.
    pub requires_replace: Vec<String>,
    /// Bytes the provider wants back at apply (a plugin's planned private data);
    /// empty for native providers.
    pub private: Vec<u8>,
    /// A plugin built on Terraform's legacy SDK, whose plans and results Terraform
    /// tolerates differing from each other (it only logs them).
    pub legacy_type_system: bool,
}

/// The result of an apply: the new object and the bytes the provider keeps beside it
/// (a plugin's private data; empty for native providers).
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub value: Value,
    pub private: Vec<u8>,
}

impl From<Value> for Applied {
    fn from(value: Value) -> Applied {
        Applied {
            value,
            private: Vec::new(),
        }
    }
}

/// The object a [`Provider::move_state`] starts from, as state holds it.
#[derive(Clone, Copy, Debug)]
pub struct MoveSource<'a> {
    /// The source's provider, as a full source address
    /// (`registry.terraform.io/hashicorp/aws`).
    pub provider: &'a str,
    pub type_name: &'a str,
    pub schema_version: u64,
    pub state: &'a Value,
    pub private: &'a [u8],
}

/// A configured provider.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Plans a change from `prior` (None when creating) to `config` (the evaluated
    /// configuration, possibly with unknown values). The default follows the schema.
    async fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        prior_private: &[u8],
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let _ = (type_name, prior_private);
        Ok(schema::plan_by_schema(schema, prior, config))
    }

    /// Carries out a planned create (`prior` is None) or update, given the
    /// configuration the plan was made from and the final plan's private bytes. This is
    /// what the engine calls; the default hands the change to [`Provider::create`] or
    /// [`Provider::update`], which is all a native provider needs.
    async fn apply(
        &self,
        type_name: &str,
        prior: Option<Value>,
        planned: Value,
        config: &Value,
        private: &[u8],
    ) -> Result<Applied> {
        let _ = (config, private);
        match prior {
            Some(prior) => self
                .update(type_name, prior, planned)
                .await
                .map(Applied::from),
            None => self.create(type_name, planned).await.map(Applied::from),
        }
    }

    /// Brings an object recorded at schema version `from_version` to the schema's
    /// current version (Terraform's UpgradeResourceState). The default keeps it as it is.
    async fn upgrade_state(
        &self,
        type_name: &str,
        value: Value,
        from_version: u64,
        schema: &Schema,
    ) -> Result<Value> {
        let _ = (type_name, from_version, schema);
        Ok(value)
    }

    /// Moves an object recorded as another resource type into `type_name` (a `moved`
    /// block whose two addresses have different types; Terraform's
    /// MoveResourceState). The default refuses: only providers that know both types
    /// can convert one object into the other.
    async fn move_state(&self, source: MoveSource<'_>, type_name: &str) -> Result<Applied> {
        Err(ProviderError::config(format!(
            "the provider cannot move a {} object to the type {type_name}",
            source.type_name
        )))
    }

    async fn create(&self, type_name: &str, planned: Value) -> Result<Value>;

    /// Reads the current state of an object; `Ok(None)` when it no longer exists.
    async fn read(&self, type_name: &str, state: Value) -> Result<Option<Value>>;

    /// [`Provider::read`] with the bytes the provider keeps beside the object (a
    /// plugin's private data), which the read may replace. The default reads and keeps
    /// them.
    async fn read_object(
        &self,
        type_name: &str,
        state: Value,
        private: &[u8],
    ) -> Result<Option<Applied>> {
        Ok(self.read(type_name, state).await?.map(|value| Applied {
            value,
            private: private.to_vec(),
        }))
    }

    /// Reads many objects of one type in as few API calls as the API allows (one
    /// `Describe*` for many IDs), in the order given; `None` for an object that no
    /// longer exists. Returns `None` when the type has no batched read: the engine then
    /// calls [`Provider::read`] for each object.
    async fn read_batch(
        &self,
        type_name: &str,
        states: Vec<Value>,
    ) -> Option<Result<Vec<Option<Value>>>> {
        let _ = (type_name, states);
        None
    }

    async fn update(&self, type_name: &str, prior: Value, planned: Value) -> Result<Value>;

    async fn delete(&self, type_name: &str, state: Value) -> Result<()>;

    /// [`Provider::delete`] with the bytes the provider keeps beside the object (a
    /// plugin's private data). The default ignores them.
    async fn delete_object(&self, type_name: &str, state: Value, private: &[u8]) -> Result<()> {
        let _ = private;
        self.delete(type_name, state).await
    }

    /// Builds the state of an existing object from its ID.
    async fn import(&self, type_name: &str, id: &str) -> Result<Value> {
        let _ = id;
        Err(ProviderError::config(format!(
            "{type_name} does not support import"
        )))
    }

    async fn read_data(&self, type_name: &str, config: Value) -> Result<Value> {
        let _ = config;
        Err(ProviderError::config(format!(
            "{type_name} is not a data source of this provider"
        )))
    }

    /// The run was interrupted (Ctrl-C): operations in flight that can end early
    /// should, failing as interrupted (Terraform's StopProvider). The engine calls it
    /// once; the default does nothing, and operations finish as usual.
    fn stop(&self) {}

    /// What the provider has to say about the calls it finished since it was last
    /// asked, that is not an error: like the diagnostics of severity warning that
    /// Terraform's provider protocol returns with each call ("started the workspace
    /// agent in the background"). The engine takes them after every call and shows
    /// them; a provider never writes to the terminal itself. The default has none.
    fn take_warnings(&self) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// Warnings a provider collects during its calls until the engine takes them (see
/// [`Provider::take_warnings`]); calls running at the same time may all add to it.
#[derive(Debug, Default)]
pub struct Warnings(std::sync::Mutex<Vec<Diagnostic>>);

impl Warnings {
    pub fn push(&self, warning: Diagnostic) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(warning);
    }

    pub fn take(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Creates configured providers for one provider name (`local`, `aws`, ...).
pub trait ProviderFactory: Send + Sync {
    fn name(&self) -> &str;
    /// The provider's full source address, as Terraform's plan JSON names providers
    /// (`registry.terraform.io/hashicorp/aws`); see [`default_source`].
    fn source(&self) -> String {
        default_source(self.name())
    }
    fn schema(&self) -> &ProviderSchema;
    /// Configures an instance from the evaluated `provider` block (an empty object when
    /// there is none).
    fn configure(&self, config: &Value) -> Result<Arc<dyn Provider>>;

    /// Calls the provider-defined function `name` (`provider::NAME::FUNC(...)` in the
    /// configuration) with known arguments; `None` when the provider has no such
    /// function. Evaluation is synchronous, so this is too.
    fn call_function(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> Option<std::result::Result<Value, String>> {
        let _ = (name, args);
        None
    }

    /// A provider plugin (Terraform's protocol) rather than terrane's own code: the
    /// engine records it with each object, and refuses to hand one kind's objects to
    /// the other.
    fn is_plugin(&self) -> bool {
        false
    }

    /// Why this provider can plan by its schema but not reach its cloud (a build without
    /// its code: [`snapshot::SchemaOnly`]); `None` for a provider that can.
    fn schema_only(&self) -> Option<&str> {
        None
    }
}

/// Every provider terrane knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<String, Arc<dyn ProviderFactory>>,
}

/// The source address a provider's local name stands for when nothing says otherwise:
/// `terraform.io/builtin/terraform` for the built-in provider, else
/// `registry.terraform.io/hashicorp/NAME`.
pub fn default_source(name: &str) -> String {
    if name == "terraform" {
        "terraform.io/builtin/terraform".to_string()
    } else {
        format!("registry.terraform.io/hashicorp/{name}")
    }
}

/// Full source addresses by local name (for plan JSON's `provider_name`).
pub type Sources = BTreeMap<String, String>;

/// The full source address of the provider a resource's `provider` field names
/// (`provider.aws`, `provider.aws.west`, `aws`): `sources` by local name, else
/// [`default_source`].
pub fn full_provider_name(provider: &str, sources: &Sources) -> String {
    let local = provider
        .rsplit("provider.")
        .next()
        .and_then(|s| s.split('.').next())
        .unwrap_or(provider);
    sources
        .get(local)
        .cloned()
        .unwrap_or_else(|| default_source(local))
}

impl Registry {
    /// Every registered provider's full source address, by local name.
    pub fn sources(&self) -> Sources {
        self.factories
            .iter()
            .map(|(name, f)| (name.clone(), f.source()))
            .collect()
    }

    pub fn register(&mut self, factory: Arc<dyn ProviderFactory>) {
        self.factories.insert(factory.name().to_string(), factory);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn ProviderFactory>> {
        self.factories.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.factories.keys()
    }
}
