//! Module installation as `terraform init` does it: every module call of the
//! configuration, followed into the modules it installs, resolved to a directory and
//! recorded in `.terraform/modules/modules.json` (the manifest Terraform writes, so a
//! working directory initialised by either tool serves the other).
//!
//! - **Local paths** are read in place and only recorded.
//! - **Registry modules**: service discovery (`modules.v1`, or the CLI configuration's
//!   `host` block for that host), the version list, the newest version the `version`
//!   constraints allow, then the `download` endpoint, whose `X-Terraform-Get` header
//!   (or JSON `location`) names the package as a remote source.
//! - **Remote packages**: `git clone` (Debian's or any `git` on `PATH`, as go-getter
//!   does), or an HTTP(S) download: an archive (`.zip`, `.tar.gz`, `.tgz`, `.tar`, or
//!   `?archive=`) checked against `?checksum=` and extracted, or a page whose
//!   `X-Terraform-Get` header or `terraform-get` meta tag names the package.
//!
//! A module already installed at a key from the same source (and, for a registry
//! module, a version the constraints still allow) is kept: `init` fetches only what
//! changed, unless `-upgrade` asks for the newest versions again. Every fetch goes to a
//! temporary directory first and replaces the module's directory only once complete;
//! the manifest is written last, whole.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;
use terrane_core::modsource::{
    Getter, Manifest, ManifestRecord, ModuleSource, RegistryModule, RemotePackage, MANIFEST_PATH,
    MODULES_DIR,
};
use url::Url;

use crate::http::HttpClient;
use crate::{CliConfig, Constraints, Version};

/// A module call as the installer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleCallDecl {
    pub name: String,
    pub source: String,
    pub version: Option<String>,
    /// `FILE:LINE` of the call, for messages.
    pub at: String,
}

/// Why module installation stopped: the message names the module, its source and the
/// cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{summary}\n\n{detail}")]
pub struct ModuleError {
    pub summary: String,
    pub detail: String,
}

fn fail(summary: &str, detail: impl Into<String>) -> ModuleError {
    ModuleError {
        summary: summary.to_string(),
        detail: detail.into(),
    }
}

/// Host names compare in lower case.
pub fn host_for_comparison(host: &str) -> String {
    host.to_ascii_lowercase()
}

/// The module calls of the module in a directory, as the configuration language reads
/// them; an error is the diagnostics, already formatted.
pub type ListCalls<'a> = dyn Fn(&Path) -> Result<Vec<ModuleCallDecl>, String> + 'a;

/// Installs every module of the configuration in `root`, reporting progress lines
/// (`Downloading ... for KEY...`, `- KEY in DIR`) to `progress`.
pub fn install_modules(
    root: &Path,
    cli: &CliConfig,
    upgrade: bool,
    list_calls: &ListCalls<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Manifest, ModuleError> {
    let previous = match fs::read_to_string(root.join(MANIFEST_PATH)) {
        Ok(text) => Manifest::parse(&text).unwrap_or_default(),
        Err(_) => Manifest::default(),
    };
    let mut installer = ModuleInstaller {
        root: root.to_path_buf(),
        client: HttpClient::new(cli.http.clone()),
        cli,
        upgrade,
        previous,
        manifest: Manifest::default(),
        services: BTreeMap::new(),
        progress,
    };
    installer.manifest.records.insert(
        String::new(),
        ManifestRecord {
            key: String::new(),
            source: String::new(),
            version: None,
            dir: ".".to_string(),
        },
    );
    installer.walk("", ".", list_calls, 0)?;
    let manifest = installer.manifest;
    let path = root.join(MANIFEST_PATH);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| {
            fail(
                "Cannot write the module manifest",
                format!("{}: {e}", parent.display()),
            )
        })?;
    }
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, manifest.to_json())
        .and_then(|()| fs::rename(&tmp, &path))
        .map_err(|e| {
            fail(
                "Cannot write the module manifest",
                format!("{}: {e}", path.display()),
            )
        })?;
    Ok(manifest)
}

struct ModuleInstaller<'a> {
    root: PathBuf,
    client: HttpClient,
    cli: &'a CliConfig,
    upgrade: bool,
    previous: Manifest,
    manifest: Manifest,
    /// `modules.v1` base URLs by host, found once per run.
    services: BTreeMap<String, Url>,
    progress: &'a mut dyn FnMut(&str),
}

/// How deep module calls may nest before the configuration is taken for a loop.
const MAX_DEPTH: usize = 64;

impl ModuleInstaller<'_> {
    fn walk(
        &mut self,
        parent_key: &str,
        parent_dir: &str,
        list_calls: &ListCalls<'_>,
        depth: usize,
    ) -> Result<(), ModuleError> {
        let calls = list_calls(&self.root.join(parent_dir))
            .map_err(|d| fail("Invalid module configuration", d))?;
        for call in calls {
            let key = if parent_key.is_empty() {
                call.name.clone()
            } else {
                format!("{parent_key}.{}", call.name)
            };
            if depth >= MAX_DEPTH {
                return Err(fail(
                    "Module calls nest too deeply",
                    format!("The module {key:?} ({}) is {MAX_DEPTH} calls deep: the configuration's modules call each other in a loop.", call.at),
                ));
            }
            let source = ModuleSource::parse(&call.source).map_err(|e| {
                fail(
                    "Invalid module source address",
                    format!(
                        "{} (module {key:?} at {}).",
                        e.0.trim_end_matches('.'),
                        call.at
                    ),
                )
            })?;
            if call.version.is_some() && !source.takes_version() {
                return Err(fail(
                    "Invalid version constraint",
                    format!("Cannot apply a version constraint to module {:?} (at {}) because it doesn't come from a module registry.", call.name, call.at),
                ));
            }
            let record = match &source {
                ModuleSource::Local(path) => {
                    let dir = join_clean(parent_dir, path);
                    if !self.root.join(&dir).is_dir() {
                        return Err(fail(
                            "Unreadable module directory",
                            format!("The module {key:?} (at {}) has the source {path:?}, which is {dir}: not a directory.", call.at),
                        ));
                    }
                    ManifestRecord {
                        key: key.clone(),
                        source: path.clone(),
                        version: None,
                        dir,
                    }
                }
                remote => self.install_remote(&key, remote, &call)?,
            };
            (self.progress)(&format!("- {key} in {}", record.dir));
            let dir = record.dir.clone();
            self.manifest.records.insert(key.clone(), record);
            self.walk(&key, &dir, list_calls, depth + 1)?;
        }
        Ok(())
    }

    fn install_remote(
        &mut self,
        key: &str,
        source: &ModuleSource,
        call: &ModuleCallDecl,
    ) -> Result<ManifestRecord, ModuleError> {
        let shown = source.to_string();
        let constraints = match &call.version {
            Some(v) => Some(Constraints::parse(v).map_err(|e| {
                fail(
                    "Invalid version constraint",
                    format!(
                        "The module {key:?} (at {}) has version = {v:?}: {e}.",
                        call.at
                    ),
                )
            })?),
            None => None,
        };
        if !self.upgrade {
            if let Some(old) = self.previous.records.get(key) {
                let version_ok = match (&constraints, &old.version) {
                    (Some(c), Some(v)) => Version::parse(v).is_ok_and(|v| c.allows(&v)),
                    (None, _) => true,
                    (Some(_), None) => false,
                };
                if old.source == shown && version_ok && self.root.join(&old.dir).is_dir() {
                    return Ok(old.clone());
                }
            }
        }
        let package_dir = format!("{MODULES_DIR}/{key}");
        let (version, package, subdir) = match source {
            ModuleSource::Registry(module) => {
                let (version, location) =
                    self.registry_location(key, module, constraints.as_ref())?;
                (self.progress)(&format!("Downloading {shown} {version} for {key}..."));
                let subdir = join_subdirs(location.subdir.as_deref(), module.subdir.as_deref());
                (Some(version.to_string()), location, subdir)
            }
            ModuleSource::Remote(package) => {
                (self.progress)(&format!("Downloading {shown} for {key}..."));
                (None, package.clone(), package.subdir.clone())
            }
            ModuleSource::Local(_) => unreachable!("local modules are not installed"),
        };
        let target = self.root.join(&package_dir);
        let staging = self.root.join(format!("{MODULES_DIR}/.{key}.partial"));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(|e| {
            fail(
                "Cannot install a module",
                format!("{}: {e}", staging.display()),
            )
        })?;
        let fetched = self.fetch(&package, &staging, 0).map_err(|why| {
            let _ = fs::remove_dir_all(&staging);
            fail(
                "Failed to download module",
                format!(
                    "Could not download module {key:?} (at {}) source code from {:?}: {why}",
                    call.at,
                    package.package()
                ),
            )
        });
        fetched?;
        let _ = fs::remove_dir_all(&target);
        fs::rename(&staging, &target).map_err(|e| {
            fail(
                "Cannot install a module",
                format!("{}: {e}", target.display()),
            )
        })?;
        let dir = match subdir {
            Some(sub) => {
                let found = expand_subdir(&target, &sub).map_err(|why| {
                    fail("Failed to expand subdirectory", format!("The module {key:?} (at {}) names the subdirectory {sub:?} of {:?}: {why}", call.at, package.package()))
                })?;
                format!("{package_dir}/{found}")
            }
            None => package_dir,
        };
        Ok(ManifestRecord {
            key: key.to_string(),
            source: shown,
            version,
            dir,
        })
    }

    /// The `modules.v1` base URL of a registry host.
    fn modules_service(&mut self, host: &str) -> Result<Url, String> {
        if let Some(url) = self.services.get(host) {
            return Ok(url.clone());
        }
        let raw_and_base = match self.cli.hosts.get(host).and_then(|s| s.get("modules.v1")) {
            Some(raw) => (raw.clone(), None),
            None => {
                let discovery = Url::parse(&format!("https://{host}/.well-known/terraform.json"))
                    .map_err(|e| format!("invalid registry host name {host:?}: {e}"))?;
                let response = self
                    .client
                    .get_once(&discovery, 3, true)
                    .map_err(|e| format!("failed to request discovery document: {e}"))?;
                if response.status != 200 {
                    return Err(format!(
                        "failed to request discovery document {discovery}: {}",
                        response.status_line()
                    ));
                }
                let services: serde_json::Value = serde_json::from_slice(&response.body)
                    .map_err(|e| format!("the discovery document {discovery} is not JSON: {e}"))?;
                let Some(raw) = services.get("modules.v1").and_then(|v| v.as_str()) else {
                    return Err(format!("host {host} does not provide a module registry (its discovery document {discovery} has no modules.v1)"));
                };
                (raw.to_string(), Some(response.url))
            }
        };
        let (raw, base) = raw_and_base;
        let url = match base {
            Some(base) => base.join(&raw),
            None => Url::parse(&raw),
        }
        .map_err(|e| format!("the modules.v1 service URL {raw:?} of {host} is not valid: {e}"))?;
        self.services.insert(host.to_string(), url.clone());
        Ok(url)
    }

    /// Picks the version and asks the registry where that version's package is.
    fn registry_location(
        &mut self,
        key: &str,
        module: &RegistryModule,
        constraints: Option<&Constraints>,
    ) -> Result<(Version, RemotePackage), ModuleError> {
        let shown = module.package();
        let unreachable = |why: String| {
            fail(
                "Error accessing remote module registry",
                format!(
                    "Failed to retrieve available versions for module {key:?} from {}: {why}.",
                    module.host
                ),
            )
        };
        let base = self.modules_service(&module.host).map_err(unreachable)?;
        let path = format!("{}/{}/{}", module.namespace, module.name, module.system);
        let versions_url = base
            .join(&format!("{path}/versions"))
            .map_err(|e| unreachable(e.to_string()))?;
        let response = self
            .client
            .get(&versions_url, 10, true)
            .map_err(|e| unreachable(e.to_string()))?;
        if response.status == 404 {
            return Err(fail(
                "Module not found",
                format!("The module {key:?} has the source {shown:?}, which the registry at {} does not have (404 for {versions_url}). Check the namespace, name and target system.", module.host),
            ));
        }
        if response.status != 200 {
            return Err(unreachable(format!(
                "{} from {versions_url}",
                response.status_line()
            )));
        }
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| unreachable(format!("the version list is not JSON: {e}")))?;
        let mut versions: Vec<Version> = body["modules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| m["versions"].as_array().into_iter().flatten())
            .filter_map(|v| v["version"].as_str().and_then(|s| Version::parse(s).ok()))
            .collect();
        versions.sort();
        let none = Constraints::none();
        let wanted = constraints.unwrap_or(&none);
        let Some(version) = wanted.newest(&versions).cloned() else {
            let available: Vec<String> = versions.iter().map(ToString::to_string).collect();
            return Err(fail(
                "Unresolvable module version constraint",
                format!(
                    "There is no available version of module {key:?} ({shown}) which matches the given version constraint {:?}. Available versions: {}.",
                    wanted.to_string(),
                    if available.is_empty() { "none".to_string() } else { available.join(", ") }
                ),
            ));
        };
        let download = base
            .join(&format!("{path}/{version}/download"))
            .map_err(|e| unreachable(e.to_string()))?;
        let response = self
            .client
            .get(&download, 10, true)
            .map_err(|e| unreachable(e.to_string()))?;
        let failed = |why: String| {
            fail(
                "Error accessing remote module registry",
                format!("Failed to retrieve a download URL for {shown} {version}: {why}."),
            )
        };
        if !(response.status == 200 || response.status == 204) {
            return Err(failed(format!(
                "{} from {download}",
                response.status_line()
            )));
        }
        let location = match response.terraform_get.clone() {
            Some(l) if !l.is_empty() => l,
            _ => serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|v| v["location"].as_str().map(str::to_string))
                .filter(|l| !l.is_empty())
                .ok_or_else(|| {
                    failed(
                        "the registry gave no X-Terraform-Get header and no location".to_string(),
                    )
                })?,
        };
        let location = resolve_relative(&location, &download);
        match ModuleSource::parse(&location) {
            Ok(ModuleSource::Remote(package)) => Ok((version, package)),
            Ok(_) => Err(failed(format!(
                "the registry answered {location:?}, which is not a package address"
            ))),
            Err(e) => Err(failed(e.0)),
        }
    }

    /// Fetches a package into the empty directory `dest`.
    fn fetch(&self, package: &RemotePackage, dest: &Path, hops: u32) -> Result<(), String> {
        match package.getter {
            Getter::Git => git_fetch(&package.url, dest),
            Getter::Http => self.http_fetch(&package.url, dest, hops),
        }
    }

    fn http_fetch(&self, raw: &str, dest: &Path, hops: u32) -> Result<(), String> {
        let mut url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
        let mut checksum = None;
        let mut archive = None;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter_map(|(k, v)| match k.as_ref() {
                "checksum" => {
                    checksum = Some(v.into_owned());
                    None
                }
                "archive" => {
                    archive = Some(v.into_owned());
                    None
                }
                _ => Some((k.into_owned(), v.into_owned())),
            })
            .collect();
        set_query(&mut url, &kept);
        let kind = match archive.as_deref() {
            Some("false") => None,
            Some(kind) => Some(ArchiveKind::named(kind).ok_or_else(|| {
                format!("archive={kind:?} is not a format terrane extracts (zip, tar.gz, tgz, tar)")
            })?),
            None => ArchiveKind::of_path(url.path()),
        };
        let Some(kind) = kind else {
            if checksum.is_some() {
                return Err("a checksum was given for a URL that is not an archive".to_string());
            }
            return self.follow_terraform_get(&url, dest, hops);
        };
        let file = dest.join(".terrane-download");
        self.client.download(&url, &file).map_err(|e| e.message)?;
        if let Some(sum) = checksum {
            verify_checksum(&file, &sum)?;
        }
        let extracted = match kind {
            ArchiveKind::Zip => crate::install::unzip(&file, dest),
            ArchiveKind::TarGz => untar(&file, dest, true),
            ArchiveKind::Tar => untar(&file, dest, false),
        };
        let _ = fs::remove_file(&file);
        extracted
    }

    /// go-getter's HTTP getter for a URL that is not an archive: ask with
    /// `terraform-get=1`, then fetch what the header or the page's meta tag names.
    fn follow_terraform_get(&self, url: &Url, dest: &Path, hops: u32) -> Result<(), String> {
        if hops > 8 {
            return Err(format!("{url} leads to more than 8 X-Terraform-Get hops"));
        }
        let mut ask = url.clone();
        ask.query_pairs_mut().append_pair("terraform-get", "1");
        let response = self.client.get(&ask, 10, false).map_err(|e| e.message)?;
        if response.status != 200 && response.status != 204 {
            return Err(format!("{} from {url}", response.status_line()));
        }
        let named = response
            .terraform_get
            .clone()
            .or_else(|| meta_terraform_get(&String::from_utf8_lossy(&response.body)))
            .ok_or_else(|| {
                format!("{url} is neither an archive (.zip, .tar.gz, .tgz, .tar, or ?archive=) nor a page naming a package (no X-Terraform-Get header or terraform-get meta tag)")
            })?;
        let named = resolve_relative(&named, url);
        match ModuleSource::parse(&named) {
            Ok(ModuleSource::Remote(package)) if package.subdir.is_none() => {
                self.fetch(&package, dest, hops + 1)
            }
            Ok(ModuleSource::Remote(_)) => Err(format!(
                "{url} names {named:?}, a package with a subdirectory; give the subdirectory in the module's source instead"
            )),
            Ok(_) => Err(format!("{url} names {named:?}, which is not a package address")),
            Err(e) => Err(e.0),
        }
    }
}

/// Where a relative `X-Terraform-Get` points, as Terraform resolves it.
fn resolve_relative(location: &str, base: &Url) -> String {
    if location.starts_with('/') || location.starts_with("./") || location.starts_with("../") {
        if let Ok(url) = base.join(location) {
            return url.to_string();
        }
    }
    location.to_string()
}

fn set_query(url: &mut Url, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
}

fn meta_terraform_get(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<meta").map(|i| i + from) {
        let end = lower[at..].find('>').map_or(lower.len(), |i| i + at);
        let tag = &html[at..end];
        let tag_lower = &lower[at..end];
        if tag_lower.contains("name=\"terraform-get\"") {
            if let Some(c) = tag_lower.find("content=\"") {
                let start = c + "content=\"".len();
                let stop = tag[start..].find('"').map(|i| i + start)?;
                return Some(tag[start..stop].replace("&amp;", "&"));
            }
        }
        from = end;
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveKind {
    Zip,
    TarGz,
    Tar,
}

impl ArchiveKind {
    fn named(kind: &str) -> Option<ArchiveKind> {
        match kind {
            "zip" => Some(ArchiveKind::Zip),
            "tar.gz" | "tgz" => Some(ArchiveKind::TarGz),
            "tar" => Some(ArchiveKind::Tar),
            _ => None,
        }
    }

    fn of_path(path: &str) -> Option<ArchiveKind> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            Some(ArchiveKind::Zip)
        } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(ArchiveKind::TarGz)
        } else if lower.ends_with(".tar") {
            Some(ArchiveKind::Tar)
        } else {
            None
        }
    }
}

/// go-getter's `checksum=[TYPE:]HEX`; without a type, the length of the hex tells.
fn verify_checksum(file: &Path, given: &str) -> Result<(), String> {
    let (kind, want) = match given.split_once(':') {
        Some((kind, want)) => (kind.to_ascii_lowercase(), want.to_ascii_lowercase()),
        None => {
            let kind = match given.len() {
                32 => "md5",
                40 => "sha1",
                64 => "sha256",
                128 => "sha512",
                _ => return Err(format!("checksum {given:?} has no type and a length that matches none (md5, sha1, sha256, sha512)")),
            };
            (kind.to_string(), given.to_ascii_lowercase())
        }
    };
    let bytes = fs::read(file).map_err(|e| e.to_string())?;
    let got = match kind.as_str() {
        "md5" => hex::encode(md5::Md5::digest(&bytes)),
        "sha1" => hex::encode(sha1::Sha1::digest(&bytes)),
        "sha256" => hex::encode(sha2::Sha256::digest(&bytes)),
        "sha512" => hex::encode(sha2::Sha512::digest(&bytes)),
        other => {
            return Err(format!(
                "checksum type {other:?} is not one of md5, sha1, sha256, sha512"
            ))
        }
    };
    if got != want {
        return Err(format!(
            "checksums did not match: the archive's {kind} is {got}, the source requires {want}"
        ));
    }
    Ok(())
}

fn untar(file: &Path, dest: &Path, gzip: bool) -> Result<(), String> {
    let reader: Box<dyn io::Read> = {
        let f = fs::File::open(file).map_err(|e| e.to_string())?;
        if gzip {
            Box::new(flate2::read::GzDecoder::new(io::BufReader::new(f)))
        } else {
            Box::new(io::BufReader::new(f))
        }
    };
    let mut archive = tar::Archive::new(reader);
    let mut count = 0;
    for entry in archive
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("a damaged tar archive: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(format!(
                "the archive has an entry outside its root: {}",
                path.display()
            ));
        }
        let target = dest.join(&path);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            crate::install::create_dirs(&target).map_err(|e| e.to_string())?;
        } else if kind.is_file() {
            if let Some(parent) = target.parent() {
                crate::install::create_dirs(parent).map_err(|e| e.to_string())?;
            }
            let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
            crate::install::write_entry(&target, &mut data.as_slice(), mode)
                .map_err(|e| format!("{}: {e}", target.display()))?;
        }
        // Links and special files are skipped, as go-getter's untar skips them.
        count += 1;
    }
    if count == 0 {
        return Err("empty archive".to_string());
    }
    Ok(())
}

/// `git clone` as go-getter runs it: `ref=` checked out (a shallow clone of that
/// branch or tag with `depth=`), submodules initialised, `sshkey=` (base64 of a private
/// key) used for SSH.
fn git_fetch(raw: &str, dest: &Path) -> Result<(), String> {
    let (base, query) = match raw.split_once('?') {
        Some((b, q)) => (b.to_string(), q.to_string()),
        None => (raw.to_string(), String::new()),
    };
    let mut reference = None;
    let mut depth = None;
    let mut sshkey = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "ref" => reference = Some(v),
            "depth" => {
                depth = Some(
                    v.parse::<u32>()
                        .map_err(|_| format!("depth={v:?} is not a number"))?,
                )
            }
            "sshkey" => sshkey = Some(v),
            _ => rest.push(pair.to_string()),
        }
    }
    let url = if rest.is_empty() {
        base
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let key_file = match sshkey {
        Some(encoded) => {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| format!("sshkey= is not base64: {e}"))?;
            let path = dest.with_extension("sshkey");
            write_private(&path, &key).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    let git = |args: &[&str], dir: Option<&Path>| -> Result<(), String> {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null());
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        if let Some(key) = &key_file {
            cmd.env(
                "GIT_SSH_COMMAND",
                format!("ssh -i {} -o IdentitiesOnly=yes", key.display()),
            );
        }
        let out = cmd.output().map_err(|e| {
            format!("cannot run git ({e}); install git to fetch git:: module sources")
        })?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("Cloning into"))
            .collect();
        Err(format!("git {} failed: {}", args[0], said.join(" ")))
    };
    let dest_str = dest.to_string_lossy().to_string();
    let result = (|| {
        match (&reference, depth) {
            (Some(r), Some(d)) => git(
                &[
                    "clone",
                    "--depth",
                    &d.to_string(),
                    "--branch",
                    r,
                    "--",
                    &url,
                    &dest_str,
                ],
                None,
            )?,
            (None, Some(d)) => git(
                &["clone", "--depth", &d.to_string(), "--", &url, &dest_str],
                None,
            )?,
            (_, None) => git(&["clone", "--", &url, &dest_str], None)?,
        }
        if let (Some(r), None) = (&reference, depth) {
            git(&["checkout", r], Some(dest)).map_err(|e| {
                if e.contains("did not match") {
                    format!("the ref {r:?} does not exist in {url}: no branch, tag or commit has that name")
                } else {
                    e
                }
            })?;
        }
        git(
            &["submodule", "update", "--init", "--recursive"],
            Some(dest),
        )
    })();
    if let Some(key) = key_file {
        let _ = fs::remove_file(key);
    }
    result
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn join_subdirs(a: Option<&str>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}/{b}")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_string()),
        (None, None) => None,
    }
}

/// `parent/path`, cleaned lexically, with `/`.
fn join_clean(parent: &str, path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in parent.split('/').chain(path.split(['/', '\\'])) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            other => parts.push(other.to_string()),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// A subdirectory of an installed package; a segment with `*` must match exactly one
/// entry (go-getter's glob subdirectories, as GitHub's archives need).
fn expand_subdir(package: &Path, subdir: &str) -> Result<String, String> {
    let mut found = Vec::new();
    let mut at = package.to_path_buf();
    for segment in subdir.split('/') {
        let name = if segment.contains('*') {
            let mut matches: Vec<String> = fs::read_dir(&at)
                .map_err(|e| e.to_string())?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| glob_match(segment, n))
                .collect();
            matches.sort();
            match matches.len() {
                1 => matches.remove(0),
                0 => return Err(format!("nothing matches {segment:?}")),
                _ => {
                    return Err(format!(
                        "{segment:?} matches several entries: {}",
                        matches.join(", ")
                    ))
                }
            }
        } else {
            segment.to_string()
        };
        at.push(&name);
        found.push(name);
    }
    if !at.is_dir() {
        return Err("no such directory in the package".to_string());
    }
    Ok(found.join("/"))
}

fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| {
                    name.is_char_boundary(head.len() + i)
                        && glob_match(tail, &name[head.len() + i..])
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_globs() {
        assert_eq!(join_clean(".", "./modules/a"), "modules/a");
        assert_eq!(
            join_clean(".terraform/modules/vpc", "../x"),
            ".terraform/modules/x"
        );
        assert_eq!(join_clean("modules/a", "../b"), "modules/b");
        assert_eq!(join_clean(".", "../shared"), "../shared");
        assert!(glob_match("terraform-aws-vpc-*", "terraform-aws-vpc-5.8.1"));
        assert!(!glob_match("vpc-*", "net-1"));
        assert!(glob_match("*", "x"));
    }

    #[test]
    fn meta_tags_and_relative_locations() {
        let html = r#"<html><head><meta name="terraform-get" content="git::https://example.com/a.git?ref=v1&amp;depth=1"></head></html>"#;
        assert_eq!(
            meta_terraform_get(html).as_deref(),
            Some("git::https://example.com/a.git?ref=v1&depth=1")
        );
        let base = Url::parse("https://r.example/v1/modules/a/b/c/1.0.0/download").expect("url");
        assert_eq!(
            resolve_relative("./archive.tgz", &base),
            "https://r.example/v1/modules/a/b/c/1.0.0/archive.tgz"
        );
        assert_eq!(
            resolve_relative("git::https://x/y.git", &base),
            "git::https://x/y.git"
        );
    }
}
