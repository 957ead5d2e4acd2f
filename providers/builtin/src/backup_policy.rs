//! `local_backup_policy`: snapshots of local files and directories (the data of local
//! services) on a cron schedule, taken by the workspace's agent; `terrane backup
//! restore-data` puts a snapshot back.

use async_trait::async_trait;
use terrane_agent_api::backup::{parse_schedule, BackupPolicySpec, BackupPolicyStatus};
use terrane_agent_api::client::AgentClient;
use terrane_core::{Type, Value};
use terrane_provider::{AttrSchema, ProviderError, Result, Schema};

use crate::agent::{named, AgentObject};
use crate::local::LocalCtx;
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
    let keep_last = match v.get("keep_last").and_then(Value::as_f64) {
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

/// `local_backup_policy`.
pub struct BackupPolicy;

#[async_trait]
impl AgentObject for BackupPolicy {
    const TYPE: &'static str = "local_backup_policy";
    type Spec = BackupPolicySpec;
    type Status = BackupPolicyStatus;

    fn schema(&self) -> Schema {
        schema()
    }

    fn spec(&self, _ctx: &LocalCtx, v: &Value) -> Result<BackupPolicySpec> {
        spec_of(v)
    }

    fn new_id(&self, planned: &Value) -> (String, Value) {
        named(planned, "bk")
    }

    async fn put(
        &self,
        agent: &AgentClient,
        name: &str,
        spec: &BackupPolicySpec,
    ) -> Result<BackupPolicyStatus> {
        agent
            .put_backup_policy(name, spec)
            .await
            .map_err(ProviderError::api)
    }

    async fn get(&self, agent: &AgentClient, name: &str) -> Result<Option<BackupPolicyStatus>> {
        agent.backup_policy(name).await.map_err(ProviderError::api)
    }

    async fn remove(&self, agent: &AgentClient, name: &str) -> Result<()> {
        agent
            .delete_backup_policy(name)
            .await
            .map_err(ProviderError::api)
    }
}
