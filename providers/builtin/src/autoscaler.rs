//! `local_autoscaler`: scales a `local_service` with Kubernetes' HPA algorithm, run by
//! the workspace's agent. While it exists it owns the service's replica count.

use async_trait::async_trait;
use terrane_agent_api::autoscale::{AutoscalerSpec, AutoscalerStatus, MetricKind};
use terrane_agent_api::client::AgentClient;
use terrane_core::{Type, Value};
use terrane_provider::schema::{plan_by_schema, BlockSchema};
use terrane_provider::{AttrSchema, PlannedChange, ProviderError, Result, Schema};

use crate::agent::{named, AgentObject};
use crate::local::LocalCtx;
use crate::{parse_duration, set_attr, str_attr};

pub fn schema() -> Schema {
    Schema::new()
        .attr(
            "name",
            AttrSchema::optional_computed(Type::String).force_new(),
        )
        .attr("service_id", AttrSchema::required(Type::String).force_new())
        .attr("min_replicas", AttrSchema::required(Type::Number))
        .attr("max_replicas", AttrSchema::required(Type::Number))
        .attr("period", AttrSchema::optional_computed(Type::String))
        .attr(
            "scale_down_stabilization",
            AttrSchema::optional_computed(Type::String),
        )
        .attr("id", AttrSchema::computed(Type::String))
        .block(
            "metric",
            BlockSchema::single(
                Schema::new()
                    .attr("type", AttrSchema::required(Type::String))
                    .attr("target", AttrSchema::required(Type::Number)),
            ),
        )
}

pub fn spec_of(v: &Value) -> Result<AutoscalerSpec> {
    let num = |a: &str| v.get(a).and_then(Value::as_f64).unwrap_or(0.0);
    let (min, max) = (num("min_replicas"), num("max_replicas"));
    if min < 0.0
        || max < 1.0
        || min > max
        || min.fract() != 0.0
        || max.fract() != 0.0
        || max > 1000.0
    {
        return Err(ProviderError::config(format!("min_replicas ({min}) and max_replicas ({max}) must be whole numbers with 0 <= min <= max, 1 <= max <= 1000")));
    }
    let metric = v.get("metric").filter(|m| !m.is_null()).ok_or_else(|| {
        ProviderError::config("a metric { type = ..., target = ... } block is required")
    })?;
    let kind_text = metric
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = MetricKind::parse(kind_text).ok_or_else(|| {
        ProviderError::config(format!("metric type {kind_text:?} is not one of requests_per_second, in_flight, p95_latency_ms, cpu_percent"))
    })?;
    let target = metric.get("target").and_then(Value::as_f64).unwrap_or(0.0);
    if target <= 0.0 {
        return Err(ProviderError::config(
            "metric target must be greater than zero",
        ));
    }
    let dur = |a: &str, d: &str| {
        parse_duration(str_attr(v, a).unwrap_or(d))
            .map_err(|e| ProviderError::config(format!("{a}: {e}")))
    };
    Ok(AutoscalerSpec {
        service: str_attr(v, "service_id").unwrap_or_default().to_string(),
        min_replicas: min as u32,
        max_replicas: max as u32,
        metric: kind,
        target,
        period_ms: dur("period", "15s")?.as_millis() as u64,
        scale_down_window_ms: dur("scale_down_stabilization", "300s")?.as_millis() as u64,
    })
}

pub fn plan(prior: Option<&Value>, config: &Value, schema: &Schema) -> Result<PlannedChange> {
    let mut config = config.clone();
    for (a, d) in [("period", "15s"), ("scale_down_stabilization", "300s")] {
        if config.get(a).is_none_or(Value::is_null) {
            set_attr(&mut config, a, Value::from(d));
        }
    }
    if config.is_wholly_known() {
        spec_of(&config)?;
    }
    Ok(plan_by_schema(schema, prior, &config))
}

/// `local_autoscaler`.
pub struct Autoscaler;

#[async_trait]
impl AgentObject for Autoscaler {
    const TYPE: &'static str = "local_autoscaler";
    type Spec = AutoscalerSpec;
    type Status = AutoscalerStatus;

    fn schema(&self) -> Schema {
        schema()
    }

    fn plan(
        &self,
        _ctx: &LocalCtx,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        plan(prior, config, schema)
    }

    fn spec(&self, _ctx: &LocalCtx, v: &Value) -> Result<AutoscalerSpec> {
        spec_of(v)
    }

    fn new_id(&self, planned: &Value) -> (String, Value) {
        named(planned, "as")
    }

    async fn put(
        &self,
        agent: &AgentClient,
        name: &str,
        spec: &AutoscalerSpec,
    ) -> Result<AutoscalerStatus> {
        agent
            .put_autoscaler(name, spec)
            .await
            .map_err(ProviderError::api)
    }

    async fn get(&self, agent: &AgentClient, name: &str) -> Result<Option<AutoscalerStatus>> {
        agent.autoscaler(name).await.map_err(ProviderError::api)
    }

    async fn remove(&self, agent: &AgentClient, name: &str) -> Result<()> {
        agent
            .delete_autoscaler(name)
            .await
            .map_err(ProviderError::api)
    }
}
