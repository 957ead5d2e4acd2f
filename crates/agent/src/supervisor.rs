//! The process supervisor: keeps every service's replicas running and health-checked.
//!
//! Replicas run in their own process group with stdout and stderr appended to log
//! files, so they survive the agent; the agent records their pids (with the process
//! start time, so a recycled pid is never mistaken for a replica) in
//! `.terrane/agent/runtime.json` and re-adopts them when it starts again, without
//! restarting them. A reconcile loop starts missing replicas, restarts exited ones
//! according to the restart policy with exponential back-off, stops extra ones
//! (SIGTERM, grace period, SIGKILL), runs health checks and rotates logs.

use std::collections::{BTreeMap, VecDeque};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use crate::spec::{
    AgentEvent, ReplicaState, ReplicaStatus, RestartPolicy, ServiceSpec, ServiceStatus,
};

/// Logs are rotated past this size, keeping this many old files.
const LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;
const LOG_KEEP: u32 = 3;
const MAX_EVENTS: usize = 1000;

struct Replica {
    index: u32,
    generation: u64,
    port: u16,
    pid: Option<u32>,
    pid_start: Option<u64>,
    child: Option<Child>,
    state: ReplicaState,
    healthy: bool,
    ok_streak: u32,
    fail_streak: u32,
    next_check: Instant,
    restart_at: Option<Instant>,
    backoff: Duration,
    restarts: u32,
    last_error: Option<String>,
    /// Whether this replica slot was ever ready (re-adopted ones count as ready): one
    /// that exits before it ever was fails a create at once instead of at its timeout.
    ever_ready: bool,
    /// When this process was started by this agent (None for re-adopted ones).
    started: Option<Instant>,
}

/// A replica without a health check is ready once its process has stayed up this long,
/// so a command that exits at once is never taken for a running service.
const MIN_UPTIME: Duration = Duration::from_secs(1);

struct Service {
    spec: ServiceSpec,
    replicas: Vec<Replica>,
    /// Increases when the process (command, args, env, directory) changes; replicas of
    /// older generations are replaced by a rolling update.
    generation: u64,
    /// The replica count an autoscaler decided; while set it overrides `spec.replicas`.
    owned_replicas: Option<u32>,
}

/// What is written to `runtime.json` to re-adopt replicas after an agent restart.
#[derive(Serialize, Deserialize, Default)]
struct Runtime {
    services: BTreeMap<String, RuntimeService>,
}

#[derive(Serialize, Deserialize)]
struct RuntimeService {
    spec: ServiceSpec,
    replicas: Vec<RuntimeReplica>,
    #[serde(default)]
    generation: u64,
    #[serde(default)]
    owned_replicas: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct RuntimeReplica {
    index: u32,
    #[serde(default)]
    generation: u64,
    port: u16,
    pid: Option<u32>,
    pid_start: Option<u64>,
    /// Last known readiness, so a restarted agent keeps routing to replicas that were
    /// ready until their health check says otherwise.
    #[serde(default)]
    healthy: bool,
}

/// Traffic counters of a service, kept by the load balancers for the autoscaler.
#[derive(Default)]
pub struct ServiceCounters {
    pub requests: std::sync::atomic::AtomicU64,
    pub in_flight: std::sync::atomic::AtomicI64,
    /// Latency of requests answered by the service's replicas.
    pub latency: crate::histogram::Histogram,
}

pub struct Supervisor {
    dir: PathBuf,
    counters: Mutex<BTreeMap<String, std::sync::Arc<ServiceCounters>>>,
    services: Mutex<BTreeMap<String, Service>>,
    events: Mutex<VecDeque<AgentEvent>>,
    /// Service name → ports of its ready replicas, published whenever that changes so
    /// load balancers route without reading the service table on every request.
    ready: tokio::sync::watch::Sender<Arc<ReadySet>>,
    /// Encrypts services' environment values in `runtime.json` (they often hold
    /// secrets); the key is `runtime.key` beside it.
    env_key: Option<terrane_secrets::Keyring>,
}

/// Service name → ports of the replicas that are running and healthy.
pub type ReadySet = BTreeMap<String, Vec<u16>>;

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Field 22 of /proc/PID/stat: the process start time, None when the process is gone.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // A zombie has exited: treat it as gone.
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

fn env_context(service: &str, var: &str) -> String {
    format!("service {service} env {var}")
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Replica {
    fn new(index: u32, generation: u64) -> Replica {
        Replica {
            index,
            generation,
            port: 0,
            pid: None,
            pid_start: None,
            child: None,
            state: ReplicaState::Starting,
            healthy: false,
            ok_streak: 0,
            fail_streak: 0,
            next_check: Instant::now(),
            restart_at: Some(Instant::now()),
            backoff: Duration::from_millis(200),
            restarts: 0,
            last_error: None,
            ever_ready: false,
            started: None,
        }
    }

    fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            index: self.index,
            generation: self.generation,
            pid: self.pid,
            port: self.port,
            address: format!("127.0.0.1:{}", self.port),
            state: self.state,
            healthy: self.healthy,
            restarts: self.restarts,
            last_error: self.last_error.clone(),
            ever_ready: self.ever_ready,
        }
    }

    /// Checks whether the process is still there; returns its exit code when it just exited.
    fn poll_exit(&mut self) -> Option<Option<i32>> {
        if let Some(child) = &mut self.child {
            return match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    Some(status.code())
                }
                Ok(None) => None,
                Err(_) => Some(None),
            };
        }
        let pid = self.pid?;
        match process_start(pid) {
            Some(start) if self.pid_start.is_none_or(|s| s == start) => None,
            _ => Some(None),
        }
    }
}

impl Supervisor {
    pub fn new(dir: &Path) -> Supervisor {
        Supervisor {
            dir: dir.to_path_buf(),
            counters: Mutex::new(BTreeMap::new()),
            services: Mutex::new(BTreeMap::new()),
            events: Mutex::new(VecDeque::new()),
            ready: tokio::sync::watch::channel(Arc::new(ReadySet::new())).0,
            env_key: terrane_secrets::Keyring::from_key_file(&dir.join("runtime.key"))
                .map_err(|e| {
                    tracing::warn!(error = %e, "Services' environments will not be saved for restarts.")
                })
                .ok(),
        }
    }

    /// The ready replicas of every service, updated as soon as a replica becomes ready
    /// or stops being ready.
    pub fn ready_watch(&self) -> tokio::sync::watch::Receiver<Arc<ReadySet>> {
        self.ready.subscribe()
    }

    fn publish_ready(&self, services: &BTreeMap<String, Service>) {
        let now: ReadySet = services
            .iter()
            .map(|(name, s)| {
                let mut ports: Vec<u16> = s
                    .replicas
                    .iter()
                    .filter(|r| r.healthy && r.pid.is_some() && r.state == ReplicaState::Running)
                    .map(|r| r.port)
                    .collect();
                ports.sort_unstable();
                (name.clone(), ports)
            })
            .collect();
        self.ready.send_if_modified(|cur| {
            if **cur == now {
                return false;
            }
            *cur = Arc::new(now);
            true
        });
    }

    fn log_path(&self, service: &str, index: u32) -> PathBuf {
        self.dir
            .join("logs")
            .join(sanitize(service))
            .join(format!("{index}.log"))
    }

    pub fn log_dir(&self, service: &str) -> PathBuf {
        self.dir.join("logs").join(sanitize(service))
    }

    pub fn event(&self, service: &str, message: String) {
        tracing::info!(service, "{message}");
        if let Ok(mut ev) = self.events.lock() {
            ev.push_back(AgentEvent {
                time: now_secs(),
                service: service.to_string(),
                message,
            });
            while ev.len() > MAX_EVENTS {
                ev.pop_front();
            }
        }
    }

    pub fn events(&self) -> Vec<AgentEvent> {
        self.events
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Re-adopts replicas recorded by a previous agent that are still running.
    pub fn adopt(&self) {
        let path = self.dir.join("runtime.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let Ok(rt) = serde_json::from_str::<Runtime>(&text) else {
            tracing::warn!(path = %path.display(), "Ignoring an unreadable runtime file.");
            return;
        };
        let mut services = match self.services.lock() {
            Ok(s) => s,
            Err(_) => return,
        };
        for (name, mut rs) in rt.services {
            for (k, v) in rs.spec.env.iter_mut() {
                let plain = self
                    .env_key
                    .as_ref()
                    .and_then(|ring| ring.open(v, &env_context(&name, k)).ok())
                    .and_then(|p| String::from_utf8(p).ok());
                match plain {
                    Some(p) => *v = p,
                    None => {
                        tracing::warn!(service = %name, variable = %k, "Cannot decrypt an environment value of the runtime file; the service gets it again on the next apply.");
                        v.clear();
                    }
                }
            }
            let mut replicas = Vec::new();
            for rr in rs.replicas {
                let mut r = Replica::new(rr.index, rr.generation);
                r.port = rr.port;
                let alive = rr
                    .pid
                    .and_then(process_start)
                    .is_some_and(|s| rr.pid_start.is_none_or(|p| p == s));
                if alive {
                    r.pid = rr.pid;
                    r.pid_start = rr.pid_start;
                    r.state = ReplicaState::Running;
                    r.restart_at = None;
                    r.ever_ready = true;
                    // Keep its last known readiness until the health check says otherwise.
                    r.healthy = rs.spec.health_check.is_none() || rr.healthy;
                }
                replicas.push(r);
            }
            let adopted = replicas.iter().filter(|r| r.pid.is_some()).count();
            self.event(
                &name,
                format!("Re-adopted {adopted} running replica(s) after an agent restart."),
            );
            services.insert(
                name,
                Service {
                    spec: rs.spec,
                    replicas,
                    generation: rs.generation,
                    owned_replicas: rs.owned_replicas,
                },
            );
        }
        // Balancers restored next route to the re-adopted replicas from the start.
        self.publish_ready(&services);
    }

    fn save(&self, services: &BTreeMap<String, Service>) {
        self.publish_ready(services);
        let rt = Runtime {
            services: services
                .iter()
                .map(|(n, s)| {
                    (
                        n.clone(),
                        RuntimeService {
                            spec: s.spec.clone(),
                            owned_replicas: s.owned_replicas,
                            generation: s.generation,
                            replicas: s
                                .replicas
                                .iter()
                                .map(|r| RuntimeReplica {
                                    index: r.index,
                                    generation: r.generation,
                                    port: r.port,
                                    pid: r.pid,
                                    pid_start: r.pid_start,
                                    healthy: r.healthy,
                                })
                                .collect(),
                        },
                    )
                })
                .collect(),
        };
        let mut rt = rt;
        for (name, rs) in rt.services.iter_mut() {
            for (k, v) in rs.spec.env.iter_mut() {
                *v = match &self.env_key {
                    Some(ring) => ring.seal(v.as_bytes(), &env_context(name, k)),
                    // Without a key the value is not written at all.
                    None => String::new(),
                };
            }
        }
        let path = self.dir.join("runtime.json");
        let tmp = self.dir.join("runtime.json.tmp");
        if let Ok(text) = serde_json::to_string_pretty(&rt) {
            if std::fs::write(&tmp, text)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .is_err()
            {
                tracing::warn!(path = %path.display(), "Could not save the runtime file.");
            }
        }
    }

    /// Creates or replaces a service. A changed spec replaces every replica.
    pub fn put(&self, name: &str, spec: ServiceSpec) {
        let mut rolled = None;
        {
            let Ok(mut services) = self.services.lock() else {
                return;
            };
            match services.get_mut(name) {
                Some(s) if s.spec == spec => return,
                Some(s) => {
                    let same_process = s.spec.command == spec.command
                        && s.spec.args == spec.args
                        && s.spec.env == spec.env
                        && s.spec.working_dir == spec.working_dir;
                    if !same_process && !s.replicas.is_empty() {
                        s.generation += 1;
                        rolled = Some(s.generation);
                    }
                    s.spec = spec;
                }
                None => {
                    services.insert(
                        name.to_string(),
                        Service {
                            spec,
                            replicas: Vec::new(),
                            generation: 0,
                            owned_replicas: None,
                        },
                    );
                }
            }
            self.save(&services);
        }
        self.event(name, "Service configuration applied.".into());
        if let Some(g) = rolled {
            self.event(name, format!("Rolling update to generation {g} started."));
        }
    }

    /// Stops and forgets a service; returns whether it existed.
    pub async fn remove(&self, name: &str) -> bool {
        let removed = {
            let Ok(mut services) = self.services.lock() else {
                return false;
            };
            let s = services.remove(name);
            self.save(&services);
            s
        };
        let Some(s) = removed else { return false };
        let grace = Duration::from_millis(s.spec.grace_period_ms);
        futures_util::future::join_all(s.replicas.into_iter().map(|r| stop_replica(r, grace)))
            .await;
        self.event(name, "Service stopped and removed.".into());
        true
    }

    pub fn status(&self, name: &str) -> Option<ServiceStatus> {
        let services = self.services.lock().ok()?;
        services.get(name).map(|s| service_status(name, s))
    }

    pub fn counters(&self, name: &str) -> std::sync::Arc<ServiceCounters> {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        c.entry(name.to_string()).or_default().clone()
    }

    /// Gives the replica count to an autoscaler (Some) or back to the configuration (None).
    pub fn set_owned_replicas(&self, name: &str, replicas: Option<u32>) -> bool {
        let Ok(mut services) = self.services.lock() else {
            return false;
        };
        let Some(s) = services.get_mut(name) else {
            return false;
        };
        s.owned_replicas = replicas;
        self.save(&services);
        true
    }

    pub fn all(&self) -> Vec<ServiceStatus> {
        self.services
            .lock()
            .map(|s| s.iter().map(|(n, s)| service_status(n, s)).collect())
            .unwrap_or_default()
    }

    /// One pass of the reconcile loop.
    pub async fn reconcile(&self) {
        let mut checks = Vec::new();
        let mut to_stop = Vec::new();
        let mut changed = false;
        let mut events = Vec::new();
        {
            let Ok(mut services) = self.services.lock() else {
                return;
            };
            let now = Instant::now();
            for (name, s) in services.iter_mut() {
                let want = s.owned_replicas.unwrap_or(s.spec.replicas) as usize;
                let gen = s.generation;
                let next_index = |rs: &Vec<Replica>| {
                    (0..)
                        .find(|i| !rs.iter().any(|r| r.index == *i))
                        .unwrap_or(0)
                };
                let grace = Duration::from_millis(s.spec.grace_period_ms);
                if s.replicas.iter().all(|r| r.generation == gen) {
                    while s.replicas.len() > want {
                        if let Some(r) = s.replicas.pop() {
                            to_stop.push((r, grace));
                            changed = true;
                        }
                    }
                    while s.replicas.len() < want {
                        let idx = next_index(&s.replicas);
                        s.replicas.push(Replica::new(idx, gen));
                    }
                } else {
                    // Rolling update: start new-generation replicas within the surge bound,
                    // stop old ones only while enough replicas stay ready.
                    let (surge, unavailable) = s.spec.update.bounds(want).unwrap_or((1, 0));
                    let min_ready = want.saturating_sub(unavailable);
                    // Old replicas that exited are replaced, not restarted.
                    s.replicas
                        .retain(|r| r.generation == gen || r.pid.is_some());
                    let mut new_count = s.replicas.iter().filter(|r| r.generation == gen).count();
                    while new_count < want && s.replicas.len() < want + surge {
                        let idx = next_index(&s.replicas);
                        s.replicas.push(Replica::new(idx, gen));
                        new_count += 1;
                        changed = true;
                    }
                    let is_ready = |r: &Replica| {
                        r.healthy && r.pid.is_some() && r.state == ReplicaState::Running
                    };
                    loop {
                        let ready = s.replicas.iter().filter(|r| is_ready(r)).count();
                        let total_new_ready = s
                            .replicas
                            .iter()
                            .filter(|r| r.generation == gen && is_ready(r))
                            .count();
                        // Prefer removing an old replica that is not ready.
                        let victim = s
                            .replicas
                            .iter()
                            .position(|r| r.generation != gen && !is_ready(r))
                            .or_else(|| s.replicas.iter().position(|r| r.generation != gen));
                        let Some(i) = victim else { break };
                        let losing = usize::from(is_ready(&s.replicas[i]));
                        let over_capacity = s.replicas.len() > want + surge;
                        if ready - losing >= min_ready || (over_capacity && total_new_ready > 0) {
                            let r = s.replicas.remove(i);
                            events.push((
                                name.clone(),
                                format!(
                                    "Rolling update: replacing replica {} of generation {}.",
                                    r.index, r.generation
                                ),
                            ));
                            to_stop.push((r, grace));
                            changed = true;
                        } else {
                            break;
                        }
                    }
                    if s.replicas.iter().all(|r| r.generation == gen) {
                        events.push((
                            name.clone(),
                            format!("Rolling update to generation {gen} complete."),
                        ));
                    }
                }
                for r in s.replicas.iter_mut() {
                    if r.pid.is_some() {
                        if let Some(code) = r.poll_exit() {
                            r.pid = None;
                            r.healthy = false;
                            r.ok_streak = 0;
                            changed = true;
                            let failed = code != Some(0);
                            let mut msg = match code {
                                Some(c) => format!("exited with status {c}"),
                                None => {
                                    "exited (killed by a signal, or outside the agent)".to_string()
                                }
                            };
                            if let Some(line) = last_line(&self.log_path(name, r.index)) {
                                msg = format!("{msg} (last output: {line})");
                            }
                            r.last_error = Some(msg.clone());
                            let restart = r.generation == s.generation
                                && match s.spec.restart_policy {
                                    RestartPolicy::Always => true,
                                    RestartPolicy::OnFailure => failed,
                                    RestartPolicy::Never => false,
                                };
                            if restart {
                                r.state = ReplicaState::Restarting;
                                r.restart_at = Some(now + r.backoff);
                                events.push((
                                    name.clone(),
                                    format!(
                                        "Replica {} {msg}; restarting in {:?}.",
                                        r.index, r.backoff
                                    ),
                                ));
                                r.backoff = (r.backoff * 2).min(Duration::from_secs(10));
                            } else {
                                r.state = ReplicaState::Exited;
                                events.push((
                                    name.clone(),
                                    format!(
                                        "Replica {} {msg}; not restarted (restart_policy).",
                                        r.index
                                    ),
                                ));
                            }
                        }
                    }
                    if r.pid.is_none() && r.restart_at.is_some_and(|t| t <= now) {
                        r.restart_at = None;
                        match start_replica(
                            &self.dir,
                            name,
                            &s.spec,
                            r,
                            self.log_path(name, r.index),
                        ) {
                            Ok(()) => {
                                events.push((
                                    name.clone(),
                                    format!(
                                        "Started replica {} (pid {}, port {}).",
                                        r.index,
                                        r.pid.unwrap_or(0),
                                        r.port
                                    ),
                                ));
                            }
                            Err(e) => {
                                r.state = ReplicaState::Failed;
                                r.last_error = Some(e.clone());
                                r.restart_at = Some(now + r.backoff);
                                r.backoff = (r.backoff * 2).min(Duration::from_secs(10));
                                events.push((
                                    name.clone(),
                                    format!("Replica {} could not start: {e}", r.index),
                                ));
                            }
                        }
                        changed = true;
                    }
                    if r.pid.is_some() && r.state == ReplicaState::Running && r.next_check <= now {
                        match &s.spec.health_check {
                            Some(hc) => {
                                r.next_check = now + Duration::from_millis(hc.interval_ms.max(50));
                                checks.push((name.clone(), r.index, r.port, hc.clone()));
                            }
                            None => {
                                if r.started
                                    .is_none_or(|t| now.duration_since(t) >= MIN_UPTIME)
                                {
                                    r.healthy = true;
                                    r.ever_ready = true;
                                }
                            }
                        }
                    }
                    if r.pid.is_some() && r.state == ReplicaState::Starting {
                        r.state = ReplicaState::Running;
                    }
                }
            }
            if changed {
                self.save(&services);
            }
        }
        for (n, m) in events {
            self.event(&n, m);
        }
        for (r, grace) in to_stop {
            tokio::spawn(stop_replica(r, grace));
        }
        let results = futures_util::future::join_all(checks.into_iter().map(
            |(name, index, port, hc)| async move {
                let ok = crate::health::check(port, &hc).await;
                (name, index, hc, ok)
            },
        ))
        .await;
        let mut events = Vec::new();
        if let Ok(mut services) = self.services.lock() {
            for (name, index, hc, result) in results {
                let Some(r) = services
                    .get_mut(&name)
                    .and_then(|s| s.replicas.iter_mut().find(|r| r.index == index))
                else {
                    continue;
                };
                match result {
                    Ok(()) => {
                        r.ok_streak += 1;
                        r.fail_streak = 0;
                        if !r.healthy && r.ok_streak >= hc.healthy_threshold.max(1) {
                            r.healthy = true;
                            r.ever_ready = true;
                            r.backoff = Duration::from_millis(200);
                            r.last_error = None;
                            events.push((name.clone(), format!("Replica {index} is healthy.")));
                        }
                    }
                    Err(e) => {
                        r.fail_streak += 1;
                        r.ok_streak = 0;
                        r.last_error = Some(format!("health check failed: {e}"));
                        if r.healthy && r.fail_streak >= hc.unhealthy_threshold.max(1) {
                            r.healthy = false;
                            events.push((
                                name.clone(),
                                format!("Replica {index} is unhealthy: {e}."),
                            ));
                        }
                    }
                }
            }
            if !events.is_empty() {
                // Readiness changed: a restarted agent starts from it.
                self.save(&services);
            }
            self.publish_ready(&services);
        }
        for (n, m) in events {
            self.event(&n, m);
        }
        self.rotate_logs();
    }

    fn rotate_logs(&self) {
        let names: Vec<(String, Vec<u32>)> = match self.services.lock() {
            Ok(s) => s
                .iter()
                .map(|(n, s)| (n.clone(), s.replicas.iter().map(|r| r.index).collect()))
                .collect(),
            Err(_) => return,
        };
        for (name, indexes) in names {
            for i in indexes {
                let path = self.log_path(&name, i);
                if std::fs::metadata(&path)
                    .map(|m| m.len() > LOG_MAX_BYTES)
                    .unwrap_or(false)
                {
                    rotate(&path);
                }
            }
        }
    }
}

/// Copy-and-truncate rotation: the replica keeps its append-mode file descriptor.
fn rotate(path: &Path) {
    for n in (1..LOG_KEEP).rev() {
        let _ = std::fs::rename(
            path.with_extension(format!("log.{n}")),
            path.with_extension(format!("log.{}", n + 1)),
        );
    }
    if std::fs::copy(path, path.with_extension("log.1")).is_ok() {
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            let _ = f.set_len(0);
        }
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn service_status(name: &str, s: &Service) -> ServiceStatus {
    let replicas: Vec<ReplicaStatus> = s.replicas.iter().map(Replica::status).collect();
    let ready = replicas
        .iter()
        .filter(|r| r.healthy && r.state == ReplicaState::Running)
        .count() as u32;
    ServiceStatus {
        name: name.to_string(),
        spec: s.spec.clone(),
        replicas,
        ready,
        generation: s.generation,
        desired: s.owned_replicas.unwrap_or(s.spec.replicas),
        autoscaled: s.owned_replicas.is_some(),
    }
}

fn start_replica(
    dir: &Path,
    name: &str,
    spec: &ServiceSpec,
    r: &mut Replica,
    log: PathBuf,
) -> Result<(), String> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating the log directory {}: {e}", parent.display()))?;
    }
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("opening {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    // Keep the port across restarts when it is still free, so addresses stay stable.
    let port = if r.port != 0 && std::net::TcpListener::bind(("127.0.0.1", r.port)).is_ok() {
        r.port
    } else {
        free_port().map_err(|e| e.to_string())?
    };
    let mut cmd = Command::new(&spec.command);
    cmd.args(&spec.args)
        .envs(&spec.env)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("TERRANE_SERVICE", name)
        .env("TERRANE_REPLICA", r.index.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(false);
    match &spec.working_dir {
        Some(d) => {
            cmd.current_dir(d);
        }
        None => {
            cmd.current_dir(dir.parent().and_then(Path::parent).unwrap_or(dir));
        }
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", spec.command))?;
    let pid = child.id().ok_or("the process exited immediately")?;
    r.pid = Some(pid);
    r.pid_start = process_start(pid);
    r.port = port;
    r.child = Some(child);
    r.state = ReplicaState::Starting;
    r.healthy = false;
    r.started = Some(Instant::now());
    r.ok_streak = 0;
    r.fail_streak = 0;
    r.next_check = Instant::now() + Duration::from_millis(100);
    if r.last_error.is_some() {
        r.restarts += 1;
    }
    Ok(())
}

/// The last non-empty line of a replica's log, to say why it exited.
fn last_line(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}

/// SIGTERM, wait up to the grace period, then SIGKILL.
async fn stop_replica(mut r: Replica, grace: Duration) {
    let Some(pid) = r.pid else { return };
    let target = Pid::from_raw(pid as i32);
    let _ = kill(target, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    loop {
        let gone = match &mut r.child {
            Some(c) => matches!(c.try_wait(), Ok(Some(_)) | Err(_)),
            None => process_start(pid).is_none_or(|s| r.pid_start.is_some_and(|p| p != s)),
        };
        if gone {
            return;
        }
        if Instant::now() >= deadline {
            let _ = kill(target, Signal::SIGKILL);
            if let Some(c) = &mut r.child {
                let _ = c.wait().await;
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
