//! What terrane asks of the workspace's agent: the worker's hooks into the workspace
//! (its compliance check, state opener, scheduled state backup and leader election),
//! starting an agent before an apply when state holds what it runs, and stopping one
//! a destroy started for nothing.

use std::path::Path;
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
