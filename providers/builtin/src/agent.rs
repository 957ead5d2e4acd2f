//! The `local` provider's types that the workspace's agent runs: services, load
//! balancers, DNS zones and records, autoscalers and backup policies.
//!
//! They all do the same against the agent's API: create puts a new object (starting
//! the agent when none runs), read gets it (with no agent running, nothing can be
//! checked and the recorded state stands), update puts it again under the same ID,
//! delete removes it. Each type implements [`AgentObject`] (its schema, plan-time
//! checks, the spec it sends and the API calls), and one adapter, [`Agent`], is the
//! [`Resource`] of every one of them. None of them can be imported: the agent does not
//! keep every argument of an object, so its state cannot be rebuilt from an ID.

use async_trait::async_trait;
use rand::Rng;
use terrane_agent_api::client::AgentClient;
use terrane_core::Value;
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{PlannedChange, ProviderError, Resource, Result, Schema};

use crate::local::LocalCtx;
use crate::{set_attr, str_attr};

/// One type of object the agent runs, as the `local` provider manages it.
#[async_trait]
pub trait AgentObject: Send + Sync + 'static {
    /// The resource type, such as `local_service`.
    const TYPE: &'static str;
    /// What the agent is sent.
    type Spec: Send + Sync;
    /// What the agent answers about an object.
    type Status: Send + Sync;

    fn schema(&self) -> Schema;

    /// Plans a change. The default runs the checks of [`AgentObject::spec`] once every
    /// value is known (so mistakes surface at plan, not at apply) and follows the
    /// schema; types with defaults or partly known checks override it.
    fn plan(
        &self,
        ctx: &LocalCtx,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        if config.is_wholly_known() {
            self.spec(ctx, config)?;
        }
        Ok(plan_by_schema(schema, prior, config))
    }

    /// The agent's spec from the resource's attributes, checked.
    fn spec(&self, ctx: &LocalCtx, v: &Value) -> Result<Self::Spec>;

    /// The agent's ID of a new object, and the planned value with the attributes that
    /// name it (`id`, and `name` when generated).
    fn new_id(&self, planned: &Value) -> (String, Value);

    /// Creates or replaces the object with ID `id`.
    async fn put(&self, agent: &AgentClient, id: &str, spec: &Self::Spec) -> Result<Self::Status>;

    /// The object with ID `id`; `None` when the agent does not have it.
    async fn get(&self, agent: &AgentClient, id: &str) -> Result<Option<Self::Status>>;

    /// Removes the object; one already gone is not an error.
    async fn remove(&self, agent: &AgentClient, id: &str) -> Result<()>;

    /// The state with what the agent reports about the object (its addresses); the
    /// default keeps the state as it is.
    fn with_status(&self, state: Value, status: &Self::Status) -> Value {
        let _ = status;
        state
    }

    /// Creates the object; the default puts it.
    async fn create(
        &self,
        agent: &AgentClient,
        id: &str,
        spec: &Self::Spec,
        planned: &Value,
    ) -> Result<Self::Status> {
        let _ = planned;
        self.put(agent, id, spec).await
    }

    /// Changes the object; the default puts it again.
    async fn update(
        &self,
        agent: &AgentClient,
        id: &str,
        spec: &Self::Spec,
        prior: &Value,
        planned: &Value,
    ) -> Result<Self::Status> {
        let _ = (prior, planned);
        self.put(agent, id, spec).await
    }
}

/// The object's name in the agent (the `name` argument, or generated with `prefix`),
/// and the planned value with `name` and `id` set to it.
pub fn named(planned: &Value, prefix: &str) -> (String, Value) {
    let name = match str_attr(planned, "name") {
        Some(n) => n.to_string(),
        None => format!("{prefix}-{:08x}", rand::rng().random::<u32>()),
    };
    let mut v = planned.clone();
    set_attr(&mut v, "name", Value::String(name.clone()));
    set_attr(&mut v, "id", Value::String(name.clone()));
    (name, v)
}

/// The [`Resource`] of an [`AgentObject`] type.
pub struct Agent<T>(pub T);

#[async_trait]
impl<T: AgentObject> Resource<LocalCtx> for Agent<T> {
    fn schema(&self) -> Schema {
        self.0.schema()
    }

    fn plan(
        &self,
        ctx: &LocalCtx,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        self.0.plan(ctx, prior, config, schema)
    }

    async fn create(&self, ctx: &LocalCtx, planned: Value) -> Result<Value> {
        let spec = self.0.spec(ctx, &planned)?;
        let (id, v) = self.0.new_id(&planned);
        let agent = ctx.agent().await?;
        let status = self.0.create(&agent, &id, &spec, &planned).await?;
        Ok(self.0.with_status(v, &status))
    }

    async fn read(&self, ctx: &LocalCtx, state: Value) -> Result<Option<Value>> {
        let Some(id) = str_attr(&state, "id").map(str::to_string) else {
            return Ok(None);
        };
        let Some(agent) = ctx.running_agent().await else {
            ctx.warn_no_agent();
            return Ok(Some(state));
        };
        Ok(self
            .0
            .get(&agent, &id)
            .await?
            .map(|status| self.0.with_status(state, &status)))
    }

    async fn update(&self, ctx: &LocalCtx, prior: Value, planned: Value) -> Result<Value> {
        let spec = self.0.spec(ctx, &planned)?;
        let id = str_attr(&prior, "id").unwrap_or_default().to_string();
        let mut v = planned.clone();
        set_attr(&mut v, "id", Value::String(id.clone()));
        let agent = ctx.agent().await?;
        let status = self.0.update(&agent, &id, &spec, &prior, &planned).await?;
        Ok(self.0.with_status(v, &status))
    }

    async fn delete(&self, ctx: &LocalCtx, state: Value) -> Result<()> {
        let Some(id) = str_attr(&state, "id") else {
            return Ok(());
        };
        let agent = ctx.agent().await?;
        self.0.remove(&agent, id).await
    }

    async fn import(&self, _ctx: &LocalCtx, id: &str) -> Result<Value> {
        Err(ProviderError::config(format!(
            "{} does not support import: the workspace's agent does not keep every argument of the resource, so its state cannot be rebuilt from the ID {id:?}. Let terrane apply create it instead.",
            T::TYPE
        )))
    }
}
