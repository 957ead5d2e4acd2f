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
    /// How a change of command, arguments or environment is rolled out.
    #[serde(default)]
    pub update: UpdateStrategy,
    /// Register the service in a DNS zone of this agent (service discovery).
    #[serde(default)]
    pub dns: Option<DnsRegistration>,
}

/// Keeps `NAME` (A, 127.0.0.1) and `_http._tcp.NAME` (SRV, one target per ready
/// replica) up to date in the zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsRegistration {
    pub zone_id: String,
    pub name: String,
}

/// Kubernetes' rolling-update bounds: a count ("1") or a percentage of replicas ("25%").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateStrategy {
    pub max_surge: String,
    pub max_unavailable: String,
}

impl Default for UpdateStrategy {
    fn default() -> UpdateStrategy {
        UpdateStrategy {
            max_surge: "25%".into(),
            max_unavailable: "25%".into(),
        }
    }
}

impl UpdateStrategy {
    fn amount(text: &str, replicas: usize, round_up: bool) -> Option<usize> {
        match text.trim().strip_suffix('%') {
            Some(p) => {
                let p: f64 = p
                    .trim()
                    .parse()
                    .ok()
                    .filter(|p: &f64| (0.0..=100.0).contains(p))?;
                let exact = replicas as f64 * p / 100.0;
                Some(if round_up {
                    exact.ceil()
                } else {
                    exact.floor()
                } as usize)
            }
            None => text.trim().parse().ok(),
        }
    }

    /// (surge, unavailable) for `replicas`, as Kubernetes computes them: surge rounds up,
    /// unavailable rounds down, and when both are zero one extra replica may be started.
    pub fn bounds(&self, replicas: usize) -> Option<(usize, usize)> {
        let surge = Self::amount(&self.max_surge, replicas, true)?;
        let unavailable = Self::amount(&self.max_unavailable, replicas, false)?;
        Some(if surge == 0 && unavailable == 0 {
            (1, 0)
        } else {
            (surge, unavailable)
        })
    }
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
    /// The configuration generation the replica runs; older ones are being replaced.
    #[serde(default)]
    pub generation: u64,
    pub pid: Option<u32>,
    pub port: u16,
    pub address: String,
    pub state: ReplicaState,
    pub healthy: bool,
    pub restarts: u32,
    /// The last problem seen (start failure, exit status, failed health check).
    pub last_error: Option<String>,
    /// Whether the replica was ever ready since it was started (re-adopted replicas
    /// count as ready).
    #[serde(default)]
    pub ever_ready: bool,
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
    /// The current configuration generation; it increases when the process changes.
    #[serde(default)]
    pub generation: u64,
    /// Replicas wanted now: the configuration's, or the autoscaler's while it owns them.
    #[serde(default)]
    pub desired: u32,
    #[serde(default)]
    pub autoscaled: bool,
}

/// What the agent writes next to the state so clients can find it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent process serving the API.
    pub pid: u32,
    /// The keeper that restarts it, when it runs under one.
    #[serde(default)]
    pub keeper_pid: Option<u32>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolling_update_bounds_follow_kubernetes_rounding() {
        let d = UpdateStrategy::default();
        assert_eq!(d.bounds(3), Some((1, 0)));
        assert_eq!(d.bounds(4), Some((1, 1)));
        assert_eq!(d.bounds(10), Some((3, 2)));
        let abs = UpdateStrategy {
            max_surge: "0".into(),
            max_unavailable: "0".into(),
        };
        assert_eq!(
            abs.bounds(5),
            Some((1, 0)),
            "both zero still makes progress"
        );
        let bad = UpdateStrategy {
            max_surge: "150%".into(),
            max_unavailable: "x".into(),
        };
        assert_eq!(bad.bounds(5), None);
    }
}
