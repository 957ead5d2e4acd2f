//! Where provider packages come from: the [`PackageSource`] trait, which a filesystem
//! mirror implements today and the network mirror and registry protocols can implement
//! later, and [`MultiSource`], the ordered list of installation methods with their
//! `include`/`exclude` patterns that Terraform builds from the CLI configuration.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::addr::{ProviderPattern, ProviderSource};
use crate::hash::Hash;
use crate::platform::Platform;
use crate::version::Version;

/// Where a package is, once a source has found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageLocation {
    /// An unpacked package directory: installed by linking it (or copying it).
    LocalDir(PathBuf),
    /// A `.zip` archive on disk: installed by extracting it.
    LocalArchive(PathBuf),
    /// A `.zip` archive at a URL; [`PackageSource::fetch`] brings it to disk.
    Remote(String),
}

impl fmt::Display for PackageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageLocation::LocalDir(path) | PackageLocation::LocalArchive(path) => {
                write!(f, "{}", path.display())
            }
            PackageLocation::Remote(url) => f.write_str(url),
        }
    }
}

/// One package of one provider version for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMeta {
    pub provider: ProviderSource,
    pub version: Version,
    pub platform: Platform,
    pub location: PackageLocation,
    /// Hashes the source vouches for, typically every platform's `zh:` from a registry's
    /// signed `SHA256SUMS`. Terraform records them in the lock file only when they were
    /// authenticated; a mirror vouches for nothing, so a package from a mirror is
    /// "unauthenticated" and only its own `h1:` is locked.
    pub authenticated_hashes: Vec<Hash>,
}

/// Which package: a provider version for a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageId {
    pub provider: ProviderSource,
    pub version: Version,
    pub platform: Platform,
}

impl SourceError {
    /// The error for a version a source has, but not for `platform`.
    pub fn platform_not_supported(
        provider: &ProviderSource,
        version: &Version,
        platform: &Platform,
    ) -> SourceError {
        SourceError::PlatformNotSupported(Box::new(PackageId {
            provider: provider.clone(),
            version: version.clone(),
            platform: platform.clone(),
        }))
    }
}

/// A failure of one source; the ones Terraform treats as "not here" let the next source
/// be tried.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("provider {} {} is not available for {}", .0.provider, .0.version, .0.platform)]
    PlatformNotSupported(Box<PackageId>),
    #[error("cannot search {path} for providers: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{method} is not implemented in terrane yet, so {provider} cannot be installed from it; put the provider in a filesystem_mirror and name that mirror in the provider_installation block of the CLI configuration (or exclude {provider} from {method})")]
    Unsupported {
        method: String,
        provider: ProviderSource,
    },
    #[error("{0}")]
    Other(String),
}

/// A place provider packages can be found: a filesystem mirror, a network mirror, a
/// registry. Implementations answer queries only; the installer does the installing.
/// They are `Send + Sync` so that an installer can live in an async caller.
pub trait PackageSource: Send + Sync {
    /// How messages name this source: a mirror's directory, a mirror's URL, "the
    /// registry at HOST".
    fn describe(&self, provider: &ProviderSource) -> String;

    /// The distinct versions of `provider` this source has for any platform, in any
    /// order; empty when it has none.
    fn available_versions(&self, provider: &ProviderSource) -> Result<Vec<Version>, SourceError>;

    /// The package of `version` for `platform`, or [`SourceError::PlatformNotSupported`].
    fn package_meta(
        &self,
        provider: &ProviderSource,
        version: &Version,
        platform: &Platform,
    ) -> Result<PackageMeta, SourceError>;

    /// Brings a [`PackageLocation::Remote`] package onto disk under `scratch` (verifying
    /// whatever the source promises about it) and returns where it now is. Sources whose
    /// packages are already on disk keep this default.
    fn fetch(&self, meta: &PackageMeta, scratch: &Path) -> Result<PackageLocation, SourceError> {
        let _ = scratch;
        match &meta.location {
            PackageLocation::Remote(url) => Err(SourceError::Other(format!(
                "{} cannot download {url}; this is a bug in terrane",
                self.describe(&meta.provider)
            ))),
            local => Ok(local.clone()),
        }
    }
}

/// One installation method with the providers it may serve.
pub struct SourceSelector {
    pub source: Box<dyn PackageSource>,
    /// When not empty, only providers matching one of these.
    pub include: Vec<ProviderPattern>,
    /// Never providers matching one of these (exclusion wins over inclusion).
    pub exclude: Vec<ProviderPattern>,
}

impl SourceSelector {
    pub fn new(source: impl PackageSource + 'static) -> SourceSelector {
        SourceSelector {
            source: Box::new(source),
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// Whether this method may serve `provider` (Terraform's `CanHandleProvider`).
    pub fn can_handle(&self, provider: &ProviderSource) -> bool {
        if self.exclude.iter().any(|p| p.matches(provider)) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(|p| p.matches(provider))
    }
}

/// The installation methods in order. The available versions of a provider are the
/// union over every method that may serve it; a package is taken from the first method
/// that has the chosen version for the platform.
#[derive(Default)]
pub struct MultiSource {
    pub selectors: Vec<SourceSelector>,
}

/// What the installation methods offer for one provider.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Available {
    /// Distinct versions, oldest first.
    pub versions: Vec<Version>,
    /// Things the user should know about the answer, such as a method that was skipped.
    pub warnings: Vec<String>,
}

/// Why the available versions of a provider could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("provider {provider} was not found in any of the search locations{}", list_locations(.locations))]
    NotFound {
        provider: ProviderSource,
        locations: Vec<String>,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
}

fn list_locations(locations: &[String]) -> String {
    if locations.is_empty() {
        return " (no installation method in the CLI configuration may install it; check the include and exclude patterns of its provider_installation block)".to_string();
    }
    locations.iter().map(|l| format!("\n  - {l}")).collect()
}

impl MultiSource {
    /// The distinct versions every method that may serve `provider` has, oldest first.
    ///
    /// A method terrane cannot use yet ([`SourceError::Unsupported`]) fails the query
    /// only when no other method has any version; otherwise it is skipped with a warning,
    /// because Terraform would have asked it too and might have chosen differently.
    pub fn available_versions(&self, provider: &ProviderSource) -> Result<Available, QueryError> {
        let mut available = Available::default();
        let mut unsupported = None;
        for selector in self.selectors.iter().filter(|s| s.can_handle(provider)) {
            match selector.source.available_versions(provider) {
                Ok(versions) => {
                    for version in versions {
                        if !available.versions.contains(&version) {
                            available.versions.push(version);
                        }
                    }
                }
                Err(error @ SourceError::Unsupported { .. }) => {
                    available.warnings.push(format!(
                        "{} was not consulted for {provider}: it is not implemented in terrane yet",
                        selector.source.describe(provider)
                    ));
                    unsupported.get_or_insert(error);
                }
                Err(other) => return Err(other.into()),
            }
        }
        if available.versions.is_empty() {
            if let Some(error) = unsupported {
                return Err(error.into());
            }
            return Err(QueryError::NotFound {
                provider: provider.clone(),
                locations: self.locations(provider),
            });
        }
        available.versions.sort();
        Ok(available)
    }

    /// The package of `version` for `platform` from the first method that has it, with
    /// the index of that method (to fetch it through).
    pub fn package_meta(
        &self,
        provider: &ProviderSource,
        version: &Version,
        platform: &Platform,
    ) -> Result<(usize, PackageMeta), SourceError> {
        let mut unsupported = None;
        for (index, selector) in self.selectors.iter().enumerate() {
            if !selector.can_handle(provider) {
                continue;
            }
            match selector.source.package_meta(provider, version, platform) {
                Ok(meta) => return Ok((index, meta)),
                Err(SourceError::PlatformNotSupported(_)) => continue,
                Err(error @ SourceError::Unsupported { .. }) => {
                    unsupported.get_or_insert(error);
                }
                Err(other) => return Err(other),
            }
        }
        Err(unsupported
            .unwrap_or_else(|| SourceError::platform_not_supported(provider, version, platform)))
    }

    /// The places that may serve `provider`, as messages list them.
    pub fn locations(&self, provider: &ProviderSource) -> Vec<String> {
        self.selectors
            .iter()
            .filter(|s| s.can_handle(provider))
            .map(|s| s.source.describe(provider))
            .collect()
    }
}

/// The `direct` installation method (a provider's origin registry) and `network_mirror`:
/// terrane does not speak their protocols yet, so they answer every query with
/// [`SourceError::Unsupported`], which names the way around it.
pub struct UnsupportedSource {
    method: String,
}

impl UnsupportedSource {
    /// The `direct` method: the registry protocol (service discovery, `providers.v1`,
    /// `SHA256SUMS` and its signature).
    pub fn direct() -> UnsupportedSource {
        UnsupportedSource {
            method: "installing from a provider registry (the direct installation method)"
                .to_string(),
        }
    }

    /// A `network_mirror` at `url`.
    pub fn network_mirror(url: &str) -> UnsupportedSource {
        UnsupportedSource {
            method: format!("the network mirror protocol (network_mirror {url})"),
        }
    }
}

impl PackageSource for UnsupportedSource {
    fn describe(&self, _provider: &ProviderSource) -> String {
        self.method.clone()
    }

    fn available_versions(&self, provider: &ProviderSource) -> Result<Vec<Version>, SourceError> {
        Err(SourceError::Unsupported {
            method: self.method.clone(),
            provider: provider.clone(),
        })
    }

    fn package_meta(
        &self,
        provider: &ProviderSource,
        _version: &Version,
        _platform: &Platform,
    ) -> Result<PackageMeta, SourceError> {
        Err(SourceError::Unsupported {
            method: self.method.clone(),
            provider: provider.clone(),
        })
    }
}
