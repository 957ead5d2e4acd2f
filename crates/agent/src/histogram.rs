//! A lock-free latency histogram with fixed buckets, for Prometheus and for the
//! autoscaler's p95 metric.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (the last bucket is +Inf).
pub const BOUNDS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The sum of several histograms (per-worker parts of one).
    pub fn merged<'a>(parts: impl IntoIterator<Item = &'a Histogram>) -> Histogram {
        let total = Histogram::default();
        for h in parts {
            for (t, b) in total.buckets.iter().zip(&h.buckets) {
                t.fetch_add(b.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            total
                .sum_micros
                .fetch_add(h.sum_micros.load(Ordering::Relaxed), Ordering::Relaxed);
            total
                .count
                .fetch_add(h.count.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        total
    }

    /// Non-cumulative bucket counts.
    pub fn snapshot(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// Writes the Prometheus `_bucket`, `_sum` and `_count` lines for `name{labels}`.
    pub fn write_prometheus(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, c) in self.snapshot().iter().enumerate() {
            cumulative += c;
            let le = BOUNDS
                .get(i)
                .map(|b| b.to_string())
                .unwrap_or_else(|| "+Inf".into());
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_sum{{{labels}}} {:.6}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "{name}_count{{{labels}}} {}",
            self.count.load(Ordering::Relaxed)
        );
    }
}

/// The 95th percentile, in milliseconds, of the observations between two snapshots
/// (the upper bound of the bucket it falls in); None when nothing was observed.
pub fn p95_ms(before: &[u64], after: &[u64]) -> Option<f64> {
    let delta: Vec<u64> = after
        .iter()
        .zip(before.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let total: u64 = delta.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (total as f64 * 0.95).ceil() as u64;
    let mut seen = 0;
    for (i, c) in delta.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(BOUNDS.get(i).copied().unwrap_or(10.0) * 1000.0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_falls_in_the_right_bucket() {
        let h = Histogram::default();
        let before = h.snapshot();
        for _ in 0..94 {
            h.observe(Duration::from_micros(800));
        }
        for _ in 0..6 {
            h.observe(Duration::from_millis(40));
        }
        assert_eq!(p95_ms(&before, &h.snapshot()), Some(50.0));
        let mut out = String::new();
        h.write_prometheus(&mut out, "x_seconds", "lb=\"a\"");
        assert!(out.contains("x_seconds_bucket{lb=\"a\",le=\"0.001\"} 94"));
        assert!(out.contains("x_seconds_bucket{lb=\"a\",le=\"+Inf\"} 100"));
        assert!(out.contains("x_seconds_count{lb=\"a\"} 100"));
    }
}
