//! Autoscalers: what a `local_autoscaler` asks the agent to run (the service, the
//! replica bounds, the metric and its target, the period and the scale-down window)
//! and what it reports (its last decision, with the numbers behind it).

use serde::{Deserialize, Serialize};

/// What an autoscaler measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Requests per second per replica, measured at the load balancers.
    RequestsPerSecond,
    /// Requests in flight per replica, at the load balancers.
    InFlight,
    /// CPU use of a replica's process, in percent of one core.
    CpuPercent,
    /// The 95th percentile of request latency at the load balancers, in milliseconds
    /// (a service-wide value, not per replica).
    P95LatencyMs,
}

impl MetricKind {
    pub fn parse(s: &str) -> Option<MetricKind> {
        match s {
            "requests_per_second" => Some(MetricKind::RequestsPerSecond),
            "in_flight" => Some(MetricKind::InFlight),
            "cpu_percent" => Some(MetricKind::CpuPercent),
            "p95_latency_ms" => Some(MetricKind::P95LatencyMs),
            _ => None,
        }
    }
}

/// Kubernetes' HPA settings for one service of the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerSpec {
    pub service: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub metric: MetricKind,
    pub target: f64,
    /// How often the metric is evaluated (HPA: 15 s).
    #[serde(default = "default_period")]
    pub period_ms: u64,
    /// Scale-down stabilization window (HPA: 300 s).
    #[serde(default = "default_window")]
    pub scale_down_window_ms: u64,
}

fn default_period() -> u64 {
    15_000
}

fn default_window() -> u64 {
    300_000
}

/// One evaluation: the replica count it set, and the numbers and reason behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub current: u32,
    pub desired: u32,
    /// The per-replica metric value the decision used.
    pub metric: f64,
    pub target: f64,
    pub reason: String,
}

/// An autoscaler as the agent reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerStatus {
    pub name: String,
    pub spec: AutoscalerSpec,
    pub last_decision: Option<Decision>,
}
