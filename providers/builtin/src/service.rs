//! `local_service`: replicas of a command supervised by the workspace's `terrane agent`.
//!
//! The provider hands the service to the agent (starting one in the background when
//! none is running) and waits until every replica passes its health check. If they do
//! not within `ready_timeout`, the service is removed again so that a failed apply
//! leaves no half-started processes behind, and the error names the failing replica.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use terrane_agent_api::client::AgentClient;
use terrane_agent_api::spec::{
    HealthCheck, ReplicaState, RestartPolicy, ServiceSpec, ServiceStatus, UpdateStrategy,
};
use terrane_core::{Type, Value};
use terrane_provider::schema::{plan_by_schema, BlockSchema};
use terrane_provider::{AttrSchema, PlannedChange, ProviderError, Result, Schema};

use crate::agent::{named, AgentObject};
use crate::local::LocalCtx;
use crate::{parse_duration, set_attr, str_attr};

pub fn schema() -> Schema {
    let health = Schema::new()
        .attr("http_path", AttrSchema::optional(Type::String))
        .attr("tcp", AttrSchema::optional(Type::Bool))
        .attr("interval", AttrSchema::optional(Type::String))
        .attr("timeout", AttrSchema::optional(Type::String))
        .attr("healthy_threshold", AttrSchema::optional(Type::Number))
        .attr("unhealthy_threshold", AttrSchema::optional(Type::Number));
    Schema::new()
        .attr(
            "name",
            AttrSchema::optional_computed(Type::String)
                .force_new()
                .describe("Name of the service in the agent; generated when not set."),
        )
        .attr("command", AttrSchema::required(Type::String))
        .attr(
            "args",
            AttrSchema::optional(Type::List(Box::new(Type::String))),
        )
        .attr(
            "env",
            AttrSchema::optional(Type::Map(Box::new(Type::String))),
        )
        .attr("working_dir", AttrSchema::optional(Type::String))
        .attr("replicas", AttrSchema::optional_computed(Type::Number))
        .attr(
            "restart_policy",
            AttrSchema::optional_computed(Type::String),
        )
        .attr("grace_period", AttrSchema::optional_computed(Type::String))
        .attr("ready_timeout", AttrSchema::optional_computed(Type::String))
        .attr("id", AttrSchema::computed(Type::String))
        .attr(
            "addresses",
            AttrSchema::computed(Type::List(Box::new(Type::String))),
        )
        .block("health_check", BlockSchema::single(health))
        .block(
            "dns",
            BlockSchema::single(
                Schema::new()
                    .attr("zone_id", AttrSchema::required(Type::String))
                    .attr("name", AttrSchema::required(Type::String)),
            ),
        )
        .block(
            "update",
            BlockSchema::single(
                Schema::new()
                    .attr("max_surge", AttrSchema::optional(Type::String))
                    .attr("max_unavailable", AttrSchema::optional(Type::String)),
            ),
        )
}

fn default(v: &mut Value, attr: &str, d: Value) {
    if v.get(attr).is_none_or(|x| x.is_null()) {
        set_attr(v, attr, d);
    }
}

pub fn plan(prior: Option<&Value>, config: &Value, schema: &Schema) -> Result<PlannedChange> {
    let mut config = config.clone();
    default(&mut config, "replicas", Value::from(1.0));
    default(&mut config, "restart_policy", Value::from("always"));
    default(&mut config, "grace_period", Value::from("10s"));
    default(&mut config, "ready_timeout", Value::from("60s"));
    if config.is_wholly_known() {
        spec_of(&config)?;
    }
    let mut change = plan_by_schema(schema, prior, &config);
    // The addresses change only when replicas are replaced.
    if prior.is_none() || !change.requires_replace.is_empty() {
        set_attr(&mut change.planned, "addresses", Value::Unknown);
    }
    let process_changed = prior.is_some_and(|p| {
        ["command", "args", "env", "working_dir", "replicas"]
            .iter()
            .any(|a| {
                !p.get(a)
                    .unwrap_or(&Value::Null)
                    .same_as(config.get(a).unwrap_or(&Value::Null))
            })
    });
    if process_changed {
        set_attr(&mut change.planned, "addresses", Value::Unknown);
    }
    Ok(change)
}

fn duration(v: &Value, attr: &str, default: &str) -> Result<Duration> {
    let s = v.get(attr).and_then(Value::as_str).unwrap_or(default);
    parse_duration(s).map_err(|e| ProviderError::config(format!("{attr}: {e}")))
}

/// Builds the agent's spec from the resource's attributes, checking them.
pub fn spec_of(v: &Value) -> Result<ServiceSpec> {
    let command = str_attr(v, "command").unwrap_or_default().to_string();
    if command.trim().is_empty() {
        return Err(ProviderError::config("command must not be empty"));
    }
    let replicas = v.get("replicas").and_then(Value::as_f64).unwrap_or(1.0);
    if !(0.0..=1000.0).contains(&replicas) || replicas.fract() != 0.0 {
        return Err(ProviderError::config(format!(
            "replicas must be a whole number between 0 and 1000, not {replicas}"
        )));
    }
    let restart = str_attr(v, "restart_policy").unwrap_or("always");
    let restart_policy = RestartPolicy::parse(restart).ok_or_else(|| {
        ProviderError::config(format!(
            "restart_policy {restart:?} is not one of always, on-failure, never"
        ))
    })?;
    let health_check = match v.get("health_check").filter(|h| !h.is_null()) {
        None => None,
        Some(h) => {
            let http_path = h
                .get("http_path")
                .and_then(Value::as_str)
                .map(str::to_string);
            let tcp = h.get("tcp").and_then(Value::as_bool).unwrap_or(false);
            if http_path.is_some() == tcp {
                return Err(ProviderError::config(
                    "health_check needs exactly one of http_path = \"/path\" or tcp = true",
                ));
            }
            Some(HealthCheck {
                http_path,
                interval_ms: duration(h, "interval", "10s")?.as_millis() as u64,
                timeout_ms: duration(h, "timeout", "1s")?.as_millis() as u64,
                healthy_threshold: h
                    .get("healthy_threshold")
                    .and_then(Value::as_f64)
                    .unwrap_or(1.0) as u32,
                unhealthy_threshold: h
                    .get("unhealthy_threshold")
                    .and_then(Value::as_f64)
                    .unwrap_or(3.0) as u32,
            })
        }
    };
    let strings = |attr: &str| -> Vec<String> {
        v.get(attr)
            .and_then(Value::as_items)
            .map(|xs| {
                xs.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let update = {
        let u = v.get("update").filter(|u| !u.is_null());
        let get = |attr: &str| {
            u.and_then(|u| u.get(attr))
                .and_then(Value::as_str)
                .unwrap_or("25%")
                .to_string()
        };
        let strategy = UpdateStrategy {
            max_surge: get("max_surge"),
            max_unavailable: get("max_unavailable"),
        };
        if strategy.bounds(replicas as usize).is_none() {
            return Err(ProviderError::config(format!(
                "update: max_surge {:?} and max_unavailable {:?} must be counts (\"1\") or percentages from 0% to 100% (\"25%\")",
                strategy.max_surge, strategy.max_unavailable
            )));
        }
        strategy
    };
    let dns = match v.get("dns").filter(|d| !d.is_null()) {
        None => None,
        Some(d) => {
            let name = d
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let probe = terrane_agent_api::dns::RecordSpec {
                name: name.clone(),
                kind: "A".into(),
                ttl: 5,
                records: vec!["127.0.0.1".into()],
            };
            let placeholder = terrane_agent_api::dns::parse_origin("zone.invalid.")
                .map_err(ProviderError::internal)?;
            terrane_agent_api::dns::build_records(&placeholder, &probe)
                .map_err(|e| ProviderError::config(format!("dns: {e}")))?;
            Some(terrane_agent_api::spec::DnsRegistration {
                zone_id: d
                    .get("zone_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                name,
            })
        }
    };
    Ok(ServiceSpec {
        dns,
        update,
        command,
        args: strings("args"),
        env: v
            .get("env")
            .and_then(Value::as_map)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, x)| x.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        working_dir: str_attr(v, "working_dir").map(str::to_string),
        replicas: replicas as u32,
        health_check,
        restart_policy,
        grace_period_ms: duration(v, "grace_period", "10s")?.as_millis() as u64,
    })
}

fn with_status(mut v: Value, st: &ServiceStatus) -> Value {
    let addresses: Vec<Value> = st
        .replicas
        .iter()
        .map(|r| Value::String(r.address.clone()))
        .collect();
    set_attr(&mut v, "addresses", Value::List(addresses));
    v
}

/// Waits until every replica is ready; on timeout removes the service and explains.
async fn wait_ready(
    c: &AgentClient,
    name: &str,
    spec: &ServiceSpec,
    timeout: Duration,
    remove_on_failure: bool,
) -> Result<ServiceStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let st = c
            .service(name)
            .await
            .map_err(ProviderError::api)?
            .ok_or_else(|| ProviderError::api(format!("the agent lost service {name}")))?;
        let rolled_out = st.replicas.iter().all(|r| r.generation == st.generation);
        // While an autoscaler owns the count, wait for its number instead.
        let want = if st.autoscaled {
            st.desired
        } else {
            spec.replicas
        };
        if rolled_out && st.ready == want && st.replicas.len() as u32 == want {
            return Ok(st);
        }
        // A replica of this configuration that exited (or could not start) before it
        // was ever ready will not become ready by waiting: fail now, whatever the
        // restart policy.
        let died: Vec<String> = st
            .replicas
            .iter()
            .filter(|r| r.generation == st.generation && !r.ever_ready)
            .filter(|r| {
                matches!(
                    r.state,
                    ReplicaState::Restarting | ReplicaState::Exited | ReplicaState::Failed
                ) || r.restarts > 0
            })
            .map(|r| {
                format!(
                    "replica {} ({}) {}",
                    r.index,
                    r.address,
                    r.last_error.clone().unwrap_or_else(|| "exited".into())
                )
            })
            .collect();
        if !died.is_empty() {
            if remove_on_failure {
                let _ = c.delete_service(name).await;
            }
            return Err(ProviderError::api(format!(
                "service {name}: {} before it was ever ready; {}",
                died.join("; "),
                if remove_on_failure {
                    "the service was stopped again, so nothing is left running"
                } else {
                    "the new replicas did not become ready"
                }
            )));
        }
        if Instant::now() >= deadline {
            let failing: Vec<String> = st
                .replicas
                .iter()
                .filter(|r| !r.healthy)
                .map(|r| {
                    format!(
                        "replica {} ({}): {}",
                        r.index,
                        r.address,
                        r.last_error
                            .clone()
                            .unwrap_or_else(|| "not healthy yet".into())
                    )
                })
                .collect();
            if remove_on_failure {
                let _ = c.delete_service(name).await;
            }
            return Err(ProviderError::api(format!(
                "service {name}: {} of {} replicas became ready within {}s{}; {}",
                st.ready,
                spec.replicas,
                timeout.as_secs(),
                if failing.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", failing.join("; "))
                },
                if remove_on_failure {
                    "the service was stopped again, so nothing is left running"
                } else {
                    "the new replicas did not become ready"
                }
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `local_service`.
pub struct Service;

#[async_trait]
impl AgentObject for Service {
    const TYPE: &'static str = "local_service";
    type Spec = ServiceSpec;
    type Status = ServiceStatus;

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

    fn spec(&self, _ctx: &LocalCtx, v: &Value) -> Result<ServiceSpec> {
        spec_of(v)
    }

    fn new_id(&self, planned: &Value) -> (String, Value) {
        named(planned, "svc")
    }

    async fn put(
        &self,
        agent: &AgentClient,
        name: &str,
        spec: &ServiceSpec,
    ) -> Result<ServiceStatus> {
        agent
            .put_service(name, spec)
            .await
            .map_err(ProviderError::api)
    }

    async fn get(&self, agent: &AgentClient, name: &str) -> Result<Option<ServiceStatus>> {
        agent.service(name).await.map_err(ProviderError::api)
    }

    async fn remove(&self, agent: &AgentClient, name: &str) -> Result<()> {
        agent.delete_service(name).await.map_err(ProviderError::api)
    }

    fn with_status(&self, state: Value, status: &ServiceStatus) -> Value {
        with_status(state, status)
    }

    /// Starts the service and waits until every replica is ready; one that does not
    /// become ready within `ready_timeout` removes the service again.
    async fn create(
        &self,
        c: &AgentClient,
        name: &str,
        spec: &ServiceSpec,
        planned: &Value,
    ) -> Result<ServiceStatus> {
        if c.service(name).await.map_err(ProviderError::api)?.is_some() {
            return Err(ProviderError::config(format!("a service named {name:?} already runs in this workspace's agent; choose another name")));
        }
        self.put(c, name, spec).await?;
        wait_ready(
            c,
            name,
            spec,
            duration(planned, "ready_timeout", "60s")?,
            true,
        )
        .await
    }

    /// Rolls the new configuration out and waits for it; a rollout that does not become
    /// ready goes back to the previous configuration.
    async fn update(
        &self,
        c: &AgentClient,
        name: &str,
        spec: &ServiceSpec,
        prior: &Value,
        planned: &Value,
    ) -> Result<ServiceStatus> {
        self.put(c, name, spec).await?;
        match wait_ready(
            c,
            name,
            spec,
            duration(planned, "ready_timeout", "60s")?,
            false,
        )
        .await
        {
            Ok(st) => Ok(st),
            Err(e) => {
                // A failed rollout stops: go back to the previous configuration, whose
                // replicas are still serving within the max_unavailable bound.
                if let Ok(previous) = spec_of(prior) {
                    let _ = c.put_service(name, &previous).await;
                }
                Err(ProviderError::api(format!(
                    "{}; the rollout was stopped and the previous configuration restored",
                    e.message
                )))
            }
        }
    }
}
