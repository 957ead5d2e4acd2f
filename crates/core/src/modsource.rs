//! Module source addresses, read as Terraform reads a module block's `source`, and the
//! module manifest (`.terraform/modules/modules.json`) that `init` writes and every
//! later command reads.
//!
//! A source is, in this order of trial (Terraform's own):
//! - a **local path**: it starts with `./` or `../`, and is read in place;
//! - a **registry address** `[HOST/]NAMESPACE/NAME/SYSTEM[//SUBDIR]`, HOST defaulting to
//!   `registry.terraform.io`: anything that parses as one is one;
//! - a **remote package**, in go-getter's syntax: `git::URL` (any URL git clones, with
//!   `?ref=`, `?depth=`, `?sshkey=`), the shorthands `github.com/ORG/REPO` and
//!   `git@HOST:PATH`, or an `http(s)://` URL (an archive, by extension or `?archive=`,
//!   checked against `?checksum=`; otherwise a page that names the package in an
//!   `X-Terraform-Get` header or a `terraform-get` meta tag). `//SUBDIR` after the
//!   package picks a directory inside it (`*` matches within one path segment).
//!
//! Sources of other kinds (`s3::`, `gcs::`, `hg::`, absolute paths) are recognised and
//! refused with a message that says so.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The registry a three-part registry address belongs to.
pub const DEFAULT_REGISTRY_HOST: &str = "registry.terraform.io";

/// Where a module's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSource {
    /// `./path` or `../path`, relative to the calling module's directory.
    Local(String),
    Registry(RegistryModule),
    Remote(RemotePackage),
}

/// `HOST/NAMESPACE/NAME/SYSTEM[//SUBDIR]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryModule {
    /// Lower case; `registry.terraform.io` when the address has three parts.
    pub host: String,
    pub namespace: String,
    pub name: String,
    pub system: String,
    pub subdir: Option<String>,
}

impl RegistryModule {
    /// The address without its subdirectory: what the registry knows.
    pub fn package(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.host, self.namespace, self.name, self.system
        )
    }
}

/// How a remote package is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Getter {
    Git,
    Http,
}

/// A package fetched by URL, and the directory inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePackage {
    pub getter: Getter,
    /// The URL with its query (`ref=`, `checksum=`, ...), without the getter prefix and
    /// without the subdirectory.
    pub url: String,
    pub subdir: Option<String>,
}

impl RemotePackage {
    /// The package address as Terraform writes it: `git::URL` or the URL.
    pub fn package(&self) -> String {
        match self.getter {
            Getter::Git => format!("git::{}", self.url),
            Getter::Http => self.url.clone(),
        }
    }
}

/// Why a source string is not a source terrane can install.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

impl ModuleSource {
    /// Reads a module block's `source`.
    pub fn parse(raw: &str) -> Result<ModuleSource, SourceError> {
        if is_local(raw) {
            return Ok(ModuleSource::Local(raw.to_string()));
        }
        if let Some(registry) = parse_registry(raw) {
            return Ok(ModuleSource::Registry(registry));
        }
        parse_remote(raw).map(ModuleSource::Remote)
    }

    /// Whether `version` may be given with this source (registry sources only).
    pub fn takes_version(&self) -> bool {
        matches!(self, ModuleSource::Registry(_))
    }
}

impl fmt::Display for ModuleSource {
    /// The normalised form Terraform records in the module manifest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (package, subdir) = match self {
            ModuleSource::Local(path) => return f.write_str(path),
            ModuleSource::Registry(r) => (r.package(), r.subdir.as_deref()),
            ModuleSource::Remote(r) => (r.package(), r.subdir.as_deref()),
        };
        match (subdir, package.split_once('?')) {
            (None, _) => f.write_str(&package),
            (Some(sub), Some((base, query))) => write!(f, "{base}//{sub}?{query}"),
            (Some(sub), None) => write!(f, "{package}//{sub}"),
        }
    }
}

fn is_local(raw: &str) -> bool {
    ["./", "../", ".\\", "..\\"]
        .iter()
        .any(|prefix| raw.starts_with(prefix))
}

/// go-getter's `SourceDirSubdir`: the package and the `//SUBDIR` after it, the query
/// staying with the package.
pub fn split_subdir(src: &str) -> (String, Option<String>) {
    let stop = src.find('?').unwrap_or(src.len());
    let offset = src[..stop].find("://").map_or(0, |i| i + 3);
    let Some(at) = src[offset..stop].find("//").map(|i| i + offset) else {
        return (src.to_string(), None);
    };
    let mut package = src[..at].to_string();
    let mut subdir = src[at + 2..].to_string();
    if let Some(q) = subdir.find('?') {
        package.push_str(&subdir[q..]);
        subdir.truncate(q);
    }
    (package, Some(subdir))
}

/// Cleans a subdirectory as Go's `path.Clean`; `None` for an empty one, an error for one
/// that leaves the package.
fn clean_subdir(subdir: Option<String>, raw: &str) -> Result<Option<String>, SourceError> {
    let Some(subdir) = subdir else {
        return Ok(None);
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in subdir.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(SourceError(format!(
                        "The module source {raw:?} has a subdirectory path that uses \"..\" to escape its package; a subdirectory must be inside the package."
                    )));
                }
            }
            other => parts.push(other),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn label_ok(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
}

fn host_ok(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

fn parse_registry(raw: &str) -> Option<RegistryModule> {
    if raw.contains("::") || raw.contains('?') || raw.contains("://") {
        return None;
    }
    let (package, subdir) = split_subdir(raw);
    let parts: Vec<&str> = package.split('/').collect();
    let (host, rest) = match parts.len() {
        3 => (DEFAULT_REGISTRY_HOST.to_string(), &parts[..]),
        4 => {
            let host = parts[0].to_ascii_lowercase();
            // Reserved for the version-control shorthands.
            if !host_ok(&host) || host == "github.com" || host == "bitbucket.org" {
                return None;
            }
            (host, &parts[1..])
        }
        _ => return None,
    };
    let (namespace, name, system) = (rest[0], rest[1], rest[2]);
    let system_ok = !system.is_empty()
        && system.len() <= 64
        && system
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !label_ok(namespace, 64) || !label_ok(name, 64) || !system_ok {
        return None;
    }
    Some(RegistryModule {
        host,
        namespace: namespace.to_string(),
        name: name.to_string(),
        system: system.to_string(),
        subdir: clean_subdir(subdir, raw).ok()?,
    })
}

fn parse_remote(raw: &str) -> Result<RemotePackage, SourceError> {
    let (package, subdir) = split_subdir(raw);
    let subdir = clean_subdir(subdir, raw)?;
    let unsupported = |kind: &str| {
        SourceError(format!(
            "The module source {raw:?} is {kind}, which terrane does not fetch. Use a registry address, a git:: or https:// source, or a local path (./ or ../)."
        ))
    };
    if let Some((forced, rest)) = package.split_once("::") {
        if forced.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return match forced {
                "git" => Ok(RemotePackage {
                    getter: Getter::Git,
                    url: scp_to_ssh(rest).unwrap_or_else(|| rest.to_string()),
                    subdir,
                }),
                "http" | "https" => Ok(RemotePackage {
                    getter: Getter::Http,
                    url: rest.to_string(),
                    subdir,
                }),
                "s3" => Err(unsupported("an Amazon S3 source")),
                "gcs" => Err(unsupported("a Google Cloud Storage source")),
                "hg" => Err(unsupported("a Mercurial source")),
                other => Err(SourceError(format!(
                    "The module source {raw:?} names the getter {other:?}, which does not exist. Known getters: git::, http::, https:: (and s3::, gcs::, hg::, which terrane does not fetch)."
                ))),
            };
        }
    }
    if let Some(path) = package.strip_prefix("github.com/") {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() < 2 || parts[..2].iter().any(|p| p.is_empty()) {
            return Err(SourceError(format!(
                "The module source {raw:?} is a GitHub shorthand without a repository: write github.com/ORGANIZATION/REPOSITORY."
            )));
        }
        let repo = parts[1].strip_suffix(".git").unwrap_or(parts[1]);
        let mut url = format!("https://github.com/{}/{repo}.git", parts[0]);
        if let Some(q) = query {
            url = format!("{url}?{q}");
        }
        let extra = parts[2..].join("/");
        let subdir = match (extra.is_empty(), subdir) {
            (true, s) => s,
            (false, None) => Some(extra),
            (false, Some(s)) => Some(format!("{extra}/{s}")),
        };
        return Ok(RemotePackage {
            getter: Getter::Git,
            url,
            subdir,
        });
    }
    if let Some(url) = scp_to_ssh(&package) {
        return Ok(RemotePackage {
            getter: Getter::Git,
            url,
            subdir,
        });
    }
    let lower = package.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(RemotePackage {
            getter: Getter::Http,
            url: package,
            subdir,
        });
    }
    if lower.starts_with("s3-") || lower.contains(".amazonaws.com/") {
        return Err(unsupported("an Amazon S3 source"));
    }
    if lower.starts_with("www.googleapis.com/storage/") {
        return Err(unsupported("a Google Cloud Storage source"));
    }
    if package.starts_with('/') || lower.starts_with("file://") {
        return Err(unsupported("an absolute path"));
    }
    Err(SourceError(format!(
        "The module source {raw:?} is neither a local path (it would start with ./ or ../), nor a registry address (NAMESPACE/NAME/SYSTEM, optionally after a host name), nor a remote source (git::URL, github.com/ORGANIZATION/REPOSITORY, git@HOST:PATH or an https:// URL)."
    )))
}

/// `git@host:path` (scp syntax) as an `ssh://` URL, as go-getter's Git detector writes it.
fn scp_to_ssh(src: &str) -> Option<String> {
    if src.contains("://") {
        return None;
    }
    let (user_host, path) = src.split_once(':')?;
    let (user, host) = user_host.split_once('@')?;
    if user.is_empty() || host.is_empty() || host.contains('/') || path.is_empty() {
        return None;
    }
    let path = path.trim_start_matches('/');
    Some(format!("ssh://{user}@{host}/{path}"))
}

/// One record of the module manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    /// The module's path of call names joined with `.`; empty for the root module.
    #[serde(rename = "Key")]
    pub key: String,
    /// The source as written by [`ModuleSource`]'s `Display`.
    #[serde(rename = "Source")]
    pub source: String,
    /// The version a registry module was installed at.
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the module's files are, relative to the working directory, with `/`.
    #[serde(rename = "Dir")]
    pub dir: String,
}

/// `.terraform/modules/modules.json`: every module of the configuration, installed or
/// local, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub records: BTreeMap<String, ManifestRecord>,
}

#[derive(Serialize, Deserialize)]
struct ManifestFile {
    #[serde(rename = "Modules")]
    modules: Vec<ManifestRecord>,
}

/// Where the manifest is, relative to the working directory.
pub const MANIFEST_PATH: &str = ".terraform/modules/modules.json";
/// Where remote modules are installed, relative to the working directory.
pub const MODULES_DIR: &str = ".terraform/modules";

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let file: ManifestFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Ok(Manifest {
            records: file
                .modules
                .into_iter()
                .map(|r| (r.key.clone(), r))
                .collect(),
        })
    }

    /// The manifest as Terraform writes it: records in key order, the root's first.
    pub fn to_json(&self) -> String {
        let file = ManifestFile {
            modules: self.records.values().cloned().collect(),
        };
        serde_json::to_string(&file).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(raw: &str) -> String {
        ModuleSource::parse(raw)
            .map(|s| s.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn sources_parse_and_print_as_terraform_records_them() {
        let cases = [
            ("./modules/a", "./modules/a"),
            (
                "terraform-aws-modules/vpc/aws",
                "registry.terraform.io/terraform-aws-modules/vpc/aws",
            ),
            (
                "hashicorp/consul/aws//modules/consul-cluster",
                "registry.terraform.io/hashicorp/consul/aws//modules/consul-cluster",
            ),
            ("127.0.0.1:8443/acme/net/aws", "127.0.0.1:8443/acme/net/aws"),
            ("Example.COM/acme/net/aws", "example.com/acme/net/aws"),
            (
                "github.com/acme/net",
                "git::https://github.com/acme/net.git",
            ),
            (
                "github.com/acme/net//sub?ref=v1",
                "git::https://github.com/acme/net.git//sub?ref=v1",
            ),
            (
                "github.com/acme/net/sub",
                "git::https://github.com/acme/net.git//sub",
            ),
            (
                "git@github.com:acme/net.git",
                "git::ssh://git@github.com/acme/net.git",
            ),
            (
                "git::https://example.com/net.git?ref=v1.2.0",
                "git::https://example.com/net.git?ref=v1.2.0",
            ),
            (
                "git::ssh://git@example.com/net.git//modules/x?ref=main",
                "git::ssh://git@example.com/net.git//modules/x?ref=main",
            ),
            (
                "git::git@example.com:net.git",
                "git::ssh://git@example.com/net.git",
            ),
            ("https://example.com/net.zip", "https://example.com/net.zip"),
            (
                "https://example.com/net.tgz//a/./b/..?checksum=sha256:00",
                "https://example.com/net.tgz//a?checksum=sha256:00",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(shown(raw), want, "{raw}");
        }
        assert!(matches!(
            ModuleSource::parse("github.com/acme/net/aws"),
            Ok(ModuleSource::Remote(_))
        ));
    }

    #[test]
    fn unsupported_and_malformed_sources_say_why() {
        for (raw, says) in [
            ("s3::https://s3.amazonaws.com/b/m.zip", "Amazon S3"),
            ("hg::https://example.com/r", "Mercurial"),
            ("/opt/modules/net", "absolute path"),
            ("modules/net", "neither a local path"),
            ("nope::https://x", "does not exist"),
            ("git::https://example.com/r.git//../x", "escape its package"),
            ("github.com/acme", "without a repository"),
        ] {
            let err = ModuleSource::parse(raw).expect_err(raw).0;
            assert!(err.contains(says), "{raw}: {err}");
        }
    }

    #[test]
    fn the_manifest_round_trips_in_terraforms_shape() {
        let text = r#"{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"vpc","Source":"registry.terraform.io/terraform-aws-modules/vpc/aws","Version":"5.8.1","Dir":".terraform/modules/vpc"}]}"#;
        let manifest = Manifest::parse(text).expect("a manifest");
        assert_eq!(manifest.records["vpc"].version.as_deref(), Some("5.8.1"));
        assert_eq!(manifest.to_json(), text);
    }
}
