//! `local_backup_policy`: snapshots of local files and directories (the data of local
//! services) on a cron schedule, taken by the workspace's agent; `terrane backup
//! restore-data` puts a snapshot back.

use terrane_agent_api::backup::{parse_schedule, BackupPolicySpec};
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{AttrSchema, PlannedChange, ProviderError, Result, Schema};

use crate::str_attr;

pub fn schema() -> Schema {
    Schema::new()
        .attr(
            "name",
            AttrSchema::optional_computed(Type::String).force_new(),
        )
        .attr(
            "paths",
            AttrSchema::required(Type::List(Box::new(Type::String))),
        )
        .attr("destination", AttrSchema::required(Type::String))
        .attr("schedule", AttrSchema::required(Type::String))
        .attr("keep_last", AttrSchema::optional(Type::Number))
        .attr("id", AttrSchema::computed(Type::String))
}

fn absolute(p: &str) -> Result<String> {
    let path = std::path::Path::new(p);
    if !path.is_absolute() {
        return Err(ProviderError::config(format!(
            "{p:?} is a relative path; use an absolute one, e.g. \"${{path.module}}/{p}\""
        )));
    }
    Ok(p.to_string())
}

pub fn spec_of(v: &Value) -> Result<BackupPolicySpec> {
    let paths = v
        .get("paths")
        .and_then(Value::as_items)
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if paths.is_empty() {
        return Err(ProviderError::config(
            "paths must list at least one file or directory",
        ));
    }
    let schedule = str_attr(v, "schedule").unwrap_or_default().to_string();
    parse_schedule(&schedule).map_err(ProviderError::config)?;
    let keep_last = match v.get("keep_last").and_then(Value::as_number) {
        None => None,
        Some(n) if n >= 1.0 && n.fract() == 0.0 => Some(n as usize),
        Some(n) => {
            return Err(ProviderError::config(format!(
                "keep_last ({n}) must be a whole number of at least 1"
            )))
        }
    };
    Ok(BackupPolicySpec {
        paths: paths.iter().map(|p| absolute(p)).collect::<Result<_>>()?,
        destination: absolute(str_attr(v, "destination").unwrap_or_default())?,
        schedule,
        keep_last,
    })
}

pub fn plan(prior: Option<&Value>, config: &Value, schema: &Schema) -> Result<PlannedChange> {
    if config.is_wholly_known() {
        spec_of(config)?;
    }
    Ok(plan_by_schema(schema, prior, config))
}

pub async fn create(planned: Value) -> Result<Value> {
    let spec = spec_of(&planned)?;
    let (name, v) = crate::service::named(&planned, "bk");
    let c = crate::service::agent().await?;
    c.put_backup_policy(&name, &spec)
        .await
        .map_err(ProviderError::api)?;
    Ok(v)
}

pub async fn read(state: Value) -> Result<Option<Value>> {
    let Some(name) = str_attr(&state, "id").map(str::to_string) else {
        return Ok(None);
    };
    let Some(c) = crate::service::running_agent().await? else {
        return Ok(Some(state));
    };
    Ok(c.backup_policy(&name)
        .await
        .map_err(ProviderError::api)?
        .map(|_| state))
}

pub async fn update(prior: Value, planned: Value) -> Result<Value> {
    let spec = spec_of(&planned)?;
    let name = str_attr(&prior, "id").unwrap_or_default().to_string();
    let mut v = planned.clone();
    crate::set_attr(&mut v, "id", Value::String(name.clone()));
    let c = crate::service::agent().await?;
    c.put_backup_policy(&name, &spec)
        .await
        .map_err(ProviderError::api)?;
    Ok(v)
}

pub async fn delete(state: Value) -> Result<()> {
    let Some(name) = str_attr(&state, "id") else {
        return Ok(());
    };
    let c = crate::service::agent().await?;
    c.delete_backup_policy(name)
        .await
        .map_err(ProviderError::api)
}
