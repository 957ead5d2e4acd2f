//! HTTP for provider registries and network mirrors: a blocking client (`ureq`) on
//! rustls with the ring provider, with Terraform's timeouts, retries and redirect
//! limits.
//!
//! - **Roots of trust**: the system's CA certificates (`rustls-native-certs`), or, as
//!   Go's TLS stack does for Terraform when `SSL_CERT_FILE` is set, the certificates of
//!   [`HttpSettings::ca_file`] and those of the system's certificate directories.
//! - **Timeouts**: every request of the protocols (discovery, version lists, package
//!   metadata, `SHA256SUMS` and its signature, mirror indexes) has one overall limit,
//!   [`HttpSettings::timeout`] (Terraform's `TF_REGISTRY_CLIENT_TIMEOUT`, 10 s by
//!   default). A package download, which may be hundreds of megabytes, has that limit
//!   for connecting and for the response headers, then may take as long as it needs as
//!   long as data keeps coming: each read waits at most [`DOWNLOAD_READ_TIMEOUT`].
//! - **Retries**: as Terraform's `go-retryablehttp` client for registry and mirror
//!   requests (not discovery, not downloads): a connection failure, `429` or a `5xx`
//!   other than `501` is retried [`HttpSettings::retries`] times
//!   (`TF_REGISTRY_DISCOVERY_RETRY`, 1 by default), after 1 s, 2 s, 4 s, ... up to 30 s.
//! - **Proxies**: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, except for
//!   loopback addresses, which are never proxied (as in Go).

use std::io::{self, Read as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use url::Url;

/// Terraform's default limit for one registry or mirror request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Terraform's default number of retries of a registry or mirror request.
pub const DEFAULT_RETRIES: u32 = 1;
/// How long a package download may go without receiving anything.
pub const DOWNLOAD_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest protocol document read (version lists of big providers are ~1 MB).
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

/// How terrane talks HTTP(S) to registries and mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// A PEM file of CA certificates to trust instead of the system's bundle, as Go
    /// (so Terraform) reads `SSL_CERT_FILE`: the certificates of the system's
    /// certificate directories (`SSL_CERT_DIR`, else `/etc/ssl/certs`) stay trusted.
    /// [`crate::CliEnv::from_process`] fills it from `SSL_CERT_FILE`.
    pub ca_file: Option<PathBuf>,
    /// The limit of one protocol request (`TF_REGISTRY_CLIENT_TIMEOUT`).
    pub timeout: Duration,
    /// Retries of a registry or mirror request that failed transiently
    /// (`TF_REGISTRY_DISCOVERY_RETRY`).
    pub retries: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
        }
    }
}

/// Why a request got no usable answer: the message says what failed, for the caller
/// to put in context (which provider, which registry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    pub message: String,
    /// Whether trying again might help (a refused connection, a timeout), as opposed to
    /// a certificate that is not trusted or a redirect loop.
    pub transient: bool,
}

impl HttpError {
    pub(crate) fn new(message: impl Into<String>) -> HttpError {
        HttpError {
            message: message.into(),
            transient: false,
        }
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The URL that answered, after redirects: relative URLs in the body resolve
    /// against it.
    pub url: Url,
    /// The `X-Terraform-Get` header: where a module registry or a module download page
    /// says the package is.
    pub terraform_get: Option<String>,
}

impl Response {
    /// `404 Not Found`, as Go prints a status.
    pub fn status_line(&self) -> String {
        status_line(self.status)
    }

    /// The media type without parameters, lower case.
    pub fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

pub(crate) fn status_line(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// The HTTP client of the network sources, built on first use (loading the system's
/// CA certificates is not free, and most installations never need it).
pub struct HttpClient {
    settings: HttpSettings,
    agent: OnceLock<Result<ureq::Agent, HttpError>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> HttpClient {
        HttpClient {
            settings,
            agent: OnceLock::new(),
        }
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    fn agent(&self) -> Result<&ureq::Agent, HttpError> {
        self.agent
            .get_or_init(|| build_agent(&self.settings))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// One GET, not retried, following at most `max_redirects` redirects, within the
    /// request timeout, reading at most `limit` bytes of body. Any status is a response.
    pub(crate) fn get_once(
        &self,
        url: &Url,
        max_redirects: u32,
        accept_json: bool,
    ) -> Result<Response, HttpError> {
        let agent = self.agent()?;
        let mut request = agent
            .get(url.as_str())
            .config()
            .max_redirects(max_redirects)
            .timeout_global(Some(self.settings.timeout));
        if is_loopback(url) {
            request = request.proxy(None);
        }
        let mut request = request.build();
        if accept_json {
            request = request.header("Accept", "application/json");
        }
        let mut response = request.call().map_err(|e| transport_error(url, &e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let final_url = final_url(&response, url);
        let terraform_get = response
            .headers()
            .get("x-terraform-get")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_DOCUMENT_BYTES)
            .read_to_vec()
            .map_err(|e| transport_error(&final_url, &e))?;
        Ok(Response {
            status,
            content_type,
            body,
            url: final_url,
            terraform_get,
        })
    }

    /// A GET retried as Terraform's registry client retries: after a connection failure,
    /// `429` or a `5xx` other than `501`. When every attempt failed that way the error
    /// says how many there were and what the last one got.
    pub(crate) fn get(
        &self,
        url: &Url,
        max_redirects: u32,
        accept_json: bool,
    ) -> Result<Response, HttpError> {
        let attempts = self.settings.retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.get_once(url, max_redirects, accept_json);
            let detail = match &result {
                Ok(r) if r.status == 429 || (r.status >= 500 && r.status != 501) => {
                    format!("{} returned from {}", r.status_line(), host_of(&r.url))
                }
                Err(error) if error.transient => error.message.clone(),
                _ => return result,
            };
            if attempt >= attempts {
                return Err(HttpError::new(if attempts > 1 {
                    format!("the request failed after {attempts} attempts, please try again later: {detail}")
                } else {
                    format!("the request failed, please try again later: {detail}")
                }));
            }
            tracing::info!(%url, %detail, "A request to a provider registry or mirror failed; retrying");
            std::thread::sleep(backoff(attempt - 1));
        }
    }

    /// Downloads `url` into the file `dest` (created or truncated). Anything but `200 OK`
    /// is an error.
    pub(crate) fn download(&self, url: &Url, dest: &Path) -> Result<(), HttpError> {
        let agent = self.agent()?;
        let mut request = agent
            .get(url.as_str())
            .config()
            .max_redirects(10)
            .timeout_global(None)
            .timeout_connect(Some(self.settings.timeout))
            .timeout_recv_response(Some(self.settings.timeout))
            .timeout_per_read(Some(DOWNLOAD_READ_TIMEOUT));
        if is_loopback(url) {
            request = request.proxy(None);
        }
        let response = request
            .build()
            .call()
            .map_err(|e| transport_error(url, &e))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(HttpError::new(format!(
                "{} returned from {}",
                status_line(status),
                final_url(&response, url)
            )));
        }
        let mut reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        let mut file = std::fs::File::create(dest)
            .map_err(|e| HttpError::new(format!("cannot create {}: {e}", dest.display())))?;
        copy(&mut reader, &mut file)
            .map_err(|e| HttpError::new(format!("downloading {url}: {e}")))?;
        file.sync_all()
            .map_err(|e| HttpError::new(format!("cannot write {}: {e}", dest.display())))?;
        Ok(())
    }
}

fn copy(reader: &mut impl io::Read, writer: &mut impl io::Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// retryablehttp's default backoff: 1 s doubled per attempt, at most 30 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(5)).min(Duration::from_secs(30))
}

fn final_url(response: &ureq::http::Response<ureq::Body>, requested: &Url) -> Url {
    use ureq::ResponseExt as _;
    Url::parse(&response.get_uri().to_string()).unwrap_or_else(|_| requested.clone())
}

/// `HOST[:PORT]` of a URL, as Go's `req.Host`.
pub(crate) fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => url.to_string(),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

fn transport_error(url: &Url, error: &ureq::Error) -> HttpError {
    let (cause, transient) = match error {
        ureq::Error::Io(io) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => (tls_message(tls), false),
            None => (io.to_string(), true),
        },
        ureq::Error::Rustls(tls) => (tls_message(tls), false),
        ureq::Error::Timeout(what) => (format!("timed out ({what})"), true),
        ureq::Error::TooManyRedirects => ("stopped after too many redirects".to_string(), false),
        ureq::Error::BodyExceedsLimit(limit) => {
            (format!("the response is larger than {limit} bytes"), false)
        }
        ureq::Error::HostNotFound => ("the host name does not resolve".to_string(), true),
        ureq::Error::ConnectionFailed => ("the connection failed".to_string(), true),
        other => (other.to_string(), false),
    };
    HttpError {
        message: format!("GET {url}: {cause}"),
        transient,
    }
}

fn tls_message(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => format!(
            "the server's TLS certificate is not trusted ({}); if the server uses a private CA, name a PEM file of its certificate in SSL_CERT_FILE",
            error_text(cert)
        ),
        other => format!("TLS: {other}"),
    }
}

fn error_text(cert: &rustls::CertificateError) -> String {
    match cert {
        rustls::CertificateError::UnknownIssuer => {
            "issued by an unknown certificate authority".to_string()
        }
        rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. } => {
            "expired".to_string()
        }
        rustls::CertificateError::NotValidForName
        | rustls::CertificateError::NotValidForNameContext { .. } => {
            "not valid for this host name".to_string()
        }
        other => format!("{other:?}"),
    }
}

fn build_agent(settings: &HttpSettings) -> Result<ureq::Agent, HttpError> {
    let roots = root_certificates(settings.ca_file.as_deref())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
        .unversioned_rustls_crypto_provider(provider)
        .build();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!(
            "terrane/",
            env!("CARGO_PKG_VERSION"),
            " (Terraform provider installer)"
        ))
        .tls_config(tls)
        .timeout_global(Some(settings.timeout))
        .build();
    Ok(config.new_agent())
}

fn root_certificates(
    ca_file: Option<&Path>,
) -> Result<Vec<ureq::tls::Certificate<'static>>, HttpError> {
    if let Some(path) = ca_file {
        let mut pem = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut pem))
            .map_err(|e| {
                HttpError::new(format!(
                    "cannot read the CA certificates in {}: {e}",
                    path.display()
                ))
            })?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(HttpError::new(format!(
                "{} holds no PEM certificate to trust",
                path.display()
            )));
        }
        let mut certs = certs;
        certs.extend(system_directory_certificates());
        return Ok(certs);
    }
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "Skipped some of the system's CA certificates");
    }
    if found.certs.is_empty() {
        return Err(HttpError::new(format!(
            "no CA certificates were found on this system{}; install the ca-certificates package, or name a PEM file of them in SSL_CERT_FILE",
            found
                .errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )));
    }
    Ok(found
        .certs
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect())
}

/// The certificates of the system's certificate directories, which Go's TLS stack (so
/// Terraform) trusts besides the file `SSL_CERT_FILE` names, on Linux and the BSDs:
/// `SSL_CERT_DIR` (a colon-separated list), else `/etc/ssl/certs` and
/// `/etc/pki/tls/certs`.
fn system_directory_certificates() -> Vec<ureq::tls::Certificate<'static>> {
    static CERTS: OnceLock<Vec<ureq::tls::Certificate<'static>>> = OnceLock::new();
    CERTS
        .get_or_init(load_system_directory_certificates)
        .clone()
}

fn load_system_directory_certificates() -> Vec<ureq::tls::Certificate<'static>> {
    if cfg!(any(not(unix), target_os = "macos")) {
        return Vec::new();
    }
    let dirs: Vec<PathBuf> = match std::env::var_os("SSL_CERT_DIR").filter(|d| !d.is_empty()) {
        Some(dirs) => std::env::split_paths(&dirs).collect(),
        None => vec![
            PathBuf::from("/etc/ssl/certs"),
            PathBuf::from("/etc/pki/tls/certs"),
        ],
    };
    dirs.iter()
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| rustls_native_certs::load_certs_from_paths(None, Some(dir)).certs)
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(9), Duration::from_secs(30));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for (url, loopback) in [
            ("https://127.0.0.1:8443/x", true),
            ("https://[::1]/x", true),
            ("https://localhost/x", true),
            ("https://registry.terraform.io/x", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(url).unwrap()), loopback, "{url}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "nothing here").unwrap();
        let message = root_certificates(Some(&path)).unwrap_err().to_string();
        assert!(message.contains("holds no PEM certificate"), "{message}");
    }
}
