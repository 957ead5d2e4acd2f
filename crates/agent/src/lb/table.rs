//! The routing table: each balancer's backends (replicas of its services, as the
//! supervisor publishes them ready, plus static addresses) with their per-worker lanes
//! of counters, connections and slots; choosing a backend by the balancer's algorithm;
//! and passive ejection of a backend that keeps failing.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rand::Rng;

use super::{worker_count, Algorithm, Balancer};
use crate::histogram::Histogram;
use crate::supervisor::{ReadySet, ServiceCounters};
use crate::upstream::Idle;

/// Requests (and so connections) open to one backend at a time, shared out among the
/// data-plane workers; more wait for a free one. This bounds the balancer's memory under
/// many client connections: backends answer faster than clients arrive, so a few dozen
/// busy connections carry the load.
pub(super) const BACKEND_CONNECTIONS: usize = 128;

/// Consecutive failures that eject a backend, and for how long.
const EJECT_AFTER: u32 = 3;
const EJECT_FOR: Duration = Duration::from_secs(5);

/// Milliseconds on a process-wide monotonic clock (never 0), for lock-free deadlines.
pub(super) fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// What one data-plane worker keeps for one backend. Each worker writes only its own
/// lanes, and a lane fills its own cache lines, so two cores serving requests never
/// write the same line; readers (status, metrics) add the lanes up.
#[repr(align(128))]
pub(super) struct Lane {
    pub(super) idle: Arc<Idle>,
    pub(super) slots: Arc<tokio::sync::Semaphore>,
    pub(super) requests: AtomicU64,
    pub(super) in_flight: AtomicUsize,
    pub(super) latency: Histogram,
}

pub(super) struct BackendStats {
    /// One lane per data-plane worker.
    pub(super) lanes: Box<[Lane]>,
    pub(super) errors: AtomicU64,
    consecutive_failures: AtomicU32,
    /// [`now_ms`] until which the backend is ejected; 0 when it is not.
    ejected_until: AtomicU64,
    /// Set by the active health check of static backends (replicas of services are
    /// checked by the supervisor instead).
    pub(super) down: AtomicBool,
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

    pub(super) fn lane(&self, worker: usize) -> &Lane {
        &self.lanes[worker % self.lanes.len()]
    }

    pub(super) fn requests(&self) -> u64 {
        self.lanes
            .iter()
            .map(|l| l.requests.load(Ordering::Relaxed))
            .sum()
    }

    pub(super) fn in_flight(&self) -> usize {
        self.lanes
            .iter()
            .map(|l| l.in_flight.load(Ordering::Relaxed))
            .sum()
    }

    pub(super) fn available(&self, now: u64) -> bool {
        !self.down.load(Ordering::Relaxed) && self.ejected_until.load(Ordering::Relaxed) <= now
    }
}

/// A backend as the request path sees it: resolved once whenever the set of backends
/// changes, never per request.
#[derive(Clone)]
pub(super) struct Backend {
    pub(super) addr: String,
    pub(super) authority: hyper::http::uri::Authority,
    pub(super) stats: Arc<BackendStats>,
    /// The counters of the service this backend is a replica of (they feed autoscalers).
    pub(super) counters: Option<Arc<ServiceCounters>>,
}

/// The backends of the default target and of each route, in route order.
#[derive(Clone, Default)]
pub(super) struct Table {
    pub(super) default: Vec<Backend>,
    pub(super) routes: Vec<Vec<Backend>>,
}

impl Balancer {
    /// Rebuilds the routing table now and whenever the supervisor publishes a new set of
    /// ready replicas, so a replica receives traffic as soon as it is ready.
    pub(super) fn follow_readiness(self: &Arc<Self>) {
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

    pub(super) fn stats(&self, addr: &str) -> Arc<BackendStats> {
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
    pub(super) fn pick<'t>(
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

    pub(super) fn record(&self, b: &Backend, ok: bool) {
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
}
