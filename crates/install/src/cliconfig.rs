//! Terraform's CLI configuration, as far as provider installation reads it: the plugin
//! cache directory and the `provider_installation` block.
//!
//! Where it comes from, as in Terraform: the file named by `TF_CLI_CONFIG_FILE` (or the
//! older `TERRAFORM_CONFIG`), else `~/.terraformrc` together with every `*.tfrc` and
//! `*.tfrc.json` file in `~/.terraform.d`; `TF_PLUGIN_CACHE_DIR` overrides
//! `plugin_cache_dir`. The files are HCL 1 (see the private `hcl1` module) or JSON.
//!
//! Problems in the CLI configuration do not stop Terraform: it reports them ("There are
//! some problems with the CLI configuration") and carries on with what it could read.
//! [`CliConfig::load`] does the same and returns the problems beside the configuration.
//!
//! Without a `provider_installation` block Terraform uses implied methods: each existing
//! local plugin directory (`terraform.d/plugins` in the working directory,
//! `~/.terraform.d/plugins`, then the XDG data directories' `terraform/plugins`) as a
//! filesystem mirror, then `direct` for every provider none of them has.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::addr::{ProviderPattern, ProviderSource};
use crate::hcl1::{self, Item, Value};
use crate::http::{HttpSettings, DEFAULT_RETRIES, DEFAULT_TIMEOUT};

/// The settings of the CLI configuration that provider installation uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliConfig {
    /// `plugin_cache_dir` (or `TF_PLUGIN_CACHE_DIR`): a shared directory packages are
    /// installed into first and linked from.
    pub plugin_cache_dir: Option<PathBuf>,
    /// `plugin_cache_may_break_dependency_lock_file` (or the environment variable of
    /// the same name in capitals): use a cached package even when the lock file has no
    /// hash for it.
    pub plugin_cache_may_break_dependency_lock_file: bool,
    /// The `provider_installation` block; `None` means Terraform's implied methods.
    pub provider_installation: Option<ProviderInstallation>,
    /// The user-wide plugin directories that are implied filesystem mirrors when there
    /// is no `provider_installation` block (`~/.terraform.d/plugins`, the XDG data
    /// directories); the working directory's `terraform.d/plugins` comes before them.
    pub implied_plugin_dirs: Vec<PathBuf>,
    /// How registries and network mirrors are reached: the CA certificates to trust
    /// (`SSL_CERT_FILE`), the request timeout (`TF_REGISTRY_CLIENT_TIMEOUT`) and
    /// retries (`TF_REGISTRY_DISCOVERY_RETRY`).
    pub http: HttpSettings,
    /// `host "HOSTNAME" { services = { "modules.v1" = "URL" } }` blocks: service
    /// discovery answers given in the CLI configuration instead of asked of the host
    /// (how a registry mirror stands in for a registry). Keyed by host name, then by
    /// service ID; the URLs are absolute.
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
}

/// The `provider_installation` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderInstallation {
    /// The installation methods, in order.
    pub methods: Vec<InstallationMethod>,
    /// `dev_overrides`: providers used from a local directory, never installed or locked.
    pub dev_overrides: BTreeMap<ProviderSource, PathBuf>,
}

/// One installation method and the providers it may serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationMethod {
    pub location: MethodLocation,
    pub include: Vec<ProviderPattern>,
    pub exclude: Vec<ProviderPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodLocation {
    /// `direct`: each provider's origin registry.
    Direct,
    /// `filesystem_mirror { path = ... }`; a relative path is relative to the working
    /// directory.
    FilesystemMirror(PathBuf),
    /// `network_mirror { url = ... }`.
    NetworkMirror(String),
}

/// Something wrong in the CLI configuration. Terraform reports these and carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliConfigProblem {
    /// A warning rather than an error (only "Unable to open CLI configuration file").
    pub warning: bool,
    pub summary: String,
    pub detail: String,
}

impl fmt::Display for CliConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.summary, self.detail)
    }
}

/// The errors among the problems of a CLI configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the CLI configuration is not valid:{}", .problems.iter().map(|p| format!("\n  {p}")).collect::<String>())]
pub struct CliConfigError {
    pub problems: Vec<CliConfigProblem>,
}

/// The parts of the environment the CLI configuration depends on, so that tests can
/// give their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliEnv {
    /// `TF_CLI_CONFIG_FILE`, else `TERRAFORM_CONFIG`.
    pub config_file: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `TF_PLUGIN_CACHE_DIR`.
    pub plugin_cache_dir: Option<PathBuf>,
    /// `TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE` set to anything but `0`.
    pub plugin_cache_may_break_dependency_lock_file: bool,
    /// `XDG_DATA_HOME`.
    pub xdg_data_home: Option<PathBuf>,
    /// `XDG_DATA_DIRS`.
    pub xdg_data_dirs: Option<String>,
    /// `SSL_CERT_FILE`: a PEM file of the CA certificates to trust instead of the
    /// system's, for registries and network mirrors.
    pub ssl_cert_file: Option<PathBuf>,
    /// `TF_REGISTRY_CLIENT_TIMEOUT`, in seconds (a positive integer; anything else means
    /// the default, 10).
    pub registry_client_timeout: Option<String>,
    /// `TF_REGISTRY_DISCOVERY_RETRY` (a positive integer; anything else means the
    /// default, 1).
    pub registry_discovery_retry: Option<String>,
}

impl CliEnv {
    /// The environment of this process.
    pub fn from_process() -> CliEnv {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        CliEnv {
            config_file: var("TF_CLI_CONFIG_FILE")
                .or_else(|| var("TERRAFORM_CONFIG"))
                .map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            plugin_cache_dir: var("TF_PLUGIN_CACHE_DIR").map(PathBuf::from),
            plugin_cache_may_break_dependency_lock_file: var(
                "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE",
            )
            .is_some_and(|v| v != "0"),
            xdg_data_home: var("XDG_DATA_HOME").map(PathBuf::from),
            xdg_data_dirs: var("XDG_DATA_DIRS").map(|v| v.to_string_lossy().into_owned()),
            ssl_cert_file: var("SSL_CERT_FILE").map(PathBuf::from),
            registry_client_timeout: var("TF_REGISTRY_CLIENT_TIMEOUT")
                .map(|v| v.to_string_lossy().into_owned()),
            registry_discovery_retry: var("TF_REGISTRY_DISCOVERY_RETRY")
                .map(|v| v.to_string_lossy().into_owned()),
        }
    }
}

/// The HTTP settings `env` asks for, read as Terraform reads its variables: only a
/// positive integer counts.
fn http_settings(env: &CliEnv) -> HttpSettings {
    let positive = |raw: &Option<String>| {
        raw.as_deref()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
    };
    HttpSettings {
        ca_file: env.ssl_cert_file.clone(),
        timeout: positive(&env.registry_client_timeout)
            .map(|s| std::time::Duration::from_secs(s.into()))
            .unwrap_or(DEFAULT_TIMEOUT),
        retries: positive(&env.registry_discovery_retry).unwrap_or(DEFAULT_RETRIES),
    }
}

/// One file's settings before they are merged.
#[derive(Default)]
struct FileConfig {
    plugin_cache_dir: Option<PathBuf>,
    plugin_cache_may_break_dependency_lock_file: bool,
    provider_installation: Vec<ProviderInstallation>,
    hosts: BTreeMap<String, BTreeMap<String, String>>,
}

impl CliConfig {
    /// Loads the CLI configuration as Terraform does for `env`, returning it with the
    /// problems found (to report, not to stop on).
    pub fn load(env: &CliEnv) -> (CliConfig, Vec<CliConfigProblem>) {
        let mut problems = Vec::new();
        let mut files: Vec<FileConfig> = Vec::new();
        let main_file = env
            .config_file
            .clone()
            .or_else(|| env.home.as_ref().map(|h| h.join(".terraformrc")));
        if let Some(path) = main_file {
            match fs::metadata(&path) {
                Ok(_) => files.push(load_file(&path, &mut problems)),
                Err(error)
                    if env.config_file.is_some()
                        || error.kind() != std::io::ErrorKind::NotFound =>
                {
                    problems.push(CliConfigProblem {
                        warning: true,
                        summary: "Unable to open CLI configuration file".to_string(),
                        detail: format!(
                            "The CLI configuration file at {:?} does not exist.",
                            path.display().to_string()
                        ),
                    })
                }
                Err(_) => {}
            }
        }
        if env.config_file.is_none() {
            if let Some(dir) = env
                .home
                .as_ref()
                .map(|h| h.join(".terraform.d"))
                .filter(|d| d.is_dir())
            {
                let mut names: Vec<PathBuf> = fs::read_dir(&dir)
                    .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
                    .unwrap_or_default();
                names.sort();
                for path in names {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if name.ends_with(".tfrc") || name.ends_with(".tfrc.json") {
                        files.push(load_file(&path, &mut problems));
                    }
                }
            }
        }

        let mut config = CliConfig {
            plugin_cache_dir: env.plugin_cache_dir.clone(),
            plugin_cache_may_break_dependency_lock_file: env
                .plugin_cache_may_break_dependency_lock_file,
            http: http_settings(env),
            ..CliConfig::default()
        };
        let mut installations = Vec::new();
        for file in files {
            if config.plugin_cache_dir.is_none() {
                config.plugin_cache_dir = file.plugin_cache_dir;
            }
            config.plugin_cache_may_break_dependency_lock_file |=
                file.plugin_cache_may_break_dependency_lock_file;
            installations.extend(file.provider_installation);
            for (host, services) in file.hosts {
                config.hosts.entry(host).or_insert(services);
            }
        }
        if installations.len() > 1 {
            problems.push(CliConfigProblem {
                warning: false,
                summary: "Invalid CLI configuration".to_string(),
                detail: "No more than one provider_installation block may be specified."
                    .to_string(),
            });
        }
        config.provider_installation = installations.into_iter().next();
        if let Some(dir) = &config.plugin_cache_dir {
            if let Err(error) = fs::metadata(dir) {
                problems.push(CliConfigProblem {
                    warning: false,
                    summary: "Invalid CLI configuration".to_string(),
                    detail: format!(
                        "The specified plugin cache dir {} cannot be opened: {error}.",
                        dir.display()
                    ),
                });
            }
        }
        config.implied_plugin_dirs = implied_plugin_dirs(env);
        (config, problems)
    }

    /// Loads the CLI configuration of this process's environment.
    pub fn load_from_process() -> (CliConfig, Vec<CliConfigProblem>) {
        CliConfig::load(&CliEnv::from_process())
    }

    /// Reads exactly one CLI configuration file, with nothing from the environment (no
    /// `TF_PLUGIN_CACHE_DIR`, no implied plugin directories): for tests and for callers
    /// that name the file themselves. Any error is returned; warnings are dropped.
    pub fn from_file(path: &Path) -> Result<CliConfig, CliConfigError> {
        let mut problems = Vec::new();
        let file = load_file(path, &mut problems);
        problems.retain(|p| !p.warning);
        if file.provider_installation.len() > 1 {
            problems.push(CliConfigProblem {
                warning: false,
                summary: "Invalid CLI configuration".to_string(),
                detail: "No more than one provider_installation block may be specified."
                    .to_string(),
            });
        }
        if !problems.is_empty() {
            return Err(CliConfigError { problems });
        }
        Ok(CliConfig {
            plugin_cache_dir: file.plugin_cache_dir,
            plugin_cache_may_break_dependency_lock_file: file
                .plugin_cache_may_break_dependency_lock_file,
            provider_installation: file.provider_installation.into_iter().next(),
            implied_plugin_dirs: Vec::new(),
            http: HttpSettings::default(),
            hosts: file.hosts,
        })
    }

    /// The development overrides in effect.
    pub fn dev_overrides(&self) -> BTreeMap<ProviderSource, PathBuf> {
        self.provider_installation
            .as_ref()
            .map(|p| p.dev_overrides.clone())
            .unwrap_or_default()
    }
}

/// `~/.terraform.d/plugins` and the platform's data directories' plugin directories
/// (go-userdirs' `DataSearchPaths("plugins")` for Terraform).
fn implied_plugin_dirs(env: &CliEnv) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = &env.home {
        dirs.push(home.join(".terraform.d").join("plugins"));
    }
    if cfg!(target_os = "macos") {
        if let Some(home) = &env.home {
            dirs.push(home.join("Library/Application Support/io.terraform/plugins"));
        }
        dirs.push(PathBuf::from(
            "/Library/Application Support/io.terraform/plugins",
        ));
        return dirs;
    }
    let data_home = env
        .xdg_data_home
        .clone()
        .filter(|p| p.is_absolute())
        .or_else(|| env.home.as_ref().map(|h| h.join(".local/share")));
    dirs.extend(data_home.map(|d| d.join("terraform/plugins")));
    let others: Vec<PathBuf> = match &env.xdg_data_dirs {
        Some(list) => std::env::split_paths(list)
            .filter(|p| p.is_absolute())
            .collect(),
        None => vec![
            PathBuf::from("/usr/local/share/"),
            PathBuf::from("/usr/share/"),
        ],
    };
    dirs.extend(others.into_iter().map(|d| d.join("terraform/plugins")));
    dirs
}

fn load_file(path: &Path, problems: &mut Vec<CliConfigProblem>) -> FileConfig {
    let mut error = |summary: &str, detail: String| {
        problems.push(CliConfigProblem {
            warning: false,
            summary: summary.to_string(),
            detail,
        })
    };
    let src = match fs::read_to_string(path) {
        Ok(src) => src,
        Err(e) => {
            error(
                "Invalid CLI configuration",
                format!("Error reading {}: {e}.", path.display()),
            );
            return FileConfig::default();
        }
    };
    let (items, json) = match hcl1::parse(&src) {
        Ok(parsed) => parsed,
        Err(e) => {
            error(
                "Invalid CLI configuration",
                format!("Error parsing {}: {e}.", path.display()),
            );
            return FileConfig::default();
        }
    };
    let mut file = FileConfig::default();
    let mut decode_problems = Vec::new();
    for item in &items {
        let at = position(path, item);
        match item.keys[0].as_str() {
            "plugin_cache_dir" => match &item.value {
                Value::String(dir) if !dir.is_empty() => {
                    file.plugin_cache_dir = Some(PathBuf::from(expand_env(dir, &mut |_| {})))
                }
                Value::String(_) => {}
                other => decode_problems.push(format!(
                    "{at}: plugin_cache_dir must be a string, not a {}",
                    other.kind()
                )),
            },
            "plugin_cache_may_break_dependency_lock_file" => match &item.value {
                Value::Bool(b) => file.plugin_cache_may_break_dependency_lock_file = *b,
                Value::String(s) if s.parse::<bool>().is_ok() => {
                    file.plugin_cache_may_break_dependency_lock_file = s == "true"
                }
                other => decode_problems.push(format!(
                    "{at}: plugin_cache_may_break_dependency_lock_file must be a bool, not a {}",
                    other.kind()
                )),
            },
            "host" => match (&item.keys[..], &item.value) {
                ([_, host], Value::Object(body)) => {
                    let mut services = BTreeMap::new();
                    for entry in body {
                        match (entry.keys[0].as_str(), &entry.value) {
                            ("services", Value::Object(list)) => {
                                for service in list {
                                    match &service.value {
                                        Value::String(url) => {
                                            services.insert(service.keys[0].clone(), url.clone());
                                        }
                                        other => decode_problems.push(format!(
                                            "{at}: the service {:?} of host {host:?} must be a URL string, not a {}",
                                            service.keys[0],
                                            other.kind()
                                        )),
                                    }
                                }
                            }
                            (other, _) => decode_problems.push(format!(
                                "{at}: a host block takes only services = {{ ... }}, not {other:?}"
                            )),
                        }
                    }
                    file.hosts
                        .entry(crate::modules::host_for_comparison(host))
                        .or_insert(services);
                }
                _ => decode_problems.push(format!(
                    "{at}: a host block needs one label, the host name: host \"registry.example.com\" {{ services = {{ ... }} }}"
                )),
            },
            "provider_installation" => {
                if let Some(installation) = decode_provider_installation(path, item, json, problems)
                {
                    file.provider_installation.push(installation);
                }
            }
            _ => {}
        }
    }
    if !decode_problems.is_empty() {
        // Terraform's decoder fails the whole file when a setting has the wrong type.
        problems.push(CliConfigProblem {
            warning: false,
            summary: "Invalid CLI configuration".to_string(),
            detail: format!(
                "Error parsing {}: {}.",
                path.display(),
                decode_problems.join("; ")
            ),
        });
        return FileConfig::default();
    }
    file
}

fn position(path: &Path, item: &Item) -> String {
    if item.line == 0 {
        path.display().to_string()
    } else {
        format!("{}:{}", path.display(), item.line)
    }
}

fn decode_provider_installation(
    path: &Path,
    block: &Item,
    json: bool,
    problems: &mut Vec<CliConfigProblem>,
) -> Option<ProviderInstallation> {
    let at = position(path, block);
    let mut error = |summary: &str, detail: String| {
        problems.push(CliConfigProblem {
            warning: false,
            summary: summary.to_string(),
            detail,
        })
    };
    let Value::Object(methods) = &block.value else {
        error("Invalid provider_installation block", format!("The provider_installation block at {at} must not be introduced with an equals sign."));
        return None;
    };
    if block.assign && !json {
        error("Invalid provider_installation block", format!("The provider_installation block at {at} must not be introduced with an equals sign."));
        return None;
    }
    if block.keys.len() > 1 && !json {
        error(
            "Invalid provider_installation block",
            format!("The provider_installation block at {at} must not have any labels."),
        );
    }
    let mut installation = ProviderInstallation::default();
    for method in methods {
        let method_at = position(path, method);
        let kind = method.keys[0].as_str();
        let invalid_method =
            |detail: String| ("Invalid provider_installation method block", detail);
        let Value::Object(body) = &method.value else {
            let (s, d) = invalid_method(format!(
                "The items inside the provider_installation block at {at} must all be blocks."
            ));
            error(s, d);
            continue;
        };
        if method.assign && !json {
            let (s, d) = invalid_method(format!(
                "The items inside the provider_installation block at {at} must all be blocks."
            ));
            error(s, d);
            continue;
        }
        if method.keys.len() > 1 && !json {
            let (s, d) = invalid_method(format!("The blocks inside the provider_installation block at {at} may not have any labels."));
            error(s, d);
        }
        let location = match kind {
            "direct" => MethodLocation::Direct,
            "filesystem_mirror" => match string_argument(body, "path") {
                Ok(Some(path)) if !path.is_empty() => {
                    MethodLocation::FilesystemMirror(PathBuf::from(path))
                }
                Ok(_) => {
                    error("Invalid provider_installation method block", format!("Invalid filesystem_mirror block at {method_at}: \"path\" argument is required."));
                    continue;
                }
                Err(e) => {
                    error(
                        "Invalid provider_installation method block",
                        format!("Invalid filesystem_mirror block at {method_at}: {e}."),
                    );
                    continue;
                }
            },
            "network_mirror" => match string_argument(body, "url") {
                Ok(Some(url)) if !url.is_empty() => {
                    let host = url
                        .strip_prefix("https://")
                        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
                    if host.is_none_or(str::is_empty) {
                        error("Invalid URL for provider installation source", format!("Cannot use {url:?} as a URL for a network provider mirror: the mirror must be at an https: URL."));
                        continue;
                    }
                    MethodLocation::NetworkMirror(url)
                }
                Ok(_) => {
                    error("Invalid provider_installation method block", format!("Invalid network_mirror block at {method_at}: \"url\" argument is required."));
                    continue;
                }
                Err(e) => {
                    error(
                        "Invalid provider_installation method block",
                        format!("Invalid network_mirror block at {method_at}: {e}."),
                    );
                    continue;
                }
            },
            "dev_overrides" => {
                if !installation.methods.is_empty() {
                    error("Invalid provider_installation method block", format!("The dev_overrides block at {method_at} must appear before all other installation methods, because development overrides always have the highest priority."));
                    continue;
                }
                for entry in body {
                    let raw_addr = entry.keys.join(" ");
                    let Value::String(raw_path) = &entry.value else {
                        error("Invalid provider_installation method block", format!("Invalid dev_overrides block at {method_at}: the entry {raw_addr:?} must be a string naming a directory."));
                        continue;
                    };
                    let addr = match ProviderSource::parse(&raw_addr) {
                        Ok(addr) => addr,
                        Err(e) => {
                            error("Invalid provider installation dev overrides", format!("The entry {raw_addr:?} in {at} is not a valid provider source string.\n\n{e}"));
                            continue;
                        }
                    };
                    let mut unset = Vec::new();
                    let expanded =
                        expand_env(raw_path, &mut |name: &str| unset.push(name.to_string()));
                    unset.dedup();
                    for name in unset {
                        error("Interpolated environment variable not set", format!("The environment variable {name} is not set or empty and can result in undesired behavior"));
                    }
                    installation
                        .dev_overrides
                        .insert(addr, clean_path(&expanded));
                }
                continue;
            }
            other => {
                error(
                    "Invalid provider_installation method block",
                    format!("Unknown provider installation method {other:?} at {method_at}."),
                );
                continue;
            }
        };
        let patterns = |name: &str| -> Result<Vec<ProviderPattern>, String> {
            let strings = string_list_argument(body, name)
                .map_err(|e| format!("Invalid {kind} block at {method_at}: {e}."))?;
            strings
                .iter()
                .map(|s| ProviderPattern::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    format!(
                        "CLI config specifies invalid provider {} patterns: {e}.",
                        if name == "include" {
                            "inclusion"
                        } else {
                            "exclusion"
                        }
                    )
                })
        };
        let include = patterns("include");
        let exclude = patterns("exclude");
        match (include, exclude) {
            (Ok(include), Ok(exclude)) => installation.methods.push(InstallationMethod {
                location,
                include,
                exclude,
            }),
            (Err(e), _) | (_, Err(e)) => error("Invalid provider_installation method block", e),
        }
    }
    Some(installation)
}

fn string_argument(body: &[Item], name: &str) -> Result<Option<String>, String> {
    match body
        .iter()
        .rev()
        .find(|item| item.keys[0] == name)
        .map(|item| &item.value)
    {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{name} must be a string, not a {}", other.kind())),
    }
}

fn string_list_argument(body: &[Item], name: &str) -> Result<Vec<String>, String> {
    match body
        .iter()
        .rev()
        .find(|item| item.keys[0] == name)
        .map(|item| &item.value)
    {
        None => Ok(Vec::new()),
        Some(Value::List(elements)) => elements
            .iter()
            .map(|e| match e {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "every element of {name} must be a string, not a {}",
                    other.kind()
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "{name} must be a list of strings, not a {}",
            other.kind()
        )),
    }
}

/// Go's `os.Expand` with the process environment: `$NAME` and `${NAME}` are replaced,
/// an unset variable by nothing (reported through `unset`).
fn expand_env(s: &str, unset: &mut dyn FnMut(&str)) -> String {
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&s[i..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            match name {
                None if width > 0 => {}
                None => out.push('$'),
                Some(name) => match std::env::var(name) {
                    Ok(value) => out.push_str(&value),
                    Err(_) => unset(name),
                },
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[i.min(s.len())..]);
    out
}

/// Go's `getShellName`: the variable name after a `$` and how many bytes it spans.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let bytes = s.as_bytes();
    let special =
        |c: u8| matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit();
    if bytes[0] == b'{' {
        if bytes.len() > 2 && special(bytes[1]) && bytes[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        for i in 1..bytes.len() {
            if bytes[i] == b'}' {
                if i == 1 {
                    return (None, 2);
                }
                return (Some(&s[1..i]), i + 1);
            }
        }
        return (None, 1);
    }
    if special(bytes[0]) {
        return (Some(&s[0..1]), 1);
    }
    let len = bytes
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if len == 0 {
        (None, 0)
    } else {
        (Some(&s[..len]), len)
    }
}

/// Go's `filepath.Clean`: a lexical cleanup of `.`, `..` and repeated separators.
fn clean_path(path: &str) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(component),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_from(src: &str) -> Result<CliConfig, CliConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terraformrc");
        fs::write(&path, src).unwrap();
        CliConfig::from_file(&path)
    }

    #[test]
    fn reads_every_installation_method() {
        let config = config_from(
            r#"
plugin_cache_dir = "/var/cache/terraform"
provider_installation {
  dev_overrides {
    "example/x" = "/home/dev/x/../x-provider/"
  }
  filesystem_mirror {
    path    = "/opt/mirror"
    include = ["registry.terraform.io/example/*"]
  }
  network_mirror {
    url     = "https://mirror.example.com/providers/"
    exclude = ["*/*"]
  }
  direct {
    exclude = ["example/*"]
  }
}
"#,
        )
        .unwrap();
        assert_eq!(
            config.plugin_cache_dir,
            Some(PathBuf::from("/var/cache/terraform"))
        );
        let installation = config.provider_installation.unwrap();
        let x = ProviderSource::parse("example/x").unwrap();
        assert_eq!(
            installation.dev_overrides[&x],
            PathBuf::from("/home/dev/x-provider")
        );
        let locations: Vec<&MethodLocation> =
            installation.methods.iter().map(|m| &m.location).collect();
        assert_eq!(
            locations,
            [
                &MethodLocation::FilesystemMirror("/opt/mirror".into()),
                &MethodLocation::NetworkMirror("https://mirror.example.com/providers/".into()),
                &MethodLocation::Direct
            ]
        );
        assert!(installation.methods[0].include[0].matches(&x));
        assert!(installation.methods[2].exclude[0].matches(&x));
    }

    #[test]
    fn reports_terraforms_mistakes() {
        let cases = [
            ("provider_installation = {\n  direct {}\n}\n", "must not be introduced with an equals sign"),
            ("provider_installation \"x\" {\n  direct {}\n}\n", "must not have any labels"),
            ("provider_installation {\n  direct = {}\n}\n", "must all be blocks"),
            ("provider_installation {\n  filesystem_mirror {}\n}\n", "\"path\" argument is required"),
            ("provider_installation {\n  network_mirror { url = \"http://x\" }\n}\n", "must be at an https: URL"),
            ("provider_installation {\n  direct {}\n  dev_overrides {}\n}\n", "must appear before all other installation methods"),
            ("provider_installation {\n  dev_overrides { \"a/b/c/d\" = \"/x\" }\n}\n", "not a valid provider source string"),
            ("provider_installation {\n  carrier_pigeon {}\n}\n", "Unknown provider installation method \"carrier_pigeon\""),
            ("provider_installation {\n  direct { include = [\"*/aws\"] }\n}\n", "invalid provider inclusion patterns"),
            ("provider_installation {\n  direct {}\n}\nprovider_installation {\n  direct {}\n}\n", "No more than one provider_installation block"),
            ("plugin_cache_dir = [1]\n", "plugin_cache_dir must be a string"),
            ("provider_installation {\n", "Error parsing"),
        ];
        for (src, wanted) in cases {
            let message = config_from(src).unwrap_err().to_string();
            assert!(message.contains(wanted), "{src:?}: {message}");
        }
    }

    #[test]
    fn load_follows_terraforms_file_and_environment_rules() {
        let home = tempfile::tempdir().unwrap();
        let cache = home.path().join("cache");
        fs::create_dir(&cache).unwrap();
        fs::write(
            home.path().join(".terraformrc"),
            "plugin_cache_dir = \"/from/terraformrc\"\n",
        )
        .unwrap();
        fs::create_dir(home.path().join(".terraform.d")).unwrap();
        fs::write(
            home.path().join(".terraform.d/b.tfrc"),
            "provider_installation {\n  direct {}\n}\n",
        )
        .unwrap();
        fs::write(home.path().join(".terraform.d/ignored.txt"), "not hcl {").unwrap();
        let env = CliEnv {
            home: Some(home.path().to_path_buf()),
            xdg_data_dirs: Some("/data/one:relative/ignored".to_string()),
            ..CliEnv::default()
        };
        let (config, problems) = CliConfig::load(&env);
        assert_eq!(
            config.plugin_cache_dir,
            Some(PathBuf::from("/from/terraformrc"))
        );
        assert_eq!(
            config.provider_installation.unwrap().methods[0].location,
            MethodLocation::Direct
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].detail.contains("cannot be opened"));
        if !cfg!(target_os = "macos") {
            assert_eq!(
                config.implied_plugin_dirs,
                [
                    home.path().join(".terraform.d/plugins"),
                    home.path().join(".local/share/terraform/plugins"),
                    PathBuf::from("/data/one/terraform/plugins")
                ]
            );
        }

        let env = CliEnv {
            plugin_cache_dir: Some(cache.clone()),
            config_file: Some(home.path().join("missing.tfrc")),
            ..env
        };
        let (config, problems) = CliConfig::load(&env);
        assert_eq!(config.plugin_cache_dir, Some(cache));
        assert_eq!(
            config.provider_installation, None,
            "~/.terraform.d is not read when the file is named"
        );
        assert!(
            problems[0].warning && problems[0].summary == "Unable to open CLI configuration file"
        );
    }

    #[test]
    fn environment_expansion_is_gos() {
        let mut unset = Vec::new();
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(
            expand_env("$HOME/x", &mut |n| unset.push(n.to_string())),
            format!("{home}/x")
        );
        assert_eq!(expand_env("${HOME}/x", &mut |_| {}), format!("{home}/x"));
        assert_eq!(expand_env("a$/b$", &mut |_| {}), "a$/b$");
        assert_eq!(
            expand_env("${TERRANE_SURELY_UNSET}/x", &mut |n| unset
                .push(n.to_string())),
            "/x"
        );
        assert_eq!(unset, ["TERRANE_SURELY_UNSET"]);
        assert_eq!(clean_path("/a/./b/../c//d/"), PathBuf::from("/a/c/d"));
        assert_eq!(clean_path("a/../../b"), PathBuf::from("../b"));
    }
}
