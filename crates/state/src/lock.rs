//! Who holds the state lock, and when a lock is stale.
//!
//! A lock records its holder (user, host, pid, operation, time) and a lease. It is
//! stale — and may be taken over without `force-unlock` — when its lease has expired
//! (the holder renews it while running), or when the holder ran on this host and its
//! process no longer exists (checked through `/proc`, including the process start time
//! so a recycled pid is not mistaken for the holder).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How long a lock stays valid without renewal.
pub const LEASE_SECS: u64 = 60;
/// How often a holder renews its lease.
pub const RENEW_EVERY_SECS: u64 = 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Wait,
    NoWait,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// Start time of the holder process (clock ticks since boot), to detect pid reuse.
    pub pid_start: Option<u64>,
    pub created_at: u64,
    pub expires_at: u64,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

pub fn username() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown-user".to_string())
}

/// Field 22 of `/proc/PID/stat`: the process start time.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl LockInfo {
    /// A lock for the current process.
    pub fn for_current_process(operation: &str, id: String) -> LockInfo {
        let pid = std::process::id();
        let now = now_secs();
        LockInfo {
            id,
            operation: operation.to_string(),
            user: username(),
            host: hostname(),
            pid,
            pid_start: process_start(pid),
            created_at: now,
            expires_at: now + LEASE_SECS,
        }
    }

    /// True when the holder can no longer be running this lock.
    pub fn is_stale(&self, now: u64) -> bool {
        if self.expires_at <= now {
            return true;
        }
        if self.host == hostname() {
            return match process_start(self.pid) {
                None => true,
                Some(start) => self.pid_start.is_some_and(|s| s != start),
            };
        }
        false
    }

    pub fn describe(&self) -> String {
        format!(
            "{}@{} (pid {}, operation {:?}, since {} UTC, lock ID {})",
            self.user,
            self.host,
            self.pid,
            self.operation,
            format_time(self.created_at),
            self.id
        )
    }
}

/// Says, as a sentence for the user, that a stale lock is being taken over.
pub fn announce_takeover(stale: Option<&LockInfo>) {
    match stale {
        Some(h) => tracing::warn!(
            "Taking over the state lock held by {}: its holder is gone (the process ended, or its lease expired unrenewed).",
            h.describe()
        ),
        None => tracing::warn!(
            "Taking over a state lock that could not be read (a damaged lock record)."
        ),
    }
}

/// Formats seconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_lock_is_live_until_expiry() {
        let l = LockInfo::for_current_process("apply", "x".into());
        assert!(!l.is_stale(now_secs()));
        assert!(l.is_stale(l.expires_at));
    }

    #[test]
    fn dead_pid_on_this_host_is_stale() {
        let mut l = LockInfo::for_current_process("apply", "x".into());
        l.pid = u32::MAX - 1;
        assert!(l.is_stale(now_secs()));
    }

    #[test]
    fn formats_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_795_000_000), "2026-11-18 11:06:40");
    }
}
