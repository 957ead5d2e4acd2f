//! `network_mirror { url = "https://..." }`: Terraform's provider network mirror
//! protocol (its `HTTPMirrorSource`).
//!
//! - `URL/HOSTNAME/NAMESPACE/TYPE/index.json`: `{"versions": {"1.2.3": {}, ...}}`; 404
//!   means the mirror does not have the provider, and the next method is asked.
//! - `URL/HOSTNAME/NAMESPACE/TYPE/VERSION.json`: `{"archives": {"linux_amd64": {"url":
//!   "...", "hashes": ["h1:..."]}}}`, each `url` relative to this document (after
//!   redirects, at most 5). A platform missing from `archives` means no package for it.
//!
//! Both documents must be `application/json`. The mirror URL is resolved as a base URL,
//! so it should end with `/` (as Terraform's documentation says). The downloaded archive
//! must match one of the listed hashes ("verified checksum"); with no hashes listed it is
//! unauthenticated. Either way it is not signed, so the lock file records only the
//! package's own `h1:`, as Terraform does.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use url::Url;

use crate::addr::ProviderSource;
use crate::auth::PackageAuthentication;
use crate::hash::Hash;
use crate::http::{HttpClient, Response};
use crate::platform::Platform;
use crate::registry::download;
use crate::source::{Available, PackageLocation, PackageMeta, PackageSource, SourceError};
use crate::version::Version;

/// A provider network mirror.
pub struct NetworkMirror {
    url: String,
    client: Arc<HttpClient>,
}

impl NetworkMirror {
    /// The mirror at `url` (an `https:` URL, which the CLI configuration checks).
    pub fn new(url: impl Into<String>, client: Arc<HttpClient>) -> NetworkMirror {
        NetworkMirror {
            url: url.into(),
            client,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn query_failed(&self, provider: &ProviderSource, message: impl Into<String>) -> SourceError {
        SourceError::QueryFailed {
            provider: Box::new(provider.clone()),
            source_name: format!("provider mirror {}", self.url),
            message: message.into(),
        }
    }

    /// GETs `HOSTNAME/NAMESPACE/TYPE/name` under the mirror; a `200 OK` must be JSON.
    fn get(&self, provider: &ProviderSource, name: &str) -> Result<Response, SourceError> {
        let base = Url::parse(&self.url).map_err(|e| {
            self.query_failed(provider, format!("invalid mirror URL {:?}: {e}", self.url))
        })?;
        // "./" keeps a hostname with a port ("example.com:8443") from reading as a scheme.
        let url = base
            .join(&format!(
                "./{}/{}/{}/{name}",
                provider.hostname, provider.namespace, provider.type_name
            ))
            .map_err(|e| self.query_failed(provider, format!("invalid URL: {e}")))?;
        let response = self
            .client
            .get(&url, 5, true)
            .map_err(|e| self.query_failed(provider, e.to_string()))?;
        if response.status == 200 && response.media_type().as_deref() != Some("application/json") {
            return Err(self.query_failed(
                provider,
                format!(
                    "{} has invalid Content-Type {:?}: must be application/json",
                    response.url,
                    response.content_type.as_deref().unwrap_or("")
                ),
            ));
        }
        if response.status == 401 || response.status == 403 {
            return Err(SourceError::Unauthorized {
                provider: Box::new(provider.clone()),
                url: response.url.to_string(),
                status: response.status_line(),
            });
        }
        Ok(response)
    }
}

impl PackageSource for NetworkMirror {
    fn describe(&self, _provider: &ProviderSource) -> String {
        format!("provider mirror at {}", self.url)
    }

    fn available_versions(&self, provider: &ProviderSource) -> Result<Available, SourceError> {
        let response = self.get(provider, "index.json")?;
        match response.status {
            200 => {}
            404 => {
                return Err(SourceError::MirrorProviderNotFound {
                    provider: Box::new(provider.clone()),
                    mirror: self.url.clone(),
                })
            }
            status => {
                return Err(self.query_failed(
                    provider,
                    format!(
                        "{} answered {}",
                        response.url,
                        crate::http::status_line(status)
                    ),
                ))
            }
        }
        let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
            self.query_failed(
                provider,
                format!(
                    "invalid response content from mirror server at {}: {e}",
                    response.url
                ),
            )
        })?;
        let mut versions = Vec::new();
        for raw in body
            .get("versions")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
        {
            match Version::parse(raw) {
                Ok(version) if !versions.contains(&version) => versions.push(version),
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(%provider, version = %raw, "Ignoring an invalid version string in a provider mirror's index")
                }
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
        let response = self.get(provider, &format!("{version}.json"))?;
        match response.status {
            200 => {}
            404 => {
                return Err(self.query_failed(
                    provider,
                    format!("provider mirror does not have archive index {} for previously-reported {provider} version {version}", response.url),
                ))
            }
            status => {
                return Err(self.query_failed(
                    provider,
                    format!("{} answered {}", response.url, crate::http::status_line(status)),
                ))
            }
        }
        let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
            self.query_failed(
                provider,
                format!(
                    "invalid response content from mirror server at {}: {e}",
                    response.url
                ),
            )
        })?;
        let Some(archive) = body
            .get("archives")
            .and_then(|a| a.get(platform.to_string()))
            .filter(|a| !a.is_null())
        else {
            let mut error = SourceError::platform_not_supported(provider, version, platform);
            if let SourceError::PlatformNotSupported { checked, .. } = &mut error {
                *checked = Some(format!(
                    "provider mirror {} lists no {platform} archive in {}",
                    self.url, response.url
                ));
            }
            return Err(error);
        };
        let raw_url = archive.get("url").and_then(Value::as_str).unwrap_or("");
        let url = response.url.join(raw_url).map_err(|e| {
            self.query_failed(
                provider,
                format!("provider mirror returned invalid URL {raw_url:?}: {e}"),
            )
        })?;
        // Go's JSON decoding matches the untagged field `Hashes` in any case.
        let hashes_value = archive.as_object().and_then(|o| {
            o.get("hashes").or_else(|| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("hashes"))
                    .map(|(_, v)| v)
            })
        });
        let mut hashes = Vec::new();
        for raw in hashes_value.and_then(Value::as_array).into_iter().flatten() {
            let text = raw.as_str().unwrap_or("");
            let hash = Hash::parse(text).map_err(|e| {
                self.query_failed(
                    provider,
                    format!("provider mirror returned invalid provider hash {text:?}: {e}"),
                )
            })?;
            hashes.push(hash);
        }
        Ok(PackageMeta {
            provider: provider.clone(),
            version: version.clone(),
            platform: platform.clone(),
            location: PackageLocation::Remote(url.to_string()),
            authentication: if hashes.is_empty() {
                PackageAuthentication::None
            } else {
                PackageAuthentication::Hashes(hashes)
            },
        })
    }

    fn fetch(&self, meta: &PackageMeta, scratch: &Path) -> Result<PackageLocation, SourceError> {
        download(&self.client, meta, scratch)
    }
}
