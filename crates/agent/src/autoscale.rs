//! The autoscaler: Kubernetes' horizontal pod autoscaler algorithm applied to a
//! local service.
//!
//! desired = ceil(current × metric / target), skipped within a 10 % tolerance; scale-up
//! is limited to max(+4, +100 %) per period; scale-down takes the highest
//! recommendation of the stabilization window (300 s by default); unready replicas
//! count as using nothing when scaling up and are ignored otherwise; the result is
//! clamped to [min, max]. Every decision is recorded as an event with the numbers
//! behind it. While an autoscaler targets a service it owns the replica count.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use terrane_agent_api::autoscale::{AutoscalerSpec, AutoscalerStatus, Decision, MetricKind};

pub const TOLERANCE: f64 = 0.1;

/// The inputs of one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Replicas currently configured.
    pub current: u32,
    /// Replicas ready (running and healthy).
    pub ready: u32,
    /// The metric summed over ready replicas (for per-replica metrics, the total).
    pub total: f64,
}

/// Keeps the recommendations of the stabilization window.
#[derive(Default)]
pub struct Recommendations {
    history: VecDeque<(Instant, u32)>,
}

/// The raw HPA recommendation, before limits and stabilization.
pub fn recommend(spec: &AutoscalerSpec, s: &Sample) -> (u32, f64, &'static str) {
    if s.ready == 0 {
        return (s.current, 0.0, "no ready replicas to measure");
    }
    let per_replica = s.total / f64::from(s.ready);
    let ratio = per_replica / spec.target;
    if (ratio - 1.0).abs() <= TOLERANCE {
        return (s.current, per_replica, "within the 10% tolerance");
    }
    let mut desired = (f64::from(s.current) * ratio).ceil() as u32;
    // Unready replicas: assume they use nothing when scaling up, and do not scale up
    // if that assumption removes the need.
    let unready = s.current.saturating_sub(s.ready);
    if desired > s.current && unready > 0 {
        let conservative = s.total / f64::from(s.current) / spec.target;
        if conservative <= 1.0 + TOLERANCE {
            return (
                s.current,
                per_replica,
                "unready replicas may absorb the load",
            );
        }
        desired = (f64::from(s.current) * conservative).ceil() as u32;
    }
    (
        desired.max(1),
        per_replica,
        if desired > s.current {
            "metric above target"
        } else {
            "metric below target"
        },
    )
}

impl Recommendations {
    /// A window that starts with `current` as its recommendation, as Kubernetes' HPA
    /// seeds it: a new autoscaler holds the replica count it found for a whole
    /// scale-down window before it may scale down.
    pub fn seeded(current: u32, now: Instant) -> Recommendations {
        Recommendations {
            history: VecDeque::from([(now, current)]),
        }
    }

    /// One decision at `now`.
    pub fn decide(&mut self, spec: &AutoscalerSpec, s: &Sample, now: Instant) -> Decision {
        let (raw, metric, why) = recommend(spec, s);
        let window = Duration::from_millis(spec.scale_down_window_ms);
        self.history.push_back((now, raw));
        while self
            .history
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > window)
        {
            self.history.pop_front();
        }
        let mut desired = raw;
        let mut reason = why.to_string();
        if raw < s.current {
            // Scale down only to the highest recommendation of the window.
            let stable = self.history.iter().map(|(_, d)| *d).max().unwrap_or(raw);
            if stable > raw {
                reason = format!(
                    "{why}; held at {stable} by the {}s scale-down stabilization window",
                    window.as_secs()
                );
            }
            desired = stable.min(s.current);
        } else if raw > s.current {
            let limit = (s.current + 4).max(s.current * 2);
            if raw > limit {
                reason = format!(
                    "{why}; limited to {limit} (scale-up policy: max(+4, +100%) per period)"
                );
            }
            desired = raw.min(limit);
        }
        let clamped = desired.clamp(spec.min_replicas, spec.max_replicas.max(spec.min_replicas));
        if clamped != desired {
            reason = format!(
                "{reason}; clamped to [{}, {}]",
                spec.min_replicas, spec.max_replicas
            );
        }
        Decision {
            current: s.current,
            desired: clamped,
            metric,
            target: spec.target,
            reason,
        }
    }
}

/// A running autoscaler: evaluates its service every period and sets its replica count.
pub struct Autoscaler {
    pub name: String,
    pub spec: AutoscalerSpec,
    pub last: std::sync::Arc<std::sync::Mutex<Option<Decision>>>,
    task: tokio::task::JoinHandle<()>,
}

/// CPU time (user + system) of a process in seconds, from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; clock
    // ticks are 100 per second on Linux.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

impl Autoscaler {
    pub fn start(
        name: &str,
        spec: AutoscalerSpec,
        supervisor: std::sync::Arc<crate::supervisor::Supervisor>,
    ) -> Autoscaler {
        let last = std::sync::Arc::new(std::sync::Mutex::new(None));
        let task = {
            let spec = spec.clone();
            let name = name.to_string();
            let last = last.clone();
            tokio::spawn(async move {
                let period = Duration::from_millis(spec.period_ms.max(100));
                let counters = supervisor.counters(&spec.service);
                let mut recs = match supervisor.status(&spec.service) {
                    Some(st) => Recommendations::seeded(st.desired, Instant::now()),
                    None => Recommendations::default(),
                };
                let mut prev_requests =
                    counters.requests.load(std::sync::atomic::Ordering::Relaxed);
                let mut prev_cpu: std::collections::BTreeMap<u32, f64> =
                    std::collections::BTreeMap::new();
                let mut prev_time = Instant::now();
                let mut prev_latency = counters.latency.snapshot();
                loop {
                    tokio::time::sleep(period).await;
                    let Some(status) = supervisor.status(&spec.service) else {
                        continue;
                    };
                    let now = Instant::now();
                    let elapsed = now.duration_since(prev_time).as_secs_f64().max(1e-3);
                    prev_time = now;
                    let total = match spec.metric {
                        MetricKind::P95LatencyMs => {
                            let now_latency = counters.latency.snapshot();
                            let p95 = crate::histogram::p95_ms(&prev_latency, &now_latency);
                            prev_latency = now_latency;
                            // Service-wide: scale it by the ready count so that the per-replica
                            // average the algorithm takes is the p95 itself.
                            match p95 {
                                Some(p) => p * f64::from(status.ready.max(1)),
                                None => spec.target * f64::from(status.ready.max(1)),
                            }
                        }
                        MetricKind::RequestsPerSecond => {
                            let r = counters.requests.load(std::sync::atomic::Ordering::Relaxed);
                            let rate = r.saturating_sub(prev_requests) as f64 / elapsed;
                            prev_requests = r;
                            rate
                        }
                        MetricKind::InFlight => counters
                            .in_flight
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .max(0) as f64,
                        MetricKind::CpuPercent => {
                            let mut sum = 0.0;
                            let mut seen = std::collections::BTreeMap::new();
                            for r in status.replicas.iter().filter(|r| r.healthy) {
                                let Some(pid) = r.pid else { continue };
                                let Some(cpu) = cpu_seconds(pid) else {
                                    continue;
                                };
                                if let Some(before) = prev_cpu.get(&pid) {
                                    sum += (cpu - before).max(0.0) / elapsed * 100.0;
                                }
                                seen.insert(pid, cpu);
                            }
                            prev_cpu = seen;
                            sum
                        }
                    };
                    let sample = Sample {
                        current: status.desired,
                        ready: status.ready,
                        total,
                    };
                    let d = recs.decide(&spec, &sample, now);
                    if d.desired != status.desired || !status.autoscaled {
                        supervisor.set_owned_replicas(&spec.service, Some(d.desired));
                    }
                    if d.desired != status.desired {
                        supervisor.event(
                            &name,
                            format!(
                                "Scaled {} from {} to {} replicas: {:?} per ready replica is {:.2} against a target of {} ({} of {} ready; {}).",
                                spec.service, d.current, d.desired, spec.metric, d.metric, spec.target, sample.ready, sample.current, d.reason
                            ),
                        );
                    }
                    if let Ok(mut l) = last.lock() {
                        *l = Some(d);
                    }
                }
            })
        };
        Autoscaler {
            name: name.to_string(),
            spec,
            last,
            task,
        }
    }

    pub fn status(&self) -> AutoscalerStatus {
        AutoscalerStatus {
            name: self.name.clone(),
            spec: self.spec.clone(),
            last_decision: self.last.lock().ok().and_then(|l| l.clone()),
        }
    }

    /// Stops evaluating; the caller decides whether the service gets its configured count back.
    pub fn stop(&self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AutoscalerSpec {
        AutoscalerSpec {
            service: "web".into(),
            min_replicas: 1,
            max_replicas: 20,
            metric: MetricKind::RequestsPerSecond,
            target: 50.0,
            period_ms: 15_000,
            scale_down_window_ms: 300_000,
        }
    }

    #[test]
    fn follows_the_hpa_formula_and_tolerance() {
        let mut r = Recommendations::default();
        let now = Instant::now();
        // 3 replicas at 100 rps each against a target of 50 → 6.
        let d = r.decide(
            &spec(),
            &Sample {
                current: 3,
                ready: 3,
                total: 300.0,
            },
            now,
        );
        assert_eq!(d.desired, 6);
        assert_eq!(d.metric, 100.0);
        // 54 rps per replica is within 10% of 50: no change.
        let d = Recommendations::default().decide(
            &spec(),
            &Sample {
                current: 3,
                ready: 3,
                total: 162.0,
            },
            now,
        );
        assert_eq!(d.desired, 3);
    }

    #[test]
    fn scale_up_is_limited_per_period() {
        let d = Recommendations::default().decide(
            &spec(),
            &Sample {
                current: 2,
                ready: 2,
                total: 2000.0,
            },
            Instant::now(),
        );
        assert_eq!(d.desired, 6, "max(+4, +100%) from 2 is 6: {d:?}");
        let d = Recommendations::default().decide(
            &spec(),
            &Sample {
                current: 8,
                ready: 8,
                total: 8000.0,
            },
            Instant::now(),
        );
        assert_eq!(d.desired, 16);
    }

    #[test]
    fn scale_down_waits_for_the_stabilization_window() {
        let mut s = spec();
        s.scale_down_window_ms = 10_000;
        let mut r = Recommendations::default();
        let t0 = Instant::now();
        r.decide(
            &s,
            &Sample {
                current: 4,
                ready: 4,
                total: 200.0,
            },
            t0,
        ); // steady at 4
        let d = r.decide(
            &s,
            &Sample {
                current: 4,
                ready: 4,
                total: 10.0,
            },
            t0 + Duration::from_secs(5),
        );
        assert_eq!(
            d.desired, 4,
            "inside the window the earlier recommendation holds"
        );
        let d = r.decide(
            &s,
            &Sample {
                current: 4,
                ready: 4,
                total: 10.0,
            },
            t0 + Duration::from_secs(16),
        );
        assert_eq!(d.desired, 1);
    }

    #[test]
    fn a_new_autoscaler_holds_the_count_it_found_for_the_window() {
        let s = spec();
        let t0 = Instant::now();
        let mut r = Recommendations::seeded(3, t0);
        let idle = Sample {
            current: 3,
            ready: 3,
            total: 0.0,
        };
        for secs in [15, 150, 299] {
            let d = r.decide(&s, &idle, t0 + Duration::from_secs(secs));
            assert_eq!(d.desired, 3, "at {secs} s: {d:?}");
            assert!(d.reason.contains("stabilization window"), "{d:?}");
        }
        let d = r.decide(&s, &idle, t0 + Duration::from_secs(301));
        assert_eq!(d.desired, 1, "after the window the idle service shrinks");
    }

    #[test]
    fn unready_replicas_are_treated_conservatively_and_bounds_hold() {
        // 2 ready of 4 at 60 rps each: with unready counted as 0 the average is 30 → no scale-up.
        let d = Recommendations::default().decide(
            &spec(),
            &Sample {
                current: 4,
                ready: 2,
                total: 120.0,
            },
            Instant::now(),
        );
        assert_eq!(d.desired, 4, "{d:?}");
        let mut s = spec();
        s.max_replicas = 3;
        let d = Recommendations::default().decide(
            &s,
            &Sample {
                current: 2,
                ready: 2,
                total: 1000.0,
            },
            Instant::now(),
        );
        assert_eq!(d.desired, 3);
        assert!(d.reason.contains("clamped"));
    }
}
