//! The HTTP load balancer: a reverse proxy built on hyper, running inside the agent.
//!
//! Backends are the healthy replicas of the services a balancer points at plus static
//! addresses. The supervisor publishes the set of ready replicas on a watch channel
//! whenever it changes; each balancer rebuilds its routing table from it at once, so a
//! replica joins as soon as it is healthy and leaves as soon as it is not, and the
//! request path reads one shared table without touching the supervisor. Algorithms: round robin, least connections and
//! power of two choices. A backend that fails to connect or answers 5xx
//! `eject_after` times in a row is ejected for `eject_for` (passive outlier
//! ejection); a request that fails to connect is retried once on another backend when
//! its method is idempotent. Connections to backends are pooled and kept alive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderName;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::histogram::Histogram;
use crate::supervisor::{ReadySet, ServiceCounters, Supervisor};
use crate::upstream::{self, Idle};

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

/// The balancers' data plane: one single-threaded runtime per core. Each client
/// connection lives on one of them, together with the backend connections its requests
/// use (every worker has its own pool), so a request never hops between threads.
struct Workers {
    handles: Vec<tokio::runtime::Handle>,
}

fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| {
        let n = std::env::var("TERRANE_LB_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let handles = (0..n)
            .filter_map(|i| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                let handle = rt.handle().clone();
                std::thread::Builder::new()
                    .name(format!("terrane-lb-{i}"))
                    .spawn(move || rt.block_on(std::future::pending::<()>()))
                    .ok()?;
                Some(handle)
            })
            .collect();
        Workers { handles }
    })
}

/// A balancer as one data-plane worker's connections hold it. Each request takes a
/// reference to this worker's own handle, so the count it bumps is on a cache line no
/// other core writes.
struct Local {
    lb: Arc<Balancer>,
    worker: usize,
}

/// Tells one worker's client connections to drain. A connection registers its task's
/// waker once and then reads one flag each time it is polled, so the stop signal costs a
/// request nothing (a `watch` receiver polled beside every connection took a lock on
/// each poll).
#[derive(Default)]
struct Drain {
    stopped: AtomicBool,
    next_id: AtomicU64,
    wakers: std::sync::Mutex<std::collections::HashMap<u64, std::task::Waker>>,
}

impl Drain {
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// Polls `conn` until it finishes (true) or a stop is asked for (false).
    async fn run_until_stopped<F: std::future::Future>(
        &self,
        mut conn: std::pin::Pin<&mut F>,
    ) -> bool {
        /// Takes the connection's waker off the list however the wait ends, also when
        /// the task is dropped in the middle of it.
        struct Registration<'d> {
            drain: &'d Drain,
            id: u64,
            waker: Option<std::task::Waker>,
        }
        impl Drop for Registration<'_> {
            fn drop(&mut self) {
                if self.waker.is_some() {
                    self.drain
                        .wakers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&self.id);
                }
            }
        }
        let mut registration = Registration {
            drain: self,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            waker: None,
        };
        std::future::poll_fn(|cx| {
            if conn.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(true);
            }
            let r = &mut registration;
            if !r.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                let w = cx.waker().clone();
                self.wakers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(r.id, w.clone());
                r.waker = Some(w);
            }
            // After registering: a stop either is seen here or wakes this task.
            if self.stopped.load(Ordering::SeqCst) {
                return std::task::Poll::Ready(false);
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// Serves HTTP/1.1 on one client connection until it closes, draining on stop.
async fn serve_http<S>(local: Arc<Local>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let lb = local.lb.clone();
    let worker = local.worker;
    let service = hyper::service::service_fn(move |req| {
        let local = local.clone();
        async move { Ok::<_, std::convert::Infallible>(local.lb.proxy(req, local.worker).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // A client may shut down its sending side once its request is out and still
        // get the answer (HAProxy's default too). It also spares every request in
        // flight a read buffer and a read, which only watched for such an end of input.
        .half_close(true)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // Also when the balancer stopped between accepting the connection and here.
    if !lb.shards[worker]
        .drain
        .run_until_stopped(conn.as_mut())
        .await
    {
        // Drain: finish the request in flight, then close.
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
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

/// Requests (and so connections) open to one backend at a time, shared out among the
/// data-plane workers; more wait for a free one. This bounds the balancer's memory under
/// many client connections: backends answer faster than clients arrive, so a few dozen
/// busy connections carry the load.
const BACKEND_CONNECTIONS: usize = 128;

/// How long a request waits for a free backend connection before it fails with 503.
const SLOT_WAIT: Duration = Duration::from_secs(10);

/// Consecutive failures that eject a backend, and for how long.
const EJECT_AFTER: u32 = 3;
const EJECT_FOR: Duration = Duration::from_secs(5);

/// Milliseconds on a process-wide monotonic clock (never 0), for lock-free deadlines.
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// The data-plane workers, for sizing per-worker state.
fn worker_count() -> usize {
    workers().handles.len().max(1)
}

/// What one data-plane worker keeps for one backend. Each worker writes only its own
/// lanes, and a lane fills its own cache lines, so two cores serving requests never
/// write the same line; readers (status, metrics) add the lanes up.
#[repr(align(128))]
struct Lane {
    idle: Arc<Idle>,
    slots: Arc<tokio::sync::Semaphore>,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    latency: Histogram,
}

struct BackendStats {
    /// One lane per data-plane worker.
    lanes: Box<[Lane]>,
    errors: AtomicU64,
    consecutive_failures: AtomicU32,
    /// [`now_ms`] until which the backend is ejected; 0 when it is not.
    ejected_until: AtomicU64,
    /// Set by the active health check of static backends (replicas of services are
    /// checked by the supervisor instead).
    down: AtomicBool,
}

impl BackendStats {
    fn new() -> BackendStats {
        let n = worker_count();
        BackendStats {
            lanes: (0..n)
                .map(|_| Lane {
                    idle: Arc::default(),
                    slots: Arc::new(tokio::sync::Semaphore::new(BACKEND_CONNECTIONS.div_ceil(n))),
                    requests: AtomicU64::new(0),
                    in_flight: AtomicUsize::new(0),
                    latency: Histogram::default(),
                })
                .collect(),
            errors: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    fn lane(&self, worker: usize) -> &Lane {
        &self.lanes[worker % self.lanes.len()]
    }

    fn requests(&self) -> u64 {
        self.lanes
            .iter()
            .map(|l| l.requests.load(Ordering::Relaxed))
            .sum()
    }

    fn in_flight(&self) -> usize {
        self.lanes
            .iter()
            .map(|l| l.in_flight.load(Ordering::Relaxed))
            .sum()
    }

    fn available(&self, now: u64) -> bool {
        !self.down.load(Ordering::Relaxed) && self.ejected_until.load(Ordering::Relaxed) <= now
    }
}

/// A backend as the request path sees it: resolved once whenever the set of backends
/// changes, never per request.
#[derive(Clone)]
struct Backend {
    addr: String,
    authority: hyper::http::uri::Authority,
    stats: Arc<BackendStats>,
    /// The counters of the service this backend is a replica of (they feed autoscalers).
    counters: Option<Arc<ServiceCounters>>,
}

/// The backends of the default target and of each route, in route order.
#[derive(Clone, Default)]
struct Table {
    default: Vec<Backend>,
    routes: Vec<Vec<Backend>>,
}

/// What one data-plane worker keeps for one balancer (see [`Lane`]).
#[repr(align(128))]
struct Shard {
    next: AtomicUsize,
    requests: AtomicU64,
    failed: AtomicU64,
    latency: Histogram,
    /// This worker's copy of the routing table.
    table: std::sync::RwLock<Arc<Table>>,
    /// Tells this worker's client connections to drain.
    drain: Drain,
}

pub struct Balancer {
    pub name: String,
    pub spec: LbSpec,
    pub address: SocketAddr,
    supervisor: Arc<Supervisor>,
    /// One shard per data-plane worker.
    shards: Box<[Shard]>,
    /// Every backend seen so far, by address (their counters outlive their readiness).
    backends: std::sync::RwLock<std::collections::HashMap<String, Arc<BackendStats>>>,
    next_conn: AtomicUsize,
    /// The round-robin rotation, shared by every worker.
    rotation: AtomicUsize,
    stop: watch::Sender<bool>,
}

pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// How many headers [`HOP_BY_HOP`] lists (a constant of its own: `HOP_BY_HOP.len()`
/// cannot size an array, since a `HeaderName` has a destructor).
const HOP_BY_HOP_COUNT: usize = 8;

/// Headers that belong to one connection and are not forwarded.
const HOP_BY_HOP: [HeaderName; HOP_BY_HOP_COUNT] = [
    hyper::header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    hyper::header::PROXY_AUTHENTICATE,
    hyper::header::PROXY_AUTHORIZATION,
    hyper::header::TE,
    hyper::header::TRAILER,
    hyper::header::UPGRADE,
];

/// Removes the hop-by-hop headers: those of [`HOP_BY_HOP`], and any other that a
/// `Connection` header names (RFC 9110, section 7.6.1).
fn strip_hop_by_hop(headers: &mut hyper::HeaderMap) {
    // One pass over the entries finds which of them are there, and whether a
    // `Connection` value names anything but the usual `keep-alive` or `close`; that
    // costs less than looking each of the eight up (most messages carry none of them,
    // or only `Connection: keep-alive`).
    let mut found = [false; HOP_BY_HOP_COUNT];
    let mut names_others = false;
    for (name, value) in headers.iter() {
        let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) else {
            continue;
        };
        found[i] = true;
        if name == hyper::header::CONNECTION {
            let v = value.as_bytes();
            names_others |=
                !v.eq_ignore_ascii_case(b"keep-alive") && !v.eq_ignore_ascii_case(b"close");
        }
    }
    if names_others {
        let listed: Vec<HeaderName> = headers
            .get_all(hyper::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.eq_ignore_ascii_case("close") && !t.eq_ignore_ascii_case("keep-alive"))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            // The route was chosen by `Host`: a peer cannot make it hop-by-hop.
            .filter(|n| n != hyper::header::HOST)
            .collect();
        for l in listed {
            headers.remove(l);
        }
    }
    for (name, _) in HOP_BY_HOP.iter().zip(found).filter(|(_, f)| *f) {
        headers.remove(name);
    }
}

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
        let tls = match &spec.tls {
            Some(t) => Some(tls_acceptor(name, t)?),
            None => None,
        };
        let (stop, mut stopped) = watch::channel(false);
        let lb = Arc::new(Balancer {
            name: name.to_string(),
            spec,
            address,
            supervisor,
            shards: (0..worker_count())
                .map(|worker| Shard {
                    // Workers start their round robin at different backends, so
                    // connections spread evenly even when each carries one request.
                    next: AtomicUsize::new(worker),
                    requests: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    latency: Histogram::default(),
                    table: std::sync::RwLock::new(Arc::new(Table::default())),
                    drain: Drain::default(),
                })
                .collect(),
            backends: std::sync::RwLock::new(std::collections::HashMap::new()),
            next_conn: AtomicUsize::new(0),
            rotation: AtomicUsize::new(0),
            stop,
        });
        lb.follow_readiness();
        lb.start_backend_checks();
        lb.expire_idle_connections();
        let locals: Vec<Arc<Local>> = (0..lb.shards.len())
            .map(|worker| {
                Arc::new(Local {
                    lb: lb.clone(),
                    worker,
                })
            })
            .collect();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                // Hand the connection to a data-plane worker (round robin).
                let Ok(stream) = stream.into_std() else {
                    continue;
                };
                let tls = tls.clone();
                let handles = &workers().handles;
                let worker = locals[0].lb.next_conn.fetch_add(1, Ordering::Relaxed) % locals.len();
                let local = locals[worker].clone();
                let conn = async move {
                    let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                        return;
                    };
                    if local.lb.spec.protocol == Protocol::Tcp {
                        return local.lb.forward_tcp(stream, worker).await;
                    }
                    match tls {
                        None => serve_http(local, stream).await,
                        Some(acceptor) => {
                            // A handshake that does not finish in time is dropped.
                            match tokio::time::timeout(
                                Duration::from_secs(10),
                                acceptor.accept(stream),
                            )
                            .await
                            {
                                Ok(Ok(tls_stream)) => serve_http(local, tls_stream).await,
                                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed."),
                                Err(_) => tracing::debug!("TLS handshake timed out."),
                            }
                        }
                    }
                };
                match handles.get(worker) {
                    Some(h) => {
                        h.spawn(conn);
                    }
                    None => {
                        tokio::spawn(conn);
                    }
                }
            }
        });
        Ok(lb)
    }

    pub fn stop(&self) {
        // `send_replace` records the stop even when nothing listens yet; a worker's
        // flag is read by every connection it starts later.
        self.stop.send_replace(true);
        for shard in &self.shards {
            shard.drain.stop();
        }
    }

    /// Rebuilds the routing table now and whenever the supervisor publishes a new set of
    /// ready replicas, so a replica receives traffic as soon as it is ready.
    fn follow_readiness(self: &Arc<Self>) {
        let mut ready = self.supervisor.ready_watch();
        let current = ready.borrow_and_update().clone();
        self.rebuild(&current);
        let lb = Arc::downgrade(self);
        let mut stopped = self.stop.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = ready.changed() => if changed.is_err() { return },
                    _ = stopped.changed() => return,
                }
                let Some(lb) = lb.upgrade() else { return };
                let set = ready.borrow_and_update().clone();
                lb.rebuild(&set);
            }
        });
    }

    fn rebuild(&self, ready: &ReadySet) {
        let target = |services: &[String], statics: &[String]| -> Vec<Backend> {
            let mut out = Vec::new();
            for s in services {
                let Some(ports) = ready.get(s) else { continue };
                let counters = self.supervisor.counters(s);
                out.extend(
                    ports
                        .iter()
                        .filter_map(|p| self.backend(format!("127.0.0.1:{p}"), Some(&counters))),
                );
            }
            out.extend(statics.iter().filter_map(|b| self.backend(b.clone(), None)));
            out
        };
        let table = Table {
            default: target(&self.spec.services, &self.spec.backends),
            routes: self
                .spec
                .routes
                .iter()
                .map(|r| target(&r.services, &r.backends))
                .collect(),
        };
        // Each worker gets its own copy, so taking it per request touches no reference
        // count another core writes.
        for shard in &self.shards {
            *shard.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table.clone());
        }
    }

    fn backend(&self, addr: String, counters: Option<&Arc<ServiceCounters>>) -> Option<Backend> {
        let authority = match addr.parse() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(balancer = %self.name, backend = %addr, error = %e, "Skipping a backend address that is not host:port.");
                return None;
            }
        };
        Some(Backend {
            stats: self.stats(&addr),
            addr,
            authority,
            counters: counters.cloned(),
        })
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
        b.entry(addr.to_string())
            .or_insert_with(|| Arc::new(BackendStats::new()))
            .clone()
    }

    /// Chooses a backend of `pool` other than `exclude`, skipping ejected and down ones
    /// (unless all of them are: then any, rather than fail every request).
    /// Counts are this worker's own: each worker balances the requests it serves.
    fn pick<'t>(
        &self,
        pool: &'t [Backend],
        exclude: Option<&str>,
        worker: usize,
    ) -> Option<&'t Backend> {
        let next = &self.shards[worker].next;
        let now = now_ms();
        let allowed = |b: &&Backend| Some(b.addr.as_str()) != exclude;
        let mut only_available = true;
        let mut n = pool
            .iter()
            .filter(allowed)
            .filter(|b| b.stats.available(now))
            .count();
        if n == 0 {
            only_available = false;
            n = pool.iter().filter(allowed).count();
            if n == 0 {
                return None;
            }
        }
        let eligible =
            move |b: &&Backend| allowed(b) && (!only_available || b.stats.available(now));
        let nth = |i: usize| pool.iter().filter(eligible).nth(i % n);
        let load = |b: &Backend| b.stats.lane(worker).in_flight.load(Ordering::Relaxed);
        match self.spec.algorithm {
            // One rotation per balancer, whichever worker serves the request: each
            // backend in turn (per-worker counters gave AABBCC).
            Algorithm::RoundRobin => nth(self.rotation.fetch_add(1, Ordering::Relaxed)),
            Algorithm::LeastConnections => {
                // Ties go round robin, so equal backends share the load.
                let start = next.fetch_add(1, Ordering::Relaxed) % n;
                pool.iter()
                    .filter(eligible)
                    .enumerate()
                    .min_by_key(|(i, b)| (load(b), (i + n - start) % n))
                    .map(|(_, b)| b)
            }
            Algorithm::P2c => {
                let mut rng = rand::rng();
                let a = nth(rng.random_range(0..n))?;
                let b = nth(rng.random_range(0..n))?;
                Some(if load(a) <= load(b) { a } else { b })
            }
        }
    }

    fn record(&self, b: &Backend, ok: bool) {
        let st = &b.stats;
        if ok {
            if st.consecutive_failures.load(Ordering::Relaxed) != 0 {
                st.consecutive_failures.store(0, Ordering::Relaxed);
            }
            return;
        }
        st.errors.fetch_add(1, Ordering::Relaxed);
        if st.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1 >= EJECT_AFTER {
            st.consecutive_failures.store(0, Ordering::Relaxed);
            st.ejected_until
                .store(now_ms() + EJECT_FOR.as_millis() as u64, Ordering::Relaxed);
            tracing::warn!(balancer = %self.name, backend = %b.addr, "Ejected a failing backend for {EJECT_FOR:?}.");
        }
    }

    async fn proxy<B>(&self, req: Request<B>, worker: usize) -> Response<ProxyBody>
    where
        B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + Sync + 'static,
    {
        let shard = &self.shards[worker];
        shard.requests.fetch_add(1, Ordering::Relaxed);
        let route = if self.spec.routes.is_empty() {
            None
        } else {
            let host = req
                .headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| h.rsplit_once(':').map(|(name, _)| name).unwrap_or(h));
            let path = req.uri().path();
            self.spec.routes.iter().position(|r| r.matches(host, path))
        };
        let (services, statics) = match route {
            Some(i) => (&self.spec.routes[i].services, &self.spec.routes[i].backends),
            None => (&self.spec.services, &self.spec.backends),
        };
        if services.is_empty() && statics.is_empty() {
            return text(
                StatusCode::NOT_FOUND,
                &format!(
                    "terrane load balancer {}: no route matches this host and path\n",
                    self.name
                ),
            );
        }
        let table = shard
            .table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let pool = match route {
            Some(i) => &table.routes[i],
            None => &table.default,
        };
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
        let attempts = if idempotent && no_body { 2 } else { 1 };
        // Backends get the request in origin form (`/path?query`).
        let path = match parts.uri.path_and_query() {
            Some(p) => hyper::Uri::from(p.clone()),
            None => hyper::Uri::from_static("/"),
        };
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        let mut incoming = Some(body);
        let mut tried: Option<&str> = None;
        for attempt in 0..attempts {
            let Some(b) = self.pick(pool, tried, worker) else {
                break;
            };
            let req_body: ProxyBody = if no_body {
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed()
            } else {
                match incoming.take() {
                    Some(b) => b.boxed(),
                    None => break,
                }
            };
            let mut out = Request::new(req_body);
            *out.method_mut() = parts.method.clone();
            *out.uri_mut() = path.clone();
            *out.headers_mut() = if attempt + 1 < attempts {
                // The original goes out and a copy stays for a retry. hyper parses the
                // response into the map of the request it sent, and a copy has room for
                // exactly its own headers: the response would grow it header by header.
                let copy = headers.clone();
                std::mem::replace(&mut headers, copy)
            } else {
                std::mem::take(&mut headers)
            };
            if !out.headers().contains_key(hyper::header::HOST) {
                if let Ok(host) = hyper::header::HeaderValue::from_str(b.authority.as_str()) {
                    out.headers_mut().insert(hyper::header::HOST, host);
                }
            }
            let lane = b.stats.lane(worker);
            let slot = match lane.slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                // Waiting is the rare path: boxed, it does not grow every request's future.
                Err(_) => Box::pin(tokio::time::timeout(
                    SLOT_WAIT,
                    lane.slots.clone().acquire_owned(),
                ))
                .await
                .ok()
                .and_then(Result::ok),
            };
            let Some(slot) = slot else {
                shard.failed.fetch_add(1, Ordering::Relaxed);
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "terrane load balancer {}: backend {} is saturated\n",
                        self.name, b.addr
                    ),
                );
            };
            lane.in_flight.fetch_add(1, Ordering::Relaxed);
            lane.requests.fetch_add(1, Ordering::Relaxed);
            if let Some(c) = &b.counters {
                c.requests.fetch_add(1, Ordering::Relaxed);
                c.in_flight.fetch_add(1, Ordering::Relaxed);
            }
            let started = Instant::now();
            let result = upstream::send(&lane.idle, &b.addr, out).await;
            let took = started.elapsed();
            lane.latency.observe(took);
            shard.latency.observe(took);
            lane.in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(c) = &b.counters {
                c.latency.observe(took);
                c.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            match result {
                Ok((resp, conn)) => {
                    self.record(b, !resp.status().is_server_error());
                    let (mut p, body) = resp.into_parts();
                    // Hop-by-hop headers describe the backend connection: a backend's
                    // `Connection: close` must not close the client's.
                    strip_hop_by_hop(&mut p.headers);
                    let body = upstream::ResponseBody::new(body, conn, lane.idle.clone(), slot);
                    return Response::from_parts(p, body.boxed());
                }
                Err(e) => {
                    self.record(b, false);
                    tracing::debug!(balancer = %self.name, backend = %b.addr, error = %e, attempt, "Backend request failed.");
                    // Idempotent requests may be sent again whatever went wrong (a refused
                    // connect, or a connection the dead backend had closed).
                    tried = Some(&b.addr);
                }
            }
        }
        shard.failed.fetch_add(1, Ordering::Relaxed);
        text(
            StatusCode::BAD_GATEWAY,
            &format!(
                "terrane load balancer {}: no backend could answer\n",
                self.name
            ),
        )
    }

    /// Closes backend connections that have been idle for too long, every few seconds.
    fn expire_idle_connections(self: &Arc<Self>) {
        let lb = Arc::downgrade(self);
        let mut stopped = self.stop.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(upstream::IDLE_TIMEOUT / 4) => {}
                    _ = stopped.changed() => return,
                }
                let Some(lb) = lb.upgrade() else { return };
                let backends: Vec<Arc<BackendStats>> = lb
                    .backends
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect();
                for lane in backends.iter().flat_map(|b| b.lanes.iter()) {
                    lane.idle.expire();
                }
            }
        });
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
    async fn forward_tcp(&self, mut client: tokio::net::TcpStream, worker: usize) {
        let shard = &self.shards[worker];
        shard.requests.fetch_add(1, Ordering::Relaxed);
        let table = shard
            .table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut tried: Option<&str> = None;
        for _ in 0..2 {
            let Some(b) = self.pick(&table.default, tried, worker) else {
                break;
            };
            let connect = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(&b.addr),
            )
            .await;
            match connect {
                Ok(Ok(mut backend)) => {
                    self.record(b, true);
                    let _ = backend.set_nodelay(true);
                    let lane = b.stats.lane(worker);
                    lane.requests.fetch_add(1, Ordering::Relaxed);
                    lane.in_flight.fetch_add(1, Ordering::Relaxed);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
                    lane.in_flight.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
                _ => {
                    self.record(b, false);
                    tried = Some(&b.addr);
                }
            }
        }
        shard.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus histograms of request latency, for the balancer and each backend.
    pub fn write_latency(&self, out: &mut String) {
        let name = "terrane_lb_request_duration_seconds";
        Histogram::merged(self.shards.iter().map(|s| &s.latency)).write_prometheus(
            out,
            name,
            &format!("lb=\"{}\",backend=\"all\"", self.name),
        );
        for (addr, s) in self
            .backends
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            Histogram::merged(s.lanes.iter().map(|l| &l.latency)).write_prometheus(
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
                        requests: s.requests(),
                        errors: s.errors.load(Ordering::Relaxed),
                        in_flight: s.in_flight(),
                        connections_opened: s.lanes.iter().map(|l| l.idle.opened()).sum(),
                        idle_connections: s.lanes.iter().map(|l| l.idle.len()).sum(),
                        ejected: !s.available(now_ms()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        LbStatus {
            name: self.name.clone(),
            spec: self.spec.clone(),
            address: self.address.to_string(),
            requests: self
                .shards
                .iter()
                .map(|s| s.requests.load(Ordering::Relaxed))
                .sum(),
            failed: self
                .shards
                .iter()
                .map(|s| s.failed.load(Ordering::Relaxed))
                .sum(),
            backends,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        for (k, v) in lines {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn names(h: &hyper::HeaderMap) -> Vec<&str> {
        let mut n: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        n.sort();
        n
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut h = headers(&[
            ("host", "a.test"),
            ("connection", "keep-alive, X-Trace, Host"),
            ("connection", "Upgrade"),
            ("keep-alive", "timeout=5"),
            ("x-trace", "1"),
            ("upgrade", "h2c"),
            ("te", "trailers"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
            ("content-length", "2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["content-length", "host", "x-kept"]);
    }

    #[test]
    fn messages_without_hop_by_hop_headers_are_left_alone() {
        let mut h = headers(&[("host", "a.test"), ("x-a", "1"), ("x-a", "2")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["host", "x-a"]);
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        let mut h = headers(&[("connection", "close"), ("x-a", "1")]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["x-a"]);
        // A name in a second `Connection` line, after a plain `Keep-Alive` one.
        let mut h = headers(&[
            ("connection", "Keep-Alive"),
            ("connection", "x-b"),
            ("x-a", "1"),
            ("x-b", "2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(names(&h), ["x-a"]);
    }
}
