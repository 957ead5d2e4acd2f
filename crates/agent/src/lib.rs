//! `terrane agent`: the long-running part of the local cloud.
//!
//! One agent runs per workspace. It supervises the processes of every
//! `local_service` ([`supervisor`]), serves a small HTTP API on loopback ([`api`]) that
//! the `local` provider and the CLI reach through [`client`], and publishes health,
//! readiness and Prometheus metrics. Replicas outlive the agent and are re-adopted when
//! it starts again.

pub mod api;
pub mod auth;
pub mod autoscale;
pub mod backup;
pub mod compliance;
pub mod dns;
pub mod drift;
pub mod health;
pub mod histogram;
pub mod keeper;
pub mod lb;
pub mod state;
pub mod supervisor;
mod upstream;

/// The API's contract, under the paths the runtime always had.
pub use terrane_agent_api::{client, spec};

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spec::AgentInfo;
use state::AgentState;
use supervisor::Supervisor;

/// How often the reconcile loop runs.
pub const RECONCILE_EVERY: Duration = Duration::from_millis(250);

async fn refuse_second_agent(workspace: &Path) -> Result<(), String> {
    match client::find(workspace).await {
        Some((info, _)) => Err(format!(
            "an agent is already running for this workspace (pid {} at {}). Stop it with: terrane agent stop",
            info.pid, info.address
        )),
        None => Ok(()),
    }
}

fn cannot_listen(listen: &str, e: std::io::Error) -> String {
    format!("cannot listen on {listen}: {e}. Choose another address with --listen")
}

/// Runs the agent under a [`keeper`] that restarts it if it dies, holding its sockets
/// meanwhile. `agent` builds the command line of one agent process (`terrane agent
/// --worker`). Returns when the agent stops cleanly.
pub async fn run_kept(
    workspace: &Path,
    listen: &str,
    agent: impl Fn() -> std::process::Command,
) -> Result<(), String> {
    let dir = client::agent_dir(workspace);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    refuse_second_agent(workspace).await?;
    let api = std::net::TcpListener::bind(listen).map_err(|e| cannot_listen(listen, e))?;
    // The agents this keeper starts share one token, so a restart does not lock out
    // the CLI.
    auth::create_token(&dir)?;
    keeper::keep(workspace, api, agent).await
}

/// Asks whether this agent leads the workspace (takes the lead when it is free). For
/// a workspace shared in PostgreSQL, a session advisory lock that the database
/// releases when the leader's connection ends.
pub type Leader = std::sync::Arc<dyn Fn() -> Result<bool, String> + Send + Sync>;

/// Keeps `state.leader` current: asks every 2 s, and records an event when this
/// agent takes the lead or stands by.
async fn lead(workspace: std::path::PathBuf, state: Arc<AgentState>, leader: Leader) {
    let mut known: Option<bool> = None;
    loop {
        let l = leader.clone();
        let now = tokio::task::spawn_blocking(move || l())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let leads = match now {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "Could not ask for the workspace's leadership.");
                false
            }
        };
        state.leader.store(leads, Ordering::SeqCst);
        if known != Some(leads) {
            state.supervisor.event(
                "agent",
                if leads {
                    format!(
                        "This agent now leads {}: it runs the workspace's scheduled jobs.",
                        workspace.display()
                    )
                } else {
                    "Another agent leads this workspace; this one stands by for its scheduled jobs."
                        .to_string()
                },
            );
            known = Some(leads);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Opens the workspace's state with its encryption (the CLI knows the configuration
/// and key providers; the agent does not).
pub type StateOpener =
    std::sync::Arc<dyn Fn() -> Result<Box<dyn terrane_state::Backend>, String> + Send + Sync>;

/// Runs one agent process for `workspace` until SIGTERM, Ctrl-C or `POST /v1/shutdown`.
/// Under a keeper it takes the sockets the keeper hands it; alone it binds its own.
/// `compliance`, when given, is run on an interval ([`compliance::monitor`]);
/// `open_state` is how drift repair reads the state.
pub async fn run(
    workspace: &Path,
    listen: &str,
    compliance: Option<compliance::Check>,
    open_state: StateOpener,
    state_backup: Option<backup::StateBackupJob>,
    leader: Option<Leader>,
) -> Result<(), String> {
    keeper::init();
    let dir = client::agent_dir(workspace);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    if keeper::keeper_pid().is_none() {
        // A keeper checked this before starting us, and a stale agent.json could point
        // at the API socket the keeper holds for us.
        refuse_second_agent(workspace).await?;
    }
    let listener = keeper::tcp_listener_keyed(keeper::API_KEY, listen)
        .map_err(|e| cannot_listen(listen, e))?;
    let address = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let info = AgentInfo {
        pid: std::process::id(),
        keeper_pid: keeper::keeper_pid(),
        address: address.clone(),
        started_at: terrane_now(),
    };
    let token = match keeper::keeper_pid().and_then(|_| auth::read_token(&dir)) {
        Some(t) => t,
        None => auth::create_token(&dir)?,
    };
    let info_path = dir.join("agent.json");
    std::fs::write(&info_path, serde_json::to_string(&info).unwrap_or_default())
        .map_err(|e| format!("writing {}: {e}", info_path.display()))?;
    let state = Arc::new(AgentState {
        supervisor: Arc::new(Supervisor::new(&dir)),
        balancers: tokio::sync::Mutex::new(std::collections::BTreeMap::new()),
        autoscalers: tokio::sync::Mutex::new(std::collections::BTreeMap::new()),
        zones: tokio::sync::Mutex::new(std::collections::BTreeMap::new()),
        dir: dir.clone(),
        ready: AtomicBool::new(false),
        shutdown: tokio::sync::Notify::new(),
        reconciles: AtomicU64::new(0),
        last_reconcile_micros: AtomicU64::new(0),
        compliance: std::sync::Mutex::new(None),
        policy_checks: AtomicU64::new(0),
        backup_policies: tokio::sync::Mutex::new(std::collections::BTreeMap::new()),
        backup_jobs: tokio::sync::Mutex::new(std::collections::BTreeMap::new()),
        leader: AtomicBool::new(leader.is_none()),
    });
    state.supervisor.adopt();
    state::restore_balancers(&state).await;
    state::restore_autoscalers(&state).await;
    state::restore_zones(&state).await;
    state::restore_backup_policies(&state).await;
    keeper::release_unclaimed();
    if let Some((n, reason)) = keeper::restart_reason() {
        state.supervisor.event(
            "agent",
            format!("Agent restarted by its keeper (restart {n}): the previous agent process {reason}; re-adopted what it ran."),
        );
    }
    let drift = {
        let state = state.clone();
        let workspace = workspace.to_path_buf();
        let every = Duration::from_millis(
            std::env::var("TERRANE_AGENT_DRIFT_INTERVAL_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let (ws, st, open) = (workspace.clone(), state.clone(), open_state.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    drift::repair_files(&ws, &st.supervisor, &open)
                })
                .await;
            }
        })
    };
    let compliance = compliance.map(|check| {
        tokio::spawn(compliance::monitor(
            workspace.to_path_buf(),
            state.clone(),
            check,
            compliance::interval(),
        ))
    });
    let leading = leader.map(|l| tokio::spawn(lead(workspace.to_path_buf(), state.clone(), l)));
    let backups = tokio::spawn(backup::scheduler(
        workspace.to_path_buf(),
        state.clone(),
        state_backup,
    ));
    let discovery = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut registered: std::collections::HashMap<String, Vec<String>> =
                std::collections::HashMap::new();
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                register_services(&state, &mut registered).await;
            }
        })
    };
    let looper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECONCILE_EVERY);
            loop {
                tick.tick().await;
                let started = Instant::now();
                state.supervisor.reconcile().await;
                state.reconciles.fetch_add(1, Ordering::Relaxed);
                state
                    .last_reconcile_micros
                    .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                state.ready.store(true, Ordering::SeqCst);
            }
        })
    };
    tracing::info!(address = %address, workspace = %workspace.display(), "terrane agent is listening.");
    // The daemon's startup line (the one print of a library crate): whoever started
    // `terrane agent` in a terminal sees where it listens, and agent.log records it.
    println!(
        "terrane agent for {} listening on http://{address}",
        workspace.display()
    );
    let stop = {
        let state = state.clone();
        async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let term_fut = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term_fut => {}
                _ = state.shutdown.notified() => {}
            }
        }
    };
    let result = axum::serve(
        listener,
        api::router(state.clone(), auth::Guard::new(token)),
    )
    .with_graceful_shutdown(stop)
    .await;
    looper.abort();
    drift.abort();
    discovery.abort();
    backups.abort();
    if let Some(l) = leading {
        l.abort();
    }
    if let Some(c) = compliance {
        c.abort();
    }
    let _ = std::fs::remove_file(&info_path);
    tracing::info!(
        "terrane agent stopped; replicas keep running and will be re-adopted by the next agent."
    );
    result.map_err(|e| e.to_string())
}

fn terrane_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Service discovery: keeps each registered service's A and SRV records in its zone in
/// step with the replicas that are ready. `registered` remembers the last SRV values
/// written, so records change only when the set of ready replicas does.
async fn register_services(
    state: &AgentState,
    registered: &mut std::collections::HashMap<String, Vec<String>>,
) {
    for svc in state.supervisor.all() {
        let Some(reg) = &svc.spec.dns else { continue };
        let zone = state.zones.lock().await.get(&reg.zone_id).cloned();
        let Some(zone) = zone else { continue };
        let mut targets: Vec<String> = svc
            .replicas
            .iter()
            .filter(|r| r.healthy && r.pid.is_some())
            .map(|r| format!("0 1 {} {}", r.port, reg.name))
            .collect();
        targets.sort();
        if registered.get(&svc.name) == Some(&targets) {
            continue;
        }
        let a = dns::RecordSpec {
            name: reg.name.clone(),
            kind: "A".into(),
            ttl: 5,
            records: vec!["127.0.0.1".into()],
        };
        let srv = dns::RecordSpec {
            name: format!("_http._tcp.{}", reg.name),
            kind: "SRV".into(),
            ttl: 5,
            records: targets.clone(),
        };
        let result = async {
            zone.put_record(&format!("svc-{}-a", svc.name), a).await?;
            if targets.is_empty() {
                zone.delete_record(&format!("svc-{}-srv", svc.name))
                    .await
                    .map(|_| ())
            } else {
                zone.put_record(&format!("svc-{}-srv", svc.name), srv).await
            }
        }
        .await;
        match result {
            Ok(()) => {
                state.supervisor.event(
                    &svc.name,
                    format!(
                        "DNS: registered {} ready replica(s) as _http._tcp.{}.",
                        targets.len(),
                        reg.name
                    ),
                );
                registered.insert(svc.name.clone(), targets);
            }
            Err(e) => state
                .supervisor
                .event(&svc.name, format!("DNS registration failed: {e}")),
        }
    }
}
