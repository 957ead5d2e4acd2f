//! Where provider packages come from: the [`PackageSource`] trait, which filesystem
//! mirrors ([`crate::mirror`]), network mirrors ([`crate::netmirror`]) and registries
//! ([`crate::registry`]) implement, and [`MultiSource`], the ordered list of installation
//! methods with their `include`/`exclude` patterns that Terraform builds from the CLI
//! configuration.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::addr::{ProviderPattern, ProviderSource};
use crate::auth::PackageAuthentication;
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
    /// What the source vouches for about the package, checked once it is on disk: a
    /// registry's signed `SHA256SUMS` (whose every `zh:` the lock file then records), a
    /// network mirror's hashes, or nothing (a filesystem mirror: "unauthenticated", and
    /// only the package's own `h1:` is locked).
    pub authentication: PackageAuthentication,
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
        SourceError::PlatformNotSupported {
            package: Box::new(PackageId {
                provider: provider.clone(),
                version: version.clone(),
                platform: platform.clone(),
            }),
            checked: None,
        }
    }
}

/// A failure of one source; the ones Terraform treats as "not here" let the next source
/// be tried ([`SourceError::is_not_found`]).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("provider {} {} is not available for {}{}; provider releases are separate from terrane's, so not every provider is available for every platform: another version may be, which a version constraint in required_providers can select", .package.provider, .package.version, .package.platform, .checked.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    PlatformNotSupported {
        package: Box<PackageId>,
        /// What said so, when a network source did: "URL answered 404 Not Found".
        checked: Option<String>,
    },
    #[error("cannot search {path} for providers: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The registry answered 404 for the provider's versions.
    #[error("provider registry {hostname} does not have a provider named {provider} ({url} answered 404 Not Found); check the provider's source address in required_providers: a provider outside the \"hashicorp\" namespace needs source = \"NAMESPACE/TYPE\" in every module that uses it", hostname = .provider.hostname)]
    RegistryProviderNotKnown {
        provider: Box<ProviderSource>,
        url: String,
    },
    /// A network mirror has no index for the provider (404).
    #[error("provider mirror {mirror} does not have provider {provider}")]
    MirrorProviderNotFound {
        provider: Box<ProviderSource>,
        mirror: String,
    },
    /// The registry host did not answer service discovery.
    #[error("could not connect to {hostname} to install {provider}: {message}; check the hostname in the provider's source address, this machine's network connection and proxy settings (HTTPS_PROXY), or install the provider from a mirror named in the provider_installation block of the CLI configuration", hostname = .provider.hostname)]
    HostUnreachable {
        provider: Box<ProviderSource>,
        message: String,
    },
    /// Service discovery worked, but the host offers no provider registry.
    #[error("{}", host_no_providers(.provider, *.other_version, .url))]
    HostNoProviders {
        provider: Box<ProviderSource>,
        /// The host offers another version of the protocol.
        other_version: bool,
        /// The discovery document's URL.
        url: String,
    },
    /// A registry or mirror answered 401 or 403.
    #[error("{url} answered {status}: the server requires authentication credentials, which terrane does not send yet (no credentials blocks or TF_TOKEN_* variables); install {provider} from a filesystem_mirror or a network_mirror that needs none")]
    Unauthorized {
        provider: Box<ProviderSource>,
        url: String,
        status: String,
    },
    /// A registry or mirror answered, but not usefully.
    #[error("could not query {source_name} for {provider}: {message}")]
    QueryFailed {
        provider: Box<ProviderSource>,
        /// "provider registry HOST" or "provider mirror URL".
        source_name: String,
        message: String,
    },
    /// None of the version's plugin protocols is 5 or 6.
    #[error("provider {} {} is not supported by terrane (and Terraform 1.x): it speaks plugin protocol {}, and terrane speaks 5 and 6; {}", .0.provider, .0.version, .0.protocols.join(", "), match &.0.suggestion { Some(v) => format!("version {v} is the newest that terrane can use: select it with version = \"{v}\" in required_providers"), None => "no version of it that terrane can use was found".to_string() })]
    ProtocolNotSupported(Box<ProtocolMismatch>),
    /// The package could not be downloaded.
    #[error("cannot download {} {} from {url}: {message}; check this machine's network connection and try again", .package.provider, .package.version)]
    Download {
        package: Box<PackageId>,
        url: String,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

/// A provider version whose plugin protocols terrane does not speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolMismatch {
    pub provider: ProviderSource,
    pub version: Version,
    /// The protocols the registry lists for it.
    pub protocols: Vec<String>,
    /// The newest version that speaks 5 or 6, if any.
    pub suggestion: Option<Version>,
}

fn host_no_providers(provider: &ProviderSource, other_version: bool, url: &str) -> String {
    let hostname = &provider.hostname;
    if other_version {
        format!("the host {hostname:?} given in provider source address {provider:?} does not offer a Terraform provider registry that is compatible with this version (its discovery document {url} lists another version of providers.v1), but it may be compatible with a different version of Terraform", provider = provider.to_string())
    } else {
        format!("the host {hostname:?} given in provider source address {provider:?} does not offer a Terraform provider registry (its discovery document {url} has no providers.v1); check the hostname in the source address", provider = provider.to_string())
    }
}

impl SourceError {
    /// Whether the source answered that it does not have the provider or package, so
    /// that the next source may (Terraform's `ErrIsNotExist`).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            SourceError::PlatformNotSupported { .. }
                | SourceError::RegistryProviderNotKnown { .. }
                | SourceError::MirrorProviderNotFound { .. }
        )
    }
}

/// A place provider packages can be found: a filesystem mirror, a network mirror, a
/// registry. Implementations answer queries only; the installer does the installing.
/// They are `Send + Sync` so that an installer can live in an async caller.
pub trait PackageSource: Send + Sync {
    /// How messages name this source: a mirror's directory, a mirror's URL, "the
    /// registry at HOST".
    fn describe(&self, provider: &ProviderSource) -> String;

    /// The distinct versions of `provider` this source has for any platform, oldest
    /// first (empty when it has none), with any warnings the source gave about them (a
    /// registry's `warnings`).
    fn available_versions(&self, provider: &ProviderSource) -> Result<Available, SourceError>;

    /// The package of `version` for `platform`, or [`SourceError::PlatformNotSupported`].
    fn package_meta(
        &self,
        provider: &ProviderSource,
        version: &Version,
        platform: &Platform,
    ) -> Result<PackageMeta, SourceError>;

    /// Brings a [`PackageLocation::Remote`] package onto disk under `scratch` and returns
    /// where it now is; the installer then checks it against
    /// [`PackageMeta::authentication`]. Sources whose packages are already on disk keep
    /// this default.
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
    /// The distinct versions every method that may serve `provider` has, oldest first,
    /// with the warnings they gave. A method that does not have the provider is skipped;
    /// any other failure fails the query. When none has it, a registry's "not known"
    /// answer is the error if there was one (it names the registry), else
    /// [`QueryError::NotFound`] with every place that was searched.
    pub fn available_versions(&self, provider: &ProviderSource) -> Result<Available, QueryError> {
        let mut available = Available::default();
        let mut registry_error = None;
        for selector in self.selectors.iter().filter(|s| s.can_handle(provider)) {
            match selector.source.available_versions(provider) {
                Ok(found) => {
                    for version in found.versions {
                        if !available.versions.contains(&version) {
                            available.versions.push(version);
                        }
                    }
                    available.warnings.extend(found.warnings);
                }
                Err(error @ SourceError::RegistryProviderNotKnown { .. }) => {
                    registry_error.get_or_insert(error);
                }
                Err(error) if error.is_not_found() => {}
                Err(other) => return Err(other.into()),
            }
        }
        if available.versions.is_empty() {
            if let Some(error) = registry_error {
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
        let mut not_found = None;
        for (index, selector) in self.selectors.iter().enumerate() {
            if !selector.can_handle(provider) {
                continue;
            }
            match selector.source.package_meta(provider, version, platform) {
                Ok(meta) => return Ok((index, meta)),
                // The first source that said where it looked names it in the error.
                Err(
                    error @ SourceError::PlatformNotSupported {
                        checked: Some(_), ..
                    },
                ) => {
                    not_found.get_or_insert(error);
                }
                Err(error) if error.is_not_found() => continue,
                Err(other) => return Err(other),
            }
        }
        Err(not_found
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
