//! Plan, apply and import on a workspace, and saved plans: the steps every command that
//! plans or changes state shares (variables, targets, the state lock, the model, the
//! engine call), with typed errors.
//!
//! Warnings (a deprecated argument, an undeclared variable in a `--var-file`) are
//! handed to the caller's [`Warn`] as soon as they are found, with the sources to
//! render them against; errors come back as [`OpError`].

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use terrane_core::{Diagnostic, Diagnostics, InstanceAddr, SourceMap, Value};
use terrane_engine::model::{self, Model};
use terrane_engine::planfile::{self, StalePlan};
use terrane_engine::{ApplyOutcome, ImportError, Observer, Plan, PlanOptions, RawVar};
use terrane_lang::vars::VarInputs;
use terrane_state::{Backend, Change, InstanceState, SerialStatus, Snapshot};

use crate::{LockGuard, Workspace};

/// Receives warnings as they are found, with the sources they point into.
pub type Warn<'a> = &'a dyn Fn(&Diagnostics, &SourceMap);

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Mistakes in the configuration, variables or arguments, to render against the
    /// workspace's sources.
    #[error("the configuration or the values given have errors")]
    Diagnostics(Diagnostics),
    /// A provider the configuration uses is only a schema in this build.
    #[error("{0}")]
    SchemaOnly(String),
    #[error(transparent)]
    Stale(Box<StalePlan>),
    #[error(transparent)]
    Import(Box<ImportError>),
    #[error(transparent)]
    State(#[from] terrane_state::StateError),
    /// Anything else, in a sentence.
    #[error("{0}")]
    Failed(String),
}

impl From<StalePlan> for OpError {
    fn from(e: StalePlan) -> OpError {
        OpError::Stale(Box::new(e))
    }
}

impl From<ImportError> for OpError {
    fn from(e: ImportError) -> OpError {
        OpError::Import(Box::new(e))
    }
}

/// What to plan: the flags of `terrane plan`, `apply` and `destroy`.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    pub vars: VarInputs,
    pub targets: Vec<String>,
    /// Instances to replace (`-replace=ADDRESS`).
    pub replace: Vec<String>,
    pub refresh_only: bool,
    pub refresh: bool,
    pub destroy: bool,
    pub parallelism: usize,
    /// `-generate-config-out=FILE`: configuration for undeclared `import` targets.
    pub generate_config_out: Option<PathBuf>,
}

/// Parses `-target` addresses; every bad one is a diagnostic.
pub fn parse_targets(targets: &[String]) -> Result<Vec<InstanceAddr>, Diagnostics> {
    let mut out = Vec::new();
    let mut diags = Diagnostics::new();
    for t in targets {
        match InstanceAddr::parse(t) {
            Ok(a) => out.push(a),
            Err(e) => diags.push(Diagnostic::error("Invalid target address", format!("{e}. A target looks like aws_instance.web, module.net.aws_subnet.a[0] or local_file.f[\"key\"]."))),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// The workspace's graph, with its static checks.
pub fn build_model<'w>(ws: &'w Workspace, warn: Warn<'_>) -> Result<Model<'w>, OpError> {
    let (mut m, diags) = model::build(&ws.module, &ws.registry);
    m.workspace = ws.name.clone();
    if diags.has_errors() {
        return Err(OpError::Diagnostics(diags));
    }
    if !diags.is_empty() {
        warn(&diags, &ws.sources);
    }
    Ok(m)
}

/// The root variables' values (see [`Workspace::variables`]), warnings to `warn`.
pub fn variables(
    ws: &mut Workspace,
    inputs: &VarInputs,
    warn: Warn<'_>,
) -> Result<std::collections::BTreeMap<String, RawVar>, OpError> {
    let (vars, warnings) = ws.variables(inputs).map_err(OpError::Diagnostics)?;
    if !warnings.is_empty() {
        warn(&warnings, &ws.sources);
    }
    Ok(vars)
}

/// Plans the workspace against `prior` (read by the caller, usually under the lock).
pub async fn plan(
    ws: &mut Workspace,
    req: &PlanRequest,
    prior: &Snapshot,
    observer: &dyn Observer,
    cancel: &AtomicBool,
    warn: Warn<'_>,
) -> Result<Plan, OpError> {
    if let Some(file) = &req.generate_config_out {
        generate_config(ws, file, &req.vars, observer, warn).await?;
    }
    // Taken before the variable files are read into the sources: the digest covers the
    // configuration alone, as a saved plan is checked against it (`terraform.tfvars`
    // included it before, and no saved plan applied beside one).
    let digest = ws.config_digest();
    if prior.serial == 0 {
        if let Some(why) = crate::takeover::unmigrated_state(ws) {
            return Err(OpError::Failed(why));
        }
    }
    let vars = variables(ws, &req.vars, warn)?;
    let targets = parse_targets(&req.targets).map_err(OpError::Diagnostics)?;
    let started = std::time::Instant::now();
    let ws: &Workspace = ws;
    let model = build_model(ws, warn)?;
    if let Some(why) = ws.schema_only_provider() {
        return Err(OpError::SchemaOnly(why));
    }
    let opts = PlanOptions {
        destroy: req.destroy,
        refresh: req.refresh,
        targets,
        parallelism: req.parallelism.max(1),
        offline: false,
        replace: parse_targets(&req.replace).map_err(OpError::Diagnostics)?,
        refresh_only: req.refresh_only,
    };
    let mut plan = terrane_engine::plan(
        &model,
        &ws.registry,
        &ws.dir,
        prior,
        &vars,
        &opts,
        observer,
        cancel,
    )
    .await
    .map_err(OpError::Diagnostics)?;
    plan.config_digest = digest;
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        changes = plan.changes.len(),
        "plan made"
    );
    Ok(plan)
}

/// Plans the configuration without state, credentials or reads (for `terrane scan`
/// and for assessing a configuration whose provider is only a schema here): every
/// resource is a create, data sources and variables without a value are unknown.
pub async fn offline_plan(
    ws: &mut Workspace,
    vars: &VarInputs,
    observer: &dyn Observer,
    warn: Warn<'_>,
) -> Result<Plan, OpError> {
    let mut values = variables(ws, vars, warn)?;
    for v in ws.module.variables.values() {
        if v.default.is_none() && !values.contains_key(&v.name) {
            values.insert(v.name.clone(), RawVar::Value(Value::Unknown));
        }
    }
    let ws: &Workspace = ws;
    let model = build_model(ws, warn)?;
    let opts = PlanOptions {
        parallelism: 10,
        offline: true,
        ..PlanOptions::default()
    };
    let cancel = AtomicBool::new(false);
    terrane_engine::plan(
        &model,
        &ws.registry,
        &ws.dir,
        &Snapshot::default(),
        &values,
        &opts,
        observer,
        &cancel,
    )
    .await
    .map_err(OpError::Diagnostics)
}

/// The plan of the configuration against the current state, for commands that assess
/// a plan without applying it (`cost`, `policy check`). A configuration whose provider
/// is only a schema here is planned offline (every resource a create), which is what
/// pricing and policy checks can still use.
pub async fn assessment_plan(
    ws: &mut Workspace,
    req: &PlanRequest,
    observer: &dyn Observer,
    warn: Warn<'_>,
) -> Result<Plan, OpError> {
    if ws.schema_only_provider().is_some() {
        tracing::warn!("This build has only the schema of a provider the configuration uses; the configuration is assessed as if nothing of it existed yet.");
        return offline_plan(ws, &req.vars, observer, warn).await;
    }
    let prior = read_existing(ws)?;
    let cancel = AtomicBool::new(false);
    plan(ws, req, &prior, observer, &cancel, warn).await
}

/// The current state, without taking the lock; an empty one when there is none yet
/// (a missing SQLite file is not created by reading it).
pub fn read_existing(ws: &Workspace) -> Result<Snapshot, OpError> {
    if !ws.state_may_exist().map_err(OpError::Failed)? {
        return Ok(Snapshot::default());
    }
    let backend = ws.open_backend().map_err(OpError::Failed)?;
    Ok(backend.read_current()?)
}

/// Checks that a saved plan applies to the state `prior` and to the workspace's
/// configuration as it is now.
pub fn check_saved_plan(ws: &Workspace, plan: &Plan, prior: &Snapshot) -> Result<(), OpError> {
    Ok(planfile::check_applicable(
        plan,
        prior,
        &ws.config_digest(),
    )?)
}

/// Reads and decodes a saved plan (a relative path is taken from `dir`), decrypting
/// its sensitive values with the key providers of `ws` (loaded from `dir` when not
/// given and the file is encrypted).
pub fn read_planfile(dir: &Path, ws: Option<&Workspace>, p: &Path) -> Result<Plan, String> {
    let p = dir.join(p);
    let shown = p.display().to_string();
    let text = std::fs::read_to_string(&p)
        .map_err(|e| format!("cannot read the plan file {shown}: {e}"))?;
    let Ok(mut j) = serde_json::from_str::<serde_json::Value>(&text) else {
        return planfile::decode(&text, &shown).map_err(|e| e.to_string());
    };
    if j.get("encryption").is_some() {
        let loaded;
        let ws = match ws {
            Some(ws) => ws,
            None => {
                loaded = Workspace::load(dir).0;
                &loaded
            }
        };
        crate::secrets::open_plan(dir, ws.module.terraform.encryption.as_ref(), &mut j, &shown)?;
    }
    planfile::decode_json(&j, &shown).map_err(|e| e.to_string())
}

/// Writes a plan file (mode 0600), its sensitive values encrypted with the
/// workspace's key provider; returns the path written.
pub fn write_planfile(ws: &Workspace, plan: &Plan, p: &Path) -> Result<std::path::PathBuf, String> {
    let path = ws.dir.join(p);
    let mut encoded = planfile::encode(plan);
    crate::secrets::seal_plan(
        &ws.dir,
        ws.module.terraform.encryption.as_ref(),
        &mut encoded,
    )
    .map_err(|e| format!("cannot encrypt the plan file: {e}"))?;
    let text = serde_json::to_string(&encoded).unwrap_or_default();
    terrane_secrets::write_private(&path, text.as_bytes())
        .map_err(|e| format!("cannot write the plan file {}: {e}", path.display()))?;
    Ok(path)
}

/// A saved plan's JSON document as `plan --json` prints it, with the `configuration`
/// section (tools that read saved plans connect resources through it) when the
/// configuration in `dir` is still the one the plan was made from; the flag says so.
pub fn saved_plan_json(dir: &Path, plan: &Plan) -> (serde_json::Value, bool) {
    let (ws, diags) = Workspace::load(dir);
    if diags.has_errors() || plan.config_digest != ws.config_digest() {
        (terrane_engine::json::plan_json(plan), false)
    } else {
        (crate::policy::document(plan, &ws), true)
    }
}

/// The workspace's state held for a change: its backend, the lock (held until this
/// is dropped, its lease renewed meanwhile) and the state as it was once locked.
pub struct Held {
    pub backend: Box<dyn Backend>,
    pub prior: Snapshot,
    _lock: LockGuard,
}

impl Held {
    /// Opens the workspace's backend and takes its lock for `operation` ("apply").
    pub fn lock(ws: &Workspace, operation: &str) -> Result<Held, OpError> {
        let mut backend = ws.open_backend().map_err(OpError::Failed)?;
        let lock = LockGuard::acquire(backend.as_mut(), operation)?;
        let prior = backend.read_current()?;
        Ok(Held {
            backend,
            prior,
            _lock: lock,
        })
    }
}

/// Applies `plan` to the held state: the model, then the engine's apply, which records
/// every completed change as it happens.
pub async fn apply(
    ws: &Workspace,
    plan: &Plan,
    held: &mut Held,
    parallelism: usize,
    observer: &dyn Observer,
    cancel: &AtomicBool,
    warn: Warn<'_>,
) -> Result<ApplyOutcome, OpError> {
    let model = build_model(ws, warn)?;
    Ok(terrane_engine::apply(
        &model,
        &ws.registry,
        &ws.dir,
        plan,
        held.backend.as_mut(),
        parallelism.max(1),
        observer,
        cancel,
    )
    .await)
}

/// `plan -generate-config-out=FILE`: for every root `import` block whose target the
/// configuration does not declare, reads the object through its provider and writes a
/// `resource` block for it to FILE, which must not exist yet; then reloads the
/// configuration, which now declares them. Nothing is written when nothing is missing;
/// FILE is removed again when an object cannot be read.
pub async fn generate_config(
    ws: &mut Workspace,
    file: &Path,
    vars: &VarInputs,
    observer: &dyn Observer,
    warn: Warn<'_>,
) -> Result<(), OpError> {
    let path = ws.dir.join(file);
    let mut targets = Vec::new();
    for b in &ws.module.imports {
        let Some(addr) =
            b.to.address_text()
                .and_then(|t| InstanceAddr::parse(&t).ok())
        else {
            continue;
        };
        let local = addr.resource.local_name();
        if !addr.resource.module.is_root() || ws.module.resources.contains_key(&local) {
            continue;
        }
        if b.for_each.is_some() || addr.key != terrane_core::InstanceKey::None {
            return Err(OpError::Failed(format!("{addr}: configuration cannot be generated for a resource with count or for_each; write its resource block first.")));
        }
        let id = b.id.as_literal_str().ok_or_else(|| {
            OpError::Failed(format!(
                "{addr}: generating configuration needs the import block's id written as a string."
            ))
        })?;
        targets.push((addr, id.to_string()));
    }
    if targets.is_empty() {
        return Ok(());
    }
    if path.exists() {
        return Err(OpError::Failed(format!("{} exists already: generated configuration is written to a new file. Remove it, or name another with -generate-config-out.", path.display())));
    }
    // Declared first with only their required arguments (null), so that the objects
    // can be read as those resources.
    let stub: String = targets
        .iter()
        .map(|(a, _)| {
            let type_name = &a.resource.type_name;
            let provider = terrane_lang::config::implied_provider(type_name);
            let required: String = ws
                .registry
                .get(&provider)
                .and_then(|f| f.schema().resources.get(type_name))
                .map(|s| s.attributes.iter().filter(|(_, x)| x.required))
                .into_iter()
                .flatten()
                .map(|(name, _)| format!("  {name} = null\n"))
                .collect();
            format!(
                "resource {type_name:?} {:?} {{\n{required}}}\n",
                a.resource.name
            )
        })
        .collect();
    let failed = |e: std::io::Error| OpError::Failed(format!("{}: {e}", path.display()));
    std::fs::write(&path, stub).map_err(failed)?;
    reload_config(ws);
    let text = generated_blocks(ws, &targets, vars, observer, warn).await;
    let text = match text {
        Ok(text) => text,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            reload_config(ws);
            return Err(e);
        }
    };
    std::fs::write(&path, format!("{}{text}", terrane_engine::generate::HEADER)).map_err(failed)?;
    reload_config(ws);
    observer.event(terrane_engine::Event::Warning(Diagnostic::warning(
        "Configuration generated",
        format!("terrane has written configuration for {} imported object(s) to {}. Review it and edit it as needed before adding it to version control.", targets.len(), file.display()),
    )));
    Ok(())
}

/// Reads each target's object and renders its `resource` block.
async fn generated_blocks(
    ws: &mut Workspace,
    targets: &[(InstanceAddr, String)],
    vars: &VarInputs,
    observer: &dyn Observer,
    warn: Warn<'_>,
) -> Result<String, OpError> {
    let root_vars = variables(ws, vars, warn)?;
    let ws: &Workspace = ws;
    let model = build_model(ws, warn)?;
    let mut text = String::new();
    for (addr, id) in targets {
        let inst = terrane_engine::import(
            &model,
            &ws.registry,
            &ws.dir,
            &Snapshot::default(),
            &root_vars,
            addr,
            id,
            observer,
        )
        .await?;
        let schema = ws
            .module
            .resources
            .get(&addr.resource.local_name())
            .and_then(|r| {
                let f = ws.registry.get(&r.provider_name())?;
                f.schema().resources.get(&r.type_name).cloned()
            });
        let schema = schema.ok_or_else(|| {
            OpError::Failed(format!(
                "{addr}: no provider serves {}",
                addr.resource.type_name
            ))
        })?;
        text.push('\n');
        text.push_str(&terrane_engine::generate::resource_block(
            &addr.resource.type_name,
            &addr.resource.name,
            id,
            &inst.value,
            &schema,
        ));
    }
    Ok(text)
}

/// Reads the configuration files again (the providers stay as they are).
fn reload_config(ws: &mut Workspace) {
    let mut sources = SourceMap::default();
    let (module, _) = terrane_lang::load_root(&ws.dir, &mut sources);
    ws.sources = sources;
    ws.module = module;
}

/// `terrane import`: under the state lock, reads the object `id` through the
/// provider of the declared resource instance `address` and records it in state as
/// a serial of its own.
pub async fn import(
    ws: &mut Workspace,
    address: &str,
    id: &str,
    vars: &VarInputs,
    observer: &dyn Observer,
    warn: Warn<'_>,
) -> Result<InstanceState, OpError> {
    let addr = InstanceAddr::parse(address).map_err(|e| OpError::Failed(e.to_string()))?;
    let root_vars = variables(ws, vars, warn)?;
    let mut held = Held::lock(ws, "import")?;
    let (backend, state) = (&mut held.backend, &held.prior);
    let ws: &Workspace = ws;
    let model = build_model(ws, warn)?;
    let inst = terrane_engine::import(
        &model,
        &ws.registry,
        &ws.dir,
        state,
        &root_vars,
        &addr,
        id,
        observer,
    )
    .await?;
    let serial = backend.begin("import")?;
    backend.write(serial, &[Change::Put(inst.clone())])?;
    backend.finish(serial, SerialStatus::Complete)?;
    Ok(inst)
}

/// `terrane force-unlock`: releases the lock `lock_id` whoever holds it; returns who
/// held it. A wrong ID says which lock is held, if any.
pub fn force_unlock(ws: &Workspace, lock_id: &str) -> Result<Option<String>, String> {
    let mut backend = ws.open_backend()?;
    let holder = backend.current_lock().ok().flatten();
    match backend.force_unlock(lock_id) {
        Ok(()) => Ok(holder.map(|h| h.describe())),
        Err(e) => Err(format!(
            "{e}.{}",
            match backend.current_lock().ok().flatten() {
                Some(h) => format!(" The current lock is {} held by {}.", h.id, h.describe()),
                None => " The state is not locked.".into(),
            }
        )),
    }
}

/// `terrane console`: builds the root module's scope from the configuration and the
/// state (nothing refreshed, planned or written), then evaluates `input` one expression
/// per line until its end or `exit`, writing each value as Terraform's console does to
/// `out` (after `prompt`, when there is one) and each mistake to `warn`. True when
/// every expression evaluated.
pub fn console(
    ws: &mut Workspace,
    inputs: &VarInputs,
    warn: Warn<'_>,
    (input, out, prompt): (
        impl std::io::BufRead,
        &mut impl std::io::Write,
        Option<&str>,
    ),
) -> Result<bool, OpError> {
    let vars = variables(ws, inputs, warn)?;
    let ws: &Workspace = ws;
    let prior = read_existing(ws)?;
    let model = build_model(ws, warn)?;
    let console =
        terrane_engine::console::Console::new(&model, &ws.registry, &ws.dir, &prior, &vars)
            .map_err(OpError::Diagnostics)?;
    let mut ok = true;
    let mut lines = input.lines();
    loop {
        if let Some(p) = prompt {
            let _ = write!(out, "{p}").and_then(|()| out.flush());
        }
        let Some(Ok(line)) = lines.next() else { break };
        match line.trim() {
            "" => continue,
            "exit" => break,
            text => match console.eval(text) {
                Ok(v) => {
                    if writeln!(out, "{}", terrane_engine::console::format(&v)).is_err() {
                        break;
                    }
                }
                Err(d) => {
                    ok = false;
                    warn(&terrane_core::Diagnostics(vec![d]), &ws.sources);
                }
            },
        }
    }
    Ok(ok)
}
