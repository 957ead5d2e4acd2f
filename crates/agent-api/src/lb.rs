//! The load balancer's contract: what a `local_load_balancer` asks the agent to run
//! (listen address, algorithm, services, static backends, routes, protocol, TLS) and
//! the status the agent reports, with the TLS check the plan runs on the certificate
//! and key files.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    RoundRobin,
    LeastConnections,
    P2c,
}

impl Algorithm {
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s {
            "round_robin" => Some(Algorithm::RoundRobin),
            "least_connections" => Some(Algorithm::LeastConnections),
            "p2c" => Some(Algorithm::P2c),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LbSpec {
    pub listen: String,
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Agent names of services whose healthy replicas are backends.
    #[serde(default)]
    pub services: Vec<String>,
    /// Static backend addresses (`host:port`).
    #[serde(default)]
    pub backends: Vec<String>,
    /// Routing rules, tried in order; a request matching none goes to the default
    /// `services` and `backends` (or gets 404 when there are none).
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    /// `http` (default) or `tcp`: a TCP balancer forwards whole connections.
    #[serde(default)]
    pub protocol: Protocol,
    /// Terminate TLS with this certificate (HTTP balancers only).
    #[serde(default)]
    pub tls: Option<TlsSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TlsSpec {
    /// PEM file with the certificate chain.
    pub cert_file: String,
    /// PEM file with the private key.
    pub key_file: String,
}

/// Loads a balancer's certificate and key into a TLS server configuration, or explains
/// what is wrong with them. The plan checks a balancer's files with it (so a bad
/// certificate fails the plan, not the agent), and the agent serves with what it builds.
pub fn tls_server_config(name: &str, t: &TlsSpec) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert_file)
        .map_err(|e| {
            format!(
                "load balancer {name}: cannot read the certificate {}: {e}",
                t.cert_file
            )
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "load balancer {name}: the certificate {} does not parse as PEM: {e}",
                t.cert_file
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "load balancer {name}: {} contains no PEM certificate",
            t.cert_file
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&t.key_file).map_err(|e| {
        format!(
            "load balancer {name}: cannot read a private key from {}: {e}",
            t.key_file
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| {
        format!("load balancer {name}: the certificate and key do not fit together: {e}")
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    #[default]
    Http,
    Tcp,
}

/// An ingress rule: requests for `host` (any when unset) whose path starts with
/// `path_prefix` (any when unset) go to these services and backends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteSpec {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub backends: Vec<String>,
}

impl RouteSpec {
    /// Whether a request for `host` (without its port) and `path` takes this route.
    pub fn matches(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(want), Some(h)) => want.eq_ignore_ascii_case(h),
            (Some(_), None) => false,
        };
        host_ok
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendStatus {
    pub address: String,
    pub requests: u64,
    pub errors: u64,
    pub in_flight: usize,
    pub ejected: bool,
    /// HTTP connections opened to the backend so far.
    #[serde(default)]
    pub connections_opened: u64,
    /// Keep-alive connections to the backend waiting for a request.
    #[serde(default)]
    pub idle_connections: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LbStatus {
    pub name: String,
    pub spec: LbSpec,
    pub address: String,
    pub requests: u64,
    pub failed: u64,
    pub backends: Vec<BackendStatus>,
}
