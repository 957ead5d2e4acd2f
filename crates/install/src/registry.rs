//! The `direct` installation method: Terraform's provider registry protocol, against
//! `registry.terraform.io` or any host (Terraform's `RegistrySource` and
//! `registryClient`).
//!
//! 1. **Service discovery**: `GET https://HOST/.well-known/terraform.json` (at most 3
//!    redirects), whose `providers.v1` is the base URL of the registry, absolute or
//!    relative to the document. Hosts are always reached over HTTPS, as in Terraform;
//!    a registry with a private CA is trusted through `SSL_CERT_FILE` (or
//!    [`crate::http::HttpSettings::ca_file`]). Successful discoveries are remembered.
//! 2. **Versions**: `GET BASE/NAMESPACE/TYPE/versions`: `{"versions": [{"version",
//!    "protocols", "platforms"}], "warnings": [...]}`; 404 means the registry does not
//!    know the provider. The list is remembered (Terraform's `MemoizeSource`).
//! 3. **Package**: `GET BASE/NAMESPACE/TYPE/VERSION/download/OS/ARCH`: `download_url`,
//!    `filename`, `shasum`, `shasums_url`, `shasums_signature_url`, `signing_keys` and
//!    `protocols`; 404 means no package for the platform. A version none of whose
//!    protocols is 5.x or 6.x is refused, naming the newest version that has one.
//!    `SHA256SUMS` and its signature are fetched here; the archive, when the installer
//!    asks for it ([`PackageSource::fetch`]), and then checked against both
//!    ([`crate::auth`]).
//!
//! Requests carry no credentials yet (`credentials` blocks and `TF_TOKEN_*` are not
//! read): a registry that requires them answers 401, which the error explains.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use url::Url;

use crate::addr::ProviderSource;
use crate::auth::{PackageAuthentication, SignedChecksums, SigningKey};
use crate::http::{HttpClient, Response};
use crate::platform::Platform;
use crate::source::{
    Available, PackageId, PackageLocation, PackageMeta, PackageSource, ProtocolMismatch,
    SourceError,
};
use crate::version::Version;

/// The service a registry host must offer.
const PROVIDERS_SERVICE: &str = "providers.v1";
/// The discovery document's path on every host.
const DISCOVERY_PATH: &str = "/.well-known/terraform.json";

/// A registry's versions of a provider, each with the plugin protocols it speaks.
type VersionList = Vec<(Version, Vec<String>)>;

/// A provider registry as each provider's origin (the `direct` method).
pub struct RegistrySource {
    client: Arc<HttpClient>,
    /// `providers.v1` base URLs by hostname.
    services: Mutex<HashMap<String, Url>>,
    /// Each provider's versions with their protocols, as the registry listed them.
    versions: Mutex<HashMap<ProviderSource, Arc<VersionList>>>,
}

impl RegistrySource {
    pub fn new(client: Arc<HttpClient>) -> RegistrySource {
        RegistrySource {
            client,
            services: Mutex::new(HashMap::new()),
            versions: Mutex::new(HashMap::new()),
        }
    }

    fn source_name(provider: &ProviderSource) -> String {
        format!("provider registry {}", provider.hostname)
    }

    fn query_failed(provider: &ProviderSource, message: impl Into<String>) -> SourceError {
        SourceError::QueryFailed {
            provider: Box::new(provider.clone()),
            source_name: RegistrySource::source_name(provider),
            message: message.into(),
        }
    }

    /// The registry's base URL for `provider`'s host, by service discovery.
    pub fn base_url(&self, provider: &ProviderSource) -> Result<Url, SourceError> {
        let hostname = &provider.hostname;
        if let Some(url) = lock(&self.services).get(hostname) {
            return Ok(url.clone());
        }
        let unreachable = |message: String| SourceError::HostUnreachable {
            provider: Box::new(provider.clone()),
            message,
        };
        let discovery_url = Url::parse(&format!("https://{hostname}{DISCOVERY_PATH}"))
            .map_err(|e| unreachable(format!("invalid hostname: {e}")))?;
        let response = self
            .client
            .get_once(&discovery_url, 3, true)
            .map_err(|e| unreachable(format!("failed to request discovery document: {e}")))?;
        let no_providers = |other_version: bool| SourceError::HostNoProviders {
            provider: Box::new(provider.clone()),
            other_version,
            url: discovery_url.to_string(),
        };
        if response.status == 404 {
            return Err(no_providers(false));
        }
        if response.status != 200 {
            return Err(unreachable(format!(
                "failed to request discovery document {discovery_url}: {}",
                response.status_line()
            )));
        }
        match response.media_type().as_deref() {
            Some("application/json") => {}
            Some(other) if !other.is_empty() => {
                return Err(unreachable(format!(
                    "discovery URL {discovery_url} returned an unsupported Content-Type {other:?}"
                )))
            }
            _ => {
                return Err(unreachable(format!(
                    "discovery URL {discovery_url} has a malformed Content-Type {:?}",
                    response.content_type.unwrap_or_default()
                )))
            }
        }
        let services: serde_json::Map<String, Value> = serde_json::from_slice(&response.body)
            .map_err(|e| {
                unreachable(format!(
                    "failed to decode discovery document {discovery_url} as a JSON object: {e}"
                ))
            })?;
        let Some(Value::String(raw)) = services.get(PROVIDERS_SERVICE) else {
            let other_version = services.keys().any(|k| k.starts_with("providers."));
            return Err(no_providers(other_version));
        };
        let mut url = response.url.join(raw).map_err(|e| {
            unreachable(format!(
                "Failed to parse service URL {raw:?} in {discovery_url}: {e}"
            ))
        })?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(unreachable(format!(
                "Failed to parse service URL {raw:?} in {discovery_url}: unsupported scheme {}",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(unreachable(format!("Failed to parse service URL {raw:?} in {discovery_url}: embedded username/password information is not permitted")));
        }
        url.set_fragment(None);
        lock(&self.services).insert(hostname.clone(), url.clone());
        Ok(url)
    }

    /// `BASE/NAMESPACE/TYPE/...rest`.
    fn endpoint(&self, provider: &ProviderSource, rest: &[&str]) -> Result<Url, SourceError> {
        let base = self.base_url(provider)?;
        let mut path = format!("{}/{}", provider.namespace, provider.type_name);
        for part in rest {
            path.push('/');
            path.push_str(part);
        }
        base.join(&path)
            .map_err(|e| RegistrySource::query_failed(provider, format!("invalid URL: {e}")))
    }

    fn get(&self, provider: &ProviderSource, url: &Url) -> Result<Response, SourceError> {
        self.client
            .get(url, 10, true)
            .map_err(|e| RegistrySource::query_failed(provider, e.to_string()))
    }

    fn unauthorized(provider: &ProviderSource, response: &Response) -> SourceError {
        SourceError::Unauthorized {
            provider: Box::new(provider.clone()),
            url: response.url.to_string(),
            status: response.status_line(),
        }
    }

    /// The registry's version list of `provider`, with each version's protocols.
    fn version_list(
        &self,
        provider: &ProviderSource,
    ) -> Result<(Arc<VersionList>, Vec<String>), SourceError> {
        if let Some(list) = lock(&self.versions).get(provider) {
            return Ok((list.clone(), Vec::new()));
        }
        let url = self.endpoint(provider, &["versions"])?;
        let response = self.get(provider, &url)?;
        match response.status {
            200 => {}
            404 => {
                return Err(SourceError::RegistryProviderNotKnown {
                    provider: Box::new(provider.clone()),
                    url: url.to_string(),
                })
            }
            401 | 403 => return Err(RegistrySource::unauthorized(provider, &response)),
            _ => {
                return Err(RegistrySource::query_failed(
                    provider,
                    format!("{} answered {}", url, response.status_line()),
                ))
            }
        }
        let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
            RegistrySource::query_failed(provider, format!("invalid response from {url}: {e}"))
        })?;
        let warnings: Vec<String> = body
            .get("warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect();
        let mut list = Vec::new();
        for entry in body
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let raw = entry.get("version").and_then(Value::as_str).unwrap_or("");
            let Ok(version) = Version::parse(raw) else {
                tracing::warn!(%provider, version = raw, "Registry response includes an invalid version string; skipping it");
                continue;
            };
            let protocols = entry
                .get("protocols")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect();
            list.push((version, protocols));
        }
        let list = Arc::new(list);
        lock(&self.versions).insert(provider.clone(), list.clone());
        Ok((list, warnings))
    }

    /// The newest version whose protocols terrane speaks (Terraform's
    /// `findClosestProtocolCompatibleVersion`).
    fn newest_compatible(&self, provider: &ProviderSource) -> Option<Version> {
        let (list, _) = self.version_list(provider).ok()?;
        list.iter()
            .filter(|(_, protocols)| protocols.iter().any(|p| supported_protocol(p)))
            .map(|(v, _)| v.clone())
            .max()
    }

    fn fetch_document(
        &self,
        provider: &ProviderSource,
        url: &Url,
        what: &str,
    ) -> Result<Vec<u8>, SourceError> {
        let response = self.client.get(url, 10, false).map_err(|e| {
            RegistrySource::query_failed(provider, format!("failed to retrieve {what}: {e}"))
        })?;
        if response.status != 200 {
            return Err(RegistrySource::query_failed(
                provider,
                format!(
                    "failed to retrieve {what}: {} returned from {}",
                    response.status_line(),
                    response.url
                ),
            ));
        }
        Ok(response.body)
    }
}

/// Whether terrane speaks a plugin protocol version (Terraform's `>= 5, < 7`).
fn supported_protocol(raw: &str) -> bool {
    Version::parse(raw).is_ok_and(|v| v.major == 5 || v.major == 6)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A URL in a registry response, resolved against the response's URL; only `http` and
/// `https` are accepted.
fn response_url(response: &Response, raw: &str, what: &str) -> Result<Url, String> {
    let url = response
        .url
        .join(raw)
        .map_err(|e| format!("registry response includes invalid {what} {raw:?}: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "registry response includes invalid {what} {raw:?}: must use http or https scheme"
        ));
    }
    Ok(url)
}

impl PackageSource for RegistrySource {
    fn describe(&self, provider: &ProviderSource) -> String {
        format!("registry {}", provider.hostname)
    }

    fn available_versions(&self, provider: &ProviderSource) -> Result<Available, SourceError> {
        let (list, warnings) = self.version_list(provider)?;
        let mut versions: Vec<Version> = Vec::new();
        for (version, _) in list.iter() {
            if !versions.contains(version) {
                versions.push(version.clone());
            }
        }
        versions.sort();
        Ok(Available { versions, warnings })
    }

    fn package_meta(
        &self,
        provider: &ProviderSource,
        version: &Version,
        platform: &Platform,
    ) -> Result<PackageMeta, SourceError> {
        let url = self.endpoint(
            provider,
            &[
                &version.to_string(),
                "download",
                &platform.os,
                &platform.arch,
            ],
        )?;
        let response = self.get(provider, &url)?;
        match response.status {
            200 => {}
            404 => {
                let mut error = SourceError::platform_not_supported(provider, version, platform);
                if let SourceError::PlatformNotSupported { checked, .. } = &mut error {
                    *checked = Some(format!("{url} answered 404 Not Found"));
                }
                return Err(error);
            }
            401 | 403 => return Err(RegistrySource::unauthorized(provider, &response)),
            _ => {
                return Err(RegistrySource::query_failed(
                    provider,
                    format!("{url} answered {}", response.status_line()),
                ))
            }
        }
        let failed = |message: String| RegistrySource::query_failed(provider, message);
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|e| failed(format!("invalid response from {url}: {e}")))?;
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");

        let protocols: Vec<String> = body
            .get("protocols")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        for protocol in &protocols {
            if let Err(error) = Version::parse(protocol) {
                return Err(failed(format!(
                    "registry response includes invalid version string {protocol:?}: {error}"
                )));
            }
        }
        if !protocols.is_empty() && !protocols.iter().any(|p| supported_protocol(p)) {
            return Err(SourceError::ProtocolNotSupported(Box::new(
                ProtocolMismatch {
                    provider: provider.clone(),
                    version: version.clone(),
                    protocols,
                    suggestion: self.newest_compatible(provider),
                },
            )));
        }
        if text("os") != platform.os || text("arch") != platform.arch {
            return Err(failed(format!(
                "registry response to request for {platform} archive has incorrect target {}_{}",
                text("os"),
                text("arch")
            )));
        }
        let download_url =
            response_url(&response, text("download_url"), "download URL").map_err(&failed)?;
        let shasum = text("shasum");
        let mut sha256 = [0u8; 32];
        if shasum.len() != 64 || hex::decode_to_slice(shasum, &mut sha256).is_err() {
            return Err(failed(format!(
                "registry response includes invalid SHA256 hash {shasum:?}"
            )));
        }
        let sums_url =
            response_url(&response, text("shasums_url"), "SHASUMS URL").map_err(&failed)?;
        let document =
            self.fetch_document(provider, &sums_url, "authentication checksums for provider")?;
        let signature_url = response_url(
            &response,
            text("shasums_signature_url"),
            "SHASUMS signature URL",
        )
        .map_err(&failed)?;
        let signature = self.fetch_document(
            provider,
            &signature_url,
            "cryptographic signature for provider",
        )?;
        let keys = body
            .pointer("/signing_keys/gpg_public_keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|key| SigningKey {
                ascii_armor: key
                    .get("ascii_armor")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                trust_signature: key
                    .get("trust_signature")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
            .collect();
        Ok(PackageMeta {
            provider: provider.clone(),
            version: version.clone(),
            platform: platform.clone(),
            location: PackageLocation::Remote(download_url.to_string()),
            authentication: PackageAuthentication::SignedChecksums(Box::new(SignedChecksums {
                filename: text("filename").to_string(),
                sha256,
                document,
                signature,
                keys,
                document_url: sums_url.to_string(),
                signature_url: signature_url.to_string(),
            })),
        })
    }

    fn fetch(&self, meta: &PackageMeta, scratch: &Path) -> Result<PackageLocation, SourceError> {
        download(&self.client, meta, scratch)
    }
}

/// Downloads a remote package into `scratch` (shared by the network sources).
pub(crate) fn download(
    client: &HttpClient,
    meta: &PackageMeta,
    scratch: &Path,
) -> Result<PackageLocation, SourceError> {
    let PackageLocation::Remote(raw) = &meta.location else {
        return Ok(meta.location.clone());
    };
    let failed = |message: String| SourceError::Download {
        package: Box::new(PackageId {
            provider: meta.provider.clone(),
            version: meta.version.clone(),
            platform: meta.platform.clone(),
        }),
        url: raw.clone(),
        message,
    };
    let url = Url::parse(raw).map_err(|e| failed(e.to_string()))?;
    let archive = scratch.join(format!(
        "terraform-provider-{}_{}_{}.zip",
        meta.provider.type_name, meta.version, meta.platform
    ));
    client
        .download(&url, &archive)
        .map_err(|e| failed(e.to_string()))?;
    Ok(PackageLocation::LocalArchive(archive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_five_and_six_are_supported() {
        for (raw, ok) in [
            ("5.0", true),
            ("6.0", true),
            ("6.1", true),
            ("4.0", false),
            ("7.0", false),
            ("x", false),
        ] {
            assert_eq!(supported_protocol(raw), ok, "{raw}");
        }
    }
}
