//! One trait per resource type, and a [`Provider`] that dispatches to them.
//!
//! A provider with many resource types implements [`Resource`] (and [`DataSource`]) once
//! per type against its own context `C` (its configured clients) and registers them in
//! a [`Dispatch`], instead of matching on the type name in every method. What concerns
//! the provider as a whole (an interruption, warnings) goes to the context
//! ([`Context`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use terrane_core::{Diagnostic, ObjectMap, Value};

use crate::{schema, PlannedChange, Provider, ProviderError, Result, Schema};

/// The operations of one managed resource type.
#[async_trait]
pub trait Resource<C: Send + Sync>: Send + Sync {
    fn schema(&self) -> Schema;

    /// Plans a change; the default follows the schema. Override it to check values the
    /// schema cannot express (name rules, address ranges), so mistakes surface at plan.
    fn plan(
        &self,
        ctx: &C,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let _ = ctx;
        Ok(schema::plan_by_schema(schema, prior, config))
    }

    async fn create(&self, ctx: &C, planned: Value) -> Result<Value>;

    /// The object as it is now; `Ok(None)` when it no longer exists.
    async fn read(&self, ctx: &C, state: Value) -> Result<Option<Value>>;

    /// Reads many objects at once; see [`Provider::read_batch`]. `None` (the default)
    /// when the API has no call that reads many objects by ID.
    async fn read_batch(&self, ctx: &C, states: Vec<Value>) -> Option<Result<Vec<Option<Value>>>> {
        let _ = (ctx, states);
        None
    }

    async fn update(&self, ctx: &C, prior: Value, planned: Value) -> Result<Value>;

    /// Reads back an object just written, so that state holds what the API holds
    /// (defaults, computed attributes); an object gone by then is an error naming `what`.
    async fn read_back(&self, ctx: &C, state: Value, what: &str) -> Result<Value> {
        self.read(ctx, state).await?.ok_or_else(|| {
            ProviderError::api(format!("{what} vanished right after it was written"))
        })
    }

    async fn delete(&self, ctx: &C, state: Value) -> Result<()>;

    /// Reads an existing object for `terrane import` from the attributes that identify
    /// it; an object that is not there is a not-found error naming `what`.
    async fn import_from(&self, ctx: &C, keys: Value, what: &str) -> Result<Value> {
        self.read(ctx, keys)
            .await?
            .ok_or_else(|| ProviderError::not_found(format!("there is no {what}")))
    }

    /// How `terrane import` finds an object when its import ID is the value of one
    /// attribute; the default [`Resource::import`] reads the object from it. `None` (the
    /// default): the type cannot be imported, unless it overrides `import`.
    fn import_key(&self) -> Option<ImportKey> {
        None
    }

    /// The state of an existing object, from the ID a user gives `terrane import`. The
    /// default reads the object named by [`Resource::import_key`].
    async fn import(&self, ctx: &C, id: &str) -> Result<Value> {
        let Some(key) = self.import_key() else {
            return Err(ProviderError::config(
                "this resource type does not support import",
            ));
        };
        let mut keys = ObjectMap::new();
        keys.insert(key.attr.to_string(), Value::from(id));
        for attr in key.null {
            keys.insert(attr.to_string(), Value::Null);
        }
        self.import_from(ctx, Value::Map(keys), &(key.what)(id))
            .await
    }
}

/// How `terrane import ID` finds an object of a type whose import ID is the value of
/// one attribute (see [`Resource::import_key`]).
#[derive(Clone, Copy)]
pub struct ImportKey {
    /// The attribute the ID is the value of (`id`, `name`, `arn`).
    pub attr: &'static str,
    /// Attributes the read starts from null, such as the user's `tags` (the read then
    /// counts every tag the object holds, but the provider's default tags, as the user's).
    pub null: &'static [&'static str],
    /// What the object is called in the error when there is none, from the ID
    /// ("VPC vpc-0a1b").
    pub what: fn(&str) -> String,
}

/// A data source: reads something that exists, from its arguments.
#[async_trait]
pub trait DataSource<C: Send + Sync>: Send + Sync {
    fn schema(&self) -> Schema;
    async fn read(&self, ctx: &C, config: Value) -> Result<Value>;
}

/// The context a [`Dispatch`] shares among its types: what concerns the provider as a
/// whole rather than one type.
pub trait Context: Send + Sync {
    /// See [`Provider::stop`]; the default does nothing.
    fn stop(&self) {}

    /// See [`Provider::take_warnings`]; the default has none.
    fn take_warnings(&self) -> Vec<Diagnostic> {
        Vec::new()
    }

    /// The context that manages `object` when it is not this one: the AWS provider's
    /// per-resource `region` (provider v6). The default: always this one.
    fn scoped(&self, _object: &Value) -> Option<Arc<Self>>
    where
        Self: Sized,
    {
        None
    }

    /// Fills in what the context knows of an object it planned, created or read (the
    /// AWS provider: the region when the configuration left it out). The default
    /// changes nothing.
    fn settle(&self, value: Value) -> Value {
        value
    }

    /// Whether a plan over `prior` is settled too: not for an object recorded before the
    /// context filled it in (the plan would change it for nothing; the next read
    /// records it). The default: always.
    fn settles_plan(&self, _prior: Option<&Value>) -> bool {
        true
    }
}

/// A provider whose types need nothing shared.
impl Context for () {}

/// A [`Provider`] made of per-type implementations sharing one context.
pub struct Dispatch<C> {
    pub ctx: C,
    resources: BTreeMap<String, Arc<dyn Resource<C>>>,
    data_sources: BTreeMap<String, Arc<dyn DataSource<C>>>,
}

impl<C: Send + Sync> Dispatch<C> {
    pub fn new(ctx: C) -> Dispatch<C> {
        Dispatch {
            ctx,
            resources: BTreeMap::new(),
            data_sources: BTreeMap::new(),
        }
    }

    pub fn resource(mut self, name: &str, r: impl Resource<C> + 'static) -> Self {
        self.resources.insert(name.to_string(), Arc::new(r));
        self
    }

    pub fn data_source(mut self, name: &str, d: impl DataSource<C> + 'static) -> Self {
        self.data_sources.insert(name.to_string(), Arc::new(d));
        self
    }

    /// The schemas of every registered type, for the provider's factory.
    pub fn schemas(&self) -> (BTreeMap<String, Schema>, BTreeMap<String, Schema>) {
        (
            self.resources
                .iter()
                .map(|(n, r)| (n.clone(), r.schema()))
                .collect(),
            self.data_sources
                .iter()
                .map(|(n, d)| (n.clone(), d.schema()))
                .collect(),
        )
    }

    fn get(&self, type_name: &str) -> Result<&Arc<dyn Resource<C>>> {
        self.resources.get(type_name).ok_or_else(|| {
            ProviderError::internal(format!("this provider has no resource type {type_name}"))
        })
    }
}

#[async_trait]
impl<C: Context> Provider for Dispatch<C> {
    async fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        _prior_private: &[u8],
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let scoped = self.ctx.scoped(config);
        let ctx = scoped.as_deref().unwrap_or(&self.ctx);
        let mut change = self.get(type_name)?.plan(ctx, prior, config, schema)?;
        if ctx.settles_plan(prior) {
            change.planned = ctx.settle(change.planned);
        }
        Ok(change)
    }

    async fn create(&self, type_name: &str, planned: Value) -> Result<Value> {
        let scoped = self.ctx.scoped(&planned);
        let ctx = scoped.as_deref().unwrap_or(&self.ctx);
        let created = self.get(type_name)?.create(ctx, planned).await?;
        Ok(ctx.settle(created))
    }

    async fn read(&self, type_name: &str, state: Value) -> Result<Option<Value>> {
        let scoped = self.ctx.scoped(&state);
        let ctx = scoped.as_deref().unwrap_or(&self.ctx);
        let read = self.get(type_name)?.read(ctx, state).await?;
        Ok(read.map(|v| ctx.settle(v)))
    }

    async fn read_batch(
        &self,
        type_name: &str,
        states: Vec<Value>,
    ) -> Option<Result<Vec<Option<Value>>>> {
        // Objects of another region are read one by one, each in its own.
        if states.iter().any(|s| self.ctx.scoped(s).is_some()) {
            return None;
        }
        match self.get(type_name) {
            Ok(r) => r.read_batch(&self.ctx, states).await.map(|read| {
                read.map(|all| {
                    all.into_iter()
                        .map(|v| v.map(|v| self.ctx.settle(v)))
                        .collect()
                })
            }),
            Err(e) => Some(Err(e)),
        }
    }

    async fn update(&self, type_name: &str, prior: Value, planned: Value) -> Result<Value> {
        let scoped = self.ctx.scoped(&planned);
        let ctx = scoped.as_deref().unwrap_or(&self.ctx);
        let updated = self.get(type_name)?.update(ctx, prior, planned).await?;
        Ok(ctx.settle(updated))
    }

    async fn delete(&self, type_name: &str, state: Value) -> Result<()> {
        let scoped = self.ctx.scoped(&state);
        let ctx = scoped.as_deref().unwrap_or(&self.ctx);
        self.get(type_name)?.delete(ctx, state).await
    }

    async fn import(&self, type_name: &str, id: &str) -> Result<Value> {
        let imported = self.get(type_name)?.import(&self.ctx, id).await?;
        Ok(self.ctx.settle(imported))
    }

    async fn read_data(&self, type_name: &str, config: Value) -> Result<Value> {
        match self.data_sources.get(type_name) {
            Some(d) => d.read(&self.ctx, config).await,
            None => Err(ProviderError::config(format!(
                "{type_name} is not a data source of this provider"
            ))),
        }
    }

    fn stop(&self) {
        self.ctx.stop();
    }

    fn take_warnings(&self) -> Vec<Diagnostic> {
        self.ctx.take_warnings()
    }
}
