//! Providers `null` (`null_resource`), `terraform` (`terraform_data`) and `time`
//! (`time_sleep`): resources that exist only in state, used to order and trigger work.

use async_trait::async_trait;
use rand::Rng;
use terrane_core::{Type, Value};
use terrane_provider::schema::plan_by_schema;
use terrane_provider::{
    AttrSchema, Context, DataSource, Dispatch, PlannedChange, ProviderError, Resource, Result,
    Schema,
};

use crate::{parse_duration, set_attr, str_attr, SimpleFactory};

pub fn null_factory() -> SimpleFactory {
    SimpleFactory::new("null", || {
        Dispatch::new(()).resource("null_resource", NullResource)
    })
}

pub fn terraform_factory() -> SimpleFactory {
    terraform_factory_with(None)
}

/// Reads the state a `terraform_remote_state` names in a backend other than `local`:
/// given the backend, its `config` and the workspace, the state file's text and how to
/// name it, or `None` when the backend holds no state for that workspace.
pub type StateReader = std::sync::Arc<
    dyn Fn(&str, &Value, &str) -> std::result::Result<Option<(Vec<u8>, String)>, String>
        + Send
        + Sync,
>;

/// The `terraform` provider, its `terraform_remote_state` reading other backends
/// through `reader` (which state storage provides; providers do not reach it).
pub fn terraform_factory_with(reader: Option<StateReader>) -> SimpleFactory {
    SimpleFactory::new("terraform", move || {
        Dispatch::new(())
            .resource("terraform_data", TerraformData)
            .data_source(
                "terraform_remote_state",
                RemoteState {
                    reader: reader.clone(),
                },
            )
    })
}

pub fn time_factory() -> SimpleFactory {
    SimpleFactory::new("time", || {
        Dispatch::new(Sleeps::default()).resource("time_sleep", TimeSleep)
    })
}

/// Keeps the prior object's `id` on an in-place update: these resources are only state.
fn keep_id(prior: &Value, planned: Value) -> Value {
    let mut out = planned;
    if let Some(id) = prior.get("id") {
        set_attr(&mut out, "id", id.clone());
    }
    out
}

/// `null_resource`.
struct NullResource;

#[async_trait]
impl Resource<()> for NullResource {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr(
                "triggers",
                AttrSchema::optional(Type::Map(Box::new(Type::String))).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String))
    }

    async fn create(&self, _ctx: &(), planned: Value) -> Result<Value> {
        let mut out = planned;
        let n: u64 = rand::rng().random_range(1_000_000_000_000_000_000..u64::MAX);
        set_attr(&mut out, "id", Value::String(n.to_string()));
        Ok(out)
    }

    async fn read(&self, _ctx: &(), state: Value) -> Result<Option<Value>> {
        Ok(Some(state))
    }

    async fn update(&self, _ctx: &(), prior: Value, planned: Value) -> Result<Value> {
        Ok(keep_id(&prior, planned))
    }

    async fn delete(&self, _ctx: &(), _state: Value) -> Result<()> {
        Ok(())
    }

    async fn import(&self, _ctx: &(), id: &str) -> Result<Value> {
        Ok(Value::map([
            ("id", Value::from(id)),
            ("triggers", Value::Null),
        ]))
    }
}

/// `terraform_data`: `output` is `input`, known after apply when it changes.
struct TerraformData;

fn input_to_output(v: &mut Value) {
    let input = v.get("input").cloned().unwrap_or(Value::Null);
    set_attr(v, "output", input);
}

#[async_trait]
impl Resource<()> for TerraformData {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("input", AttrSchema::optional(Type::Any))
            .attr("output", AttrSchema::computed(Type::Any))
            .attr(
                "triggers_replace",
                AttrSchema::optional(Type::Any).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String))
    }

    fn plan(
        &self,
        _ctx: &(),
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let mut change = plan_by_schema(schema, prior, config);
        // As Terraform's: `output` is known after apply whenever the object is
        // created, replaced or its input changes (null stays null); otherwise it keeps
        // what state has.
        let input = config.get("input").cloned().unwrap_or(Value::Null);
        let recomputed = match prior {
            None => true,
            Some(p) => {
                !change.requires_replace.is_empty()
                    || !p.get("input").unwrap_or(&Value::Null).same_as(&input)
            }
        };
        if recomputed {
            let output = if input.is_null() {
                Value::Null
            } else {
                Value::Unknown
            };
            set_attr(&mut change.planned, "output", output);
        }
        Ok(change)
    }

    async fn create(&self, _ctx: &(), planned: Value) -> Result<Value> {
        let mut out = planned;
        set_attr(
            &mut out,
            "id",
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        input_to_output(&mut out);
        Ok(out)
    }

    async fn read(&self, _ctx: &(), state: Value) -> Result<Option<Value>> {
        Ok(Some(state))
    }

    async fn update(&self, _ctx: &(), prior: Value, planned: Value) -> Result<Value> {
        let mut out = keep_id(&prior, planned);
        input_to_output(&mut out);
        Ok(out)
    }

    async fn delete(&self, _ctx: &(), _state: Value) -> Result<()> {
        Ok(())
    }

    async fn import(&self, _ctx: &(), id: &str) -> Result<Value> {
        Ok(Value::map([
            ("id", Value::from(id)),
            ("input", Value::Null),
            ("output", Value::Null),
            ("triggers_replace", Value::Null),
        ]))
    }
}

/// `terraform_remote_state`: the root module outputs of another configuration's
/// state. Backend `local` reads a Terraform state file (`config.path`, default
/// `terraform.tfstate`; another workspace's under `config.workspace_dir`, default
/// `terraform.tfstate.d`). Sensitive outputs stay sensitive; `defaults` fills in outputs
/// the state lacks.
struct RemoteState {
    reader: Option<StateReader>,
}

#[async_trait]
impl DataSource<()> for RemoteState {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("backend", AttrSchema::required(Type::String))
            .attr("config", AttrSchema::optional(Type::Any))
            .attr("defaults", AttrSchema::optional(Type::Any))
            .attr("workspace", AttrSchema::optional(Type::String))
            .attr("outputs", AttrSchema::computed(Type::Any))
    }

    async fn read(&self, _ctx: &(), config: Value) -> Result<Value> {
        let backend = str_attr(&config, "backend").unwrap_or_default();
        let settings = config.get("config").cloned().unwrap_or(Value::Null);
        let setting = |name: &str| settings.get(name).and_then(Value::as_str);
        let workspace = str_attr(&config, "workspace").unwrap_or("default");
        // A `local` path that holds a terrane (SQLite) state is read as one.
        let sqlite = backend == "local"
            && std::fs::read(setting("path").unwrap_or("terraform.tfstate"))
                .is_ok_and(|b| b.starts_with(b"SQLite format 3\0"));
        let backend = if sqlite { "sqlite" } else { backend };
        if let (false, Some(read)) = (backend == "local", &self.reader) {
            let found = read(backend, &settings, workspace).map_err(ProviderError::api)?;
            let Some((text, shown)) = found else {
                return Err(ProviderError::api(format!(
                    "Unable to find remote state: no stored state was found for workspace {workspace:?} in the {backend} backend"
                )));
            };
            return outputs_of(config, &text, &shown);
        }
        if backend != "local" {
            return Err(ProviderError::config(format!(
                "terraform_remote_state reads backends \"local\", \"s3\", \"pg\", \"sqlite\" and \"terrane\"; backend {backend:?} is not supported. Copy the state to a file (`terraform state pull > F`) and read it with backend = \"local\", config = {{ path = \"F\" }}"
            )));
        }
        if let Value::Map(m) = &settings {
            if let Some(k) = m
                .keys()
                .find(|k| !["path", "workspace_dir"].contains(&k.as_str()))
            {
                return Err(ProviderError::config(format!(
                    "config: the local backend has no setting {k:?} (it takes path and workspace_dir)"
                )));
            }
        }
        let path = if workspace == "default" {
            std::path::PathBuf::from(setting("path").unwrap_or("terraform.tfstate"))
        } else {
            std::path::Path::new(setting("workspace_dir").unwrap_or("terraform.tfstate.d"))
                .join(workspace)
                .join("terraform.tfstate")
        };
        let shown = path.display().to_string();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProviderError::api(format!(
                    "Unable to find remote state: no stored state was found for workspace {workspace:?} in the local backend ({shown} does not exist)"
                )))
            }
            Err(e) => return Err(ProviderError::api(format!("reading {shown}: {e}"))),
        };
        outputs_of(config, &text, &shown)
    }
}

/// The data source's value: `config` with `outputs` from the state file `text`, over
/// the `defaults`.
fn outputs_of(config: Value, text: &[u8], shown: &str) -> Result<Value> {
    let state = terrane_core::tfstate::TfState::parse(text, shown)
        .map_err(|e| ProviderError::api(e.to_string()))?;
    let mut outputs = match config.get("defaults") {
        Some(Value::Map(d)) => d.clone(),
        _ => Default::default(),
    };
    outputs.extend(state.output_values());
    let mut out = config;
    set_attr(&mut out, "outputs", Value::Map(outputs));
    Ok(out)
}

/// The `time` provider's context: sleeps in progress, which a stop (Ctrl-C) ends.
#[derive(Default)]
struct Sleeps {
    /// Set by [`Context::stop`]: sleeps in progress end as interrupted.
    stopped: tokio::sync::watch::Sender<bool>,
}

impl Context for Sleeps {
    fn stop(&self) {
        self.stopped.send_replace(true);
    }
}

fn sleep_for(v: &Value, attr: &str) -> Result<()> {
    if let Some(d) = v.get(attr).and_then(Value::as_str) {
        parse_duration(d).map_err(|e| ProviderError::config(format!("{attr}: {e}")))?;
    }
    Ok(())
}

impl Sleeps {
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

/// `time_sleep`: waits `create_duration` when created and `destroy_duration` when
/// destroyed.
struct TimeSleep;

#[async_trait]
impl Resource<Sleeps> for TimeSleep {
    fn schema(&self) -> Schema {
        Schema::new()
            .attr("create_duration", AttrSchema::optional(Type::String))
            .attr("destroy_duration", AttrSchema::optional(Type::String))
            .attr(
                "triggers",
                AttrSchema::optional(Type::Map(Box::new(Type::String))).force_new(),
            )
            .attr("id", AttrSchema::computed(Type::String))
    }

    fn plan(
        &self,
        _ctx: &Sleeps,
        prior: Option<&Value>,
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let change = plan_by_schema(schema, prior, config);
        sleep_for(config, "create_duration")?;
        sleep_for(config, "destroy_duration")?;
        Ok(change)
    }

    async fn create(&self, ctx: &Sleeps, planned: Value) -> Result<Value> {
        ctx.sleep_attr(&planned, "create_duration").await?;
        let mut out = planned;
        set_attr(&mut out, "id", Value::String(timestamp()));
        Ok(out)
    }

    async fn read(&self, _ctx: &Sleeps, state: Value) -> Result<Option<Value>> {
        Ok(Some(state))
    }

    async fn update(&self, _ctx: &Sleeps, prior: Value, planned: Value) -> Result<Value> {
        Ok(keep_id(&prior, planned))
    }

    async fn delete(&self, ctx: &Sleeps, state: Value) -> Result<()> {
        ctx.sleep_attr(&state, "destroy_duration").await
    }

    async fn import(&self, _ctx: &Sleeps, _id: &str) -> Result<Value> {
        Err(ProviderError::config("time_sleep does not support import"))
    }
}
