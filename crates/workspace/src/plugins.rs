//! Which implementation serves each provider a configuration needs, and the plugins'
//! processes.
//!
//! The rule (docs/providers.md): a provider is served by a plugin when the CLI
//! configuration's `dev_overrides` names its source, or the dependency lock file
//! (`.terraform.lock.hcl`) does; otherwise by terrane's native provider of that name,
//! when there is one and the source is the default `hashicorp/NAME`; otherwise it
//! needs `terrane init`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use terrane_core::{Diagnostic, Diagnostics, Span};
use terrane_install::{CliConfig, Constraints, LockFile, ProviderSource};
use terrane_lang::Module;
use terrane_plugin::{Launch, PluginFactory};

/// One provider the configuration needs.
#[derive(Clone, Debug)]
pub struct Need {
    /// The local names modules call it by (`aws`, `pyvider`).
    pub local_names: Vec<String>,
    pub source: ProviderSource,
    /// Every module's constraints, merged.
    pub constraints: Constraints,
    /// Where the first module that names it does (for diagnostics).
    pub span: Option<Span>,
}

/// How a provider is served.
#[derive(Clone, Debug, PartialEq)]
pub enum Served {
    /// By terrane's own implementation.
    Native,
    /// By a plugin: its executable, and the version the lock file records (none for a
    /// development override).
    Plugin {
        executable: PathBuf,
        version: Option<String>,
    },
    /// By a plugin that is not installed: why.
    Missing(String),
}

/// Every provider the module tree needs, by source address: `required_providers`
/// entries, and the providers resources and `provider` blocks imply
/// (`hashicorp/NAME`). Sources that do not parse and constraints that do not parse are
/// errors at their entry.
pub fn needs(root: &Module) -> Result<BTreeMap<ProviderSource, Need>, Diagnostics> {
    let mut out: BTreeMap<ProviderSource, Need> = BTreeMap::new();
    let mut diags = Diagnostics::new();
    walk(root, &mut out, &mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

fn walk(m: &Module, out: &mut BTreeMap<ProviderSource, Need>, diags: &mut Diagnostics) {
    let mut add = |local: &str, source: ProviderSource, c: Constraints, span: Option<Span>| {
        let need = out.entry(source.clone()).or_insert_with(|| Need {
            local_names: Vec::new(),
            source,
            constraints: Constraints::none(),
            span: span.clone(),
        });
        if !need.local_names.iter().any(|n| n == local) {
            need.local_names.push(local.to_string());
        }
        need.constraints.extend(&c);
    };
    for (local, r) in &m.terraform.required_providers {
        let source = match &r.source {
            Some(s) => ProviderSource::parse(s),
            None => ProviderSource::implied(local),
        };
        let source = match source {
            Ok(s) => s,
            Err(e) => {
                diags.push(
                    Diagnostic::error("Invalid provider source address", e.to_string())
                        .with_span(Some(r.span.clone())),
                );
                continue;
            }
        };
        let constraints = match r.version.as_deref().map(Constraints::parse) {
            None => Constraints::none(),
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                diags.push(
                    Diagnostic::error("Invalid version constraint", e.to_string())
                        .with_span(Some(r.span.clone())),
                );
                continue;
            }
        };
        add(local, source, constraints, Some(r.span.clone()));
    }
    let implied = m
        .providers
        .iter()
        .map(|p| p.name.clone())
        .chain(m.resources.values().map(|r| r.provider_name()));
    for local in implied {
        if m.terraform.required_providers.contains_key(&local) || local == "terraform" {
            continue;
        }
        if let Ok(source) = ProviderSource::implied(&local) {
            add(&local, source, Constraints::none(), None);
        }
    }
    for call in m.module_calls.values() {
        walk(&call.module, out, diags);
    }
}

/// terrane has a native provider for `need` under one of its local names, and the
/// source is that name's default (`hashicorp/NAME`).
fn native_default(need: &Need, native: &dyn Fn(&str) -> bool) -> bool {
    need.local_names
        .iter()
        .any(|n| ProviderSource::implied(n).ok().as_ref() == Some(&need.source) && native(n))
}

/// Decides how `need` is served (see the module's rule).
pub fn serve(
    need: &Need,
    native: &dyn Fn(&str) -> bool,
    lock: &LockFile,
    cli: &CliConfig,
    dir: &Path,
) -> Served {
    let overridden = cli.dev_overrides().contains_key(&need.source);
    let locked = lock.provider(&need.source).is_some();
    if !overridden && !locked && (native_default(need, native) || need.source.is_builtin()) {
        return Served::Native;
    }
    match terrane_install::locate(&need.source, lock, dir, cli) {
        Ok(executable) => Served::Plugin {
            executable,
            version: (!overridden)
                .then(|| lock.provider(&need.source).map(|l| l.version.to_string()))
                .flatten(),
        },
        Err(e) => Served::Missing(e.to_string()),
    }
}

/// `terrane init`'s first step: installs the configuration's modules in `dir` (registry,
/// git and HTTP sources into `.terraform/modules`, local paths recorded), reporting each
/// line of progress (after a header, when there are modules); the error is the message
/// to show.
pub fn install_modules(
    dir: &std::path::Path,
    upgrade: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    use terrane_install::modules::{install_modules, ModuleCallDecl};
    let (cli, _) = CliConfig::load_from_process();
    let list = |d: &std::path::Path| {
        let calls = terrane_lang::module_calls(d)?;
        Ok(calls
            .into_iter()
            .map(|c| ModuleCallDecl {
                name: c.name,
                source: c.source,
                version: c.version,
                at: c.at,
            })
            .collect())
    };
    let mut said = false;
    let mut with_header = |line: &str| {
        if !std::mem::replace(&mut said, true) {
            progress("Initializing modules...");
        }
        progress(line);
    };
    install_modules(dir, &cli, upgrade, &list, &mut with_header)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// What deciding how providers are served, and installing them, starts from: the
/// configuration's needs, Terraform's CLI configuration and the dependency lock file.
pub struct Setup {
    pub needs: BTreeMap<ProviderSource, Need>,
    pub cli: CliConfig,
    pub lock: LockFile,
}

impl Setup {
    /// Reads the CLI configuration (its problems are warnings, or errors where
    /// Terraform stops on them) and the lock file (a damaged one is an error).
    pub fn load(ws: &crate::Workspace) -> (Option<Setup>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let needs = match needs(&ws.module) {
            Ok(n) => n,
            Err(d) => return (None, d),
        };
        let (cli, problems) = CliConfig::load_from_process();
        for p in problems {
            diags.push(if p.warning {
                Diagnostic::warning(p.summary, p.detail)
            } else {
                Diagnostic::error(p.summary, p.detail)
            });
        }
        let lock = match LockFile::load_from_dir(&ws.dir) {
            Ok(l) => l,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Invalid dependency lock file",
                    e.to_string(),
                ));
                return (None, diags);
            }
        };
        let ok = !diags.has_errors();
        (ok.then_some(Setup { needs, cli, lock }), diags)
    }

    /// How `need` is served in this workspace.
    pub fn served(&self, ws: &crate::Workspace, need: &Need) -> Served {
        let native = |n: &str| ws.registry.get(n).is_some();
        serve(need, &native, &self.lock, &self.cli, &ws.dir)
    }

    /// `terrane init`: installs what [`to_install`] names and writes the lock file when
    /// its selections changed; the outcome, and whether the lock file was written.
    pub fn install(
        &self,
        ws: &crate::Workspace,
        upgrade: bool,
        observer: &mut dyn terrane_install::InstallObserver,
    ) -> Result<(terrane_install::InstallOutcome, bool), String> {
        let native = |n: &str| ws.registry.get(n).is_some();
        let requirements = to_install(&self.needs, &native, &self.lock, &self.cli);
        let outcome = terrane_install::install(
            &requirements,
            &self.lock,
            &self.cli,
            &ws.dir,
            upgrade,
            observer,
        )
        .map_err(|e| e.to_string())?;
        let written = outcome.lock_changed;
        if written {
            outcome
                .lock
                .save(&ws.dir.join(".terraform.lock.hcl"))
                .map_err(|e| e.to_string())?;
        }
        Ok((outcome, written))
    }
}

impl Setup {
    /// What `terrane init` says after installing (`outcome`; `written`: the lock file
    /// was written): notes for the standard output, then warnings, as Terraform says
    /// them.
    pub fn summary(
        &self,
        outcome: &terrane_install::InstallOutcome,
        written: bool,
    ) -> (Vec<String>, Vec<String>) {
        use terrane_install::install::InstallAction;
        let mut notes = Vec::new();
        let by_developers = outcome.providers.iter().any(|p| {
            matches!(
                &p.action,
                InstallAction::Installed {
                    authentication: terrane_install::Authentication::Community { .. },
                    ..
                }
            )
        });
        if by_developers {
            notes.push("Partner and community providers are signed by their developers.\nIf you'd like to know more about provider signing, you can read about it here:\nhttps://developer.hashicorp.com/terraform/cli/plugins/signing".to_string());
        }
        if written && self.lock.is_empty() {
            notes.push("terrane has created a lock file .terraform.lock.hcl to record the provider\nselections it made above. Include this file in your version control repository\nso that terrane (and Terraform) make the same selections by default when\nyou run \"terrane init\" in the future.".to_string());
        } else if written {
            notes.push("terrane has made some changes to the provider dependency selections recorded\nin the .terraform.lock.hcl file. Review those changes and commit them to your\nversion control system if they represent changes you intended to make.".to_string());
        }
        let warnings = outcome
            .dev_overrides
            .iter()
            .map(|o| format!("Provider development overrides are in effect\n\n{} is served from {} (the CLI configuration's dev_overrides): it is neither installed nor locked.", o.provider.for_display(), o.dir.display()))
            .collect();
        (notes, warnings)
    }
}

/// What `terrane init` installs: every needed provider that a plugin serves or would
/// serve, that is all but those served natively (a provider served natively becomes a
/// plugin when the lock file names it: a lock file written by Terraform keeps its
/// providers).
pub fn to_install(
    needs: &BTreeMap<ProviderSource, Need>,
    native: &dyn Fn(&str) -> bool,
    lock: &LockFile,
    cli: &CliConfig,
) -> terrane_install::Requirements {
    needs
        .values()
        .filter(|n| !n.source.is_builtin() && !cli.dev_overrides().contains_key(&n.source))
        .filter(|n| !native_default(n, native) || lock.provider(&n.source).is_some())
        .map(|n| (n.source.clone(), n.constraints.clone()))
        .collect()
}

/// Every plugin this process started, kept until [`shutdown_all`] or [`kill_all`], so
/// that a plugin outlives the workspace that started it and still gets go-plugin's
/// orderly Shutdown at the end.
static LIVE: std::sync::Mutex<Vec<Arc<PluginFactory>>> = std::sync::Mutex::new(Vec::new());

/// Asks every plugin this process started to exit (go-plugin's Shutdown), killing those
/// that do not within a grace period. The program calls it before it exits.
pub async fn shutdown_all() {
    let all = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for p in all {
        p.shutdown().await;
    }
}

/// Kills every plugin this process started, at once (the second Ctrl-C).
pub fn kill_all() {
    let all = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for p in all {
        p.kill();
    }
}

/// The plugins a workspace started (the plan's header and `providers schema` name
/// them; [`shutdown_all`] stops them at the end).
#[derive(Default)]
pub struct Plugins {
    pub started: Vec<Arc<PluginFactory>>,
}

/// Starts the plugin that serves `need` at `executable`, once per local name, and
/// reads its schema.
pub async fn start(
    need: &Need,
    executable: &Path,
    version: Option<&str>,
) -> Result<Vec<Arc<PluginFactory>>, Diagnostic> {
    let mut out = Vec::new();
    for local in &need.local_names {
        let name = match version {
            Some(v) => format!("{} {v}", need.source.for_display()),
            None => format!("{} (development override)", need.source.for_display()),
        };
        let launch = Launch::new(executable.to_path_buf(), name);
        let f = PluginFactory::start(local, launch).await.map_err(|e| {
            Diagnostic::error("Failed to start a provider plugin", e.to_string())
                .with_span(need.span.clone())
        })?;
        let f = Arc::new(f.with_source(need.source.to_string()));
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(f.clone());
        out.push(f);
    }
    Ok(out)
}

/// The line a plan starts with when plugins serve some of its providers:
/// `Provider plugins: pyvider = local/pyvider 0.8.1` (native providers are not listed).
pub fn header(ws: &crate::Workspace) -> Option<String> {
    if ws.plugins.started.is_empty() {
        return None;
    }
    let list: Vec<String> = ws
        .plugins
        .started
        .iter()
        .map(|p| {
            format!(
                "{} = {}",
                terrane_provider::ProviderFactory::name(p.as_ref()),
                p.describe()
            )
        })
        .collect();
    Some(format!("Provider plugins: {}", list.join(", ")))
}

/// `terrane providers schema -json`: Terraform's document of every provider the
/// configuration needs, plugins as they describe themselves, native providers from
/// their schemas.
pub fn schemas_json(ws: &crate::Workspace) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    let needs = needs(&ws.module).unwrap_or_default();
    for need in needs.values() {
        if need.source.is_builtin() {
            continue;
        }
        let plugin = ws.plugins.started.iter().find(|p| {
            need.local_names
                .iter()
                .any(|n| n == terrane_provider::ProviderFactory::name(p.as_ref()))
        });
        let doc = match plugin {
            Some(p) => terrane_plugin::schema::terraform_json(&p.plugin_schema().raw),
            None => match need.local_names.iter().find_map(|n| ws.registry.get(n)) {
                Some(f) => native_json(f.schema()),
                None => continue,
            },
        };
        out.insert(need.source.to_string(), doc);
    }
    serde_json::json!({"format_version": "1.0", "provider_schemas": out})
}

fn native_json(s: &terrane_provider::ProviderSchema) -> serde_json::Value {
    use serde_json::{json, Map, Value as J};
    fn block(s: &terrane_provider::Schema) -> J {
        let mut o = Map::new();
        if !s.attributes.is_empty() {
            let attrs: Map<String, J> = s
                .attributes
                .iter()
                .map(|(k, a)| {
                    let mut ao = Map::new();
                    ao.insert("type".into(), terrane_core::types::type_json(&a.ty));
                    if !a.description.is_empty() {
                        ao.insert("description".into(), J::from(a.description));
                    }
                    ao.insert("description_kind".into(), J::from("plain"));
                    for (f, on) in [
                        ("required", a.required),
                        ("optional", a.optional),
                        ("computed", a.computed),
                        ("sensitive", a.sensitive),
                    ] {
                        if on {
                            ao.insert(f.into(), J::Bool(true));
                        }
                    }
                    (k.clone(), J::Object(ao))
                })
                .collect();
            o.insert("attributes".into(), J::Object(attrs));
        }
        if !s.blocks.is_empty() {
            let blocks: Map<String, J> = s
                .blocks
                .iter()
                .map(|(k, b)| {
                    use terrane_provider::Nesting;
                    let mode = match b.nesting {
                        Nesting::Single => "single",
                        Nesting::List => "list",
                        Nesting::Set => "set",
                        Nesting::Map => "map",
                        Nesting::Group => "group",
                    };
                    (
                        k.clone(),
                        json!({"nesting_mode": mode, "block": block(&b.schema)}),
                    )
                })
                .collect();
            o.insert("block_types".into(), J::Object(blocks));
        }
        if !s.description.is_empty() {
            o.insert("description".into(), J::from(s.description));
        }
        o.insert("description_kind".into(), J::from("plain"));
        J::Object(o)
    }
    let map = |m: &BTreeMap<String, terrane_provider::Schema>| -> J {
        J::Object(
            m.iter()
                .map(|(k, s)| (k.clone(), json!({"version": 0, "block": block(s)})))
                .collect(),
        )
    };
    json!({
        "provider": {"version": 0, "block": block(&s.provider)},
        "resource_schemas": map(&s.resources),
        "data_source_schemas": map(&s.data_sources),
    })
}
