//! Filesystem mirrors: directories of provider packages in Terraform's two layouts,
//!
//! - unpacked: `HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/` (a directory, or a symlink to
//!   one) holding the package's files;
//! - packed: `HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip`.
//!
//! The same layout is what `.terraform/providers` and the plugin cache directory hold
//! (unpacked only). A directory is searched as Terraform's `SearchLocalDirectory` does:
//! only the base directory may be a symlink among the first three levels, entries with
//! invalid names are skipped (with a `tracing` warning), and when a version is there both
//! unpacked and packed the unpacked one is used.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::addr::{normalize_hostname, normalize_part, ProviderSource};
use crate::auth::PackageAuthentication;
use crate::platform::Platform;
use crate::source::{Available, PackageLocation, PackageMeta, PackageSource, SourceError};
use crate::version::Version;

/// A package found in a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPackage {
    pub provider: ProviderSource,
    pub version: Version,
    pub platform: Platform,
    /// [`PackageLocation::LocalDir`] or [`PackageLocation::LocalArchive`].
    pub location: PackageLocation,
}

/// Every package in `base_dir`, by provider, each list sorted by platform then version.
/// A `base_dir` that does not exist is an error, as in Terraform.
pub fn search_local_directory(
    base_dir: &Path,
) -> Result<BTreeMap<ProviderSource, Vec<LocalPackage>>, SourceError> {
    // Terraform resolves symlinks in the base directory once and reports every package
    // under the resolved path: links it makes into .terraform point there.
    let base = fs::canonicalize(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
    let mut found: BTreeMap<ProviderSource, Vec<LocalPackage>> = BTreeMap::new();
    if base.is_file() {
        // Go's walk visits a file root as the only entry, which is no package.
        return Ok(found);
    }
    walk(&base, &mut Vec::new(), &mut found)?;
    for packages in found.values_mut() {
        packages.sort_by(|a, b| {
            a.platform
                .cmp(&b.platform)
                .then_with(|| a.version.cmp(&b.version))
        });
    }
    Ok(found)
}

/// The directory where an unpacked package of `provider` `version` for `platform` lives
/// under `base_dir` (a mirror, `.terraform/providers`, the plugin cache).
pub fn unpacked_package_dir(
    base_dir: &Path,
    provider: &ProviderSource,
    version: &Version,
    platform: &Platform,
) -> PathBuf {
    base_dir
        .join(&provider.hostname)
        .join(&provider.namespace)
        .join(&provider.type_name)
        .join(version.to_string())
        .join(platform.to_string())
}

/// The unpacked package of `provider` `version` for `platform` in an installation
/// directory (`.terraform/providers` or the plugin cache), if there is one: Terraform's
/// `Dir.ProviderVersion`. The path is under the directory's resolved location.
pub fn installed_package(
    base_dir: &Path,
    provider: &ProviderSource,
    version: &Version,
    platform: &Platform,
) -> Option<PathBuf> {
    let packages = search_local_directory(base_dir).ok()?;
    packages
        .get(provider)?
        .iter()
        .find_map(|package| match &package.location {
            PackageLocation::LocalDir(dir)
                if package.version == *version && package.platform == *platform =>
            {
                Some(dir.clone())
            }
            _ => None,
        })
}

fn walk(
    dir: &Path,
    parts: &mut Vec<String>,
    found: &mut BTreeMap<ProviderSource, Vec<LocalPackage>>,
) -> Result<(), SourceError> {
    let io_error = |source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(io_error)?
        .collect::<Result<_, _>>()
        .map_err(io_error)?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_error)?;
        parts.push(name);
        let depth = parts.len();
        if depth < 3 {
            if file_type.is_symlink() {
                tracing::warn!(path = %path.display(), "Provider plugin search ignored a symlink: only the base directory may be a symlink");
            } else if file_type.is_dir() {
                walk(&path, parts, found)?;
            }
        } else if let Some(provider) = provider_from_parts(&parts[0], &parts[1], &parts[2], &path) {
            match depth {
                3 | 4 if file_type.is_dir() => walk(&path, parts, found)?,
                4 => packed_package(&provider, &parts[3], &path, found),
                5 => unpacked_package(&provider, &parts[3], &parts[4], &path, found),
                _ => {}
            }
        }
        parts.pop();
    }
    Ok(())
}

fn provider_from_parts(
    hostname: &str,
    namespace: &str,
    type_name: &str,
    path: &Path,
) -> Option<ProviderSource> {
    if namespace == "-" {
        tracing::warn!(path = %path.display(), "Ignoring a provider in the legacy namespace \"-\": terrane installs only providers with a real namespace");
        return None;
    }
    let namespace = normalize_part(namespace)
        .inspect_err(|_| tracing::warn!(path = %path.display(), namespace, "Local provider path contains an invalid namespace; ignoring it"))
        .ok()?;
    let type_name = normalize_part(type_name)
        .inspect_err(|_| tracing::warn!(path = %path.display(), type_name, "Local provider path contains an invalid type; ignoring it"))
        .ok()?;
    let hostname = normalize_hostname(hostname)
        .inspect_err(|_| tracing::warn!(path = %path.display(), hostname, "Local provider path contains an invalid hostname; ignoring it"))
        .ok()?;
    Some(ProviderSource {
        hostname,
        namespace,
        type_name,
    })
}

fn unpacked_package(
    provider: &ProviderSource,
    version: &str,
    platform: &str,
    path: &Path,
    found: &mut BTreeMap<ProviderSource, Vec<LocalPackage>>,
) {
    // The package directory itself may be a symlink: follow it.
    if !path.is_dir() {
        return;
    }
    let Ok(version) = Version::parse(version).inspect_err(|error| tracing::warn!(path = %path.display(), %error, "Ignoring a local provider path with an invalid version")) else {
        return;
    };
    let Ok(platform) = Platform::parse(platform).inspect_err(|error| tracing::warn!(path = %path.display(), %error, "Ignoring a local provider path with an invalid platform")) else {
        return;
    };
    found
        .entry(provider.clone())
        .or_default()
        .push(LocalPackage {
            provider: provider.clone(),
            version,
            platform,
            location: PackageLocation::LocalDir(path.to_path_buf()),
        });
}

fn packed_package(
    provider: &ProviderSource,
    file_name: &str,
    path: &Path,
    found: &mut BTreeMap<ProviderSource, Vec<LocalPackage>>,
) {
    if !path.is_file() {
        return;
    }
    // File names match case-insensitively, as Terraform lowers them before comparing.
    let name = file_name.to_lowercase();
    let prefix = format!("terraform-provider-{}_", provider.type_name);
    let Some(info) = name
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(".zip"))
    else {
        tracing::warn!(path = %path.display(), %provider, "Ignoring a file that is not named like a package of this provider");
        return;
    };
    let info: Vec<&str> = info.split('_').collect();
    if info.len() < 3 {
        tracing::warn!(path = %path.display(), "Ignoring a package whose name lacks a version number, target OS and architecture");
        return;
    }
    let Ok(version) = Version::parse(info[0]).inspect_err(|error| tracing::warn!(path = %path.display(), %error, "Ignoring a local provider package with an invalid version")) else {
        return;
    };
    let Ok(platform) = Platform::parse(&format!("{}_{}", info[1], info[2])) else {
        return;
    };
    found
        .entry(provider.clone())
        .or_default()
        .push(LocalPackage {
            provider: provider.clone(),
            version,
            platform,
            location: PackageLocation::LocalArchive(path.to_path_buf()),
        });
}

/// A `filesystem_mirror` (or one of Terraform's implied local plugin directories). It is
/// scanned once, on first use.
pub struct FilesystemMirror {
    base_dir: PathBuf,
    packages: OnceLock<BTreeMap<ProviderSource, Vec<LocalPackage>>>,
}

impl FilesystemMirror {
    pub fn new(base_dir: impl Into<PathBuf>) -> FilesystemMirror {
        FilesystemMirror {
            base_dir: base_dir.into(),
            packages: OnceLock::new(),
        }
    }

    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Every package in the mirror, by provider.
    pub fn all_packages(
        &self,
    ) -> Result<&BTreeMap<ProviderSource, Vec<LocalPackage>>, SourceError> {
        if let Some(packages) = self.packages.get() {
            return Ok(packages);
        }
        let scanned = search_local_directory(&self.base_dir)?;
        Ok(self.packages.get_or_init(|| scanned))
    }
}

impl PackageSource for FilesystemMirror {
    fn describe(&self, _provider: &ProviderSource) -> String {
        self.base_dir.display().to_string()
    }

    fn available_versions(&self, provider: &ProviderSource) -> Result<Available, SourceError> {
        let mut versions: Vec<Version> = Vec::new();
        for package in self.all_packages()?.get(provider).into_iter().flatten() {
            if !versions.contains(&package.version) {
                versions.push(package.version.clone());
            }
        }
        versions.sort();
        Ok(Available {
            versions,
            warnings: Vec::new(),
        })
    }

    fn package_meta(
        &self,
        provider: &ProviderSource,
        version: &Version,
        platform: &Platform,
    ) -> Result<PackageMeta, SourceError> {
        let packages = self.all_packages()?.get(provider).into_iter().flatten();
        let mut candidates: Vec<&LocalPackage> = packages
            .filter(|p| p.version == *version && p.platform == *platform)
            .collect();
        // Terraform takes the first package its directory walk found: the version's
        // directory sorts before the `terraform-provider-...zip` file.
        candidates.sort_by_key(|p| !matches!(p.location, PackageLocation::LocalDir(_)));
        let package = candidates
            .first()
            .ok_or_else(|| SourceError::platform_not_supported(provider, version, platform))?;
        Ok(PackageMeta {
            provider: provider.clone(),
            version: version.clone(),
            platform: platform.clone(),
            location: package.location.clone(),
            authentication: PackageAuthentication::None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_package(base: &Path, rel: &str) {
        let dir = base.join(rel);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("terraform-provider-x"), "x").unwrap();
    }

    #[test]
    fn finds_both_layouts_and_skips_invalid_names() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        write_package(base, "registry.terraform.io/example/x/1.0.0/linux_amd64");
        write_package(base, "registry.terraform.io/example/x/1.1.0/darwin_arm64");
        write_package(base, "Registry.Terraform.io/Example/X/1.2/linux_amd64");
        write_package(
            base,
            "registry.terraform.io/example/x/not-a-version/linux_amd64",
        );
        write_package(base, "registry.terraform.io/example/x/1.3.0/linux");
        write_package(base, "registry.terraform.io/exa_mple/x/1.0.0/linux_amd64");
        write_package(base, "registry.terraform.io/-/x/1.0.0/linux_amd64");
        fs::write(
            base.join("registry.terraform.io/example/x/terraform-provider-x_2.0.0_linux_amd64.zip"),
            "zip",
        )
        .unwrap();
        fs::write(
            base.join("registry.terraform.io/example/x/terraform-provider-y_2.0.0_linux_amd64.zip"),
            "zip",
        )
        .unwrap();
        fs::write(
            base.join("registry.terraform.io/example/x/terraform-provider-x_2.1.0.zip"),
            "zip",
        )
        .unwrap();
        let mirror = FilesystemMirror::new(base);
        let x = ProviderSource::parse("example/x").unwrap();
        let versions: Vec<String> = mirror
            .available_versions(&x)
            .unwrap()
            .versions
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]);
        assert_eq!(mirror.all_packages().unwrap().len(), 1);
        let linux = Platform::parse("linux_amd64").unwrap();
        let meta = mirror
            .package_meta(&x, &Version::parse("2.0.0").unwrap(), &linux)
            .unwrap();
        assert!(matches!(meta.location, PackageLocation::LocalArchive(_)));
        let error = mirror
            .package_meta(&x, &Version::parse("1.1.0").unwrap(), &linux)
            .unwrap_err();
        assert!(
            error.to_string().starts_with(
                "provider registry.terraform.io/example/x 1.1.0 is not available for linux_amd64; "
            ),
            "{error}"
        );
    }

    #[test]
    fn unpacked_wins_over_packed_and_symlinks_are_followed_only_at_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("mirror");
        write_package(&base, "registry.terraform.io/example/x/1.0.0/linux_amd64");
        fs::write(
            base.join("registry.terraform.io/example/x/terraform-provider-x_1.0.0_linux_amd64.zip"),
            "zip",
        )
        .unwrap();
        write_package(dir.path(), "elsewhere/linux_amd64");
        fs::create_dir_all(base.join("registry.terraform.io/example/x/1.1.0")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("elsewhere/linux_amd64"),
            base.join("registry.terraform.io/example/x/1.1.0/linux_amd64"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            base.join("registry.terraform.io"),
            base.join("linked.example.com"),
        )
        .unwrap();
        let mirror = FilesystemMirror::new(&base);
        let x = ProviderSource::parse("example/x").unwrap();
        let linux = Platform::parse("linux_amd64").unwrap();
        let meta = mirror
            .package_meta(&x, &Version::parse("1.0.0").unwrap(), &linux)
            .unwrap();
        assert!(matches!(meta.location, PackageLocation::LocalDir(_)));
        assert!(mirror
            .package_meta(&x, &Version::parse("1.1.0").unwrap(), &linux)
            .is_ok());
        assert_eq!(
            mirror.all_packages().unwrap().len(),
            1,
            "the symlinked hostname is not followed"
        );
    }

    #[test]
    fn a_missing_mirror_is_an_error() {
        let mirror = FilesystemMirror::new("/nonexistent/terrane-mirror");
        let x = ProviderSource::parse("example/x").unwrap();
        assert!(mirror
            .available_versions(&x)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/terrane-mirror"));
    }
}
