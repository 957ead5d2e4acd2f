//! A plugin as a terrane provider: [`PluginFactory`] holds the plugin's schema, and
//! every provider configuration (aliases included) gets its own plugin process,
//! started at its first call and configured with ConfigureProvider.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use terrane_core::{Diagnostic, PathStep, Type, Value};
use terrane_provider::{
    Applied, ErrorDetail, MoveSource, PlannedChange, Provider, ProviderError, ProviderFactory,
    ProviderSchema, Result, Schema, Warnings,
};
use tokio::sync::OnceCell;

use crate::cty;
use crate::process::{Launch, Process, StartError};
use crate::proto::tfplugin6 as v6;
use crate::rpc::Rpc;
use crate::schema::PluginSchema;

pub use terrane_core::TERRAFORM_VERSION;

/// One installed plugin: how to start it and what it declares.
pub struct PluginFactory {
    name: String,
    /// The full source address it was installed from, when known.
    source: Option<String>,
    shared: Arc<Shared>,
}

struct Shared {
    launch: Launch,
    /// The provider protocol of the first process's handshake.
    protocol: u32,
    schema: PluginSchema,
    /// The process started to read the schema, kept for the first configuration.
    spare: Mutex<Option<Process>>,
    /// Every process started, to shut them down at the end.
    live: Mutex<Vec<Arc<Process>>>,
    /// The unconfigured process provider functions are called on, as Terraform calls
    /// them.
    functions: OnceCell<Conn>,
}

/// Why a plugin could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Protocol(String),
}

impl PluginFactory {
    /// Starts the plugin and reads its schema. `name` is the provider's local name
    /// (`aws`, `pyvider`): resource types are matched by it.
    pub async fn start(
        name: &str,
        launch: Launch,
    ) -> std::result::Result<PluginFactory, PluginError> {
        let process = Process::start(&launch).await?;
        let rpc = Rpc::new(process.channel.clone(), process.handshake.protocol);
        let response = rpc.get_schema().await.map_err(|s| {
            PluginError::Protocol(status_message(&process, "GetProviderSchema", &s))
        })?;
        if let Some(e) = errors(&response.diagnostics) {
            return Err(PluginError::Protocol(format!(
                "the plugin {} could not describe itself: {e}",
                launch.name
            )));
        }
        let schema = crate::schema::from_response(response).map_err(|e| {
            PluginError::Protocol(format!(
                "the plugin {} sent a schema terrane cannot read: {e}",
                launch.name
            ))
        })?;
        Ok(PluginFactory {
            name: name.to_string(),
            source: None,
            shared: Arc::new(Shared {
                protocol: process.handshake.protocol,
                launch,
                schema,
                spare: Mutex::new(Some(process)),
                live: Mutex::new(Vec::new()),
                functions: OnceCell::new(),
            }),
        })
    }

    /// The provider and version it serves, as messages name it
    /// (`local/pyvider 0.8.1`).
    pub fn describe(&self) -> &str {
        &self.shared.launch.name
    }

    pub fn plugin_schema(&self) -> &PluginSchema {
        &self.shared.schema
    }

    /// The provider protocol the plugin chose in its handshake (5 or 6).
    pub fn protocol(&self) -> u32 {
        self.shared.protocol
    }

    /// Kills every process of this plugin at once.
    pub fn kill(&self) {
        if let Some(p) = self
            .shared
            .spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            p.kill();
        }
        for p in std::mem::take(&mut *self.shared.live.lock().unwrap_or_else(|e| e.into_inner())) {
            p.kill();
        }
    }

    /// Asks every process of this plugin to exit, and kills those that do not.
    pub async fn shutdown(&self) {
        let spare = self
            .shared
            .spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(p) = spare {
            p.shutdown(Duration::from_secs(2)).await;
        }
        let live: Vec<Arc<Process>> =
            std::mem::take(&mut *self.shared.live.lock().unwrap_or_else(|e| e.into_inner()));
        for p in live {
            p.shutdown(Duration::from_secs(2)).await;
        }
    }
}

impl Shared {
    /// The spare process if it is still free, else a new one; either way recorded for
    /// shutdown.
    async fn process(&self) -> Result<Arc<Process>> {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).take();
        let process = match spare {
            Some(p) => p,
            None => Process::start(&self.launch)
                .await
                .map_err(|e| ProviderError::api(e.to_string()))?,
        };
        let process = Arc::new(process);
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(process.clone());
        Ok(process)
    }

    async fn call_function(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> std::result::Result<Value, String> {
        let def = self
            .schema
            .functions
            .get(name)
            .ok_or_else(|| format!("no function {name}"))?;
        let conn = self
            .functions
            .get_or_try_init(|| async {
                let process = self.process().await?;
                let rpc = Rpc::new(process.channel.clone(), process.handshake.protocol);
                Ok::<_, ProviderError>(Conn { process, rpc })
            })
            .await
            .map_err(|e| e.message)?;
        let ty_of = |bytes: &[u8]| -> std::result::Result<Type, String> {
            let json: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| format!("the function's type is not JSON: {e}"))?;
            terrane_core::types::type_from(&json)
        };
        let mut encoded = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let param = def
                .parameters
                .get(i)
                .or(def.variadic_parameter.as_ref())
                .ok_or_else(|| {
                    format!(
                        "it takes {} arguments, not {}",
                        def.parameters.len(),
                        args.len()
                    )
                })?;
            let ty = ty_of(&param.r#type)?;
            let bytes = cty::encode(a, &ty).map_err(|e| format!("argument {}: {e}", i + 1))?;
            encoded.push(v6::DynamicValue {
                msgpack: bytes,
                json: Vec::new(),
            });
        }
        let r: v6::call_function::Response = conn
            .rpc
            .call(
                "CallFunction",
                v6::call_function::Request {
                    name: name.into(),
                    arguments: encoded,
                },
            )
            .await
            .map_err(|s| status_message(&conn.process, "CallFunction", &s))?;
        if let Some(e) = r.error {
            return Err(match e.function_argument {
                Some(i) => format!("argument {}: {}", i + 1, e.text),
                None => e.text,
            });
        }
        let ret = def
            .r#return
            .as_ref()
            .map(|r| ty_of(&r.r#type))
            .transpose()?
            .unwrap_or(Type::Any);
        let v = r.result.unwrap_or_default();
        cty::decode(&v.msgpack, &ret).map_err(|e| e.to_string())
    }
}

impl PluginFactory {
    /// Records the source address the plugin was installed from
    /// (`registry.terraform.io/hashicorp/aws`).
    pub fn with_source(mut self, source: String) -> PluginFactory {
        self.source = Some(source);
        self
    }
}

impl ProviderFactory for PluginFactory {
    fn is_plugin(&self) -> bool {
        true
    }

    fn source(&self) -> String {
        self.source
            .clone()
            .unwrap_or_else(|| terrane_provider::default_source(&self.name))
    }

    fn call_function(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> Option<std::result::Result<Value, String>> {
        if !self.shared.schema.functions.contains_key(name) {
            return None;
        }
        // Evaluation is synchronous; the call runs on the runtime the plugin's
        // connection lives on, with this worker thread handed over meanwhile.
        let handle = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => h,
            _ => {
                return Some(Err(
                    "provider functions need terrane's multi-threaded runtime".into(),
                ))
            }
        };
        let shared = self.shared.clone();
        let name = name.to_string();
        Some(tokio::task::block_in_place(move || {
            handle.block_on(async move { shared.call_function(&name, args).await })
        }))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn schema(&self) -> &ProviderSchema {
        &self.shared.schema.schema
    }

    fn configure(&self, config: &Value) -> Result<Arc<dyn Provider>> {
        Ok(Arc::new(PluginProvider {
            shared: self.shared.clone(),
            config: config.unmark().0,
            conn: OnceCell::new(),
            warnings: Warnings::default(),
        }))
    }
}

/// One provider configuration, served by its own plugin process.
pub struct PluginProvider {
    shared: Arc<Shared>,
    config: Value,
    conn: OnceCell<Conn>,
    warnings: Warnings,
}

struct Conn {
    process: Arc<Process>,
    rpc: Rpc,
}

fn dv(bytes: Vec<u8>) -> Option<v6::DynamicValue> {
    Some(v6::DynamicValue {
        msgpack: bytes,
        json: Vec::new(),
    })
}

impl PluginProvider {
    async fn conn(&self) -> Result<&Conn> {
        self.conn
            .get_or_try_init(|| async {
                let spare = self
                    .shared
                    .spare
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                let fresh = spare.is_none();
                let process = match spare {
                    Some(p) => p,
                    None => Process::start(&self.shared.launch)
                        .await
                        .map_err(|e| ProviderError::api(e.to_string()))?,
                };
                let process = Arc::new(process);
                self.shared
                    .live
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(process.clone());
                let rpc = Rpc::new(process.channel.clone(), process.handshake.protocol);
                let ty = self.shared.schema.schema.provider.implied_type();
                let config = cty::encode(&self.config, &ty)
                    .map_err(|e| ProviderError::config(format!("provider configuration: {e}")))?;
                let conn = Conn { process, rpc };
                if fresh {
                    self.introduce(&conn).await?;
                }
                let v: v6::validate_provider_config::Response = self
                    .call(
                        &conn,
                        "ValidateProviderConfig",
                        v6::validate_provider_config::Request {
                            config: dv(config.clone()),
                        },
                    )
                    .await?;
                self.check(&v.diagnostics).map_err(|e| ProviderError {
                    kind: terrane_provider::ErrorKind::Config,
                    message: format!("the provider configuration is not valid: {}", e.message),
                    // Its paths are into the provider block, not the resource's.
                    diagnostics: Vec::new(),
                    ..e
                })?;
                let r: v6::configure_provider::Response = self
                    .call(
                        &conn,
                        "ConfigureProvider",
                        v6::configure_provider::Request {
                            terraform_version: TERRAFORM_VERSION.into(),
                            config: dv(config),
                            client_capabilities: Some(capabilities()),
                        },
                    )
                    .await?;
                self.check(&r.diagnostics).map_err(|e| {
                    ProviderError::config(format!("configuring the provider: {}", e.message))
                })?;
                Ok(conn)
            })
            .await
    }

    /// The first call on a process other than the one that read the schema: Terraform
    /// asks every new process for its schema, unless the plugin says it does not need
    /// that (`get_provider_schema_optional`); then the cheaper GetMetadata does.
    async fn introduce(&self, conn: &Conn) -> Result<()> {
        let optional = self
            .shared
            .schema
            .raw
            .server_capabilities
            .as_ref()
            .is_some_and(|c| c.get_provider_schema_optional);
        if !optional {
            let r = {
                let _busy = conn.process.busy();
                conn.rpc.get_schema().await
            };
            let r = r.map_err(|s| {
                ProviderError::api(status_message(&conn.process, "GetProviderSchema", &s))
            })?;
            return self.check(&r.diagnostics);
        }
        let r = {
            let _busy = conn.process.busy();
            conn.rpc
                .call::<_, v6::get_metadata::Response>("GetMetadata", v6::get_metadata::Request {})
                .await
        };
        match r {
            Ok(r) => self.check(&r.diagnostics),
            // Older plugins do not have GetMetadata; they answer every call anyway.
            Err(s) if s.code() == tonic::Code::Unimplemented => Ok(()),
            Err(s) => Err(ProviderError::api(status_message(
                &conn.process,
                "GetMetadata",
                &s,
            ))),
        }
    }

    async fn call<Req, Resp>(&self, conn: &Conn, method: &str, req: Req) -> Result<Resp>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let result = {
            let _busy = conn.process.busy();
            conn.rpc.call(method, req).await
        };
        match result {
            Ok(r) => Ok(r),
            Err(s) => {
                if s.code() == tonic::Code::Unavailable || s.code() == tonic::Code::Unknown {
                    // The connection broke: the process may be ending.
                    conn.process.settle().await;
                }
                Err(ProviderError::api(status_message(
                    &conn.process,
                    method,
                    &s,
                )))
            }
        }
    }

    /// Errors fail the call; warnings are kept for the engine.
    fn check(&self, diags: &[v6::Diagnostic]) -> Result<()> {
        for d in diags {
            if d.severity == v6::diagnostic::Severity::Warning as i32 {
                self.warnings.push(Diagnostic::warning(
                    d.summary.clone(),
                    describe(d)
                        .trim_start_matches(&d.summary)
                        .trim_start_matches(": ")
                        .to_string(),
                ));
            }
        }
        match errors(diags) {
            Some(e) => Err(ProviderError::api(e).with_diagnostics(error_details(diags))),
            None => Ok(()),
        }
    }

    fn resource_type(&self, type_name: &str) -> Result<Type> {
        self.shared
            .schema
            .schema
            .resources
            .get(type_name)
            .map(Schema::implied_type)
            .ok_or_else(|| {
                ProviderError::config(format!("the plugin has no resource type {type_name}"))
            })
    }

    fn encode(&self, value: Option<&Value>, ty: &Type) -> Result<Option<v6::DynamicValue>> {
        let v = value.cloned().unwrap_or(Value::Null);
        cty::encode(&v, ty)
            .map(dv)
            .map_err(|e| ProviderError::internal(format!("encoding a value for the plugin: {e}")))
    }

    fn decode(&self, value: Option<v6::DynamicValue>, ty: &Type) -> Result<Value> {
        let Some(value) = value else {
            return Ok(Value::Null);
        };
        if value.msgpack.is_empty() && !value.json.is_empty() {
            let json: serde_json::Value = serde_json::from_slice(&value.json)
                .map_err(|e| ProviderError::internal(format!("the plugin sent bad JSON: {e}")))?;
            return Ok(Value::from_json(&json));
        }
        cty::decode(&value.msgpack, ty).map_err(|e| {
            ProviderError::internal(format!("the plugin sent a value terrane cannot read: {e}"))
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn plan_once(
        &self,
        conn: &Conn,
        type_name: &str,
        ty: &Type,
        prior: Option<&Value>,
        prior_private: &[u8],
        config: &Value,
        schema: &Schema,
    ) -> Result<v6::plan_resource_change::Response> {
        let proposed = proposed_new(schema, prior, config);
        let r: v6::plan_resource_change::Response = self
            .call(
                conn,
                "PlanResourceChange",
                v6::plan_resource_change::Request {
                    type_name: type_name.into(),
                    prior_state: self.encode(prior, ty)?,
                    proposed_new_state: self.encode(Some(&proposed), ty)?,
                    config: self.encode(Some(config), ty)?,
                    prior_private: prior_private.to_vec(),
                    provider_meta: None,
                    client_capabilities: Some(capabilities()),
                    prior_identity: None,
                },
            )
            .await?;
        self.check(&r.diagnostics)?;
        Ok(r)
    }

    async fn apply_change(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        planned: Option<&Value>,
        config: Option<&Value>,
        private: &[u8],
    ) -> Result<Applied> {
        let conn = self.conn().await?;
        let ty = self.resource_type(type_name)?;
        let r: v6::apply_resource_change::Response = self
            .call(
                conn,
                "ApplyResourceChange",
                v6::apply_resource_change::Request {
                    type_name: type_name.into(),
                    prior_state: self.encode(prior, &ty)?,
                    planned_state: self.encode(planned, &ty)?,
                    config: self.encode(config, &ty)?,
                    planned_private: private.to_vec(),
                    provider_meta: None,
                    planned_identity: None,
                },
            )
            .await?;
        self.check(&r.diagnostics)?;
        Ok(Applied {
            value: self.decode(r.new_state, &ty)?,
            private: r.private,
        })
    }
}

fn capabilities() -> v6::ClientCapabilities {
    v6::ClientCapabilities {
        deferral_allowed: false,
        write_only_attributes_allowed: false,
    }
}

#[async_trait]
impl Provider for PluginProvider {
    async fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        prior_private: &[u8],
        config: &Value,
        schema: &Schema,
    ) -> Result<PlannedChange> {
        let conn = self.conn().await?;
        let ty = self.resource_type(type_name)?;
        let v: v6::validate_resource_config::Response = self
            .call(
                conn,
                "ValidateResourceConfig",
                v6::validate_resource_config::Request {
                    type_name: type_name.into(),
                    config: self.encode(Some(config), &ty)?,
                    client_capabilities: Some(capabilities()),
                },
            )
            .await?;
        self.check(&v.diagnostics).map_err(|e| ProviderError {
            kind: terrane_provider::ErrorKind::Config,
            ..e
        })?;
        let mut r = self
            .plan_once(conn, type_name, &ty, prior, prior_private, config, schema)
            .await?;
        let requires_replace: Vec<String> = r.requires_replace.iter().map(path_string).collect();
        if prior.is_some() && !requires_replace.is_empty() {
            // A replacement creates a new object: plan that create, as Terraform does.
            r = self
                .plan_once(conn, type_name, &ty, None, &[], config, schema)
                .await?;
        }
        Ok(PlannedChange {
            planned: self.decode(r.planned_state, &ty)?,
            requires_replace,
            private: r.planned_private,
            legacy_type_system: r.legacy_type_system,
        })
    }

    async fn apply(
        &self,
        type_name: &str,
        prior: Option<Value>,
        planned: Value,
        config: &Value,
        private: &[u8],
    ) -> Result<Applied> {
        self.apply_change(
            type_name,
            prior.as_ref(),
            Some(&planned),
            Some(config),
            private,
        )
        .await
    }

    /// A plugin applies only through [`Provider::apply`], which carries the
    /// configuration and private bytes ApplyResourceChange needs.
    async fn create(&self, type_name: &str, _planned: Value) -> Result<Value> {
        Err(ProviderError::internal(format!(
            "{type_name}: a plugin's objects are created through Provider::apply"
        )))
    }

    async fn update(&self, type_name: &str, _prior: Value, _planned: Value) -> Result<Value> {
        Err(ProviderError::internal(format!(
            "{type_name}: a plugin's objects are updated through Provider::apply"
        )))
    }

    async fn upgrade_state(
        &self,
        type_name: &str,
        value: Value,
        from_version: u64,
        _schema: &Schema,
    ) -> Result<Value> {
        let conn = self.conn().await?;
        let ty = self.resource_type(type_name)?;
        let json = value.unmark().0.to_json().to_string().into_bytes();
        let r: v6::upgrade_resource_state::Response = self
            .call(
                conn,
                "UpgradeResourceState",
                v6::upgrade_resource_state::Request {
                    type_name: type_name.into(),
                    version: i64::try_from(from_version).unwrap_or(0),
                    raw_state: Some(v6::RawState {
                        json,
                        flatmap: Default::default(),
                    }),
                },
            )
            .await?;
        self.check(&r.diagnostics)?;
        self.decode(r.upgraded_state, &ty)
    }

    async fn move_state(&self, source: MoveSource<'_>, type_name: &str) -> Result<Applied> {
        let conn = self.conn().await?;
        let ty = self.resource_type(type_name)?;
        let json = source.state.unmark().0.to_json().to_string().into_bytes();
        let r: v6::move_resource_state::Response = self
            .call(
                conn,
                "MoveResourceState",
                v6::move_resource_state::Request {
                    source_provider_address: source.provider.into(),
                    source_type_name: source.type_name.into(),
                    source_schema_version: i64::try_from(source.schema_version).unwrap_or(0),
                    source_state: Some(v6::RawState {
                        json,
                        flatmap: Default::default(),
                    }),
                    target_type_name: type_name.into(),
                    source_private: source.private.to_vec(),
                    source_identity: None,
                    source_identity_schema_version: 0,
                },
            )
            .await?;
        self.check(&r.diagnostics)?;
        Ok(Applied {
            value: self.decode(r.target_state, &ty)?,
            private: r.target_private,
        })
    }

    async fn delete(&self, type_name: &str, state: Value) -> Result<()> {
        self.delete_object(type_name, state, &[]).await
    }

    async fn delete_object(&self, type_name: &str, state: Value, private: &[u8]) -> Result<()> {
        self.apply_change(type_name, Some(&state), None, None, private)
            .await
            .map(|_| ())
    }

    async fn read(&self, type_name: &str, state: Value) -> Result<Option<Value>> {
        Ok(self
            .read_object(type_name, state, &[])
            .await?
            .map(|a| a.value))
    }

    async fn read_object(
        &self,
        type_name: &str,
        state: Value,
        private: &[u8],
    ) -> Result<Option<Applied>> {
        let conn = self.conn().await?;
        let ty = self.resource_type(type_name)?;
        let r: v6::read_resource::Response = self
            .call(
                conn,
                "ReadResource",
                v6::read_resource::Request {
                    type_name: type_name.into(),
                    current_state: self.encode(Some(&state), &ty)?,
                    private: private.to_vec(),
                    provider_meta: None,
                    client_capabilities: Some(capabilities()),
                    current_identity: None,
                },
            )
            .await?;
        self.check(&r.diagnostics)?;
        let v = self.decode(r.new_state, &ty)?;
        Ok((!v.is_null()).then_some(Applied {
            value: v,
            private: r.private,
        }))
    }

    async fn import(&self, type_name: &str, id: &str) -> Result<Value> {
        let conn = self.conn().await?;
        let r: v6::import_resource_state::Response = self
            .call(
                conn,
                "ImportResourceState",
                v6::import_resource_state::Request {
                    type_name: type_name.into(),
                    id: id.into(),
                    client_capabilities: Some(capabilities()),
                    identity: None,
                },
            )
            .await?;
        self.check(&r.diagnostics)?;
        let Some(first) = r.imported_resources.into_iter().next() else {
            return Err(ProviderError::not_found(format!(
                "the provider found no {type_name} with id {id:?}"
            )));
        };
        let ty = self.resource_type(&first.type_name)?;
        let state = self.decode(first.state, &ty)?;
        // Terraform reads an imported object before it records it.
        self.read(type_name, state)
            .await?
            .ok_or_else(|| ProviderError::not_found(format!("{type_name} {id:?} does not exist")))
    }

    async fn read_data(&self, type_name: &str, config: Value) -> Result<Value> {
        let conn = self.conn().await?;
        let ty = self
            .shared
            .schema
            .schema
            .data_sources
            .get(type_name)
            .map(Schema::implied_type)
            .ok_or_else(|| {
                ProviderError::config(format!("the plugin has no data source {type_name}"))
            })?;
        let v: v6::validate_data_resource_config::Response = self
            .call(
                conn,
                "ValidateDataResourceConfig",
                v6::validate_data_resource_config::Request {
                    type_name: type_name.into(),
                    config: self.encode(Some(&config), &ty)?,
                },
            )
            .await?;
        self.check(&v.diagnostics).map_err(|e| ProviderError {
            kind: terrane_provider::ErrorKind::Config,
            ..e
        })?;
        let r: v6::read_data_source::Response = self
            .call(
                conn,
                "ReadDataSource",
                v6::read_data_source::Request {
                    type_name: type_name.into(),
                    config: self.encode(Some(&config), &ty)?,
                    provider_meta: None,
                    client_capabilities: Some(capabilities()),
                },
            )
            .await?;
        self.check(&r.diagnostics)?;
        self.decode(r.state, &ty)
    }

    fn stop(&self) {
        let Some(conn) = self.conn.get() else {
            return;
        };
        let rpc = conn.rpc.clone();
        conn.process.kill_if_busy_after_stop();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = rpc
                    .call::<_, v6::stop_provider::Response>(
                        "StopProvider",
                        v6::stop_provider::Request {},
                    )
                    .await;
            });
        }
    }

    fn take_warnings(&self) -> Vec<Diagnostic> {
        self.warnings.take()
    }
}

/// Terraform's proposed new state: the configuration, with the prior value of every
/// computed attribute the configuration leaves null (`objchange.ProposedNew`).
pub fn proposed_new(schema: &Schema, prior: Option<&Value>, config: &Value) -> Value {
    let prior_map = prior.and_then(|p| p.as_map());
    let Some(cfg) = config.as_map() else {
        return config.clone();
    };
    let mut out = terrane_core::ObjectMap::new();
    for (name, attr) in &schema.attributes {
        let c = cfg.get(name).cloned().unwrap_or(Value::Null);
        let v = if c.is_null() && attr.computed {
            prior_map
                .and_then(|p| p.get(name))
                .cloned()
                .unwrap_or(Value::Null)
        } else {
            c
        };
        out.insert(name.clone(), v);
    }
    for (name, block) in &schema.blocks {
        let c = cfg.get(name).cloned().unwrap_or(Value::Null);
        let p = prior_map.and_then(|p| p.get(name));
        use terrane_provider::Nesting;
        let v = match (block.nesting, &c) {
            (Nesting::Single | Nesting::Group, Value::Map(_)) => proposed_new(&block.schema, p, &c),
            (Nesting::List, Value::List(items)) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let pi = p.and_then(|p| p.as_items()).and_then(|l| l.get(i));
                        proposed_new(&block.schema, pi, item)
                    })
                    .collect(),
            ),
            _ => c,
        };
        out.insert(name.clone(), v);
    }
    Value::Map(out)
}

/// `a.b[0]["k"]`, from an attribute path.
fn steps(p: &v6::AttributePath) -> Vec<PathStep> {
    use v6::attribute_path::step::Selector;
    p.steps
        .iter()
        .filter_map(|step| match &step.selector {
            Some(Selector::AttributeName(n)) => Some(PathStep::Attr(n.clone())),
            Some(Selector::ElementKeyString(k)) => Some(PathStep::Key(k.clone())),
            Some(Selector::ElementKeyInt(i)) => Some(PathStep::Index(*i)),
            None => None,
        })
        .collect()
}

fn path_string(p: &v6::AttributePath) -> String {
    PathStep::display(&steps(p))
}

/// The error diagnostics, each with the attribute it is about.
fn error_details(diags: &[v6::Diagnostic]) -> Vec<ErrorDetail> {
    diags
        .iter()
        .filter(|d| d.severity == v6::diagnostic::Severity::Error as i32)
        .map(|d| ErrorDetail {
            summary: d.summary.clone(),
            detail: d.detail.clone(),
            path: d.attribute.as_ref().map(steps).unwrap_or_default(),
        })
        .collect()
}

/// A diagnostic as one line: `summary: detail (at path)`.
fn describe(d: &v6::Diagnostic) -> String {
    let mut s = d.summary.clone();
    if !d.detail.is_empty() {
        s.push_str(": ");
        s.push_str(&d.detail);
    }
    if let Some(p) = d.attribute.as_ref().filter(|p| !p.steps.is_empty()) {
        s.push_str(&format!(" (at {})", path_string(p)));
    }
    s
}

/// The error diagnostics, joined, if any.
fn errors(diags: &[v6::Diagnostic]) -> Option<String> {
    let errs: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == v6::diagnostic::Severity::Error as i32)
        .map(describe)
        .collect();
    (!errs.is_empty()).then(|| errs.join("; "))
}

/// A failed call, with how the plugin ended if it did and what it last wrote.
fn status_message(process: &Process, method: &str, status: &tonic::Status) -> String {
    let ended = process.ending();
    format!(
        "the plugin {} failed the call {method}: {} ({:?}).{ended}{}",
        process.name,
        status.message(),
        status.code(),
        process.stderr.render()
    )
}
