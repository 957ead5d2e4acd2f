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
//!
//! This file is a balancer and its lifecycle (start, accept loop, stop); the spec and
//! status types are the API's ([`terrane_agent_api::lb`]). The rest, one job per file:
//! - [`workers`]: the data plane's per-core runtimes, and draining their connections;
//! - [`table`]: the routing table, backends and their counters, choice and ejection;
//! - [`proxy`]: serving HTTP on a client connection and proxying each request;
//! - [`tcp`]: forwarding whole TCP connections;
//! - [`health`]: active checks of static backends;
//! - [`status`]: status and Prometheus figures, the per-worker parts added up.

mod health;
mod proxy;
mod status;
mod table;
mod tcp;
mod workers;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::histogram::Histogram;
use crate::supervisor::Supervisor;
use crate::upstream;
use proxy::serve_http;
use table::{BackendStats, Table};
use workers::{worker_count, workers, Drain};

pub(crate) use proxy::ProxyBody;
pub use terrane_agent_api::lb::{
    tls_server_config, Algorithm, BackendStatus, LbSpec, LbStatus, Protocol, RouteSpec, TlsSpec,
};

/// Loads a certificate and key into a TLS acceptor, or explains what is wrong with them.
pub fn tls_acceptor(name: &str, t: &TlsSpec) -> Result<tokio_rustls::TlsAcceptor, String> {
    tls_server_config(name, t).map(|config| tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A balancer as one data-plane worker's connections hold it. Each request takes a
/// reference to this worker's own handle, so the count it bumps is on a cache line no
/// other core writes.
struct Local {
    lb: Arc<Balancer>,
    worker: usize,
}

/// What one data-plane worker keeps for one balancer (see [`table::Lane`]).
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

/// One running balancer: its spec and address, a shard per data-plane worker, and
/// every backend it has seen.
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
}
