//! terrane's operations on a workspace (a working directory: its configuration,
//! variables, state backend, lock and local files), as functions with typed results:
//! what OpenTofu calls the local backend's operations. The `terrane` binary parses
//! arguments, calls these, and owns the terminal: nothing here prints; warnings go
//! through `tracing`, and results come back as values and diagnostics.
//!
//! - [`Workspace`]: loading the configuration, the state backend with the workspace's
//!   encryption, variables, and [`LockGuard`] (the state lock with its lease renewed).
//! - [`ops`]: plan (online and offline), saved plans, import.
//! - [`policy`]: the policy and scan gate of every plan and apply; compliance.
//! - [`cost`]: pricing plans (once per plan), Terraform JSON plans, budgets.
//! - [`secrets`]: key providers, key rotation, plan encryption, provider `terrane`.
//! - [`backup`]: backups and restores; [`state_io`]: pull, push and migrate.
//! - [`agent`]: what the CLI asks of the workspace's agent around an apply.
//! - [`plugins`]: which implementation serves each provider; starting plugins.

pub mod agent;
pub mod backup;
pub mod cost;
pub mod fmt;
pub mod ops;
pub mod plugins;
pub mod policy;
pub mod secrets;
pub mod state_io;
pub mod takeover;
pub mod workspaces;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::Digest;
use terrane_core::{Diagnostic, Diagnostics, SourceMap};
use terrane_lang::vars::{RawVar, VarInputs};
use terrane_lang::Module;
use terrane_provider::Registry;
use terrane_state::lock::{LockInfo, RENEW_EVERY_SECS};
use terrane_state::{Backend, BackendSpec, StateError};

pub struct Workspace {
    pub dir: PathBuf,
    pub sources: SourceMap,
    pub module: Module,
    pub registry: Registry,
    /// The provider plugins started for this workspace ([`Workspace::start_plugins`]).
    pub plugins: plugins::Plugins,
    /// The selected workspace (Terraform's `terraform.workspace`; [`workspaces`]).
    pub name: String,
}

/// Opens the state backend `spec` with the encryption of the workspace in `dir`.
pub fn open_encrypted(
    spec: &BackendSpec,
    dir: &Path,
    settings: &Option<terrane_lang::EncryptionSettings>,
) -> Result<Box<dyn Backend>, String> {
    let mut b = spec.open().map_err(|e| e.to_string())?;
    let keys = b.keys().map_err(|e| e.to_string())?;
    b.set_encryption(Some(encryption(dir, settings.clone(), keys)));
    Ok(b)
}

/// A state encryption over `stored` data keys, unwrapped on first use by the key
/// providers of `settings` (see [`crate::secrets::key_providers`]).
fn encryption(
    dir: &Path,
    settings: Option<terrane_lang::EncryptionSettings>,
    stored: Vec<terrane_state::WrappedKey>,
) -> terrane_state::Encryption {
    let dir = dir.to_path_buf();
    terrane_state::Encryption {
        whole: settings.as_ref().is_some_and(|s| s.state == "all"),
        allow_unencrypted: settings.as_ref().is_some_and(|s| s.allow_unencrypted),
        vault: Arc::new(terrane_secrets::Vault::new(stored, move || {
            crate::secrets::key_providers(&dir, settings.as_ref(), true)
        })),
    }
}

/// Every module's `required_version` against the Terraform version terrane implements,
/// as Terraform checks its own version: a configuration that needs another refuses to
/// load.
fn check_required_version(module: &terrane_lang::Module) -> Diagnostics {
    use terrane_install::version::{Constraints, Version};
    let mut diags = Diagnostics::new();
    let ours = Version::parse(terrane_core::TERRAFORM_VERSION).expect("a valid version");
    let mut check = |m: &terrane_lang::Module| {
        let Some((given, span)) = &m.terraform.required_version else {
            return;
        };
        let d = match Constraints::parse(given) {
            Ok(c) if c.allows(&ours) => return,
            Ok(_) => Diagnostic::error(
                "Unsupported Terraform Core version",
                format!(
                    "This configuration requires Terraform {given}; terrane implements Terraform {} (its language, functions and provider protocols). Use a configuration that accepts that version, or change required_version.",
                    terrane_core::TERRAFORM_VERSION
                ),
            ),
            Err(e) => Diagnostic::error("Invalid required_version", e.to_string()),
        };
        diags.push(d.with_span(Some(span.clone())));
    };
    fn walk(m: &terrane_lang::Module, f: &mut dyn FnMut(&terrane_lang::Module)) {
        f(m);
        for c in m.module_calls.values() {
            walk(&c.module, f);
        }
    }
    walk(module, &mut check);
    diags
}

/// Every provider, for the workspace in `dir`.
pub fn registry(dir: &Path) -> Registry {
    let mut r = Registry::default();
    let local = terrane_provider_builtin::LocalHost {
        workspace: dir.to_path_buf(),
        // The agent is started as `terrane agent`, by this very program.
        program: std::env::current_exe().unwrap_or_else(|_| "terrane".into()),
    };
    terrane_provider_builtin::register_all(&mut r, local);
    r.register(std::sync::Arc::new(
        terrane_provider_builtin::misc::terraform_factory_with(Some(
            takeover::remote_state_reader(),
        )),
    ));
    #[cfg(feature = "aws")]
    r.register(std::sync::Arc::new(terrane_provider_aws::factory()));
    #[cfg(not(feature = "aws"))]
    r.register(std::sync::Arc::new(aws_schema_only()));
    r
}

/// Without the `aws` feature (no AWS SDK), the AWS provider's schema alone, from the
/// snapshot its tests keep current: configurations with `aws_` resources validate, scan
/// and price, and a plan against AWS is refused with how to build the full binary.
#[cfg(not(feature = "aws"))]
fn aws_schema_only() -> terrane_provider::snapshot::SchemaOnly {
    fn load() -> terrane_provider::ProviderSchema {
        const SNAPSHOT: &str = include_str!("../../../providers/aws/schema.json");
        serde_json::from_str(SNAPSHOT)
            .map_err(|e| e.to_string())
            .and_then(|j| terrane_provider::snapshot::from_json(&j))
            .unwrap_or_else(|e| {
                panic!("the AWS schema snapshot built into terrane is damaged: {e}")
            })
    }
    terrane_provider::snapshot::SchemaOnly::new(
        "aws",
        load,
        "this terrane was built without the AWS provider (the `aws` feature), so it can validate, scan and price AWS configurations but not plan or apply them against AWS. Build the full binary with: cargo build --release -p terrane-cli".into(),
    )
}

impl Workspace {
    /// Starts the provider plugins the configuration needs (see [`plugins`] for which
    /// providers are plugins) and registers them beside the native providers. A plugin
    /// that is not installed, or does not start, is an error here.
    pub async fn start_plugins(&mut self) -> Diagnostics {
        let (setup, mut diags) = plugins::Setup::load(self);
        let Some(setup) = setup else {
            return diags;
        };
        for need in setup.needs.values() {
            match setup.served(self, need) {
                plugins::Served::Native => {}
                plugins::Served::Missing(why) => diags.push(
                    Diagnostic::error("Provider plugin not available", why)
                        .with_span(need.span.clone()),
                ),
                plugins::Served::Plugin {
                    executable,
                    version,
                } => match plugins::start(need, &executable, version.as_deref()).await {
                    Ok(started) => {
                        for f in started {
                            self.registry.register(f.clone());
                            self.plugins.started.push(f);
                        }
                    }
                    Err(d) => diags.push(d),
                },
            }
        }
        diags
    }

    /// Why the configuration cannot be planned against its clouds: a provider that it
    /// or a module it calls uses is only a schema in this build.
    pub fn schema_only_provider(&self) -> Option<String> {
        fn names(m: &terrane_lang::Module, out: &mut std::collections::BTreeSet<String>) {
            out.extend(m.providers.iter().map(|p| p.name.clone()));
            out.extend(m.resources.values().map(|r| r.provider_name()));
            for call in m.module_calls.values() {
                names(&call.module, out);
            }
        }
        let mut used = std::collections::BTreeSet::new();
        names(&self.module, &mut used);
        used.iter().find_map(|n| {
            self.registry
                .get(n)
                .and_then(|f| f.schema_only())
                .map(str::to_string)
        })
    }

    /// Loads the configuration; diagnostics (possibly only warnings) are returned with it.
    pub fn load(dir: &Path) -> (Workspace, Diagnostics) {
        let mut sources = SourceMap::default();
        let (module, mut diags) = terrane_lang::load_root(dir, &mut sources);
        diags.extend(check_required_version(&module));
        let mut ws = Workspace {
            dir: dir.to_path_buf(),
            sources,
            module,
            registry: registry(dir),
            plugins: plugins::Plugins::default(),
            name: workspaces::current(dir),
        };
        // Provider `terrane` reads the secret store of this workspace's state.
        let (spec, settings, root) = (
            ws.backend_spec(),
            ws.module.terraform.encryption.clone(),
            ws.dir.clone(),
        );
        ws.registry
            .register(Arc::new(crate::secrets::TerraneFactory::new(move || {
                open_encrypted(&spec.clone().map_err(|d| d.detail)?, &root, &settings)
            })));
        (ws, diags)
    }

    /// SHA-256 over every configuration file, to detect changes between plan and apply.
    pub fn config_digest(&self) -> String {
        let mut h = sha2::Sha256::new();
        for (name, text) in self.sources.iter() {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Where the state lives: the `backend` block of the configuration, or the
    /// default SQLite file `.terrane/state.db`.
    pub fn backend_spec(&self) -> Result<BackendSpec, Diagnostic> {
        BackendSpec::from_block(self.module.terraform.backend.as_ref(), &self.dir)
            .map(|spec| spec.for_workspace(&self.name))
    }

    /// Opens the state backend with the workspace's encryption: sensitive values (or
    /// every value) are encrypted on write and decrypted on read, with the data keys
    /// the state holds, unwrapped by the configured key provider on first use.
    pub fn open_backend(&self) -> Result<Box<dyn Backend>, String> {
        let spec = self.backend_spec().map_err(|d| d.detail)?;
        self.open_spec(&spec)
    }

    /// Opens another backend (a migration target) with this workspace's encryption.
    pub fn open_spec(&self, spec: &BackendSpec) -> Result<Box<dyn Backend>, String> {
        open_encrypted(spec, &self.dir, &self.module.terraform.encryption)
    }

    /// The directory for this workspace's local files (audit log, agent files): beside
    /// a SQLite state, otherwise `.terrane/` in the working directory.
    pub fn local_dir(&self) -> PathBuf {
        match self.backend_spec() {
            Ok(BackendSpec::Sqlite { path }) => path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.dir.join(".terrane")),
            _ => self.dir.join(".terrane"),
        }
    }

    /// True when the state may exist (a missing SQLite file certainly holds none).
    pub fn state_may_exist(&self) -> Result<bool, String> {
        Ok(self.backend_spec().map_err(|d| d.detail)?.may_exist())
    }

    /// The encryption of this workspace's state over `stored` data keys.
    pub fn encryption(&self, stored: Vec<terrane_state::WrappedKey>) -> terrane_state::Encryption {
        encryption(&self.dir, self.module.terraform.encryption.clone(), stored)
    }

    /// Collects root variable values with Terraform's precedence (see
    /// [`terrane_lang::vars::collect`]); the variables files read join the sources.
    /// Returns the values and the warnings, or the errors.
    pub fn variables(
        &mut self,
        inputs: &VarInputs,
    ) -> Result<(BTreeMap<String, RawVar>, Diagnostics), Diagnostics> {
        terrane_lang::vars::collect(&self.dir, &self.module, &mut self.sources, inputs)
    }
}

/// How runs of this process take the state lock (Terraform's `-lock` and
/// `-lock-timeout`), set once by the CLI.
#[derive(Clone, Copy, Debug)]
pub struct LockSettings {
    /// False: run without the lock (`-lock=false`), for when it cannot be taken and
    /// no other run is going on.
    pub enabled: bool,
    /// How long to keep trying while another run holds the lock.
    pub timeout: Duration,
}

static LOCK_SETTINGS: std::sync::OnceLock<LockSettings> = std::sync::OnceLock::new();

/// Sets how this process takes the state lock (the first call wins).
pub fn set_lock_settings(s: LockSettings) {
    let _ = LOCK_SETTINGS.set(s);
}

/// Holds the state lock and renews its lease in the background until dropped.
pub struct LockGuard {
    stop: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

impl LockGuard {
    pub fn acquire(backend: &mut dyn Backend, operation: &str) -> Result<LockGuard, StateError> {
        let settings = LOCK_SETTINGS.get().copied().unwrap_or(LockSettings {
            enabled: true,
            timeout: Duration::ZERO,
        });
        if !settings.enabled {
            tracing::warn!("Running without the state lock (-lock=false).");
            return Ok(LockGuard {
                stop: Arc::new(AtomicBool::new(true)),
                renewer: None,
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        let info = LockInfo::for_current_process(operation, id.clone());
        // Another run's lock: try again every half second until the timeout.
        let started = std::time::Instant::now();
        loop {
            match backend.lock(&info) {
                Err(StateError::Locked { .. }) if started.elapsed() < settings.timeout => {
                    std::thread::sleep(Duration::from_millis(500).min(settings.timeout));
                }
                other => break other?,
            }
        }
        // A second handle renews the lease and, when the run ends, releases the lock.
        let mut handle = match backend.reopen() {
            Ok(h) => h,
            Err(e) => {
                let _ = backend.unlock(&id);
                return Err(e);
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut waited = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                    waited += 100;
                    if waited >= RENEW_EVERY_SECS * 1000 {
                        waited = 0;
                        if let Err(e) = handle.renew(&id) {
                            tracing::warn!(error = %e, "Could not renew the state lock lease.");
                        }
                    }
                }
                if let Err(e) = handle.unlock(&id) {
                    tracing::warn!("Could not release the state lock {id}: {e}. Release it with: terrane force-unlock {id}");
                }
            })
        };
        Ok(LockGuard {
            stop,
            renewer: Some(renewer),
        })
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.renewer.take() {
            let _ = h.join();
        }
    }
}
