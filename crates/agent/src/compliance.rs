//! Compliance monitoring: the agent re-evaluates the workspace's policies against its
//! current state on an interval and records an event whenever the result changes. The
//! check itself comes from the CLI (which owns configuration, state and policy
//! loading); the agent schedules it, keeps the last result in
//! `.terrane/agent/compliance.json`, and publishes it as metrics and events.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::state::AgentState;

/// The result of one evaluation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    pub compliant: bool,
    /// One line per failing policy set, error or unsuppressed scan finding.
    pub problems: Vec<String>,
    /// Seconds since the epoch, set by the agent.
    #[serde(default)]
    pub checked_at: u64,
}

/// Evaluates the policies of the workspace at the given path.
pub type Check = Arc<dyn Fn(&Path) -> Result<Compliance, String> + Send + Sync>;

pub fn path(agent_dir: &Path) -> PathBuf {
    agent_dir.join("compliance.json")
}

/// The last result the agent recorded, if any.
pub fn last(agent_dir: &Path) -> Option<Compliance> {
    serde_json::from_str(&std::fs::read_to_string(path(agent_dir)).ok()?).ok()
}

/// How often to check: `TERRANE_AGENT_COMPLIANCE_INTERVAL_MS`, default one minute.
pub fn interval() -> Duration {
    Duration::from_millis(
        std::env::var("TERRANE_AGENT_COMPLIANCE_INTERVAL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60_000),
    )
}

/// Runs the check on every interval, forever. An evaluation that fails (a policy
/// that no longer parses, unreadable state) counts as non-compliant.
pub async fn monitor(workspace: PathBuf, state: Arc<AgentState>, check: Check, every: Duration) {
    let mut previous = last(&state.dir);
    loop {
        let (ws, c) = (workspace.clone(), check.clone());
        let result = tokio::task::spawn_blocking(move || c(&ws))
            .await
            .unwrap_or_else(|e| Err(format!("the check panicked: {e}")));
        let mut now = match result {
            Ok(c) => c,
            Err(e) => Compliance {
                compliant: false,
                problems: vec![format!("the policies could not be evaluated: {e}")],
                checked_at: 0,
            },
        };
        now.checked_at = crate::supervisor::now_secs();
        state
            .policy_checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let changed = previous
            .as_ref()
            .is_none_or(|p| p.compliant != now.compliant || p.problems != now.problems);
        if changed {
            let message = if now.compliant {
                "The workspace is in policy.".to_string()
            } else {
                format!(
                    "The workspace is out of policy ({} problem{}): {}",
                    now.problems.len(),
                    if now.problems.len() == 1 { "" } else { "s" },
                    now.problems.join("; ")
                )
            };
            // The first evaluation of a compliant workspace is not news.
            if previous.is_some() || !now.compliant {
                state.supervisor.event("compliance", message);
            }
        }
        let file = path(&state.dir);
        let tmp = file.with_extension("json.tmp");
        if std::fs::write(&tmp, serde_json::to_string_pretty(&now).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
        if let Ok(mut c) = state.compliance.lock() {
            *c = Some(now.clone());
        }
        previous = Some(now);
        tokio::time::sleep(every).await;
    }
}
