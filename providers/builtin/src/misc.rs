//! Providers `null` (`null_resource`), `terraform` (`terraform_data`) and `time`
//! (`time_sleep`): resources that exist only in state, used to order and trigger work.

use std::sync::Arc;

use async_trait::async_trait;
use rand::Rng;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, PlannedChange, Provider, ProviderError, ProviderSchema, Result, Schema,
};

use crate::{parse_duration, set_attr, unknown_type, SimpleFactory};

pub fn null_factory() -> SimpleFactory {
    let mut schema = ProviderSchema::default();
    schema.resources.insert(
        "null_resource".into(),
        Schema::new()
            .attr(
                "triggers",
                AttrSchema::optional(Type::Map(Box::new(Type::String))).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String)),
    );
    SimpleFactory {
        name: "null",
        schema,
        make: || Arc::new(StateOnly::default()),
    }
}

pub fn terraform_factory() -> SimpleFactory {
    let mut schema = ProviderSchema::default();
    schema.resources.insert(
        "terraform_data".into(),
        Schema::new()
            .attr("input", AttrSchema::optional(Type::Any))
            .attr("output", AttrSchema::computed(Type::Any))
            .attr(
                "triggers_replace",
                AttrSchema::optional(Type::Any).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String)),
    );
    SimpleFactory {
        name: "terraform",
        schema,
        make: || Arc::new(StateOnly::default()),
    }
}

pub fn time_factory() -> SimpleFactory {
    let mut schema = ProviderSchema::default();
    schema.resources.insert(
        "time_sleep".into(),
        Schema::new()
            .attr("create_duration", AttrSchema::optional(Type::String))
            .attr("destroy_duration", AttrSchema::optional(Type::String))
            .attr(
                "triggers",
                AttrSchema::optional(Type::Map(Box::new(Type::String))).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String)),
    );
    SimpleFactory {
        name: "time",
        schema,
        make: || Arc::new(StateOnly::default()),
    }
}

/// Resources whose only effect is their state (and, for `time_sleep`, time passing).
#[derive(Default)]
struct StateOnly {
    /// Set by [`Provider::stop`]: sleeps in progress end as interrupted.
    stopped: tokio::sync::watch::Sender<bool>,
}

fn sleep_for(v: &Value, attr: &str) -> Result<()> {
    if let Some(d) = v.get(attr).and_then(Value::as_str) {
        parse_duration(d).map_err(|e| ProviderError::config(format!("{attr}: {e}")))?;
    }
    Ok(())
}

impl StateOnly {
    /// Sleeps for the duration in `attr`; a stop (Ctrl-C) ends the sleep as interrupted
    /// (the operation fails and is not recorded) instead of waiting it out.
    async fn sleep_attr(&self, v: &Value, attr: &str) -> Result<()> {
        if let Some(d) = v.get(attr).and_then(Value::as_str) {
            let d = parse_duration(d).map_err(|e| ProviderError::config(format!("{attr}: {e}")))?;
            let mut stopped = self.stopped.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = stopped.wait_for(|s| *s) => {
                    return Err(ProviderError::api(format!("{attr}: the sleep was interrupted")));
                }
            }
        }
        Ok(())
    }
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

#[async_trait]
impl Provider for StateOnly {
    fn stop(&self) {
        self.stopped.send_replace(true);
    }

    fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut change = plan_by_schema(schema, prior, config);
        match type_name {
            "terraform_data" => {
                let input = change.planned.get("input").cloned().unwrap_or(Value::Null);
                set_attr(&mut change.planned, "output", input);
            }
            "time_sleep" => {
                sleep_for(config, "create_duration")?;
                sleep_for(config, "destroy_duration")?;
            }
            _ => {}
        }
        Ok(change)
    }

    async fn create(&self, type_name: &str, planned: Value) -> Result<Value> {
        let mut out = planned.clone();
        match type_name {
            "null_resource" => {
                let n: u64 = rand::rng().random_range(1_000_000_000_000_000_000..u64::MAX);
                set_attr(&mut out, "id", Value::String(n.to_string()));
            }
            "terraform_data" => {
                set_attr(
                    &mut out,
                    "id",
                    Value::String(uuid::Uuid::new_v4().to_string()),
                );
                let input = out.get("input").cloned().unwrap_or(Value::Null);
                set_attr(&mut out, "output", input);
            }
            "time_sleep" => {
                self.sleep_attr(&planned, "create_duration").await?;
                set_attr(&mut out, "id", Value::String(timestamp()));
            }
            other => return Err(unknown_type(other)),
        }
        Ok(out)
    }

    async fn read(&self, _type_name: &str, state: Value) -> Result<Option<Value>> {
        Ok(Some(state))
    }

    async fn update(&self, type_name: &str, prior: Value, planned: Value) -> Result<Value> {
        let mut out = planned;
        if let Some(id) = prior.get("id") {
            set_attr(&mut out, "id", id.clone());
        }
        if type_name == "terraform_data" {
            let input = out.get("input").cloned().unwrap_or(Value::Null);
            set_attr(&mut out, "output", input);
        }
        Ok(out)
    }

    async fn delete(&self, type_name: &str, state: Value) -> Result<()> {
        if type_name == "time_sleep" {
            self.sleep_attr(&state, "destroy_duration").await?;
        }
        Ok(())
    }

    async fn import(&self, type_name: &str, id: &str) -> Result<Value> {
        match type_name {
            "null_resource" => Ok(Value::map([
                ("id", Value::from(id)),
                ("triggers", Value::Null),
            ])),
            "terraform_data" => Ok(Value::map([
                ("id", Value::from(id)),
                ("input", Value::Null),
                ("output", Value::Null),
                ("triggers_replace", Value::Null),
            ])),
            other => Err(ProviderError::config(format!(
                "{other} does not support import"
            ))),
        }
    }
}
