//! `local_dns_zone` and `local_dns_record`: an authoritative DNS server run by the
//! workspace's agent (hickory-server), answering A, AAAA, CNAME, TXT and SRV records.

use rand::Rng;
use terrane_agent_api::dns::{build_records, parse_origin, RecordSpec, ZoneSpec};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{AttrSchema, PlannedChange, ProviderError, Result, Schema};

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
        ttl: v.get("ttl").and_then(Value::as_number).unwrap_or(300.0) as u32,
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

pub fn plan_zone(prior: Option<&Value>, config: &Value, schema: &Schema) -> Result<PlannedChange> {
    if config.is_wholly_known() {
        zone_spec(config)?;
    }
    Ok(plan_by_schema(schema, prior, config))
}

pub fn plan_record(
    prior: Option<&Value>,
    config: &Value,
    schema: &Schema,
) -> Result<PlannedChange> {
    let mut config = config.clone();
    if config.get("ttl").is_none_or(Value::is_null) {
        set_attr(&mut config, "ttl", Value::Number(300.0));
    }
    if config.get("name").is_some_and(Value::is_wholly_known)
        && config.get("type").is_some_and(Value::is_wholly_known)
        && config.get("records").is_some_and(Value::is_wholly_known)
    {
        record_spec(&config)?;
    }
    Ok(plan_by_schema(schema, prior, &config))
}

pub async fn create_zone(planned: Value) -> Result<Value> {
    let spec = zone_spec(&planned)?;
    let id = format!("zone-{:08x}", rand::rng().random::<u32>());
    let c = crate::service::agent().await?;
    let st = c.put_zone(&id, &spec).await.map_err(ProviderError::api)?;
    let mut v = planned.clone();
    set_attr(&mut v, "id", Value::String(id));
    set_attr(&mut v, "address", Value::String(st.address));
    Ok(v)
}

pub async fn read_zone(state: Value) -> Result<Option<Value>> {
    let Some(id) = str_attr(&state, "id").map(str::to_string) else {
        return Ok(None);
    };
    let Some(c) = crate::service::running_agent().await? else {
        return Ok(Some(state));
    };
    Ok(c.zone(&id)
        .await
        .map_err(ProviderError::api)?
        .map(|_| state))
}

pub async fn delete_zone(state: Value) -> Result<()> {
    let Some(id) = str_attr(&state, "id") else {
        return Ok(());
    };
    let c = crate::service::agent().await?;
    c.delete_zone(id).await.map_err(ProviderError::api)
}

pub async fn put_record(prior: Option<&Value>, planned: Value) -> Result<Value> {
    let spec = record_spec(&planned)?;
    let zone = str_attr(&planned, "zone_id")
        .unwrap_or_default()
        .to_string();
    let id = prior
        .and_then(|p| str_attr(p, "id"))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{zone}/rec-{:08x}", rand::rng().random::<u32>()));
    let record = id.rsplit('/').next().unwrap_or(&id).to_string();
    let c = crate::service::agent().await?;
    c.put_record(&zone, &record, &spec)
        .await
        .map_err(|e| ProviderError::config(format!("DNS record {:?}: {e}", spec.name)))?;
    let mut v = planned.clone();
    set_attr(&mut v, "id", Value::String(id));
    Ok(v)
}

pub async fn read_record(state: Value) -> Result<Option<Value>> {
    let Some(id) = str_attr(&state, "id").map(str::to_string) else {
        return Ok(None);
    };
    let Some((zone, record)) = id.split_once('/') else {
        return Ok(None);
    };
    let Some(c) = crate::service::running_agent().await? else {
        return Ok(Some(state));
    };
    match c.zone(zone).await.map_err(ProviderError::api)? {
        Some(z) if z.records.contains_key(record) => Ok(Some(state)),
        _ => Ok(None),
    }
}

pub async fn delete_record(state: Value) -> Result<()> {
    let Some(id) = str_attr(&state, "id") else {
        return Ok(());
    };
    let Some((zone, record)) = id.split_once('/') else {
        return Ok(());
    };
    let c = crate::service::agent().await?;
    c.delete_record(zone, record)
        .await
        .map_err(ProviderError::api)
}
