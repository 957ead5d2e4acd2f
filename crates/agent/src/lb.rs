//! The HTTP load balancer: a reverse proxy built on hyper, running inside the agent.
//!
//! Backends are the healthy replicas of the services a balancer points at (looked up
//! on every request, so a replica joins as soon as it is healthy and leaves as soon as
//! it is not) plus static addresses. Algorithms: round robin, least connections and
//! power of two choices. A backend that fails to connect or answers 5xx
//! `eject_after` times in a row is ejected for `eject_for` (passive outlier
//! ejection); a request that fails to connect is retried once on another backend when
//! its method is idempotent. Connections to backends are pooled and kept alive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::supervisor::Supervisor;

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

/// Loads a certificate and key into a TLS acceptor, or explains what is wrong with them.
pub fn tls_acceptor(name: &str, t: &TlsSpec) -> Result<tokio_rustls::TlsAcceptor, String> {
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
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves HTTP/1.1 on one client connection until it closes, draining on stop.
async fn serve_http<S>(
    lb: Arc<Balancer>,
    sup: Arc<Supervisor>,
    stream: S,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let lb = lb.clone();
        let sup = sup.clone();
        async move { Ok::<_, std::convert::Infallible>(lb.proxy(req, &sup).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            // Drain: finish the request in flight, then close.
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
        }
    }
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
    fn matches(&self, host: Option<&str>, path: &str) -> bool {
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

/// Consecutive failures that eject a backend, and for how long.
const EJECT_AFTER: u32 = 3;
const EJECT_FOR: Duration = Duration::from_secs(5);

#[derive(Default)]
struct BackendStats {
    latency: crate::histogram::Histogram,
    requests: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicUsize,
    consecutive_failures: Mutex<u32>,
    ejected_until: Mutex<Option<Instant>>,
    /// Set by the active health check of static backends (replicas of services are
    /// checked by the supervisor instead).
    down: std::sync::atomic::AtomicBool,
}

pub struct Balancer {
    pub name: String,
    pub spec: LbSpec,
    pub address: SocketAddr,
    next: AtomicUsize,
    requests: AtomicU64,
    failed: AtomicU64,
    pub latency: crate::histogram::Histogram,
    backends: std::sync::RwLock<std::collections::HashMap<String, Arc<BackendStats>>>,
    client: Client<HttpConnector, ProxyBody>,
    stop: watch::Sender<bool>,
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Headers that belong to one connection and are not forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn text(status: StatusCode, msg: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(msg.to_string()))
        .map_err(|never| match never {})
        .boxed();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

impl Balancer {
    /// Binds the listen address and starts serving. Fails at once when the address is taken.
    pub async fn start(
        name: &str,
        spec: LbSpec,
        supervisor: Arc<Supervisor>,
    ) -> Result<Arc<Balancer>, String> {
        let listener = crate::keeper::tcp_listener(&spec.listen).map_err(|e| {
            format!(
                "load balancer {name}: cannot listen on {}: {e}",
                spec.listen
            )
        })?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let (stop, mut stopped) = watch::channel(false);
        let lb = Arc::new(Balancer {
            name: name.to_string(),
            spec,
            address,
            next: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency: crate::histogram::Histogram::default(),
            backends: std::sync::RwLock::new(std::collections::HashMap::new()),
            client,
            stop,
        });
        lb.start_backend_checks();
        let serving = lb.clone();
        let tls = match &lb.spec.tls {
            Some(t) => Some(tls_acceptor(name, t)?),
            None => None,
        };
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let lb = serving.clone();
                let sup = supervisor.clone();
                let conn_stop = stopped.clone();
                if lb.spec.protocol == Protocol::Tcp {
                    tokio::spawn(async move { lb.forward_tcp(stream, &sup).await });
                    continue;
                }
                match &tls {
                    None => {
                        tokio::spawn(serve_http(lb, sup, stream, conn_stop));
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            // A handshake that does not finish in time is dropped.
                            match tokio::time::timeout(
                                Duration::from_secs(10),
                                acceptor.accept(stream),
                            )
                            .await
                            {
                                Ok(Ok(tls_stream)) => {
                                    serve_http(lb, sup, tls_stream, conn_stop).await
                                }
                                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed."),
                                Err(_) => tracing::debug!("TLS handshake timed out."),
                            }
                        });
                    }
                }
            }
        });
        Ok(lb)
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    fn stats(&self, addr: &str) -> Arc<BackendStats> {
        if let Some(s) = self
            .backends
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(addr)
        {
            return s.clone();
        }
        let mut b = self.backends.write().unwrap_or_else(|e| e.into_inner());
        b.entry(addr.to_string()).or_default().clone()
    }

    /// Current backends, each with the service it belongs to: healthy replicas of the
    /// services plus static addresses, minus ejected ones.
    fn candidates(
        &self,
        supervisor: &Supervisor,
        services: &[String],
        backends: &[String],
    ) -> Vec<(String, Option<String>)> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for s in services {
            out.extend(
                supervisor
                    .ready_addresses(s)
                    .into_iter()
                    .map(|a| (a, Some(s.clone()))),
            );
        }
        out.extend(backends.iter().map(|b| (b.clone(), None)));
        let now = Instant::now();
        let live: Vec<(String, Option<String>)> = out
            .iter()
            .filter(|(a, _)| {
                let st = self.stats(a);
                !st.down.load(Ordering::Relaxed)
                    && st
                        .ejected_until
                        .lock()
                        .map(|u| u.is_none_or(|t| t <= now))
                        .unwrap_or(true)
            })
            .cloned()
            .collect();
        // If everything is ejected, try them all rather than fail every request.
        if live.is_empty() {
            out
        } else {
            live
        }
    }

    fn pick(
        &self,
        candidates: &[(String, Option<String>)],
        exclude: Option<&str>,
    ) -> Option<(String, Option<String>)> {
        let c: Vec<&(String, Option<String>)> = candidates
            .iter()
            .filter(|(a, _)| Some(a.as_str()) != exclude)
            .collect();
        if c.is_empty() {
            return None;
        }
        let load = |a: &str| self.stats(a).in_flight.load(Ordering::Relaxed);
        let chosen = match self.spec.algorithm {
            Algorithm::RoundRobin => c[self.next.fetch_add(1, Ordering::Relaxed) % c.len()],
            Algorithm::LeastConnections => {
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                (0..c.len())
                    .map(|i| c[(start + i) % c.len()])
                    .min_by_key(|(a, _)| load(a))
                    .unwrap_or(c[0])
            }
            Algorithm::P2c => {
                let mut rng = rand::rng();
                let a = c[rng.random_range(0..c.len())];
                let b = c[rng.random_range(0..c.len())];
                if load(&a.0) <= load(&b.0) {
                    a
                } else {
                    b
                }
            }
        };
        Some(chosen.clone())
    }

    fn record(&self, addr: &str, ok: bool) {
        let st = self.stats(addr);
        let mut fails = st
            .consecutive_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if ok {
            *fails = 0;
            return;
        }
        st.errors.fetch_add(1, Ordering::Relaxed);
        *fails += 1;
        if *fails >= EJECT_AFTER {
            *fails = 0;
            if let Ok(mut u) = st.ejected_until.lock() {
                *u = Some(Instant::now() + EJECT_FOR);
            }
            tracing::warn!(balancer = %self.name, backend = addr, "Ejected a failing backend for {EJECT_FOR:?}.");
        }
    }

    async fn proxy(&self, req: Request<Incoming>, supervisor: &Supervisor) -> Response<ProxyBody> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| {
                h.rsplit_once(':')
                    .map(|(name, _)| name)
                    .unwrap_or(h)
                    .to_string()
            });
        let (services, backends) = match self
            .spec
            .routes
            .iter()
            .find(|r| r.matches(host.as_deref(), req.uri().path()))
        {
            Some(r) => (&r.services, &r.backends),
            None => (&self.spec.services, &self.spec.backends),
        };
        if services.is_empty() && backends.is_empty() {
            return text(
                StatusCode::NOT_FOUND,
                &format!(
                    "terrane load balancer {}: no route matches this host and path\n",
                    self.name
                ),
            );
        }
        let candidates = self.candidates(supervisor, services, backends);
        let (parts, body) = req.into_parts();
        let idempotent = matches!(
            parts.method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"
        );
        let no_body = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .is_none_or(|v| v == "0")
            && !parts.headers.contains_key(hyper::header::TRANSFER_ENCODING);
        // A body can be sent only once, so only body-less idempotent requests are retried.
        let retryable = idempotent && no_body;
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let mut incoming = Some(body.boxed());
        let mut tried: Option<String> = None;
        let mut headers = parts.headers.clone();
        for name in HOP_BY_HOP {
            headers.remove(name);
        }
        for attempt in 0..(if retryable { 2 } else { 1 }) {
            let Some((addr, service)) = self.pick(&candidates, tried.as_deref()) else {
                break;
            };
            let counters = service.map(|s| supervisor.counters(&s));
            let stats = self.stats(&addr);
            let Ok(uri) = format!("http://{addr}{path}").parse::<hyper::Uri>() else {
                return text(StatusCode::BAD_REQUEST, "invalid request path\n");
            };
            let mut builder = Request::builder()
                .method(parts.method.clone())
                .uri(uri)
                .version(hyper::Version::HTTP_11);
            if let Some(h) = builder.headers_mut() {
                *h = headers.clone();
            }
            let req_body: ProxyBody = if no_body {
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed()
            } else {
                match incoming.take() {
                    Some(b) => b,
                    None => break,
                }
            };
            let Ok(out) = builder.body(req_body) else {
                return text(StatusCode::BAD_REQUEST, "invalid request\n");
            };
            stats.in_flight.fetch_add(1, Ordering::Relaxed);
            stats.requests.fetch_add(1, Ordering::Relaxed);
            if let Some(c) = &counters {
                c.requests.fetch_add(1, Ordering::Relaxed);
                c.in_flight.fetch_add(1, Ordering::Relaxed);
            }
            let started = Instant::now();
            let result = self.client.request(out).await;
            let took = started.elapsed();
            stats.latency.observe(took);
            self.latency.observe(took);
            if let Some(c) = &counters {
                c.latency.observe(took);
            }
            stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(c) = &counters {
                c.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            match result {
                Ok(resp) => {
                    self.record(&addr, !resp.status().is_server_error());
                    let (p, b) = resp.into_parts();
                    return Response::from_parts(p, b.boxed());
                }
                Err(e) => {
                    self.record(&addr, false);
                    tracing::debug!(balancer = %self.name, backend = %addr, error = %e, attempt, "Backend request failed.");
                    // Idempotent requests may be sent again whatever went wrong (a refused
                    // connect, or a pooled connection the dead backend had closed).
                    tried = Some(addr);
                }
            }
        }
        self.failed.fetch_add(1, Ordering::Relaxed);
        text(
            StatusCode::BAD_GATEWAY,
            &format!(
                "terrane load balancer {}: no backend could answer\n",
                self.name
            ),
        )
    }

    /// Actively checks static backends with a TCP connect every two seconds; one that
    /// fails twice in a row is taken out until it answers again.
    fn start_backend_checks(self: &Arc<Self>) {
        let mut addrs: Vec<String> = self.spec.backends.clone();
        for r in &self.spec.routes {
            addrs.extend(r.backends.iter().cloned());
        }
        addrs.sort();
        addrs.dedup();
        if addrs.is_empty() {
            return;
        }
        let lb = Arc::downgrade(self);
        let mut stopped = self.stop.subscribe();
        tokio::spawn(async move {
            let mut failures: std::collections::HashMap<String, u32> =
                std::collections::HashMap::new();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stopped.changed() => return,
                }
                let Some(lb) = lb.upgrade() else { return };
                for a in &addrs {
                    let ok = matches!(
                        tokio::time::timeout(
                            Duration::from_secs(1),
                            tokio::net::TcpStream::connect(a)
                        )
                        .await,
                        Ok(Ok(_))
                    );
                    let f = failures.entry(a.clone()).or_default();
                    *f = if ok { 0 } else { *f + 1 };
                    let st = lb.stats(a);
                    let was_down = st.down.swap(*f >= 2, Ordering::Relaxed);
                    if was_down != (*f >= 2) {
                        tracing::info!(balancer = %lb.name, backend = %a, up = ok, "Static backend changed health.");
                    }
                }
            }
        });
    }

    /// TCP mode: connect to a backend (trying another when the connect fails) and copy
    /// bytes both ways until either side closes.
    async fn forward_tcp(&self, mut client: tokio::net::TcpStream, supervisor: &Supervisor) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let candidates = self.candidates(supervisor, &self.spec.services, &self.spec.backends);
        let mut tried: Option<String> = None;
        for _ in 0..2 {
            let Some((addr, _)) = self.pick(&candidates, tried.as_deref()) else {
                break;
            };
            let stats = self.stats(&addr);
            let connect = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(&addr),
            )
            .await;
            match connect {
                Ok(Ok(mut backend)) => {
                    self.record(&addr, true);
                    let _ = backend.set_nodelay(true);
                    stats.requests.fetch_add(1, Ordering::Relaxed);
                    stats.in_flight.fetch_add(1, Ordering::Relaxed);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                    stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                _ => {
                    self.record(&addr, false);
                    tried = Some(addr);
                }
            }
        }
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus histograms of request latency, for the balancer and each backend.
    pub fn write_latency(&self, out: &mut String) {
        let name = "terrane_lb_request_duration_seconds";
        self.latency
            .write_prometheus(out, name, &format!("lb=\"{}\",backend=\"all\"", self.name));
        for (addr, s) in self
            .backends
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            s.latency.write_prometheus(
                out,
                name,
                &format!("lb=\"{}\",backend=\"{addr}\"", self.name),
            );
        }
    }

    pub fn status(&self) -> LbStatus {
        let backends = self
            .backends
            .read()
            .map(|b| {
                b.iter()
                    .map(|(a, s)| BackendStatus {
                        address: a.clone(),
                        requests: s.requests.load(Ordering::Relaxed),
                        errors: s.errors.load(Ordering::Relaxed),
                        in_flight: s.in_flight.load(Ordering::Relaxed),
                        ejected: s.down.load(Ordering::Relaxed)
                            || s.ejected_until
                                .lock()
                                .map(|u| u.is_some_and(|t| t > Instant::now()))
                                .unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default();
        LbStatus {
            name: self.name.clone(),
            spec: self.spec.clone(),
            address: self.address.to_string(),
            requests: self.requests.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            backends,
        }
    }
}
