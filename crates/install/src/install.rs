//! Installing the providers a configuration requires, as `terraform init` does
//! (Terraform's `providercache.Installer.EnsureProviderVersions`), and finding an
//! installed provider's executable to run it.
//!
//! For each required provider:
//!
//! 1. choose a version: the locked one if it still meets the constraints (unless
//!    upgrading; a locked version that no longer meets them is an error), else the
//!    newest version the constraints allow among all installation methods that may
//!    serve the provider;
//! 2. if `.terraform/providers` already has that version and it matches the lock
//!    file's hashes, keep it;
//! 3. else, with a plugin cache directory, link the cached copy if it matches the lock
//!    file (an unlocked provider is always fetched afresh, so that its hashes come from
//!    the origin, unless `plugin_cache_may_break_dependency_lock_file`);
//! 4. else take the package from the first method that has it for this platform: a
//!    remote archive (registry, network mirror) is downloaded and authenticated against
//!    what its source vouched for (a registry's signed `SHA256SUMS`, a mirror's hashes);
//!    an unpacked directory is symlinked (copied if symlinks fail), an archive is
//!    checked against the lock file's hashes and extracted; with a cache directory the
//!    package goes into the cache and is linked from there;
//! 5. record the version, the constraints and the hashes (the package's own `h1:`,
//!    the previous hashes of the same version, and, when a signature vouched for the
//!    package, every `zh:` of the signed `SHA256SUMS`: the other platforms' packages).
//!
//! Lock entries of providers no longer required are dropped. Providers under
//! `dev_overrides` are neither installed nor locked (Terraform 1.15 drops their lock
//! entries); built-in providers need nothing.
//!
//! **Invariant:** a package that does not match a hash the lock file records for its
//! version, or that fails its source's authentication, is never installed, linked or
//! run.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::addr::{ProviderPattern, ProviderSource};
use crate::auth::Authentication;
use crate::cliconfig::{CliConfig, MethodLocation};
use crate::hash::{self, Hash, HashScheme};
use crate::http::HttpClient;
use crate::lockfile::{LockFile, LOCK_FILE_NAME};
use crate::mirror::{installed_package, unpacked_package_dir, FilesystemMirror};
use crate::netmirror::NetworkMirror;
use crate::platform::Platform;
use crate::registry::RegistrySource;
use crate::source::{
    MultiSource, PackageLocation, PackageMeta, QueryError, SourceError, SourceSelector,
};
use crate::version::{Constraints, Version};

/// The providers a configuration requires, with the constraints of every module merged.
pub type Requirements = BTreeMap<ProviderSource, Constraints>;

/// Whether locked versions are kept (`terrane init`) or may move (`terrane init -upgrade`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallMode {
    /// Keep each provider's locked version; choose only for providers not locked yet.
    KeepLocked,
    /// Choose the newest allowed version of every provider, whatever is locked.
    Upgrade,
}

/// Progress, in the order Terraform reports it; the CLI turns these into its lines
/// ("- Finding example/x versions matching \"~> 1.0\"...").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallEvent {
    /// A built-in provider needs nothing.
    BuiltInProviderAvailable { provider: ProviderSource },
    /// Looking up versions: `locked` means "Reusing previous version ... from the
    /// dependency lock file", else "Finding ... versions matching" (or "latest version"
    /// when there are no constraints).
    QueryBegin {
        provider: ProviderSource,
        constraints: Constraints,
        locked: bool,
    },
    /// Something the user should know about the lookup.
    QueryWarning {
        provider: ProviderSource,
        warning: String,
    },
    QuerySuccess {
        provider: ProviderSource,
        version: Version,
    },
    /// "Using previously-installed ...".
    AlreadyInstalled {
        provider: ProviderSource,
        version: Version,
    },
    /// "Using ... from the shared cache directory".
    LinkFromCacheBegin {
        provider: ProviderSource,
        version: Version,
        cache_dir: PathBuf,
    },
    LinkFromCacheSuccess {
        provider: ProviderSource,
        version: Version,
        package_dir: PathBuf,
    },
    /// "Installing ...".
    FetchBegin {
        provider: ProviderSource,
        version: Version,
        location: String,
    },
    /// "Installed NAME vVERSION (AUTHENTICATION)", as Terraform prints it:
    /// `authentication` reads "signed by HashiCorp", "self-signed, key ID ...",
    /// "verified checksum" or "unauthenticated".
    FetchSuccess {
        provider: ProviderSource,
        version: Version,
        package_dir: PathBuf,
        /// Whether anything vouched for the package: a signature or a mirror's checksum
        /// (everything but "unauthenticated").
        authenticated: bool,
        authentication: Authentication,
    },
    /// The provider could not be installed; the same error is in the returned error.
    Failure {
        provider: ProviderSource,
        error: String,
    },
}

impl InstallEvent {
    /// The line Terraform's `init` prints for the event (`- Installing example/x
    /// v1.2.3...`), if any.
    pub fn message(&self) -> Option<String> {
        Some(match self {
            InstallEvent::QueryBegin {
                provider,
                locked: true,
                ..
            } => format!(
                "- Reusing previous version of {} from the dependency lock file",
                provider.for_display()
            ),
            InstallEvent::QueryBegin {
                provider,
                constraints,
                ..
            } if constraints.is_empty() => {
                format!("- Finding latest version of {}...", provider.for_display())
            }
            InstallEvent::QueryBegin {
                provider,
                constraints,
                ..
            } => format!(
                "- Finding {} versions matching \"{constraints}\"...",
                provider.for_display()
            ),
            InstallEvent::QueryWarning { provider, warning } => {
                format!("{}: {warning}", provider.for_display())
            }
            InstallEvent::AlreadyInstalled { provider, version } => format!(
                "- Using previously-installed {} v{version}",
                provider.for_display()
            ),
            InstallEvent::LinkFromCacheBegin {
                provider, version, ..
            } => format!(
                "- Using {} v{version} from the shared cache directory",
                provider.for_display()
            ),
            InstallEvent::FetchBegin {
                provider, version, ..
            } => format!("- Installing {} v{version}...", provider.for_display()),
            InstallEvent::FetchSuccess {
                provider,
                version,
                authentication,
                ..
            } => format!(
                "- Installed {} v{version} ({authentication})",
                provider.for_display()
            ),
            InstallEvent::Failure { .. }
            | InstallEvent::QuerySuccess { .. }
            | InstallEvent::LinkFromCacheSuccess { .. }
            | InstallEvent::BuiltInProviderAvailable { .. } => return None,
        })
    }
}

/// Receives [`InstallEvent`]s. Any `FnMut(&InstallEvent)` is one.
pub trait InstallObserver {
    fn on_event(&mut self, event: &InstallEvent);
}

impl<F: FnMut(&InstallEvent)> InstallObserver for F {
    fn on_event(&mut self, event: &InstallEvent) {
        self(event)
    }
}

/// An observer that ignores everything.
pub struct NoObserver;

impl InstallObserver for NoObserver {
    fn on_event(&mut self, _event: &InstallEvent) {}
}

/// What happened to one required provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOutcome {
    pub provider: ProviderSource,
    /// `None` for a built-in provider.
    pub version: Option<Version>,
    /// The package directory in `.terraform/providers` (`None` for a built-in provider).
    pub package_dir: Option<PathBuf>,
    pub action: InstallAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallAction {
    /// Built into Terraform (and into terrane): nothing to install.
    BuiltIn,
    /// Already in `.terraform/providers` and matching the lock file.
    Reused,
    /// Linked from the plugin cache directory.
    LinkedFromCache { cache_dir: PathBuf },
    /// Fetched from an installation method, named as messages name it (a mirror's path,
    /// "registry HOST", "provider mirror at URL").
    Installed {
        from: String,
        /// Anything but [`Authentication::Unauthenticated`].
        authenticated: bool,
        authentication: Authentication,
    },
}

/// A provider under `dev_overrides`, for the warning Terraform prints:
/// "Provider development overrides are in effect".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevOverride {
    pub provider: ProviderSource,
    pub dir: PathBuf,
}

/// The result of a successful installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOutcome {
    /// The new lock file.
    pub lock: LockFile,
    /// Whether Terraform would write the lock file: its versions or hashes differ from
    /// the previous one's ([`LockFile::same_selections`]). Use [`LockFile::save_if_changed`].
    pub lock_changed: bool,
    /// Every required provider, sorted by address.
    pub providers: Vec<ProviderOutcome>,
    /// Every development override in the CLI configuration (Terraform warns about all
    /// of them, required or not).
    pub dev_overrides: Vec<DevOverride>,
    /// Providers whose lock entry has only hashes computed locally (for this platform),
    /// when the lock file changed: Terraform's "Incomplete lock file information for
    /// providers" warning names them (`for_display`), suggesting
    /// `terraform providers lock -platform=...`.
    pub incomplete_lock: Vec<ProviderSource>,
}

/// Why a provider could not be installed: a [`ProviderErrorKind`], boxed because
/// errors carry the provider, version and paths their messages name.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ProviderError(Box<ProviderErrorKind>);

impl ProviderError {
    pub fn kind(&self) -> &ProviderErrorKind {
        &self.0
    }
}

impl From<ProviderErrorKind> for ProviderError {
    fn from(kind: ProviderErrorKind) -> Self {
        ProviderError(Box::new(kind))
    }
}

impl From<SourceError> for ProviderError {
    fn from(error: SourceError) -> Self {
        ProviderErrorKind::Source(error).into()
    }
}

impl From<QueryError> for ProviderError {
    fn from(error: QueryError) -> Self {
        ProviderErrorKind::Query(error).into()
    }
}

/// The ways installing a provider fails.
#[derive(Debug, thiserror::Error)]
pub enum ProviderErrorKind {
    #[error("locked provider {provider} {locked} does not match configured version constraint {constraints}; must use `terrane init -upgrade` to allow selection of new versions")]
    LockConflict {
        provider: ProviderSource,
        locked: Version,
        constraints: String,
    },
    #[error("no version of {provider} matches {constraints:?}; available: {}", list_versions(.available))]
    NoMatchingVersion {
        provider: ProviderSource,
        constraints: String,
        available: Vec<Version>,
    },
    #[error("the previously-selected version {version} of {provider} is no longer available; available: {}. Run `terrane init -upgrade` to select another version", list_versions(.available))]
    LockedVersionUnavailable {
        provider: ProviderSource,
        version: Version,
        available: Vec<Version>,
    },
    #[error("{0}")]
    Query(#[from] QueryError),
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("the {} package for {provider} {version} at {} doesn't match any of the checksums recorded in the dependency lock file {}: the package has {actual}, the lock file allows {}{}; for more information: https://developer.hashicorp.com/terraform/language/files/dependency-lock#checksum-verification",
        .kind, .package.display(), .lock_file.display(), list_hashes(.expected), if *.kind == PackageKind::LocalDir { " (this might be because the available checksums are for packages targeting different platforms)" } else { "" })]
    ChecksumMismatch {
        provider: ProviderSource,
        version: Version,
        kind: PackageKind,
        package: PathBuf,
        lock_file: PathBuf,
        actual: Hash,
        expected: Vec<Hash>,
    },
    #[error("the package of {provider} {version} downloaded from {url} failed authentication, so it was not installed: {message}. The registry or mirror, or something between it and this machine (a proxy), served a package or checksums other than the ones published; try again, and if it persists report it to the registry's or mirror's operator")]
    Authentication {
        provider: ProviderSource,
        version: Version,
        url: String,
        message: String,
    },
    #[error("cannot install package into target directory {} because it is a symlink; remove it and run `terrane init` again", .0.display())]
    TargetIsSymlink(PathBuf),
    #[error("cannot install existing provider directory {} to itself", .0.display())]
    InstallToItself(PathBuf),
    #[error("provider binary not found: could not find executable file starting with terraform-provider-{type_name} in {}", .dir.display())]
    MissingExecutable { type_name: String, dir: PathBuf },
    #[error("built-in providers do not support explicit version constraints; remove the version argument for {0}")]
    BuiltInWithConstraints(ProviderSource),
    #[error("this Terraform release has no built-in provider named {0:?}")]
    UnknownBuiltIn(String),
    #[error("cannot calculate the checksum of {provider} {version}: {source}")]
    Hash {
        provider: ProviderSource,
        version: Version,
        source: hash::HashError,
    },
    #[error("cannot extract {}: {message}", .archive.display())]
    Extract { archive: PathBuf, message: String },
    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("after installing {provider} it is still not detected in {}; this is a bug in terrane", .dir.display())]
    NotDetected {
        provider: ProviderSource,
        dir: PathBuf,
    },
}

/// What kind of package failed a checksum, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageKind {
    /// An archive about to be extracted ("the current package").
    Archive,
    /// A local directory about to be linked ("the local package").
    LocalDir,
    /// A copy in the plugin cache directory ("the cached package").
    Cached,
}

impl std::fmt::Display for PackageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PackageKind::Archive => "current",
            PackageKind::LocalDir => "local",
            PackageKind::Cached => "cached",
        })
    }
}

fn list_versions(versions: &[Version]) -> String {
    if versions.is_empty() {
        return "none".to_string();
    }
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_hashes(hashes: &[Hash]) -> String {
    hashes
        .iter()
        .map(Hash::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Installation failed for some providers; the lock file must not be written.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("some providers could not be installed:{}", .0.iter().map(|(p, e)| format!("\n- {p}: {e}")).collect::<String>())]
    Providers(Vec<(ProviderSource, ProviderError)>),
    #[error("the plugin cache directory {} must not be the installation directory {}", .cache.display(), .target.display())]
    CacheIsTarget { cache: PathBuf, target: PathBuf },
}

/// The directory providers are installed into: `WORKDIR/.terraform/providers`, or
/// `$TF_DATA_DIR/providers` when that variable is set (relative to the working
/// directory), as in Terraform.
pub fn providers_dir(working_dir: &Path) -> PathBuf {
    match std::env::var_os("TF_DATA_DIR").filter(|v| !v.is_empty()) {
        Some(data_dir) => working_dir.join(data_dir).join("providers"),
        None => working_dir.join(".terraform").join("providers"),
    }
}

/// Installs providers into one directory from a list of installation methods, as
/// Terraform's installer does.
pub struct Installer {
    target_dir: PathBuf,
    source: MultiSource,
    global_cache_dir: Option<PathBuf>,
    cache_may_break_lock_file: bool,
    builtin_types: Vec<String>,
    dev_overrides: BTreeMap<ProviderSource, PathBuf>,
    platform: Platform,
    lock_file_path: PathBuf,
}

impl Installer {
    /// An installer into `target_dir` from `source`, for the current platform, with no
    /// cache directory, the built-in provider `terraform`, and no development overrides.
    pub fn new(target_dir: PathBuf, source: MultiSource) -> Installer {
        Installer {
            lock_file_path: PathBuf::from(LOCK_FILE_NAME),
            target_dir,
            source,
            global_cache_dir: None,
            cache_may_break_lock_file: false,
            builtin_types: vec!["terraform".to_string()],
            dev_overrides: BTreeMap::new(),
            platform: Platform::current(),
        }
    }

    /// The installer `terraform init` would use in `working_dir` with this CLI
    /// configuration: its installation methods (or the implied ones), its plugin cache
    /// directory and its development overrides. Relative mirror paths are relative to
    /// `working_dir`.
    pub fn from_cli_config(cli: &CliConfig, working_dir: &Path) -> Installer {
        let client = Arc::new(HttpClient::new(cli.http.clone()));
        let source = match &cli.provider_installation {
            Some(installation) => explicit_source(installation, working_dir, &client),
            None => implied_source(cli, working_dir, &client),
        };
        let mut installer = Installer::new(providers_dir(working_dir), source);
        installer.global_cache_dir = cli
            .plugin_cache_dir
            .as_ref()
            .map(|dir| working_dir.join(dir));
        installer.cache_may_break_lock_file = cli.plugin_cache_may_break_dependency_lock_file;
        installer.dev_overrides = cli.dev_overrides();
        installer.lock_file_path = working_dir.join(LOCK_FILE_NAME);
        installer
    }

    /// Installs into the plugin cache directory `dir` first and links from there.
    pub fn with_global_cache_dir(mut self, dir: PathBuf) -> Installer {
        self.global_cache_dir = Some(dir);
        self
    }

    /// Installs packages for `platform` instead of the current one.
    pub fn with_platform(mut self, platform: Platform) -> Installer {
        self.platform = platform;
        self
    }

    /// The built-in provider types (`terraform.io/builtin/TYPE`) that need no installation.
    pub fn with_builtin_types(mut self, types: Vec<String>) -> Installer {
        self.builtin_types = types;
        self
    }

    /// Providers used from a local directory instead of being installed.
    pub fn with_dev_overrides(mut self, overrides: BTreeMap<ProviderSource, PathBuf>) -> Installer {
        self.dev_overrides = overrides;
        self
    }

    /// Where the lock file is, for messages.
    pub fn with_lock_file_path(mut self, path: PathBuf) -> Installer {
        self.lock_file_path = path;
        self
    }

    pub fn target_dir(&self) -> &Path {
        &self.target_dir
    }

    /// Ensures every required provider is installed, returning the new lock file.
    pub fn ensure(
        &self,
        requirements: &Requirements,
        previous: &LockFile,
        mode: InstallMode,
        observer: &mut dyn InstallObserver,
    ) -> Result<InstallOutcome, InstallError> {
        if let Some(cache) = &self.global_cache_dir {
            if same_file(cache, &self.target_dir) {
                return Err(InstallError::CacheIsTarget {
                    cache: cache.clone(),
                    target: self.target_dir.clone(),
                });
            }
        }
        // Terraform 1.15 leaves development overrides out of the requirements, so their
        // lock entries are dropped with the other unrequired ones.
        let requirements: Requirements = requirements
            .iter()
            .filter(|(p, _)| !self.dev_overrides.contains_key(p))
            .map(|(p, c)| (p.clone(), c.clone()))
            .collect();
        let mut locks = LockFile::new();
        for (provider, lock) in previous.providers() {
            locks.set_provider(
                provider.clone(),
                lock.version.clone(),
                lock.constraints.clone(),
                lock.hashes.clone(),
            );
        }
        let mut failures: Vec<(ProviderSource, ProviderError)> = Vec::new();
        let mut fail = |provider: &ProviderSource,
                        error: ProviderError,
                        observer: &mut dyn InstallObserver| {
            observer.on_event(&InstallEvent::Failure {
                provider: provider.clone(),
                error: error.to_string(),
            });
            failures.push((provider.clone(), error));
        };
        let mut outcomes = Vec::new();
        let mut incomplete = Vec::new();

        // Step 1: the versions each provider may have.
        let mut might_need: Vec<(&ProviderSource, &Constraints, Option<Version>)> = Vec::new();
        for (provider, constraints) in &requirements {
            if provider.is_builtin() {
                if !self.builtin_types.contains(&provider.type_name) {
                    fail(
                        provider,
                        ProviderErrorKind::UnknownBuiltIn(provider.type_name.clone()).into(),
                        observer,
                    );
                } else if !constraints.is_empty() {
                    fail(
                        provider,
                        ProviderErrorKind::BuiltInWithConstraints(provider.clone()).into(),
                        observer,
                    );
                } else {
                    observer.on_event(&InstallEvent::BuiltInProviderAvailable {
                        provider: provider.clone(),
                    });
                    outcomes.push(ProviderOutcome {
                        provider: provider.clone(),
                        version: None,
                        package_dir: None,
                        action: InstallAction::BuiltIn,
                    });
                }
                continue;
            }
            let mut locked = None;
            if mode == InstallMode::KeepLocked {
                if let Some(lock) = locks.provider(provider) {
                    if !constraints.allows(&lock.version) {
                        observer.on_event(&InstallEvent::QueryBegin {
                            provider: provider.clone(),
                            constraints: constraints.clone(),
                            locked: true,
                        });
                        let error = ProviderErrorKind::LockConflict {
                            provider: provider.clone(),
                            locked: lock.version.clone(),
                            constraints: constraints.to_string(),
                        };
                        fail(provider, error.into(), observer);
                        continue;
                    }
                    locked = Some(lock.version.clone());
                }
            }
            might_need.push((provider, constraints, locked));
        }

        // Step 2: the newest acceptable version any method has.
        let mut need: Vec<(&ProviderSource, &Constraints, Version)> = Vec::new();
        for (provider, constraints, locked) in might_need {
            observer.on_event(&InstallEvent::QueryBegin {
                provider: provider.clone(),
                constraints: constraints.clone(),
                locked: locked.is_some(),
            });
            let available = match self.source.available_versions(provider) {
                Ok(available) => available,
                Err(error) => {
                    fail(provider, error.into(), observer);
                    continue;
                }
            };
            for warning in available.warnings {
                observer.on_event(&InstallEvent::QueryWarning {
                    provider: provider.clone(),
                    warning,
                });
            }
            let chosen = available.versions.iter().rev().find(|v| match &locked {
                Some(locked) => *v == locked,
                None => constraints.allows(v),
            });
            match (chosen, locked) {
                (Some(version), _) => {
                    observer.on_event(&InstallEvent::QuerySuccess {
                        provider: provider.clone(),
                        version: version.clone(),
                    });
                    need.push((provider, constraints, version.clone()));
                }
                (None, Some(version)) => {
                    let error = ProviderErrorKind::LockedVersionUnavailable {
                        provider: provider.clone(),
                        version,
                        available: available.versions,
                    };
                    fail(provider, error.into(), observer);
                }
                (None, None) => {
                    let error = ProviderErrorKind::NoMatchingVersion {
                        provider: provider.clone(),
                        constraints: constraints.to_string(),
                        available: available.versions,
                    };
                    fail(provider, error.into(), observer);
                }
            }
        }

        // Step 3: install each chosen version.
        for (provider, constraints, version) in need {
            let preferred: Vec<Hash> = match locks.provider(provider) {
                Some(lock) if lock.version == version => lock.checkable_hashes(),
                _ => Vec::new(),
            };
            match self.install_one(
                provider,
                constraints,
                &version,
                &preferred,
                &mut locks,
                observer,
            ) {
                Ok((outcome, incomplete_lock)) => {
                    if incomplete_lock {
                        incomplete.push(provider.clone());
                    }
                    outcomes.push(outcome);
                }
                Err(error) => fail(provider, error, observer),
            }
        }

        // Lock entries of providers no longer required would make the working directory
        // invalid: not every locked provider would be installed.
        let unrequired: Vec<ProviderSource> = locks
            .providers()
            .map(|(p, _)| p.clone())
            .filter(|p| !requirements.contains_key(p))
            .collect();
        for provider in unrequired {
            locks.remove_provider(&provider);
        }

        if !failures.is_empty() {
            return Err(InstallError::Providers(failures));
        }
        outcomes.sort_by(|a, b| a.provider.cmp(&b.provider));
        let lock_changed = !locks.same_selections(previous);
        Ok(InstallOutcome {
            lock: locks,
            lock_changed,
            providers: outcomes,
            dev_overrides: self
                .dev_overrides
                .iter()
                .map(|(provider, dir)| DevOverride {
                    provider: provider.clone(),
                    dir: dir.clone(),
                })
                .collect(),
            incomplete_lock: if lock_changed { incomplete } else { Vec::new() },
        })
    }

    /// Installs one provider version; returns what happened and whether its lock entry
    /// now has only locally computed hashes.
    fn install_one(
        &self,
        provider: &ProviderSource,
        constraints: &Constraints,
        version: &Version,
        preferred: &[Hash],
        locks: &mut LockFile,
        observer: &mut dyn InstallObserver,
    ) -> Result<(ProviderOutcome, bool), ProviderError> {
        let outcome = |package_dir: PathBuf, action: InstallAction| ProviderOutcome {
            provider: provider.clone(),
            version: Some(version.clone()),
            package_dir: Some(package_dir),
            action,
        };

        // Already installed and matching the lock file: keep it, and its lock entry as is.
        if let Some(installed) =
            installed_package(&self.target_dir, provider, version, &self.platform)
        {
            if !preferred.is_empty()
                && matches_any(&PackageLocation::LocalDir(installed.clone()), preferred)
                    .unwrap_or(false)
            {
                observer.on_event(&InstallEvent::AlreadyInstalled {
                    provider: provider.clone(),
                    version: version.clone(),
                });
                return Ok((outcome(installed, InstallAction::Reused), false));
            }
        }

        if let Some(cache_dir) = &self.global_cache_dir {
            if let Some(cached) = installed_package(cache_dir, provider, version, &self.platform) {
                // Only a locked provider may come from the cache: a first installation
                // fetches from the origin so that the lock gets the origin's hashes.
                let acceptable = (!preferred.is_empty()
                    && matches_any(&PackageLocation::LocalDir(cached.clone()), preferred)
                        .unwrap_or(false))
                    || self.cache_may_break_lock_file;
                if acceptable {
                    observer.on_event(&InstallEvent::LinkFromCacheBegin {
                        provider: provider.clone(),
                        version: version.clone(),
                        cache_dir: cache_dir.clone(),
                    });
                    executable_file(&cached, &provider.type_name)?;
                    if !preferred.is_empty()
                        && !matches_any(&PackageLocation::LocalDir(cached.clone()), preferred)
                            .map_err(|source| hash_error(provider, version, source))?
                    {
                        return Err(self.mismatch(
                            provider,
                            version,
                            PackageKind::Cached,
                            &cached,
                            preferred,
                        ));
                    }
                    let target =
                        unpacked_package_dir(&self.target_dir, provider, version, &self.platform);
                    link_or_copy_dir(&cached, &target)?;
                    let installed = self.detect(&self.target_dir, provider, version)?;
                    let new_hash = hash::hash_dir(&cached)
                        .map_err(|source| hash_error(provider, version, source))?;
                    let mut hashes = preferred.to_vec();
                    hashes.push(new_hash.clone());
                    locks.set_provider(
                        provider.clone(),
                        version.clone(),
                        constraints.clone(),
                        hashes,
                    );
                    observer.on_event(&InstallEvent::LinkFromCacheSuccess {
                        provider: provider.clone(),
                        version: version.clone(),
                        package_dir: installed.clone(),
                    });
                    let incomplete = preferred.is_empty() || preferred == [new_hash];
                    return Ok((
                        outcome(
                            installed,
                            InstallAction::LinkedFromCache {
                                cache_dir: cache_dir.clone(),
                            },
                        ),
                        incomplete,
                    ));
                }
            }
        }

        let (index, meta) = self
            .source
            .package_meta(provider, version, &self.platform)?;
        let selector = &self.source.selectors[index];
        let from = selector.source.describe(provider);
        observer.on_event(&InstallEvent::FetchBegin {
            provider: provider.clone(),
            version: version.clone(),
            location: meta.location.to_string(),
        });
        // Only a remote package needs somewhere to be downloaded to; the scratch
        // directory lives until the package is installed.
        let mut scratch = None;
        let location = match &meta.location {
            PackageLocation::Remote(_) => selector
                .source
                .fetch(&meta, scratch.insert(tempdir_for_download()?).path())?,
            local => local.clone(),
        };
        let authentication = meta.authentication.authenticate(&location).map_err(|e| {
            ProviderError::from(ProviderErrorKind::Authentication {
                provider: provider.clone(),
                version: version.clone(),
                url: meta.location.to_string(),
                message: e.to_string(),
            })
        })?;
        let install_to = self.global_cache_dir.as_ref().unwrap_or(&self.target_dir);
        self.install_package(install_to, &meta, &location, preferred)?;
        drop(scratch);
        let mut installed = self.detect(install_to, provider, version)?;
        executable_file(&installed, &provider.type_name)?;
        if self.global_cache_dir.is_some() {
            let target = unpacked_package_dir(&self.target_dir, provider, version, &self.platform);
            link_or_copy_dir(&installed, &target)?;
            installed = self.detect(&self.target_dir, provider, version)?;
            executable_file(&installed, &provider.type_name)?;
        }
        let new_hash =
            hash::hash_dir(&installed).map_err(|source| hash_error(provider, version, source))?;
        // Only a signature vouches for the hashes of the other platforms' packages.
        let signed = authentication.signed_by_any_party();
        let authenticated = authentication != Authentication::Unauthenticated;
        let mut hashes = vec![new_hash.clone()];
        hashes.extend(preferred.iter().cloned());
        if signed {
            hashes.extend(meta.authentication.acceptable_hashes());
        }
        locks.set_provider(
            provider.clone(),
            version.clone(),
            constraints.clone(),
            hashes,
        );
        observer.on_event(&InstallEvent::FetchSuccess {
            provider: provider.clone(),
            version: version.clone(),
            package_dir: installed.clone(),
            authenticated,
            authentication: authentication.clone(),
        });
        let incomplete = !signed && (preferred.is_empty() || preferred == [new_hash]);
        Ok((
            outcome(
                installed,
                InstallAction::Installed {
                    from,
                    authenticated,
                    authentication,
                },
            ),
            incomplete,
        ))
    }

    /// Puts a package into `base_dir` (the target or the cache), after checking it
    /// against the lock file's hashes.
    fn install_package(
        &self,
        base_dir: &Path,
        meta: &PackageMeta,
        location: &PackageLocation,
        allowed: &[Hash],
    ) -> Result<(), ProviderError> {
        let target = unpacked_package_dir(base_dir, &meta.provider, &meta.version, &self.platform);
        match location {
            PackageLocation::LocalArchive(archive) => {
                if !allowed.is_empty() && !matches_any(location, allowed).map_err(|source| hash_error(&meta.provider, &meta.version, source))? {
                    return Err(self.mismatch(&meta.provider, &meta.version, PackageKind::Archive, archive, allowed));
                }
                if fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(ProviderErrorKind::TargetIsSymlink(target).into());
                }
                extract_zip(archive, &target)
            }
            PackageLocation::LocalDir(dir) => {
                if same_file(&target, dir) {
                    return Err(ProviderErrorKind::InstallToItself(target).into());
                }
                // A local directory cannot be checked against `zh:` hashes (they are of
                // the archive); like Terraform, a lock with only those lets it through.
                let checkable = allowed.iter().any(|h| h.scheme() != HashScheme::Zip);
                if checkable && !matches_any(location, allowed).map_err(|source| hash_error(&meta.provider, &meta.version, source))? {
                    return Err(self.mismatch(&meta.provider, &meta.version, PackageKind::LocalDir, dir, allowed));
                }
                link_or_copy_dir(dir, &target)
            }
            PackageLocation::Remote(url) => Err(SourceError::Other(format!("the package at {url} was not downloaded before installation; this is a bug in terrane")).into()),
        }
    }

    fn detect(
        &self,
        base_dir: &Path,
        provider: &ProviderSource,
        version: &Version,
    ) -> Result<PathBuf, ProviderError> {
        installed_package(base_dir, provider, version, &self.platform).ok_or_else(|| {
            ProviderErrorKind::NotDetected {
                provider: provider.clone(),
                dir: base_dir.to_path_buf(),
            }
            .into()
        })
    }

    fn mismatch(
        &self,
        provider: &ProviderSource,
        version: &Version,
        kind: PackageKind,
        package: &Path,
        expected: &[Hash],
    ) -> ProviderError {
        let location = match kind {
            PackageKind::Archive => PackageLocation::LocalArchive(package.to_path_buf()),
            _ => PackageLocation::LocalDir(package.to_path_buf()),
        };
        let actual = package_hash(&location)
            .unwrap_or_else(|_| Hash::parse("h1:?").expect("a valid hash literal"));
        ProviderErrorKind::ChecksumMismatch {
            provider: provider.clone(),
            version: version.clone(),
            kind,
            package: package.to_path_buf(),
            lock_file: self.lock_file_path.clone(),
            actual,
            expected: expected.to_vec(),
        }
        .into()
    }
}

fn hash_error(
    provider: &ProviderSource,
    version: &Version,
    source: hash::HashError,
) -> ProviderError {
    ProviderErrorKind::Hash {
        provider: provider.clone(),
        version: version.clone(),
        source,
    }
    .into()
}

/// A scratch directory for sources that download; removed when dropped.
fn tempdir_for_download() -> Result<ScratchDir, ProviderError> {
    let path = std::env::temp_dir().join(format!(
        "terrane-provider-{}-{}",
        std::process::id(),
        unique_suffix()
    ));
    fs::create_dir_all(&path).map_err(|source| {
        ProviderError::from(ProviderErrorKind::Io {
            action: "cannot create the temporary directory",
            path: path.clone(),
            source,
        })
    })?;
    Ok(ScratchDir(path))
}

fn unique_suffix() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    nanos ^ u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))
}

struct ScratchDir(PathBuf);

impl ScratchDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The `h1:` of a package: an unpacked directory or an archive.
fn package_hash(location: &PackageLocation) -> Result<Hash, hash::HashError> {
    match location {
        PackageLocation::LocalArchive(archive) => hash::hash_zip(archive),
        PackageLocation::LocalDir(dir) => hash::hash_dir(dir),
        PackageLocation::Remote(url) => Err(hash::HashError::Io {
            path: PathBuf::from(url),
            source: io::Error::new(
                io::ErrorKind::Unsupported,
                "a remote package cannot be hashed before it is downloaded",
            ),
        }),
    }
}

/// Whether a package matches one of `allowed` (Terraform's `PackageMatchesAnyHash`):
/// `h1:` for any package, `zh:` only for an archive, unknown schemes never.
pub fn matches_any(location: &PackageLocation, allowed: &[Hash]) -> Result<bool, hash::HashError> {
    let mut h1 = None;
    let mut zh = None;
    for want in allowed {
        match want.scheme() {
            HashScheme::H1 => {
                if h1.is_none() {
                    h1 = Some(package_hash(location)?);
                }
                if h1.as_ref() == Some(want) {
                    return Ok(true);
                }
            }
            HashScheme::Zip => {
                let PackageLocation::LocalArchive(archive) = location else {
                    continue;
                };
                if zh.is_none() {
                    zh = Some(hash::hash_zip_file(archive)?);
                }
                if zh.as_ref() == Some(want) {
                    return Ok(true);
                }
            }
            HashScheme::Other => {}
        }
    }
    Ok(false)
}

/// The provider's executable in a package directory: the first entry, by name, that is
/// `terraform-provider-TYPE` alone or followed by `_` or `.` (`terraform-provider-aws_v5.0.0_x5`).
pub fn executable_file(package_dir: &Path, type_name: &str) -> Result<PathBuf, ProviderError> {
    let missing = || {
        ProviderError::from(ProviderErrorKind::MissingExecutable {
            type_name: type_name.to_string(),
            dir: package_dir.to_path_buf(),
        })
    };
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(package_dir)
        .map_err(|_| missing())?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let prefix = format!("terraform-provider-{type_name}");
    for entry in entries {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        if rest.is_empty() || rest.starts_with('_') || rest.starts_with('.') {
            return Ok(entry.path());
        }
    }
    Err(missing())
}

/// Whether two paths are the same directory entry (Go's `os.SameFile` on `Lstat`s):
/// false when either does not exist.
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (fs::symlink_metadata(a), fs::symlink_metadata(b)) {
        #[cfg(unix)]
        (Ok(ma), Ok(mb)) => {
            use std::os::unix::fs::MetadataExt as _;
            ma.dev() == mb.dev() && ma.ino() == mb.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => fs::canonicalize(a).ok() == fs::canonicalize(b).ok(),
        _ => false,
    }
}

/// Replaces `target` with a symlink to `source` (both absolute), or a copy of it where
/// symlinks cannot be made: Terraform's `installFromLocalDir`.
fn link_or_copy_dir(source: &Path, target: &Path) -> Result<(), ProviderError> {
    let io_error = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| {
            ProviderError::from(ProviderErrorKind::Io {
                action,
                path,
                source,
            })
        }
    };
    let source =
        std::path::absolute(source).map_err(io_error("cannot make the path absolute:", source))?;
    let target =
        std::path::absolute(target).map_err(io_error("cannot make the path absolute:", target))?;
    if same_file(&target, &source) {
        return Err(ProviderErrorKind::InstallToItself(target).into());
    }
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&target)
            .map_err(io_error("failed to remove the existing", &target))?,
        Ok(_) => {
            fs::remove_file(&target).map_err(io_error("failed to remove the existing", &target))?
        }
        Err(_) => {}
    }
    if let Some(parent) = target.parent() {
        create_dirs(parent).map_err(io_error(
            "failed to create parent directories leading to",
            &target,
        ))?;
    }
    if symlink_dir(&source, &target).is_ok() {
        return Ok(());
    }
    create_dirs(&target).map_err(io_error("failed to create directory", &target))?;
    copy_dir(&source, &target).map_err(io_error(
        "failed to either symlink or copy the package to",
        &target,
    ))
}

#[cfg(unix)]
fn symlink_dir(source: &Path, target: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(source, target)
}

#[cfg(windows)]
fn symlink_dir(source: &Path, target: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_dir(source, target)
}

#[cfg(not(any(unix, windows)))]
fn symlink_dir(_source: &Path, _target: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks are not supported here",
    ))
}

fn copy_dir(source: &Path, target: &Path) -> io::Result<()> {
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let to = target.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            create_dirs(&to)?;
            copy_dir(&entry.path(), &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Extracts a provider archive into `target` as Terraform's unzip does: directories
/// 0755, files with the mode the archive records (0666 when it records none), existing
/// files overwritten, entries with `..` refused.
fn extract_zip(archive: &Path, target: &Path) -> Result<(), ProviderError> {
    unzip(archive, target).map_err(|message| {
        ProviderError::from(ProviderErrorKind::Extract {
            archive: archive.to_path_buf(),
            message,
        })
    })
}

/// [`extract_zip`]'s extraction, for module packages too; the error is the reason.
pub(crate) fn unzip(archive: &Path, target: &Path) -> Result<(), String> {
    let failed = |message: String| message;
    let file = fs::File::open(archive).map_err(|e| failed(e.to_string()))?;
    let mut zip =
        zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| failed(e.to_string()))?;
    if zip.is_empty() {
        return Err(failed("empty archive".to_string()));
    }
    create_dirs(target).map_err(|e| failed(e.to_string()))?;
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|e| failed(e.to_string()))?;
        let name = entry.name().to_string();
        if name.split(['/', '\\']).any(|part| part == "..") {
            return Err(failed(format!("entry contains '..': {name}")));
        }
        let path = target.join(name.trim_start_matches('/'));
        if entry.is_dir() {
            create_dirs(&path).map_err(|e| failed(e.to_string()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            create_dirs(parent).map_err(|e| failed(e.to_string()))?;
        }
        let mode = entry.unix_mode().map_or(0o666, |m| m & 0o7777);
        write_entry(&path, &mut entry, mode)
            .map_err(|e| failed(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

pub(crate) fn create_dirs(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o755);
    }
    builder.create(path)
}

pub(crate) fn write_entry(path: &Path, reader: &mut impl io::Read, mode: u32) -> io::Result<()> {
    let mut out = fs::File::create(path)?;
    io::copy(reader, &mut out)?;
    drop(out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

fn explicit_source(
    installation: &crate::cliconfig::ProviderInstallation,
    working_dir: &Path,
    client: &Arc<HttpClient>,
) -> MultiSource {
    let mut source = MultiSource::default();
    for method in &installation.methods {
        let mut selector = match &method.location {
            MethodLocation::Direct => SourceSelector::new(RegistrySource::new(client.clone())),
            MethodLocation::FilesystemMirror(path) => {
                SourceSelector::new(FilesystemMirror::new(working_dir.join(path)))
            }
            MethodLocation::NetworkMirror(url) => {
                SourceSelector::new(NetworkMirror::new(url.clone(), client.clone()))
            }
        };
        selector.include = method.include.clone();
        selector.exclude = method.exclude.clone();
        source.selectors.push(selector);
    }
    source
}

/// Terraform's implied methods: every existing local plugin directory, then `direct`
/// for the providers none of them has.
fn implied_source(cli: &CliConfig, working_dir: &Path, client: &Arc<HttpClient>) -> MultiSource {
    let mut source = MultiSource::default();
    let mut found_locally: Vec<ProviderPattern> = Vec::new();
    let dirs = std::iter::once(working_dir.join("terraform.d").join("plugins"))
        .chain(cli.implied_plugin_dirs.iter().cloned());
    for dir in dirs.filter(|d| d.is_dir()) {
        let mirror = FilesystemMirror::new(dir);
        if let Ok(packages) = mirror.all_packages() {
            found_locally.extend(packages.keys().map(ProviderPattern::exactly));
        }
        source.selectors.push(SourceSelector::new(mirror));
    }
    let mut direct = SourceSelector::new(RegistrySource::new(client.clone()));
    direct.exclude = found_locally;
    source.selectors.push(direct);
    source
}

/// Installs `requirements` as `terrane init` does in `working_dir` with this CLI
/// configuration and the previous lock file; `upgrade` is `terrane init -upgrade`.
pub fn install(
    requirements: &Requirements,
    previous: &LockFile,
    cli: &CliConfig,
    working_dir: &Path,
    upgrade: bool,
    observer: &mut dyn InstallObserver,
) -> Result<InstallOutcome, InstallError> {
    let mode = if upgrade {
        InstallMode::Upgrade
    } else {
        InstallMode::KeepLocked
    };
    Installer::from_cli_config(cli, working_dir).ensure(requirements, previous, mode, observer)
}

/// Why a provider's executable cannot be run: a [`LocateErrorKind`], boxed.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct LocateError(Box<LocateErrorKind>);

impl LocateError {
    pub fn kind(&self) -> &LocateErrorKind {
        &self.0
    }
}

impl From<LocateErrorKind> for LocateError {
    fn from(kind: LocateErrorKind) -> Self {
        LocateError(Box::new(kind))
    }
}

/// The ways finding a provider's executable fails.
#[derive(Debug, thiserror::Error)]
pub enum LocateErrorKind {
    #[error("provider {0} is not installed: run `terrane init`")]
    NotLocked(ProviderSource),
    #[error("provider {provider} {version} is recorded in the dependency lock file but not installed in {}: run `terrane init`", .dir.display())]
    NotInstalled {
        provider: ProviderSource,
        version: Version,
        dir: PathBuf,
    },
    #[error("the installed package of {provider} {version} at {} does not match any of the checksums recorded in the dependency lock file {}: it has {actual}, the lock file allows {}; run `terrane init` to reinstall it", .package.display(), .lock_file.display(), list_hashes(.expected))]
    ChecksumMismatch {
        provider: ProviderSource,
        version: Version,
        package: PathBuf,
        lock_file: PathBuf,
        actual: Hash,
        expected: Vec<Hash>,
    },
    #[error("cannot verify the checksum of {provider}: {source}")]
    Hash {
        provider: ProviderSource,
        source: hash::HashError,
    },
    #[error("provider {0} is built in: it has no executable")]
    BuiltIn(ProviderSource),
    #[error("the development override for {provider} in the CLI configuration names {}, which has no executable starting with terraform-provider-{}", .dir.display(), .provider.type_name)]
    DevOverrideMissing {
        provider: ProviderSource,
        dir: PathBuf,
    },
    #[error("{0}")]
    Executable(ProviderError),
}

/// The executable to run for `provider`: from its development override directory if
/// the CLI configuration has one, else from its installed package, whose `h1:` must be
/// one the lock file records (Terraform's check before starting a provider).
pub fn locate(
    provider: &ProviderSource,
    lock: &LockFile,
    working_dir: &Path,
    cli: &CliConfig,
) -> Result<PathBuf, LocateError> {
    if let Some(dir) = cli.dev_overrides().get(provider) {
        return executable_file(&working_dir.join(dir), &provider.type_name).map_err(|_| {
            LocateErrorKind::DevOverrideMissing {
                provider: provider.clone(),
                dir: dir.clone(),
            }
            .into()
        });
    }
    if provider.is_builtin() {
        return Err(LocateErrorKind::BuiltIn(provider.clone()).into());
    }
    let entry = lock
        .provider(provider)
        .ok_or_else(|| LocateError::from(LocateErrorKind::NotLocked(provider.clone())))?;
    let dir = providers_dir(working_dir);
    let package = installed_package(&dir, provider, &entry.version, &Platform::current())
        .ok_or_else(|| {
            LocateError::from(LocateErrorKind::NotInstalled {
                provider: provider.clone(),
                version: entry.version.clone(),
                dir: dir.clone(),
            })
        })?;
    let hash_failed = |source| {
        LocateError::from(LocateErrorKind::Hash {
            provider: provider.clone(),
            source,
        })
    };
    let expected = entry.checkable_hashes();
    if !expected.is_empty()
        && !matches_any(&PackageLocation::LocalDir(package.clone()), &expected)
            .map_err(hash_failed)?
    {
        let actual = hash::hash_dir(&package).map_err(hash_failed)?;
        return Err(LocateErrorKind::ChecksumMismatch {
            provider: provider.clone(),
            version: entry.version.clone(),
            package,
            lock_file: working_dir.join(LOCK_FILE_NAME),
            actual,
            expected,
        }
        .into());
    }
    executable_file(&package, &provider.type_name)
        .map_err(|error| LocateErrorKind::Executable(error).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn an_installer_can_cross_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Installer>();
    }

    #[test]
    fn the_executable_is_found_by_terraforms_naming_rule() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "CHANGELOG.md",
            "terraform-provider-awsx",
            "terraform-provider-aws_v5.1.0_x5",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        fs::create_dir(dir.path().join("terraform-provider-aws.d")).unwrap();
        let exe = executable_file(dir.path(), "aws").unwrap();
        assert_eq!(exe, dir.path().join("terraform-provider-aws_v5.1.0_x5"));
        let message = executable_file(dir.path(), "google")
            .unwrap_err()
            .to_string();
        assert!(message.contains("terraform-provider-google"), "{message}");
    }

    #[test]
    fn extraction_refuses_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil.zip");
        let mut zip = zip::ZipWriter::new(fs::File::create(&archive).unwrap());
        zip.start_file("../escape", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"x").unwrap();
        zip.finish().unwrap();
        let message = extract_zip(&archive, &dir.path().join("out"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("entry contains '..'"), "{message}");
        assert!(!dir.path().join("escape").exists());
    }

    #[test]
    fn built_in_providers_need_nothing_but_take_no_constraints() {
        let dir = tempfile::tempdir().unwrap();
        let installer = Installer::new(dir.path().join("providers"), MultiSource::default());
        let builtin = ProviderSource::builtin("terraform");
        let mut requirements = Requirements::new();
        requirements.insert(builtin.clone(), Constraints::none());
        let outcome = installer
            .ensure(
                &requirements,
                &LockFile::new(),
                InstallMode::KeepLocked,
                &mut NoObserver,
            )
            .unwrap();
        assert_eq!(outcome.providers[0].action, InstallAction::BuiltIn);
        assert!(outcome.lock.is_empty() && !outcome.lock_changed);

        requirements.insert(builtin, Constraints::parse("1.0.0").unwrap());
        requirements.insert(ProviderSource::builtin("nope"), Constraints::none());
        let Err(InstallError::Providers(failures)) = installer.ensure(
            &requirements,
            &LockFile::new(),
            InstallMode::KeepLocked,
            &mut NoObserver,
        ) else {
            panic!("expected failures");
        };
        let messages: Vec<String> = failures.iter().map(|(_, e)| e.to_string()).collect();
        assert_eq!(messages, ["this Terraform release has no built-in provider named \"nope\"", "built-in providers do not support explicit version constraints; remove the version argument for terraform.io/builtin/terraform"]);
    }

    #[test]
    fn a_provider_no_method_has_names_every_place_searched() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = dir.path().join("mirror");
        let package = mirror
            .join("registry.terraform.io/example/x/1.0.0")
            .join(Platform::current().to_string());
        fs::create_dir_all(&package).unwrap();
        fs::write(package.join("terraform-provider-x"), "x").unwrap();
        let source = MultiSource {
            selectors: vec![SourceSelector::new(FilesystemMirror::new(&mirror))],
        };
        let x = ProviderSource::parse("example/x").unwrap();
        let available = source.available_versions(&x).unwrap();
        assert_eq!(available.versions, [Version::new(1, 0, 0)]);
        let y = ProviderSource::parse("example/y").unwrap();
        let message = source.available_versions(&y).unwrap_err().to_string();
        assert!(
            message.contains("was not found in any of the search locations")
                && message.contains(&mirror.display().to_string()),
            "{message}"
        );
    }
}
