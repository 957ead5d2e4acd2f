//! `local_dns_zone` and `local_dns_record`: an authoritative DNS server run by the
//! workspace's agent (hickory-server), answering A, AAAA, CNAME, TXT and SRV records.

use async_trait::async_trait;
use rand::Rng;
use terrane_agent_api::client::AgentClient;
use terrane_agent_api::dns::{build_records, parse_origin, RecordSpec, ZoneSpec, ZoneStatus};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{AttrSchema, PlannedChange, ProviderError, Result, Schema};

use crate::agent::AgentObject;
use crate::local::LocalCtx;
use crate::{set_attr, str_attr};

pub fn zone_schema() -> Schema {
    Schema::new()
        .attr(
            "name",
            AttrSchema::required(Type::String)
                .force_new()
                .describe("The zone, such as internal.test."),
        )
        .attr(
            "listen",
            AttrSchema::required(Type::String)
                .force_new()
                .describe("UDP and TCP address, such as 127.0.0.1:5353."),
        )
        .attr("id", AttrSchema::computed(Type::String))
        .attr("address", AttrSchema::computed(Type::String))
}

pub fn record_schema() -> Schema {
    Schema::new()
        .attr("zone_id", AttrSchema::required(Type::String).force_new())
        .attr("name", AttrSchema::required(Type::String).force_new())
        .attr("type", AttrSchema::required(Type::String).force_new())
        .attr("ttl", AttrSchema::optional_computed(Type::Number))
        .attr(
            "records",
            AttrSchema::required(Type::List(Box::new(Type::String))),
        )
        .attr("id", AttrSchema::computed(Type::String))
}

fn zone_spec(v: &Value) -> Result<ZoneSpec> {
    let name = str_attr(v, "name").unwrap_or_default().to_string();
    parse_origin(&name).map_err(ProviderError::config)?;
    let listen = str_attr(v, "listen").unwrap_or_default().to_string();
    if listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(ProviderError::config(format!(
            "listen {listen:?} is not an IP:PORT address such as 127.0.0.1:5353"
        )));
    }
    Ok(ZoneSpec { name, listen })
}

fn record_spec(v: &Value) -> Result<RecordSpec> {
    let spec = RecordSpec {
        name: str_attr(v, "name").unwrap_or_default().to_string(),
        kind: str_attr(v, "type").unwrap_or_default().to_uppercase(),
        ttl: v.get("ttl").and_then(Value::as_f64).unwrap_or(300.0) as u32,
        records: v
            .get("records")
            .and_then(Value::as_items)
            .map(|xs| {
                xs.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    };
    // The zone is not known at plan time; check the record against a placeholder origin.
    let placeholder = parse_origin("zone.invalid.").map_err(ProviderError::internal)?;
    if !spec.name.ends_with('.') {
        build_records(&placeholder, &spec).map_err(ProviderError::config)?;
    }
    Ok(spec)
}

pub fn plan_record(
    prior: Option<&Value>,
    config: &Value,
    schema: &Schema,
) -> Result<PlannedChange> {
    let mut config = config.clone();
    if config.get("ttl").is_none_or(Value::is_null) {
        set_attr(&mut config, "ttl", Value::from(300.0));
    }
    if config.get("name").is_some_and(Value::is_wholly_known)
        && config.get("type").is_some_and(Value::is_wholly_known)
        && config.get("records").is_some_and(Value::is_wholly_known)
    {
        record_spec(&config)?;
    }
    Ok(plan_by_schema(schema, prior, &config))
}

/// `local_dns_zone`.
pub struct Zone;

#[async_trait]
impl AgentObject for Zone {
    const TYPE: &'static str = "local_dns_zone";
    type Spec = ZoneSpec;
    type Status = ZoneStatus;

    fn schema(&self) -> Schema {
        zone_schema()
    }

    fn spec(&self, _ctx: &LocalCtx, v: &Value) -> Result<ZoneSpec> {
        zone_spec(v)
    }

    /// A generated ID: `name` is the zone's DNS name.
    fn new_id(&self, planned: &Value) -> (String, Value) {
        let id = format!("zone-{:08x}", rand::rng().random::<u32>());
        let mut v = planned.clone();
        set_attr(&mut v, "id", Value::String(id.clone()));
        (id, v)
    }

    async fn put(&self, agent: &AgentClient, id: &str, spec: &ZoneSpec) -> Result<ZoneStatus> {
        agent.put_zone(id, spec).await.map_err(ProviderError::api)
    }

    async fn get(&self, agent: &AgentClient, id: &str) -> Result<Option<ZoneStatus>> {
        agent.zone(id).await.map_err(ProviderError::api)
    }

    async fn remove(&self, agent: &AgentClient, id: &str) -> Result<()> {
        agent.delete_zone(id).await.map_err(ProviderError::api)
    }

    fn with_status(&self, mut state: Value, status: &ZoneStatus) -> Value {
        set_attr(&mut state, "address", Value::String(status.address.clone()));
        state
    }
}

/// `local_dns_record`. Its ID is `ZONE/RECORD`: the zone's ID and the record's in it.
pub struct Record;

#[async_trait]
impl AgentObject for Record {
    const TYPE: &'static str = "local_dns_record";
    type Spec = RecordSpec;
    type Status = ();

    fn schema(&self) -> Schema {
        record_schema()
    }

    fn plan(
        &self,
        _ctx: &LocalCtx,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        plan_record(prior, config, schema)
    }

    fn spec(&self, _ctx: &LocalCtx, v: &Value) -> Result<RecordSpec> {
        record_spec(v)
    }

    fn new_id(&self, planned: &Value) -> (String, Value) {
        let zone = str_attr(planned, "zone_id").unwrap_or_default();
        let id = format!("{zone}/rec-{:08x}", rand::rng().random::<u32>());
        let mut v = planned.clone();
        set_attr(&mut v, "id", Value::String(id.clone()));
        (id, v)
    }

    async fn put(&self, agent: &AgentClient, id: &str, spec: &RecordSpec) -> Result<()> {
        let (zone, record) = id.split_once('/').ok_or_else(|| {
            ProviderError::internal(format!("the DNS record ID {id:?} is not ZONE/RECORD"))
        })?;
        agent
            .put_record(zone, record, spec)
            .await
            .map_err(|e| ProviderError::config(format!("DNS record {:?}: {e}", spec.name)))
    }

    async fn get(&self, agent: &AgentClient, id: &str) -> Result<Option<()>> {
        let Some((zone, record)) = id.split_once('/') else {
            return Ok(None);
        };
        match agent.zone(zone).await.map_err(ProviderError::api)? {
            Some(z) if z.records.contains_key(record) => Ok(Some(())),
            _ => Ok(None),
        }
    }

    async fn remove(&self, agent: &AgentClient, id: &str) -> Result<()> {
        let Some((zone, record)) = id.split_once('/') else {
            return Ok(());
        };
        agent
            .delete_record(zone, record)
            .await
            .map_err(ProviderError::api)
    }
}
