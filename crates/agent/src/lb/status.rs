//! What a balancer reports: its status for the API (requests, failures, each
//! backend's counters and connections) and its latency histograms for `/metrics`, the
//! per-worker parts added up.

use std::sync::atomic::Ordering;

use super::table::now_ms;
use super::{BackendStatus, Balancer, LbStatus};
use crate::histogram::Histogram;

impl Balancer {
    /// Prometheus histograms of request latency, for the balancer and each backend.
    pub fn write_latency(&self, out: &mut String) {
        let name = "terrane_lb_request_duration_seconds";
        Histogram::merged(self.shards.iter().map(|s| &s.latency)).write_prometheus(
            out,
            name,
            &format!("lb=\"{}\",backend=\"all\"", self.name),
        );
        for (addr, s) in self
            .backends
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            Histogram::merged(s.lanes.iter().map(|l| &l.latency)).write_prometheus(
                out,
                name,
                &format!("lb=\"{}\",backend=\"{addr}\"", self.name),
            );
        }
    }

    pub fn status(&self) -> LbStatus {
        let backends = self
            .backends
            .read()
            .map(|b| {
                b.iter()
                    .map(|(a, s)| BackendStatus {
                        address: a.clone(),
                        requests: s.requests(),
                        errors: s.errors.load(Ordering::Relaxed),
                        in_flight: s.in_flight(),
                        connections_opened: s.lanes.iter().map(|l| l.idle.opened()).sum(),
                        idle_connections: s.lanes.iter().map(|l| l.idle.len()).sum(),
                        ejected: !s.available(now_ms()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        LbStatus {
            name: self.name.clone(),
            spec: self.spec.clone(),
            address: self.address.to_string(),
            requests: self
                .shards
                .iter()
                .map(|s| s.requests.load(Ordering::Relaxed))
                .sum(),
            failed: self
                .shards
                .iter()
                .map(|s| s.failed.load(Ordering::Relaxed))
                .sum(),
            backends,
        }
    }
}
