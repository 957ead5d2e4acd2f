//! An in-memory provider for engine tests.
//!
//! Provider name `test`, resource type `test_thing` (attributes `name` (force-new),
//! `value`, `secret` (sensitive), `fail` (create/update fail when true), `delay_ms`
//! (sleep before create), computed `id`) and data source `test_thing`. Objects live
//! in a shared map so tests can change or delete them "outside terrane" to simulate
//! drift, and can count the calls made.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use terrane_core::{Type, Value};

use crate::{AttrSchema, Provider, ProviderError, ProviderFactory, ProviderSchema, Result, Schema};

/// Objects and call counters shared between the test and the provider.
#[derive(Default)]
pub struct MemoryWorld {
    pub objects: Mutex<BTreeMap<String, Value>>,
    pub creates: AtomicU64,
    pub updates: AtomicU64,
    pub deletes: AtomicU64,
    /// Single-object reads, and batched reads (one per call, whatever its size).
    pub reads: AtomicU64,
    pub batch_reads: AtomicU64,
    /// Creates running right now, and the most ever running at once.
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    next_id: AtomicU64,
}

pub struct MemoryProviderFactory {
    pub world: Arc<MemoryWorld>,
    schema: ProviderSchema,
}

impl MemoryProviderFactory {
    pub fn new(world: Arc<MemoryWorld>) -> MemoryProviderFactory {
        let thing = Schema::new()
            .attr("id", AttrSchema::computed(Type::String))
            .attr("name", AttrSchema::required(Type::String).force_new())
            .attr("value", AttrSchema::optional(Type::String))
            .attr("secret", AttrSchema::optional(Type::String).sensitive())
            .attr("fail", AttrSchema::optional(Type::Bool))
            .attr("delay_ms", AttrSchema::optional(Type::Number));
        let data = Schema::new()
            .attr("name", AttrSchema::required(Type::String))
            .attr("value", AttrSchema::computed(Type::String));
        let mut schema = ProviderSchema::default();
        schema.resources.insert("test_thing".into(), thing);
        schema.data_sources.insert("test_thing".into(), data);
        MemoryProviderFactory { world, schema }
    }
}

impl ProviderFactory for MemoryProviderFactory {
    fn name(&self) -> &str {
        "test"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure(&self, _config: &Value) -> Result<Arc<dyn Provider>> {
        Ok(Arc::new(MemoryProvider {
            world: self.world.clone(),
        }))
    }
}

struct MemoryProvider {
    world: Arc<MemoryWorld>,
}

fn id_of(v: &Value) -> Result<String> {
    v.get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ProviderError::internal("state has no id"))
}

#[async_trait]
impl Provider for MemoryProvider {
    async fn create(&self, _type_name: &str, planned: Value) -> Result<Value> {
        let now = self.world.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.world.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(ms) = planned.get("delay_ms").and_then(Value::as_f64) {
            tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        }
        self.world.in_flight.fetch_sub(1, Ordering::SeqCst);
        if planned.get("fail").and_then(Value::as_bool) == Some(true) {
            return Err(ProviderError::api("the test provider was asked to fail"));
        }
        let n = self.world.next_id.fetch_add(1, Ordering::SeqCst);
        let id = format!("thing-{n}");
        let mut m = planned.as_map().cloned().unwrap_or_default();
        m.insert("id".into(), Value::String(id.clone()));
        let v = Value::Map(m);
        self.world
            .objects
            .lock()
            .map_err(|_| ProviderError::internal("poisoned"))?
            .insert(id, v.clone());
        self.world.creates.fetch_add(1, Ordering::SeqCst);
        Ok(v)
    }

    async fn read(&self, _type_name: &str, state: Value) -> Result<Option<Value>> {
        self.world.reads.fetch_add(1, Ordering::SeqCst);
        let id = id_of(&state)?;
        Ok(self
            .world
            .objects
            .lock()
            .map_err(|_| ProviderError::internal("poisoned"))?
            .get(&id)
            .cloned())
    }

    async fn read_batch(
        &self,
        _type_name: &str,
        states: Vec<Value>,
    ) -> Option<Result<Vec<Option<Value>>>> {
        self.world.batch_reads.fetch_add(1, Ordering::SeqCst);
        let objects = match self.world.objects.lock() {
            Ok(o) => o,
            Err(_) => return Some(Err(ProviderError::internal("poisoned"))),
        };
        Some(
            states
                .iter()
                .map(|s| Ok(objects.get(&id_of(s)?).cloned()))
                .collect(),
        )
    }

    async fn update(&self, _type_name: &str, prior: Value, planned: Value) -> Result<Value> {
        if planned.get("fail").and_then(Value::as_bool) == Some(true) {
            return Err(ProviderError::api("the test provider was asked to fail"));
        }
        let id = id_of(&prior)?;
        let mut m = planned.as_map().cloned().unwrap_or_default();
        m.insert("id".into(), Value::String(id.clone()));
        let v = Value::Map(m);
        self.world
            .objects
            .lock()
            .map_err(|_| ProviderError::internal("poisoned"))?
            .insert(id, v.clone());
        self.world.updates.fetch_add(1, Ordering::SeqCst);
        Ok(v)
    }

    async fn delete(&self, _type_name: &str, state: Value) -> Result<()> {
        let id = id_of(&state)?;
        self.world
            .objects
            .lock()
            .map_err(|_| ProviderError::internal("poisoned"))?
            .remove(&id);
        self.world.deletes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn import(&self, _type_name: &str, id: &str) -> Result<Value> {
        self.world
            .objects
            .lock()
            .map_err(|_| ProviderError::internal("poisoned"))?
            .get(id)
            .cloned()
            .ok_or_else(|| ProviderError::not_found(format!("no test_thing with id {id:?}")))
    }

    async fn read_data(&self, _type_name: &str, config: Value) -> Result<Value> {
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Value::map([
            ("name", Value::String(name.clone())),
            ("value", Value::String(format!("data-{name}"))),
        ]))
    }
}
