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
use terrane_state::sqlite::SqliteBackend;
use terrane_state::{Backend, StateError};

use crate::VarArgs;

pub struct Workspace {
    pub dir: PathBuf,
    pub sources: SourceMap,
    pub module: Module,
    pub registry: Registry,
}

/// Opens the state database at `path` with the encryption of the workspace in `dir`.
fn open_encrypted(
    path: &Path,
    dir: &Path,
    settings: &Option<terrane_lang::EncryptionSettings>,
) -> Result<SqliteBackend, String> {
    let mut b = SqliteBackend::open(path).map_err(|e| e.to_string())?;
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

pub fn registry() -> Registry {
    let mut r = Registry::default();
    terrane_provider_builtin::register_all(&mut r);
    #[cfg(feature = "aws")]
    r.register(std::sync::Arc::new(terrane_provider_aws::factory()));
    r
}

impl Workspace {
    /// Loads the configuration; diagnostics (possibly only warnings) are returned with it.
    pub fn load(dir: &Path) -> (Workspace, Diagnostics) {
        let mut sources = SourceMap::default();
        let (module, diags) = terrane_lang::load_root(dir, &mut sources);
        let mut ws = Workspace {
            dir: dir.to_path_buf(),
            sources,
            module,
            registry: registry(),
        };
        // Provider `terrane` reads the secret store of this workspace's state.
        let (path, settings, root) = (
            ws.state_path(),
            ws.module.terraform.encryption.clone(),
            ws.dir.clone(),
        );
        ws.registry
            .register(Arc::new(crate::secret_cmd::TerraneFactory::new(
                move || open_encrypted(&path.clone().map_err(|d| d.detail)?, &root, &settings),
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

    /// The state database path, from the backend block or the default.
    pub fn state_path(&self) -> Result<PathBuf, Diagnostic> {
        let default = self.dir.join(".terrane").join("state.db");
        let Some(b) = &self.module.terraform.backend else {
            return Ok(default);
        };
        match b.kind.as_str() {
            "sqlite" | "local" => {
                let path = match b.body.attrs.get("path") {
                    None => return Ok(default),
                    Some(a) => match eval_constant(&a.expr) {
                        Ok(Value::String(s)) => s,
                        _ => {
                            return Err(Diagnostic::error("Invalid backend path", "The backend path must be a literal string.").with_span(Some(a.expr.span.clone())))
                        }
                    },
                };
                let p = PathBuf::from(path);
                Ok(if p.is_absolute() { p } else { self.dir.join(p) })
            }
            other => Err(Diagnostic::error(
                "Unsupported backend",
                format!("The backend {other:?} is not available in this build. Available backends: sqlite (the default, also accepted as \"local\")."),
            )
            .with_span(Some(b.span.clone()))),
        }
    }

    /// Opens the state backend with the workspace's encryption: sensitive values (or
    /// every value) are encrypted on write and decrypted on read, with the data keys
    /// the state holds, unwrapped by the configured key provider on first use.
    pub fn open_backend(&self) -> Result<SqliteBackend, String> {
        let path = self.state_path().map_err(|d| d.detail)?;
        open_encrypted(&path, &self.dir, &self.module.terraform.encryption)
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
    path: PathBuf,
    id: String,
    stop: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

impl LockGuard {
    pub fn acquire(
        backend: &mut SqliteBackend,
        path: &Path,
        operation: &str,
    ) -> Result<LockGuard, StateError> {
        let id = uuid::Uuid::new_v4().to_string();
        let info = LockInfo::for_current_process(operation, id.clone());
        backend.lock(&info)?;
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = {
            let stop = stop.clone();
            let path = path.to_path_buf();
            let id = id.clone();
            std::thread::spawn(move || {
                let Ok(mut b) = SqliteBackend::open(&path) else {
                    return;
                };
                let mut waited = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                    waited += 200;
                    if waited >= RENEW_EVERY_SECS * 1000 {
                        waited = 0;
                        if let Err(e) = b.renew(&id) {
                            tracing::warn!(error = %e, "Could not renew the state lock lease.");
                        }
                    }
                }
            })
        };
        Ok(LockGuard {
            path: path.to_path_buf(),
            id,
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
        if let Ok(mut b) = SqliteBackend::open(&self.path) {
            if let Err(e) = b.unlock(&self.id) {
                eprintln!("Warning: could not release the state lock {}: {e}. Release it with: terrane force-unlock {}", self.id, self.id);
            }
        }
    }
}
