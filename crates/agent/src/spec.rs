//! What the agent is asked to run, and what it reports back. These types cross the
//! agent's HTTP API as JSON, so they are the API's contract: add fields with defaults,
//! never repurpose one.

use serde::{Deserialize, Serialize};

/// A service: `replicas` copies of one command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    pub replicas: u32,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Time between SIGTERM and SIGKILL when stopping a replica.
    #[serde(default = "default_grace_ms")]
    pub grace_period_ms: u64,
}

fn default_grace_ms() -> u64 {
    10_000
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// `Some("/healthz")` for an HTTP check; `None` for a TCP connect check.
    pub http_path: Option<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn parse(s: &str) -> Option<RestartPolicy> {
        match s {
            "always" => Some(RestartPolicy::Always),
            "on-failure" | "on_failure" => Some(RestartPolicy::OnFailure),
            "never" => Some(RestartPolicy::Never),
            _ => None,
        }
    }
}

/// One replica as the agent sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    pub index: u32,
    pub pid: Option<u32>,
    pub port: u16,
    pub address: String,
    pub state: ReplicaState,
    pub healthy: bool,
    pub restarts: u32,
    /// The last problem seen (start failure, exit status, failed health check).
    pub last_error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicaState {
    Starting,
    Running,
    /// Exited and waiting for its restart back-off.
    Restarting,
    /// Exited and not restarted (restart policy).
    Exited,
    /// The command could not be started.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub spec: ServiceSpec,
    pub replicas: Vec<ReplicaStatus>,
    /// Replicas running and passing their health check.
    pub ready: u32,
}

/// What the agent writes next to the state so clients can find it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub pid: u32,
    pub address: String,
    pub started_at: u64,
}

/// A recorded event: something the agent did or saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentEvent {
    pub time: u64,
    pub service: String,
    pub message: String,
}
