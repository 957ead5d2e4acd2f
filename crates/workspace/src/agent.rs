//! What terrane asks of the workspace's agent: the worker's hooks into the workspace
//! (its compliance check, state opener, scheduled state backup and leader election),
//! starting an agent before an apply when state holds what it runs, and stopping one
//! a destroy started for nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use terrane_agent::client;

use crate::Workspace;

/// Runs one agent process (`terrane agent --worker`) for the workspace in `dir`,
/// with the workspace's compliance check, state (opened with its encryption as the
/// configuration says at each pass), scheduled state backup and leader election.
pub async fn run_worker(dir: &Path, listen: &str) -> Result<(), String> {
    let check: terrane_agent::compliance::Check = Arc::new(crate::policy::compliance);
    let root = dir.to_path_buf();
    let open: terrane_agent::StateOpener = Arc::new(move || {
        let (ws, _) = Workspace::load(&root);
        // Never create a state where there is none.
        if !ws.state_may_exist()? {
            return Err("there is no state yet".into());
        }
        ws.open_backend()
    });
    let state_backup = terrane_agent::backup::StateBackupJob {
        schedule: Arc::new(|dir: &Path| {
            let (ws, _) = Workspace::load(dir);
            ws.module.terraform.backup.map(|b| b.schedule)
        }),
        run: Arc::new(crate::backup::scheduled),
    };
    terrane_agent::run(
        dir,
        listen,
        Some(check),
        open,
        Some(state_backup),
        leader_for(dir),
    )
    .await
}

/// Leadership among agents sharing one workspace: with the state in PostgreSQL,
/// a session advisory lock on one connection this agent keeps; the database releases
/// it when this process dies, and another agent takes over. Other backends: no
/// election (every agent leads its own machine's workspace).
fn leader_for(dir: &Path) -> Option<terrane_agent::Leader> {
    let (ws, _) = Workspace::load(dir);
    let Ok(terrane_state::BackendSpec::Pg {
        conn_str,
        workspace,
    }) = ws.backend_spec()
    else {
        return None;
    };
    let conn: std::sync::Mutex<Option<terrane_state::pg::PgBackend>> = std::sync::Mutex::new(None);
    Some(Arc::new(move || {
        let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        if conn.is_none() {
            *conn = Some(
                terrane_state::pg::PgBackend::open(&conn_str, &workspace)
                    .map_err(|e| e.to_string())?,
            );
        }
        let leads = conn
            .as_ref()
            .map(|c| c.try_lead("agent"))
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or(false);
        Ok(leads)
    }))
}

/// The resource types whose long-running parts the agent runs.
const AGENT_TYPES: [&str; 5] = [
    "local_service",
    "local_load_balancer",
    "local_dns_zone",
    "local_autoscaler",
    "local_backup_policy",
];

/// What [`ensure_agent_for`] did.
pub enum AgentStart {
    /// Nothing in state needs an agent, or one is running.
    NotNeeded,
    /// Started one, which takes over these resources.
    Started(Vec<String>),
    /// None runs and none could be started.
    Failed(String),
}

/// When state holds resources the agent runs and no agent is running (a reboot, a
/// kill), starts one (running `program`) before planning, so it re-adopts them and
/// the plan sees them.
pub async fn ensure_agent_for(
    dir: &Path,
    state: &terrane_state::Snapshot,
    program: &Path,
) -> AgentStart {
    let handed: Vec<String> = state
        .resources
        .keys()
        .filter(|a| AGENT_TYPES.contains(&a.resource.type_name.as_str()))
        .map(|a| a.to_string())
        .collect();
    if handed.is_empty() || client::find(dir).await.is_some() {
        return AgentStart::NotNeeded;
    }
    match client::ensure(dir, program).await {
        Ok(_) => AgentStart::Started(handed),
        Err(e) => AgentStart::Failed(e),
    }
}

/// After a destroy: an agent started since `since` (seconds; the local provider starts
/// one to delete services when none runs) that now runs nothing is stopped again, so a
/// destroy after `terrane agent stop` leaves no agent behind. True when it stopped one.
pub async fn stop_if_started_for_nothing(dir: &Path, since: u64) -> bool {
    let Some((info, c)) = client::find(dir).await else {
        return false;
    };
    if info.started_at < since {
        return false;
    }
    let idle = async {
        Ok::<bool, String>(
            c.services().await?.is_empty()
                && c.lbs().await?.is_empty()
                && c.zones().await?.is_empty()
                && c.autoscalers().await?.is_empty(),
        )
    }
    .await
    .unwrap_or(false);
    idle && client::stop(dir, &c).await.is_ok()
}

/// Agent service name → resource address, from state.
fn addresses(dir: &Path) -> BTreeMap<String, String> {
    let (ws, _) = Workspace::load(dir);
    let Ok(state) = crate::ops::read_existing(&ws) else {
        return BTreeMap::new();
    };
    state
        .resources
        .values()
        .filter(|i| i.addr.resource.type_name == "local_service")
        .filter_map(|i| {
            i.value
                .get("id")
                .and_then(|v| v.as_str())
                .map(|id| (id.to_string(), i.addr.to_string()))
        })
        .collect()
}

/// Everything the workspace's agent runs, as `terrane status` shows it.
pub struct Running {
    pub info: terrane_agent::spec::AgentInfo,
    pub services: Vec<terrane_agent::spec::ServiceStatus>,
    pub balancers: Vec<terrane_agent::lb::LbStatus>,
    pub zones: Vec<terrane_agent::dns::ZoneStatus>,
    pub autoscalers: Vec<terrane_agent::autoscale::AutoscalerStatus>,
    /// Agent service name → resource address, from state.
    pub addresses: BTreeMap<String, String>,
}

impl Running {
    /// The human-readable report `terrane status` prints.
    pub fn render(&self, style: terrane_engine::render::Style) -> String {
        use std::fmt::Write as _;
        let r = self;
        let mut out = String::new();
        let (info, names) = (&r.info, &r.addresses);
        match info.keeper_pid {
            Some(k) => writeln!(
                out,
                "Agent pid {} (keeper pid {k}) at http://{}\n",
                info.pid, info.address
            ),
            None => writeln!(out, "Agent pid {} at http://{}\n", info.pid, info.address),
        }
        .unwrap_or_default();
        if r.services.is_empty() && r.balancers.is_empty() && r.zones.is_empty() {
            let _ = writeln!(out, "No services, load balancers or DNS zones.");
            return out;
        }
        for s in &r.services {
            let title = match names.get(&s.name) {
                Some(a) => format!("{a} ({})", s.name),
                None => s.name.clone(),
            };
            let owner = if s.autoscaled {
                format!(" (autoscaled; configured {})", s.spec.replicas)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{}  {}/{} ready{owner}",
                style.bold(&title),
                s.ready,
                target(s)
            );
            let _ = writeln!(
                out,
                "  {:<8} {:<8} {:<22} {:<11} {:<10} {:>8}  LAST ERROR",
                "REPLICA", "PID", "ADDRESS", "STATE", "HEALTH", "RESTARTS"
            );
            for r in &s.replicas {
                let health = if r.healthy {
                    style.green("healthy")
                } else {
                    style.red("unhealthy")
                };
                let state = serde_json::to_value(r.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<8} {:<8} {:<22} {:<11} {:<10} {:>8}  {}",
                    r.index,
                    r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                    r.address,
                    state,
                    health,
                    r.restarts,
                    r.last_error.clone().unwrap_or_default()
                );
            }
            let _ = writeln!(out);
        }
        if !r.balancers.is_empty() {
            let _ = writeln!(out, "{}", style.bold("Load balancers"));
            for b in &r.balancers {
                let healthy = b.backends.iter().filter(|be| !be.ejected).count();
                let _ = writeln!(
                    out,
                    "  {:<16} {:<22} {} of {} backends healthy, {} requests ({} failed)",
                    b.name,
                    b.address,
                    healthy,
                    b.backends.len(),
                    b.requests,
                    b.failed
                );
                for be in &b.backends {
                    let health = if be.ejected {
                        style.red("ejected")
                    } else {
                        style.green("healthy")
                    };
                    let _ = writeln!(
                        out,
                        "    {:<22} {health}  {} requests",
                        be.address, be.requests
                    );
                }
            }
            let _ = writeln!(out);
        }
        if !r.zones.is_empty() {
            let _ = writeln!(out, "{}", style.bold("DNS zones"));
            for z in &r.zones {
                let _ = writeln!(
                    out,
                    "  {:<24} {:<22} {} records",
                    z.spec.name,
                    z.address,
                    z.records.len()
                );
            }
            let _ = writeln!(out);
        }
        if !r.autoscalers.is_empty() {
            let _ = writeln!(out, "{}", style.bold("Autoscalers"));
            for a in &r.autoscalers {
                let (current, desired) = autoscaler_counts(a, &r.services);
                let show = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
                let value = a
                    .last_decision
                    .as_ref()
                    .map(|d| format!("{:.2}", d.metric))
                    .unwrap_or_else(|| "not measured yet".into());
                let _ = writeln!(
                    out,
                    "  {:<16} service {}: {} current, {} desired [{}..{}]; {} {} (target {})",
                    a.name,
                    a.spec.service,
                    show(current),
                    show(desired),
                    a.spec.min_replicas,
                    a.spec.max_replicas,
                    metric_name(a.spec.metric),
                    value,
                    a.spec.target
                );
            }
            let _ = writeln!(out);
        }
        out
    }
}

/// What the workspace's agent runs; `None` when no agent runs.
pub async fn running(dir: &Path) -> Result<Option<Running>, String> {
    let Some((info, c)) = client::find(dir).await else {
        return Ok(None);
    };
    Ok(Some(Running {
        info,
        services: c.services().await?,
        balancers: c.lbs().await?,
        zones: c.zones().await?,
        autoscalers: c.autoscalers().await?,
        addresses: addresses(dir),
    }))
}

impl Running {
    /// `terrane status --json`.
    pub fn to_json(&self) -> serde_json::Value {
        let (r, names, info) = (self, &self.addresses, &self.info);
        serde_json::json!({
            "agent": {"pid": info.pid, "keeper_pid": info.keeper_pid, "address": info.address},
            "services": r.services.iter().map(|s| serde_json::json!({
                "name": s.name,
                "address": names.get(&s.name),
                "replicas_desired": target(s),
                "replicas_configured": s.spec.replicas,
                "autoscaled": s.autoscaled,
                "replicas_ready": s.ready,
                "replicas": s.replicas,
            })).collect::<Vec<_>>(),
            "load_balancers": r.balancers.iter().map(|b| serde_json::json!({
                "name": b.name,
                "address": b.address,
                "protocol": b.spec.protocol,
                "algorithm": b.spec.algorithm,
                "requests": b.requests,
                "failed": b.failed,
                "backends": b.backends.iter().map(|be| serde_json::json!({
                    "address": be.address,
                    "healthy": !be.ejected,
                    "requests": be.requests,
                    "errors": be.errors,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "dns_zones": r.zones.iter().map(|z| serde_json::json!({
                "id": z.id,
                "name": z.spec.name,
                "address": z.address,
                "records": z.records.len(),
            })).collect::<Vec<_>>(),
            "autoscalers": r.autoscalers.iter().map(|a| {
                let (current, desired) = autoscaler_counts(a, &r.services);
                serde_json::json!({
                    "name": a.name,
                    "service": a.spec.service,
                    "current": current,
                    "desired": desired,
                    "min_replicas": a.spec.min_replicas,
                    "max_replicas": a.spec.max_replicas,
                    "metric": metric_name(a.spec.metric),
                    "metric_value": a.last_decision.as_ref().map(|d| d.metric),
                    "target": a.spec.target,
                    "reason": a.last_decision.as_ref().map(|d| d.reason.clone()),
                })
            }).collect::<Vec<_>>(),
        })
    }
}

/// The replica count a service is held at now: its autoscaler's while one owns it,
/// else the configuration's.
pub fn target(s: &terrane_agent::spec::ServiceStatus) -> u32 {
    if s.autoscaled {
        s.desired
    } else {
        s.spec.replicas
    }
}

/// An autoscaler's current and desired counts: its last decision, or its service's
/// count before the first one.
pub fn autoscaler_counts(
    a: &terrane_agent::autoscale::AutoscalerStatus,
    services: &[terrane_agent::spec::ServiceStatus],
) -> (Option<u32>, Option<u32>) {
    match &a.last_decision {
        Some(d) => (Some(d.current), Some(d.desired)),
        None => {
            let n = services
                .iter()
                .find(|s| s.name == a.spec.service)
                .map(target);
            (n, n)
        }
    }
}

/// A metric's name as the configuration writes it.
pub fn metric_name(m: terrane_agent::autoscale::MetricKind) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The log files of a service (named by its resource address or its agent name),
/// oldest first, with the agent name.
pub fn log_files(dir: &Path, service: &str) -> Result<(String, Vec<PathBuf>), String> {
    // Accept the resource address (local_service.web) or the agent's name.
    let name = addresses(dir)
        .into_iter()
        .find(|(_, a)| a == service)
        .map(|(n, _)| n)
        .unwrap_or_else(|| service.to_string());
    let logs = client::agent_dir(dir).join("logs").join(&name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .map_err(|_| {
            format!(
                "no logs for service {service:?} (looked in {})",
                logs.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    Ok((name, files))
}
