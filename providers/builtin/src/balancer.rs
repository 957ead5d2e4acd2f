//! `local_load_balancer`: an HTTP reverse proxy run by the workspace's agent, in front
//! of the healthy replicas of `local_service`s and static backends.

use std::path::Path;

use async_trait::async_trait;
use terrane_agent_api::client::AgentClient;
use terrane_agent_api::lb::{Algorithm, LbSpec, LbStatus, Protocol, RouteSpec, TlsSpec};
use terrane_core::{Type, Value};
use terrane_provider::schema::{plan_by_schema, BlockSchema};
use terrane_provider::{AttrSchema, PlannedChange, ProviderError, Result, Schema};

use crate::agent::{named, AgentObject};
use crate::local::LocalCtx;
use crate::{set_attr, str_attr};

pub fn schema() -> Schema {
    Schema::new()
        .attr(
            "name",
            AttrSchema::optional_computed(Type::String).force_new(),
        )
        .attr(
            "listen",
            AttrSchema::required(Type::String)
                .describe("Address to listen on, such as 127.0.0.1:8080."),
        )
        .attr("algorithm", AttrSchema::optional_computed(Type::String))
        .attr(
            "protocol",
            AttrSchema::optional_computed(Type::String).force_new(),
        )
        .attr(
            "services",
            AttrSchema::optional(Type::List(Box::new(Type::String))),
        )
        .attr(
            "backends",
            AttrSchema::optional(Type::List(Box::new(Type::String))),
        )
        .attr("id", AttrSchema::computed(Type::String))
        .attr("address", AttrSchema::computed(Type::String))
        .block(
            "tls",
            BlockSchema::single(
                Schema::new()
                    .attr("cert_file", AttrSchema::required(Type::String))
                    .attr("key_file", AttrSchema::required(Type::String)),
            ),
        )
        .block(
            "route",
            BlockSchema::list(
                Schema::new()
                    .attr("host", AttrSchema::optional(Type::String))
                    .attr("path_prefix", AttrSchema::optional(Type::String))
                    .attr(
                        "services",
                        AttrSchema::optional(Type::List(Box::new(Type::String))),
                    )
                    .attr(
                        "backends",
                        AttrSchema::optional(Type::List(Box::new(Type::String))),
                    ),
            ),
        )
}

fn strings(v: &Value, attr: &str) -> Vec<String> {
    v.get(attr)
        .and_then(Value::as_items)
        .map(|xs| {
            xs.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the agent's spec from the resource's attributes, checking them; relative TLS
/// file names resolve against `workspace`.
pub fn spec_of(workspace: &Path, v: &Value) -> Result<LbSpec> {
    // Every problem in the addresses and routes is reported at once.
    let mut problems: Vec<String> = Vec::new();
    let listen = str_attr(v, "listen").unwrap_or_default().to_string();
    if listen.parse::<std::net::SocketAddr>().is_err() {
        problems.push(format!(
            "listen {listen:?} is not an IP:PORT address such as 127.0.0.1:8080"
        ));
    }
    let alg = str_attr(v, "algorithm").unwrap_or("round_robin");
    let algorithm = Algorithm::parse(alg).unwrap_or_else(|| {
        problems.push(format!(
            "algorithm {alg:?} is not one of round_robin, least_connections, p2c"
        ));
        Algorithm::default()
    });
    let backends = strings(v, "backends");
    for b in &backends {
        if b.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("backend {b:?} is not an IP:PORT address"));
        }
    }
    let services = strings(v, "services");
    let mut routes = Vec::new();
    for (i, r) in v
        .get("route")
        .and_then(Value::as_items)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let route = RouteSpec {
            host: r.get("host").and_then(Value::as_str).map(str::to_string),
            path_prefix: r
                .get("path_prefix")
                .and_then(Value::as_str)
                .map(str::to_string),
            services: strings(r, "services"),
            backends: strings(r, "backends"),
        };
        if let Some(p) = &route.path_prefix {
            if !p.starts_with('/') {
                problems.push(format!(
                    "route {i}: path_prefix {p:?} must start with \"/\""
                ));
            }
        }
        if let Some(h) = &route.host {
            if h.is_empty() || h.contains(['/', ' ', ':']) {
                problems.push(format!(
                    "route {i}: host {h:?} is not a host name (no scheme, port or path)"
                ));
            }
        }
        if route.services.is_empty() && route.backends.is_empty() {
            problems.push(format!(
                "route {i} sends requests nowhere: give it services or backends"
            ));
        }
        for b in &route.backends {
            if b.parse::<std::net::SocketAddr>().is_err() {
                problems.push(format!(
                    "route {i}: backend {b:?} is not an IP:PORT address"
                ));
            }
        }
        routes.push(route);
    }
    if !problems.is_empty() {
        return Err(ProviderError::config(problems.join("\n")));
    }
    if services.is_empty() && backends.is_empty() && routes.is_empty() {
        return Err(ProviderError::config(
            "a load balancer needs services = [local_service.NAME.id], backends = [\"IP:PORT\"] or route blocks",
        ));
    }
    let protocol = match str_attr(v, "protocol").unwrap_or("http") {
        "http" => Protocol::Http,
        "tcp" => Protocol::Tcp,
        other => {
            return Err(ProviderError::config(format!(
                "protocol {other:?} is not one of http, tcp"
            )))
        }
    };
    if protocol == Protocol::Tcp && !routes.is_empty() {
        return Err(ProviderError::config(
            "route blocks need protocol = \"http\"; a TCP balancer cannot see hosts or paths",
        ));
    }
    let tls = match v.get("tls").filter(|t| !t.is_null()) {
        None => None,
        Some(t) => {
            if protocol == Protocol::Tcp {
                return Err(ProviderError::config("tls needs protocol = \"http\""));
            }
            let abs = |p: &str| {
                let path = Path::new(p);
                if path.is_absolute() {
                    p.to_string()
                } else {
                    workspace.join(path).display().to_string()
                }
            };
            let spec = TlsSpec {
                cert_file: abs(t
                    .get("cert_file")
                    .and_then(Value::as_str)
                    .unwrap_or_default()),
                key_file: abs(t
                    .get("key_file")
                    .and_then(Value::as_str)
                    .unwrap_or_default()),
            };
            // Check the files now, so a bad certificate fails the plan, not the agent.
            terrane_agent_api::lb::tls_server_config("(plan)", &spec)
                .map_err(ProviderError::config)?;
            Some(spec)
        }
    };
    Ok(LbSpec {
        listen,
        algorithm,
        services,
        backends,
        routes,
        protocol,
        tls,
    })
}

pub fn plan(
    workspace: &Path,
    prior: Option<&Value>,
    config: &Value,
    schema: &Schema,
) -> Result<PlannedChange> {
    let mut config = config.clone();
    if config.get("algorithm").is_none_or(Value::is_null) {
        set_attr(&mut config, "algorithm", Value::from("round_robin"));
    }
    if config.get("protocol").is_none_or(Value::is_null) {
        set_attr(&mut config, "protocol", Value::from("http"));
    }
    if config.is_wholly_known() {
        spec_of(workspace, &config)?;
    }
    let mut change = plan_by_schema(schema, prior, &config);
    if config.get("listen").is_some_and(Value::is_wholly_known)
        && prior.is_none_or(|p| {
            !p.get("listen")
                .unwrap_or(&Value::Null)
                .same_as(config.get("listen").unwrap_or(&Value::Null))
        })
    {
        set_attr(&mut change.planned, "address", Value::Unknown);
    }
    Ok(change)
}

fn with_status(mut v: Value, st: &LbStatus) -> Value {
    set_attr(&mut v, "address", Value::String(st.address.clone()));
    v
}

/// `local_load_balancer`.
pub struct LoadBalancer;

#[async_trait]
impl AgentObject for LoadBalancer {
    const TYPE: &'static str = "local_load_balancer";
    type Spec = LbSpec;
    type Status = LbStatus;

    fn schema(&self) -> Schema {
        schema()
    }

    fn plan(
        &self,
        ctx: &LocalCtx,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        plan(ctx.workspace(), prior, config, schema)
    }

    fn spec(&self, ctx: &LocalCtx, v: &Value) -> Result<LbSpec> {
        spec_of(ctx.workspace(), v)
    }

    fn new_id(&self, planned: &Value) -> (String, Value) {
        named(planned, "lb")
    }

    async fn put(&self, agent: &AgentClient, name: &str, spec: &LbSpec) -> Result<LbStatus> {
        agent.put_lb(name, spec).await.map_err(ProviderError::api)
    }

    async fn get(&self, agent: &AgentClient, name: &str) -> Result<Option<LbStatus>> {
        agent.lb(name).await.map_err(ProviderError::api)
    }

    async fn remove(&self, agent: &AgentClient, name: &str) -> Result<()> {
        agent.delete_lb(name).await.map_err(ProviderError::api)
    }

    fn with_status(&self, state: Value, status: &LbStatus) -> Value {
        with_status(state, status)
    }
}
