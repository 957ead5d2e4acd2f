//! A working directory: its configuration, variables, state backend and lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::Digest;
use terrane_core::{Diagnostic, Diagnostics, SourceMap, Value};
use terrane_engine::RawVar;
use terrane_lang::ast::Converter;
use terrane_lang::eval::eval_constant;
use terrane_lang::Module;
use terrane_provider::Registry;
use terrane_state::lock::{LockInfo, RENEW_EVERY_SECS};
use terrane_state::{Backend, BackendSpec, StateError};

use crate::VarArgs;

pub struct Workspace {
    pub dir: PathBuf,
    pub sources: SourceMap,
    pub module: Module,
    pub registry: Registry,
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
/// providers of `settings` (see [`crate::secret_cmd::key_providers`]).
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
            crate::secret_cmd::key_providers(&dir, settings.as_ref(), true)
        })),
    }
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
    const SNAPSHOT: &str = include_str!("../../../providers/aws/schema.json");
    let schema = serde_json::from_str(SNAPSHOT)
        .map_err(|e| e.to_string())
        .and_then(|j| terrane_provider::snapshot::from_json(&j))
        .unwrap_or_else(|e| panic!("the AWS schema snapshot built into terrane is damaged: {e}"));
    terrane_provider::snapshot::SchemaOnly::new(
        "aws",
        schema,
        "this terrane was built without the AWS provider (the `aws` feature), so it can validate, scan and price AWS configurations but not plan or apply them against AWS. Build the full binary with: cargo build --release -p terrane-cli".into(),
    )
}

impl Workspace {
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
        let (module, diags) = terrane_lang::load_root(dir, &mut sources);
        let mut ws = Workspace {
            dir: dir.to_path_buf(),
            sources,
            module,
            registry: registry(dir),
        };
        // Provider `terrane` reads the secret store of this workspace's state.
        let (spec, settings, root) = (
            ws.backend_spec(),
            ws.module.terraform.encryption.clone(),
            ws.dir.clone(),
        );
        ws.registry
            .register(Arc::new(crate::secret_cmd::TerraneFactory::new(
                move || open_encrypted(&spec.clone().map_err(|d| d.detail)?, &root, &settings),
            )));
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
        let default = BackendSpec::Sqlite {
            path: self.dir.join(".terrane").join("state.db"),
        };
        let Some(b) = &self.module.terraform.backend else {
            return Ok(default);
        };
        let attr = |name: &str| -> Result<Option<String>, Diagnostic> {
            match b.body.attrs.get(name) {
                None => Ok(None),
                Some(a) => match eval_constant(&a.expr) {
                    Ok(Value::String(s)) => Ok(Some(s)),
                    _ => Err(Diagnostic::error(
                        "Invalid backend setting",
                        format!("The backend setting {name:?} must be a literal string (backend settings are read before variables exist)."),
                    )
                    .with_span(Some(a.expr.span.clone()))),
                },
            }
        };
        let allowed: &[&str] = match b.kind.as_str() {
            "sqlite" | "local" => &["path"],
            "pg" => &["conn_str", "workspace"],
            "s3" => &["bucket", "key", "region", "endpoint"],
            other => {
                return Err(Diagnostic::error(
                    "Unsupported backend",
                    format!("The backend {other:?} does not exist. Available backends: sqlite (the default, also accepted as \"local\"), pg (PostgreSQL) and s3 (any S3-compatible object store)."),
                )
                .with_span(Some(b.span.clone())))
            }
        };
        if let Some((name, a)) = b
            .body
            .attrs
            .iter()
            .find(|(n, _)| !allowed.contains(&n.as_str()))
        {
            return Err(Diagnostic::error(
                "Unsupported backend setting",
                format!(
                    "The {} backend has no setting {name:?}. Its settings are: {}.",
                    b.kind,
                    allowed.join(", ")
                ),
            )
            .with_span(Some(a.expr.span.clone())));
        }
        let required = |name: &str, v: Option<String>| {
            v.ok_or_else(|| {
                Diagnostic::error(
                    "Missing backend setting",
                    format!("The {} backend needs {name:?}.", b.kind),
                )
                .with_span(Some(b.span.clone()))
            })
        };
        match b.kind.as_str() {
            "pg" => {
                let conn_str = match attr("conn_str")? {
                    Some(c) => c,
                    None => std::env::var("TERRANE_PG_CONN_STR").ok().filter(|s| !s.is_empty()).ok_or_else(|| {
                        Diagnostic::error(
                            "Missing backend setting",
                            "The pg backend needs a connection string: set conn_str in the backend block, or the TERRANE_PG_CONN_STR environment variable (which keeps the password out of the configuration).",
                        )
                        .with_span(Some(b.span.clone()))
                    })?,
                };
                Ok(BackendSpec::Pg {
                    conn_str,
                    workspace: attr("workspace")?.unwrap_or_else(|| "default".into()),
                })
            }
            "s3" => Ok(BackendSpec::S3 {
                bucket: required("bucket", attr("bucket")?)?,
                key: required("key", attr("key")?)?,
                region: attr("region")?.unwrap_or_else(|| "us-east-1".into()),
                endpoint: attr("endpoint")?,
            }),
            _ => match attr("path")? {
                None => Ok(default),
                Some(p) => {
                    let p = PathBuf::from(p);
                    Ok(BackendSpec::Sqlite {
                        path: if p.is_absolute() { p } else { self.dir.join(p) },
                    })
                }
            },
        }
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

    /// Collects root variable values with Terraform's precedence (later wins):
    /// TERRANE_VAR_*, terraform.tfvars, *.auto.tfvars, then --var/--var-file in order.
    pub fn variables(&mut self, args: &VarArgs) -> Result<BTreeMap<String, RawVar>, Diagnostics> {
        let mut out = BTreeMap::new();
        let mut diags = Diagnostics::new();
        for (k, v) in std::env::vars() {
            if let Some(name) = k.strip_prefix("TERRANE_VAR_") {
                if self.module.variables.contains_key(name) {
                    out.insert(name.to_string(), RawVar::Text(v));
                }
            }
        }
        let mut files = Vec::new();
        let default = self.dir.join("terraform.tfvars");
        if default.is_file() {
            files.push(default);
        }
        let mut auto: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().ends_with(".auto.tfvars"))
                    .collect()
            })
            .unwrap_or_default();
        auto.sort();
        files.extend(auto);
        for f in files {
            self.read_tfvars(&f, &mut out, &mut diags, false);
        }
        // Command-line flags: files first, then --var (clap does not keep their interleaving).
        for f in &args.var_files {
            let p = if f.is_absolute() {
                f.clone()
            } else {
                self.dir.join(f)
            };
            self.read_tfvars(&p, &mut out, &mut diags, true);
        }
        for v in &args.vars {
            match v.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    if !self.module.variables.contains_key(name) {
                        diags.push(Diagnostic::error(
                            "Value for undeclared variable",
                            format!(
                                "A variable named {name:?} was assigned on the command line, but the root module does not declare a variable of that name. Declare it with a variable \"{name}\" {{}} block, or remove --var {name}=...{}",
                                terrane_lang::eval::suggest(name, self.module.variables.keys())
                            ),
                        ));
                        continue;
                    }
                    out.insert(name.to_string(), RawVar::Text(value.to_string()));
                }
                _ => diags.push(Diagnostic::error(
                    "Invalid --var option",
                    format!("The option --var {v:?} is not of the form NAME=VALUE."),
                )),
            }
        }
        if diags.has_errors() {
            Err(diags)
        } else {
            for d in diags.iter() {
                eprint!("{}", d.render(&self.sources, false));
            }
            Ok(out)
        }
    }

    fn read_tfvars(
        &mut self,
        path: &Path,
        out: &mut BTreeMap<String, RawVar>,
        diags: &mut Diagnostics,
        explicit: bool,
    ) {
        let name: Arc<str> = Arc::from(
            path.strip_prefix(&self.dir)
                .unwrap_or(path)
                .to_string_lossy()
                .as_ref(),
        );
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Cannot read variables file",
                    format!("Reading {}: {e}.", path.display()),
                ));
                return;
            }
        };
        self.sources.insert(name.clone(), Arc::from(text.as_str()));
        let body = match hcl_edit::parser::parse_body(&text) {
            Ok(b) => b,
            Err(e) => {
                diags.push(terrane_lang::config::parse_error_diag(&name, &text, &e));
                return;
            }
        };
        let cv = Converter {
            file: name.clone(),
            base: 0,
            renamed_keys: Default::default(),
        };
        for st in body.iter() {
            let hcl_edit::structure::Structure::Attribute(a) = st else {
                diags.push(Diagnostic::error(
                    "Unexpected block in variables file",
                    format!("{} may only contain NAME = VALUE assignments.", name),
                ));
                continue;
            };
            let key = a.key.value().to_string();
            let expr = cv.expr(&a.value);
            if !self.module.variables.contains_key(&key) {
                let d = Diagnostic::warning(
                    "Value for undeclared variable",
                    format!("The file assigns {key:?}, but the root module declares no such variable; the value is ignored."),
                )
                .with_span(Some(expr.span.clone()));
                if explicit {
                    diags.push(d);
                }
                continue;
            }
            match eval_constant(&expr) {
                Ok(v) => {
                    out.insert(key, RawVar::Value(v));
                }
                Err(d) => diags.push(d),
            }
        }
    }
}

/// Holds the state lock and renews its lease in the background until dropped.
pub struct LockGuard {
    stop: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

impl LockGuard {
    pub fn acquire(backend: &mut dyn Backend, operation: &str) -> Result<LockGuard, StateError> {
        let id = uuid::Uuid::new_v4().to_string();
        let info = LockInfo::for_current_process(operation, id.clone());
        backend.lock(&info)?;
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
                    eprintln!("Warning: could not release the state lock {id}: {e}. Release it with: terrane force-unlock {id}");
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
