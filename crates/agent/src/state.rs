//! What a running agent holds: [`AgentState`], shared by the API server, the reconcile
//! loop and the background tasks, and how its balancers, zones, autoscalers and backup
//! policies are saved in the agent's directory and started again by the next agent.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::autoscale::{Autoscaler, AutoscalerSpec};
use crate::backup::{BackupPolicySpec, JobStatus};
use crate::dns::Zone;
use crate::lb::{Balancer, LbSpec};
use crate::supervisor::Supervisor;

/// Everything one agent process runs and counts.
pub struct AgentState {
    pub supervisor: Arc<Supervisor>,
    pub zones: tokio::sync::Mutex<std::collections::BTreeMap<String, Arc<Zone>>>,
    pub autoscalers: tokio::sync::Mutex<std::collections::BTreeMap<String, Autoscaler>>,
    pub balancers: tokio::sync::Mutex<std::collections::BTreeMap<String, Arc<Balancer>>>,
    pub dir: std::path::PathBuf,
    pub ready: AtomicBool,
    pub shutdown: Notify,
    pub reconciles: AtomicU64,
    pub last_reconcile_micros: AtomicU64,
    /// The last compliance evaluation, and how many have run.
    pub compliance: std::sync::Mutex<Option<crate::compliance::Compliance>>,
    pub policy_checks: AtomicU64,
    /// `local_backup_policy` specs, and how every scheduled backup job is doing.
    pub backup_policies: tokio::sync::Mutex<std::collections::BTreeMap<String, BackupPolicySpec>>,
    pub backup_jobs: tokio::sync::Mutex<std::collections::BTreeMap<String, JobStatus>>,
    /// Whether this agent leads the workspace's scheduled jobs (always, unless the
    /// state is shared in PostgreSQL and another agent leads).
    pub leader: AtomicBool,
}

pub(crate) fn save_json<T: serde::Serialize>(dir: &std::path::Path, name: &str, value: &T) {
    if let Ok(text) = serde_json::to_string_pretty(value) {
        let tmp = dir.join(format!("{name}.tmp"));
        if std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join(name)))
            .is_err()
        {
            tracing::warn!(file = name, "Could not save the agent's list.");
        }
    }
}

/// Reloads the backup policies a previous agent ran.
pub async fn restore_backup_policies(s: &AgentState) {
    let Ok(text) = std::fs::read_to_string(s.dir.join("backup_policies.json")) else {
        return;
    };
    if let Ok(specs) = serde_json::from_str(&text) {
        *s.backup_policies.lock().await = specs;
    }
}

pub(crate) fn save_autoscalers(
    dir: &std::path::Path,
    all: &std::collections::BTreeMap<String, Autoscaler>,
) {
    let specs: std::collections::BTreeMap<&String, &AutoscalerSpec> =
        all.iter().map(|(n, a)| (n, &a.spec)).collect();
    save_json(dir, "autoscalers.json", &specs);
}

/// Starts the autoscalers a previous agent ran.
pub async fn restore_autoscalers(s: &AgentState) {
    let Ok(text) = std::fs::read_to_string(s.dir.join("autoscalers.json")) else {
        return;
    };
    let Ok(specs) =
        serde_json::from_str::<std::collections::BTreeMap<String, AutoscalerSpec>>(&text)
    else {
        return;
    };
    let mut all = s.autoscalers.lock().await;
    for (name, spec) in specs {
        all.insert(
            name.clone(),
            Autoscaler::start(&name, spec, s.supervisor.clone()),
        );
    }
}

/// Saves zones and their records so the next agent serves them again.
pub(crate) async fn save_zones(
    dir: &std::path::Path,
    zones: &std::collections::BTreeMap<String, Arc<Zone>>,
) {
    let mut all = Vec::new();
    for z in zones.values() {
        all.push(z.status().await);
    }
    if let Ok(text) = serde_json::to_string_pretty(&all) {
        let tmp = dir.join("zones.json.tmp");
        if std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join("zones.json")))
            .is_err()
        {
            tracing::warn!("Could not save the DNS zones.");
        }
    }
}

/// Starts the zones a previous agent served.
pub async fn restore_zones(s: &AgentState) {
    let Ok(text) = std::fs::read_to_string(s.dir.join("zones.json")) else {
        return;
    };
    let Ok(saved) = serde_json::from_str::<Vec<crate::dns::ZoneStatus>>(&text) else {
        return;
    };
    let mut zones = s.zones.lock().await;
    for z in saved {
        match Zone::start(&z.id, z.spec.clone()).await {
            Ok(zone) => {
                for (rid, r) in z.records {
                    let _ = zone.put_record(&rid, r).await;
                }
                zones.insert(z.id.clone(), zone);
            }
            Err(e) => s
                .supervisor
                .event(&z.id, format!("Could not restart the DNS zone: {e}")),
        }
    }
}

/// Saves balancer specs so the next agent starts them again.
pub fn save_balancers(
    dir: &std::path::Path,
    lbs: &std::collections::BTreeMap<String, Arc<Balancer>>,
) {
    let specs: std::collections::BTreeMap<&String, &LbSpec> =
        lbs.iter().map(|(n, b)| (n, &b.spec)).collect();
    if let Ok(text) = serde_json::to_string_pretty(&specs) {
        let tmp = dir.join("balancers.json.tmp");
        if std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join("balancers.json")))
            .is_err()
        {
            tracing::warn!("Could not save the load balancer list.");
        }
    }
}

/// Starts the balancers a previous agent ran.
pub async fn restore_balancers(s: &AgentState) {
    let Ok(text) = std::fs::read_to_string(s.dir.join("balancers.json")) else {
        return;
    };
    let Ok(specs) = serde_json::from_str::<std::collections::BTreeMap<String, LbSpec>>(&text)
    else {
        return;
    };
    let mut lbs = s.balancers.lock().await;
    for (name, spec) in specs {
        match Balancer::start(&name, spec, s.supervisor.clone()).await {
            Ok(b) => {
                lbs.insert(name, b);
            }
            Err(e) => s
                .supervisor
                .event(&name, format!("Could not restart the load balancer: {e}")),
        }
    }
}
